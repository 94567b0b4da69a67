//! Registrar behaviour in virtual time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip::{Peer, Transport};

use super::*;

const AOR: &str = "sip:110@spygroup";

fn peer(port: u16) -> Peer {
    Peer::new(Transport::Udp, SocketAddr::from(([203, 0, 113, 7], port)))
}

fn contact(uri: &str, expires: Option<u32>) -> ContactEntry {
    ContactEntry {
        uri: uri.to_string(),
        expires,
        q: None,
    }
}

fn req(
    contacts: Vec<ContactEntry>,
    expires: Option<u32>,
    call_id: &str,
    cseq: u32,
) -> RegisterRequest {
    RegisterRequest {
        contacts,
        star: false,
        expires_header: expires,
        call_id: call_id.to_string(),
        cseq,
        source: peer(5060),
        user_agent: Some("Linphone/5.2".to_string()),
    }
}

fn star(expires: Option<u32>, call_id: &str, cseq: u32) -> RegisterRequest {
    RegisterRequest {
        star: true,
        ..req(vec![], expires, call_id, cseq)
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn uris(bs: &[Binding]) -> Vec<&str> {
    bs.iter().map(|b| b.contact_uri.as_str()).collect()
}

#[test]
fn add_uses_default_expiry_and_keeps_source() {
    let t0 = Instant::now();
    let mut r = Registrar::new(RegistrarConfig::default());
    let mut q = req(vec![contact("sip:110@10.0.0.5:5062", None)], None, "c1", 1);
    q.source = peer(40123);
    let out = r.apply(AOR, q, t0).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].remaining(t0), 3600);
    assert_eq!(out[0].source, peer(40123));
    assert_eq!(out[0].user_agent.as_deref(), Some("Linphone/5.2"));
    assert_eq!(r.lookup(AOR, t0), out);
    assert!(r.lookup("sip:111@spygroup", t0).is_empty());
}

#[test]
fn refresh_extends_expiry() {
    let t0 = Instant::now();
    let mut r = Registrar::default();
    r.apply(
        AOR,
        req(vec![contact("sip:a", None)], Some(600), "c1", 1),
        t0,
    )
    .unwrap();
    let t1 = t0 + secs(500);
    let out = r
        .apply(
            AOR,
            req(vec![contact("sip:a", None)], Some(600), "c1", 2),
            t1,
        )
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].remaining(t1), 600);
    assert_eq!(out[0].cseq, 2);
    assert_eq!(r.lookup(AOR, t0 + secs(1099)).len(), 1);
}

#[test]
fn expiry_and_purge() {
    let t0 = Instant::now();
    let mut r = Registrar::default();
    r.apply(
        AOR,
        req(vec![contact("sip:a", None)], Some(60), "c1", 1),
        t0,
    )
    .unwrap();
    let b = &r.lookup(AOR, t0 + secs(59))[0];
    assert_eq!(b.remaining(t0 + secs(59)), 1);
    // Rounded up: half a second left still reports 1 s, never 0.
    assert_eq!(b.remaining(t0 + Duration::from_millis(59_500)), 1);
    assert!(r.lookup(AOR, t0 + secs(60)).is_empty());
    assert_eq!(r.all().count(), 1, "not purged yet");
    assert!(r.purge_expired(t0 + secs(59)).is_empty());
    let gone = r.purge_expired(t0 + secs(60));
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].0, AOR);
    assert_eq!(gone[0].1.contact_uri, "sip:a");
    assert_eq!(r.aor_count(), 0);
    assert_eq!(r.all().count(), 0);
}

#[test]
fn unregister_one_contact() {
    let t0 = Instant::now();
    let mut r = Registrar::default();
    r.apply(
        AOR,
        req(
            vec![contact("sip:a", None), contact("sip:b", None)],
            None,
            "c1",
            1,
        ),
        t0,
    )
    .unwrap();
    let out = r
        .apply(
            AOR,
            req(vec![contact("sip:a", Some(0))], Some(3600), "c1", 2),
            t0,
        )
        .unwrap();
    assert_eq!(uris(&out), ["sip:b"]);
    // Removing an unknown contact is not an error.
    let out = r
        .apply(
            AOR,
            req(vec![contact("sip:zzz", None)], Some(0), "c1", 3),
            t0,
        )
        .unwrap();
    assert_eq!(uris(&out), ["sip:b"]);
    // Expires: 0 header removes the last one.
    let out = r
        .apply(AOR, req(vec![contact("sip:b", None)], Some(0), "c1", 4), t0)
        .unwrap();
    assert!(out.is_empty());
    assert_eq!(r.aor_count(), 0);
}

