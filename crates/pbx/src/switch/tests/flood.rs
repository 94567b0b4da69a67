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
