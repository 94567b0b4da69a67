//! Transfers (`switch/transfer/`), three flows:
//!
//! - **Blind transfer by a phone** (REFER without Replaces): the callee of an
//!   answered call REFERs its caller to another extension. The transferer gets
//!   `202 Accepted`, two NOTIFYs of the `refer` subscription (sipfrag `SIP/2.0 100
//!   Trying`, then `SIP/2.0 200 OK` with the subscription terminated) and a BYE; the
//!   caller's channel task is told `Transferred` (where its dialplan goes on) before
//!   its `Dial` returns, and the caller's phone sees nothing: the dialplan dials the
//!   target like any other call. From the caller (an agent who dialled out), the
//!   callee's leg gets a new call and a dialplan task of its own, re-INVITEd onto
//!   its bridge. Refusals (no such extension, a REFER from a trunk, no Refer-To)
//!   leave the call as it was.
//! - **Attended transfer by a phone** (Refer-To with Replaces): 102 talks to the
//!   carrier on call 1, holds it, calls 103 on call 2, then REFERs. The PBX joins
//!   the carrier and 103 on call 1 (whose dialplan task keeps running): 103 is
//!   re-INVITEd to call 1's bridge, 102 gets both NOTIFYs and a BYE on each of its
//!   dialogs, call 2 ends. A refused re-INVITE hangs 103 up; a Replaces naming no
//!   dialog of ours is refused. Between two calls an agent dialled, the two callees
//!   get a new call without a task, which ends when either hangs up.
//! - **`Transfer()` in the dialplan** (`ChanOp::Transfer`): an answered caller's
//!   phone is sent a REFER and its NOTIFYs decide `TransferDone`; a ringing caller
//!   gets a 302 to the target and the call ends.

use std::net::SocketAddr;
use std::time::Duration;

use media::Side;
use sip::{Message, Method, Request, Response};

use super::harness::*;
use crate::chan::{ChanEvent, ChanOp, DialOutcome, DialStatus, TransferStatus, Transferred};
use crate::events::Event;
use crate::switch::{BridgeId, CallId, ChannelInfo, MediaOp, Output};

// ------------------------------------------------------------------ helpers

fn dial_done(status: DialStatus) -> ChanEvent {
    ChanEvent::DialDone(DialOutcome { status })
}

fn dial(endpoint: &str) -> ChanOp {
    ChanOp::Dial {
        endpoints: vec![endpoint.to_string()],
        timeout: None,
        vars: Vec::new(),
    }
}

fn transfer_op(exten: &str) -> ChanOp {
    ChanOp::Transfer {
        exten: exten.to_string(),
    }
}

fn transfer_done(status: TransferStatus, sip: u16) -> ChanEvent {
    ChanEvent::TransferDone { status, sip }
}

/// The one live channel of `endpoint`.
fn chan_of(net: &Net, endpoint: &str) -> ChannelInfo {
    let found: Vec<&ChannelInfo> = net
        .sw
        .channels()
        .filter(|c| c.endpoint == endpoint)
        .collect();
    assert_eq!(found.len(), 1, "one live channel of {endpoint}: {found:?}");
    found[0].clone()
}

fn channel_named(net: &Net, name: &str) -> Option<ChannelInfo> {
    net.sw.channels().find(|c| c.name == name).cloned()
}

fn channel_names(net: &Net) -> Vec<String> {
    net.sw.channels().map(|c| c.name.clone()).collect()
}

fn methods(reqs: &[Request]) -> Vec<Method> {
    reqs.iter().map(|r| r.method.clone()).collect()
}

fn tag(header: Option<&str>) -> String {
    let na: sip::NameAddr = header.expect("a From or To").parse().unwrap();
    na.tag().expect("a tag").to_string()
}

fn from_tag(r: &Request) -> String {
    tag(r.headers.get("From"))
}

fn to_tag(r: &Request) -> String {
    tag(r.headers.get("To"))
}

fn call_id(m: &Request) -> &str {
    m.call_id().unwrap()
}

/// The `call.transfer` events among `events`: (call, kind, transferer, transferee,
/// target).
fn transfers(events: &[Event]) -> Vec<(String, String, String, String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallTransfer {
                call,
                kind,
                transferer,
                transferee,
                target,
            } => Some((
                call.clone(),
                kind.clone(),
                transferer.clone(),
                transferee.clone(),
                target.clone(),
            )),
            _ => None,
        })
        .collect()
}

/// The hold-music ops among `ops`: (bridge, side, class).
fn music(ops: &[(BridgeId, MediaOp)]) -> Vec<(BridgeId, Side, Option<String>)> {
    ops.iter()
        .filter_map(|(b, op)| match op {
            MediaOp::HoldMusic { side, class } => Some((*b, *side, class.clone())),
            _ => None,
        })
        .collect()
}

/// The bridges `ops` closed.
fn closed(ops: &[(BridgeId, MediaOp)]) -> Vec<BridgeId> {
    ops.iter()
        .filter_map(|(b, op)| matches!(op, MediaOp::Close).then_some(*b))
        .collect()
}

/// The last remote RTP address `ops` set for `side` of `bridge`.
fn remote_of(ops: &[(BridgeId, MediaOp)], bridge: BridgeId, side: Side) -> Option<SocketAddr> {
    ops.iter().rev().find_map(|(b, op)| match op {
        MediaOp::SetRemote { side: s, rtp, .. } if *b == bridge && *s == side => Some(*rtp),
        _ => None,
    })
}

/// The audio port of an SDP body (`m=audio <port> ...`).
fn sdp_port(body: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("an m=audio line in {text:?}"))
}

