//! The RTP timeout and the maximum call duration in virtual time.

use std::time::Duration;

use sip::Method;

use super::harness::*;
use crate::config::PbxConfig;
use crate::switch::BridgeId;

fn net_with(cfg: PbxConfig) -> Net {
    Net::with(default_config(), cfg)
}

/// BYEs sent to `phone`, retransmissions counted once.
fn byes(net: &mut Net, phone: &Phone) -> usize {
    let mut seqs: Vec<u32> = net
        .requests_to(phone)
        .iter()
        .filter(|r| r.method == Method::Bye)
        .filter_map(|r| r.cseq().ok().map(|c| c.seq))
        .collect();
    seqs.dedup();
    seqs.len()
}

/// The answered call's bridge (the fake media numbers them from 1).
const BRIDGE: BridgeId = BridgeId(1);

#[test]
fn a_phone_that_stops_sending_is_hung_up_after_the_rtp_timeout() {
    let mut net = net_with(PbxConfig {
        rtp_timeout: Some(Duration::from_secs(30)),
        ..PbxConfig::default()
    });
    let c = answered_call(&mut net);
    // Both send for a while: nothing happens.
    let mut counts = [0u64, 0u64];
    for _ in 0..20 {
        counts[0] += 100;
        counts[1] += 100;
        net.advance(Duration::from_secs(2));
        net.sw.media_activity(&[(BRIDGE, counts)], net.now);
        net.pump();
    }
    assert_eq!(byes(&mut net, &c.carrier) + byes(&mut net, &c.bob), 0);
    // Bob goes silent (A keeps sending): at 30 s both legs get a BYE.
    for _ in 0..14 {
        counts[0] += 100;
        net.advance(Duration::from_secs(2));
        net.sw.media_activity(&[(BRIDGE, counts)], net.now);
        net.pump();
    }
    assert_eq!(
        byes(&mut net, &c.carrier) + byes(&mut net, &c.bob),
        0,
        "28 s: not yet"
    );
    counts[0] += 100;
    net.advance(Duration::from_secs(2));
    net.sw.media_activity(&[(BRIDGE, counts)], net.now);
    net.pump();
    assert_eq!(byes(&mut net, &c.carrier), 1, "the caller is told");
    assert_eq!(byes(&mut net, &c.bob), 1, "and the silent phone too");
}

#[test]
fn the_timeout_can_be_off() {
    let mut net = net_with(PbxConfig {
        rtp_timeout: None,
        ..PbxConfig::default()
    });
    let c = answered_call(&mut net);
    for _ in 0..100 {
        net.advance(Duration::from_secs(2));
        net.sw.media_activity(&[(BRIDGE, [0, 0])], net.now);
        net.pump();
    }
    assert_eq!(byes(&mut net, &c.carrier) + byes(&mut net, &c.bob), 0);
}

#[test]
fn a_call_is_hung_up_at_its_maximum_duration() {
    let mut net = net_with(PbxConfig {
        rtp_timeout: None,
        max_call_duration: Some(Duration::from_secs(60)),
        ..PbxConfig::default()
    });
    let c = answered_call(&mut net);
    net.advance(Duration::from_secs(50));
    assert_eq!(byes(&mut net, &c.carrier), 0);
    net.advance(Duration::from_secs(15));
    assert_eq!(byes(&mut net, &c.carrier), 1);
    assert_eq!(byes(&mut net, &c.bob), 1);
}
