//! RFC 4028 session timers in virtual time: a caller that asks for one must
//! refresh or its call is ended; a callee that makes us the refresher gets an
//! UPDATE at half the interval, and a refresh answered 481 ends the call.

use std::time::Duration;

use sip::{Method, Request};

use super::harness::*;

/// The carrier calls 102 asking for a 90 s session timer that it refreshes.
fn timed_call(net: &mut Net, se: &str) -> (Phone, Request, Phone, Request) {
    let bob = Phone::new("102", "127.0.0.2:5062");
    net.register(&bob);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let mut invite = carrier.invite("102", Some(&sdp_offer(carrier.rtp)));
    invite.headers.push("Supported", "timer");
    invite.headers.push("Session-Expires", se);
    net.deliver(&carrier, invite.clone());
    if let Some(spawn) = net.spawned().pop() {
        net.dial(spawn.call, "102");
    }
    let to_bob = net
        .requests_to(&bob)
        .into_iter()
        .next()
        .unwrap_or(invite.clone());
    (carrier, invite, bob, to_bob)
}

/// Requests of `method` sent to `phone`, once each (UDP retransmissions of the
/// same transaction counted once).
fn distinct(net: &mut Net, phone: &Phone, method: Method) -> Vec<Request> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for r in net.requests_to(phone) {
        let branch = r.top_via().unwrap().branch().unwrap().to_string();
        if r.method == method && !seen.contains(&branch) {
            seen.push(branch);
            out.push(r);
        }
    }
    out
}

fn byes_to(net: &mut Net, phone: &Phone) -> usize {
    distinct(net, phone, Method::Bye).len()
}

#[test]
fn a_caller_below_min_se_gets_422() {
    let mut net = Net::new();
    let (carrier, ..) = timed_call(&mut net, "30");
    let resp = net.responses_to(&carrier);
    let r = resp.iter().find(|r| r.status == 422).expect("422");
    assert_eq!(r.headers.get("Min-SE"), Some("90"));
}

#[test]
fn a_caller_that_stops_refreshing_is_hung_up_and_one_that_refreshes_is_not() {
    let mut net = Net::new();
    let (mut carrier, invite, bob, to_bob) = timed_call(&mut net, "90");
    // Our INVITE to the callee offers a timer of its own.
    assert_eq!(to_bob.headers.get("Session-Expires"), Some("1800"));
    assert!(to_bob.headers.get("Supported").unwrap().contains("timer"));
    net.deliver(
        &bob,
        bob.answer(&to_bob, 200, "bobtag", Some(&sdp_offer(bob.rtp))),
    );
    let ok = net.ok_to(&carrier);
    assert_eq!(ok.headers.get("Session-Expires"), Some("90;refresher=uac"));
    assert_eq!(ok.headers.get("Require"), Some("timer"));
    let ack = carrier.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&carrier, ack);
    net.out.clear();

    // The caller refreshes at 40 s (UPDATE, no body): the answer repeats the timer.
    net.advance(Duration::from_secs(40));
    let update = carrier.in_dialog(Method::Update, &invite, &ok);
    net.deliver(&carrier, update);
    let answers = net.responses_to(&carrier);
    let r = answers
        .iter()
        .find(|r| r.status == 200)
        .expect("refresh answered");
    assert_eq!(r.headers.get("Session-Expires"), Some("90;refresher=uac"));
    // 65 s after the start (25 s after the refresh): still up.
    net.advance(Duration::from_secs(25));
    assert_eq!(byes_to(&mut net, &carrier), 0, "refreshed: the call stays");
    // No further refresh: 60 s after the last one (90 - min(32, 30)) it ends.
    net.advance(Duration::from_secs(40));
    assert_eq!(byes_to(&mut net, &carrier), 1, "the caller's leg is ended");
    assert_eq!(byes_to(&mut net, &bob), 1, "and the callee's");
}

#[test]
fn we_refresh_a_callee_that_asks_us_to_and_a_481_ends_the_call() {
    let mut net = Net::new();
    let Ringing {
        mut carrier,
        invite,
        bob,
        to_bob,
        ..
    } = ringing_call(&mut net, "102");
    let mut ok_b = bob.answer(&to_bob, 200, "bobtag", Some(&sdp_offer(bob.rtp)));
    ok_b.headers.push("Session-Expires", "90;refresher=uac");
    ok_b.headers.push("Require", "timer");
    net.deliver(&bob, ok_b);
    let ok = net.ok_to(&carrier);
    assert!(
        ok.headers.get("Session-Expires").is_none(),
        "the carrier asked for none"
    );
    let ack = carrier.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&carrier, ack);
    net.out.clear();

    net.advance(Duration::from_secs(50));
    let updates = distinct(&mut net, &bob, Method::Update);
    assert_eq!(updates.len(), 1, "one refresh by 45-50 s");
    assert!(updates[0].body.is_empty(), "no SDP: nothing renegotiated");
    assert_eq!(
        updates[0].headers.get("Session-Expires"),
        Some("90;refresher=uac")
    );
    net.deliver(&bob, bob.answer(&updates[0], 200, "bobtag", None));
    // The next one 45 s after that answer; answered 481: the call ends.
    net.advance(Duration::from_secs(50));
    let second = distinct(&mut net, &bob, Method::Update);
    assert_eq!(second.len(), 1);
    net.deliver(&bob, bob.answer(&second[0], 481, "bobtag", None));
    assert_eq!(
        byes_to(&mut net, &carrier),
        1,
        "the caller is told the call ended"
    );
}
