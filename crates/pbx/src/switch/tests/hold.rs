//! Hold between two phones: the leg that holds (a re-offer with `a=sendonly` or
//! `a=inactive`) makes the bridge play the call's music on hold to the other phone,
//! once per hold, until it resumes; each change is a `call.hold` event naming the
//! channel that holds. The class is the caller's dialplan's (`SetMusicOnHold`).
//! A call the PBX answered itself has no peer to play music to.

use media::Side;
use sip::{Method, Request, Response};

use super::harness::*;
use crate::chan::{ChanEvent, ChanOp};
use crate::events::Event;
use crate::switch::{BridgeId, CallId, MediaOp};

/// The hold-music ops among `ops`, in order: (bridge, side, class).
fn music(ops: &[(BridgeId, MediaOp)]) -> Vec<(BridgeId, Side, Option<String>)> {
    ops.iter()
        .filter_map(|(b, op)| match op {
            MediaOp::HoldMusic { side, class } => Some((*b, *side, class.clone())),
            _ => None,
        })
        .collect()
}

/// The `call.hold` events among `events`, in order: (call, channel, held).
fn holds(events: &[Event]) -> Vec<(String, String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallHold {
                call,
                channel,
                held,
            } => Some((call.clone(), channel.clone(), *held)),
            _ => None,
        })
        .collect()
}

/// A live channel of `endpoint`: its name, its call's public id, its bridge and
/// the bridge side facing its phone.
struct Chan {
    name: String,
    call_ref: String,
    bridge: BridgeId,
    side: Side,
}

fn chan_of(net: &Net, endpoint: &str) -> Chan {
    let c = net
        .sw
        .channels()
        .find(|c| c.endpoint == endpoint)
        .unwrap_or_else(|| panic!("a live channel of {endpoint}"));
    Chan {
        name: c.name.clone(),
        call_ref: c.call_ref.clone(),
        bridge: c.bridge,
        side: c.side,
    }
}

/// What the switch answered to a re-offer, after the phone's ACK went in.
fn answered(net: &mut Net, phone: &Phone) -> Response {
    let r = net.responses_to(phone);
    assert_eq!(r.len(), 1, "one answer to the re-offer: {r:?}");
    assert_eq!(r[0].status, 200, "{r:?}");
    r[0].clone()
}

fn with_sdp(mut r: Request, sdp: String) -> Request {
    r.headers.push("Content-Type", "application/sdp");
    r.body = sdp.into_bytes();
    r
}

/// The caller (the carrier) re-INVITEs with `direction`, and ACKs our 200.
fn caller_reoffers(net: &mut Net, c: &mut Answered, direction: &str) {
    let reinvite = c.carrier.in_dialog(Method::Invite, &c.invite, &c.ok);
    let reinvite = with_sdp(reinvite, sdp_with(c.carrier.rtp, direction));
    net.deliver(&c.carrier, reinvite.clone());
    let ok = answered(net, &c.carrier);
    let ack = c.carrier.in_dialog(Method::Ack, &reinvite, &ok);
    net.deliver(&c.carrier, ack);
}

/// The callee (Bob) re-offers with `direction` in `method` (INVITE or UPDATE),
/// and ACKs our 200 to an INVITE.
fn callee_reoffers(net: &mut Net, c: &mut Answered, method: Method, direction: &str) {
    let req = c
        .bob
        .in_callee_dialog(method.clone(), &c.to_bob, &c.bob_tag);
    let req = with_sdp(req, sdp_with(c.bob.rtp, direction));
    net.deliver(&c.bob, req.clone());
    answered(net, &c.bob);
    if method == Method::Invite {
        let mut ack = c.bob.in_callee_dialog(Method::Ack, &c.to_bob, &c.bob_tag);
        let seq = req.cseq().unwrap().seq;
        ack.headers.set("CSeq", format!("{seq} ACK"));
        net.deliver(&c.bob, ack);
    }
}

