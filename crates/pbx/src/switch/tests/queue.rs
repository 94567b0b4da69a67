//! Queue calls through the switch: the floor rings members through the caller's
//! Dial, a ring nobody answers goes back to the floor (not to the task), the
//! answer connects the caller, and the queue log says what happened.

use std::sync::Arc;
use std::time::Duration;

use model::{QueueEvent, QueueMember, QueueSettings, QueueStatus, Strategy};
use sip::Method;

use super::harness::*;
use crate::chan::{CallId, ChanEvent, ChanOp, DialOutcome, DialStatus};
use crate::queue::{MemberChange, MemberResult};

fn member(queue: &str, ext: &str) -> QueueMember {
    QueueMember {
        queue: queue.into(),
        extension: ext.into(),
        penalty: 0,
        dynamic: false,
        paused: false,
        reason: String::new(),
    }
}

/// Queue `support` (linear: 101, then 102), 15 s rings, 5 s retry; supervisor 201
/// is granted the queue, 202 the group `vip` only.
fn queue_net(strategy: Strategy, wrapup: u32) -> Net {
    Net::with(queue_config(strategy, wrapup), crate::PbxConfig::default())
}

fn queue_config(strategy: Strategy, wrapup: u32) -> store::ConfigSnapshot {
    queue_config_paused(strategy, wrapup, &[])
}

/// As [`queue_config`], with these members paused.
fn queue_config_paused(strategy: Strategy, wrapup: u32, paused: &[&str]) -> store::ConfigSnapshot {
    let member = |q: &str, ext: &str| QueueMember {
        paused: paused.contains(&ext),
        ..member(q, ext)
    };
    let mut b = store::ConfigSnapshot::builder().realm(REALM);
    for n in [101, 102, 103, 201, 202] {
        b = b.extension(&n.to_string(), &format!("pw{n}"), "from-internal");
    }
    b = b
        .group("vip", None)
        .group("floor", None)
        // An inbound rule: the carrier's calls to 100-109 are "floor" calls.
        .rule(Some("carrier"), "100", "109", &["floor"])
        .supervisor(store::Grant {
            extension: "201".into(),
            groups: store::GroupScope::Groups(vec![]),
            modes: vec![store::SpyMode::Listen],
            queues: vec!["support".into()],
        })
        .supervisor(store::Grant {
            extension: "202".into(),
            groups: store::GroupScope::Groups(vec!["vip".into()]),
            modes: vec![store::SpyMode::Listen],
            queues: vec![],
        });
    let mut q = QueueSettings::new("support");
    q.strategy = strategy;
    q.wrapuptime = wrapup;
    b = b
        .trunk(store::Trunk {
            name: "carrier".into(),
            host: "127.0.0.9".parse().unwrap(),
            port: None,
            context: "from-trunk".into(),
        })
        .queue(q)
        .queue_member(member("support", "101"))
        .queue_member(member("support", "102"));
    b.build()
}

/// The carrier calls in; the task answers and joins `support`.
fn caller_joins(net: &mut Net, carrier: &mut Phone, timeout: Option<Duration>) -> CallId {
    let invite = carrier.invite("500", Some(&sdp_offer(carrier.rtp)));
    net.deliver(carrier, invite.clone());
    let call = net.spawned().pop().expect("a dialplan task").call;
    net.chan(call, ChanOp::Answer);
    assert_eq!(net.chan_events(call), [ChanEvent::AnswerDone(true)]);
    let ok = net.ok_to(carrier);
    let ack = carrier.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(carrier, ack);
    net.chan(
        call,
        ChanOp::QueueJoin {
            queue: "support".into(),
            timeout,
            no_retry: false,
            vars: vec![("__SPYGROUP".into(), "sales".into())],
        },
    );
    call
}

fn log_events(net: &mut Net) -> Vec<(QueueEvent, String)> {
    net.writes()
        .into_iter()
        .filter_map(|w| match w {
            store::Write::QueueLog(e) => Some((e.event, e.agent)),
            _ => None,
        })
        .collect()
}