/// The session id and version of an SDP body's `o=` line.
fn sdp_origin(body: &[u8]) -> (u64, u64) {
    let text = String::from_utf8_lossy(body);
    let line = text
        .lines()
        .find(|l| l.starts_with("o="))
        .unwrap_or_else(|| panic!("an o= line in {text:?}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    (f[1].parse().unwrap(), f[2].parse().unwrap())
}

/// The payload types of an SDP body's `m=audio` line.
fn sdp_payloads(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .map(|rest| {
            rest.split_whitespace()
                .skip(2)
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// An answer from a phone that has only PCMA (and telephone-events).
fn sdp_pcma_only(rtp: SocketAddr) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
        ip = rtp.ip(),
        port = rtp.port()
    )
}

fn with_sdp(mut r: Request, sdp: String) -> Request {
    r.headers.push("Content-Type", "application/sdp");
    r.body = sdp.into_bytes();
    r
}

/// Bob (102, the callee of `c`) sends a REFER in his dialog, with this Refer-To.
fn bob_refers(net: &mut Net, c: &mut Answered, refer_to: Option<&str>) -> Request {
    let mut refer = c.bob.in_callee_dialog(Method::Refer, &c.to_bob, &c.bob_tag);
    if let Some(target) = refer_to {
        refer.headers.push("Refer-To", target.to_string());
    }
    refer
        .headers
        .push("Referred-By", format!("<sip:102@{PBX}>"));
    net.deliver(&c.bob, refer.clone());
    refer
}

/// What a transferer was sent after its REFER: the response to it, then the
/// requests that followed, in order.
fn after_refer(net: &mut Net, phone: &Phone) -> (Vec<Response>, Vec<Request>) {
    let mut responses = Vec::new();
    let mut requests = Vec::new();
    for m in net.sent_to(phone) {
        match m {
            Message::Response(r) => {
                assert!(
                    requests.is_empty(),
                    "the REFER is answered before anything else is sent: {r:?}"
                );
                responses.push(r);
            }
            Message::Request(r) => requests.push(r),
        }
    }
    (responses, requests)
}

/// Checks one NOTIFY of the implicit `refer` subscription: in the dialog of
/// `call_id` (our tag `ours`, the phone's `theirs`), with this sipfrag.
fn assert_refer_notify(n: &Request, call_id: &str, ours: &str, theirs: &str, frag: &str) {
    assert_eq!(n.method, Method::Notify);
    assert_eq!(n.call_id().unwrap(), call_id, "in the REFER's dialog");
    assert_eq!(from_tag(n), ours);
    assert_eq!(to_tag(n), theirs);
    assert_eq!(n.headers.get("Event"), Some("refer"));
    assert_eq!(
        n.headers.get("Content-Type"),
        Some("message/sipfrag;version=2.0")
    );
    assert_eq!(String::from_utf8_lossy(&n.body).trim_end(), frag);
    let state = n.headers.get("Subscription-State").unwrap_or_default();
    if frag.ends_with("200 OK") {
        assert!(
            state.starts_with("terminated"),
            "the final NOTIFY ends the subscription: {state}"
        );
    } else {
        assert!(state.starts_with("active"), "{state}");
    }
}

/// The phone answers the PBX's requests `reqs` with 200, its To tag `tag`.
fn ok_all(net: &mut Net, phone: &Phone, reqs: &[Request], tag: &str) {
    for r in reqs {
        net.deliver(phone, phone.answer(r, 200, tag, None));
    }
}

/// Extension 103 at its own address, registered.
fn phone_103(net: &mut Net) -> Phone {
    let p = Phone::new("103", "127.0.0.3:5062");
    net.register(&p);
    p
}

// ------------------------------------------------------------ blind transfer

#[test]
fn a_blind_refer_from_the_callee_sends_the_caller_on_in_the_transferers_context() {
    let mut net = Net::new();
    let p103 = phone_103(&mut net);
    let mut c = answered_call(&mut net);
    let caller = chan_of(&net, "carrier");
    let bob = chan_of(&net, "102");
    let pbx_tag = from_tag(&c.to_bob);

    bob_refers(&mut net, &mut c, Some("<sip:103@127.0.0.1:5060>"));

    // 202, then the two NOTIFYs in Bob's dialog, then our BYE.
    let (responses, to_bob) = after_refer(&mut net, &c.bob);
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [202]
    );
    assert_eq!(responses[0].cseq().unwrap().method, Method::Refer);
    assert_eq!(
        methods(&to_bob),
        [Method::Notify, Method::Notify, Method::Bye]
    );
    let dialog = call_id(&c.to_bob).to_string();
    assert_refer_notify(
        &to_bob[0],
        &dialog,
        &pbx_tag,
        &c.bob_tag,
        "SIP/2.0 100 Trying",
    );
    assert_refer_notify(&to_bob[1], &dialog, &pbx_tag, &c.bob_tag, "SIP/2.0 200 OK");
    assert_eq!(call_id(&to_bob[2]), dialog, "the BYE ends Bob's dialog");
    assert!(
        to_bob[0].cseq().unwrap().seq < to_bob[1].cseq().unwrap().seq
            && to_bob[1].cseq().unwrap().seq < to_bob[2].cseq().unwrap().seq,
        "one CSeq space in the dialog"
    );

    // The caller's task learns where to go on, then its Dial returns.
    assert_eq!(
        net.chan_events(c.call),
        [
            ChanEvent::Transferred(Transferred {
                context: "from-internal".into(),
                exten: "103".into(),
                by: bob.name.clone(),
            }),
            dial_done(DialStatus::Answer),
        ]
    );
    assert_eq!(
        transfers(&net.events()),
        [(
            caller.call_ref.clone(),
            "blind".to_string(),
            bob.name.clone(),
            caller.name.clone(),
            "103".to_string(),
        )]
    );
    assert_eq!(
        channel_names(&net),
        std::slice::from_ref(&caller.name),
        "Bob's channel left"
    );
    assert_eq!(channel_named(&net, &caller.name).unwrap().bridged_to, None);
    assert!(
        net.sent_to(&c.carrier).is_empty(),
        "the caller's phone is sent nothing: no BYE, no re-INVITE"
    );
    assert!(
        net.sent_to(&p103).is_empty(),
        "nobody rings until the dialplan dials"
    );
    ok_all(&mut net, &c.bob, &to_bob, &c.bob_tag);
    assert!(net.sent_to(&c.bob).is_empty());
    net.out.clear();

    // The dialplan goes on at 103: Dial(SIP/103) rings it on the same bridge.
    net.chan(c.call, dial("103"));
    let to_103 = net.requests_to(&p103);
    assert_eq!(methods(&to_103), [Method::Invite]);
    assert_eq!(
        sdp_port(&to_103[0].body),
        sdp_port(&c.to_bob.body),
        "103 is offered the bridge side Bob had"
    );
    net.deliver(
        &p103,
        p103.answer(&to_103[0], 200, "t103", Some(&sdp_offer(p103.rtp))),
    );
    assert_eq!(methods(&net.requests_to(&p103)), [Method::Ack]);
    assert!(
        net.sent_to(&c.carrier).is_empty(),
        "the caller was answered already: no second 200"
    );
    let ops = net.media_ops();
    assert_eq!(remote_of(&ops, caller.bridge, Side::B), Some(p103.rtp));
    let t = chan_of(&net, "103");
    assert_eq!(t.bridge, caller.bridge);
    assert_eq!(t.side, Side::B);
    assert_eq!(t.bridged_to.as_deref(), Some(caller.name.as_str()));
    assert_eq!(
        t.inbound.as_deref(),
        Some("carrier"),
        "the trunk call's agent"
    );
    assert_eq!(
        channel_named(&net, &caller.name).unwrap().bridged_to,
        Some(t.name.clone())
    );
    assert!(net.chan_events(c.call).is_empty(), "the new Dial runs");
}

/// The call after a refused REFER: nothing was sent but the refusal, and it still
/// works (Bob's BYE ends the Dial as usual).
fn assert_call_goes_on(net: &mut Net, c: &mut Answered, before: &[ChannelInfo]) {
    assert!(net.sent_to(&c.carrier).is_empty(), "no BYE to the caller");
    assert!(
        net.requests_to(&c.bob).is_empty(),
        "no NOTIFY, no BYE to Bob"
    );
    assert!(net.chan_events(c.call).is_empty(), "no Transferred");
    assert!(transfers(&net.events()).is_empty());
    let now: Vec<ChannelInfo> = net.sw.channels().cloned().collect();
    assert_eq!(now, before, "the channels are as they were");
}

#[test]
fn a_blind_refer_to_an_extension_not_in_the_plan_is_refused_404_and_the_call_goes_on() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let before: Vec<ChannelInfo> = net.sw.channels().cloned().collect();
    bob_refers(&mut net, &mut c, Some("<sip:nobody@127.0.0.1:5060>"));
    assert_eq!(net.statuses_to(&c.bob), [404]);
    assert_call_goes_on(&mut net, &mut c, &before);

    // Still a call: Bob hanging up ends the Dial.
    let bye = c.bob.in_callee_dialog(Method::Bye, &c.to_bob, &c.bob_tag);
    net.deliver(&c.bob, bye);
    assert_eq!(net.statuses_to(&c.bob), [200]);
    assert_eq!(net.chan_events(c.call), [dial_done(DialStatus::Answer)]);
}

#[test]
fn a_blind_refer_from_a_trunk_caller_is_refused_403_and_the_call_goes_on() {
    // A carrier has no context of ours to send our agent to.
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let before: Vec<ChannelInfo> = net.sw.channels().cloned().collect();
    let mut refer = c.carrier.in_dialog(Method::Refer, &c.invite, &c.ok);
    refer
        .headers
        .push("Refer-To", "<sip:103@127.0.0.1:5060>".to_string());
    net.deliver(&c.carrier, refer);
    let r = net.responses_to(&c.carrier);
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), [403]);
    assert!(net.sent_to(&c.bob).is_empty());
    assert!(net.chan_events(c.call).is_empty());
    assert!(transfers(&net.events()).is_empty());
    let now: Vec<ChannelInfo> = net.sw.channels().cloned().collect();
    assert_eq!(now, before);
}

