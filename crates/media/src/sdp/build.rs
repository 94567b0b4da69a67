use super::{Codec, Direction, RtpProfile, SdesCrypto};
use std::fmt::Write;
use std::net::IpAddr;

/// The `o=` identity of one call leg's SDP. RFC 3264 section 8: every new
/// description sent in a session carries a version one higher than the last, and
/// a repeated one (e.g. the same answer again) keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpOrigin {
    pub session_id: u64,
    pub version: u64,
}

impl SdpOrigin {
    /// A fresh origin with a random session id. The id stays below 2^31 because
    /// some phones store it in a signed 32-bit integer.
    pub fn new() -> SdpOrigin {
        let session_id = u64::from(rand::random_range(1u32..0x7fff_ffff));
        SdpOrigin {
            session_id,
            version: session_id,
        }
    }
}

impl Default for SdpOrigin {
    fn default() -> Self {
        SdpOrigin::new()
    }
}

/// Writes the PBX's SDP for one leg. `bump` increments the origin version first
/// (pass true for every new offer or answer after the first on this leg).
///
/// `profile` goes in the m-line; `crypto` is our own SDES line (our sending key),
/// written after the rtpmap and fmtp lines. In an answer it carries the accepted offer line's
/// tag (`answer_crypto`). A secure profile without `crypto` is the caller's
/// mistake: the description would be unusable, and it is written as asked.
#[allow(clippy::too_many_arguments)]
pub fn build_sdp(
    origin: &mut SdpOrigin,
    bump: bool,
    media_ip: IpAddr,
    port: u16,
    codecs: &[Codec],
    dtmf: Option<&Codec>,
    direction: Direction,
    ptime: Option<u32>,
    profile: RtpProfile,
    crypto: Option<&SdesCrypto>,
) -> Vec<u8> {
    if bump {
        origin.version = origin.version.wrapping_add(1);
    }
    let family = match media_ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    };
    let mut s = String::with_capacity(400);
    // Writing to a String cannot fail; the results are ignored deliberately.
    let _ = write!(s, "v=0\r\n");
    let _ = write!(
        s,
        "o=spygroup {} {} IN {family} {media_ip}\r\n",
        origin.session_id, origin.version
    );
    let _ = write!(s, "s=spygroup\r\nc=IN {family} {media_ip}\r\nt=0 0\r\n");
    let _ = write!(s, "m=audio {port} {profile}");
    for c in codecs.iter().chain(dtmf) {
        let _ = write!(s, " {}", c.pt);
    }
    s.push_str("\r\n");
    for c in codecs.iter().chain(dtmf) {
        let _ = write!(s, "a=rtpmap:{} {c}\r\n", c.pt);
    }
    if let Some(d) = dtmf {
        let _ = write!(s, "a=fmtp:{} 0-16\r\n", d.pt);
    }
    if let Some(c) = crypto {
        let _ = write!(s, "a=crypto:{c}\r\n");
    }
    if let Some(p) = ptime {
        let _ = write!(s, "a=ptime:{p}\r\n");
    }
    let _ = write!(s, "a={direction}\r\n");
    s.into_bytes()
}
