//! Torture-style codec tests in the spirit of RFC 4475 (cases written here, not
//! copied): compact and folded headers, odd whitespace, IPv6, escapes, framing and
//! validation failures, and round trips.

use super::*;

/// Join lines with CRLF and end the header section.
fn msg(lines: &[&str], body: &str) -> Vec<u8> {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n\r\n");
    s.push_str(body);
    s.into_bytes()
}

fn request(bytes: &[u8]) -> Request {
    match parse_datagram(bytes).expect("parses") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn invite_lines() -> Vec<&'static str> {
    vec![
        "INVITE sip:110@pbx.example.com SIP/2.0",
        "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKabc;rport",
        "Max-Forwards: 70",
        "From: \"Agent 110\" <sip:110@pbx.example.com>;tag=f1",
        "To: <sip:111@pbx.example.com>",
        "Call-ID: a84b4c76e66710@10.0.0.5",
        "CSeq: 314159 INVITE",
        "Contact: <sip:110@10.0.0.5:5062>",
        "Content-Type: application/sdp",
    ]
}

#[test]
fn plain_invite_parses_and_validates() {
    let body = "v=0\r\n";
    let mut lines = invite_lines();
    lines.push("Content-Length: 5");
    let r = request(&msg(&lines, body));
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.uri.user.as_deref(), Some("110"));
    assert_eq!(r.body, b"v=0\r\n");
    assert_eq!(r.call_id().unwrap(), "a84b4c76e66710@10.0.0.5");
    assert_eq!(r.from().unwrap().tag(), Some("f1"));
    assert_eq!(r.from().unwrap().display.as_deref(), Some("Agent 110"));
    assert_eq!(r.to().unwrap().tag(), None);
    assert_eq!(r.cseq().unwrap(), CSeq::new(314159, Method::Invite));
    assert_eq!(r.top_via().unwrap().port, Some(5062));
    assert_eq!(r.max_forwards().unwrap(), Some(70));
    assert_eq!(r.content_type(), Some("application/sdp"));
    assert_eq!(r.contacts().unwrap().len(), 1);
    r.validate().unwrap();
}

#[test]
fn compact_forms_folding_and_odd_whitespace() {
    let bytes = msg(
        &[
            "OPTIONS   sip:pbx.example.com   SIP/2.0",
            "v:SIP/2.0/UDP host1.example.com;branch=z9hG4bK1,",
            "   SIP / 2.0 / TCP host2.example.com:5061 ; branch = z9hG4bK2",
            "f   :  <sip:caller@example.com>  ;  tag = 77",
            "t: sip:callee@example.com",
            "i: folded-call-id@h",
            "MAX-forwards:\t 10",
            "cseq: 1",
            "\tOPTIONS",
            "Subject: a subject",
            "  that continues",
            "    over lines",
            "m: <sip:a@1.2.3.4>, \"Comma, Name\" <sip:b@1.2.3.4>;q=0.5",
            "l: 0",
        ],
        "",
    );
    let r = request(&bytes);
    let vias = r.vias().unwrap();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[1].transport, "TCP");
    assert_eq!(vias[1].branch(), Some("z9hG4bK2"));
    assert_eq!(r.from().unwrap().tag(), Some("77"));
    assert_eq!(r.to().unwrap().uri.user.as_deref(), Some("callee"));
    assert_eq!(r.call_id().unwrap(), "folded-call-id@h");
    assert_eq!(r.headers.get("Max-Forwards"), Some("10"));
    assert_eq!(r.cseq().unwrap(), CSeq::new(1, Method::Options));
    assert_eq!(
        r.headers.get("subject"),
        Some("a subject that continues over lines")
    );
    let contacts = r.contacts().unwrap();
    assert_eq!(contacts.len(), 2);
    match &contacts[1] {
        ContactValue::Addr(a) => {
            assert_eq!(a.display.as_deref(), Some("Comma, Name"));
            assert_eq!(a.param("q"), Some(Some("0.5")));
        }
        ContactValue::Star => panic!("expected address"),
    }
    // Names come out canonical.
    let names: Vec<_> = r.headers.iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        vec![
            "Via",
            "Via",
            "From",
            "To",
            "Call-ID",
            "Max-Forwards",
            "CSeq",
            "Subject",
            "Contact",
            "Contact",
            "Content-Length"
        ]
    );
    r.validate().unwrap();
}

