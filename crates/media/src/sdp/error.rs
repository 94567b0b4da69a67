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
    /// DTLS-SRTP (`UDP/TLS/RTP/SAVP(F)`), which WebRTC uses; SIP phones key SRTP
    /// with SDES instead.
    #[error(
        "SDP audio stream uses DTLS-SRTP ({0}), which is not supported for SIP phones; \
         offer RTP/SAVP with a=crypto (SDES) or plain RTP/AVP"
    )]
    Encrypted(String),
    #[error(
        "SDP audio stream uses transport {0:?}; only RTP/AVP(F) and RTP/SAVP(F) are supported"
    )]
    UnsupportedTransport(String),
    /// An SRTP stream none of whose `a=crypto` lines we can use; `offered` lists
    /// each line's tag and suite with the reason, or says there were none.
    #[error(
        "SDP audio stream is SRTP but has no usable a=crypto line: offered [{offered}]; \
         supported: AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 with an inline key \
         and no MKI"
    )]
    NoUsableCrypto { offered: String },
    #[error("no common audio codec: offered [{offered}], supported [{supported}]")]
    NoCommonCodec { offered: String, supported: String },
}
