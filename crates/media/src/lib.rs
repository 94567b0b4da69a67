//! Media for spygroup: SDP offer/answer for audio, RTP/RTCP header handling and the
//! per-call RTP relay that anchors every call's media on the PBX.
//!
//! The relay is a packet-by-packet fast path (no decoding), run by a few media threads
//! (`worker`). Audiohooks (spy taps, whisper/barge injection), prompts and DTMF
//! detection add a decode -> mix -> encode path on a 20 ms clock (`hooked`); only the
//! streams the PBX changes are generated, the rest stay forwarded.

pub mod rtp;
pub mod sdp;

mod bridge;
mod engine;
mod hooked;
mod ports;
mod relay;
mod udp_batch;
mod worker;

pub use bridge::{BridgeControl, BridgeStats, MediaBridge, Side, SideStats};
pub use engine::{MediaEngine, MediaError};
pub use hooked::{
    frame_pipe, FrameReceiver, FrameSender, LinkSource, PipeClosed, PlayEnd, RecordingSource, Recv,
    SpyLink,
};

pub mod codec;
pub mod dtmf;
pub mod frame;
pub use frame::Frame;
pub mod goertzel;
pub mod jitter;
pub mod mix;
pub mod tone;
pub mod wav;
