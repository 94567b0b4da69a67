//! Takeover: a supervisor's channel replaces the agent of another answered call. The
//! agent's leg gets a BYE, the client stays, and the call then lasts as long as the
//! supervisor's call; one takeover per call, and the call record says who and when.

use std::time::Duration;

use sip::{Method, Request};

use super::harness::*;
use crate::chan::{ChanEvent, ChanOp, DialOutcome, DialStatus, TakeOverRefused};
use crate::events::Event;
use crate::switch::{CallId, Output};

/// Supervisor 201 dials ChanSpy (`*222`) and its dialplan answers.
fn supervisor_call(net: &mut Net) -> ExtCall {
    supervisor_call_of(net, "201", "127.0.0.5:5062")
}

fn cdrs(net: &mut Net) -> Vec<store::CallRecord> {
    net.writes()
        .into_iter()
        .filter_map(|w| match w {
            store::Write::Cdr(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn methods(reqs: &[Request]) -> Vec<Method> {
    reqs.iter().map(|r| r.method.clone()).collect()
}

#[test]
fn taking_over_the_callee_byes_only_it_and_the_dial_returns_when_the_supervisor_leaves() {
    let mut net = Net::new();
    let start = net.now;
    let mut c = answered_call(&mut net);
    let client_channel = channel_of(&net, "carrier");
    let agent_channel = channel_of(&net, "102");
    let mut sup = supervisor_call(&mut net);
    net.advance(Duration::from_secs(5));
    net.out.clear();
    let taken_at = net.wall + net.now.duration_since(start);

    assert_eq!(
        take_over(&mut net, &sup, &agent_channel),
        [ChanEvent::TakeOverDone(Ok(()))]
    );
    // The agent, and only the agent, is hung up.
    let to_bob = net.requests_to(&c.bob);
    assert_eq!(methods(&to_bob), [Method::Bye]);
    assert!(net.sent_to(&c.carrier).is_empty(), "the client stays");
    assert!(net.sent_to(&sup.phone).is_empty());
    assert!(
        net.chan_events(c.call).is_empty(),
        "the caller's Dial still runs"
    );
    let gone = net.take(|o| match o {
        Output::ChannelGone(n) => Some(n.clone()),
        _ => None,
    });
    assert_eq!(gone, [agent_channel.as_str()]);
    let names: Vec<String> = net.sw.channels().map(|c| c.name.clone()).collect();
    assert_eq!(names.len(), 2, "client and supervisor: {names:?}");
    let client = net
        .sw
        .channels()
        .find(|c| c.name == client_channel)
        .unwrap();
    assert_eq!(client.bridged_to.as_deref(), Some(sup.channel.as_str()));
    let events = net.events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::CallTakeover { agent_channel: a, supervisor, supervisor_channel, .. }
                if *a == agent_channel && supervisor == "201" && *supervisor_channel == sup.channel
        )),
        "{events:?}"
    );
    assert!(cdrs(&mut net).is_empty(), "nobody's call has ended yet");

    // Bob hung up at the same moment: his BYE crossed ours and gets a 200.
    let bob_bye = c.bob.in_callee_dialog(Method::Bye, &c.to_bob, &c.bob_tag);
    net.deliver(&c.bob, bob_bye);
    assert_eq!(net.statuses_to(&c.bob), [200]);
    net.deliver(&c.bob, c.bob.answer(&to_bob[0], 200, &c.bob_tag, None));
    assert!(
        net.chan_events(c.call).is_empty(),
        "the released agent's BYE does not end the call"
    );
    assert!(net.sent_to(&c.carrier).is_empty());

    // The supervisor hangs up: its call ends, and the caller's Dial returns.
    net.advance(Duration::from_secs(10));
    net.out.clear();
    let sup_bye = sup.phone.in_dialog(Method::Bye, &sup.invite, &sup.ok);
    net.deliver(&sup.phone, sup_bye);
    assert_eq!(net.statuses_to(&sup.phone), [200]);
    assert_eq!(net.chan_events(sup.call), [ChanEvent::Hangup]);
    assert_eq!(
        net.chan_events(c.call),
        [ChanEvent::DialDone(DialOutcome {
            status: DialStatus::Answer
        })]
    );
    assert!(
        net.sent_to(&c.carrier).is_empty(),
        "the caller stays until its dialplan ends"
    );
    let records = cdrs(&mut net);
    assert_eq!(records.len(), 1, "only the supervisor's call is over");
    assert_eq!(records[0].caller, "201");
    assert_eq!(records[0].taken_over, None);

    // The caller's dialplan ends: BYE to the client, and the record of the call says
    // who took it over and when.
    net.chan(c.call, ChanOp::Hangup { status: None });
    let to_carrier = net.requests_to(&c.carrier);
    assert_eq!(methods(&to_carrier), [Method::Bye]);
    assert!(net.sent_to(&c.bob).is_empty(), "nothing more to the agent");
    let records = cdrs(&mut net);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].caller_channel, client_channel);
    assert_eq!(
        records[0].taken_over,
        Some(store::TakenOver {
            by: "201".into(),
            at: taken_at,
        })
    );
    assert_eq!(records[0].disposition, store::Disposition::Answered);
}

