//! Digest guessing and lockouts: only failures against our own nonces count, the
//! guessing source is locked and not the phone, locks are recorded, announced,
//! listed, lifted and restored.

use std::time::Duration;

use sip::{Request, Response};

use super::harness::*;
use crate::events::Event;

/// REGISTERs `phone` answering the challenge with `secret`: the final status.
fn register_with(net: &mut Net, phone: &mut Phone, secret: &str) -> u16 {
    net.register_with(phone, secret).status
}

/// A REGISTER with credentials for a nonce the server never gave.
fn forged(phone: &mut Phone) -> Request {
    let req = phone.register(3600);
    let mut fake = Response::for_request(&req, 401, "Unauthorized");
    fake.headers.push(
        "WWW-Authenticate",
        format!(
            "Digest realm=\"{REALM}\", nonce=\"{}\", algorithm=MD5",
            "ab".repeat(32)
        ),
    );
    phone.authorized(&req, &fake, "guess")
}

fn lockout_writes(net: &mut Net) -> Vec<store::LockoutRecord> {
    net.writes()
        .into_iter()
        .filter_map(|w| match w {
            store::Write::LockoutStarted(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn forged_nonces_count_for_nothing() {
    let mut net = Net::new();
    let mut attacker = Phone::new("110", "127.0.0.66:5060");
    for _ in 0..50 {
        let req = forged(&mut attacker);
        net.deliver(&attacker, req);
        // A fresh challenge, never a 403: nothing was tried against our nonce.
        assert_eq!(net.statuses_to(&attacker), vec![401]);
    }
    assert!(net.sw.lockouts(net.now).is_empty());
    let mut phone = Phone::new("110", "127.0.0.10:5060");
    assert_eq!(register_with(&mut net, &mut phone, "pw110"), 200);
}

#[test]
fn a_nonce_from_another_address_is_not_ours() {
    // A nonce fetched from 127.0.0.66 and replayed from the phone's address (a
    // spoofed source) must not count against that address.
    let mut net = Net::new();
    let mut attacker = Phone::new("110", "127.0.0.66:5060");
    let req = attacker.register(3600);
    net.deliver(&attacker, req.clone());
    let challenge = net.responses_to(&attacker).pop().unwrap();
    let mut spoofed = Phone::new("110", "127.0.0.10:5060");
    for _ in 0..10 {
        let again = spoofed.authorized(&req, &challenge, "guess");
        net.deliver(&spoofed, again);
        assert_eq!(net.statuses_to(&spoofed), vec![401]);
    }
    assert!(net.sw.lockouts(net.now).is_empty());
}

#[test]
fn a_guessing_source_is_locked_and_the_phone_is_not() {
    let mut net = Net::new();
    let mut phone = Phone::new("110", "127.0.0.10:5060");
    assert_eq!(register_with(&mut net, &mut phone, "pw110"), 200);
    let mut guesser = Phone::new("110", "127.0.0.66:5060");
    for i in 0..5 {
        assert_eq!(
            register_with(&mut net, &mut guesser, &format!("guess{i}")),
            403
        );
    }
    // Locked: even the right password is refused, the same way.
    assert_eq!(register_with(&mut net, &mut guesser, "pw110"), 403);
    let locks = net.sw.lockouts(net.now);
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0].kind, model::LockoutKind::Source);
    assert_eq!(locks[0].subject, "source 127.0.0.66");
    // Recorded and announced once.
    let written = lockout_writes(&mut net);
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].subject_id, locks[0].id);
    assert_eq!(
        written[0].reason,
        "5 wrong passwords within 1 min from this source"
    );
    let announced: Vec<_> = net
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::Lockout { .. }))
        .collect();
    assert_eq!(announced.len(), 1);
    // The phone goes on registering.
    assert_eq!(register_with(&mut net, &mut phone, "pw110"), 200);
    // After five minutes the source may try again.
    net.advance(Duration::from_secs(301));
    assert_eq!(register_with(&mut net, &mut guesser, "pw110"), 200);
}

