//! Dial: forking, first 2xx wins, early media, the no-answer timeout, numbers that
//! are nobody's and callees that are not registered.

use std::time::Duration;

use media::Side;
use sip::{Message, Method};

use super::harness::*;
use crate::chan::{ChanEvent, ChanOp, DialOutcome, DialStatus};
use crate::events::Event;
use crate::switch::{BridgeId, MediaOp, Output};
use media::rtp::PayloadTypes;

/// Extension 102 registered from two phones (a desk phone and a softphone).
fn two_phones(net: &mut Net) -> (Phone, Phone) {
    let desk = Phone::new("102", "127.0.0.2:5062");
    let soft = Phone::new("102", "127.0.0.3:5062");
    net.register(&desk);
    net.register(&soft);
    (desk, soft)
}

#[test]
fn forked_call_first_answer_wins_and_the_other_branch_is_cancelled() {
    let mut net = Net::new();
    let (desk, soft) = two_phones(&mut net);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let (call, _) = net.trunk_call(&mut carrier, "102");
    assert_eq!(net.statuses_to(&carrier), [100]);
    let to_desk = net.requests_to(&desk);
    let to_soft = net.requests_to(&soft);
    assert_eq!(to_desk.len(), 1, "one INVITE per contact");
    assert_eq!(to_soft.len(), 1);
    assert_eq!(to_desk[0].method, Method::Invite);
    assert!(!to_desk[0].body.is_empty(), "the PBX offers its own media");

    net.deliver(&desk, desk.answer(&to_desk[0], 180, "d1", None));
    net.deliver(&soft, soft.answer(&to_soft[0], 180, "s1", None));
    assert_eq!(net.statuses_to(&carrier), [180, 180]);

    net.deliver(
        &soft,
        soft.answer(&to_soft[0], 200, "s1", Some(&sdp_offer(soft.rtp))),
    );
    let acks = net.requests_to(&soft);
    assert_eq!(
        acks.iter().map(|r| r.method.clone()).collect::<Vec<_>>(),
        [Method::Ack]
    );
    let cancels = net.requests_to(&desk);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].method, Method::Cancel);
    assert_eq!(
        cancels[0].top_via().unwrap().branch(),
        to_desk[0].top_via().unwrap().branch(),
        "a CANCEL matches its INVITE's branch"
    );
    let answers = net.responses_to(&carrier);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].status, 200);
    assert!(String::from_utf8_lossy(&answers[0].body).contains("m=audio"));
    assert_eq!(remote_set(&net.media_ops(), Side::B), Some(soft.rtp));

    // The loser answers the CANCEL and its INVITE; the transaction layer ACKs 487.
    net.deliver(&desk, desk.answer(&cancels[0], 200, "d1", None));
    net.deliver(&desk, desk.answer(&to_desk[0], 487, "d1", None));
    let ack = net.requests_to(&desk);
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].method, Method::Ack);

    let names: Vec<String> = net.sw.channels().map(|c| c.name.clone()).collect();
    assert_eq!(names.len(), 2, "caller and the answering callee: {names:?}");
    let callee = net.sw.channels().find(|c| c.endpoint == "102").unwrap();
    assert!(callee.bridged_to.is_some());
    assert!(net
        .events()
        .iter()
        .any(|e| matches!(e, Event::CallAnswer { .. })));
    assert!(net.chan_events(call).is_empty(), "the Dial still runs");
}

#[test]
fn a_second_answer_is_acked_and_hung_up() {
    let mut net = Net::new();
    let (desk, soft) = two_phones(&mut net);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    net.trunk_call(&mut carrier, "102");
    let to_desk = net.requests_to(&desk).remove(0);
    let to_soft = net.requests_to(&soft).remove(0);
    net.deliver(&desk, desk.answer(&to_desk, 180, "d1", None));
    net.deliver(
        &soft,
        soft.answer(&to_soft, 200, "s1", Some(&sdp_offer(soft.rtp))),
    );
    net.requests_to(&desk); // the CANCEL
                            // The desk phone's 200 crossed the CANCEL.
    net.deliver(
        &desk,
        desk.answer(&to_desk, 200, "d1", Some(&sdp_offer(desk.rtp))),
    );
    let methods: Vec<Method> = net
        .requests_to(&desk)
        .into_iter()
        .map(|r| r.method)
        .collect();
    assert_eq!(methods, [Method::Ack, Method::Bye]);
    assert_eq!(
        net.statuses_to(&carrier)
            .iter()
            .filter(|s| **s == 200)
            .count(),
        1
    );
}

