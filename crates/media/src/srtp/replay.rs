//! Per-SSRC state: which packet indices a stream has used, in a window of the last
//! 64 (RFC 3711 3.3.2), and from that the estimate of a packet's full index from
//! its 16-bit sequence number (3.3.1, Appendix A).
//!
//! A key from SDES covers every SSRC sent in its direction, so the state is kept
//! per SSRC, in a table of fixed size: anyone can send packets with random SSRCs,
//! and memory must not grow with them.

use super::SrtpError;

/// Packets remembered below the highest index.
const WINDOW: u64 = 64;

/// The highest index used so far and which of the 63 below it were used too.
///
/// The same window serves both directions: on receive it refuses replays, on send
/// it refuses to encrypt two packets under the same index, which would reuse
/// keystream (a relay could otherwise be made to do so by a duplicated packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    top: u64,
    /// Bit k set: index `top - k` was used.
    seen: u64,
}

impl Window {
    /// A stream whose first packet has `index`: the RFC's `s_l` is that packet's
    /// sequence number and the ROC 0, and nothing has been used yet.
    pub(super) fn starting_at(index: u64) -> Window {
        Window {
            top: index,
            seen: 0,
        }
    }

    /// The 48-bit SRTP index of a packet with sequence number `seq`: the ROC
    /// (`top >> 16`) stays, or goes one up or down to put the packet within 2^15 of
    /// the highest sequence number (`s_l`). A packet that would need a ROC below 0
    /// lies before the stream began: it is refused like a replay (as libsrtp does).
    pub(super) fn estimate(&self, seq: u16) -> Result<u64, SrtpError> {
        let roc = self.top >> 16;
        let s_l = self.top & 0xffff;
        let seq = u64::from(seq);
        let v = if s_l < 0x8000 {
            if seq > s_l + 0x8000 {
                roc.checked_sub(1).ok_or(SrtpError::Replayed)?
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq {
            roc + 1
        } else {
            roc
        };
        if v > u64::from(u32::MAX) {
            return Err(SrtpError::IndexExhausted);
        }
        Ok(v << 16 | seq)
    }

    /// Whether `index` may be used: above the highest, or within the window and
    /// not yet used.
    pub(super) fn check(&self, index: u64) -> Result<(), SrtpError> {
        if index > self.top {
            return Ok(());
        }
        let behind = self.top - index;
        if behind >= WINDOW || self.seen & (1 << behind) != 0 {
            return Err(SrtpError::Replayed);
        }
        Ok(())
    }

    /// Records `index` as used. Call only after `check` (and, on receive, after the
    /// packet authenticated), so that a forged packet moves nothing.
    pub(super) fn accept(&mut self, index: u64) {
        if index > self.top {
            let ahead = index - self.top;
            self.seen = if ahead >= WINDOW {
                0
            } else {
                self.seen << ahead
            };
            self.top = index;
            self.seen |= 1;
        } else {
            self.seen |= 1 << (self.top - index);
        }
    }
}

/// SSRCs tracked per context and direction. A call leg has one or two (a phone
/// that changes SSRC mid-call); 8 leaves room for odd ones.
pub(super) const MAX_SSRCS: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Slot<T> {
    ssrc: u32,
    state: T,
    /// Value of `Streams::clock` when last stored; the lowest is evicted first.
    used: u64,
}

/// Up to `MAX_SSRCS` streams' state, the least recently used evicted for a new
/// one. Lookup is a linear scan, which for 8 entries beats any map.
///
/// On receive, callers `put` only after a packet authenticated: packets with
/// random SSRCs and no valid tag then never evict a real stream's state.
#[derive(Debug)]
pub(super) struct Streams<T> {
    slots: [Option<Slot<T>>; MAX_SSRCS],
    clock: u64,
}

impl<T: Copy> Streams<T> {
    pub(super) fn new() -> Streams<T> {
        Streams {
            slots: [None; MAX_SSRCS],
            clock: 0,
        }
    }

    pub(super) fn get(&self, ssrc: u32) -> Option<T> {
        self.slots
            .iter()
            .flatten()
            .find(|s| s.ssrc == ssrc)
            .map(|s| s.state)
    }

    /// Stores `state` for `ssrc`, replacing its old state, or taking a free slot,
    /// or evicting the stream used least recently.
    pub(super) fn put(&mut self, ssrc: u32, state: T) {
        self.clock += 1;
        let slot = Slot {
            ssrc,
            state,
            used: self.clock,
        };
        let at = self
            .slots
            .iter()
            .position(|s| s.is_some_and(|s| s.ssrc == ssrc))
            .or_else(|| self.slots.iter().position(Option::is_none))
            .unwrap_or_else(|| {
                self.slots
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| s.map_or(0, |s| s.used))
                    .map_or(0, |(i, _)| i)
            });
        self.slots[at] = Some(slot);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}
