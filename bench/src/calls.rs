//! The calls the suite makes: who calls whom (the extension numbering and the one
//! secret every extension shares), which calls a supervisor joins, and placing calls
//! at a steady rate. The scenarios and the paired measurement both place calls
//! through here.

use crate::rtp::{Kind, Leg};
use crate::sip::{CallState, Engine};
use std::time::{Duration, Instant};

/// The digest secret of every extension the suite creates.
pub const SECRET: &str = "bench-secret-1";
/// Callers (10001 up) are few and reused round-robin: a caller may be in many calls.
pub const CALLERS: usize = 20;

/// Extension numbers: callers from 10001, callees (the agents) from 20001,
/// supervisors from 30001.
pub fn caller_ext(i: usize) -> String {
    format!("{}", 10001 + i % CALLERS)
}
pub fn callee_ext(i: usize) -> String {
    format!("{}", 20001 + i)
}
pub fn super_ext(i: usize) -> String {
    format!("{}", 30001 + i)
}

/// What a call under the monitored mix is: of every 20 calls, 5 listened, 2 whispered.
pub fn monitored_kind(i: usize) -> Kind {
    match i % 20 {
        0..=4 => Kind::Listen,
        5 | 6 => Kind::Whisper,
        _ => Kind::Plain,
    }
}

/// Which calls of a capacity scenario have a supervisor on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// No supervisors: the relay's capacity.
    Plain,
    /// 25% of calls listened to, 10% whispered to ([`monitored_kind`]).
    Monitored,
    /// 25% of calls listened to, nothing whispered: the per-core target's wording.
    Listen25,
}

impl Mix {
    /// What call `i` is under this mix.
    pub fn kind(self, i: usize) -> Kind {
        match self {
            Mix::Plain => Kind::Plain,
            Mix::Monitored => monitored_kind(i),
            Mix::Listen25 if i.is_multiple_of(4) => Kind::Listen,
            Mix::Listen25 => Kind::Plain,
        }
    }
    /// The scenario's name in the results.
    pub fn name(self) -> &'static str {
        match self {
            Mix::Plain => "relay",
            Mix::Monitored => "monitored",
            Mix::Listen25 => "listen_25",
        }
    }
}

/// Place calls at `cps` (at most `inflight` ringing at once); returns the Call-IDs
/// that were answered and how many failed, after at most `timeout` per call.
pub fn place(
    e: &mut Engine,
    calls: &[(String, String, Kind)],
    cps: f64,
    inflight: usize,
    timeout: Duration,
) -> (Vec<(usize, String)>, usize) {
    let start = Instant::now();
    let mut next = 0;
    let mut pending: Vec<(usize, String, Instant)> = Vec::new();
    let mut ok = Vec::new();
    let mut failed = 0;
    while next < calls.len() || !pending.is_empty() {
        let due = ((start.elapsed().as_secs_f64() * cps) as usize + 1).min(calls.len());
        while next < due && pending.len() < inflight {
            let (from, to, _) = &calls[next];
            match e.call(from, SECRET, to) {
                Some(id) => pending.push((next, id, Instant::now())),
                None => failed += 1,
            }
            next += 1;
        }
        e.pump(Duration::from_millis(2));
        pending.retain(|(i, id, t)| {
            let st = e.out.get(id).map(|c| c.state);
            match st {
                Some(CallState::Up) => {
                    ok.push((*i, id.clone()));
                    false
                }
                Some(CallState::Calling) if t.elapsed() < timeout => true,
                _ => {
                    failed += 1;
                    false
                }
            }
        });
    }
    (ok, failed)
}

/// Places `n` plain calls caller(i) -> callee(i) and takes both legs' RTP
/// sockets for the measurement; the legs and how many calls failed.
pub fn plain_calls(e: &mut Engine, n: usize, ramp_cps: f64) -> (Vec<Leg>, usize) {
    let calls: Vec<(String, String, Kind)> = (0..n)
        .map(|i| (caller_ext(i), callee_ext(i), Kind::Plain))
        .collect();
    let (ok, mut failed) = place(e, &calls, ramp_cps, 200, Duration::from_secs(8));
    let mut legs = Vec::new();
    for (i, id) in &ok {
        let inc = e
            .inc_by_ext
            .get(&callee_ext(*i))
            .cloned()
            .and_then(|inc| e.inc.get_mut(&inc).map(|c| (c.rtp.take(), c.remote_rtp)));
        let out = e.out.get_mut(id).map(|c| (c.rtp.take(), c.remote_rtp));
        match (out, inc) {
            (Some((Some(s1), Some(r1))), Some((Some(s2), Some(r2)))) => {
                legs.push(Leg::new(s1, r1, Kind::Plain, (i * 2) as u32));
                legs.push(Leg::new(s2, r2, Kind::Plain, (i * 2 + 1) as u32));
            }
            _ => failed += 1,
        }
    }
    (legs, failed)
}
