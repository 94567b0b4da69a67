//! Inside an answered call: hold and resume from either side (the PBX answers each
//! leg itself and the other phone sees nothing), BYE from either side, crossing
//! BYEs, INFO digits.

use media::Side;
use sip::Method;

use super::harness::*;
use crate::chan::{ChanEvent, ChanOp, DialOutcome, DialStatus};
use crate::events::Event;
use crate::switch::{MediaOp, Output};

fn direction(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    ["sendrecv", "sendonly", "recvonly", "inactive"]
        .into_iter()
        .find(|d| text.contains(&format!("a={d}")))
        .unwrap_or("sendrecv")
        .to_string()
}

#[test]
fn hold_and_resume_from_the_caller_stay_on_the_callers_leg() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let mut hold = c.carrier.in_dialog(Method::Invite, &c.invite, &c.ok);
    hold.headers.push("Content-Type", "application/sdp");
    hold.body = sdp_with(c.carrier.rtp, "sendonly").into_bytes();
    net.deliver(&c.carrier, hold.clone());
    let r = net.responses_to(&c.carrier);
    let ok = r.iter().find(|r| r.status == 200).expect("200 to the hold");
    assert_eq!(direction(&ok.body), "recvonly");
    assert!(net.sent_to(&c.bob).is_empty(), "Bob is not disturbed");
    assert_eq!(remote_set(&net.media_ops(), Side::A), Some(c.carrier.rtp));

    let mut resume = c.carrier.in_dialog(Method::Invite, &c.invite, &c.ok);
    resume.headers.push("Content-Type", "application/sdp");
    resume.body = sdp_offer(c.carrier.rtp).into_bytes();
    net.deliver(&c.carrier, resume);
    let r = net.responses_to(&c.carrier);
    let ok2 = r.iter().find(|r| r.status == 200).unwrap();
    assert_eq!(direction(&ok2.body), "sendrecv");
    let version = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .find(|l| l.starts_with("o="))
            .unwrap()
            .to_string()
    };
    assert_ne!(
        version(&ok.body),
        version(&ok2.body),
        "each answer a new SDP version"
    );
    assert!(net.sent_to(&c.bob).is_empty());
}

#[test]
fn hold_from_the_callee_stays_on_the_callees_leg() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let mut hold = c
        .bob
        .in_callee_dialog(Method::Invite, &c.to_bob, &c.bob_tag);
    hold.headers.push("Content-Type", "application/sdp");
    hold.body = sdp_with(c.bob.rtp, "sendonly").into_bytes();
    net.deliver(&c.bob, hold);
    let r = net.responses_to(&c.bob);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].status, 200);
    assert_eq!(direction(&r[0].body), "recvonly");
    assert!(
        net.sent_to(&c.carrier).is_empty(),
        "the caller is not disturbed"
    );
    assert_eq!(remote_set(&net.media_ops(), Side::B), Some(c.bob.rtp));
}

#[test]
fn bye_from_the_caller_ends_both_legs_and_records_the_call() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let bye = c.carrier.in_dialog(Method::Bye, &c.invite, &c.ok);
    net.deliver(&c.carrier, bye);
    assert_eq!(net.statuses_to(&c.carrier), [200]);
    let to_bob = net.requests_to(&c.bob);
    assert_eq!(to_bob.len(), 1);
    assert_eq!(to_bob[0].method, Method::Bye);
    assert_eq!(
        net.chan_events(c.call),
        [
            ChanEvent::Hangup,
            ChanEvent::DialDone(DialOutcome {
                status: DialStatus::Cancel
            })
        ]
    );
    let cdr = net
        .writes()
        .into_iter()
        .find_map(|w| match w {
            store::Write::Cdr(r) => Some(r),
            _ => None,
        })
        .expect("a call record");
    assert_eq!(cdr.disposition, store::Disposition::Answered);
    assert_eq!(cdr.hangup_by, "caller");
    assert!(cdr.callee_channel.is_some());
    assert!(net.media_ops().iter().any(|(_, op)| *op == MediaOp::Close));
    assert!(net
        .events()
        .iter()
        .any(|e| matches!(e, Event::CallEnd { .. })));
    assert_eq!(
        net.take(|o| matches!(o, Output::ChannelGone(_)).then_some(()))
            .len(),
        2
    );
    assert_eq!(net.sw.channels().count(), 0);
    // Bob answers our BYE: nothing is left waiting.
    net.deliver(&c.bob, c.bob.answer(&to_bob[0], 200, &c.bob_tag, None));
    assert!(net.sw.is_settled());
}

