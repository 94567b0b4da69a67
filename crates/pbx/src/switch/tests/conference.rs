//! A barge that becomes a conference: a supervisor's call asks the switch
//! (`ChanOp::Conference`) to turn another answered call into a conference room.
//! Nothing is sent to the phones then; from then on the call's two legs leave one
//! by one: the callee leaving keeps the caller in (its `Dial` does not return), the
//! caller leaving ends its dialplan task (`Dial` returns `CANCEL`) and keeps the
//! callee in; the call is recorded and its bridge closed when both have left. Hold
//! plays no music in a room, `ChanOp::HangupChannel` kicks one leg, a call still
//! ringing or taken over cannot become a conference, and a shutdown still ends
//! everything at once.

use std::time::Duration;

use sip::{Method, Request, Response};

use super::harness::*;
use crate::chan::{ChanEvent, ChanOp, DialOutcome, DialStatus, TakeOverRefused};
use crate::events::Event;
use crate::switch::{BridgeId, CallId, MediaOp, Output};

/// Supervisor 201 in ChanSpy.
fn supervisor_call(net: &mut Net) -> ExtCall {
    supervisor_call_of(net, "201", "127.0.0.5:5062")
}

/// The supervisor's call asks to turn `target`'s call into `room`: the switch's
/// answer to that call's task.
fn conference(net: &mut Net, sup: CallId, by: &str, target: &str, room: &str) -> Vec<ChanEvent> {
    net.chan(
        sup,
        ChanOp::Conference {
            supervisor: by.to_string(),
            target: target.to_string(),
            room: room.to_string(),
        },
    );
    net.chan_events(sup)
}

