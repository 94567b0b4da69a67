//! Parse and validation errors. The PBX answers `400 <error text>` when a request
//! fails validation, so every variant says precisely what was wrong.

use thiserror::Error;

/// Why a SIP message, header or URI could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("message larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("more than {limit} header lines")]
    TooManyHeaders { limit: usize },
    #[error("invalid start line {line:?}: {reason}")]
    StartLine { line: String, reason: &'static str },
    #[error("unsupported SIP version {0:?}")]
    Version(String),
    #[error("malformed header line {0:?}")]
    HeaderLine(String),
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("invalid {header} header {value:?}: {reason}")]
    InvalidHeader {
        header: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("invalid URI {uri:?}: {reason}")]
    InvalidUri { uri: String, reason: &'static str },
    #[error("invalid method {0:?}")]
    InvalidMethod(String),
    #[error("Content-Length {declared} exceeds the {available} body bytes received")]
    TruncatedBody { declared: usize, available: usize },
    #[error("missing Content-Length on a stream transport")]
    MissingContentLength,
    #[error("CSeq method {cseq} does not match request method {method}")]
    CSeqMethodMismatch { cseq: String, method: String },
}

impl ParseError {
    pub(crate) fn header(header: &'static str, value: &str, reason: &'static str) -> Self {
        ParseError::InvalidHeader {
            header,
            value: truncate(value),
            reason,
        }
    }

    pub(crate) fn uri(uri: &str, reason: &'static str) -> Self {
        ParseError::InvalidUri {
            uri: truncate(uri),
            reason,
        }
    }
}

/// Error texts end up in 400 reason phrases and logs; keep echoed input short.
pub(crate) fn truncate(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
