//! Click-to-spy origination: every refusal is decided before the supervisor's
//! phone rings, with a typed reason; an accepted request rings the supervisor with
//! what is being monitored as the caller.

use media::mix::SpyMode;
use sip::Method;

use super::harness::*;
use crate::chan::{ChanEvent, ChanOp};
use crate::events::Event;
use crate::monitor::MonitorError;
use crate::switch::SpawnKind;

/// An answered trunk call to agent 110 (in `sales`): its call id.
fn agents_call(net: &mut Net) -> String {
    let Ringing {
        bob: agent, to_bob, ..
    } = ringing_call(net, "110");
    let ok = agent.answer(&to_bob, 200, "a1", Some(&sdp_offer(agent.rtp)));
    net.deliver(&agent, ok);
    net.out.clear();
    net.sw.channels().next().unwrap().call_ref.clone()
}

/// The agent's call, and supervisor 201 registered.
fn floor(net: &mut Net) -> (String, Phone) {
    let sup = Phone::new("201", "127.0.0.5:5062");
    net.register(&sup);
    (agents_call(net), sup)
}

#[test]
fn a_granted_supervisor_is_rung_for_the_agent_of_the_call() {
    let mut net = Net::new();
    let (call_ref, sup) = floor(&mut net);
    assert!(
        !call_ref.contains('/'),
        "the call id is path-safe: {call_ref}"
    );
    let now = net.now;
    let id = net
        .sw
        .start_monitor("201", &call_ref, SpyMode::Whisper, model::Follow::None, now)
        .unwrap();
    assert!(id.0.starts_with("mon-"));
    net.out
        .extend(std::iter::from_fn(|| net.sw.poll_output()).collect::<Vec<_>>());
    let spawn = net.spawned().pop().expect("a click-to-spy task");
    let SpawnKind::ClickToSpy {
        target,
        mode,
        supervisor,
        ..
    } = &spawn.kind
    else {
        panic!("{:?}", spawn.kind)
    };
    assert!(
        target.starts_with("SIP/110-"),
        "the agent, not the trunk: {target}"
    );
    assert_eq!((*mode, supervisor.as_str()), (SpyMode::Whisper, "201"));
    assert!(net
        .events()
        .iter()
        .any(|e| matches!(e, Event::CallStart { .. })));
    // The task dials the supervisor: the phone shows what is monitored.
    net.chan(
        spawn.call,
        ChanOp::Dial {
            endpoints: vec!["201".into()],
            timeout: None,
            vars: vec![],
        },
    );
    let ring = net.requests_to(&sup).remove(0);
    assert_eq!(ring.method, Method::Invite);
    let from = ring.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("Whisper 110"));
    net.deliver(
        &sup,
        sup.answer(&ring, 200, "s1", Some(&sdp_offer(sup.rtp))),
    );
    let events = net.chan_events(spawn.call);
    assert!(
        matches!(&events[..], [ChanEvent::PlacedAnswered(ch)] if ch.starts_with("SIP/201-")),
        "{events:?}"
    );
}

#[test]
fn a_mode_without_a_grant_is_refused_before_anything_rings_and_is_audited() {
    let mut net = Net::new();
    let (call_ref, sup) = floor(&mut net);
    let now = net.now;
    let err = net
        .sw
        .start_monitor("201", &call_ref, SpyMode::Barge, model::Follow::None, now)
        .unwrap_err();
    assert_eq!(err, MonitorError::Forbidden("201 may not barge".into()));
    assert_eq!(err.http_status(), 403);
    net.out
        .extend(std::iter::from_fn(|| net.sw.poll_output()).collect::<Vec<_>>());
    assert!(net.spawned().is_empty());
    assert!(
        net.sent_to(&sup).is_empty(),
        "the supervisor's phone never rings"
    );
    assert!(net.writes().iter().any(
        |w| matches!(w, store::Write::MonitorDenied { reason, .. } if reason == "201 may not barge")
    ));
    assert!(net
        .events()
        .iter()
        .any(|e| matches!(e, Event::MonitorDenied { .. })));
}

