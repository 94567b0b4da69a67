//! Offers written in the style of the phones the PBX meets, and broken ones.

use super::*;
use crate::srtp::{SrtpError, SrtpSuite};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn crlf(s: &str) -> Vec<u8> {
    s.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty())
        .flat_map(|l| format!("{l}\r\n").into_bytes())
        .collect()
}

fn names(codecs: &[Codec]) -> Vec<(u8, &str, u32)> {
    codecs
        .iter()
        .map(|c| (c.pt, c.name.as_str(), c.rate))
        .collect()
}

const PJSUA2: &str = "
    v=0
    o=- 3918326541 3918326541 IN IP4 192.168.1.20
    s=pjmedia
    b=AS:84
    t=0 0
    a=X-nat:0
    m=audio 4000 RTP/AVP 96 97 98 99 3 0 8 9 120 121 122
    c=IN IP4 192.168.1.20
    b=TIAS:64000
    a=rtcp:4001 IN IP4 192.168.1.20
    a=sendrecv
    a=rtpmap:96 speex/16000
    a=rtpmap:97 speex/8000
    a=rtpmap:98 speex/32000
    a=rtpmap:99 iLBC/8000
    a=fmtp:99 mode=30
    a=rtpmap:120 telephone-event/16000
    a=fmtp:120 0-16
    a=rtpmap:121 telephone-event/8000
    a=fmtp:121 0-16
    a=rtpmap:122 telephone-event/32000
    a=fmtp:122 0-16
    a=ssrc:1373431216 cname:1b4a46e2170f3c9d
";

#[test]
fn pjsua2_offer() {
    let d = parse_audio(&crlf(PJSUA2)).unwrap();
    assert_eq!(d.addr, IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20)));
    assert_eq!(d.port, 4000);
    assert_eq!(d.rtcp_port, Some(4001));
    assert_eq!(d.direction, Direction::SendRecv);
    assert_eq!(
        names(&d.codecs),
        vec![
            (96, "speex", 16000),
            (97, "speex", 8000),
            (98, "speex", 32000),
            (99, "iLBC", 8000),
            (3, "GSM", 8000),
            (0, "PCMU", 8000),
            (8, "PCMA", 8000),
            (9, "G722", 8000),
        ]
    );
    assert_eq!(d.dtmf, Some(Codec::telephone_event(121)));
    assert!(!d.is_hold());
    let (codecs, dtmf) = negotiate(&d, &["PCMU", "PCMA"]).unwrap();
    assert_eq!(codecs, vec![Codec::pcmu(), Codec::pcma()]);
    assert_eq!(dtmf.map(|c| c.pt), Some(121));
}

const BARESIP: &str = "
    v=0
    o=- 1852734219 1264559185 IN IP4 127.0.0.1
    s=-
    c=IN IP4 127.0.0.1
    t=0 0
    m=audio 10286 RTP/AVP 8 0 101
    b=AS:64
    a=rtpmap:8 PCMA/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=sendrecv
    a=label:1
    a=ssrc:3131233127 cname:sip:1001@127.0.0.1
    a=rtcp-rsize
    a=ptime:20
";