/// Supervisor 202 in ChanSpy too, answered: its call and channel.
fn second_supervisor(net: &mut Net) -> (CallId, String) {
    let mut other = Phone::new("202", "127.0.0.7:5062");
    let (call, channel, _) = ext_invite(net, &mut other, "*222");
    net.chan(call, ChanOp::Answer);
    net.out.clear();
    (call, channel)
}

/// Supervisor 202 asks to take `target`'s call over: the switch's answer.
fn second_take_over(net: &mut Net, call: CallId, channel: &str, target: &str) -> Vec<ChanEvent> {
    net.chan(
        call,
        ChanOp::TakeOver {
            supervisor: "202".into(),
            channel: channel.to_string(),
            target: target.to_string(),
        },
    );
    net.chan_events(call)
}

#[test]
fn a_second_takeover_naming_the_released_agent_is_refused_with_who_holds_it() {
    let mut net = Net::new();
    let c = answered_call(&mut net);
    let client_channel = channel_of(&net, "carrier");
    let agent_channel = channel_of(&net, "102");
    let sup = supervisor_call(&mut net);
    assert_eq!(
        take_over(&mut net, &sup, &agent_channel),
        [ChanEvent::TakeOverDone(Ok(()))]
    );
    net.out.clear();

    let (second, second_channel) = second_supervisor(&mut net);
    assert_eq!(
        second_take_over(&mut net, second, &second_channel, &agent_channel),
        [ChanEvent::TakeOverDone(Err(TakeOverRefused::Already(
            "201".into()
        )))]
    );
    // Nothing changed: no SIP, no channel changes, no event.
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(net.sent_to(&c.bob).is_empty());
    assert!(net.sent_to(&sup.phone).is_empty());
    assert!(net.events().is_empty());
    assert!(net
        .take(|o| matches!(o, Output::Channel(_) | Output::ChannelGone(_)).then_some(()))
        .is_empty());
    let client = net
        .sw
        .channels()
        .find(|c| c.name == client_channel)
        .unwrap();
    assert_eq!(client.bridged_to.as_deref(), Some(sup.channel.as_str()));
    // And the second supervisor's call holds nothing: its end does not end the call.
    net.chan(second, ChanOp::Hangup { status: None });
    assert!(net.chan_events(c.call).is_empty());
    assert!(net.sent_to(&c.carrier).is_empty());
}

#[test]
fn a_second_takeover_naming_the_client_of_a_taken_over_callee_is_refused_as_already() {
    let mut net = Net::new();
    let c = answered_call(&mut net);
    let client_channel = channel_of(&net, "carrier");
    let agent_channel = channel_of(&net, "102");
    let sup = supervisor_call(&mut net);
    assert_eq!(
        take_over(&mut net, &sup, &agent_channel),
        [ChanEvent::TakeOverDone(Ok(()))]
    );
    net.out.clear();

    let (second, second_channel) = second_supervisor(&mut net);
    assert_eq!(
        second_take_over(&mut net, second, &second_channel, &client_channel),
        [ChanEvent::TakeOverDone(Err(TakeOverRefused::Already(
            "201".into()
        )))]
    );
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(net.events().is_empty());
}