fn agent(n: &str) -> String {
    format!("SIP/{n}")
}

#[test]
fn linear_rings_in_order_and_the_answer_connects() {
    let mut net = queue_net(Strategy::Linear, 0);
    let a101 = Phone::new("101", "127.0.0.2:5062");
    let a102 = Phone::new("102", "127.0.0.3:5062");
    net.register(&a101);
    net.register(&a102);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let call = caller_joins(&mut net, &mut carrier, None);
    assert_eq!(net.chan_events(call), [ChanEvent::QueueJoined(Ok(1))]);
    let to_101 = net.requests_to(&a101);
    assert_eq!(to_101.len(), 1, "101 is rung first");
    assert_eq!(to_101[0].method, Method::Invite);
    assert!(net.requests_to(&a102).is_empty(), "linear: not 102 yet");
    net.deliver(&a101, a101.answer(&to_101[0], 180, "t101", None));

    // 101 does not answer within the queue's timeout: CANCEL, and the task is
    // not told (the caller keeps waiting).
    net.advance(Duration::from_secs(15));
    let cancel = net.requests_to(&a101);
    assert_eq!(cancel.len(), 1);
    assert_eq!(cancel[0].method, Method::Cancel);
    assert!(net.chan_events(call).is_empty(), "no DialDone: {call:?}");
    // After the retry wait, 102, while 101's 487 is still on its way.
    net.advance(Duration::from_secs(5));
    let to_102 = net.requests_to(&a102);
    assert_eq!(to_102.len(), 1, "then 102");
    net.deliver(&a101, a101.answer(&cancel[0], 200, "t101", None));
    net.deliver(&a101, a101.answer(&to_101[0], 487, "t101", None));
    assert!(
        net.chan_events(call).is_empty(),
        "the late 487 changes nothing"
    );

    net.deliver(
        &a102,
        a102.answer(&to_102[0], 200, "t102", Some(&sdp_offer(a102.rtp))),
    );
    let events = net.chan_events(call);
    assert!(
        matches!(&events[..], [ChanEvent::QueueConnected { agent, .. }] if agent == "102"),
        "{events:?}"
    );
    let log = log_events(&mut net);
    assert_eq!(
        log,
        [
            (QueueEvent::Enterqueue, "NONE".to_string()),
            (QueueEvent::Ringnoanswer, agent("101")),
            (QueueEvent::Connect, agent("102")),
        ]
    );
    // The agent's channel inherited the caller's spy groups, and carries the
    // queue's call: the supervisor granted the queue may monitor it, one granted
    // other groups may not.
    let chan_102 = channel_of(&net, "102");
    let info = net.sw.channels().find(|c| c.name == chan_102).unwrap();
    assert_eq!(info.spygroup, "sales");
    assert_eq!(info.queue.as_deref(), Some("support"));
    // The inbound rule reaches the agent's leg of the queue call too.
    let mut groups = info.groups(&queue_config(Strategy::Linear, 0));
    groups.sort();
    assert_eq!(groups, ["floor", "sales"]);
    let now = net.now;
    let listen = store::SpyMode::Listen;
    let refused = net
        .sw
        .start_monitor("202", &chan_102, listen, model::Follow::None, now)
        .unwrap_err();
    assert_eq!(
        refused,
        crate::MonitorError::Forbidden("102 is not in a spy group of 202".into())
    );
    let sup = Phone::new("201", "127.0.0.4:5062");
    net.register(&sup);
    net.sw
        .start_monitor("201", &chan_102, listen, model::Follow::None, now)
        .expect("granted the queue");
    net.out
        .extend(std::iter::from_fn(|| net.sw.poll_output()).collect::<Vec<_>>());
    let spawn = net.spawned().pop().expect("a click-to-spy task");
    assert!(
        matches!(&spawn.kind, crate::switch::SpawnKind::ClickToSpy { target, .. } if *target == chan_102),
        "{:?}",
        spawn.kind
    );

    // The agent hangs up: the task's wait ends as a Dial's does.
    let mut a102 = a102;
    let bye = a102.in_callee_dialog(Method::Bye, &to_102[0], "t102");
    net.deliver(&a102, bye);
    assert_eq!(
        net.chan_events(call),
        [ChanEvent::DialDone(DialOutcome {
            status: DialStatus::Answer
        })]
    );
    assert_eq!(
        log_events(&mut net),
        [(QueueEvent::Completeagent, agent("102"))]
    );
}