/// 104 (an agent dialling out) calls 102 and blind-transfers it to 103: 102's leg
/// gets a call of its own, re-INVITEd onto that call's bridge, whose dialplan
/// starts at 103 in 104's context; 104's call ends.
#[test]
fn a_blind_refer_from_the_caller_gives_the_callee_a_call_that_dials_the_target() {
    let mut net = Net::new();
    let bob = Phone::new("102", "127.0.0.2:5062");
    net.register(&bob);
    let mut agent = Phone::new("104", "127.0.0.4:5062");
    let (call, agent_channel, invite) = ext_invite(&mut net, &mut agent, "102");
    net.chan(call, dial("102"));
    let to_bob = net.requests_to(&bob).remove(0);
    net.deliver(
        &bob,
        bob.answer(&to_bob, 200, "bobtag", Some(&sdp_offer(bob.rtp))),
    );
    let ok = net
        .responses_to(&agent)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("104's call is answered");
    let ack = agent.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&agent, ack);
    let bob_chan = chan_of(&net, "102");
    net.out.clear();

    let mut refer = agent.in_dialog(Method::Refer, &invite, &ok);
    refer
        .headers
        .push("Refer-To", "<sip:103@127.0.0.1:5060>".to_string());
    net.deliver(&agent, refer);
    let (responses, requests) = after_refer(&mut net, &agent);
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [202]
    );
    assert_eq!(
        methods(&requests),
        [Method::Notify, Method::Notify, Method::Bye],
        "both NOTIFYs, then 104 is hung up"
    );
    // 104's call is over; its task is told.
    assert!(net.chan_events(call).contains(&ChanEvent::Hangup));
    assert!(channel_named(&net, &agent_channel).is_none());

    // 102 is re-INVITEd, in its own dialog, onto a new bridge.
    let reinvite = net.requests_to(&bob).remove(0);
    assert_eq!(reinvite.method, Method::Invite);
    assert_eq!(reinvite.call_id().unwrap(), to_bob.call_id().unwrap());
    assert!(reinvite.cseq().unwrap().seq > to_bob.cseq().unwrap().seq);
    let moved = chan_of(&net, "102");
    assert_eq!(
        moved.name, bob_chan.name,
        "the same channel, on another call"
    );
    assert_ne!(moved.bridge, bob_chan.bridge);
    assert_eq!(moved.side, Side::A);
    assert_eq!(sdp_port(&reinvite.body), 10_000 + 4 * moved.bridge.0 as u16);
    let (id_before, v_before) = sdp_origin(&to_bob.body);
    let (id_after, v_after) = sdp_origin(&reinvite.body);
    assert_eq!(id_after, id_before, "the dialog's SDP session goes on");
    assert!(v_after > v_before);

    // Its new call runs the dialplan at 103 in 104's context.
    let spawn = net
        .spawned()
        .pop()
        .expect("a dialplan task for 102's new call");
    assert_eq!(spawn.channel, bob_chan.name);
    match &spawn.kind {
        crate::switch::SpawnKind::Dialplan {
            caller, dialled, ..
        } => {
            assert_eq!(dialled, "103");
            assert_eq!(caller.context, "from-internal");
            assert_eq!(caller.number, "102");
        }
        other => panic!("not a dialplan task: {other:?}"),
    }
    let t = transfers(&net.events());
    assert_eq!(t.len(), 1, "{t:?}");

    // 102 answers: ACKed with the re-INVITE's CSeq, the new bridge points at it.
    let new_rtp: SocketAddr = "127.0.0.2:30000".parse().unwrap();
    net.deliver(
        &bob,
        bob.answer(&reinvite, 200, "bobtag", Some(&sdp_offer(new_rtp))),
    );
    let ack = net.requests_to(&bob).pop().expect("an ACK");
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.cseq().unwrap().seq, reinvite.cseq().unwrap().seq);
    let ops = net.media_ops();
    assert_eq!(remote_of(&ops, moved.bridge, Side::A), Some(new_rtp));

    // The new call's task dials 103 like any call: 103 is rung from the new bridge.
    let p103 = phone_103(&mut net);
    net.chan(spawn.call, dial("103"));
    let to_103 = net.requests_to(&p103).remove(0);
    assert_eq!(to_103.method, Method::Invite);
    assert_eq!(
        sdp_port(&to_103.body),
        10_000 + 4 * moved.bridge.0 as u16 + 2
    );
}

#[test]
fn a_refer_without_refer_to_is_refused_400_and_the_call_goes_on() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let before: Vec<ChannelInfo> = net.sw.channels().cloned().collect();
    bob_refers(&mut net, &mut c, None);
    assert_eq!(net.statuses_to(&c.bob), [400]);
    assert_call_goes_on(&mut net, &mut c, &before);
}

#[test]
fn a_bye_from_the_transferer_crossing_ours_gets_200_until_the_dialog_is_forgotten() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    bob_refers(&mut net, &mut c, Some("<sip:103@127.0.0.1:5060>"));
    let (_, to_bob) = after_refer(&mut net, &c.bob);
    assert_eq!(methods(&to_bob).last(), Some(&Method::Bye));
    assert_eq!(net.chan_events(c.call).len(), 2, "Transferred, DialDone");
    net.out.clear();

    // Bob hung up himself as the transfer completed: his BYE crossed ours.
    let bye = c.bob.in_callee_dialog(Method::Bye, &c.to_bob, &c.bob_tag);
    net.deliver(&c.bob, bye);
    assert_eq!(net.statuses_to(&c.bob), [200], "200, not 481");
    assert!(
        net.chan_events(c.call).is_empty(),
        "nothing more for the task"
    );
    assert!(net.sent_to(&c.carrier).is_empty(), "the caller stays");

    // Long after, the dialog is forgotten.
    net.advance(Duration::from_secs(40));
    net.out.clear();
    let late = c.bob.in_callee_dialog(Method::Bye, &c.to_bob, &c.bob_tag);
    net.deliver(&c.bob, late);
    assert_eq!(net.statuses_to(&c.bob), [481]);
    assert!(net.sent_to(&c.carrier).is_empty());
}