fn live_channels(net: &Net) -> Vec<String> {
    net.sw.channels().map(|c| c.name.clone()).collect()
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

fn gone(net: &mut Net) -> Vec<String> {
    net.take(|o| match o {
        Output::ChannelGone(n) => Some(n.clone()),
        _ => None,
    })
}

fn forgotten(net: &mut Net) -> Vec<CallId> {
    net.take(|o| match o {
        Output::Forget(id) => Some(*id),
        _ => None,
    })
}

/// The bridges closed among the media ops since last asked.
fn closed(net: &mut Net) -> Vec<BridgeId> {
    net.media_ops()
        .into_iter()
        .filter_map(|(b, op)| (op == MediaOp::Close).then_some(b))
        .collect()
}

fn dial_done(status: DialStatus) -> ChanEvent {
    ChanEvent::DialDone(DialOutcome { status })
}

/// An answered trunk -> 102 call that supervisor 201 turned into a conference;
/// everything polled away.
struct Conf {
    c: Answered,
    sup: ExtCall,
    /// The carrier's (caller's) and 102's (callee's) channels.
    caller: String,
    callee: String,
    /// The conferenced call's public id, bridge and room.
    call_ref: String,
    bridge: BridgeId,
    room: String,
}

fn conferenced_call(net: &mut Net) -> Conf {
    let c = answered_call(net);
    let caller = channel_of(net, "carrier");
    let callee = channel_of(net, "102");
    let info = net.sw.channels().find(|i| i.name == callee).unwrap();
    let call_ref = info.call_ref.clone();
    let bridge = info.bridge;
    let sup = supervisor_call(net);
    let room = format!("call-{call_ref}");
    assert_eq!(
        conference(net, sup.call, "201", &callee, &room),
        [ChanEvent::ConferenceDone(Ok(()))]
    );
    net.out.clear();
    Conf {
        c,
        sup,
        caller,
        callee,
        call_ref,
        bridge,
        room,
    }
}

fn callee_bye(net: &mut Net, c: &mut Answered) {
    let bye = c.bob.in_callee_dialog(Method::Bye, &c.to_bob, &c.bob_tag);
    net.deliver(&c.bob, bye);
}

fn caller_bye(net: &mut Net, c: &mut Answered) {
    let bye = c.carrier.in_dialog(Method::Bye, &c.invite, &c.ok);
    net.deliver(&c.carrier, bye);
}

#[test]
fn a_conference_on_an_answered_call_is_granted_announced_and_sends_the_phones_nothing() {
    let mut net = Net::new();
    let c = answered_call(&mut net);
    let caller = channel_of(&net, "carrier");
    let callee = channel_of(&net, "102");
    let call_ref = net
        .sw
        .channels()
        .find(|i| i.name == callee)
        .unwrap()
        .call_ref
        .clone();
    let sup = supervisor_call(&mut net);
    let room = format!("call-{call_ref}");

    assert_eq!(
        conference(&mut net, sup.call, "201", &callee, &room),
        [ChanEvent::ConferenceDone(Ok(()))]
    );
    assert_eq!(
        net.events(),
        [Event::CallConference {
            call: call_ref.clone(),
            room: room.clone(),
            supervisor: "201".into(),
        }]
    );
    assert!(net.sent_to(&c.carrier).is_empty(), "nothing to the caller");
    assert!(net.sent_to(&c.bob).is_empty(), "nothing to the callee");
    assert!(
        net.sent_to(&sup.phone).is_empty(),
        "nothing to the supervisor"
    );
    assert!(
        net.chan_events(c.call).is_empty(),
        "the caller's Dial goes on"
    );
    assert!(gone(&mut net).is_empty());
    assert!(net.media_ops().is_empty(), "the room is ChanSpy's business");
    assert!(cdrs(&mut net).is_empty());
    let live = live_channels(&net);
    assert!(live.contains(&caller) && live.contains(&callee), "{live:?}");
}

#[test]
fn the_callee_leaving_a_conference_keeps_the_caller_in_and_the_caller_leaving_then_ends_the_call() {
    let mut net = Net::new();
    let Conf {
        mut c,
        caller,
        callee,
        call_ref,
        bridge,
        ..
    } = conferenced_call(&mut net);

    // 102 leaves the room.
    callee_bye(&mut net, &mut c);
    assert_eq!(net.statuses_to(&c.bob), [200]);
    assert!(net.requests_to(&c.bob).is_empty());
    assert!(net.sent_to(&c.carrier).is_empty(), "no BYE to the caller");
    assert!(
        net.chan_events(c.call).is_empty(),
        "the caller's Dial does not return: it is still in the room"
    );
    assert_eq!(gone(&mut net), [callee.as_str()]);
    let live = live_channels(&net);
    assert!(live.contains(&caller), "the caller stays: {live:?}");
    assert!(!live.contains(&callee), "{live:?}");
    assert!(cdrs(&mut net).is_empty(), "the call is not over");
    assert!(closed(&mut net).is_empty(), "the bridge stays open");
    assert!(forgotten(&mut net).is_empty());
    assert!(
        !net.events()
            .iter()
            .any(|e| matches!(e, Event::CallEnd { .. })),
        "no call.end yet"
    );

    // Later the carrier leaves too: now the call is over.
    net.advance(Duration::from_secs(5));
    net.out.clear();
    caller_bye(&mut net, &mut c);
    assert_eq!(net.statuses_to(&c.carrier), [200]);
    assert!(net.requests_to(&c.carrier).is_empty());
    assert!(net.sent_to(&c.bob).is_empty(), "102 already left");
    assert_eq!(
        net.chan_events(c.call),
        [ChanEvent::Hangup, dial_done(DialStatus::Cancel)]
    );
    let records = cdrs(&mut net);
    assert_eq!(records.len(), 1, "one record: {records:?}");
    assert_eq!(records[0].id, call_ref);
    assert_eq!(records[0].disposition, store::Disposition::Answered);
    assert_eq!(records[0].hangup_by, "caller");
    assert_eq!(records[0].caller_channel, caller);
    assert_eq!(records[0].callee_channel.as_deref(), Some(callee.as_str()));
    assert_eq!(closed(&mut net), [bridge]);
    assert_eq!(forgotten(&mut net), [c.call]);
    assert_eq!(gone(&mut net), [caller.as_str()]);
    let ends: Vec<Event> = net
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::CallEnd { .. }))
        .collect();
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!(live_channels(&net).len(), 1, "only the supervisor's");
}