#[test]
fn the_callee_holding_plays_default_music_to_the_caller_once_until_it_resumes() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let caller = chan_of(&net, "carrier");
    let callee = chan_of(&net, "102");
    assert_eq!(caller.side, Side::A);
    assert_eq!(callee.bridge, caller.bridge, "one bridge for the call");

    callee_reoffers(&mut net, &mut c, Method::Invite, "sendonly");
    assert_eq!(
        music(&net.media_ops()),
        [(caller.bridge, Side::A, Some("default".to_string()))],
        "the caller's phone hears the default class"
    );
    assert_eq!(
        holds(&net.events()),
        [(callee.call_ref.clone(), callee.name.clone(), true)],
        "the event names the call and the channel that holds"
    );
    assert!(
        net.sent_to(&c.carrier).is_empty(),
        "the caller's phone is sent no SIP: the PBX plays it music"
    );

    // The phone refreshes its hold (a session timer, a codec change, or
    // `inactive` now): already holding, so no second op and no second event.
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendonly");
    callee_reoffers(&mut net, &mut c, Method::Invite, "inactive");
    let ops = net.media_ops();
    assert!(
        music(&ops).is_empty(),
        "a repeated hold starts nothing: {ops:?}"
    );
    assert_eq!(
        remote_set(&ops, Side::B),
        Some(c.bob.rtp),
        "the re-offers still updated Bob's side"
    );
    assert!(holds(&net.events()).is_empty());

    // Bob resumes: the music stops and the caller hears Bob again.
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendrecv");
    assert_eq!(
        music(&net.media_ops()),
        [(caller.bridge, Side::A, None)],
        "the caller's music is removed"
    );
    assert_eq!(
        holds(&net.events()),
        [(callee.call_ref.clone(), callee.name.clone(), false)]
    );

    // A second resume changes nothing; a new hold plays music again.
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendrecv");
    assert!(music(&net.media_ops()).is_empty());
    assert!(holds(&net.events()).is_empty());
    callee_reoffers(&mut net, &mut c, Method::Invite, "inactive");
    assert_eq!(
        music(&net.media_ops()),
        [(caller.bridge, Side::A, Some("default".to_string()))]
    );
    assert_eq!(holds(&net.events()), [(callee.call_ref, callee.name, true)]);
    // No channel task is bothered with the hold.
    assert!(net.chan_events(c.call).is_empty());
}

#[test]
fn an_update_holds_as_a_reinvite_does() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let caller = chan_of(&net, "carrier");
    let callee = chan_of(&net, "102");
    callee_reoffers(&mut net, &mut c, Method::Update, "sendonly");
    assert_eq!(
        music(&net.media_ops()),
        [(caller.bridge, Side::A, Some("default".to_string()))]
    );
    assert_eq!(
        holds(&net.events()),
        [(callee.call_ref.clone(), callee.name.clone(), true)]
    );
    callee_reoffers(&mut net, &mut c, Method::Update, "sendrecv");
    assert_eq!(music(&net.media_ops()), [(caller.bridge, Side::A, None)]);
    assert_eq!(
        holds(&net.events()),
        [(callee.call_ref, callee.name, false)]
    );
}

#[test]
fn the_caller_holding_plays_music_to_the_callee() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let caller = chan_of(&net, "carrier");
    let callee = chan_of(&net, "102");
    assert_eq!(callee.side, Side::B);

    caller_reoffers(&mut net, &mut c, "sendonly");
    assert_eq!(
        music(&net.media_ops()),
        [(callee.bridge, Side::B, Some("default".to_string()))],
        "Bob's phone hears the music, not the caller's"
    );
    assert_eq!(
        holds(&net.events()),
        [(caller.call_ref.clone(), caller.name.clone(), true)],
        "the channel that holds is the caller's"
    );
    assert!(net.sent_to(&c.bob).is_empty(), "Bob is sent no SIP");

    caller_reoffers(&mut net, &mut c, "sendrecv");
    assert_eq!(music(&net.media_ops()), [(callee.bridge, Side::B, None)]);
    assert_eq!(
        holds(&net.events()),
        [(caller.call_ref, caller.name, false)]
    );
}

#[test]
fn each_leg_holding_plays_music_to_the_other_independently() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let bridge = chan_of(&net, "carrier").bridge;
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendonly");
    caller_reoffers(&mut net, &mut c, "sendonly");
    assert_eq!(
        music(&net.media_ops()),
        [
            (bridge, Side::A, Some("default".to_string())),
            (bridge, Side::B, Some("default".to_string())),
        ]
    );
    // Bob resumes while the caller still holds him: only the caller's music stops.
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendrecv");
    assert_eq!(music(&net.media_ops()), [(bridge, Side::A, None)]);
    let events = holds(&net.events());
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(
        events.iter().map(|e| e.2).collect::<Vec<_>>(),
        [true, true, false]
    );
}