#[test]
fn a_blind_transfer_from_a_callee_that_holds_the_caller_stops_its_music() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let caller = chan_of(&net, "carrier");
    // 102 holds the carrier, then transfers it.
    let hold = c
        .bob
        .in_callee_dialog(Method::Invite, &c.to_bob, &c.bob_tag);
    let hold = with_sdp(hold, sdp_with(c.bob.rtp, "sendonly"));
    net.deliver(&c.bob, hold.clone());
    assert_eq!(net.statuses_to(&c.bob), [200]);
    let mut ack = c.bob.in_callee_dialog(Method::Ack, &c.to_bob, &c.bob_tag);
    ack.headers
        .set("CSeq", format!("{} ACK", hold.cseq().unwrap().seq));
    net.deliver(&c.bob, ack);
    assert_eq!(
        music(&net.media_ops()),
        [(caller.bridge, Side::A, Some("default".to_string()))]
    );

    bob_refers(&mut net, &mut c, Some("<sip:103@127.0.0.1:5060>"));
    assert_eq!(net.statuses_to(&c.bob), [202]);
    assert_eq!(
        music(&net.media_ops()),
        [(caller.bridge, Side::A, None)],
        "the caller's dialplan goes on: it must hear it, not music"
    );
    assert!(net.sent_to(&c.carrier).is_empty());
}

// ---------------------------------------------------------- attended transfer

/// Call 1: carrier -> 102 (answered), 102 holding the carrier. Call 2: 102 -> 103,
/// answered and ACKed. Everything polled away.
struct Consult {
    c: Answered,
    /// Call 1's channels, before the transfer.
    carrier: ChannelInfo,
    bob1: ChannelInfo,
    /// Call 2: its id, 102's INVITE (the authorized one) and our 200 to it.
    call2: CallId,
    invite2: Request,
    ok2: Response,
    bob2: ChannelInfo,
    /// 103, our INVITE to it, its To tag, and its channel.
    p103: Phone,
    to_103: Request,
    t103: String,
    ch103: ChannelInfo,
}

fn consult(net: &mut Net) -> Consult {
    consult_with(net, sdp_offer)
}

/// As `consult`, 103 answering call 2 with `answer(its RTP address)`.
fn consult_with(net: &mut Net, answer: impl Fn(SocketAddr) -> String) -> Consult {
    let p103 = phone_103(net);
    let mut c = answered_call(net);
    let carrier = chan_of(net, "carrier");
    let bob1 = chan_of(net, "102");

    // 102 holds the carrier (a re-INVITE with a=sendonly), who hears music.
    let hold = c
        .bob
        .in_callee_dialog(Method::Invite, &c.to_bob, &c.bob_tag);
    let hold = with_sdp(hold, sdp_with(c.bob.rtp, "sendonly"));
    net.deliver(&c.bob, hold.clone());
    assert_eq!(net.statuses_to(&c.bob), [200]);
    let mut ack = c.bob.in_callee_dialog(Method::Ack, &c.to_bob, &c.bob_tag);
    ack.headers
        .set("CSeq", format!("{} ACK", hold.cseq().unwrap().seq));
    net.deliver(&c.bob, ack);
    assert_eq!(
        music(&net.media_ops()),
        [(carrier.bridge, Side::A, Some("default".to_string()))]
    );

    // 102 calls 103 (digest first), with a Call-ID such as phones make.
    let mut invite = c.bob.invite("103", Some(&sdp_offer(c.bob.rtp)));
    invite
        .headers
        .set("Call-ID", format!("consult-{}@127.0.0.2", sip::new_tag()));
    net.deliver(&c.bob, invite.clone());
    let challenge = net.responses_to(&c.bob).pop().expect("a challenge");
    assert_eq!(challenge.status, 407);
    let invite2 = c.bob.authorized(&invite, &challenge, "pw102");
    net.deliver(&c.bob, invite2.clone());
    let spawn = net.spawned().pop().expect("a dialplan task for 102's call");
    let call2 = spawn.call;
    net.chan(call2, dial("103"));
    let to_103 = net.requests_to(&p103).remove(0);
    assert_eq!(to_103.method, Method::Invite);
    let t103 = "t103".to_string();
    net.deliver(
        &p103,
        p103.answer(&to_103, 200, &t103, Some(&answer(p103.rtp))),
    );
    let ok2 = net
        .responses_to(&c.bob)
        .into_iter()
        .find(|r| r.status == 200 && r.call_id().ok() == invite2.call_id().ok())
        .expect("102's call to 103 is answered");
    let ack = c.bob.in_dialog(Method::Ack, &invite2, &ok2);
    net.deliver(&c.bob, ack);
    net.out.clear();

    let bob2 = channel_named(net, &spawn.channel).expect("102's second channel");
    let ch103 = chan_of(net, "103");
    assert_ne!(bob2.bridge, carrier.bridge, "two calls, two bridges");
    assert_eq!(ch103.bridged_to.as_deref(), Some(bob2.name.as_str()));
    Consult {
        c,
        carrier,
        bob1,
        call2,
        invite2,
        ok2,
        bob2,
        p103,
        to_103,
        t103,
        ch103,
    }
}

/// `<sip:103@...?Replaces=...>` naming a dialog, percent-encoded (RFC 3891).
fn replaces_target(call_id: &str, to_tag: &str, from_tag: &str) -> String {
    let enc = |s: &str| {
        s.replace('%', "%25")
            .replace('@', "%40")
            .replace(';', "%3B")
            .replace('=', "%3D")
    };
    format!(
        "<sip:103@{PBX}?Replaces={}%3Bto-tag%3D{}%3Bfrom-tag%3D{}>",
        enc(call_id),
        enc(to_tag),
        enc(from_tag)
    )
}

/// The Refer-To naming 102's dialog of call 2 (PBX's tag as to-tag, 102's as
/// from-tag: 102 is that dialog's UAC).
fn replaces_call2(k: &Consult) -> String {
    let cid = k.invite2.call_id().unwrap();
    assert!(cid.contains('@'));
    let pbx_tag = tag(k.ok2.headers.get("To"));
    let bob_tag = from_tag(&k.invite2);
    replaces_target(cid, &pbx_tag, &bob_tag)
}

/// What 102 got after an attended REFER on call 1: 202, both NOTIFYs in call 1's
/// dialog, a BYE in each dialog.
fn assert_transferer_released(net: &mut Net, k: &Consult) -> Vec<Request> {
    let (responses, to_bob) = after_refer(net, &k.c.bob);
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [202]
    );
    assert_eq!(
        methods(&to_bob),
        [Method::Notify, Method::Notify, Method::Bye, Method::Bye],
        "{to_bob:?}"
    );
    let d1 = call_id(&k.c.to_bob).to_string();
    let pbx1 = from_tag(&k.c.to_bob);
    assert_refer_notify(&to_bob[0], &d1, &pbx1, &k.c.bob_tag, "SIP/2.0 100 Trying");
    assert_refer_notify(&to_bob[1], &d1, &pbx1, &k.c.bob_tag, "SIP/2.0 200 OK");
    let mut bye_dialogs: Vec<&str> = to_bob[2..].iter().map(call_id).collect();
    bye_dialogs.sort_unstable();
    let mut expected = vec![d1.as_str(), k.invite2.call_id().unwrap()];
    expected.sort_unstable();
    assert_eq!(bye_dialogs, expected, "a BYE on each of 102's dialogs");
    let bye2 = to_bob[2..]
        .iter()
        .find(|b| call_id(b) == k.invite2.call_id().unwrap())
        .unwrap();
    assert_eq!(from_tag(bye2), tag(k.ok2.headers.get("To")));
    assert_eq!(to_tag(bye2), from_tag(&k.invite2));
    to_bob
}