#[test]
fn an_administrator_lifts_a_lock_and_a_restart_keeps_it() {
    let mut net = Net::new();
    let mut guesser = Phone::new("110", "127.0.0.66:5060");
    for i in 0..5 {
        register_with(&mut net, &mut guesser, &format!("guess{i}"));
    }
    let record = lockout_writes(&mut net).pop().unwrap();
    let id = net.sw.lockouts(net.now)[0].id.clone();
    // Restored into a new switch (a restart): still locked.
    let mut restarted = Net::new();
    assert_eq!(restarted.sw.restore_lockouts(&[record], restarted.now), 1);
    assert_eq!(restarted.sw.lockouts(restarted.now).len(), 1);
    assert_eq!(register_with(&mut restarted, &mut guesser, "pw110"), 403);
    // Lifted there.
    assert!(!restarted
        .sw
        .lift_lockout("no-such-id", "admin", restarted.now));
    assert!(restarted.sw.lift_lockout(&id, "admin", restarted.now));
    restarted.pump();
    let lifted: Vec<_> = restarted
        .writes()
        .into_iter()
        .filter(|w| matches!(w, store::Write::LockoutLifted { by, .. } if by == "admin"))
        .collect();
    assert_eq!(lifted.len(), 1);
    assert!(restarted
        .events()
        .iter()
        .any(|e| matches!(e, Event::LockoutLifted { id: lifted, .. } if *lifted == id)));
    assert_eq!(register_with(&mut restarted, &mut guesser, "pw110"), 200);
}

#[test]
fn unknown_users_lock_like_wrong_passwords() {
    let mut net = Net::new();
    let mut scanner = Phone::new("999", "127.0.0.66:5060");
    for n in 0..5 {
        scanner.user = format!("9{n:02}");
        let req = scanner.register(3600);
        net.deliver(&scanner, req.clone());
        let challenge = net.responses_to(&scanner).pop().unwrap();
        let again = scanner.authorized(&req, &challenge, "guess");
        net.deliver(&scanner, again);
        // Unknown here: the switch asks for a fresher snapshot first, then refuses.
        assert!(net.statuses_to(&scanner).is_empty());
        net.sw
            .config_refreshed(std::sync::Arc::new(default_config()), net.now);
        net.pump();
        assert_eq!(net.statuses_to(&scanner), vec![403]);
    }
    assert_eq!(net.sw.lockouts(net.now).len(), 1);
    scanner.user = "110".into();
    assert_eq!(register_with(&mut net, &mut scanner, "pw110"), 403);
}

#[test]
fn console_sign_in_checks_the_phones_secret_under_the_same_locks() {
    let mut net = Net::new();
    let me: std::net::IpAddr = "127.0.0.10".parse().unwrap();
    let guesser: std::net::IpAddr = "127.0.0.66".parse().unwrap();
    let user = net
        .sw
        .sign_in("201", "pw201", me, net.now)
        .expect("signed in");
    assert_eq!(user.extension.number, "201");
    let grant = user.grant.expect("201 is a supervisor");
    assert_eq!(
        grant.modes,
        vec![store::SpyMode::Listen, store::SpyMode::Whisper]
    );
    assert!(net
        .sw
        .sign_in("101", "pw101", me, net.now)
        .unwrap()
        .grant
        .is_none());
    // A wrong secret and an unknown extension are refused alike, and both count.
    assert!(net.sw.sign_in("201", "nope", guesser, net.now).is_none());
    assert!(net.sw.sign_in("999", "pw201", guesser, net.now).is_none());
    for i in 0..3 {
        assert!(net
            .sw
            .sign_in("201", &format!("g{i}"), guesser, net.now)
            .is_none());
    }
    // Five failures lock the source: the right secret is refused there, recorded
    // and announced as a digest lock is; the supervisor's own address goes on.
    assert!(net.sw.sign_in("201", "pw201", guesser, net.now).is_none());
    let locks = net.sw.lockouts(net.now);
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0].subject, "source 127.0.0.66");
    net.pump();
    assert_eq!(lockout_writes(&mut net).len(), 1);
    assert!(net.sw.sign_in("201", "pw201", me, net.now).is_some());
    // The lock holds over SIP too: the source's phone may not register.
    let mut phone = Phone::new("110", "127.0.0.66:5060");
    assert_eq!(register_with(&mut net, &mut phone, "pw110"), 403);
    net.advance(Duration::from_secs(301));
    assert!(net.sw.sign_in("201", "pw201", guesser, net.now).is_some());
}
