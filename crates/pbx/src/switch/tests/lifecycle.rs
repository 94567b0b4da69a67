//! Registration, digest on INVITE, configuration changes, the live-channel table
//! the switch owns, and shutdown with live calls.

use std::sync::Arc;
use std::time::Duration;

use sip::Method;

use super::harness::*;
use crate::chan::{ChanEvent, ChanOp};
use crate::events::Event;
use crate::switch::Output;

#[test]
fn register_with_digest_is_stored_behind_and_expires() {
    let mut net = Net::new();
    let mut alice = Phone::new("101", "127.0.0.2:5062");
    let reg = alice.register(60);
    net.deliver(&alice, reg.clone());
    let challenge = net.responses_to(&alice).pop().unwrap();
    assert_eq!(challenge.status, 401);
    let again = alice.authorized(&reg, &challenge, "pw101");
    net.deliver(&alice, again);
    assert_eq!(net.statuses_to(&alice), [200]);
    assert_eq!(net.sw.counts().0, 1);
    let writes = net.writes();
    assert!(
        matches!(&writes[..], [store::Write::Locations { aor, bindings }] if aor == "101" && bindings.len() == 1)
    );
    assert!(net
        .events()
        .iter()
        .any(|e| matches!(e, Event::Registration { .. })));
    net.advance(Duration::from_secs(70));
    assert_eq!(net.sw.counts().0, 0);
    assert!(net
        .writes()
        .iter()
        .any(|w| matches!(w, store::Write::LocationDeleted { aor, .. } if aor == "101")));
}

#[test]
fn a_wrong_password_gets_403_like_an_unknown_user() {
    let mut net = Net::new();
    for user in ["101", "777"] {
        let mut p = Phone::new(user, "127.0.0.2:5062");
        let reg = p.register(60);
        net.deliver(&p, reg.clone());
        let challenge = net.responses_to(&p).pop().unwrap();
        let again = p.authorized(&reg, &challenge, "wrong");
        net.deliver(&p, again);
        // An unknown user first waits for a fresher snapshot; the answer is the same.
        net.advance(Duration::from_secs(2));
        assert_eq!(net.statuses_to(&p), [403], "{user}");
    }
    assert!(net.writes().is_empty());
}

#[test]
fn an_extension_call_needs_digest_then_runs_its_dialplan() {
    let mut net = Net::new();
    let mut alice = Phone::new("101", "127.0.0.2:5062");
    let invite = alice.invite("102", Some(&sdp_offer(alice.rtp)));
    net.deliver(&alice, invite.clone());
    let challenge = net.responses_to(&alice).pop().unwrap();
    assert_eq!(challenge.status, 407);
    assert!(net.spawned().is_empty());
    let again = alice.authorized(&invite, &challenge, "pw101");
    net.deliver(&alice, again);
    assert_eq!(net.statuses_to(&alice), [100]);
    let spawn = net.spawned().pop().expect("a dialplan task");
    assert!(spawn.channel.starts_with("SIP/101-"));
    let ch = net.sw.channels().next().unwrap();
    assert_eq!(ch.endpoint, "101");
}

#[test]
fn a_configuration_change_is_used_at_once() {
    let mut net = Net::new();
    let mut carol = Phone::new("150", "127.0.0.2:5062");
    let reg = carol.register(60);
    net.deliver(&carol, reg.clone());
    let c = net.responses_to(&carol).pop().unwrap();
    let again = carol.authorized(&reg, &c, "pw150");
    net.deliver(&carol, again);
    net.advance(Duration::from_secs(2));
    assert_eq!(net.statuses_to(&carol), [403], "150 does not exist yet");
    let config = store::ConfigSnapshot::builder()
        .realm(REALM)
        .extension("150", "pw150", "from-internal")
        .build();
    let now = net.now;
    net.sw.set_config(Arc::new(config), now);
    let reg = carol.register(60);
    net.deliver(&carol, reg.clone());
    let c = net.responses_to(&carol).pop().unwrap();
    let again = carol.authorized(&reg, &c, "pw150");
    net.deliver(&carol, again);
    assert_eq!(net.statuses_to(&carol), [200]);
}

#[test]
fn channel_tasks_change_the_table_only_through_the_switch() {
    let mut net = Net::new();
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let invite = carrier.invite("110", Some(&sdp_offer(carrier.rtp)));
    net.deliver(&carrier, invite);
    let spawn = net.spawned().pop().unwrap();
    net.out.clear();
    net.chan(
        spawn.call,
        ChanOp::SpyGroup {
            channel: spawn.channel.clone(),
            groups: "sales:vip".into(),
        },
    );
    let published = net.take(|o| match o {
        Output::Channel(c) => Some(c.clone()),
        _ => None,
    });
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].spygroup, "sales:vip");
    // The same again changes nothing and publishes nothing.
    net.chan(
        spawn.call,
        ChanOp::SpyGroup {
            channel: spawn.channel.clone(),
            groups: "sales:vip".into(),
        },
    );
    assert!(net.out.is_empty());
}