#[test]
fn an_agent_on_a_direct_call_is_skipped() {
    let mut net = queue_net(Strategy::Linear, 0);
    let a101 = Phone::new("101", "127.0.0.2:5062");
    let a102 = Phone::new("102", "127.0.0.3:5062");
    net.register(&a101);
    net.register(&a102);
    // 103 calls 101 directly; 101 answers.
    let mut p103 = Phone::new("103", "127.0.0.4:5062");
    let (direct, _, _) = ext_invite(&mut net, &mut p103, "101");
    net.dial(direct, "101");
    let inv = net.requests_to(&a101).remove(0);
    net.deliver(
        &a101,
        a101.answer(&inv, 200, "d101", Some(&sdp_offer(a101.rtp))),
    );
    net.out.clear();

    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let call = caller_joins(&mut net, &mut carrier, None);
    assert_eq!(net.chan_events(call), [ChanEvent::QueueJoined(Ok(1))]);
    assert!(net.requests_to(&a101).is_empty(), "101 is on a call");
    assert_eq!(net.requests_to(&a102).len(), 1, "102 rings at once");
}

#[test]
fn a_paused_agent_is_not_rung_and_the_pause_is_written() {
    let mut net = queue_net(Strategy::Ringall, 0);
    let a101 = Phone::new("101", "127.0.0.2:5062");
    let a102 = Phone::new("102", "127.0.0.3:5062");
    net.register(&a101);
    net.register(&a102);
    let mut other = Phone::new("0999", "127.0.0.9:5060");
    let invite = other.invite("501", Some(&sdp_offer(other.rtp)));
    net.deliver(&other, invite);
    let op_call = net.spawned().pop().expect("a dialplan task").call;
    net.chan(
        op_call,
        ChanOp::QueueMember(MemberChange::Pause {
            queue: None,
            extension: "101".into(),
            paused: true,
            reason: "lunch".into(),
        }),
    );
    assert_eq!(
        net.chan_events(op_call),
        [ChanEvent::QueueMemberDone(MemberResult::Done)]
    );
    let writes = net.writes();
    assert!(writes.iter().any(|w| matches!(w,
        store::Write::QueueMemberPause { extension, paused: true, reason, queue: None }
            if extension == "101" && reason == "lunch")));
    assert!(writes.iter().any(|w| matches!(w,
        store::Write::QueueLog(e) if e.event == QueueEvent::Pause && e.data[0] == "lunch")));
    net.chan(op_call, ChanOp::Hangup { status: None });
    net.out.clear();

    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let call = caller_joins(&mut net, &mut carrier, None);
    assert_eq!(net.chan_events(call), [ChanEvent::QueueJoined(Ok(1))]);
    assert!(net.requests_to(&a101).is_empty(), "paused");
    assert_eq!(net.requests_to(&a102).len(), 1, "ringall rings the rest");
}

