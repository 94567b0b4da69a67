//! An INVITE without SDP (late offer, RFC 3261 13.2.1; some PBXes and phones send
//! it): the PBX offers in its 200 OK and takes the phone's answer from the ACK.

use media::codec::AudioCodec;
use media::Side;
use sip::Method;

use super::harness::*;
use crate::chan::{ChanEvent, ChanOp};
use crate::switch::MediaOp;

fn sdp_answer_pcma(rtp: std::net::SocketAddr) -> String {
    format!(
        "v=0\r\no=- 2 2 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n",
        ip = rtp.ip(),
        port = rtp.port()
    )
}

#[test]
fn the_pbx_answers_a_late_offer_with_an_offer_and_takes_the_answer_from_the_ack() {
    let mut net = Net::new();
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let invite = carrier.invite("102", None);
    net.deliver(&carrier, invite.clone());
    assert_eq!(net.statuses_to(&carrier), [100], "not 488");
    let call = net.spawned().pop().expect("the dialplan runs").call;
    net.chan(call, ChanOp::Answer);
    assert_eq!(net.chan_events(call), [ChanEvent::AnswerDone(true)]);
    let ok = net.responses_to(&carrier).pop().unwrap();
    assert_eq!(ok.status, 200);
    let offer = String::from_utf8_lossy(&ok.body).to_string();
    assert!(
        offer.contains("RTP/AVP 0 8 101"),
        "both laws offered: {offer}"
    );
    assert!(
        !net.media_ops()
            .iter()
            .any(|(_, op)| matches!(op, MediaOp::SetCodec { side: Side::A, .. })),
        "the caller's codec is known only from its answer"
    );
    let mut ack = carrier.in_dialog(Method::Ack, &invite, &ok);
    ack.headers.push("Content-Type", "application/sdp");
    ack.body = sdp_answer_pcma(carrier.rtp).into_bytes();
    net.deliver(&carrier, ack);
    let ops = net.media_ops();
    assert_eq!(remote_set(&ops, Side::A), Some(carrier.rtp));
    assert!(
        ops.iter().any(|(_, op)| matches!(
            op,
            MediaOp::SetCodec {
                side: Side::A,
                codec: AudioCodec::Pcma,
                dtmf_pt: None
            }
        )),
        "{ops:?}"
    );
    assert!(net.chan_events(call).is_empty(), "the call goes on");
}

#[test]
fn a_late_offer_caller_is_dialled_through_and_answers_in_the_ack() {
    let mut net = Net::new();
    let bob = Phone::new("102", "127.0.0.2:5062");
    net.register(&bob);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let invite = carrier.invite("102", None);
    net.deliver(&carrier, invite.clone());
    let call = net.spawned().pop().unwrap().call;
    net.chan(
        call,
        ChanOp::Dial {
            endpoints: vec!["102".into()],
            timeout: None,
            vars: vec![],
        },
    );
    let to_bob = net.requests_to(&bob).remove(0);
    assert!(String::from_utf8_lossy(&to_bob.body).contains("RTP/AVP 0 8 101"));
    // Ringing with early media: the late-offer caller gets a 183 without SDP.
    net.deliver(
        &bob,
        bob.answer(&to_bob, 183, "b1", Some(&sdp_offer(bob.rtp))),
    );
    let early = net.responses_to(&carrier);
    let p = early.iter().find(|r| r.status == 183).expect("a 183");
    assert!(p.body.is_empty(), "no offer in an unreliable provisional");
    net.deliver(
        &bob,
        bob.answer(&to_bob, 200, "b1", Some(&sdp_offer(bob.rtp))),
    );
    let ok = net
        .responses_to(&carrier)
        .into_iter()
        .find(|r| r.status == 200)
        .unwrap();
    assert!(String::from_utf8_lossy(&ok.body).contains("RTP/AVP 0 8 101"));
    net.media_ops();
    let mut ack = carrier.in_dialog(Method::Ack, &invite, &ok);
    ack.headers.push("Content-Type", "application/sdp");
    ack.body = sdp_answer_pcma(carrier.rtp).into_bytes();
    net.deliver(&carrier, ack);
    assert_eq!(remote_set(&net.media_ops(), Side::A), Some(carrier.rtp));
}

#[test]
fn an_ack_without_the_answer_ends_the_call() {
    let mut net = Net::new();
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let invite = carrier.invite("102", None);
    net.deliver(&carrier, invite.clone());
    let call = net.spawned().pop().unwrap().call;
    net.chan(call, ChanOp::Answer);
    let ok = net.responses_to(&carrier).pop().unwrap();
    let ack = carrier.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&carrier, ack);
    assert!(net
        .requests_to(&carrier)
        .iter()
        .any(|r| r.method == Method::Bye));
    assert!(net.chan_events(call).contains(&ChanEvent::Hangup));
}