/// The re-INVITE 103 got after the transfer, checked to be in its existing dialog.
fn reinvite_to_103(net: &mut Net, k: &Consult) -> Request {
    let to_103 = net.requests_to(&k.p103);
    assert_eq!(methods(&to_103), [Method::Invite], "{to_103:?}");
    let re = to_103[0].clone();
    assert_eq!(call_id(&re), call_id(&k.to_103), "103's own dialog");
    assert_eq!(from_tag(&re), from_tag(&k.to_103));
    assert_eq!(to_tag(&re), k.t103);
    assert!(re.cseq().unwrap().seq > k.to_103.cseq().unwrap().seq);
    re
}

#[test]
fn an_attended_refer_joins_the_held_caller_with_the_target_on_the_callers_call() {
    let mut net = Net::new();
    let mut k = consult(&mut net);
    let refer_to = replaces_call2(&k);

    bob_refers(&mut net, &mut k.c, Some(&refer_to));

    let to_bob = assert_transferer_released(&mut net, &k);
    assert!(
        net.sent_to(&k.c.carrier).is_empty(),
        "the carrier is sent nothing"
    );

    // 103 is re-INVITEd onto call 1's bridge, side B, the port Bob had.
    let re = reinvite_to_103(&mut net, &k);
    assert_eq!(sdp_port(&re.body), sdp_port(&k.c.to_bob.body));
    assert_ne!(sdp_port(&re.body), sdp_port(&k.to_103.body));
    let (session, version) = sdp_origin(&re.body);
    let (session0, version0) = sdp_origin(&k.to_103.body);
    assert_eq!(session, session0, "the session 103 knows (RFC 3264 8)");
    assert!(version > version0, "a new version of it");
    assert!(String::from_utf8_lossy(&re.body).contains("a=sendrecv"));

    let ops = net.media_ops();
    assert_eq!(
        music(&ops),
        [(k.carrier.bridge, Side::A, None)],
        "the carrier's music on hold stops"
    );
    assert_eq!(closed(&ops), [k.bob2.bridge], "call 2's bridge closes");
    assert_eq!(
        transfers(&net.events()),
        [(
            k.carrier.call_ref.clone(),
            "attended".to_string(),
            k.bob1.name.clone(),
            k.carrier.name.clone(),
            k.ch103.name.clone(),
        )]
    );
    assert!(
        net.chan_events(k.c.call).is_empty(),
        "call 1's Dial is still bridged"
    );
    assert_eq!(
        net.chan_events(k.call2),
        [ChanEvent::Hangup, dial_done(DialStatus::Cancel)],
        "call 2 is over"
    );

    // The live channels: the carrier and 103, on call 1.
    let mut expected = vec![k.carrier.name.clone(), k.ch103.name.clone()];
    expected.sort();
    assert_eq!(channel_names(&net), expected);
    let carrier = channel_named(&net, &k.carrier.name).unwrap();
    assert_eq!(carrier.bridged_to.as_deref(), Some(k.ch103.name.as_str()));
    let t = channel_named(&net, &k.ch103.name).unwrap();
    assert_eq!(t.call_ref, k.carrier.call_ref);
    assert_eq!(t.bridge, k.carrier.bridge);
    assert_eq!(t.side, Side::B);
    assert_eq!(t.bridged_to.as_deref(), Some(k.carrier.name.as_str()));

    // 102 answers its NOTIFYs and BYEs.
    for r in &to_bob {
        let ours = if call_id(r) == call_id(&k.c.to_bob) {
            k.c.bob_tag.clone()
        } else {
            from_tag(&k.invite2)
        };
        net.deliver(&k.c.bob, k.c.bob.answer(r, 200, &ours, None));
    }

    // 103 accepts from a new RTP address: ACKed, and the bridge follows it.
    let new_rtp: SocketAddr = "127.0.0.3:31000".parse().unwrap();
    net.deliver(
        &k.p103,
        k.p103.answer(&re, 200, &k.t103, Some(&sdp_offer(new_rtp))),
    );
    let acks = net.requests_to(&k.p103);
    assert_eq!(methods(&acks), [Method::Ack]);
    assert_eq!(acks[0].cseq().unwrap().seq, re.cseq().unwrap().seq);
    assert_eq!(call_id(&acks[0]), call_id(&re));
    assert_eq!(to_tag(&acks[0]), k.t103);
    let ops = net.media_ops();
    assert_eq!(remote_of(&ops, k.carrier.bridge, Side::B), Some(new_rtp));
    assert!(closed(&ops).is_empty());
    assert!(net.sent_to(&k.c.carrier).is_empty());
    assert!(net.chan_events(k.c.call).is_empty());

    // 103 hangs up: call 1's Dial returns, the carrier stays for its dialplan.
    net.out.clear();
    let bye = k.p103.in_callee_dialog(Method::Bye, &k.to_103, &k.t103);
    net.deliver(&k.p103, bye);
    assert_eq!(net.statuses_to(&k.p103), [200]);
    assert_eq!(net.chan_events(k.c.call), [dial_done(DialStatus::Answer)]);
    assert!(
        net.sent_to(&k.c.carrier).is_empty(),
        "no BYE to the carrier"
    );
    assert_eq!(channel_names(&net), std::slice::from_ref(&k.carrier.name));
    assert_eq!(
        channel_named(&net, &k.carrier.name).unwrap().bridged_to,
        None
    );
}

#[test]
fn an_attended_refer_sent_on_the_consultation_call_joins_the_same_two() {
    let mut net = Net::new();
    let mut k = consult(&mut net);
    let refer_to = {
        // Naming 102's dialog of call 1, where the PBX is the UAC.
        let cid = call_id(&k.c.to_bob).to_string();
        replaces_target(&cid, &k.c.bob_tag, &from_tag(&k.c.to_bob))
    };
    let mut refer = k.c.bob.in_dialog(Method::Refer, &k.invite2, &k.ok2);
    refer.headers.push("Refer-To", refer_to);
    net.deliver(&k.c.bob, refer);

    let (responses, to_bob) = after_refer(&mut net, &k.c.bob);
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [202]
    );
    assert_eq!(
        methods(&to_bob),
        [Method::Notify, Method::Notify, Method::Bye, Method::Bye]
    );
    // The NOTIFYs go in the dialog the REFER came in: call 2's.
    let d2 = k.invite2.call_id().unwrap().to_string();
    let pbx2 = tag(k.ok2.headers.get("To"));
    let bob2_tag = from_tag(&k.invite2);
    assert_refer_notify(&to_bob[0], &d2, &pbx2, &bob2_tag, "SIP/2.0 100 Trying");
    assert_refer_notify(&to_bob[1], &d2, &pbx2, &bob2_tag, "SIP/2.0 200 OK");

    let re = reinvite_to_103(&mut net, &k);
    assert_eq!(sdp_port(&re.body), sdp_port(&k.c.to_bob.body));
    let ops = net.media_ops();
    assert_eq!(music(&ops), [(k.carrier.bridge, Side::A, None)]);
    assert_eq!(closed(&ops), [k.bob2.bridge]);
    assert_eq!(
        transfers(&net.events()),
        [(
            k.carrier.call_ref.clone(),
            "attended".to_string(),
            k.bob1.name.clone(),
            k.carrier.name.clone(),
            k.ch103.name.clone(),
        )]
    );
    assert!(net.chan_events(k.c.call).is_empty());
    assert_eq!(
        net.chan_events(k.call2),
        [ChanEvent::Hangup, dial_done(DialStatus::Cancel)]
    );
    let carrier = channel_named(&net, &k.carrier.name).unwrap();
    assert_eq!(carrier.bridged_to.as_deref(), Some(k.ch103.name.as_str()));
    assert!(net.sent_to(&k.c.carrier).is_empty());
}