#[test]
fn ipv6_escapes_and_lf_only_line_ends() {
    let text = "REGISTER sip:[2001:db8::1] SIP/2.0\n\
                Via: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKv6\n\
                From: <sip:%31%31%30@[2001:db8::1]>;tag=x\n\
                To: <sip:110@[2001:db8::1]>\n\
                Call-ID: v6@h\n\
                CSeq: 2 REGISTER\n\
                Contact: *\n\
                Expires: 0\n\
                \n";
    let r = request(text.as_bytes());
    assert_eq!(r.uri.host, "2001:db8::1");
    assert_eq!(r.top_via().unwrap().host, "2001:db8::9");
    assert_eq!(r.from().unwrap().uri.user.as_deref(), Some("110"));
    assert_eq!(r.contacts().unwrap(), vec![ContactValue::Star]);
    assert_eq!(r.expires().unwrap(), Some(0));
    r.validate().unwrap();
    let again = request(&r.to_bytes());
    let mut expected = r.clone();
    expected.headers.push("Content-Length", "0");
    assert_eq!(again, expected);
}

#[test]
fn garbage_is_a_parse_error() {
    let cases: &[&[u8]] = &[
        b"",
        b"\r\n\r\n",
        b"hello world\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\n",
        b"INVITE sip:a b@h SIP/2.0\r\n\r\n",
        b"INVITE sip:a@h SIP/7.0\r\n\r\n",
        b"INV<ITE sip:a@h SIP/2.0\r\n\r\n",
        b"INVITE notauri SIP/2.0\r\n\r\n",
        b"SIP/2.0 2000 OK\r\n\r\n",
        b"SIP/2.0 099 Low\r\n\r\n",
        b"SIP/2.0\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
        b"OPTIONS sip:a@h SIP/2.0\r\n continuation-first: x\r\n\r\n",
        b"OPTIONS sip:a@h SIP/2.0\r\nBad Name: x\r\n\r\n",
        b"OPTIONS sip:a@h SIP/2.0\r\nContent-Length: ten\r\n\r\n",
    ];
    for case in cases {
        let err = parse_datagram(case).expect_err(&String::from_utf8_lossy(case));
        assert!(!err.to_string().is_empty());
    }
    let err = parse_datagram(b"INVITE sip:a@h SIP/7.0\r\n\r\n").unwrap_err();
    assert_eq!(err, ParseError::Version("SIP/7.0".into()));
}

#[test]
fn truncated_and_trailing_body() {
    let mut lines = invite_lines();
    lines.push("Content-Length: 50");
    let err = parse_datagram(&msg(&lines, "short")).unwrap_err();
    assert_eq!(
        err,
        ParseError::TruncatedBody {
            declared: 50,
            available: 5
        }
    );
    assert_eq!(
        err.to_string(),
        "Content-Length 50 exceeds the 5 body bytes received"
    );

    let mut lines = invite_lines();
    lines.push("Content-Length: 3");
    let r = request(&msg(&lines, "abcdef-trailing"));
    assert_eq!(r.body, b"abc");

    // No Content-Length in a datagram: the rest is the body.
    let r = request(&msg(&invite_lines(), "xyz"));
    assert_eq!(r.body, b"xyz");
}

