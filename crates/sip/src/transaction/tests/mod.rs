//! Virtual-time tests: a fixed base `Instant` plus durations, no sleeping.

mod client;
mod server;

use std::time::{Duration, Instant};

use super::*;
use crate::message::{parse_datagram, CSeq};
use crate::peer::Transport;

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn udp() -> Peer {
    Peer::new(Transport::Udp, "10.0.0.5:5062".parse().unwrap())
}

pub(super) fn tcp() -> Peer {
    Peer::new(Transport::Tcp, "10.0.0.5:5062".parse().unwrap())
}

/// A request as a phone would send it.
pub(super) fn request(method: Method, branch: &str, seq: u32) -> Request {
    let mut r = Request::new(method.clone(), "sip:111@pbx.example.com".parse().unwrap());
    let h = &mut r.headers;
    h.push(
        "Via",
        format!("SIP/2.0/UDP 10.0.0.5:5062;branch={branch};rport"),
    );
    h.push("Max-Forwards", "70");
    h.push("Route", "<sip:proxy1.example.com;lr>");
    h.push("Route", "<sip:proxy2.example.com;lr>");
    h.push("From", "\"Agent\" <sip:110@pbx.example.com>;tag=from1");
    h.push("To", "<sip:111@pbx.example.com>");
    h.push("Call-ID", "call-1@10.0.0.5");
    h.push("CSeq", format!("{seq} {method}"));
    r
}

pub(super) fn response(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut resp = Response::for_request(req, status, "");
    if let Some(tag) = to_tag {
        let mut to = resp.to().unwrap();
        to.set_tag(tag);
        resp.headers.set("To", to.to_string());
    }
    resp
}

pub(super) fn transmits(layer: &mut TransactionLayer) -> Vec<Transmit> {
    std::iter::from_fn(|| layer.poll_transmit()).collect()
}

pub(super) fn events(layer: &mut TransactionLayer) -> Vec<Event> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

pub(super) fn parsed(t: &Transmit) -> Message {
    parse_datagram(&t.data).expect("layer sends parsable messages")
}

/// Drive timers until `until` (inclusive); return the offsets from `t0` at which
/// something was transmitted and every event raised with its offset.
pub(super) fn run_until(
    layer: &mut TransactionLayer,
    t0: Instant,
    until: Duration,
) -> (Vec<Duration>, Vec<(Duration, Event)>) {
    let mut sent = Vec::new();
    let mut evs = Vec::new();
    while let Some(t) = layer.poll_timeout() {
        if t > t0 + until {
            break;
        }
        layer.handle_timeout(t);
        for _ in transmits(layer) {
            sent.push(t - t0);
        }
        for e in events(layer) {
            evs.push((t - t0, e));
        }
    }
    (sent, evs)
}

pub(super) fn secs(list: &[f64]) -> Vec<Duration> {
    list.iter().map(|s| Duration::from_secs_f64(*s)).collect()
}

#[test]
fn config_default_matches_rfc() {
    let c = Config::default();
    assert_eq!((c.t1, c.t2, c.t4), (ms(500), ms(4000), ms(5000)));
}
