use thiserror::Error;

/// Why a datagram is not a usable RTP (or RTCP) packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RtpError {
    #[error("packet too short ({0} bytes)")]
    TooShort(usize),
    #[error("unsupported RTP version {0} (expected 2)")]
    BadVersion(u8),
    #[error("CSRC list runs past the end of the packet")]
    TruncatedCsrc,
    #[error("header extension runs past the end of the packet")]
    TruncatedExtension,
    #[error("padding length {0} is invalid for this packet")]
    BadPadding(u8),
    #[error("RTCP length field runs past the end of the packet")]
    BadRtcpLength,
    #[error("not an RTCP packet type ({0})")]
    NotRtcp(u8),
    #[error("late packet from a stream that has already been replaced")]
    Stale,
}

/// A parsed RTP fixed header (RFC 3550 section 5.1) plus where the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub padding: bool,
    pub extension: bool,
    pub csrc_count: u8,
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Offset of the payload: after the fixed header, CSRCs and extension.
    pub payload_offset: usize,
    /// Payload length, padding excluded.
    pub payload_len: usize,
}

/// Fixed header size.
pub(crate) const FIXED_LEN: usize = 12;

impl RtpHeader {
    /// Parses and bounds-checks an RTP packet. Every length in the header is checked
    /// against the datagram so that later code can index the payload safely.
    pub fn parse(pkt: &[u8]) -> Result<RtpHeader, RtpError> {
        if pkt.len() < FIXED_LEN {
            return Err(RtpError::TooShort(pkt.len()));
        }
        let version = pkt[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let padding = pkt[0] & 0x20 != 0;
        let extension = pkt[0] & 0x10 != 0;
        let csrc_count = pkt[0] & 0x0f;
        let mut offset = FIXED_LEN + usize::from(csrc_count) * 4;
        if offset > pkt.len() {
            return Err(RtpError::TruncatedCsrc);
        }
        if extension {
            let ext = pkt
                .get(offset..offset + 4)
                .ok_or(RtpError::TruncatedExtension)?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            offset += 4 + words * 4;
            if offset > pkt.len() {
                return Err(RtpError::TruncatedExtension);
            }
        }
        let mut payload_len = pkt.len() - offset;
        if padding {
            let pad = pkt[pkt.len() - 1];
            if pad == 0 || usize::from(pad) > payload_len {
                return Err(RtpError::BadPadding(pad));
            }
            payload_len -= usize::from(pad);
        }
        Ok(RtpHeader {
            padding,
            extension,
            csrc_count,
            marker: pkt[1] & 0x80 != 0,
            payload_type: pkt[1] & 0x7f,
            sequence: u16::from_be_bytes([pkt[2], pkt[3]]),
            timestamp: u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]),
            ssrc: u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]),
            payload_offset: offset,
            payload_len,
        })
    }
}

/// RFC 5761 section 4: on a multiplexed port, a second byte of 192..=223 means
/// RTCP (SR 200 .. APP 204 and friends), since RTP must not use those payload types.
pub fn looks_like_rtcp(pkt: &[u8]) -> bool {
    pkt.len() >= 2 && pkt[0] >> 6 == 2 && (192..=223).contains(&pkt[1])
}