#[test]
fn the_caller_leaving_a_conference_ends_its_dialplan_and_the_callee_leaving_then_ends_the_call() {
    let mut net = Net::new();
    let Conf {
        mut c,
        caller,
        callee,
        call_ref,
        bridge,
        ..
    } = conferenced_call(&mut net);

    // The carrier leaves the room.
    caller_bye(&mut net, &mut c);
    assert_eq!(net.statuses_to(&c.carrier), [200]);
    assert!(net.requests_to(&c.carrier).is_empty());
    assert!(net.sent_to(&c.bob).is_empty(), "no BYE to 102: it stays");
    assert_eq!(
        net.chan_events(c.call),
        [ChanEvent::Hangup, dial_done(DialStatus::Cancel)],
        "the caller's dialplan task ends"
    );
    assert_eq!(gone(&mut net), [caller.as_str()]);
    let live = live_channels(&net);
    assert!(!live.contains(&caller), "{live:?}");
    assert!(live.contains(&callee), "102 stays: {live:?}");
    assert!(cdrs(&mut net).is_empty());
    assert!(closed(&mut net).is_empty());
    assert!(forgotten(&mut net).is_empty());

    // The task hangs up, as a real one does after Hangup: the call goes on.
    net.chan(c.call, ChanOp::Hangup { status: None });
    assert!(net.sent_to(&c.bob).is_empty(), "still nothing to 102");
    assert!(
        net.sent_to(&c.carrier).is_empty(),
        "the caller already left"
    );
    assert!(cdrs(&mut net).is_empty(), "no record while 102 is in");
    assert!(closed(&mut net).is_empty());
    assert!(forgotten(&mut net).is_empty());
    assert!(live_channels(&net).contains(&callee));

    // Later 102 leaves: the call is over.
    net.advance(Duration::from_secs(5));
    net.out.clear();
    callee_bye(&mut net, &mut c);
    assert_eq!(net.statuses_to(&c.bob), [200]);
    assert!(net.requests_to(&c.bob).is_empty());
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(
        net.chan_events(c.call).is_empty(),
        "the task was told once: no second DialDone"
    );
    let records = cdrs(&mut net);
    assert_eq!(records.len(), 1, "one record: {records:?}");
    assert_eq!(records[0].id, call_ref);
    assert_eq!(records[0].disposition, store::Disposition::Answered);
    assert_eq!(records[0].hangup_by, "callee");
    assert_eq!(records[0].caller_channel, caller);
    assert_eq!(records[0].callee_channel.as_deref(), Some(callee.as_str()));
    assert_eq!(closed(&mut net), [bridge]);
    assert_eq!(forgotten(&mut net), [c.call]);
    assert_eq!(gone(&mut net), [callee.as_str()]);
    let ends: Vec<Event> = net
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::CallEnd { .. }))
        .collect();
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!(live_channels(&net).len(), 1, "only the supervisor's");
}

fn with_sdp(mut r: Request, sdp: String) -> Request {
    r.headers.push("Content-Type", "application/sdp");
    r.body = sdp.into_bytes();
    r
}

/// The one answer to a re-offer: a 200.
fn answered(net: &mut Net, phone: &Phone) -> Response {
    let r = net.responses_to(phone);
    assert_eq!(r.len(), 1, "one answer to the re-offer: {r:?}");
    assert_eq!(r[0].status, 200, "{r:?}");
    r[0].clone()
}

/// The carrier re-INVITEs with `direction` and ACKs our 200.
fn caller_reoffers(net: &mut Net, c: &mut Answered, direction: &str) {
    let reinvite = c.carrier.in_dialog(Method::Invite, &c.invite, &c.ok);
    let reinvite = with_sdp(reinvite, sdp_with(c.carrier.rtp, direction));
    net.deliver(&c.carrier, reinvite.clone());
    let ok = answered(net, &c.carrier);
    let ack = c.carrier.in_dialog(Method::Ack, &reinvite, &ok);
    net.deliver(&c.carrier, ack);
}