#[test]
fn limits() {
    let big = vec![b'a'; MAX_MESSAGE_SIZE + 1];
    assert_eq!(
        parse_datagram(&big).unwrap_err(),
        ParseError::TooLarge {
            limit: MAX_MESSAGE_SIZE
        }
    );
    let mut lines = vec!["OPTIONS sip:a@h SIP/2.0".to_string()];
    for i in 0..=MAX_HEADERS {
        lines.push(format!("X-H{i}: v"));
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(
        parse_datagram(&msg(&refs, "")).unwrap_err(),
        ParseError::TooManyHeaders { limit: MAX_HEADERS }
    );
    // Exactly at the limit is fine.
    let refs: Vec<&str> = lines[..=MAX_HEADERS].iter().map(String::as_str).collect();
    assert!(parse_datagram(&msg(&refs, "")).is_ok());
}

#[test]
fn validate_reports_missing_and_bad_headers() {
    let base = invite_lines();
    let without = |name: &str| -> Request {
        let lines: Vec<&str> = base
            .iter()
            .copied()
            .filter(|l| !l.starts_with(name))
            .collect();
        request(&msg(&lines, ""))
    };
    assert_eq!(
        without("Via").validate().unwrap_err(),
        ParseError::MissingHeader("Via")
    );
    assert_eq!(
        without("From").validate().unwrap_err(),
        ParseError::MissingHeader("From")
    );
    assert_eq!(
        without("To").validate().unwrap_err(),
        ParseError::MissingHeader("To")
    );
    assert_eq!(
        without("Call-ID").validate().unwrap_err(),
        ParseError::MissingHeader("Call-ID")
    );
    assert_eq!(
        without("CSeq").validate().unwrap_err(),
        ParseError::MissingHeader("CSeq")
    );
    assert_eq!(
        without("Call-ID").validate().unwrap_err().to_string(),
        "missing Call-ID header"
    );

    let mut r = without("Nothing");
    r.headers.set("CSeq", "1 BYE");
    let e = r.validate().unwrap_err();
    assert_eq!(
        e.to_string(),
        "CSeq method BYE does not match request method INVITE"
    );
    let mut r = without("Nothing");
    r.headers.set("Max-Forwards", "seventy");
    assert!(r
        .validate()
        .unwrap_err()
        .to_string()
        .contains("Max-Forwards"));
    let mut r = without("Nothing");
    r.headers.set("From", "<sip:a@h");
    let e = r.validate().unwrap_err();
    assert!(
        matches!(e, ParseError::InvalidHeader { header: "From", .. }),
        "{e}"
    );
    let mut r = without("Nothing");
    r.headers.set("Via", "SIP/2.0/UDP");
    assert!(r.validate().is_err());
}

#[test]
fn serialisation_fixes_content_length_and_round_trips() {
    let mut lines = invite_lines();
    lines.push("Content-Length: 999");
    lines.push("Content-Length: 7");
    let mut r = request(&msg(&lines, &"x".repeat(999)));
    r.body = b"v=0\r\n".to_vec();
    let bytes = r.to_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\r\nContent-Length: 5\r\n"));
    assert_eq!(text.matches("Content-Length").count(), 1);
    assert!(text.ends_with("\r\n\r\nv=0\r\n"));
    let back = request(&bytes);
    assert_eq!(back.body, r.body);
    assert_eq!(back.headers.get("From"), r.headers.get("From"));

    // Missing Content-Length is appended; CR/LF injected into a value is neutralised.
    let mut r = Request::new(Method::Options, "sip:a@h".parse().unwrap());
    r.headers.push("Subject", "evil\r\nVia: x");
    let text = String::from_utf8(r.to_bytes()).unwrap();
    assert_eq!(
        text,
        "OPTIONS sip:a@h SIP/2.0\r\nSubject: evil  Via: x\r\nContent-Length: 0\r\n\r\n"
    );
}

#[test]
fn response_for_request_copies_rfc_headers() {
    let mut lines = invite_lines();
    lines.insert(2, "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp");
    let req = request(&msg(&lines, ""));
    let resp = Response::for_request(&req, 486, "");
    assert_eq!(resp.reason, "Busy Here");
    let names: Vec<_> = resp.headers.iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        vec![
            "Via",
            "Via",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Content-Length"
        ]
    );
    assert_eq!(resp.vias().unwrap()[1].host, "proxy.example.com");
    let bytes = resp.to_bytes();
    match parse_datagram(&bytes).unwrap() {
        Message::Response(r) => {
            assert_eq!(r.status, 486);
            assert_eq!(r.reason, "Busy Here");
            assert_eq!(r.cseq().unwrap(), CSeq::new(314159, Method::Invite));
            assert_eq!(r, resp);
        }
        Message::Request(_) => panic!("expected response"),
    }
    assert_eq!(Response::for_request(&req, 200, "Fine").reason, "Fine");
    assert_eq!(Response::reason_phrase(404), "Not Found");
    assert_eq!(Response::reason_phrase(299), "");
}

#[test]
fn response_status_line_variants() {
    match parse_datagram(b"SIP/2.0 200\r\nCall-ID: x\r\n\r\n").unwrap() {
        Message::Response(r) => {
            assert_eq!(r.status, 200);
            assert_eq!(r.reason, "");
        }
        Message::Request(_) => panic!(),
    }
    match parse_datagram(b"SIP/2.0 183 Session  Progress here\r\n\r\n").unwrap() {
        Message::Response(r) => assert_eq!(r.reason, "Session  Progress here"),
        Message::Request(_) => panic!(),
    }
}

