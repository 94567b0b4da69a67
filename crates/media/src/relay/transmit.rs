//! What the relay hands its I/O edge to send.
//!
//! Two kinds of output, so that nothing is copied that was not copied before:
//! - a *forward*: the datagram the edge just gave the relay, rewritten in place in the
//!   edge's receive buffer; the relay returns only where it goes (`Transmit`), and the
//!   edge sends its own buffer (no copy, as when the relay sent it itself);
//! - a *generated* packet (the decode path's audio or a replayed digit at a tick):
//!   encoded straight into one of two fixed slots owned by the relay, one per leg,
//!   which the edge drains with `Relay::poll_transmit`. The encoder used to write
//!   into a stack buffer and send from it; it writes into the slot instead, so that
//!   is one write and one send, as before, and the slots never allocate.

use std::net::SocketAddr;

use crate::frame::SAMPLES_8K;
use crate::side::Side;

/// Which of a leg's two sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Rtp,
    Rtcp,
}

/// One of a bridge's four sockets: a leg's RTP or RTCP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Port {
    pub side: Side,
    pub proto: Proto,
}

impl Port {
    pub const fn rtp(side: Side) -> Port {
        Port {
            side,
            proto: Proto::Rtp,
        }
    }

    pub const fn rtcp(side: Side) -> Port {
        Port {
            side,
            proto: Proto::Rtcp,
        }
    }

    /// 0..4 in the order A RTP, A RTCP, B RTP, B RTCP (the worker's socket tokens).
    pub fn index(self) -> usize {
        self.side.index() * 2 + usize::from(self.proto == Proto::Rtcp)
    }

    /// The inverse of `index` (taken modulo 4).
    pub fn from_index(i: usize) -> Port {
        let side = if i % 4 < 2 { Side::A } else { Side::B };
        if i.is_multiple_of(2) {
            Port::rtp(side)
        } else {
            Port::rtcp(side)
        }
    }

    pub fn is_rtcp(self) -> bool {
        self.proto == Proto::Rtcp
    }
}

/// Send the first `len` bytes of a datagram from the bridge's socket `via` to
/// `dest` (SRTP changes a packet's length: a forward is sent from the receive
/// buffer, which has room for the tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transmit {
    pub via: Port,
    pub dest: SocketAddr,
    pub len: usize,
}

/// The largest packet the decode path makes: an RTP header, 20 ms of G.711 and an
/// SRTP authentication tag.
pub(super) const MAX_GENERATED: usize = 12 + SAMPLES_8K + SRTP_TAG_ROOM;

/// Room after a packet for the longest SRTP tag we use (HMAC-SHA1-80).
pub(super) const SRTP_TAG_ROOM: usize = 16;

/// The packets one tick generated, one slot per leg, in leg order. A tick replaces
/// what the edge did not take since the last one (it always drains them at once).
pub(super) struct Generated {
    bufs: [[u8; MAX_GENERATED]; 2],
    pending: [Option<(SocketAddr, usize)>; 2],
}

impl Generated {
    pub fn new() -> Generated {
        Generated {
            bufs: [[0; MAX_GENERATED]; 2],
            pending: [None; 2],
        }
    }

    /// The buffer to encode leg `side`'s next packet into.
    pub fn buf(&mut self, side: Side) -> &mut [u8; MAX_GENERATED] {
        &mut self.bufs[side.index()]
    }

    /// The first `len` bytes of `side`'s buffer are to be sent to `dest`.
    pub fn queue(&mut self, side: Side, dest: SocketAddr, len: usize) {
        self.pending[side.index()] = Some((dest, len.min(MAX_GENERATED)));
    }

    /// The next queued packet, leg A's first.
    pub fn pop(&mut self) -> Option<(Transmit, &[u8])> {
        let i = self.pending.iter().position(Option::is_some)?;
        let (dest, len) = self.pending[i].take()?;
        let side = if i == 0 { Side::A } else { Side::B };
        let t = Transmit {
            via: Port::rtp(side),
            dest,
            len,
        };
        Some((t, &self.bufs[i][..len]))
    }
}