#[test]
fn each_refusal_has_its_reason() {
    let mut net = Net::new();
    let (call_ref, _sup) = floor(&mut net);
    let now = net.now;
    let e = net
        .sw
        .start_monitor("201", "12345-99", SpyMode::Listen, model::Follow::None, now)
        .unwrap_err();
    assert_eq!(e.http_status(), 404, "{e}");
    let e = net
        .sw
        .start_monitor("202", &call_ref, SpyMode::Listen, model::Follow::None, now)
        .unwrap_err();
    assert_eq!(e, MonitorError::Forbidden("202 is not a supervisor".into()));
    let e = net
        .sw
        .start_monitor("999", &call_ref, SpyMode::Listen, model::Follow::None, now)
        .unwrap_err();
    assert_eq!(e.http_status(), 404);
    // Channel names work as ids too (the API's older form).
    let agent_channel = net
        .sw
        .channels()
        .find(|c| c.endpoint == "110")
        .unwrap()
        .name
        .clone();
    net.ports_exhausted
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let e = net
        .sw
        .start_monitor(
            "201",
            &agent_channel,
            SpyMode::Listen,
            model::Follow::None,
            now,
        )
        .unwrap_err();
    assert_eq!(e.http_status(), 503, "{e}");
}

#[test]
fn an_unregistered_or_busy_supervisor_is_told_so() {
    let mut net = Net::new();
    let (call_ref, sup) = floor(&mut net);
    let now = net.now;
    // 201 on a call of its own.
    let bob = Phone::new("102", "127.0.0.3:5062");
    net.register(&bob);
    let mut sup_phone = sup;
    let invite = sup_phone.invite("102", Some(&sdp_offer(sup_phone.rtp)));
    net.deliver(&sup_phone, invite.clone());
    let challenge = net.responses_to(&sup_phone).pop().unwrap();
    assert_eq!(challenge.status, 407);
    let again = sup_phone.authorized(&invite, &challenge, "pw201");
    net.deliver(&sup_phone, again);
    assert_eq!(net.spawned().len(), 1, "201's own call runs");
    let e = net
        .sw
        .start_monitor("201", &call_ref, SpyMode::Listen, model::Follow::None, now)
        .unwrap_err();
    assert_eq!(e, MonitorError::SupervisorBusy("201".into()));
    assert_eq!(e.http_status(), 409);

    let mut net = Net::new();
    let call_ref = agents_call(&mut net);
    let e = net
        .sw
        .start_monitor("201", &call_ref, SpyMode::Listen, model::Follow::None, now)
        .unwrap_err();
    assert_eq!(e, MonitorError::NotRegistered("201".into()));
}

#[test]
fn a_browser_leg_is_answered_at_once_bridged_and_ended_without_sip() {
    let mut net = Net::new();
    // No phone of 201 is registered: the browser brings its own leg.
    let call_ref = agents_call(&mut net);
    let browser: std::net::SocketAddr = "127.0.0.1:40010".parse().unwrap();
    let now = net.now;
    let (id, port) = net
        .sw
        .start_browser_monitor(
            "201",
            &call_ref,
            SpyMode::Listen,
            model::Follow::None,
            browser,
            now,
        )
        .unwrap();
    assert!(id.0.starts_with("mon-"));
    assert!(port > 0);
    net.pump();
    let ops = net.media_ops();
    assert_eq!(remote_set(&ops, media::Side::B), Some(browser), "{ops:?}");
    let spawn = net.spawned().pop().expect("a click-to-spy task");
    let SpawnKind::ClickToSpy { answered, mode, .. } = &spawn.kind else {
        panic!("{:?}", spawn.kind)
    };
    let leg = answered.clone().expect("answered already");
    assert!(leg.starts_with("SIP/201-"), "{leg}");
    assert_eq!(*mode, SpyMode::Listen);
    // The supervisor's channel is on the floor, bridged to the monitor's.
    let sup = net
        .sw
        .channels()
        .find(|c| c.name == leg)
        .expect("the browser's channel");
    assert_eq!(sup.endpoint, "201");
    assert!(sup.bridged_to.is_some());
    // A grant still applies: barge is not 201's.
    let err = net
        .sw
        .start_browser_monitor(
            "201",
            &call_ref,
            SpyMode::Barge,
            model::Follow::None,
            browser,
            now,
        )
        .unwrap_err();
    assert_eq!(err, MonitorError::Forbidden("201 may not barge".into()));
    // The task hangs up: no SIP goes anywhere for the browser's leg, the
    // channels leave the floor.
    net.out.clear();
    net.chan(spawn.call, ChanOp::Hangup { status: None });
    let sips = net.take(|o| matches!(o, crate::switch::Output::Transmit(_)).then_some(()));
    assert!(sips.is_empty(), "{} SIP messages sent", sips.len());
    assert!(net.sw.channels().all(|c| c.name != leg));
}
