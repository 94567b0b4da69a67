//! The caller gives up: CANCEL before and after the callee's provisional response
//! (RFC 3261 9.1: a CANCEL may only follow a provisional), and the 487.

use sip::Method;

use super::harness::*;
use crate::chan::{ChanEvent, DialOutcome, DialStatus};

#[test]
fn cancel_after_ringing_is_passed_on_at_once() {
    let mut net = Net::new();
    let Ringing {
        call,
        carrier,
        invite,
        bob,
        to_bob,
    } = ringing_call(&mut net, "102");
    net.deliver(&bob, bob.answer(&to_bob, 180, "b1", None));
    net.statuses_to(&carrier);

    net.deliver(&carrier, carrier.cancel(&invite));
    let statuses = net.statuses_to(&carrier);
    assert!(statuses.contains(&200), "200 for the CANCEL: {statuses:?}");
    assert!(statuses.contains(&487), "487 for the INVITE: {statuses:?}");
    let to_bob = net.requests_to(&bob);
    assert_eq!(to_bob.len(), 1);
    assert_eq!(to_bob[0].method, Method::Cancel);
    assert_eq!(
        net.chan_events(call),
        [
            ChanEvent::Hangup,
            ChanEvent::DialDone(DialOutcome {
                status: DialStatus::Cancel
            })
        ]
    );
    let cdr = net.writes().into_iter().find_map(|w| match w {
        store::Write::Cdr(r) => Some(r),
        _ => None,
    });
    let cdr = cdr.expect("a call record");
    assert_eq!(cdr.disposition, store::Disposition::Cancelled);
    assert_eq!(cdr.hangup_by, "caller");
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut net = Net::new();
    let Ringing {
        call: _,
        carrier,
        invite,
        bob,
        to_bob,
    } = ringing_call(&mut net, "102");

    net.deliver(&carrier, carrier.cancel(&invite));
    assert!(net.statuses_to(&carrier).contains(&487));
    assert!(
        net.requests_to(&bob).is_empty(),
        "no CANCEL before a provisional response"
    );
    // Bob's 100 is not enough (it is hop by hop); his 180 is.
    net.deliver(&bob, bob.answer(&to_bob, 100, "b1", None));
    assert!(net.requests_to(&bob).is_empty());
    net.deliver(&bob, bob.answer(&to_bob, 180, "b1", None));
    let to_bob_now = net.requests_to(&bob);
    assert_eq!(to_bob_now.len(), 1);
    assert_eq!(to_bob_now[0].method, Method::Cancel);
    assert!(
        net.statuses_to(&carrier).is_empty(),
        "the caller is already done: no 180 after its 487"
    );
    // Bob's 487 settles the branch; the call is forgotten.
    net.deliver(&bob, bob.answer(&to_bob_now[0], 200, "b1", None));
    net.deliver(&bob, bob.answer(&to_bob, 487, "b1", None));
    assert_eq!(net.sw.counts().1, 0, "no call left");
}

#[test]
fn a_cancel_for_an_answered_call_changes_nothing() {
    let mut net = Net::new();
    let Ringing {
        call,
        carrier,
        invite,
        bob,
        to_bob,
    } = ringing_call(&mut net, "102");
    net.deliver(
        &bob,
        bob.answer(&to_bob, 200, "b1", Some(&sdp_offer(bob.rtp))),
    );
    net.requests_to(&bob);
    net.statuses_to(&carrier);
    net.deliver(&carrier, carrier.cancel(&invite));
    let statuses = net.statuses_to(&carrier);
    assert!(!statuses.contains(&487), "{statuses:?}");
    assert!(net.requests_to(&bob).is_empty());
    assert!(net.chan_events(call).is_empty());
    assert_eq!(net.sw.counts().1, 1);
}

#[test]
fn an_unknown_cancel_gets_481() {
    let mut net = Net::new();
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let invite = carrier.invite("102", Some(&sdp_offer(carrier.rtp)));
    net.deliver(&carrier, carrier.cancel(&invite));
    assert_eq!(net.statuses_to(&carrier), [481]);
}
