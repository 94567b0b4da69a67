//! Protecting and unprotecting packets in place (RFC 3711 3.3 for SRTP, 3.4 for
//! SRTCP).

use super::kdf::{SessionKeys, Stream};
use super::replay::{Streams, Window};
use super::{SrtpError, SrtpKey, SrtpSuite};
use std::fmt;
use subtle::ConstantTimeEq;

/// RTP fixed header length (RFC 3550 5.1).
const RTP_HEADER: usize = 12;
/// The part of an RTCP packet that stays in clear: the first header up to and
/// including the sender's SSRC (RFC 3711 3.4).
const RTCP_HEADER: usize = 8;
/// The E flag and 31-bit SRTCP index appended to every SRTCP packet.
const RTCP_INDEX_LEN: usize = 4;
const E_FLAG: u32 = 0x8000_0000;
/// Highest SRTCP index (31 bits); the key must not be used for more.
const MAX_RTCP_INDEX: u32 = 0x7fff_ffff;

/// SRTP and SRTCP for one direction of one call leg, from one SDES master key.
///
/// Use a context either to protect (our sending direction, from our key) or to
/// unprotect (the peer's direction, from the key it offered or answered), not
/// both: each side of a call has its own key. The two uses keep separate
/// per-SSRC state all the same, so mixing them in a test cannot go wrong.
///
/// The key applies to every SSRC sent in the direction, as SDES requires; state is
/// kept for the last `MAX_SSRCS` (8) SSRCs used.
pub struct SrtpContext {
    suite: SrtpSuite,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    /// Per SSRC on send: the indices used, so that none is used twice.
    rtp_sent: Streams<Window>,
    /// Per SSRC on receive: the indices accepted, for the ROC and replays.
    pub(super) rtp_received: Streams<Window>,
    /// Per SSRC on send: the next SRTCP index.
    rtcp_sent: Streams<u32>,
    rtcp_received: Streams<Window>,
}

impl SrtpContext {
    /// Derives the session keys for SRTP and SRTCP (key derivation rate 0).
    pub fn new(key: &SrtpKey) -> SrtpContext {
        SrtpContext {
            suite: key.suite,
            rtp: SessionKeys::new(key, Stream::Rtp),
            rtcp: SessionKeys::new(key, Stream::Rtcp),
            rtp_sent: Streams::new(),
            rtp_received: Streams::new(),
            rtcp_sent: Streams::new(),
            rtcp_received: Streams::new(),
        }
    }

    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// Bytes an SRTP packet is longer than its RTP packet (the tag).
    pub fn rtp_overhead(&self) -> usize {
        self.suite.tag_len()
    }

    /// Bytes an SRTCP packet is longer than its RTCP packet (index word and tag).
    pub fn rtcp_overhead(&self) -> usize {
        RTCP_INDEX_LEN + self.suite.rtcp_tag_len()
    }

    /// Encrypts the RTP packet `buf[..len]` in place and appends its tag; returns
    /// the SRTP packet's length. The header, CSRCs and header extension stay in
    /// clear. `buf` needs `rtp_overhead()` bytes of room after the packet.
    ///
    /// The index comes from the same estimation a receiver does, so packets
    /// relayed out of order still get the index the receiver will compute.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let tag_len = self.suite.tag_len();
        let needed = len + tag_len;
        if needed > buf.len() {
            return Err(SrtpError::NoRoom {
                needed,
                have: buf.len(),
            });
        }
        let header = rtp_header_len(&buf[..len])?;
        let (seq, ssrc) = rtp_seq_ssrc(buf);
        let mut window = self
            .rtp_sent
            .get(ssrc)
            .unwrap_or(Window::starting_at(u64::from(seq)));
        let index = window.estimate(seq)?;
        window.check(index)?;

        self.rtp.apply_keystream(ssrc, index, &mut buf[header..len]);
        let roc = roc_of(index);
        let mac = self.rtp.mac(&[&buf[..len], &roc]);
        buf[len..needed].copy_from_slice(&mac[..tag_len]);