#[test]
fn a_channel_on_no_answered_call_cannot_be_taken_over() {
    let mut net = Net::new();
    // A ringing call: its callee has no channel yet, its caller is not answered.
    let ringing = ringing_call(&mut net, "110");
    let ringing_caller = channel_of(&net, "carrier");
    let sup = supervisor_call(&mut net);
    for target in [
        "SIP/999-00000042",
        ringing_caller.as_str(),
        sup.channel.as_str(),
    ] {
        assert_eq!(
            take_over(&mut net, &sup, target),
            [ChanEvent::TakeOverDone(Err(TakeOverRefused::NoCall(
                target.to_string()
            )))],
            "naming {target}"
        );
    }
    assert!(net.sent_to(&ringing.carrier).is_empty());
    assert!(net.sent_to(&ringing.bob).is_empty());
    assert!(net.sent_to(&sup.phone).is_empty());
    assert!(net.events().is_empty());
    assert!(net
        .take(|o| matches!(o, Output::ChannelGone(_)).then_some(()))
        .is_empty());
    // The supervisor leaving touches nobody else.
    net.chan(sup.call, ChanOp::Hangup { status: None });
    assert!(net.chan_events(ringing.call).is_empty());
    assert!(net.sent_to(&ringing.carrier).is_empty());
    assert!(net.sent_to(&ringing.bob).is_empty());
}

#[test]
fn taking_over_the_caller_then_the_supervisor_leaving_hangs_the_client_up() {
    let mut net = Net::new();
    // Agent 110 calls Bob (102); Bob is the client.
    let bob = Phone::new("102", "127.0.0.2:5062");
    net.register(&bob);
    let mut agent = Phone::new("110", "127.0.0.6:5062");
    let (call, agent_channel, invite) = ext_invite(&mut net, &mut agent, "102");
    net.chan(
        call,
        ChanOp::Dial {
            endpoints: vec!["102".into()],
            timeout: None,
            vars: Vec::new(),
        },
    );
    let to_bob = net.requests_to(&bob).remove(0);
    net.deliver(
        &bob,
        bob.answer(&to_bob, 200, "bobtag", Some(&sdp_offer(bob.rtp))),
    );
    let ok = net
        .responses_to(&agent)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("the agent's call is answered");
    let ack = agent.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&agent, ack);
    let client_channel = channel_of(&net, "102");
    let sup = supervisor_call(&mut net);

    assert_eq!(
        take_over(&mut net, &sup, &agent_channel),
        [ChanEvent::TakeOverDone(Ok(()))]
    );
    let to_agent = net.requests_to(&agent);
    assert_eq!(methods(&to_agent), [Method::Bye]);
    assert!(net.sent_to(&bob).is_empty(), "the client stays");
    assert!(net.chan_events(call).is_empty());
    assert_eq!(
        net.take(|o| match o {
            Output::ChannelGone(n) => Some(n.clone()),
            _ => None,
        }),
        [agent_channel.as_str()]
    );
    let client = net
        .sw
        .channels()
        .find(|c| c.name == client_channel)
        .unwrap();
    assert_eq!(client.bridged_to.as_deref(), Some(sup.channel.as_str()));
    // One takeover per call: the client cannot be taken over again.
    assert_eq!(
        take_over(&mut net, &sup, &client_channel),
        [ChanEvent::TakeOverDone(Err(TakeOverRefused::Already(
            "201".into()
        )))]
    );
    assert!(net.sent_to(&bob).is_empty());
    // The agent's BYE crossed ours: 200, not 481, and the call goes on.
    let agent_bye = agent.in_dialog(Method::Bye, &invite, &ok);
    net.deliver(&agent, agent_bye);
    assert_eq!(net.statuses_to(&agent), [200]);
    net.deliver(&agent, agent.answer(&to_agent[0], 200, "x", None));
    assert!(net.sent_to(&bob).is_empty());
    assert!(net.chan_events(call).is_empty());
    net.out.clear();

    // The supervisor's dialplan ends: the taken-over call is hung up.
    net.chan(sup.call, ChanOp::Hangup { status: None });
    let to_bob = net.requests_to(&bob);
    assert_eq!(methods(&to_bob), [Method::Bye]);
    assert!(
        net.sent_to(&agent).is_empty(),
        "the released agent gets nothing"
    );
    let to_sup = net.requests_to(&sup.phone);
    assert_eq!(methods(&to_sup), [Method::Bye]);
    assert_eq!(
        net.chan_events(call),
        [
            ChanEvent::Hangup,
            ChanEvent::DialDone(DialOutcome {
                status: DialStatus::Cancel
            })
        ],
        "the agent's dialplan task is told the call is over"
    );
    let mut records = cdrs(&mut net);
    records.sort_by(|a, b| a.caller.cmp(&b.caller));
    assert_eq!(records.len(), 2, "both calls are over");
    assert_eq!(records[0].caller, "110");
    assert_eq!(records[0].caller_channel, agent_channel);
    assert_eq!(
        records[0].taken_over.as_ref().map(|t| t.by.as_str()),
        Some("201")
    );
    assert_eq!(records[1].caller, "201");
    assert_eq!(records[1].taken_over, None);
    assert_eq!(net.sw.channels().count(), 0);
    assert!(!net.sw.is_settled(), "our BYEs wait for their answers");
    net.deliver(&bob, bob.answer(&to_bob[0], 200, "bobtag", None));
    net.deliver(&sup.phone, sup.phone.answer(&to_sup[0], 200, "x", None));
    assert!(net.sw.is_settled());
}

