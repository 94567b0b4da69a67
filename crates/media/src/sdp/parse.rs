//! Reading the audio stream out of a peer's SDP.
//!
//! `ezk-sdp-types` does the parsing, but it rejects a whole body when any attribute
//! it knows fails to parse (an odd ICE candidate, an `a=ssrc` it does not like) and it
//! knows nothing of `m=image` (T.38). A B2BUA must not answer 488 to a call because
//! of an attribute it never uses, so the body is first reduced to the lines that
//! matter for audio: session lines, audio sections, and within them only the
//! attributes read below. Everything else the peer wrote is irrelevant to the
//! PBX's own answer, which `build_sdp` writes from scratch.
//!
//! `a=crypto` lines are kept, but read here rather than by `ezk-sdp-types`: it
//! refuses the whole body over one line it cannot parse, while an offer's crypto
//! lines are alternatives, and one we cannot read must only be skipped.

use super::{AudioDescription, Codec, CryptoError, Direction, RtpProfile, SdesCrypto, SdpError};
use ezk_sdp_types::{
    Direction as EzkDirection, MediaDescription, MediaType, SessionDescription, TaggedAddress,
    TransportProtocol, UnknownAttribute,
};
use std::net::IpAddr;

/// Highest RTP payload type (7 bits).
const MAX_PAYLOAD_TYPE: u8 = 127;

/// Attributes that `parse_audio` reads; all others are dropped before parsing.
const KEPT_ATTRIBUTES: &[&str] = &[
    "rtpmap", "rtcp", "ptime", "sendrecv", "sendonly", "recvonly", "inactive", "crypto",
];

/// Kept attributes that we parse ourselves instead of handing them to
/// `ezk-sdp-types` (see the module doc).
const OWN_ATTRIBUTES: &[&str] = &["crypto"];

/// The body cut down for `ezk-sdp-types`, and what was set aside for us.
struct Reduced {
    text: String,
    /// The values of the `a=crypto` lines of each kept m-section, in order; the
    /// i-th entry belongs to the i-th media description `ezk-sdp-types` returns
    /// (only audio sections are kept, each with its m-line).
    crypto: Vec<Vec<String>>,
}

/// Parses the first active (port != 0) audio stream of an SDP body.
pub fn parse_audio(body: &[u8]) -> Result<AudioDescription, SdpError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| SdpError::NotSdp("body is not valid UTF-8".to_string()))?;
    let reduced = reduce(text)?;
    let session = SessionDescription::parse(&reduced.text.into())
        .map_err(|e| SdpError::NotSdp(e.to_string()))?;

    let (audio, profile, crypto) = select_audio(&session, &reduced.crypto)?;
    let addr = connection_addr(audio, &session)?;
    let (codecs, dtmf) = codecs_of(audio);
    let ptime = ptime_of(&audio.attributes).or_else(|| ptime_of(&session.attributes));

    Ok(AudioDescription {
        addr,
        port: audio.media.port,
        codecs,
        dtmf,
        direction: match audio.direction {
            EzkDirection::SendRecv => Direction::SendRecv,
            EzkDirection::SendOnly => Direction::SendOnly,
            EzkDirection::RecvOnly => Direction::RecvOnly,
            EzkDirection::Inactive => Direction::Inactive,
        },
        ptime,
        rtcp_port: audio.rtcp.as_ref().map(|r| r.port),
        profile,
        crypto,
    })
}

