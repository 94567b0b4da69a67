//! Errors from parsing digest headers.

/// Why an `Authorization` / `Proxy-Authorization` header was refused.
///
/// Each variant names the offending parameter so the PBX can log a useful
/// line; the remote side only ever sees a 400 or a fresh challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authorization scheme is not Digest")]
    NotDigest,
    #[error("malformed digest parameters: {0}")]
    Syntax(String),
    #[error("digest parameter `{0}` appears more than once")]
    Duplicate(String),
    #[error("digest parameter `{0}` is required but missing")]
    Missing(&'static str),
    #[error("digest parameter `{name}` has an invalid value: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("unsupported digest algorithm `{0}` (supported: MD5, SHA-256)")]
    UnsupportedAlgorithm(String),
    #[error("unsupported qop `{0}` (only qop=auth is supported)")]
    UnsupportedQop(String),
    #[error("userhash=true is not supported; send the plain username")]
    UserhashUnsupported,
}