#[test]
fn a_target_refusing_the_reinvite_is_hung_up_and_the_callers_dial_returns() {
    let mut net = Net::new();
    let mut k = consult(&mut net);
    let refer_to = replaces_call2(&k);
    bob_refers(&mut net, &mut k.c, Some(&refer_to));
    assert_transferer_released(&mut net, &k);
    let re = reinvite_to_103(&mut net, &k);
    net.out.clear();

    net.deliver(&k.p103, k.p103.answer(&re, 488, &k.t103, None));
    let to_103 = net.requests_to(&k.p103);
    assert_eq!(methods(&to_103), [Method::Ack, Method::Bye], "{to_103:?}");
    assert_eq!(to_103[0].cseq().unwrap().seq, re.cseq().unwrap().seq);
    assert_eq!(call_id(&to_103[1]), call_id(&k.to_103), "in 103's dialog");
    assert_eq!(to_tag(&to_103[1]), k.t103);
    assert_eq!(net.chan_events(k.c.call), [dial_done(DialStatus::Answer)]);
    assert!(net.sent_to(&k.c.carrier).is_empty(), "the carrier stays");
    assert_eq!(channel_names(&net), std::slice::from_ref(&k.carrier.name));
    assert_eq!(
        channel_named(&net, &k.carrier.name).unwrap().bridged_to,
        None
    );
    let ops = net.media_ops();
    assert_eq!(remote_of(&ops, k.carrier.bridge, Side::B), None);
    assert!(closed(&ops).is_empty(), "call 1 goes on");
}

/// The carrier re-offers with `direction` in call 1, and ACKs our 200.
fn carrier_reoffers(net: &mut Net, c: &mut Answered, direction: &str) {
    let re = c.carrier.in_dialog(Method::Invite, &c.invite, &c.ok);
    let re = with_sdp(re, sdp_with(c.carrier.rtp, direction));
    net.deliver(&c.carrier, re.clone());
    let ok = net
        .responses_to(&c.carrier)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200 to the re-offer");
    let ack = c.carrier.in_dialog(Method::Ack, &re, &ok);
    net.deliver(&c.carrier, ack);
}

/// A transferee that holds keeps holding: the newcomer hears the music until the
/// transferee resumes, and the resume stops it.
#[test]
fn the_transferee_resuming_after_an_attended_transfer_stops_the_music_the_target_hears() {
    let mut net = Net::new();
    let mut k = consult(&mut net);
    // The carrier holds 102 as well (both legs of call 1 hold).
    carrier_reoffers(&mut net, &mut k.c, "sendonly");
    let mut ops = net.media_ops();
    assert_eq!(
        music(&ops),
        [(k.carrier.bridge, Side::B, Some("default".to_string()))]
    );
    let refer_to = replaces_call2(&k);
    bob_refers(&mut net, &mut k.c, Some(&refer_to));
    assert_transferer_released(&mut net, &k);
    let re = reinvite_to_103(&mut net, &k);
    net.deliver(
        &k.p103,
        k.p103
            .answer(&re, 200, &k.t103, Some(&sdp_offer(k.p103.rtp))),
    );
    ops.extend(net.media_ops());
    net.out.clear();

    // The carrier resumes: 103, now its peer, must hear it and no music.
    carrier_reoffers(&mut net, &mut k.c, "sendrecv");
    ops.extend(net.media_ops());
    let side_b: Vec<Option<String>> = music(&ops)
        .into_iter()
        .filter(|(b, s, _)| *b == k.carrier.bridge && *s == Side::B)
        .map(|(_, _, class)| class)
        .collect();
    assert_eq!(
        side_b.last(),
        Some(&None),
        "the last hold music op for 103's side must stop it: {side_b:?}"
    );
}

/// The phone moved onto a trunk call is that call's agent: the trunk's inbound
/// monitoring rules give it groups, as for any callee of a trunk call.
#[test]
fn the_target_of_an_attended_transfer_onto_a_trunk_call_is_its_inbound_agent() {
    let mut net = Net::new();
    let mut k = consult(&mut net);
    assert_eq!(k.bob1.inbound.as_deref(), Some("carrier"));
    assert_eq!(k.ch103.inbound, None, "call 2 came from no trunk");
    let refer_to = replaces_call2(&k);
    bob_refers(&mut net, &mut k.c, Some(&refer_to));
    assert_transferer_released(&mut net, &k);
    let t = channel_named(&net, &k.ch103.name).unwrap();
    assert_eq!(t.call_ref, k.carrier.call_ref);
    assert_eq!(
        t.inbound.as_deref(),
        Some("carrier"),
        "103 talks to the carrier now: the trunk's inbound rules apply to it"
    );
}

/// The re-INVITE offers both G.711 laws, as a Dial's INVITE does (the relay
/// converts), so a target with only the other law still connects.
#[test]
fn the_reinvite_of_a_transfer_target_offers_both_g711_laws_as_a_dial_does() {
    let mut net = Net::new();
    let mut k = consult_with(&mut net, sdp_pcma_only);
    let dial_offer = sdp_payloads(&k.to_103.body);
    assert!(
        dial_offer.contains(&0) && dial_offer.contains(&8),
        "{dial_offer:?}"
    );
    let refer_to = replaces_call2(&k);
    bob_refers(&mut net, &mut k.c, Some(&refer_to));
    assert_transferer_released(&mut net, &k);
    let re = reinvite_to_103(&mut net, &k);
    let offer = sdp_payloads(&re.body);
    assert!(
        offer.contains(&8),
        "103 has only PCMA (its answer in call 2 said so) and the relay converts: {offer:?}"
    );
    net.deliver(
        &k.p103,
        k.p103
            .answer(&re, 200, &k.t103, Some(&sdp_pcma_only(k.p103.rtp))),
    );
    let ops = net.media_ops();
    assert!(
        ops.iter().any(|(b, op)| *b == k.carrier.bridge
            && matches!(
                op,
                MediaOp::SetCodec {
                    side: Side::B,
                    codec: media::codec::AudioCodec::Pcma,
                    ..
                }
            )),
        "{ops:?}"
    );
    assert!(net.chan_events(k.c.call).is_empty(), "103 stays");
}

#[test]
fn a_replaces_naming_no_dialog_of_ours_is_refused_403_and_nothing_changes() {
    let mut net = Net::new();
    let mut k = consult(&mut net);
    let before: Vec<ChannelInfo> = net.sw.channels().cloned().collect();
    let pbx2 = tag(k.ok2.headers.get("To"));
    let bob2_tag = from_tag(&k.invite2);
    let cid2 = k.invite2.call_id().unwrap().to_string();
    let cid1 = call_id(&k.c.to_bob).to_string();
    for (what, target) in [
        (
            "an unknown Call-ID",
            replaces_target("nope@10.0.0.1", &pbx2, &bob2_tag),
        ),
        (
            "call 2's Call-ID with tags of no dialog",
            replaces_target(&cid2, "x1", "x2"),
        ),
        (
            "the REFER's own dialog",
            replaces_target(&cid1, &k.c.bob_tag, &from_tag(&k.c.to_bob)),
        ),
    ] {
        bob_refers(&mut net, &mut k.c, Some(&target));
        assert_eq!(net.statuses_to(&k.c.bob), [403], "{what}");
        assert!(net.sent_to(&k.c.bob).is_empty(), "{what}");
        assert!(net.sent_to(&k.p103).is_empty(), "{what}");
        assert!(net.sent_to(&k.c.carrier).is_empty(), "{what}");
        assert!(net.chan_events(k.c.call).is_empty(), "{what}");
        assert!(net.chan_events(k.call2).is_empty(), "{what}");
        assert!(net.events().is_empty(), "{what}");
        assert!(net.media_ops().is_empty(), "{what}");
        let now: Vec<ChannelInfo> = net.sw.channels().cloned().collect();
        assert_eq!(now, before, "{what}");
    }
    // Both calls go on: 103 hanging up ends call 2's Dial only.
    let bye = k.p103.in_callee_dialog(Method::Bye, &k.to_103, &k.t103);
    net.deliver(&k.p103, bye);
    assert_eq!(net.statuses_to(&k.p103), [200]);
    assert_eq!(net.chan_events(k.call2), [dial_done(DialStatus::Answer)]);
    assert!(net.chan_events(k.c.call).is_empty());
}

