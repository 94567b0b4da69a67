//! The cost of monitoring measured in pairs: the same calls, in the same PBX process,
//! with the supervisors on, then off, then on, then off again, window after window.
//!
//! Comparing two separate scenarios (a plain run, then a monitored one minutes
//! later) on a machine shared with other work mixes the PBX's cost with whatever
//! the neighbours did in between: two full runs of the same code read 1.14 and
//! 1.44. Adjacent windows see nearly the same machine, and alternating them
//! (on, off, on, off) cancels a steady drift.

use crate::rtp::{Kind, Leg};
use crate::sip::{CallState, Engine};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// What the paired measurement found.
pub struct Paired {
    pub calls: usize,
    /// CPU% of the PBX with supervisors / without, over all windows.
    pub ratio: Option<f64>,
    pub json: Value,
}

/// Supervisors' calls: what to dial (caller, target), and the Call-IDs of those up.
pub struct Spies {
    pub specs: Vec<(String, String, Kind)>,
    pub ids: Vec<String>,
}

/// Places the supervisors' calls and adds their RTP legs to `legs`; returns how
/// many failed.
pub fn place_spies(e: &mut Engine, spies: &mut Spies, legs: &mut Vec<Leg>, cps: f64) -> usize {
    let (ok, failed) = crate::suite::place(e, &spies.specs, cps, 100, Duration::from_secs(8));
    for (_, id) in ok {
        if let Some(c) = e.out.get_mut(&id) {
            if let (Some(s), Some(r)) = (c.rtp.take(), c.remote_rtp) {
                legs.push(Leg::new(s, r, Kind::Spy, 1_000_000 + legs.len() as u32));
            }
        }
        spies.ids.push(id);
    }
    failed
}

/// Hangs up every supervisor (BYE, bounded wait) and drops their RTP legs.
fn hang_up_spies(e: &mut Engine, spies: &mut Spies, legs: &mut Vec<Leg>) {
    for id in &spies.ids {
        e.hangup(id);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && spies
            .ids
            .iter()
            .any(|id| e.out.get(id).is_some_and(|c| c.state == CallState::Ending))
    {
        e.pump(Duration::from_millis(10));
    }
    for id in spies.ids.drain(..) {
        e.out.remove(&id);
    }
    legs.retain(|l| l.kind != Kind::Spy);
    // Let the PBX finish tearing the sessions down before the next window.
    e.pump(Duration::from_millis(500));
}

/// One measured window: the PBX's CPU% and the tool's own.
pub type Window = (f64, f64);

/// Runs off, on, off windows after the step that just measured `on_first` with the
/// supervisors on (so the order is on, off, on, off). `measure` measures one window.
pub fn run(
    e: &mut Engine,
    spies: &mut Spies,
    legs: &mut Vec<Leg>,
    calls: usize,
    cps: f64,
    on_first: Window,
    mut measure: impl FnMut(&mut Engine, &mut Vec<Leg>) -> Window,
) -> Paired {
    eprintln!("  paired windows at {calls} calls: supervisors on, off, on, off");
    let mut on = vec![on_first];
    let mut off = Vec::new();
    let mut failed = 0;
    hang_up_spies(e, spies, legs);
    off.push(measure(e, legs));
    failed += place_spies(e, spies, legs, cps);
    on.push(measure(e, legs));
    hang_up_spies(e, spies, legs);
    off.push(measure(e, legs));
    // Back on, so the stepping goes on where it was.
    failed += place_spies(e, spies, legs, cps);

    let sum = |w: &[Window]| w.iter().map(|x| x.0).sum::<f64>();
    let ratio = (sum(&off) > 0.0 && failed == 0).then(|| sum(&on) / sum(&off));
    let show = |w: &[Window]| {
        w.iter()
            .map(|(pbx, tool)| json!({ "cpu_pct": round1(*pbx), "tool_cpu_pct": round1(*tool) }))
            .collect::<Vec<_>>()
    };
    eprintln!(
        "    on {:?} off {:?} -> ratio {}",
        on.iter().map(|x| round1(x.0)).collect::<Vec<_>>(),
        off.iter().map(|x| round1(x.0)).collect::<Vec<_>>(),
        ratio.map_or("n/a".into(), |r| format!("{r:.3}"))
    );
    Paired {
        calls,
        ratio,
        json: json!({
            "calls": calls,
            "supervisors_on": show(&on),
            "supervisors_off": show(&off),
            "spy_setup_failures": failed,
            "ratio": ratio.map(|r| (r * 1000.0).round() / 1000.0),
        }),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
