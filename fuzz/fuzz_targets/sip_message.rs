//! SIP messages from the wire: `sip::parse_datagram` (UDP) and `sip::parse_stream`
//! (TCP framing), every typed accessor the PBX calls on a parsed message, and a
//! round trip: what we serialise must parse again and serialise to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip::message::{ContactValue, NameAddr, Uri, Via};
use sip::{parse_datagram, parse_stream, Message, ParseError, Response, StreamItem};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = parse_datagram(data) {
        exercise(&msg);
        round_trip(&msg);
    }

    // A TCP stream: carve items off the front until the parser wants more bytes
    // or gives up. Every item must consume at least one byte and no more than
    // there is.
    let mut rest = data;
    while !rest.is_empty() {
        match parse_stream(rest) {
            Ok(Some((item, used))) => {
                assert!(
                    used > 0 && used <= rest.len(),
                    "used {used} of {}",
                    rest.len()
                );
                if let StreamItem::Message(msg) = item {
                    exercise(&msg);
                }
                rest = &rest[used..];
            }
            Ok(None) | Err(_) => break,
        }
    }
});

/// Everything the switch reads from a message it accepted; none of it may panic.
fn exercise(msg: &Message) {
    match msg {
        Message::Request(req) => {
            let _ = req.validate();
            let _ = req.max_forwards();
            let _ = req.call_id();
            let _ = req.expires();
            let _ = req.content_type();
            if let Ok(from) = req.from() {
                let _ = from.tag();
                let _ = from.expires();
                reparse_display::<NameAddr>(&from);
            }
            if let Ok(to) = req.to() {
                reparse_display::<NameAddr>(&to);
            }
            if let Ok(cseq) = req.cseq() {
                let _ = cseq.to_string();
            }
            if let Ok(vias) = req.vias() {
                for via in &vias {
                    let _ = via.branch();
                    let _ = via.received();
                    let _ = via.rport();
                    let _ = via.sent_by();
                    reparse_display::<Via>(via);
                }
            }
            if let Ok(contacts) = req.contacts() {
                for c in &contacts {
                    reparse_display::<ContactValue>(c);
                }
            }
            let _ = req.uri.host_port();
            let _ = req.uri.param("transport");
            reparse_display::<Uri>(&req.uri);
            // What the UAS answers with.
            let resp = Response::for_request(req, 400, "");
            let bytes = resp.to_bytes();
            match parse_datagram(&bytes) {
                Ok(_) | Err(ParseError::TooLarge { .. } | ParseError::TooManyHeaders { .. }) => {}
                Err(e) => panic!(
                    "the 400 for a parsed request does not parse ({e}):\n{:?}",
                    String::from_utf8_lossy(&bytes)
                ),
            }
        }
        Message::Response(resp) => {
            let _ = resp.is_provisional();
            let _ = resp.is_success();
            let _ = resp.call_id();
            let _ = resp.cseq();
            let _ = resp.from();
            let _ = resp.to();
            let _ = resp.top_via();
            let _ = resp.contacts();
            let _ = resp.expires();
        }
    }
}

/// A typed header value written back out must read back as the same value.
fn reparse_display<T>(value: &T)
where
    T: std::fmt::Display + std::str::FromStr + PartialEq + std::fmt::Debug,
    T::Err: std::fmt::Debug,
{
    let text = value.to_string();
    match text.parse::<T>() {
        Ok(again) => assert_eq!(&again, value, "{text:?} reads back differently"),
        Err(e) => panic!("{value:?} written as {text:?} does not parse: {e:?}"),
    }
}

/// Serialise, parse again, serialise again: the bytes must be the same. The
/// re-parse may only fail for a size limit that the rewritten Content-Length
/// (or the split of multi-value headers into lines) pushed the message over.
fn round_trip(msg: &Message) {
    let bytes = msg.to_bytes();
    match parse_datagram(&bytes) {
        Ok(again) => {
            let bytes2 = again.to_bytes();
            assert!(
                bytes == bytes2,
                "not stable:\n{:?}\n{:?}",
                String::from_utf8_lossy(&bytes),
                String::from_utf8_lossy(&bytes2)
            );
        }
        Err(ParseError::TooLarge { .. } | ParseError::TooManyHeaders { .. }) => {}
        Err(e) => panic!(
            "serialised message does not parse again ({e}):\n{:?}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}