#[test]
fn shutdown_ends_live_calls_and_waits_for_their_byes() {
    let mut net = Net::new();
    let c = answered_call(&mut net);
    // A second call, still ringing.
    let dave = Phone::new("103", "127.0.0.4:5062");
    net.register(&dave);
    let mut other = Phone::new("0456", "127.0.0.9:5070");
    let (ringing, _) = net.trunk_call(&mut other, "103");
    let to_dave = net.requests_to(&dave).remove(0);
    net.deliver(&dave, dave.answer(&to_dave, 180, "d1", None));
    net.out.clear();

    let now = net.now;
    net.sw.shutdown(now);
    net.out
        .extend(std::iter::from_fn(|| net.sw.poll_output()).collect::<Vec<_>>());
    let to_carrier = net.requests_to(&c.carrier);
    assert_eq!(to_carrier.len(), 1);
    assert_eq!(to_carrier[0].method, Method::Bye);
    let to_bob = net.requests_to(&c.bob);
    assert_eq!(to_bob[0].method, Method::Bye);
    assert!(net.statuses_to(&other).contains(&503));
    assert!(net
        .requests_to(&dave)
        .iter()
        .any(|r| r.method == Method::Cancel));
    assert!(net.chan_events(c.call).contains(&ChanEvent::Hangup));
    assert!(net.chan_events(ringing).contains(&ChanEvent::Hangup));
    assert!(!net.sw.is_settled());
    // New calls are turned away meanwhile.
    let late = other.invite("103", Some(&sdp_offer(other.rtp)));
    net.deliver(&other, late);
    assert_eq!(net.statuses_to(&other), [503]);
    net.deliver(&c.carrier, c.carrier.answer(&to_carrier[0], 200, "x", None));
    net.deliver(&c.bob, c.bob.answer(&to_bob[0], 200, &c.bob_tag, None));
    assert_eq!(
        net.writes()
            .iter()
            .filter(|w| matches!(w, store::Write::Cdr(_)))
            .count(),
        2
    );
    // The CANCEL to Dave still waits; its answer settles everything.
    assert!(!net.sw.is_settled());
    net.advance(Duration::from_secs(40));
    assert!(net.sw.is_settled(), "timed out at last");
}

/// Registers `phone` with its digest, returning the final status.
fn register_with(net: &mut Net, phone: &mut Phone, secret: &str) -> Vec<u16> {
    let reg = phone.register(60);
    net.deliver(phone, reg.clone());
    let c = net.responses_to(phone).pop().unwrap();
    let again = phone.authorized(&reg, &c, secret);
    net.deliver(phone, again);
    net.statuses_to(phone)
}

#[test]
fn an_unknown_user_waits_for_a_fresher_snapshot_before_it_is_refused() {
    let mut net = Net::new();
    let mut carol = Phone::new("150", "127.0.0.2:5062");
    assert!(
        register_with(&mut net, &mut carol, "pw150").is_empty(),
        "parked, not refused"
    );
    assert_eq!(
        net.take(|o| matches!(o, Output::RefreshConfig).then_some(()))
            .len(),
        1
    );
    // The extension was added a moment ago: the fresher snapshot has it.
    let fresh = store::ConfigSnapshot::builder()
        .realm(REALM)
        .extension("150", "pw150", "from-internal")
        .build();
    let now = net.now;
    net.sw.config_refreshed(Arc::new(fresh), now);
    net.out
        .extend(std::iter::from_fn(|| net.sw.poll_output()).collect::<Vec<_>>());
    assert_eq!(net.statuses_to(&carol), [200]);

    // Still unknown after the reload: refused then.
    let mut dan = Phone::new("151", "127.0.0.3:5062");
    assert!(register_with(&mut net, &mut dan, "pw151").is_empty());
    let now = net.now;
    net.sw.config_refreshed(Arc::new(default_config()), now);
    net.out
        .extend(std::iter::from_fn(|| net.sw.poll_output()).collect::<Vec<_>>());
    assert_eq!(net.statuses_to(&dan), [403]);

    // No reload comes at all (database down): refused after a second.
    let mut eve = Phone::new("152", "127.0.0.4:5062");
    assert!(register_with(&mut net, &mut eve, "pw152").is_empty());
    net.advance(Duration::from_millis(900));
    assert!(net.statuses_to(&eve).is_empty());
    net.advance(Duration::from_millis(200));
    assert_eq!(net.statuses_to(&eve), [403]);
}

/// What we say we are: the name without the version by default (a scanner learns
/// no version to aim at), as `Server` on responses and `User-Agent` on requests;
/// a setting changes it, and an empty one sends neither.
#[test]
fn responses_and_requests_name_spygroup_without_its_version() {
    let mut net = Net::new();
    let mut p = Phone::new("101", "127.0.0.2:5062");
    let reg = p.register(3600);
    net.deliver(&p, reg);
    let r = net.responses_to(&p);
    assert_eq!(r[0].headers.get("Server"), Some("spygroup"), "{r:?}");
    assert_eq!(r[0].headers.get("User-Agent"), None);
    // A request we send: our INVITE to a callee.
    let Ringing { to_bob, .. } = ringing_call(&mut net, "102");
    assert_eq!(to_bob.headers.get("User-Agent"), Some("spygroup"));

    for (setting, want) in [("", None), ("Acme PBX", Some("Acme PBX"))] {
        let cfg = crate::PbxConfig {
            user_agent: setting.into(),
            ..Default::default()
        };
        let mut net = Net::with(default_config(), cfg);
        let mut p = Phone::new("101", "127.0.0.2:5062");
        let reg = p.register(3600);
        net.deliver(&p, reg);
        let r = net.responses_to(&p);
        assert_eq!(r[0].headers.get("Server"), want, "{setting:?}");
    }
}