// --------------------------------------------------------- Transfer() (dialplan)

/// `Transfer(103)` on the answered caller's channel: the REFER the carrier got,
/// checked to be in its dialog.
fn transfer_answered(net: &mut Net, c: &Answered) -> Request {
    net.chan(c.call, transfer_op("103"));
    let reqs = net.requests_to(&c.carrier);
    assert_eq!(methods(&reqs), [Method::Refer], "{reqs:?}");
    let refer = reqs[0].clone();
    assert_eq!(
        call_id(&refer),
        call_id(&c.invite),
        "in the carrier's dialog"
    );
    assert_eq!(from_tag(&refer), tag(c.ok.headers.get("To")));
    assert_eq!(to_tag(&refer), from_tag(&c.invite));
    assert_eq!(refer.uri.to_string(), c.carrier.contact_uri());
    assert_eq!(
        refer.headers.get("Refer-To"),
        Some("<sip:103@127.0.0.1:5060>")
    );
    let by = refer.headers.get("Referred-By").expect("a Referred-By");
    assert!(by.contains("@127.0.0.1:5060"), "{by}");
    assert!(
        net.chan_events(c.call).is_empty(),
        "nothing until it answers"
    );
    assert!(net.sent_to(&c.bob).is_empty());
    refer
}

/// The carrier's NOTIFY of the refer subscription, with this sipfrag.
fn carrier_notifies(net: &mut Net, c: &mut Answered, frag: &str, terminated: bool) {
    let mut n = c.carrier.in_dialog(Method::Notify, &c.invite, &c.ok);
    n.headers.push("Event", "refer");
    n.headers.push(
        "Subscription-State",
        if terminated {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        },
    );
    n.headers
        .push("Content-Type", "message/sipfrag;version=2.0");
    n.body = format!("{frag}\r\n").into_bytes();
    net.deliver(&c.carrier, n);
    assert_eq!(net.statuses_to(&c.carrier), [200], "the NOTIFY is answered");
}

#[test]
fn transfer_of_an_answered_caller_refers_its_phone_and_succeeds_on_the_final_notify() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let refer = transfer_answered(&mut net, &c);
    let carrier_tag = from_tag(&c.invite);

    net.deliver(
        &c.carrier,
        c.carrier.answer(&refer, 202, &carrier_tag, None),
    );
    assert!(
        net.chan_events(c.call).is_empty(),
        "202: wait for the NOTIFYs"
    );
    carrier_notifies(&mut net, &mut c, "SIP/2.0 100 Trying", false);
    assert!(net.chan_events(c.call).is_empty(), "still trying");
    carrier_notifies(&mut net, &mut c, "SIP/2.0 200 OK", true);
    assert_eq!(
        net.chan_events(c.call),
        [transfer_done(TransferStatus::Success, 200)]
    );
    // The PBX hangs nobody up: the phone leaves the call itself.
    assert!(net.requests_to(&c.carrier).is_empty());
    assert!(net.requests_to(&c.bob).is_empty());
    assert_eq!(net.sw.channels().count(), 2);
}

#[test]
fn transfer_refused_501_by_the_phone_is_unsupported() {
    let mut net = Net::new();
    let c = answered_call(&mut net);
    let refer = transfer_answered(&mut net, &c);
    let carrier_tag = from_tag(&c.invite);
    net.deliver(
        &c.carrier,
        c.carrier.answer(&refer, 501, &carrier_tag, None),
    );
    assert_eq!(
        net.chan_events(c.call),
        [transfer_done(TransferStatus::Unsupported, 501)]
    );
    assert!(net.requests_to(&c.carrier).is_empty());
}

#[test]
fn transfer_whose_final_notify_says_busy_fails_with_486() {
    let mut net = Net::new();
    let mut c = answered_call(&mut net);
    let refer = transfer_answered(&mut net, &c);
    let carrier_tag = from_tag(&c.invite);
    net.deliver(
        &c.carrier,
        c.carrier.answer(&refer, 202, &carrier_tag, None),
    );
    carrier_notifies(&mut net, &mut c, "SIP/2.0 100 Trying", false);
    assert!(net.chan_events(c.call).is_empty());
    carrier_notifies(&mut net, &mut c, "SIP/2.0 486 Busy Here", true);
    assert_eq!(
        net.chan_events(c.call),
        [transfer_done(TransferStatus::Failure, 486)]
    );
    // A late NOTIFY changes nothing: the Transfer is over.
    carrier_notifies(&mut net, &mut c, "SIP/2.0 200 OK", true);
    assert!(net.chan_events(c.call).is_empty());
}

#[test]
fn transfer_whose_refer_is_never_answered_fails_with_408_and_may_be_tried_again() {
    let mut net = Net::new();
    let c = answered_call(&mut net);
    transfer_answered(&mut net, &c);
    net.advance(Duration::from_secs(20));
    assert!(
        net.chan_events(c.call).is_empty(),
        "the REFER is still pending"
    );
    net.advance(Duration::from_secs(20));
    assert_eq!(
        net.chan_events(c.call),
        [transfer_done(TransferStatus::Failure, 408)]
    );
    net.out.clear();
    transfer_answered(&mut net, &c);
}

#[test]
fn a_second_transfer_while_the_first_waits_is_unsupported_and_sends_nothing() {
    let mut net = Net::new();
    let c = answered_call(&mut net);
    transfer_answered(&mut net, &c);
    net.chan(c.call, transfer_op("104"));
    assert_eq!(
        net.chan_events(c.call),
        [transfer_done(TransferStatus::Unsupported, 0)]
    );
    assert!(net.requests_to(&c.carrier).is_empty(), "no second REFER");
}

#[test]
fn transfer_before_the_dialplan_answers_redirects_the_caller_with_302() {
    let mut net = Net::new();
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let invite = carrier.invite("102", Some(&sdp_offer(carrier.rtp)));
    net.deliver(&carrier, invite);
    let call = net.spawned().pop().expect("a dialplan task").call;
    net.chan(call, ChanOp::Ringing);
    let ringing = net.responses_to(&carrier);
    assert_eq!(
        ringing.iter().map(|r| r.status).collect::<Vec<_>>(),
        [100, 180]
    );
    net.out.clear();

    net.chan(call, transfer_op("103"));
    let r = net.responses_to(&carrier);
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), [302]);
    assert_eq!(
        r[0].headers.get("Contact"),
        Some("<sip:103@127.0.0.1:5060>")
    );
    assert_eq!(
        tag(r[0].headers.get("To")),
        tag(ringing[1].headers.get("To")),
        "the 302 ends the early dialog the 180 began"
    );
    assert_eq!(
        net.chan_events(call),
        [
            transfer_done(TransferStatus::Success, 302),
            ChanEvent::Hangup
        ]
    );
    assert_eq!(net.sw.channels().count(), 0);
    let forgotten = net.take(|o| matches!(o, Output::Forget(id) if *id == call).then_some(()));
    assert_eq!(forgotten.len(), 1, "the call is over");
}

