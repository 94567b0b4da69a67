//! The little of RTP the loopback side needs: a header to put in front of the
//! browser's audio, and the payload of what the PBX sends.

/// PCMU's static payload type.
pub const PCMU: u8 = 0;

/// An RTP packet's payload type, timestamp and payload; None for anything that
/// is no RTP version 2 (RTCP from the bridge is ignored: str0m does RTCP toward
/// the browser itself).
pub fn parse(packet: &[u8]) -> Option<(u8, u32, &[u8])> {
    if packet.len() < 12 || packet[0] >> 6 != 2 {
        return None;
    }
    let pt = packet[1] & 0x7f;
    if (72..=79).contains(&pt) {
        return None; // RTCP (SR, RR, SDES, BYE ...)
    }
    let csrcs = usize::from(packet[0] & 0x0f);
    let mut start = 12 + 4 * csrcs;
    if packet[0] & 0x10 != 0 {
        let ext = packet.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let mut end = packet.len();
    if packet[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*packet.last()?))?;
    }
    let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    Some((pt, ts, packet.get(start..end)?))
}

/// Numbers the packets of one stream.
#[derive(Debug)]
pub struct Sender {
    ssrc: u32,
    seq: u16,
}

impl Sender {
    pub fn new(ssrc: u32) -> Sender {
        Sender { ssrc, seq: 0 }
    }

    /// One packet: header (version 2, no padding or extension) and payload.
    pub fn packet(&mut self, pt: u8, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + payload.len());
        out.push(0x80);
        out.push(pt & 0x7f | if marker { 0x80 } else { 0 });
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&ts.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_sender_writes_parses_back() {
        let mut s = Sender::new(0x1234_5678);
        let a = s.packet(PCMU, 160, true, &[1, 2, 3]);
        let b = s.packet(PCMU, 320, false, &[4]);
        assert_eq!(&a[..4], &[0x80, 0x80, 0, 0]);
        assert_eq!(&b[2..4], &[0, 1]);
        assert_eq!(parse(&a), Some((0, 160, &[1u8, 2, 3][..])));
        assert_eq!(parse(&b), Some((0, 320, &[4u8][..])));
    }

    #[test]
    fn csrcs_extensions_and_padding_are_skipped_and_rtcp_is_not_rtp() {
        let mut p = vec![0x80 | 0x20 | 0x10 | 1, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 9];
        p.extend_from_slice(&[0xaa; 4]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // a one-word extension
        p.extend_from_slice(&[7, 7]);
        p.extend_from_slice(&[0, 2]); // two bytes of padding
        assert_eq!(parse(&p), Some((0, 8, &[7u8, 7][..])));
        let rr = [0x81, 201, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(parse(&rr), None);
        assert_eq!(parse(&[0x80, 0]), None);
        assert_eq!(parse(&[0x40; 20]), None, "version 1");
    }
}