#[test]
fn star_removes_all_only_when_valid() {
    let t0 = Instant::now();
    let mut r = Registrar::default();
    r.apply(AOR, req(vec![contact("sip:a", None)], None, "c1", 1), t0)
        .unwrap();
    r.apply(AOR, req(vec![contact("sip:b", None)], None, "c2", 1), t0)
        .unwrap();
    assert_eq!(
        r.apply(AOR, star(Some(3600), "c3", 1), t0),
        Err(RegisterError::InvalidStar)
    );
    assert_eq!(
        r.apply(AOR, star(None, "c3", 1), t0),
        Err(RegisterError::InvalidStar)
    );
    let mut mixed = star(Some(0), "c3", 1);
    mixed.contacts.push(contact("sip:c", None));
    assert_eq!(r.apply(AOR, mixed, t0), Err(RegisterError::InvalidStar));
    assert_eq!(r.lookup(AOR, t0).len(), 2, "errors change nothing");

    // Same Call-ID as a binding but not a higher CSeq: whole request fails.
    assert_eq!(
        r.apply(AOR, star(Some(0), "c1", 1), t0),
        Err(RegisterError::OutOfOrder)
    );
    assert_eq!(r.lookup(AOR, t0).len(), 2);

    assert_eq!(r.apply(AOR, star(Some(0), "c1", 2), t0), Ok(vec![]));
    assert!(r.lookup(AOR, t0).is_empty());
    assert_eq!(RegisterError::InvalidStar.status_code(), 400);
}

#[test]
fn interval_too_brief_boundary() {
    let t0 = Instant::now();
    let mut r = Registrar::default();
    let err = r
        .apply(
            AOR,
            req(vec![contact("sip:a", None)], Some(59), "c1", 1),
            t0,
        )
        .unwrap_err();
    assert_eq!(err, RegisterError::IntervalTooBrief { min_expires: 60 });
    assert_eq!(err.status_code(), 423);
    assert!(r.lookup(AOR, t0).is_empty());
    // Contact parameter overrides the header, both ways.
    assert!(r
        .apply(
            AOR,
            req(vec![contact("sip:a", Some(59))], Some(3600), "c1", 2),
            t0
        )
        .is_err());
    let out = r
        .apply(
            AOR,
            req(vec![contact("sip:a", Some(60))], Some(30), "c1", 3),
            t0,
        )
        .unwrap();
    assert_eq!(out[0].remaining(t0), 60);
    // Above the maximum is capped, not refused.
    let out = r
        .apply(
            AOR,
            req(vec![contact("sip:a", None)], Some(86_400), "c1", 4),
            t0,
        )
        .unwrap();
    assert_eq!(out[0].remaining(t0), 3600);
    // A too-brief contact spoils the whole request.
    let err = r.apply(
        AOR,
        req(
            vec![contact("sip:b", Some(120)), contact("sip:c", Some(1))],
            None,
            "c1",
            5,
        ),
        t0,
    );
    assert!(err.is_err());
    assert_eq!(uris(&r.lookup(AOR, t0)), ["sip:a"]);
}

#[test]
fn several_contacts_and_devices() {
    let t0 = Instant::now();
    let mut r = Registrar::default();
    let out = r
        .apply(
            AOR,
            req(
                vec![contact("sip:desk", None), contact("sip:soft", Some(120))],
                None,
                "desk-1",
                1,
            ),
            t0,
        )
        .unwrap();
    assert_eq!(out.len(), 2);
    let mut phone = req(vec![contact("sip:mobile", None)], Some(300), "mob-1", 77);
    phone.source = peer(6000);
    let out = r.apply(AOR, phone, t0 + secs(1)).unwrap();
    assert_eq!(out.len(), 3);
    let soft = out.iter().find(|b| b.contact_uri == "sip:soft").unwrap();
    assert_eq!(soft.remaining(t0), 120);
    let mobile = out.iter().find(|b| b.contact_uri == "sip:mobile").unwrap();
    assert_eq!(mobile.source, peer(6000));
    // A query (no Contact) returns the list unchanged.
    let out = r
        .apply(AOR, req(vec![], None, "q", 1), t0 + secs(2))
        .unwrap();
    assert_eq!(out.len(), 3);
}

#[test]
fn cseq_ordering_and_call_id_replacement() {
    let t0 = Instant::now();
    let mut r = Registrar::default();
    r.apply(AOR, req(vec![contact("sip:a", None)], None, "c1", 5), t0)
        .unwrap();
    for cseq in [4, 5] {
        let err = r
            .apply(
                AOR,
                req(vec![contact("sip:a", Some(0))], None, "c1", cseq),
                t0,
            )
            .unwrap_err();
        assert_eq!(err, RegisterError::OutOfOrder);
        assert_eq!(err.status_code(), 500);
    }
    assert_eq!(
        r.lookup(AOR, t0).len(),
        1,
        "out-of-order un-register ignored"
    );

    // Phone rebooted: new Call-ID, CSeq restarts at 1, new NAT mapping.
    let mut rebooted = req(vec![contact("sip:a", None)], Some(120), "c2", 1);
    rebooted.source = peer(41000);
    let out = r.apply(AOR, rebooted, t0 + secs(5)).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].call_id, "c2");
    assert_eq!(out[0].cseq, 1);
    assert_eq!(out[0].source, peer(41000));
    assert_eq!(out[0].remaining(t0 + secs(5)), 120);
}