#[test]
fn transfer_while_the_caller_rings_a_callee_redirects_it_and_cancels_the_branch() {
    let mut net = Net::new();
    let r = ringing_call(&mut net, "102");
    net.deliver(&r.bob, r.bob.answer(&r.to_bob, 180, "b1", None));
    let ringing = net.responses_to(&r.carrier);
    let ring = ringing
        .iter()
        .find(|x| x.status == 180)
        .expect("the caller hears ringing")
        .clone();
    net.out.clear();

    net.chan(r.call, transfer_op("103"));
    let resp = net.responses_to(&r.carrier);
    assert_eq!(resp.iter().map(|r| r.status).collect::<Vec<_>>(), [302]);
    assert_eq!(
        resp[0].headers.get("Contact"),
        Some("<sip:103@127.0.0.1:5060>")
    );
    assert_eq!(tag(resp[0].headers.get("To")), tag(ring.headers.get("To")));
    // The task hears the Transfer's outcome, then that the call is over (the Dial
    // it ran ends with it).
    assert_eq!(
        net.chan_events(r.call),
        [
            transfer_done(TransferStatus::Success, 302),
            ChanEvent::Hangup,
            dial_done(DialStatus::Cancel),
        ]
    );
    let to_bob = net.requests_to(&r.bob);
    assert_eq!(methods(&to_bob), [Method::Cancel]);
    assert_eq!(
        to_bob[0].top_via().unwrap().branch(),
        r.to_bob.top_via().unwrap().branch()
    );
    net.deliver(&r.bob, r.bob.answer(&to_bob[0], 200, "b1", None));
    net.deliver(&r.bob, r.bob.answer(&r.to_bob, 487, "b1", None));
    assert_eq!(methods(&net.requests_to(&r.bob)), [Method::Ack]);
    assert_eq!(net.sw.channels().count(), 0);
    assert!(net.sent_to(&r.carrier).is_empty());
}

// ------------------------------------------- attended, both calls dialled out

/// 104 dials `to` (a registered phone) from its own phone: the call, 104's INVITE
/// and our 200 to it, and the callee's INVITE from us.
fn dial_out(
    net: &mut Net,
    agent: &mut Phone,
    callee: &Phone,
    tag: &str,
) -> (CallId, Request, Response, Request) {
    let (call, _, invite) = ext_invite(net, agent, &callee.user);
    net.chan(call, dial(&callee.user));
    let to_callee = net.requests_to(callee).remove(0);
    net.deliver(
        callee,
        callee.answer(&to_callee, 200, tag, Some(&sdp_offer(callee.rtp))),
    );
    let ok = net
        .responses_to(agent)
        .into_iter()
        .find(|r| r.status == 200 && r.call_id().ok() == invite.call_id().ok())
        .expect("answered");
    let ack = agent.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(agent, ack);
    net.out.clear();
    (call, invite, ok, to_callee)
}

/// 104 called 102, then 103, and joins them (REFER with Replaces on the first
/// call): 102 and 103 get a call of their own, each re-INVITEd onto one side of its
/// bridge; 104's two calls end; when one of them hangs up, the other is hung up.
#[test]
fn an_attended_transfer_between_two_calls_the_agent_dialled_joins_the_callees() {
    let mut net = Net::new();
    let bob = Phone::new("102", "127.0.0.2:5062");
    net.register(&bob);
    let mut p103 = phone_103(&mut net);
    let mut agent = Phone::new("104", "127.0.0.4:5062");
    let (call1, invite1, ok1, to_bob) = dial_out(&mut net, &mut agent, &bob, "bobtag");
    let (call2, invite2, ok2, to_103) = dial_out(&mut net, &mut agent, &p103, "t103");
    let (bob_chan, ch103) = (chan_of(&net, "102"), chan_of(&net, "103"));

    let target = replaces_target(
        invite2.call_id().unwrap(),
        &tag(ok2.headers.get("To")),
        &from_tag(&invite2),
    );
    let mut refer = agent.in_dialog(Method::Refer, &invite1, &ok1);
    refer.headers.push("Refer-To", target);
    net.deliver(&agent, refer);
    let (responses, requests) = after_refer(&mut net, &agent);
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [202]
    );
    let byes = requests.iter().filter(|r| r.method == Method::Bye).count();
    assert_eq!(
        byes,
        2,
        "104 is hung up on both calls: {:?}",
        methods(&requests)
    );
    for call in [call1, call2] {
        assert!(net.chan_events(call).contains(&ChanEvent::Hangup));
    }

    // Both callees are re-INVITEd onto the two sides of one new bridge.
    let re_bob = net.requests_to(&bob).remove(0);
    let re_103 = net.requests_to(&p103).remove(0);
    assert_eq!(
        (re_bob.method.clone(), re_103.method.clone()),
        (Method::Invite, Method::Invite)
    );
    assert_eq!(re_bob.call_id().unwrap(), to_bob.call_id().unwrap());
    assert_eq!(re_103.call_id().unwrap(), to_103.call_id().unwrap());
    let (b2, c103) = (chan_of(&net, "102"), chan_of(&net, "103"));
    assert_eq!(
        (b2.name.clone(), c103.name.clone()),
        (bob_chan.name.clone(), ch103.name.clone())
    );
    assert_eq!(b2.bridge, c103.bridge, "one new call");
    assert_ne!(b2.bridge, bob_chan.bridge);
    assert_ne!(b2.bridge, ch103.bridge);
    assert_eq!((b2.side, c103.side), (Side::A, Side::B));
    assert_eq!(b2.bridged_to.as_deref(), Some(c103.name.as_str()));
    let base = 10_000 + 4 * b2.bridge.0 as u16;
    assert_eq!(
        (sdp_port(&re_bob.body), sdp_port(&re_103.body)),
        (base, base + 2)
    );
    assert!(net.spawned().is_empty(), "the joined call runs no dialplan");

    let rtp_b: SocketAddr = "127.0.0.2:31000".parse().unwrap();
    let rtp_c: SocketAddr = "127.0.0.3:31000".parse().unwrap();
    net.deliver(
        &bob,
        bob.answer(&re_bob, 200, "bobtag", Some(&sdp_offer(rtp_b))),
    );
    net.deliver(
        &p103,
        p103.answer(&re_103, 200, "t103", Some(&sdp_offer(rtp_c))),
    );
    let ops = net.media_ops();
    assert_eq!(remote_of(&ops, b2.bridge, Side::A), Some(rtp_b));
    assert_eq!(remote_of(&ops, b2.bridge, Side::B), Some(rtp_c));
    net.out.clear();

    // 103 hangs up: 102 is hung up too, and the joined call is recorded.
    let bye = p103.in_callee_dialog(Method::Bye, &to_103, "t103");
    net.deliver(&p103, bye);
    assert!(net
        .requests_to(&bob)
        .iter()
        .any(|r| r.method == Method::Bye));
    assert!(net
        .writes()
        .iter()
        .any(|w| matches!(w, store::Write::Cdr(r) if r.caller_channel == bob_chan.name)));
    assert!(channel_named(&net, &bob_chan.name).is_none());
}