/// 102 re-INVITEs with `direction` and ACKs our 200.
fn callee_reoffers(net: &mut Net, c: &mut Answered, direction: &str) {
    let req = c
        .bob
        .in_callee_dialog(Method::Invite, &c.to_bob, &c.bob_tag);
    let req = with_sdp(req, sdp_with(c.bob.rtp, direction));
    net.deliver(&c.bob, req.clone());
    answered(net, &c.bob);
    let mut ack = c.bob.in_callee_dialog(Method::Ack, &c.to_bob, &c.bob_tag);
    let seq = req.cseq().unwrap().seq;
    ack.headers.set("CSeq", format!("{seq} ACK"));
    net.deliver(&c.bob, ack);
}

fn assert_no_hold(net: &mut Net, who: &str) {
    let ops = net.media_ops();
    assert!(
        !ops.iter()
            .any(|(_, op)| matches!(op, MediaOp::HoldMusic { .. })),
        "{who}: no music on hold in a room: {ops:?}"
    );
    let events = net.events();
    assert!(
        !events.iter().any(|e| matches!(e, Event::CallHold { .. })),
        "{who}: no call.hold: {events:?}"
    );
}

#[test]
fn holding_in_a_conference_is_answered_but_plays_no_music_and_announces_nothing() {
    let mut net = Net::new();
    let Conf { mut c, .. } = conferenced_call(&mut net);

    caller_reoffers(&mut net, &mut c, "sendonly");
    assert_no_hold(&mut net, "the caller holds");
    assert!(net.sent_to(&c.bob).is_empty(), "nothing to the other phone");
    caller_reoffers(&mut net, &mut c, "sendrecv");
    assert_no_hold(&mut net, "the caller resumes");

    callee_reoffers(&mut net, &mut c, "sendonly");
    assert_no_hold(&mut net, "the callee holds");
    assert!(
        net.sent_to(&c.carrier).is_empty(),
        "nothing to the other phone"
    );
    callee_reoffers(&mut net, &mut c, "sendrecv");
    assert_no_hold(&mut net, "the callee resumes");

    // Both still in the call.
    assert!(net.chan_events(c.call).is_empty());
    assert!(cdrs(&mut net).is_empty());
}

#[test]
fn a_conference_naming_a_channel_on_no_call_or_a_ringing_call_is_refused_as_no_call() {
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
            conference(&mut net, sup.call, "201", target, "call-x"),
            [ChanEvent::ConferenceDone(Err(TakeOverRefused::NoCall(
                target.to_string()
            )))],
            "naming {target}"
        );
    }
    assert!(net.sent_to(&ringing.carrier).is_empty());
    assert!(net.sent_to(&ringing.bob).is_empty());
    assert!(net.sent_to(&sup.phone).is_empty());
    assert!(net.events().is_empty(), "no call.conference");
    assert!(gone(&mut net).is_empty());

    // The refused call is no conference: once answered, its callee leaving
    // returns the Dial as usual.
    let Ringing {
        call,
        mut carrier,
        invite,
        mut bob,
        to_bob,
    } = ringing;
    net.deliver(
        &bob,
        bob.answer(&to_bob, 200, "bobtag", Some(&sdp_offer(bob.rtp))),
    );
    let ok = net
        .responses_to(&carrier)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("the caller got its 200");
    let ack = carrier.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&carrier, ack);
    net.out.clear();
    let bye = bob.in_callee_dialog(Method::Bye, &to_bob, "bobtag");
    net.deliver(&bob, bye);
    assert_eq!(net.chan_events(call), [dial_done(DialStatus::Answer)]);
}

#[test]
fn a_conference_on_a_taken_over_call_is_refused_with_who_took_it_over() {
    let mut net = Net::new();
    let c = answered_call(&mut net);
    let client = channel_of(&net, "carrier");
    let agent = channel_of(&net, "102");
    let sup = supervisor_call(&mut net);
    assert_eq!(
        take_over(&mut net, &sup, &agent),
        [ChanEvent::TakeOverDone(Ok(()))]
    );
    net.out.clear();

    let other = supervisor_call_of(&mut net, "202", "127.0.0.7:5062");
    for (call, by) in [(sup.call, "201"), (other.call, "202")] {
        assert_eq!(
            conference(&mut net, call, by, &client, "call-x"),
            [ChanEvent::ConferenceDone(Err(TakeOverRefused::Already(
                "201".into()
            )))],
            "asked by {by}"
        );
    }
    assert!(net.events().is_empty(), "no call.conference");
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(net.sent_to(&sup.phone).is_empty());
    assert!(gone(&mut net).is_empty());
}

