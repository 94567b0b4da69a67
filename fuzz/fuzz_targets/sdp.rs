//! SDP from peers: `media::sdp::parse_audio` on any body, then what the switch does
//! with an offer (negotiate against PCMU/PCMA, write our answer with `build_sdp`).
//! Our answer must parse again and carry exactly the negotiated codecs, profile
//! and SDES crypto line.
//! (`negotiate` takes the peer's description and our fixed codec list; the same
//! call checks a peer's answer to our offer, so one direction covers both.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::sdp::{answer_crypto, build_sdp, negotiate, parse_audio, SdpOrigin};
use std::net::{IpAddr, Ipv4Addr};

/// What the switch supports (crates/pbx/src/switch/setup.rs).
const SUPPORTED: &[&str] = &["PCMU", "PCMA"];

fuzz_target!(|data: &[u8]| {
    let Ok(desc) = parse_audio(data) else {
        return;
    };
    assert_ne!(desc.port, 0, "a disabled stream was selected");
    let _ = desc.is_hold();
    for c in desc.codecs.iter().chain(&desc.dtmf) {
        let _ = c.to_string();
    }

    // The fuzzed body as an offer: negotiate and answer it.
    let Ok((codecs, dtmf)) = negotiate(&desc, SUPPORTED) else {
        return;
    };
    assert!(!codecs.is_empty());
    for c in &codecs {
        assert!(
            SUPPORTED.iter().any(|s| c.name.eq_ignore_ascii_case(s)),
            "negotiated unsupported codec {c}"
        );
        assert!(
            c.pt < 128,
            "payload type {} does not fit RTP's 7 bits",
            c.pt
        );
    }
    if let Some(d) = &dtmf {
        assert!(
            d.pt < 128,
            "telephone-event payload type {} does not fit RTP",
            d.pt
        );
    }
    // SRTP is only selected with a usable crypto line to answer.
    let crypto = answer_crypto(&desc);
    assert!(
        crypto.is_some() || !desc.profile.is_secure(),
        "{} selected without a usable a=crypto",
        desc.profile
    );
    let answer = build_sdp(
        &mut fixed_origin(),
        true,
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        40002,
        &codecs,
        dtmf.as_ref(),
        desc.direction.reverse(),
        desc.ptime,
        desc.profile,
        crypto.as_ref(),
    );
    let back = match parse_audio(&answer) {
        Ok(b) => b,
        Err(e) => panic!(
            "our answer does not parse ({e}):\n{}",
            String::from_utf8_lossy(&answer)
        ),
    };
    assert_eq!(back.port, 40002);
    assert_eq!(back.codecs, codecs, "answer codecs read back differently");
    assert_eq!(
        back.dtmf, dtmf,
        "answer telephone-event reads back differently"
    );
    assert_eq!(back.direction, desc.direction.reverse());
    assert_eq!(back.ptime, desc.ptime);
    assert_eq!(back.profile, desc.profile);
    assert_eq!(
        back.crypto,
        Vec::from_iter(crypto),
        "answer crypto reads back differently"
    );
});

fn fixed_origin() -> SdpOrigin {
    SdpOrigin {
        session_id: 1234,
        version: 1234,
    }
}