/// Keeps session-level lines and audio sections, and only the attributes we read.
fn reduce(text: &str) -> Result<Reduced, SdpError> {
    let mut out = String::with_capacity(text.len());
    let mut crypto: Vec<Vec<String>> = Vec::new();
    let mut first = true;
    let mut in_skipped_section = false;
    for line in text.split('\n').map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if first {
            if !line.starts_with("v=") {
                return Err(SdpError::NotSdp(
                    "first line is not the version line v=0".to_string(),
                ));
            }
            first = false;
        }
        let (kind, value) = match line.split_once('=') {
            Some((k, v)) if k.len() == 1 => (k, v),
            _ => continue,
        };
        let keep = match kind {
            "m" => {
                in_skipped_section = !value.starts_with("audio ");
                if !in_skipped_section {
                    crypto.push(Vec::new());
                }
                !in_skipped_section
            }
            _ if in_skipped_section => false,
            "v" | "o" | "s" | "c" | "t" => true,
            "a" => {
                let (name, attr_value) = value.split_once(':').unwrap_or((value, ""));
                if OWN_ATTRIBUTES.contains(&name) {
                    // Media level only (RFC 4568); at session level it is ignored.
                    if let Some(section) = crypto.last_mut() {
                        section.push(attr_value.trim().to_string());
                    }
                    false
                } else {
                    KEPT_ATTRIBUTES.contains(&name)
                }
            }
            _ => false,
        };
        if keep {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    if first {
        return Err(SdpError::NotSdp("body is empty".to_string()));
    }
    Ok(Reduced { text: out, crypto })
}

/// The first audio stream with a non-zero port, plain RTP or SRTP with a usable
/// `a=crypto` line; if the only active audio streams are unusable, the error
/// names why. `crypto[i]` holds the crypto lines of the i-th media description.
fn select_audio<'s>(
    session: &'s SessionDescription,
    crypto: &[Vec<String>],
) -> Result<(&'s MediaDescription, RtpProfile, Vec<SdesCrypto>), SdpError> {
    let mut first_problem = None;
    for (i, md) in session.media_descriptions.iter().enumerate() {
        if md.media.media_type != MediaType::Audio || md.media.port == 0 {
            continue;
        }
        let profile = match &md.media.proto {
            TransportProtocol::RtpAvp => RtpProfile::Avp,
            TransportProtocol::RtpAvpf => RtpProfile::Avpf,
            TransportProtocol::RtpSavp => RtpProfile::Savp,
            TransportProtocol::RtpSavpf => RtpProfile::Savpf,
            p @ (TransportProtocol::UdpTlsRtpSavp | TransportProtocol::UdpTlsRtpSavpf) => {
                first_problem.get_or_insert(SdpError::Encrypted(p.to_string()));
                continue;
            }
            p => {
                first_problem.get_or_insert(SdpError::UnsupportedTransport(p.to_string()));
                continue;
            }
        };
        let lines = crypto.get(i).map_or(&[][..], Vec::as_slice);
        let (usable, skipped) = usable_crypto(lines);
        if profile.is_secure() && usable.is_empty() {
            let offered = if skipped.is_empty() {
                "none".to_string()
            } else {
                skipped.join(", ")
            };
            first_problem.get_or_insert(SdpError::NoUsableCrypto { offered });
            continue;
        }
        return Ok((md, profile, usable));
    }
    Err(first_problem.unwrap_or(SdpError::NoAudio))
}

/// The crypto lines we can use, and for the others `tag suite (why not)`.
fn usable_crypto(lines: &[String]) -> (Vec<SdesCrypto>, Vec<String>) {
    let mut usable = Vec::new();
    let mut skipped = Vec::new();
    for line in lines {
        match SdesCrypto::parse(line) {
            Ok(c) => usable.push(c),
            Err(e) => {
                let head: Vec<&str> = line.split_ascii_whitespace().take(2).collect();
                let why = match e {
                    CryptoError::UnknownSuite(_) => "suite not supported".to_string(),
                    e => e.to_string(),
                };
                skipped.push(format!("{} ({why})", head.join(" ")));
            }
        }
    }
    (usable, skipped)
}

fn connection_addr(
    md: &MediaDescription,
    session: &SessionDescription,
) -> Result<IpAddr, SdpError> {
    let conn = md
        .connection
        .as_ref()
        .or(session.connection.as_ref())
        .ok_or(SdpError::NoConnection)?;
    match &conn.address {
        TaggedAddress::IP4(ip) => Ok(IpAddr::V4(*ip)),
        TaggedAddress::IP6(ip) => Ok(IpAddr::V6(*ip)),
        TaggedAddress::IP4FQDN(host) | TaggedAddress::IP6FQDN(host) => {
            Err(SdpError::HostnameConnection(host.to_string()))
        }
    }
}

/// Codecs in m-line order; telephone-event is split out (the 8 kHz one only, since
/// that is the rate of every codec we relay). Formats above 127 are left out: an
/// RTP payload type has 7 bits (RFC 3550 5.1), so no packet could carry them, and
/// an answer naming one would be wrong.
fn codecs_of(md: &MediaDescription) -> (Vec<Codec>, Option<Codec>) {
    let mut codecs = Vec::with_capacity(md.media.fmts.len());
    let mut dtmf = None;
    for &pt in md.media.fmts.iter().filter(|&&pt| pt <= MAX_PAYLOAD_TYPE) {
        let codec = match md.rtpmap.iter().find(|m| m.payload == pt) {
            Some(map) => Codec {
                pt,
                name: map.encoding.trim().to_string(),
                rate: map.clock_rate,
                channels: map
                    .params
                    .as_ref()
                    .and_then(|p| p.trim().parse().ok())
                    .unwrap_or(1),
            },
            None => match Codec::from_static_pt(pt) {
                Some(c) => c,
                None => continue,
            },
        };
        if codec.is_telephone_event() {
            if codec.rate == 8000 && dtmf.is_none() {
                dtmf = Some(codec);
            }
        } else {
            codecs.push(codec);
        }
    }
    (codecs, dtmf)
}

/// `a=ptime:20`; some phones write `20.0`, so only the integer part is read.
fn ptime_of(attributes: &[UnknownAttribute]) -> Option<u32> {
    let attr = attributes.iter().find(|a| a.name.as_str() == "ptime")?;
    let value = attr.value.as_ref()?;
    let digits: &str = value
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap_or("");
    digits.parse().ok().filter(|&p| p > 0)
}