#[test]
fn stream_framing_keepalives_and_partial_input() {
    let mut lines = invite_lines();
    lines.push("Content-Length: 4");
    let one = msg(&lines, "body");
    let mut buf = b"\r\n\r\n".to_vec();
    buf.extend_from_slice(&one);
    buf.extend_from_slice(&one);

    let (item, used) = parse_stream(&buf).unwrap().unwrap();
    assert_eq!(item, StreamItem::KeepAlive);
    assert_eq!(used, 4);
    let rest = &buf[used..];

    // Every strict prefix of a message needs more bytes.
    for cut in 0..one.len() {
        assert_eq!(parse_stream(&rest[..cut]).unwrap(), None, "cut {cut}");
    }
    let (item, used) = parse_stream(rest).unwrap().unwrap();
    assert_eq!(used, one.len());
    match item {
        StreamItem::Message(Message::Request(r)) => assert_eq!(r.body, b"body"),
        other => panic!("unexpected {other:?}"),
    }
    let (item, used2) = parse_stream(&rest[used..]).unwrap().unwrap();
    assert!(matches!(item, StreamItem::Message(_)));
    assert_eq!(used + used2, rest.len());

    // Content-Length is mandatory on streams.
    assert_eq!(
        parse_stream(&msg(&invite_lines(), "")).unwrap_err(),
        ParseError::MissingContentLength
    );
    // A header section that never ends is cut off at the size limit.
    let mut endless = b"OPTIONS sip:a@h SIP/2.0\r\n".to_vec();
    endless.extend(std::iter::repeat_n(b'a', MAX_MESSAGE_SIZE));
    assert!(matches!(
        parse_stream(&endless),
        Err(ParseError::TooLarge { .. })
    ));
    // So is a declared body that would exceed it.
    let mut lines = invite_lines();
    lines.push("Content-Length: 70000");
    assert!(matches!(
        parse_stream(&msg(&lines, "")),
        Err(ParseError::TooLarge { .. })
    ));
}

#[test]
fn latin1_display_name_does_not_reject_message() {
    let mut bytes = b"OPTIONS sip:a@h SIP/2.0\r\nFrom: \"Jos\xe9\" <sip:j@h>;tag=1\r\n".to_vec();
    bytes.extend_from_slice(
        b"To: <sip:a@h>\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK9\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
    );
    let r = request(&bytes);
    assert!(r.from().unwrap().display.unwrap().starts_with("Jos"));
    r.validate().unwrap();
}

/// Deterministic xorshift so the mutation test needs no extra crates and is repeatable.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_and_truncated_input_never_panics() {
    let mut lines = invite_lines();
    lines.insert(1, "Via: SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKé");
    lines.push("Content-Length: 4");
    let valid = msg(&lines, "body");
    // Every truncation.
    for cut in 0..valid.len() {
        let _ = parse_datagram(&valid[..cut]);
        let _ = parse_stream(&valid[..cut]);
    }
    // Random byte substitutions, biased towards SIP punctuation and multi-byte UTF-8.
    let alphabet = b":;<>\"@[]%,=/ \t\r\n\xc3\xa9\xff0";
    let mut rng = XorShift(0x5eed_1234_abcd_ef01);
    for _ in 0..20_000 {
        let mut m = valid.clone();
        for _ in 0..(rng.next() % 4 + 1) {
            let pos = (rng.next() as usize) % m.len();
            m[pos] = alphabet[(rng.next() as usize) % alphabet.len()];
        }
        if let Ok(Message::Request(r)) = parse_datagram(&m) {
            let _ = r.validate();
            let _ = r.contacts();
            let _ = parse_datagram(&r.to_bytes());
        }
        let _ = parse_stream(&m);
    }
}

#[test]
fn non_ascii_start_line_is_an_error_not_a_panic() {
    assert!(parse_datagram("SIé/2.0 200 OK\r\n\r\n".as_bytes()).is_err());
    assert!(parse_datagram("ÉÉ sip:a@h SIP/2.0\r\n\r\n".as_bytes()).is_err());
}

/// Found by the `sip_message` fuzz target: a bare addr-spec ending in `>` was
/// accepted as an opaque URI, and writing it back as `<p:>>` produced a header
/// that no longer parsed. `<` and `>` are not URI characters (RFC 3986).
#[test]
fn angle_bracket_inside_uri_is_rejected() {
    let msg = parse_datagram(b"E p:p SIP/2.0\nf:p:>\n\n").unwrap();
    let Message::Request(r) = msg else {
        panic!("not a request")
    };
    let err = r.from().unwrap_err();
    assert!(err.to_string().contains("'<' or '>'"), "{err}");
    for uri in [
        "p:>",
        "sip:a@h;x=a>b",
        "sip:a@h?x=>",
        "tel:<1>",
        "sip:a<b@h",
    ] {
        assert!(uri.parse::<Uri>().is_err(), "{uri} parsed");
    }
    assert!("<sip:a@h>>".parse::<NameAddr>().is_err());
}