#[test]
fn the_client_hanging_up_ends_the_call_and_the_supervisor_leaving_later_does_nothing_more() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let agent_channel = channel_of(&net, "102");
    let sup = supervisor_call(&mut net);
    assert_eq!(
        take_over(&mut net, &sup, &agent_channel),
        [ChanEvent::TakeOverDone(Ok(()))]
    );
    let to_bob = net.requests_to(&c.bob);
    assert_eq!(methods(&to_bob), [Method::Bye]);
    net.deliver(&c.bob, c.bob.answer(&to_bob[0], 200, &c.bob_tag, None));
    net.out.clear();

    // The client (the carrier, the caller) hangs up.
    let bye = c.carrier.in_dialog(Method::Bye, &c.invite, &c.ok);
    net.deliver(&c.carrier, bye);
    assert_eq!(net.statuses_to(&c.carrier), [200]);
    assert!(
        net.sent_to(&c.bob).is_empty(),
        "the agent was already released"
    );
    assert_eq!(
        net.chan_events(c.call),
        [
            ChanEvent::Hangup,
            ChanEvent::DialDone(DialOutcome {
                status: DialStatus::Cancel
            })
        ]
    );
    let records = cdrs(&mut net);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].hangup_by, "caller");
    assert_eq!(
        records[0].taken_over.as_ref().map(|t| t.by.as_str()),
        Some("201")
    );
    assert!(net.sent_to(&sup.phone).is_empty(), "the supervisor stays");
    assert_eq!(net.chan_events(sup.call), []);
    // The caller's task ends too: the call is already over, nothing more goes out.
    net.chan(c.call, ChanOp::Hangup { status: None });
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(cdrs(&mut net).is_empty(), "one record per call");

    // Later, the supervisor leaves: its own call ends, nothing else happens.
    net.advance(Duration::from_secs(3));
    net.out.clear();
    net.chan(sup.call, ChanOp::Hangup { status: None });
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(net.sent_to(&c.bob).is_empty());
    assert!(net.chan_events(c.call).is_empty());
    let sup_msgs = net.requests_to(&sup.phone);
    assert_eq!(methods(&sup_msgs), [Method::Bye]);
    let records = cdrs(&mut net);
    assert_eq!(records.len(), 1, "one record: the supervisor's");
    assert_eq!(records[0].caller, "201");
    assert_eq!(net.sw.channels().count(), 0);
}