#[test]
fn a_second_conference_on_a_conferenced_call_is_granted_and_announced_once() {
    let mut net = Net::new();
    let Conf {
        c,
        sup,
        caller,
        callee,
        room,
        ..
    } = conferenced_call(&mut net);
    let other = supervisor_call_of(&mut net, "202", "127.0.0.7:5062");

    // Another supervisor joins, naming either party; the first asks again.
    for (call, by, target) in [
        (other.call, "202", &caller),
        (other.call, "202", &callee),
        (sup.call, "201", &callee),
    ] {
        assert_eq!(
            conference(&mut net, call, by, target, &room),
            [ChanEvent::ConferenceDone(Ok(()))],
            "{by} naming {target}"
        );
    }
    assert!(
        net.events().is_empty(),
        "the call became a conference once: {:?}",
        net.events()
    );
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(net.sent_to(&c.bob).is_empty());
    assert!(net.chan_events(c.call).is_empty());
}

#[test]
fn hanging_up_the_callee_channel_of_a_conference_byes_only_it_and_the_caller_stays() {
    let mut net = Net::new();
    let Conf {
        mut c,
        sup,
        caller,
        callee,
        bridge,
        ..
    } = conferenced_call(&mut net);

    net.chan(
        sup.call,
        ChanOp::HangupChannel {
            channel: callee.clone(),
        },
    );
    let to_bob = net.requests_to(&c.bob);
    assert_eq!(methods(&to_bob), [Method::Bye]);
    assert!(net.sent_to(&c.carrier).is_empty(), "the caller stays");
    assert!(net.sent_to(&sup.phone).is_empty());
    assert!(
        net.chan_events(c.call).is_empty(),
        "the caller's Dial goes on: it is in the room"
    );
    assert!(net.chan_events(sup.call).is_empty());
    assert_eq!(gone(&mut net), [callee.as_str()]);
    assert!(live_channels(&net).contains(&caller));
    assert!(cdrs(&mut net).is_empty());
    assert!(closed(&mut net).is_empty());
    // 102's answer to our BYE, and its own BYE crossing ours: a 200, no effect.
    net.deliver(&c.bob, c.bob.answer(&to_bob[0], 200, &c.bob_tag, None));
    callee_bye(&mut net, &mut c);
    assert_eq!(net.statuses_to(&c.bob), [200]);
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(net.chan_events(c.call).is_empty());

    // The caller leaves: the call ends.
    caller_bye(&mut net, &mut c);
    assert_eq!(net.statuses_to(&c.carrier), [200]);
    assert_eq!(
        net.chan_events(c.call),
        [ChanEvent::Hangup, dial_done(DialStatus::Cancel)]
    );
    assert_eq!(cdrs(&mut net).len(), 1);
    assert_eq!(closed(&mut net), [bridge]);
}