/// As `answered_call`, but the caller's dialplan runs `SetMusicOnHold(class)`
/// before its `Dial`.
fn answered_with_class(net: &mut Net, class: &str) -> Answered {
    let bob = Phone::new("102", "127.0.0.2:5062");
    net.register(&bob);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let invite = carrier.invite("102", Some(&sdp_offer(carrier.rtp)));
    net.deliver(&carrier, invite.clone());
    let call: CallId = net.spawned().pop().expect("a channel task").call;
    net.chan(
        call,
        ChanOp::MusicClass {
            class: class.to_string(),
        },
    );
    net.chan(
        call,
        ChanOp::Dial {
            endpoints: vec!["102".to_string()],
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
        .responses_to(&carrier)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("the caller got its 200");
    let ack = carrier.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&carrier, ack);
    net.out.clear();
    Answered {
        call,
        carrier,
        invite,
        ok,
        bob,
        to_bob,
        bob_tag: "bobtag".into(),
    }
}

#[test]
fn the_callers_music_class_is_what_either_held_phone_hears() {
    let mut net = Net::new();
    let mut c = answered_with_class(&mut net, "jazz");
    let bridge = chan_of(&net, "carrier").bridge;
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendonly");
    assert_eq!(
        music(&net.media_ops()),
        [(bridge, Side::A, Some("jazz".to_string()))]
    );
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendrecv");
    assert_eq!(music(&net.media_ops()), [(bridge, Side::A, None)]);
    // The class is the call's: Bob held by the caller hears it too.
    caller_reoffers(&mut net, &mut c, "inactive");
    assert_eq!(
        music(&net.media_ops()),
        [(bridge, Side::B, Some("jazz".to_string()))]
    );
}

#[test]
fn a_class_set_during_the_call_applies_to_the_next_hold_and_blank_means_default() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let bridge = chan_of(&net, "carrier").bridge;
    net.chan(
        c.call,
        ChanOp::MusicClass {
            class: " jazz ".into(),
        },
    );
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendonly");
    assert_eq!(
        music(&net.media_ops()),
        [(bridge, Side::A, Some("jazz".to_string()))],
        "the class, trimmed"
    );
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendrecv");
    net.chan(c.call, ChanOp::MusicClass { class: "  ".into() });
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendonly");
    let ops = music(&net.media_ops());
    assert_eq!(
        ops.last(),
        Some(&(bridge, Side::A, Some("default".to_string())))
    );
}

#[test]
fn a_call_the_pbx_answered_itself_gets_no_music() {
    let mut net = Net::new();
    // Extension 101 dials ChanSpy and its dialplan answers: no B leg.
    let mut phone = Phone::new("101", "127.0.0.4:5062");
    let invite = phone.invite("*222", Some(&sdp_offer(phone.rtp)));
    net.deliver(&phone, invite.clone());
    let challenge = net.responses_to(&phone).pop().expect("a challenge");
    assert_eq!(challenge.status, 407);
    let invite = phone.authorized(&invite, &challenge, "pw101");
    net.deliver(&phone, invite.clone());
    let call = net.spawned().pop().expect("a dialplan task").call;
    net.chan(call, ChanOp::Answer);
    assert_eq!(net.chan_events(call), [ChanEvent::AnswerDone(true)]);
    let ok = net
        .responses_to(&phone)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("answered");
    let ack = phone.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&phone, ack);
    net.out.clear();

    let hold = phone.in_dialog(Method::Invite, &invite, &ok);
    net.deliver(&phone, with_sdp(hold, sdp_with(phone.rtp, "sendonly")));
    assert_eq!(net.statuses_to(&phone), [200], "the hold is answered");
    let ops = net.media_ops();
    assert_eq!(
        remote_set(&ops, Side::A),
        Some(phone.rtp),
        "the offer reached the bridge"
    );
    assert!(music(&ops).is_empty(), "nobody to play music to: {ops:?}");
    assert!(holds(&net.events()).is_empty());
}

#[test]
fn a_click_to_spy_supervisor_holding_plays_no_music_to_the_pbx() {
    let mut net = Net::new();
    // An answered trunk call to agent 110, and supervisor 201 registered.
    let Ringing {
        bob: agent, to_bob, ..
    } = ringing_call(&mut net, "110");
    net.deliver(
        &agent,
        agent.answer(&to_bob, 200, "a1", Some(&sdp_offer(agent.rtp))),
    );
    let call_ref = chan_of(&net, "110").call_ref;
    let mut sup = Phone::new("201", "127.0.0.5:5062");
    net.register(&sup);
    net.out.clear();

    // The PBX places the supervisor's call (its leg A is the PBX) and 201 answers.
    let now = net.now;
    net.sw
        .start_monitor(
            "201",
            &call_ref,
            media::mix::SpyMode::Whisper,
            model::Follow::None,
            now,
        )
        .unwrap();
    net.out
        .extend(std::iter::from_fn(|| net.sw.poll_output()).collect::<Vec<_>>());
    let spawn = net.spawned().pop().expect("a click-to-spy task");
    net.chan(
        spawn.call,
        ChanOp::Dial {
            endpoints: vec!["201".into()],
            timeout: None,
            vars: vec![],
        },
    );
    let ring = net.requests_to(&sup).remove(0);
    net.deliver(
        &sup,
        sup.answer(&ring, 200, "s1", Some(&sdp_offer(sup.rtp))),
    );
    assert!(matches!(
        &net.chan_events(spawn.call)[..],
        [ChanEvent::PlacedAnswered(_)]
    ));
    net.out.clear();

    // The supervisor's phone holds: the PBX side has no phone to hear music.
    let hold = sup.in_callee_dialog(Method::Invite, &ring, "s1");
    net.deliver(&sup, with_sdp(hold, sdp_with(sup.rtp, "sendonly")));
    assert_eq!(net.statuses_to(&sup), [200], "the hold is answered");
    let ops = net.media_ops();
    assert_eq!(
        remote_set(&ops, Side::B),
        Some(sup.rtp),
        "the offer reached the bridge"
    );
    assert!(music(&ops).is_empty(), "no music for the PBX: {ops:?}");
    assert!(holds(&net.events()).is_empty());
}