#[test]
fn baresip_offer_uses_session_connection_and_keeps_order() {
    let d = parse_audio(&crlf(BARESIP)).unwrap();
    assert_eq!(d.addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(d.port, 10286);
    assert_eq!(d.ptime, Some(20));
    assert_eq!(d.rtcp_port, None);
    let (codecs, dtmf) = negotiate(&d, &["PCMU", "PCMA"]).unwrap();
    // The offerer preferred PCMA; the answer keeps its order.
    assert_eq!(codecs, vec![Codec::pcma(), Codec::pcmu()]);
    assert_eq!(dtmf, Some(Codec::telephone_event(101)));
}

const LINPHONE_ICE: &str = "
    v=0
    o=1001 3219 1781 IN IP4 10.0.0.7
    s=Talk
    c=IN IP4 203.0.113.9
    t=0 0
    a=ice-pwd:31ec21eb38b2ec6d36e8dc7b
    a=ice-ufrag:570a75d1
    a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
    a=record:off
    m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
    a=rtpmap:96 opus/48000/2
    a=fmtp:96 useinbandfec=1
    a=rtpmap:97 SILK/16000
    a=rtpmap:98 speex/16000
    a=fmtp:98 vbr=on
    a=fmtp:18 annexb=yes
    a=rtpmap:101 telephone-event/48000
    a=rtpmap:99 telephone-event/16000
    a=rtpmap:100 telephone-event/8000
    a=rtcp-mux
    a=rtcp:7079
    a=candidate:1 1 UDP 2130706303 10.0.0.7 7078 typ host
    a=candidate:1 2 UDP 2130706302 10.0.0.7 7079 typ host
    a=candidate:2 1 UDP 1694498687 203.0.113.9 7078 typ srflx raddr 10.0.0.7 rport 7078
    a=candidate:2 2 UDP 1694498686 203.0.113.9 7079 typ srflx raddr 10.0.0.7 rport 7079
    a=rtcp-fb:* trr-int 1000
    a=rtcp-fb:* ccm tmmbr
    m=video 0 RTP/AVP 96
";

#[test]
fn linphone_offer_with_ice_and_opus() {
    let d = parse_audio(&crlf(LINPHONE_ICE)).unwrap();
    assert_eq!(d.addr, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));
    assert_eq!(d.port, 7078);
    assert_eq!(d.rtcp_port, Some(7079));
    assert_eq!(d.codecs[0].name, "opus");
    assert_eq!(d.codecs[0].channels, 2);
    assert_eq!(d.codecs[0].to_string(), "opus/48000/2");
    assert_eq!(
        names(&d.codecs)[3..],
        [(0, "PCMU", 8000), (8, "PCMA", 8000), (18, "G729", 8000)]
    );
    // Only the 8 kHz telephone-event is usable with G.711.
    assert_eq!(d.dtmf, Some(Codec::telephone_event(100)));
}

const POLYCOM: &str = "
    v=0
    o=- 1700000000 1700000000 IN IP4 172.16.5.41
    s=Polycom IP Phone
    c=IN IP4 172.16.5.41
    b=AS:512
    t=0 0
    a=sendrecv
    m=audio 2228 RTP/AVP 9 102 0 8 18 127
    a=rtpmap:102 G7221/16000
    a=fmtp:102 bitrate=32000
    a=rtpmap:127 telephone-event/8000
    m=video 2230 RTP/AVP 109 34 31
    a=rtpmap:109 H264/90000
    a=fmtp:109 profile-level-id=42800d; max-mbps=40500
    a=content:main
";

#[test]
fn polycom_static_payload_types_without_rtpmap() {
    let d = parse_audio(&crlf(POLYCOM)).unwrap();
    assert_eq!(d.port, 2228);
    assert_eq!(
        names(&d.codecs),
        vec![
            (9, "G722", 8000),
            (102, "G7221", 16000),
            (0, "PCMU", 8000),
            (8, "PCMA", 8000),
            (18, "G729", 8000)
        ]
    );
    assert_eq!(d.dtmf.map(|c| c.pt), Some(127));
}

const YEALINK_HOLD: &str = "
    v=0
    o=- 20012 20013 IN IP4 192.168.10.55
    s=SDP data
    c=IN IP4 192.168.10.55
    t=0 0
    m=audio 11780 RTP/AVP 0 8 18 9 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:18 G729/8000
    a=fmtp:18 annexb=no
    a=rtpmap:9 G722/8000
    a=fmtp:101 0-15
    a=rtpmap:101 telephone-event/8000
    a=ptime:20
    a=sendonly
";

#[test]
fn yealink_hold_with_sendonly() {
    let d = parse_audio(&crlf(YEALINK_HOLD)).unwrap();
    assert_eq!(d.direction, Direction::SendOnly);
    assert!(d.is_hold());
    assert_eq!(d.direction.reverse(), Direction::RecvOnly);
}

#[test]
fn old_style_hold_with_zero_address() {
    let body = crlf(
        "v=0
         o=- 1 2 IN IP4 10.1.1.1
         s=-
         c=IN IP4 0.0.0.0
         t=0 0
         m=audio 5004 RTP/AVP 0
         a=sendrecv",
    );
    let d = parse_audio(&body).unwrap();
    assert!(d.addr.is_unspecified());
    assert!(d.is_hold());
}