#[test]
fn hanging_up_the_caller_channel_of_a_conference_byes_only_it_and_the_callee_stays() {
    let mut net = Net::new();
    let Conf {
        mut c,
        sup,
        caller,
        callee,
        bridge,
        ..
    } = conferenced_call(&mut net);

    net.chan(
        sup.call,
        ChanOp::HangupChannel {
            channel: caller.clone(),
        },
    );
    let to_carrier = net.requests_to(&c.carrier);
    assert_eq!(methods(&to_carrier), [Method::Bye]);
    assert!(net.sent_to(&c.bob).is_empty(), "102 stays");
    assert!(net.sent_to(&sup.phone).is_empty());
    assert_eq!(
        net.chan_events(c.call),
        [ChanEvent::Hangup, dial_done(DialStatus::Cancel)],
        "the caller's dialplan task ends"
    );
    assert_eq!(gone(&mut net), [caller.as_str()]);
    assert!(live_channels(&net).contains(&callee));
    assert!(cdrs(&mut net).is_empty());
    assert!(closed(&mut net).is_empty());
    // The carrier's own BYE crossed ours: a 200, nothing more. It answers ours,
    // the task hangs up: 102 is still in.
    caller_bye(&mut net, &mut c);
    assert_eq!(net.statuses_to(&c.carrier), [200]);
    assert!(net.chan_events(c.call).is_empty(), "the task was told once");
    net.deliver(&c.carrier, c.carrier.answer(&to_carrier[0], 200, "x", None));
    net.chan(c.call, ChanOp::Hangup { status: None });
    assert!(net.sent_to(&c.bob).is_empty());
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(cdrs(&mut net).is_empty());

    // 102 leaves: the call ends.
    callee_bye(&mut net, &mut c);
    assert_eq!(net.statuses_to(&c.bob), [200]);
    let records = cdrs(&mut net);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].hangup_by, "callee");
    assert_eq!(closed(&mut net), [bridge]);
    assert_eq!(forgotten(&mut net), [c.call]);
    assert!(net.sw.is_settled());
}

#[test]
fn hanging_up_the_callee_channel_of_a_plain_call_is_as_if_it_hung_up() {
    let mut net = Net::new();
    let c = answered_call(&mut net);
    let callee = channel_of(&net, "102");
    let sup = supervisor_call(&mut net);

    // A channel on no call: nothing happens.
    net.chan(
        sup.call,
        ChanOp::HangupChannel {
            channel: "SIP/999-00000042".into(),
        },
    );
    assert!(net.out.is_empty(), "{:?}", net.out);

    net.chan(
        sup.call,
        ChanOp::HangupChannel {
            channel: callee.clone(),
        },
    );
    let to_bob = net.requests_to(&c.bob);
    assert_eq!(methods(&to_bob), [Method::Bye]);
    assert!(
        net.sent_to(&c.carrier).is_empty(),
        "the caller's dialplan goes on"
    );
    assert_eq!(
        net.chan_events(c.call),
        [dial_done(DialStatus::Answer)],
        "the caller's Dial returns, as when the callee hangs up"
    );
    assert_eq!(gone(&mut net), [callee.as_str()]);
    assert!(cdrs(&mut net).is_empty());

    // The caller's dialplan ends: BYE to the carrier, the call is recorded.
    net.chan(c.call, ChanOp::Hangup { status: None });
    assert_eq!(methods(&net.requests_to(&c.carrier)), [Method::Bye]);
    assert!(net.sent_to(&c.bob).is_empty());
    assert_eq!(cdrs(&mut net).len(), 1);
}

/// Everything the switch has to say after a call made outside `Net`.
fn drain(net: &mut Net) {
    net.out
        .extend(std::iter::from_fn(|| net.sw.poll_output()).collect::<Vec<_>>());
}

#[test]
fn a_shutdown_still_ends_both_legs_of_a_conference_at_once() {
    let mut net = Net::new();
    let Conf {
        c,
        sup,
        call_ref,
        bridge,
        ..
    } = conferenced_call(&mut net);

    let now = net.now;
    net.sw.shutdown(now);
    drain(&mut net);
    assert_eq!(methods(&net.requests_to(&c.carrier)), [Method::Bye]);
    assert_eq!(methods(&net.requests_to(&c.bob)), [Method::Bye]);
    assert_eq!(methods(&net.requests_to(&sup.phone)), [Method::Bye]);
    assert!(net.chan_events(c.call).contains(&ChanEvent::Hangup));
    let records = cdrs(&mut net);
    let mine: Vec<_> = records.iter().filter(|r| r.id == call_ref).collect();
    assert_eq!(mine.len(), 1, "{records:?}");
    assert_eq!(mine[0].disposition, store::Disposition::Answered);
    assert!(closed(&mut net).contains(&bridge));
    assert_eq!(live_channels(&net).len(), 0);
}