#[test]
fn early_media_reaches_the_caller_in_a_183_with_our_sdp() {
    let mut net = Net::new();
    let bob = Phone::new("102", "127.0.0.2:5062");
    net.register(&bob);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    net.trunk_call(&mut carrier, "102");
    let invite = net.requests_to(&bob).remove(0);
    net.media_ops();
    net.deliver(
        &bob,
        bob.answer(&invite, 183, "b1", Some(&sdp_offer(bob.rtp))),
    );
    let r = net.responses_to(&carrier);
    let progress = r
        .iter()
        .find(|r| r.status == 183)
        .expect("a 183 to the caller");
    let body = String::from_utf8_lossy(&progress.body);
    assert!(
        body.contains("m=audio 10004 "),
        "our A port, not the callee's: {body}"
    );
    let ops = net.media_ops();
    assert_eq!(remote_set(&ops, Side::B), Some(bob.rtp));
    assert_eq!(
        remote_set(&ops, Side::A),
        Some(carrier.rtp),
        "our SDP went to the caller: its leg may latch now"
    );
    net.deliver(
        &bob,
        bob.answer(&invite, 200, "b1", Some(&sdp_offer(bob.rtp))),
    );
    assert_eq!(
        remote_set(&net.media_ops(), Side::A),
        None,
        "the 200 after the 183 does not re-arm the caller's leg"
    );
}

/// The payload types a media op gave `side`'s phone.
fn payload_types(ops: &[(BridgeId, MediaOp)], side: Side) -> Option<PayloadTypes> {
    ops.iter().rev().find_map(|(_, op)| match op {
        MediaOp::SetRemote {
            side: s,
            payload_types,
            ..
        } if *s == side => Some(*payload_types),
        _ => None,
    })
}

#[test]
fn the_callers_sdp_reaches_the_bridge_with_our_answer_not_while_it_rings() {
    // The bridge latches nothing on a leg before its SDP: told while the call
    // rings, it would take a stranger spraying our ports for a caller behind NAT.
    let mut net = Net::new();
    let bob = Phone::new("102", "127.0.0.2:5062");
    net.register(&bob);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    net.trunk_call(&mut carrier, "102");
    let invite = net.requests_to(&bob).remove(0);
    net.deliver(&bob, bob.answer(&invite, 180, "b1", None));
    assert_eq!(net.statuses_to(&carrier), [100, 180]);
    let ops = net.media_ops();
    assert_eq!(remote_set(&ops, Side::A), None, "ringing: {ops:?}");
    assert_eq!(remote_set(&ops, Side::B), None, "ringing: {ops:?}");

    net.deliver(
        &bob,
        bob.answer(&invite, 200, "b1", Some(&sdp_offer(bob.rtp))),
    );
    let ops = net.media_ops();
    assert_eq!(remote_set(&ops, Side::B), Some(bob.rtp));
    assert_eq!(remote_set(&ops, Side::A), Some(carrier.rtp));
    // What each SDP lists (PCMU, PCMA, telephone-event): what a NAT guess needs.
    for side in [Side::A, Side::B] {
        let pts = payload_types(&ops, side).unwrap();
        assert!([0, 8, 101].iter().all(|&pt| pts.contains(pt)), "{pts:?}");
        assert!(!pts.contains(9) && !pts.contains(96), "{pts:?}");
    }
}

