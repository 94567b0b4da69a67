//! The per-source limit on new requests.

use std::time::Duration;

use super::harness::*;
use crate::config::PbxConfig;

#[test]
fn a_flooding_source_gets_503_and_others_do_not() {
    let mut net = Net::with(
        default_config(),
        PbxConfig {
            sip_rate_limit: Some(10),
            ..PbxConfig::default()
        },
    );
    let mut flooder = Phone::new("101", "127.0.0.66:5060");
    let mut statuses = Vec::new();
    for _ in 0..50 {
        let req = flooder.register(3600);
        net.deliver(&flooder, req);
        statuses.extend(net.statuses_to(&flooder));
    }
    let challenged = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!((challenged, refused), (20, 30), "{statuses:?}");
    // Another address is served.
    let mut phone = Phone::new("102", "127.0.0.10:5060");
    let req = phone.register(3600);
    net.deliver(&phone, req);
    assert_eq!(net.statuses_to(&phone), vec![401]);
    // A second later the flooder has ten more.
    net.advance(Duration::from_secs(1));
    let mut again = Vec::new();
    for _ in 0..15 {
        let req = flooder.register(3600);
        net.deliver(&flooder, req);
        again.extend(net.statuses_to(&flooder));
    }
    assert_eq!(again.iter().filter(|s| **s == 401).count(), 10, "{again:?}");
}

#[test]
fn the_503_says_when_to_come_back_and_trunks_are_exempt() {
    let mut net = Net::with(
        default_config(),
        PbxConfig {
            sip_rate_limit: Some(1),
            ..PbxConfig::default()
        },
    );
    let mut flooder = Phone::new("101", "127.0.0.66:5060");
    let mut last = None;
    for _ in 0..5 {
        let req = flooder.register(3600);
        net.deliver(&flooder, req);
        last = net.responses_to(&flooder).pop();
    }
    let last = last.unwrap();
    assert_eq!(last.status, 503);
    assert_eq!(last.headers.get("Retry-After"), Some("5"));
    // The carrier trunk (127.0.0.9) calls at will.
    let mut carrier = Phone::new("carrier", "127.0.0.9:5060");
    for _ in 0..5 {
        let invite = carrier.invite("102", Some(&sdp_offer(carrier.rtp)));
        net.deliver(&carrier, invite);
        assert!(!net.statuses_to(&carrier).contains(&503));
    }
}

/// Overload control over all sources: past `max_calls` calls at once a new call
/// (a trunk's too) gets 503 with Retry-After at once, the calls up are untouched,
/// and once one ends the next is taken.
#[test]
fn past_max_calls_new_calls_get_503_and_the_calls_up_go_on() {
    let mut net = Net::with(
        default_config(),
        PbxConfig {
            max_calls: Some(1),
            ..PbxConfig::default()
        },
    );
    let first = answered_call(&mut net);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let invite = carrier.invite("103", Some(&sdp_offer(carrier.rtp)));
    net.deliver(&carrier, invite.clone());
    let refused = net
        .responses_to(&carrier)
        .into_iter()
        .find(|r| r.status == 503)
        .expect("503 for the second call");
    assert_eq!(refused.headers.get("Retry-After"), Some("5"));
    assert!(refused
        .headers
        .get("Warning")
        .unwrap()
        .contains("overloaded"));
    assert!(net.spawned().is_empty(), "no channel task for it");
    // Nothing was sent to the call that is up.
    assert!(net.requests_to(&first.bob).is_empty());
    // The first call ends: a new one is taken.
    let mut c = first.carrier;
    let bye = c.in_dialog(sip::Method::Bye, &first.invite, &first.ok);
    net.deliver(&c, bye);
    net.out.clear();
    let again = carrier.invite("103", Some(&sdp_offer(carrier.rtp)));
    net.deliver(&carrier, again);
    assert!(!net.statuses_to(&carrier).contains(&503));
    assert_eq!(net.spawned().len(), 1);
}

#[test]
fn past_max_cps_new_calls_get_503() {
    let mut net = Net::with(
        default_config(),
        PbxConfig {
            max_cps: Some(2),
            ..PbxConfig::default()
        },
    );
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let invite = carrier.invite("103", Some(&sdp_offer(carrier.rtp)));
        net.deliver(&carrier, invite);
        statuses.extend(net.statuses_to(&carrier));
    }
    // A burst of twice the rate, then 503s.
    let refused = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!(refused, 2, "{statuses:?}");
}