#[test]
fn a_resume_by_an_offerless_reinvite_stops_the_music() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let caller = chan_of(&net, "carrier");
    let callee = chan_of(&net, "102");
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendonly");
    assert_eq!(
        music(&net.media_ops()),
        [(caller.bridge, Side::A, Some("default".to_string()))]
    );
    net.out.clear();

    // Bob resumes with a re-INVITE without SDP (delayed offer, as some phones and
    // SBCs do): we offer sendrecv in our 200, his ACK answers sendrecv.
    let reinvite = c
        .bob
        .in_callee_dialog(Method::Invite, &c.to_bob, &c.bob_tag);
    net.deliver(&c.bob, reinvite.clone());
    let ok = answered(&mut net, &c.bob);
    assert!(
        String::from_utf8_lossy(&ok.body).contains("a=sendrecv"),
        "we offer sendrecv"
    );
    let mut ack = c.bob.in_callee_dialog(Method::Ack, &c.to_bob, &c.bob_tag);
    let seq = reinvite.cseq().unwrap().seq;
    ack.headers.set("CSeq", format!("{seq} ACK"));
    let ack = with_sdp(ack, sdp_offer(c.bob.rtp));
    net.deliver(&c.bob, ack);
    let ops = net.media_ops();
    assert_eq!(
        remote_set(&ops, Side::B),
        Some(c.bob.rtp),
        "the ACK's answer is used"
    );
    assert_eq!(
        music(&ops),
        [(caller.bridge, Side::A, None)],
        "Bob talks again: the caller must hear him, not the music"
    );
    assert_eq!(
        holds(&net.events()),
        [(callee.call_ref, callee.name, false)]
    );
}

#[test]
fn the_music_stops_when_the_phone_that_holds_hangs_up() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let caller = chan_of(&net, "carrier");
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendonly");
    net.out.clear();

    // Bob hangs up while holding: the caller's dialplan goes on after its Dial
    // (a prompt, another Dial), so its phone must not hear music any more.
    let bye = c.bob.in_callee_dialog(Method::Bye, &c.to_bob, &c.bob_tag);
    net.deliver(&c.bob, bye);
    assert_eq!(net.statuses_to(&c.bob), [200]);
    assert!(net.sent_to(&c.carrier).is_empty(), "the caller stays");
    assert_eq!(
        music(&net.media_ops()),
        [(caller.bridge, Side::A, None)],
        "the holder is gone: the caller's music is removed"
    );
}

/// Supervisor 201 calls ChanSpy (`*222`) and its dialplan answers: its call and
/// channel.
fn supervisor_in_chanspy(net: &mut Net) -> (CallId, String) {
    let mut phone = Phone::new("201", "127.0.0.5:5062");
    let invite = phone.invite("*222", Some(&sdp_offer(phone.rtp)));
    net.deliver(&phone, invite.clone());
    let challenge = net.responses_to(&phone).pop().expect("a challenge");
    let invite = phone.authorized(&invite, &challenge, "pw201");
    net.deliver(&phone, invite.clone());
    let spawn = net.spawned().pop().expect("a dialplan task");
    net.chan(spawn.call, ChanOp::Answer);
    let ok = net
        .responses_to(&phone)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("answered");
    let ack = phone.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&phone, ack);
    net.out.clear();
    (spawn.call, spawn.channel)
}

#[test]
fn the_music_stops_when_a_supervisor_takes_over_the_phone_that_holds() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let client = chan_of(&net, "carrier");
    let agent = chan_of(&net, "102");
    callee_reoffers(&mut net, &mut c, Method::Invite, "sendonly");
    let (sup_call, sup_channel) = supervisor_in_chanspy(&mut net);
    net.out.clear();

    // The agent put the client on hold (to ask the supervisor, say), and the
    // supervisor takes the call over: the agent's leg is gone and will never
    // resume, so the client must hear the supervisor, not music under them.
    net.chan(
        sup_call,
        ChanOp::TakeOver {
            supervisor: "201".into(),
            channel: sup_channel,
            target: agent.name.clone(),
        },
    );
    assert_eq!(net.chan_events(sup_call), [ChanEvent::TakeOverDone(Ok(()))]);
    assert_eq!(
        music(&net.media_ops()),
        [(client.bridge, Side::A, None)],
        "the client's music is removed with the agent"
    );
}