#[test]
fn no_answer_cancels_the_branches_and_the_caller_gets_408() {
    let mut net = Net::new();
    let bob = Phone::new("102", "127.0.0.2:5062");
    net.register(&bob);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let invite = carrier.invite("102", Some(&sdp_offer(carrier.rtp)));
    net.deliver(&carrier, invite);
    let call = net.spawned()[0].call;
    net.chan(
        call,
        ChanOp::Dial {
            endpoints: vec!["102".into()],
            timeout: Some(Duration::from_secs(30)),
            vars: Vec::new(),
        },
    );
    let to_bob = net.requests_to(&bob).remove(0);
    net.deliver(&bob, bob.answer(&to_bob, 180, "b1", None));
    net.advance(Duration::from_secs(29));
    assert!(net.chan_events(call).is_empty(), "still ringing at 29 s");
    assert!(
        net.requests_to(&bob)
            .iter()
            .all(|r| r.method == Method::Invite),
        "only INVITE retransmissions so far"
    );
    net.advance(Duration::from_secs(2));
    assert_eq!(
        net.chan_events(call),
        [ChanEvent::DialDone(DialOutcome {
            status: DialStatus::NoAnswer
        })]
    );
    assert!(net
        .requests_to(&bob)
        .iter()
        .any(|r| r.method == Method::Cancel));
    // The dialplan ends: the caller hears why.
    net.chan(call, ChanOp::Hangup { status: None });
    assert!(net.statuses_to(&carrier).contains(&408));
}

#[test]
fn dialling_a_number_that_is_nobodys_is_404_and_an_unregistered_one_480() {
    for (number, status) in [("555", 404), ("103", 480)] {
        let mut net = Net::new();
        let mut carrier = Phone::new("0123", "127.0.0.9:5060");
        let (call, _) = net.trunk_call(&mut carrier, number);
        assert_eq!(
            net.chan_events(call),
            [ChanEvent::DialDone(DialOutcome {
                status: DialStatus::ChanUnavail
            })],
            "DIALSTATUS is CHANUNAVAIL for {number}, as in Asterisk"
        );
        net.chan(call, ChanOp::Hangup { status: None });
        let statuses = net.statuses_to(&carrier);
        assert_eq!(
            statuses.last(),
            Some(&status),
            "dialling {number}: {statuses:?}"
        );
        // The call is over: a record, its media released.
        let writes = net.writes();
        assert!(writes
            .iter()
            .any(|w| matches!(w, store::Write::Cdr(r) if r.callee == number)));
        assert!(net.media_ops().iter().any(|(_, op)| *op == MediaOp::Close));
    }
}

#[test]
fn a_busy_callee_leaves_486_for_the_caller() {
    let mut net = Net::new();
    let Ringing {
        call,
        carrier,
        invite: _,
        bob,
        to_bob,
    } = ringing_call(&mut net, "102");
    net.deliver(&bob, bob.answer(&to_bob, 486, "b1", None));
    assert_eq!(
        net.chan_events(call),
        [ChanEvent::DialDone(DialOutcome {
            status: DialStatus::Busy
        })]
    );
    net.chan(call, ChanOp::Hangup { status: None });
    assert_eq!(net.statuses_to(&carrier).last(), Some(&486));
    let cdr = net.writes().into_iter().find_map(|w| match w {
        store::Write::Cdr(r) => Some(r),
        _ => None,
    });
    assert_eq!(cdr.unwrap().disposition, store::Disposition::Busy);
}

#[test]
fn a_retransmitted_200_is_acked_again() {
    let mut net = Net::new();
    let Ringing {
        carrier,
        bob,
        to_bob,
        ..
    } = ringing_call(&mut net, "102");
    let ok = bob.answer(&to_bob, 200, "b1", Some(&sdp_offer(bob.rtp)));
    net.deliver(&bob, ok.clone());
    assert_eq!(net.requests_to(&bob).len(), 1);
    net.deliver(&bob, ok);
    let again = net.sent_to(&bob);
    assert!(
        matches!(&again[..], [Message::Request(r)] if r.method == Method::Ack),
        "{again:?}"
    );
    assert_eq!(
        net.statuses_to(&carrier)
            .iter()
            .filter(|s| **s == 200)
            .count(),
        1
    );
    let _ = net.take(|o| matches!(o, Output::Channel(_)).then_some(()));
}