#[test]
fn a_caller_who_hangs_up_between_rings_abandoned() {
    let mut net = queue_net(Strategy::Linear, 0);
    let a101 = Phone::new("101", "127.0.0.2:5062");
    net.register(&a101);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let invite_call = caller_joins(&mut net, &mut carrier, None);
    net.chan_events(invite_call);
    let to_101 = net.requests_to(&a101).remove(0);
    net.deliver(&a101, a101.answer(&to_101, 486, "t101", None));
    assert!(
        net.chan_events(invite_call).is_empty(),
        "busy goes to the floor"
    );
    // Waiting for the retry, the caller hangs up.
    net.sw.handle_chan(
        crate::chan::ChanRequest {
            call: invite_call,
            op: ChanOp::Hangup { status: None },
        },
        net.now,
    );
    net.pump();
    let log = log_events(&mut net);
    assert_eq!(
        log,
        [
            (QueueEvent::Enterqueue, "NONE".to_string()),
            (QueueEvent::Ringnoanswer, agent("101")),
            (QueueEvent::Abandon, "NONE".to_string()),
        ]
    );
    net.requests_to(&a101);
    net.advance(Duration::from_secs(30));
    assert!(
        net.requests_to(&a101)
            .iter()
            .all(|r| r.method != Method::Invite),
        "nobody rings for a gone caller"
    );
}

#[test]
fn nobody_free_until_the_timeout_exits_the_caller() {
    let mut net = queue_net(Strategy::Ringall, 0);
    // Members exist but none is registered (joinempty never: the caller waits).
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let call = caller_joins(&mut net, &mut carrier, Some(Duration::from_secs(10)));
    assert_eq!(net.chan_events(call), [ChanEvent::QueueJoined(Ok(1))]);
    net.advance(Duration::from_secs(9));
    assert!(net.chan_events(call).is_empty());
    net.advance(Duration::from_secs(2));
    assert_eq!(
        net.chan_events(call),
        [ChanEvent::QueueExit(QueueStatus::Timeout)]
    );
    let log = log_events(&mut net);
    assert_eq!(log.last().unwrap().0, QueueEvent::Exitwithtimeout);
}

#[test]
fn wrapup_keeps_an_agent_free_of_queue_calls() {
    let mut net = queue_net(Strategy::Linear, 30);
    let mut a101 = Phone::new("101", "127.0.0.2:5062");
    net.register(&a101);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let first = caller_joins(&mut net, &mut carrier, None);
    net.chan_events(first);
    let to_101 = net.requests_to(&a101).remove(0);
    net.deliver(
        &a101,
        a101.answer(&to_101, 200, "t101", Some(&sdp_offer(a101.rtp))),
    );
    let bye = a101.in_callee_dialog(Method::Bye, &to_101, "t101");
    net.deliver(&a101, bye);
    net.out.clear();

    let mut second_carrier = Phone::new("0124", "127.0.0.9:5060");
    let second = caller_joins(&mut net, &mut second_carrier, None);
    assert_eq!(net.chan_events(second), [ChanEvent::QueueJoined(Ok(1))]);
    net.advance(Duration::from_secs(29));
    assert!(
        net.requests_to(&a101)
            .iter()
            .all(|r| r.method != Method::Invite),
        "in wrap-up"
    );
    net.advance(Duration::from_secs(2));
    assert!(
        net.requests_to(&a101)
            .iter()
            .any(|r| r.method == Method::Invite),
        "rung once wrap-up is over"
    );
}

#[test]
fn an_agent_unpaused_in_the_database_is_rung_at_once() {
    let mut net = Net::with(
        queue_config_paused(Strategy::Linear, 0, &["101", "102"]),
        crate::PbxConfig::default(),
    );
    let a101 = Phone::new("101", "127.0.0.2:5062");
    net.register(&a101);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let call = caller_joins(&mut net, &mut carrier, None);
    assert_eq!(net.chan_events(call), [ChanEvent::QueueJoined(Ok(1))]);
    assert!(net.requests_to(&a101).is_empty(), "paused");
    // `agent unpause 101` from the CLI or the API: the next snapshot has it, and
    // 101 rings with no other input and no time passing.
    let now = net.now;
    net.sw.set_config(
        Arc::new(queue_config_paused(Strategy::Linear, 0, &["102"])),
        now,
    );
    net.out
        .extend(std::iter::from_fn(|| net.sw.poll_output()).collect::<Vec<_>>());
    assert_eq!(net.requests_to(&a101).len(), 1, "101 rings at once");
}