#[test]
fn duplicate_uri_in_one_request_last_wins() {
    let t0 = Instant::now();
    let mut r = Registrar::default();
    let out = r
        .apply(
            AOR,
            req(
                vec![contact("sip:a", Some(600)), contact("sip:a", Some(900))],
                None,
                "c1",
                1,
            ),
            t0,
        )
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].remaining(t0), 900);
}

#[test]
fn cap_on_bindings() {
    let t0 = Instant::now();
    let mut r = Registrar::new(RegistrarConfig {
        max_bindings_per_aor: 3,
        ..RegistrarConfig::default()
    });
    let three: Vec<_> = (0..3).map(|i| contact(&format!("sip:{i}"), None)).collect();
    r.apply(AOR, req(three, Some(60), "c1", 1), t0).unwrap();
    let err = r
        .apply(AOR, req(vec![contact("sip:x", None)], None, "c2", 1), t0)
        .unwrap_err();
    assert_eq!(err, RegisterError::TooManyBindings { max: 3 });
    assert_eq!(err.status_code(), 403);
    assert_eq!(r.lookup(AOR, t0).len(), 3);
    // Refreshing an existing contact is fine at the cap.
    r.apply(
        AOR,
        req(vec![contact("sip:0", None)], Some(600), "c1", 2),
        t0,
    )
    .unwrap();
    // Expired bindings free their slots.
    let out = r
        .apply(
            AOR,
            req(vec![contact("sip:x", None)], None, "c2", 1),
            t0 + secs(60),
        )
        .unwrap();
    assert_eq!(uris(&out).len(), 2);
}

#[test]
fn lookup_orders_by_q_then_recency() {
    let t0 = Instant::now();
    let mut r = Registrar::default();
    let with_q = |uri: &str, q: Option<f32>| ContactEntry {
        uri: uri.into(),
        expires: None,
        q,
    };
    r.apply(
        AOR,
        req(vec![with_q("sip:low", Some(0.1))], None, "a", 1),
        t0,
    )
    .unwrap();
    r.apply(
        AOR,
        req(vec![with_q("sip:old", None)], None, "b", 1),
        t0 + secs(1),
    )
    .unwrap();
    r.apply(
        AOR,
        req(vec![with_q("sip:new", Some(1.0))], None, "c", 1),
        t0 + secs(2),
    )
    .unwrap();
    r.apply(
        AOR,
        req(vec![with_q("sip:mid", Some(0.5))], None, "d", 1),
        t0 + secs(3),
    )
    .unwrap();
    assert_eq!(
        uris(&r.lookup(AOR, t0 + secs(4))),
        ["sip:new", "sip:old", "sip:mid", "sip:low"]
    );
    // A refresh makes a contact the most recent among equal q.
    r.apply(
        AOR,
        req(vec![with_q("sip:old", None)], None, "b", 2),
        t0 + secs(5),
    )
    .unwrap();
    assert_eq!(
        uris(&r.lookup(AOR, t0 + secs(6))),
        ["sip:old", "sip:new", "sip:mid", "sip:low"]
    );
    for bad in [1.5, -0.1, f32::NAN] {
        let err = r
            .apply(
                AOR,
                req(vec![with_q("sip:bad", Some(bad))], None, "e", 1),
                t0,
            )
            .unwrap_err();
        assert_eq!(err.status_code(), 400);
    }
    assert_eq!(
        r.apply(AOR, req(vec![contact(" ", None)], None, "e", 1), t0),
        Err(RegisterError::EmptyContact)
    );
}

#[test]
fn restore_from_store() {
    let t0 = Instant::now();
    let mut r = Registrar::default();
    let out = r
        .apply(
            AOR,
            req(vec![contact("sip:a", None)], Some(1800), "c1", 9),
            t0,
        )
        .unwrap();
    // Persisted as "seconds remaining" at shutdown, 100 s after registering.
    let saved = (out[0].clone(), out[0].remaining(t0 + secs(100)));
    assert_eq!(saved.1, 1700);

    // A new process with its own clock.
    let t1 = t0 + secs(10_000);
    let mut fresh = Registrar::default();
    let restored = Binding {
        expires_at: t1 + secs(saved.1.into()),
        ..saved.0
    };
    fresh.restore(AOR, restored.clone());
    fresh.restore(AOR, restored);
    let got = fresh.lookup(AOR, t1);
    assert_eq!(got.len(), 1, "restore replaces the same contact");
    assert_eq!(got[0].remaining(t1), 1700);
    // CSeq state survived: a stale retransmission is still refused.
    assert!(fresh
        .apply(AOR, req(vec![contact("sip:a", None)], None, "c1", 9), t1)
        .is_err());
    assert_eq!(fresh.all().map(|(a, _)| a).collect::<Vec<_>>(), [AOR]);
}