#[test]
fn session_level_inactive_applies_to_media_and_lf_line_ends_accepted() {
    let body = b"v=0\no=- 1 2 IN IP6 2001:db8::5\ns=-\nc=IN IP6 2001:db8::5\nt=0 0\na=inactive\nm=audio 6000 RTP/AVP 8\n";
    let d = parse_audio(body).unwrap();
    assert_eq!(d.direction, Direction::Inactive);
    assert!(d.is_hold());
    assert_eq!(d.addr, "2001:db8::5".parse::<Ipv6Addr>().unwrap());
    assert_eq!(d.codecs, vec![Codec::pcma()]);
}

#[test]
fn skips_disabled_and_non_audio_streams() {
    let body = crlf(
        "v=0
         o=- 1 2 IN IP4 10.1.1.1
         s=-
         c=IN IP4 10.1.1.1
         t=0 0
         m=image 0 udptl t38
         m=audio 0 RTP/SAVP 0
         m=audio 5006 RTP/AVP 0",
    );
    let d = parse_audio(&body).unwrap();
    assert_eq!(d.port, 5006);
}

#[test]
fn errors_say_what_was_wrong() {
    let cases: Vec<(Vec<u8>, SdpError)> = vec![
        (b"".to_vec(), SdpError::NotSdp("body is empty".into())),
        (
            b"<html>hello</html>".to_vec(),
            SdpError::NotSdp("first line is not the version line v=0".into()),
        ),
        (
            crlf("v=0
                  o=- 1 2 IN IP4 10.1.1.1
                  s=-
                  c=IN IP4 10.1.1.1
                  t=0 0
                  m=video 5000 RTP/AVP 96"),
            SdpError::NoAudio,
        ),
        (
            crlf("v=0
                  o=- 1 2 IN IP4 10.1.1.1
                  s=-
                  t=0 0
                  m=audio 5000 RTP/AVP 0"),
            SdpError::NoConnection,
        ),
        (
            crlf("v=0
                  o=- 1 2 IN IP4 10.1.1.1
                  s=-
                  c=IN IP4 10.1.1.1
                  t=0 0
                  m=audio 5000 UDP/TLS/RTP/SAVP 0
                  a=fingerprint:sha-256 AB:CD
                  a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"),
            SdpError::Encrypted("UDP/TLS/RTP/SAVP".into()),
        ),
        (
            crlf("v=0
                  o=- 1 2 IN IP4 10.1.1.1
                  s=-
                  c=IN IP4 10.1.1.1
                  t=0 0
                  m=audio 5000 RTP/SAVP 0"),
            SdpError::NoUsableCrypto {
                offered: "none".into(),
            },
        ),
        (
            crlf("v=0
                  o=- 1 2 IN IP4 10.1.1.1
                  s=-
                  c=IN IP4 pbx.example.com
                  t=0 0
                  m=audio 5000 RTP/AVP 0"),
            SdpError::HostnameConnection("pbx.example.com".into()),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(parse_audio(&body), Err(expected));
    }
    assert!(matches!(
        parse_audio(&[0xff, 0xfe, 0x00]),
        Err(SdpError::NotSdp(_))
    ));
    // Missing mandatory lines are reported by the parser.
    let err = parse_audio(b"v=0\r\nm=audio 5000 RTP/AVP 0\r\n").unwrap_err();
    assert!(err.to_string().contains("origin"), "{err}");
    // A broken m-line.
    let err = parse_audio(&crlf(
        "v=0
         o=- 1 2 IN IP4 10.1.1.1
         s=-
         c=IN IP4 10.1.1.1
         t=0 0
         m=audio 99999 RTP/AVP 0",
    ))
    .unwrap_err();
    assert!(matches!(err, SdpError::NotSdp(_)), "{err}");
}

#[test]
fn garbage_never_panics() {
    let inputs: [&[u8]; 8] = [
        b"v=",
        b"v=0\r\na",
        b"v=0\r\nm=audio",
        b"v=0\r\no=\r\ns=\r\nt=\r\n",
        b"v=0\r\na=rtpmap:\r\n",
        b"v=0\r\no=- 1 2 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nc=IN IP4 1.1.1.1\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n",
        "v=0\r\ns=\u{e9}\u{e9}\r\n".as_bytes(),
        b"v=0\r\n\r\n\r\n=\r\n==\r\n",
    ];
    for input in inputs {
        let _ = parse_audio(input);
    }
}

#[test]
fn no_common_codec_is_an_error() {
    let body = crlf(
        "v=0
         o=- 1 2 IN IP4 10.1.1.1
         s=-
         c=IN IP4 10.1.1.1
         t=0 0
         m=audio 5000 RTP/AVP 96 9 101
         a=rtpmap:96 opus/48000/2
         a=rtpmap:101 telephone-event/8000",
    );
    let d = parse_audio(&body).unwrap();
    let err = negotiate(&d, &["PCMU", "PCMA"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no common audio codec: offered [opus/48000/2, G722/8000], supported [PCMU, PCMA]"
    );
}

#[test]
fn negotiate_is_case_insensitive() {
    let body = crlf(
        "v=0
         o=- 1 2 IN IP4 10.1.1.1
         s=-
         c=IN IP4 10.1.1.1
         t=0 0
         m=audio 5000 RTP/AVP 0
         a=rtpmap:0 pcmu/8000",
    );
    let d = parse_audio(&body).unwrap();
    let (codecs, dtmf) = negotiate(&d, &["PCMU"]).unwrap();
    assert_eq!(codecs[0].pt, 0);
    assert_eq!(dtmf, None);
}

#[test]
fn build_sdp_writes_our_answer_and_parses_back() {
    let mut origin = SdpOrigin {
        session_id: 4242,
        version: 7,
    };
    let ip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));
    let te = Codec::telephone_event(101);
    let body = build_sdp(
        &mut origin,
        false,
        ip,
        30000,
        &[Codec::pcmu(), Codec::pcma()],
        Some(&te),
        Direction::SendRecv,
        Some(20),
        RtpProfile::Avp,
        None,
    );
    let expected = "v=0\r\n\
        o=spygroup 4242 7 IN IP4 198.51.100.2\r\n\
        s=spygroup\r\n\
        c=IN IP4 198.51.100.2\r\n\
        t=0 0\r\n\
        m=audio 30000 RTP/AVP 0 8 101\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\n\
        a=ptime:20\r\n\
        a=sendrecv\r\n";
    assert_eq!(String::from_utf8(body.clone()).unwrap(), expected);

    let back = parse_audio(&body).unwrap();
    assert_eq!(back.addr, ip);
    assert_eq!(back.port, 30000);
    assert_eq!(back.codecs, vec![Codec::pcmu(), Codec::pcma()]);
    assert_eq!(back.dtmf, Some(te));
    assert_eq!(back.ptime, Some(20));

    // A new offer (hold) bumps the version; IPv6 uses IP6.
    let ip6: IpAddr = "2001:db8::1".parse().unwrap();
    let body = build_sdp(
        &mut origin,
        true,
        ip6,
        30002,
        &[Codec::pcma()],
        None,
        Direction::SendOnly,
        None,
        RtpProfile::Avp,
        None,
    );
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("o=spygroup 4242 8 IN IP6 2001:db8::1\r\n"),
        "{text}"
    );
    assert!(text.contains("c=IN IP6 2001:db8::1\r\n"));
    assert!(text.contains("m=audio 30002 RTP/AVP 8\r\n"));
    assert!(text.ends_with("a=sendonly\r\n"));
    assert!(!text.contains("ptime"));
    assert_eq!(origin.version, 8);
}

#[test]
fn fresh_origins_differ() {
    let a = SdpOrigin::new();
    let b = SdpOrigin::new();
    assert_ne!(a.session_id, b.session_id);
    assert!(a.session_id < 1 << 31);
}

#[test]
fn direction_reverse() {
    assert_eq!(Direction::SendRecv.reverse(), Direction::SendRecv);
    assert_eq!(Direction::SendOnly.reverse(), Direction::RecvOnly);
    assert_eq!(Direction::RecvOnly.reverse(), Direction::SendOnly);
    assert_eq!(Direction::Inactive.reverse(), Direction::Inactive);
}

/// Found with a hand-made input for the `sdp` fuzz target (its check that
/// negotiated payload types fit RTP's 7 bits): PCMU mapped to payload type 200
/// was negotiated, and our answer would have named 200.
#[test]
fn payload_types_above_127_are_not_codecs() {
    let body: &[u8] = b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 200 201\r\na=rtpmap:200 PCMU/8000\r\na=rtpmap:201 telephone-event/8000\r\n";
    let d = parse_audio(body).unwrap();
    assert!(d.codecs.is_empty(), "{:?}", d.codecs);
    assert_eq!(d.dtmf, None);
    let err = negotiate(&d, &["PCMU", "PCMA"]).unwrap_err();
    assert!(matches!(err, SdpError::NoCommonCodec { .. }), "{err}");

    // Next to a valid one, only the valid one is kept.
    let body: &[u8] = b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 200 8\r\na=rtpmap:200 PCMU/8000\r\n";
    let d = parse_audio(body).unwrap();
    assert_eq!(d.codecs, vec![Codec::pcma()]);
}

// --- SDES (RFC 4568): SRTP keys in a=crypto -----------------------------------

/// pjsua 2 with `--use-srtp=2` (mandatory): RTP/SAVP and its whole suite list,
/// of which only the two AES_CM_128 lines are ours.
const PJSUA2_SDES: &str = "
    v=0
    o=- 3918326600 3918326600 IN IP4 192.168.1.20
    s=pjmedia
    b=AS:84
    t=0 0
    a=X-nat:0
    m=audio 4000 RTP/SAVP 8 0 101
    c=IN IP4 192.168.1.20
    b=TIAS:64000
    a=rtcp:4001 IN IP4 192.168.1.20
    a=sendrecv
    a=rtpmap:8 PCMA/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-16
    a=crypto:1 AEAD_AES_256_GCM inline:2XeCkk+btkkfpKndM9W4S+g5bwrhkHSGDhX0FFgu3XGQH4SA/yAMPF68AtI=
    a=crypto:2 AEAD_AES_128_GCM inline:ai4o5Qvm/JUcg+gKVlnDEAyQqGhCW9XnNikkDQ==
    a=crypto:3 AES_256_CM_HMAC_SHA1_80 inline:udppF4nYVSKYgPK5hE1ZcTQlVdXIr7phD8/l4I9sI1ST8OErFHdeeLPcv/FJeg==
    a=crypto:4 AES_256_CM_HMAC_SHA1_32 inline:hoRv7A2hNkuuyYD4YZJyS1BVVLiQ5DdTfwKjXaJ1+eK2LDZ55TrMs2fgWgQePQ==
    a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:AGLTBhhfk1sXaTXnRywqInuS8vJuEYgfWVMlXUBU
    a=crypto:6 AES_CM_128_HMAC_SHA1_32 inline:Jym7WDJ46Zcs47tNuandeeD/r3fRdG/lhWgbrDFZ
    a=ssrc:1373431216 cname:1b4a46e2170f3c9d
";

fn tags_and_suites(crypto: &[SdesCrypto]) -> Vec<(u32, SrtpSuite)> {
    crypto.iter().map(|c| (c.tag, c.key.suite)).collect()
}

#[test]
fn pjsua2_sdes_offer_keeps_our_suites_and_answers_the_first() {
    let d = parse_audio(&crlf(PJSUA2_SDES)).unwrap();
    assert_eq!(d.profile, RtpProfile::Savp);
    assert!(d.profile.is_secure());
    assert_eq!(d.port, 4000);
    assert_eq!(
        tags_and_suites(&d.crypto),
        vec![
            (5, SrtpSuite::AesCm128HmacSha1_80),
            (6, SrtpSuite::AesCm128HmacSha1_32)
        ]
    );
    assert_eq!(
        d.crypto[0].key.inline(),
        "AGLTBhhfk1sXaTXnRywqInuS8vJuEYgfWVMlXUBU"
    );

    let answer = answer_crypto(&d).unwrap();
    assert_eq!(answer.tag, 5);
    assert_eq!(answer.key.suite, SrtpSuite::AesCm128HmacSha1_80);
    assert_ne!(answer.key, d.crypto[0].key, "we send with a key of our own");
    assert_ne!(
        answer_crypto(&d).unwrap().key,
        answer.key,
        "fresh every time"
    );

    // Our answer in RTP/SAVP reads back with the same line.
    let (codecs, dtmf) = negotiate(&d, &["PCMU", "PCMA"]).unwrap();
    let body = build_sdp(
        &mut SdpOrigin::new(),
        false,
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
        30000,
        &codecs,
        dtmf.as_ref(),
        d.direction.reverse(),
        None,
        d.profile,
        Some(&answer),
    );
    let back = parse_audio(&body).unwrap();
    assert_eq!(back.profile, RtpProfile::Savp);
    assert_eq!(back.crypto, vec![answer]);
    assert_eq!(back.codecs, codecs);
}

/// pjsua with `--use-srtp=1` (optional) offers plain RTP/AVP with the same crypto
/// lines: they are kept, so the switch may answer with SRTP.
#[test]
fn pjsua2_optional_srtp_is_avp_with_crypto() {
    let body = PJSUA2_SDES.replace("RTP/SAVP", "RTP/AVP");
    let d = parse_audio(&crlf(&body)).unwrap();
    assert_eq!(d.profile, RtpProfile::Avp);
    assert!(!d.profile.is_secure());
    assert_eq!(d.crypto.len(), 2);
    assert_eq!(answer_crypto(&d).map(|c| c.tag), Some(5));
}

const BARESIP_SDES: &str = "
    v=0
    o=- 1852734219 1264559185 IN IP4 127.0.0.1
    s=-
    c=IN IP4 127.0.0.1
    t=0 0
    m=audio 10002 RTP/SAVP 0 8
    b=AS:64
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=sendrecv
    a=label:1
    a=ssrc:3131233127 cname:sip:1001@127.0.0.1
    a=rtcp-rsize
    a=ptime:20
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:xXXZTG7tQ0XfCiKxxciAtQyHQbb2PNEV+WH0xzYh|2^31
    a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:ddZ4DpNQ6ocPhCzssdSYPUSrqEQYzyPX8sBU8CB1|2^31
";

#[test]
fn baresip_sdes_offer_with_lifetimes() {
    let d = parse_audio(&crlf(BARESIP_SDES)).unwrap();
    assert_eq!(d.profile, RtpProfile::Savp);
    assert_eq!(d.port, 10002);
    assert_eq!(d.ptime, Some(20));
    assert_eq!(
        tags_and_suites(&d.crypto),
        vec![
            (1, SrtpSuite::AesCm128HmacSha1_80),
            (2, SrtpSuite::AesCm128HmacSha1_32)
        ]
    );
    assert_eq!(
        d.crypto[1].key.inline(),
        "ddZ4DpNQ6ocPhCzssdSYPUSrqEQYzyPX8sBU8CB1"
    );
    assert_eq!(answer_crypto(&d).map(|c| c.tag), Some(1));

    // baresip's `srtp-mandf` uses RTP/SAVPF.
    let d = parse_audio(&crlf(&BARESIP_SDES.replace("RTP/SAVP", "RTP/SAVPF"))).unwrap();
    assert_eq!(d.profile, RtpProfile::Savpf);
    assert_eq!(d.crypto.len(), 2);
}

#[test]
fn savp_without_a_usable_crypto_line_is_an_error() {
    let offer = |crypto: &str| {
        let body = format!(
            "v=0
             o=- 1 2 IN IP4 10.1.1.1
             s=-
             c=IN IP4 10.1.1.1
             t=0 0
             m=audio 5000 RTP/SAVP 0
             {crypto}"
        );
        parse_audio(&crlf(&body))
    };
    let key = "AGLTBhhfk1sXaTXnRywqInuS8vJuEYgfWVMlXUBU";
    let err = offer(&format!(
        "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{key}
         a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^31|1:4
         a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:{key} UNENCRYPTED_SRTP
         a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:tooshort"
    ))
    .unwrap_err();
    let SdpError::NoUsableCrypto { offered } = &err else {
        panic!("{err:?}");
    };
    assert!(offered.starts_with("1 AES_256_CM_HMAC_SHA1_80 (suite not supported), 2 AES_CM_128_HMAC_SHA1_80 (bad SRTP key: MKI"), "{offered}");
    assert!(
        offered.contains(
            "3 AES_CM_128_HMAC_SHA1_32 (session parameter UNENCRYPTED_SRTP is not supported)"
        ),
        "{offered}"
    );
    assert!(
        offered.contains("4 AES_CM_128_HMAC_SHA1_80 (bad SRTP key:"),
        "{offered}"
    );
    let text = err.to_string();
    assert!(text.contains("no usable a=crypto line"), "{text}");
    assert!(text.contains("AES_CM_128_HMAC_SHA1_80"), "{text}");

    // Session-level crypto does not count (RFC 4568: media level only).
    let body = crlf(&format!(
        "v=0
         o=- 1 2 IN IP4 10.1.1.1
         s=-
         c=IN IP4 10.1.1.1
         t=0 0
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}
         m=audio 5000 RTP/SAVP 0"
    ));
    assert_eq!(
        parse_audio(&body),
        Err(SdpError::NoUsableCrypto {
            offered: "none".into()
        })
    );
}

/// A crypto line that cannot be read is skipped; it does not cost the call.
#[test]
fn unknown_or_broken_crypto_lines_are_skipped() {
    let body = crlf(
        "v=0
         o=- 1 2 IN IP4 10.1.1.1
         s=-
         c=IN IP4 10.1.1.1
         t=0 0
         m=audio 5000 RTP/SAVP 0
         a=crypto:garbage
         a=crypto:7 AEAD_AES_128_GCM inline:ai4o5Qvm/JUcg+gKVlnDEAyQqGhCW9XnNikkDQ==
         a=crypto:
         a=crypto:8 AES_CM_128_HMAC_SHA1_80 inline:AGLTBhhfk1sXaTXnRywqInuS8vJuEYgfWVMlXUBU WSH=128 FEC_ORDER=FEC_SRTP",
    );
    let d = parse_audio(&body).unwrap();
    assert_eq!(
        tags_and_suites(&d.crypto),
        vec![(8, SrtpSuite::AesCm128HmacSha1_80)]
    );
    // And in plain RTP/AVP a broken line is just ignored.
    let body = crlf(
        "v=0
         o=- 1 2 IN IP4 10.1.1.1
         s=-
         c=IN IP4 10.1.1.1
         t=0 0
         m=audio 5000 RTP/AVP 0
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!",
    );
    let d = parse_audio(&body).unwrap();
    assert_eq!(d.profile, RtpProfile::Avp);
    assert!(d.crypto.is_empty());
    assert_eq!(answer_crypto(&d), None);
}

/// The first SRTP stream has nothing usable; a later plain one is taken.
#[test]
fn unusable_srtp_stream_falls_back_to_a_later_one() {
    let body = crlf(
        "v=0
         o=- 1 2 IN IP4 10.1.1.1
         s=-
         c=IN IP4 10.1.1.1
         t=0 0
         m=audio 5000 RTP/SAVP 0
         a=crypto:1 AEAD_AES_256_GCM inline:2XeCkk+btkkfpKndM9W4S+g5bwrhkHSGDhX0FFgu3XGQH4SA/yAMPF68AtI=
         m=audio 5002 RTP/SAVP 0
         a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:Jym7WDJ46Zcs47tNuandeeD/r3fRdG/lhWgbrDFZ",
    );
    let d = parse_audio(&body).unwrap();
    assert_eq!(d.port, 5002);
    assert_eq!(
        tags_and_suites(&d.crypto),
        vec![(2, SrtpSuite::AesCm128HmacSha1_32)]
    );
}

/// WebRTC-style DTLS-SRTP is still refused, with a message that says so.
#[test]
fn dtls_srtp_is_still_refused() {
    let body = crlf(
        "v=0
         o=- 1 2 IN IP4 10.1.1.1
         s=-
         c=IN IP4 10.1.1.1
         t=0 0
         m=audio 9 UDP/TLS/RTP/SAVPF 111 0
         a=rtpmap:111 opus/48000/2
         a=setup:actpass
         a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2
         a=rtcp-mux",
    );
    let err = parse_audio(&body).unwrap_err();
    assert_eq!(err, SdpError::Encrypted("UDP/TLS/RTP/SAVPF".into()));
    let text = err.to_string();
    assert!(text.contains("DTLS-SRTP"), "{text}");
    assert!(text.contains("not supported for SIP phones"), "{text}");
}

#[test]
fn crypto_line_parse_and_display() {
    let key = "AGLTBhhfk1sXaTXnRywqInuS8vJuEYgfWVMlXUBU";
    let c: SdesCrypto = format!("12 AES_CM_128_HMAC_SHA1_32 inline:{key}|2^20 WSH=64")
        .parse()
        .unwrap();
    assert_eq!(c.tag, 12);
    assert_eq!(c.key.suite, SrtpSuite::AesCm128HmacSha1_32);
    assert_eq!(
        c.to_string(),
        format!("12 AES_CM_128_HMAC_SHA1_32 inline:{key}")
    );
    assert_eq!(SdesCrypto::parse(&c.to_string()), Ok(c.clone()));

    let refused = |params: &str| {
        SdesCrypto::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key} {params}"))
    };
    for param in [
        "UNENCRYPTED_SRTP",
        "UNENCRYPTED_SRTCP",
        "UNAUTHENTICATED_SRTP",
        "KDR=1",
        "FEC_KEY=inline:abc",
    ] {
        assert_eq!(
            refused(param),
            Err(CryptoError::UnsupportedParam(param.into())),
            "{param}"
        );
    }
    assert!(refused("FEC_ORDER=SRTP_FEC WSH=256 SOMETHING_NEW").is_ok());

    let malformed = |line: &str| {
        let err = SdesCrypto::parse(line).unwrap_err();
        assert!(matches!(err, CryptoError::Malformed(_)), "{line}: {err:?}");
    };
    malformed("");
    malformed("x AES_CM_128_HMAC_SHA1_80 inline:{key}");
    malformed("1234567890 AES_CM_128_HMAC_SHA1_80 inline:{key}");
    malformed("1");
    malformed("1 AES_CM_128_HMAC_SHA1_80");
    malformed(&format!("1 AES_CM_128_HMAC_SHA1_80 uri:{key}"));
    assert_eq!(
        SdesCrypto::parse("1 F8_128_HMAC_SHA1_80 inline:whatever"),
        Err(CryptoError::UnknownSuite("F8_128_HMAC_SHA1_80".into()))
    );
    assert!(matches!(
        SdesCrypto::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^31|1:4")),
        Err(CryptoError::Key(SrtpError::BadKey(_)))
    ));
}

#[test]
fn build_sdp_writes_savp_and_our_crypto_line() {
    let mut origin = SdpOrigin {
        session_id: 4242,
        version: 7,
    };
    let crypto = SdesCrypto::parse(
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
    )
    .unwrap();
    let te = Codec::telephone_event(101);
    let body = build_sdp(
        &mut origin,
        false,
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
        30000,
        &[Codec::pcmu()],
        Some(&te),
        Direction::SendRecv,
        Some(20),
        RtpProfile::Savp,
        Some(&crypto),
    );
    let expected = "v=0\r\n\
        o=spygroup 4242 7 IN IP4 198.51.100.2\r\n\
        s=spygroup\r\n\
        c=IN IP4 198.51.100.2\r\n\
        t=0 0\r\n\
        m=audio 30000 RTP/SAVP 0 101\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\n\
        a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n\
        a=ptime:20\r\n\
        a=sendrecv\r\n";
    assert_eq!(String::from_utf8(body.clone()).unwrap(), expected);
    let back = parse_audio(&body).unwrap();
    assert_eq!(back.profile, RtpProfile::Savp);
    assert_eq!(back.crypto, vec![crypto]);

    // Plain profiles round-trip too, without crypto.
    for profile in [RtpProfile::Avp, RtpProfile::Avpf] {
        let body = build_sdp(
            &mut origin,
            true,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            30002,
            &[Codec::pcma()],
            None,
            Direction::SendRecv,
            None,
            profile,
            None,
        );
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.contains(&format!("m=audio 30002 {} 8\r\n", profile.as_str())),
            "{text}"
        );
        assert!(!text.contains("crypto"));
        let back = parse_audio(&body).unwrap();
        assert_eq!(back.profile, profile);
        assert!(back.crypto.is_empty());
    }
}

/// A description logged with `{:?}` must not carry the peer's key.
#[test]
fn debug_of_a_description_hides_keys() {
    let d = parse_audio(&crlf(BARESIP_SDES)).unwrap();
    let text = format!("{d:?}");
    assert!(text.contains("AesCm128HmacSha1_80"), "{text}");
    assert!(!text.contains(&d.crypto[0].key.inline()), "{text}");
    assert!(
        !text.contains(&format!("{:?}", d.crypto[0].key.master_key)),
        "{text}"
    );
}