        window.accept(index);
        self.rtp_sent.put(ssrc, window);
        Ok(needed)
    }

    /// Checks the tag and the replay window of the SRTP packet `buf` (all of it),
    /// decrypts it in place, and returns the RTP packet's length (`buf.len()` less
    /// the tag). On any error nothing is changed: neither `buf` nor the stream's
    /// state, so a forged packet cannot disturb the real stream.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.suite.tag_len();
        let len = buf.len();
        if len < RTP_HEADER + tag_len {
            return Err(SrtpError::TooShort { len });
        }
        let plain_len = len - tag_len;
        let header = rtp_header_len(&buf[..plain_len])?;
        let (seq, ssrc) = rtp_seq_ssrc(buf);
        let mut window = self
            .rtp_received
            .get(ssrc)
            .unwrap_or(Window::starting_at(u64::from(seq)));
        let index = window.estimate(seq)?;
        window.check(index)?;

        let roc = roc_of(index);
        let mac = self.rtp.mac(&[&buf[..plain_len], &roc]);
        if !bool::from(mac[..tag_len].ct_eq(&buf[plain_len..])) {
            return Err(SrtpError::AuthFailed);
        }
        self.rtp
            .apply_keystream(ssrc, index, &mut buf[header..plain_len]);

        window.accept(index);
        self.rtp_received.put(ssrc, window);
        Ok(plain_len)
    }

    /// Encrypts the (compound) RTCP packet `buf[..len]` after its first 8 bytes,
    /// appends E=1 with the SSRC's next SRTCP index and the 80-bit tag; returns the
    /// SRTCP packet's length. `buf` needs `rtcp_overhead()` bytes of room.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtcp_tag_len();
        let with_index = len + RTCP_INDEX_LEN;
        let needed = with_index + tag_len;
        if needed > buf.len() {
            return Err(SrtpError::NoRoom {
                needed,
                have: buf.len(),
            });
        }
        check_rtcp_header(&buf[..len])?;
        let ssrc = rtcp_ssrc(buf);
        let index = self.rtcp_sent.get(ssrc).unwrap_or(0);
        if index > MAX_RTCP_INDEX {
            return Err(SrtpError::IndexExhausted);
        }

        self.rtcp
            .apply_keystream(ssrc, u64::from(index), &mut buf[RTCP_HEADER..len]);
        buf[len..with_index].copy_from_slice(&(E_FLAG | index).to_be_bytes());
        let mac = self.rtcp.mac(&[&buf[..with_index]]);
        buf[with_index..needed].copy_from_slice(&mac[..tag_len]);

        self.rtcp_sent.put(ssrc, index + 1);
        Ok(needed)
    }

    /// Checks the tag and the replay window of the SRTCP packet `buf` (all of it),
    /// decrypts it in place, and returns the RTCP packet's length (without index
    /// word and tag). A packet with E=0 was sent unencrypted; its tag still
    /// covers it, so it is accepted as it is (libsrtp does the same).
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtcp_tag_len();
        let len = buf.len();
        if len < RTCP_HEADER + RTCP_INDEX_LEN + tag_len {
            return Err(SrtpError::TooShort { len });
        }
        let with_index = len - tag_len;
        let plain_len = with_index - RTCP_INDEX_LEN;
        check_rtcp_header(&buf[..plain_len])?;
        let ssrc = rtcp_ssrc(buf);
        let word = u32::from_be_bytes([
            buf[plain_len],
            buf[plain_len + 1],
            buf[plain_len + 2],
            buf[plain_len + 3],
        ]);
        let encrypted = word & E_FLAG != 0;
        let index = u64::from(word & MAX_RTCP_INDEX);
        let mut window = self
            .rtcp_received
            .get(ssrc)
            .unwrap_or(Window::starting_at(index));
        window.check(index)?;

        let mac = self.rtcp.mac(&[&buf[..with_index]]);
        if !bool::from(mac[..tag_len].ct_eq(&buf[with_index..])) {
            return Err(SrtpError::AuthFailed);
        }
        if encrypted {
            self.rtcp
                .apply_keystream(ssrc, index, &mut buf[RTCP_HEADER..plain_len]);
        }

        window.accept(index);
        self.rtcp_received.put(ssrc, window);
        Ok(plain_len)
    }
}

/// Names the suite only: the session keys stay out of logs.
impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// Where the payload starts: after the fixed header, the CSRCs and the header
/// extension, all of which SRTP leaves in clear (RFC 3711 3.1). Padding is part
/// of the encrypted payload, so it is not looked at.
fn rtp_header_len(pkt: &[u8]) -> Result<usize, SrtpError> {
    if pkt.len() < RTP_HEADER {
        return Err(SrtpError::TooShort { len: pkt.len() });
    }
    if pkt[0] >> 6 != 2 {
        return Err(SrtpError::Malformed("RTP version is not 2"));
    }
    let mut at = RTP_HEADER + usize::from(pkt[0] & 0x0f) * 4;
    if pkt[0] & 0x10 != 0 {
        let ext = pkt
            .get(at..at + 4)
            .ok_or(SrtpError::Malformed("RTP header extension past the end"))?;
        at += 4 + usize::from(u16::from_be_bytes([ext[2], ext[3]])) * 4;
    }
    if at > pkt.len() {
        return Err(SrtpError::Malformed(
            "RTP CSRCs or header extension past the end",
        ));
    }
    Ok(at)
}

/// Sequence number and SSRC of a packet already checked by `rtp_header_len`.
fn rtp_seq_ssrc(pkt: &[u8]) -> (u16, u32) {
    (
        u16::from_be_bytes([pkt[2], pkt[3]]),
        u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]),
    )
}

/// The ROC, as appended to the authenticated part of an SRTP packet.
fn roc_of(index: u64) -> [u8; 4] {
    // The index has 48 bits, so the ROC fits in 32.
    ((index >> 16) as u32).to_be_bytes()
}

fn check_rtcp_header(pkt: &[u8]) -> Result<(), SrtpError> {
    if pkt.len() < RTCP_HEADER {
        return Err(SrtpError::TooShort { len: pkt.len() });
    }
    if pkt[0] >> 6 != 2 {
        return Err(SrtpError::Malformed("RTCP version is not 2"));
    }
    Ok(())
}

fn rtcp_ssrc(pkt: &[u8]) -> u32 {
    u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]])
}
