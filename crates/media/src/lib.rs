//! Media for spygroup: SDP offer/answer for audio, RTP/RTCP header handling and the
//! per-call RTP relay that anchors every call's media on the PBX.
//!
//! The relay is a packet-by-packet fast path (no decoding), run by a few media threads
//! (`worker`). Audiohooks (spy taps, whisper/barge injection), prompts and DTMF
//! detection add a decode -> mix -> encode path on a 20 ms clock (`hooked`); only the
//! streams the PBX changes are generated, the rest stay forwarded.
//!
//! # Layering
//!
//! A module uses only modules in lower layers; within layer 0 the pure cores use
//! each other downwards (`frame` at the bottom, `codec` on it, `jitter` on both...).
//! No module names one above it, so there is no cycle to reason about (check with
//! `grep -rn "crate::" src/`):
//!
//! ```text
//! 5 handles      engine ─▶ bridge                 MediaEngine, MediaBridge, BridgeControl
//! 4 I/O edge     worker (sockets, epoll, clock, sends) ─▶ udp_batch, ports
//!                recording (a writer thread per recording)
//! 3 relay core   relay                            sans-I/O: (now, input) in, Transmits out
//! 2 vocabulary   control                          Control, BridgeId
//! 1 decode path  hooked                           jitter + G.711 + mixer per leg, pipes
//! 0 pure cores   mix, jitter, dtmf, tone, wav, codec, rtp, sdp, srtp, frame, goertzel,
//!                side (Side), stats (counters)
//! ```
//!
//! - Layers 0-3 do no I/O and read no clock: every input carries `now`. They are
//!   tested in virtual time (`relay/tests/`, `jitter/tests.rs`, `mix/tests.rs`).
//!   (`wav` reads and writes files, but only when its caller asks: prompts at load,
//!   recordings on their writer thread.)
//! - `worker` is the only module that touches sockets or reads the clock on the media
//!   path: it reads datagrams into its buffers, hands them to the relay with the
//!   time, and sends what the relay returns (`relay::Transmit`).
//! - `bridge` and `engine` run on the caller's threads; they reach a media thread
//!   only through its message queue (`worker::Msg`).

pub mod rtp;
pub mod sdp;
pub mod srtp;

mod bridge;
mod control;
mod engine;
mod hooked;
mod ports;
mod recording;
mod relay;
mod side;
mod stats;
mod udp_batch;
mod worker;

pub use bridge::{BridgeControl, MediaBridge};
pub use control::SrtpKeys;
pub use engine::{MediaEngine, MediaError};
pub use hooked::{
    frame_pipe, FrameReceiver, FrameSender, LinkSource, MixMonitor, MixMonitorId, PipeClosed,
    PlayEnd, Recv, SpyLink,
};
pub use recording::{
    RecordingSink, RecordingSource, RecordingStatus, RecordingTap, RECORDING_QUEUE_FRAMES,
};
pub use side::Side;
pub use stats::{BridgeStats, SideStats};

pub mod codec;
pub mod conf;
pub mod dtmf;
pub mod frame;
pub use frame::Frame;
pub mod goertzel;
pub mod jitter;
pub mod mix;
pub mod tone;
pub mod wav;