#[test]
fn bye_from_the_callee_returns_the_dial_and_the_dialplan_goes_on() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let bye = c.bob.in_callee_dialog(Method::Bye, &c.to_bob, &c.bob_tag);
    net.deliver(&c.bob, bye);
    assert_eq!(net.statuses_to(&c.bob), [200]);
    assert!(
        net.sent_to(&c.carrier).is_empty(),
        "the caller stays until its dialplan ends"
    );
    assert_eq!(
        net.chan_events(c.call),
        [ChanEvent::DialDone(DialOutcome {
            status: DialStatus::Answer
        })]
    );
    assert_eq!(
        net.sw.channels().count(),
        1,
        "only the caller's channel is left"
    );
    // The dialplan ends: BYE to the caller.
    net.chan(c.call, ChanOp::Hangup { status: None });
    let to_carrier = net.requests_to(&c.carrier);
    assert_eq!(to_carrier.len(), 1);
    assert_eq!(to_carrier[0].method, Method::Bye);
    let cdr = net.writes().into_iter().find_map(|w| match w {
        store::Write::Cdr(r) => Some(r),
        _ => None,
    });
    assert_eq!(cdr.unwrap().hangup_by, "pbx");
}

#[test]
fn crossing_byes_are_both_answered_and_nothing_more_is_sent() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let caller_bye = c.carrier.in_dialog(Method::Bye, &c.invite, &c.ok);
    let bob_bye = c.bob.in_callee_dialog(Method::Bye, &c.to_bob, &c.bob_tag);
    net.deliver(&c.carrier, caller_bye);
    let our_bye = net.requests_to(&c.bob).remove(0);
    // Bob hung up at the same moment: his BYE crosses ours.
    net.deliver(&c.bob, bob_bye);
    assert_eq!(net.statuses_to(&c.bob), [200]);
    net.deliver(&c.bob, c.bob.answer(&our_bye, 481, &c.bob_tag, None));
    assert!(net
        .sent_to(&c.carrier)
        .iter()
        .all(|m| matches!(m, sip::Message::Response(_))));
    assert!(net.sw.is_settled());
    assert_eq!(net.sw.counts().1, 0);
    let cdrs = net
        .writes()
        .into_iter()
        .filter(|w| matches!(w, store::Write::Cdr(_)))
        .count();
    assert_eq!(cdrs, 1, "one record per call");
}

#[test]
fn info_digits_go_to_the_channel_task() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let mut info = c.carrier.in_dialog(Method::Info, &c.invite, &c.ok);
    info.headers.push("Content-Type", "application/dtmf-relay");
    info.body = b"Signal=5\r\nDuration=160\r\n".to_vec();
    net.deliver(&c.carrier, info);
    assert_eq!(net.statuses_to(&c.carrier), [200]);
    assert_eq!(net.chan_events(c.call), [ChanEvent::Dtmf('5')]);
}

#[test]
fn an_unknown_dialog_gets_481() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let mut bye = c.carrier.in_dialog(Method::Bye, &c.invite, &c.ok);
    bye.headers.set("Call-ID", "nobody@nowhere");
    net.deliver(&c.carrier, bye);
    assert_eq!(net.statuses_to(&c.carrier), [481]);
}