#[test]
fn a_shutdown_after_the_caller_left_a_conference_byes_the_callee() {
    let mut net = Net::new();
    let Conf {
        mut c,
        call_ref,
        bridge,
        ..
    } = conferenced_call(&mut net);
    caller_bye(&mut net, &mut c);
    net.chan(c.call, ChanOp::Hangup { status: None });
    net.out.clear();

    let now = net.now;
    net.sw.shutdown(now);
    drain(&mut net);
    assert_eq!(methods(&net.requests_to(&c.bob)), [Method::Bye]);
    assert!(
        net.requests_to(&c.carrier).is_empty(),
        "the caller already left"
    );
    let records = cdrs(&mut net);
    assert_eq!(
        records.iter().filter(|r| r.id == call_ref).count(),
        1,
        "{records:?}"
    );
    assert!(closed(&mut net).contains(&bridge));
}

#[test]
fn the_supervisor_leaving_ends_nothing_of_the_conferenced_call() {
    let mut net = Net::new();
    let Conf {
        mut c,
        mut sup,
        bridge,
        ..
    } = conferenced_call(&mut net);

    let bye = sup.phone.in_dialog(Method::Bye, &sup.invite, &sup.ok);
    net.deliver(&sup.phone, bye);
    assert_eq!(net.statuses_to(&sup.phone), [200]);
    assert_eq!(net.chan_events(sup.call), [ChanEvent::Hangup]);
    net.chan(sup.call, ChanOp::Hangup { status: None });
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(net.sent_to(&c.bob).is_empty());
    assert!(net.chan_events(c.call).is_empty());
    let records = cdrs(&mut net);
    assert_eq!(records.len(), 1, "only the supervisor's call: {records:?}");
    assert_eq!(records[0].caller, "201");
    assert!(!closed(&mut net).contains(&bridge));

    // The two parties still leave one by one.
    callee_bye(&mut net, &mut c);
    assert!(net.sent_to(&c.carrier).is_empty());
    assert!(net.chan_events(c.call).is_empty());
    caller_bye(&mut net, &mut c);
    assert_eq!(cdrs(&mut net).len(), 1);
    assert_eq!(closed(&mut net), [bridge]);
}

/// A conference cannot be taken over (everyone in it is a party already): the
/// call's end stays the conference's, with no supervisor holding it.
#[test]
fn taking_over_the_caller_of_a_conference_is_refused_or_ends_the_call_with_that_supervisor() {
    let mut net = Net::new();
    let Conf {
        c,
        caller,
        callee,
        call_ref,
        bridge,
        ..
    } = conferenced_call(&mut net);
    // Another supervisor, spying on the conferenced call, takes its caller over.
    let other = supervisor_call_of(&mut net, "202", "127.0.0.7:5062");
    net.chan(
        other.call,
        ChanOp::TakeOver {
            supervisor: "202".into(),
            channel: other.channel.clone(),
            target: caller.clone(),
        },
    );
    let granted = net.chan_events(other.call);
    if granted != [ChanEvent::TakeOverDone(Ok(()))] {
        // Refused: the conference goes on untouched.
        assert!(
            matches!(granted[..], [ChanEvent::TakeOverDone(Err(_))]),
            "{granted:?}"
        );
        assert!(net.sent_to(&c.carrier).is_empty());
        assert!(net.sent_to(&c.bob).is_empty());
        return;
    }
    assert_eq!(methods(&net.requests_to(&c.carrier)), [Method::Bye]);
    net.out.clear();

    // The supervisor who took the call over leaves: the call must end with it.
    net.chan(other.call, ChanOp::Hangup { status: None });
    assert_eq!(
        methods(&net.requests_to(&c.bob)),
        [Method::Bye],
        "a taken-over call ends with the supervisor who took it over"
    );
    let records = cdrs(&mut net);
    assert_eq!(
        records.iter().filter(|r| r.id == call_ref).count(),
        1,
        "the conferenced call is recorded: {records:?}"
    );
    assert!(closed(&mut net).contains(&bridge));
    assert!(!live_channels(&net).contains(&callee));
}
