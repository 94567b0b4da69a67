//! Mixing at linear PCM: saturating sums, ChanSpy volume steps, audiohooks on a
//! channel, and the per-call mixer that implements listen / whisper / barge.

pub mod audiohook;
pub mod call;
pub mod gain;
pub mod sum;
#[cfg(test)]
mod tests;

pub use audiohook::{Audiohooks, HookError, HookId, HookStats, SpyFrame, Tap};
pub use call::{CallMixer, CallTick, CallTickAll, MixError, SpyMode, SupervisorId};
pub use gain::{clamp16, VolumeOutOfRange, VolumeStep};
pub use sum::{mix_into, Accumulator};
