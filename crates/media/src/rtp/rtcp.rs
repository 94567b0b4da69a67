//! RTCP as the relay needs it today: validate a (compound) packet and make it come
//! from the leg's outgoing SSRC.
//!
//! Known limitation, acceptable while the relay is a plain forwarder: the sender
//! info of an SR (RTP timestamp, packet and octet counts) and the report blocks
//! (which name the SSRC the phone receives, i.e. our other leg's outgoing SSRC, and
//! its extended highest sequence number) are passed through unchanged, so they do
//! not match the rewritten stream exactly. Phones use them only for statistics.

use super::RtpError;

const SR: u8 = 200;
const RR: u8 = 201;
const SDES: u8 = 202;
const BYE: u8 = 203;
const APP: u8 = 204;

/// Checks that `pkt` is a well-formed compound RTCP packet (every sub-packet has
/// version 2 and a length that stays inside the datagram) and rewrites the sender
/// SSRC of each sub-packet that carries one (SR, RR, APP, and the first chunk of
/// SDES/BYE) to `ssrc`.
pub fn rewrite_sender_ssrc(pkt: &mut [u8], ssrc: u32) -> Result<(), RtpError> {
    validate(pkt)?;
    let mut at = 0;
    while at < pkt.len() {
        let count = pkt[at] & 0x1f;
        let pt = pkt[at + 1];
        let len = sub_len(pkt, at);
        let has_sender = match pt {
            SR | RR | APP => true,
            SDES | BYE => count > 0,
            _ => false,
        };
        if has_sender && len >= 8 {
            pkt[at + 4..at + 8].copy_from_slice(&ssrc.to_be_bytes());
        }
        at += len;
    }
    Ok(())
}

/// Validates a compound RTCP packet without changing it.
pub fn validate(pkt: &[u8]) -> Result<(), RtpError> {
    if pkt.len() < 8 {
        return Err(RtpError::TooShort(pkt.len()));
    }
    let mut at = 0;
    while at < pkt.len() {
        if pkt.len() - at < 4 {
            return Err(RtpError::BadRtcpLength);
        }
        let version = pkt[at] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let pt = pkt[at + 1];
        if !(192..=223).contains(&pt) {
            return Err(RtpError::NotRtcp(pt));
        }
        let len = sub_len(pkt, at);
        if at + len > pkt.len() {
            return Err(RtpError::BadRtcpLength);
        }
        at += len;
    }
    Ok(())
}

/// Length in bytes of the sub-packet at `at` (header length field is words - 1).
fn sub_len(pkt: &[u8], at: usize) -> usize {
    (usize::from(u16::from_be_bytes([pkt[at + 2], pkt[at + 3]])) + 1) * 4
}
