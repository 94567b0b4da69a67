use thiserror::Error;

/// Why an SDP body could not be used. Every variant maps to a `488 Not Acceptable
/// Here` (or a failed re-INVITE) at the SIP layer; the message says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    #[error("body is not SDP: {0}")]
    NotSdp(String),
    #[error("SDP has no audio stream (m=audio with a non-zero port)")]
    NoAudio,
    #[error("SDP audio stream has no connection address (no c= line at media or session level)")]
    NoConnection,
    #[error("SDP connection address {0:?} is a host name; only IP addresses are supported")]
    HostnameConnection(String),
    #[error("SDP audio stream is encrypted ({0}); only plain RTP/AVP is supported")]
    Encrypted(String),
    #[error("SDP audio stream uses transport {0:?}; only RTP/AVP is supported")]
    UnsupportedTransport(String),
    #[error("no common audio codec: offered [{offered}], supported [{supported}]")]
    NoCommonCodec { offered: String, supported: String },
}
