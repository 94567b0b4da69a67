//! SIP over TLS and SRTP in the switch, in virtual time: `require_tls` refuses
//! plain signalling, a TLS leg names our TLS port, SDES offers are answered per
//! leg and the bridge gets the keys, `require_srtp` refuses plain offers and gets
//! RTP/SAVP offered.

use media::sdp::{parse_audio, RtpProfile};
use media::srtp::{SrtpKey, SrtpSuite};
use sip::Transport;

use super::harness::*;
use crate::switch::output::MediaOp;

/// 101..110 as usual; 103 requires TLS, 104 requires SRTP.
fn net() -> Net {
    let config = {
        let mut b = store::ConfigSnapshot::builder().realm(REALM);
        for n in 101..=110 {
            b = b.extension(&n.to_string(), &format!("pw{n}"), "from-internal");
        }
        b.trunk(store::Trunk {
            name: "carrier".into(),
            host: "127.0.0.9".parse().unwrap(),
            port: None,
            context: "from-trunk".into(),
        })
        .transport_security("103", true, false)
        .transport_security("104", false, true)
        .build()
    };
    Net::with(config, Default::default())
}

fn register_with(net: &mut Net, phone: &mut Phone) -> sip::Response {
    let secret = format!("pw{}", phone.user);
    net.register_with(phone, &secret)
}

/// An SDES offer (RTP/SAVP, tag 7) with the phone's key.
fn savp_offer(phone: &Phone, key: &SrtpKey) -> String {
    sdp_offer(phone.rtp).replace("RTP/AVP", "RTP/SAVP").replace(
        "a=ptime:20",
        &format!(
            "a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:{}\r\na=ptime:20",
            key.inline()
        ),
    )
}

fn srtp_ops(
    ops: &[(super::super::output::BridgeId, MediaOp)],
) -> Vec<(media::Side, Option<media::SrtpKeys>)> {
    ops.iter()
        .filter_map(|(_, op)| match op {
            MediaOp::SetSrtp { side, keys } => Some((*side, keys.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn require_tls_refuses_udp_and_tcp_and_takes_tls() {
    let mut net = net();
    for t in [Transport::Udp, Transport::Tcp] {
        let mut phone = Phone::new("103", "127.0.0.3:5070").over(t);
        let resp = register_with(&mut net, &mut phone);
        assert_eq!(resp.status, 403, "{t}");
        assert!(resp
            .headers
            .get("Warning")
            .unwrap()
            .contains("TLS required"));
    }
    let mut phone = Phone::new("103", "127.0.0.3:5071").over(Transport::Tls);
    assert_eq!(register_with(&mut net, &mut phone).status, 200);
    // Another extension over UDP is not affected.
    let mut other = Phone::new("105", "127.0.0.5:5070");
    assert_eq!(register_with(&mut net, &mut other).status, 200);
}

#[test]
fn require_tls_refuses_a_call_over_udp() {
    let mut net = net();
    let mut phone = Phone::new("103", "127.0.0.3:5070");
    let invite = phone.invite("101", Some(&sdp_offer(phone.rtp)));
    net.deliver(&phone, invite.clone());
    let challenge = net.responses_to(&phone).pop().unwrap();
    let again = phone.authorized(&invite, &challenge, "pw103");
    net.deliver(&phone, again);
    assert!(net.statuses_to(&phone).contains(&403));
    assert!(net.spawned().is_empty(), "no call starts");
}

#[test]
fn a_tls_callee_is_offered_srtp_from_our_tls_port() {
    let mut net = net();
    let mut bob = Phone::new("102", "127.0.0.2:5062").over(Transport::Tls);
    assert_eq!(register_with(&mut net, &mut bob).status, 200);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let _ = net.trunk_call(&mut carrier, "102");
    let invite = net.requests_to(&bob).remove(0);
    let via = invite.top_via().unwrap();
    assert_eq!((via.transport.as_str(), via.port), ("TLS", Some(5061)));
    assert!(invite
        .headers
        .get("Contact")
        .unwrap()
        .contains(":5061;transport=tls"));
    // Best effort over TLS: RTP/AVP with our crypto line.
    let offer = parse_audio(&invite.body).unwrap();
    assert_eq!(offer.profile, RtpProfile::Avp);
    assert_eq!(offer.crypto.len(), 1);
}

#[test]
fn an_sdes_offer_is_answered_with_our_key_and_the_bridge_gets_both() {
    let mut net = net();
    let bob = Phone::new("102", "127.0.0.2:5062");
    net.register(&bob);
    let mut alice = Phone::new("101", "127.0.0.1:5070").over(Transport::Tls);
    let theirs = SrtpKey::generate(SrtpSuite::AesCm128HmacSha1_80);
    let invite = alice.invite("102", Some(&savp_offer(&alice, &theirs)));
    net.deliver(&alice, invite.clone());
    let challenge = net.responses_to(&alice).pop().unwrap();
    let again = alice.authorized(&invite, &challenge, "pw101");
    net.deliver(&alice, again);
    let spawn = net.spawned().pop().expect("a call");
    net.dial(spawn.call, "102");
    // Bob (plain UDP, no requirement) is offered plain RTP.
    let to_bob = net.requests_to(&bob).remove(0);
    let offer = parse_audio(&to_bob.body).unwrap();
    assert_eq!((offer.profile, offer.crypto.len()), (RtpProfile::Avp, 0));
    net.out.clear();
    net.deliver(
        &bob,
        bob.answer(&to_bob, 200, "bobtag", Some(&sdp_offer(bob.rtp))),
    );
    let ops = net.media_ops();
    let ok = net.ok_to(&alice);
    let answer = parse_audio(&ok.body).unwrap();
    assert_eq!(answer.profile, RtpProfile::Savp);
    assert_eq!(answer.crypto.len(), 1);
    assert_eq!(
        answer.crypto[0].tag, 7,
        "the answer repeats the offer's tag"
    );
    let ours = answer.crypto[0].key.clone();
    assert_ne!(ours, theirs);
    let srtp = srtp_ops(&ops);
    assert!(
        srtp.contains(&(
            media::Side::A,
            Some(media::SrtpKeys {
                inbound: theirs,
                outbound: ours
            })
        )),
        "{srtp:?}"
    );
    assert!(
        srtp.contains(&(media::Side::B, None)),
        "Bob's leg stays plain"
    );
}

#[test]
fn require_srtp_refuses_a_plain_offer_and_is_offered_savp() {
    let mut net = net();
    // 104 calls with plain RTP: 488, no call.
    let mut phone = Phone::new("104", "127.0.0.4:5070").over(Transport::Tls);
    let invite = phone.invite("101", Some(&sdp_offer(phone.rtp)));
    net.deliver(&phone, invite.clone());
    let challenge = net.responses_to(&phone).pop().unwrap();
    let again = phone.authorized(&invite, &challenge, "pw104");
    net.deliver(&phone, again);
    let resp = net.responses_to(&phone);
    let refusal = resp.iter().find(|r| r.status == 488).expect("488");
    assert!(refusal
        .headers
        .get("Warning")
        .unwrap()
        .contains("must use SRTP"));
    assert!(net.spawned().is_empty());
    // A call to 104 (over UDP even): offered RTP/SAVP only.
    let callee = Phone::new("104", "127.0.0.4:5072");
    net.register(&callee);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let _ = net.trunk_call(&mut carrier, "104");
    let to_callee = net.requests_to(&callee).remove(0);
    let offer = parse_audio(&to_callee.body).unwrap();
    assert_eq!(offer.profile, RtpProfile::Savp);
    assert_eq!(offer.crypto[0].tag, 1);
}
