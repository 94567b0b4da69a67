//! RTP (RFC 3550) header parsing, the per-leg stream rewriter, and the minimal
//! RTCP handling the relay needs.

mod header;
mod payload_types;
mod rewriter;
pub mod rtcp;

#[cfg(test)]
mod tests;

pub use header::{looks_like_rtcp, RtpError, RtpHeader};
pub use payload_types::PayloadTypes;
pub use rewriter::StreamRewriter;
