//! Media for spygroup: SDP offer/answer for audio, RTP/RTCP header handling and the
//! per-call RTP relay that anchors every call's media on the PBX.
//!
//! The relay is deliberately a packet-by-packet fast path (no decoding). Audiohooks
//! (spy taps, whisper/barge injection) will later divert a bridge's packets to a
//! decode -> mix -> encode path; the place where that happens is marked in `relay.rs`.

pub mod rtp;
pub mod sdp;

mod bridge;
mod engine;
mod hooked;
mod ports;
mod relay;
mod worker;

pub use bridge::{BridgeControl, BridgeStats, MediaBridge, Side, SideStats};
pub use engine::{MediaEngine, MediaError};
pub use hooked::{LinkSource, PlayEnd, RecordingSource, SpyLink};

pub mod codec;
pub mod dtmf;
pub mod frame;
pub use frame::Frame;
pub mod goertzel;
pub mod jitter;
pub mod mix;
pub mod tone;
pub mod wav;
