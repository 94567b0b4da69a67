//! The cost of monitoring measured in pairs: the same calls, in the same PBX process,
//! with the supervisors on and off in turn, window after window.
//!
//! Comparing two separate scenarios (a plain run, then a monitored one minutes
//! later) on a machine shared with other work mixes the PBX's cost with whatever
//! the neighbours did in between: two full runs of the same code read 1.14 and
//! 1.44. Adjacent windows see nearly the same machine, and interleaving them cancels
//! a steady drift.
//!
//! Three states are measured on the same calls:
//! - `all`: the monitored mix of item 2 (25% of calls listened to, 10% whispered to:
//!   35% of calls have a supervisor);
//! - `listen`: only the listening supervisors (25% of calls monitored, the wording
//!   of the target);
//! - `off`: no supervisor at all (plain relay of the same calls).
//!
//! The order is all (the step's own window), then `ORDER`: off, listen, off,
//! listen, all, off, so each state's windows sit around the middle of the
//! sequence; a quick run stops after the first four.

use crate::rtp::{Kind, Leg};
use crate::sip::{CallState, Engine};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// What the paired measurement found.
pub struct Paired {
    pub calls: usize,
    /// CPU% of the PBX with every supervisor / with none, over all windows.
    pub ratio: Option<f64>,
    /// CPU% with only the listening supervisors (25% of calls) / with none.
    pub listen_ratio: Option<f64>,
    pub json: Value,
}

/// One group of supervisors' calls: what to dial (caller, target), and the Call-IDs
/// of those up. Their RTP legs carry SSRCs from `ssrc_base` on, which is how
/// `hang_up` finds them.
pub struct Spies {
    pub specs: Vec<(String, String, Kind)>,
    pub ids: Vec<String>,
    pub ssrc_base: u32,
}

/// SSRCs of one group's legs lie in [ssrc_base, ssrc_base + GROUP_SSRCS).
const GROUP_SSRCS: u32 = 1_000_000;

impl Spies {
    pub fn new(ssrc_base: u32) -> Spies {
        Spies {
            specs: Vec::new(),
            ids: Vec::new(),
            ssrc_base,
        }
    }

    fn owns(&self, leg: &Leg) -> bool {
        leg.kind == Kind::Spy && leg.ssrc.wrapping_sub(self.ssrc_base) < GROUP_SSRCS
    }

    /// Adds supervisors to the group and places their calls; returns how many failed.
    pub fn add(
        &mut self,
        e: &mut Engine,
        specs: Vec<(String, String, Kind)>,
        legs: &mut Vec<Leg>,
        cps: f64,
    ) -> usize {
        let failed = self.place(e, &specs, legs, cps);
        self.specs.extend(specs);
        failed
    }

    /// Places the whole group's calls again (after `hang_up`).
    fn place_all(&mut self, e: &mut Engine, legs: &mut Vec<Leg>, cps: f64) -> usize {
        let specs = self.specs.clone();
        self.place(e, &specs, legs, cps)
    }

    /// Places `specs` and adds their RTP legs to `legs`; returns how many failed.
    fn place(
        &mut self,
        e: &mut Engine,
        specs: &[(String, String, Kind)],
        legs: &mut Vec<Leg>,
        cps: f64,
    ) -> usize {
        let (ok, failed) =
            e.with_own_sockets(|e| crate::calls::place(e, specs, cps, 100, Duration::from_secs(8)));
        for (_, id) in ok {
            if let Some(c) = e.out.get_mut(&id) {
                if let (Some(s), Some(r)) = (c.rtp.take(), c.remote_rtp) {
                    let ssrc = self.ssrc_base + legs.len() as u32;
                    legs.push(Leg::new(s, r, Kind::Spy, ssrc));
                }
            }
            self.ids.push(id);
        }
        failed
    }

    /// Hangs up the group's supervisors (BYE, bounded wait) and drops their RTP legs.
    fn hang_up(&mut self, e: &mut Engine, legs: &mut Vec<Leg>) {
        for id in &self.ids {
            e.hangup(id);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && self
                .ids
                .iter()
                .any(|id| e.out.get(id).is_some_and(|c| c.state == CallState::Ending))
        {
            e.pump(Duration::from_millis(10));
        }
        for id in self.ids.drain(..) {
            e.out.remove(&id);
        }
        legs.retain(|l| !self.owns(l));
    }
}

/// One measured window: the PBX's CPU% and the tool's own.
pub type Window = (f64, f64);

/// Which supervisors are up during a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    All,
    Listen,
    Off,
}

/// The windows after the step's own (which has every supervisor up).
const ORDER: [State; 6] = [
    State::Off,
    State::Listen,
    State::Off,
    State::Listen,
    State::All,
    State::Off,
];
/// Windows a quick run measures from `ORDER`.
const SHORT: usize = 3;

#[derive(Default)]
struct Windows {
    all: Vec<Window>,
    listen: Vec<Window>,
    off: Vec<Window>,
}

impl Windows {
    fn of(&mut self, state: State) -> &mut Vec<Window> {
        match state {
            State::All => &mut self.all,
            State::Listen => &mut self.listen,
            State::Off => &mut self.off,
        }
    }
}

/// The supervisors of the monitored scenario, by mode.
pub struct Supervisors {
    pub listeners: Spies,
    pub whisperers: Spies,
}

impl Supervisors {
    /// Hangs up or places calls to go from `from` to `to`; returns how many failed.
    fn switch(
        &mut self,
        e: &mut Engine,
        legs: &mut Vec<Leg>,
        cps: f64,
        from: State,
        to: State,
    ) -> usize {
        let up = |s: State| (s != State::Off, s == State::All);
        let ((listen_was, whisper_was), (listen, whisper)) = (up(from), up(to));
        let mut failed = 0;
        if whisper_was && !whisper {
            self.whisperers.hang_up(e, legs);
        }
        if listen_was && !listen {
            self.listeners.hang_up(e, legs);
        }
        if listen && !listen_was {
            failed += self.listeners.place_all(e, legs, cps);
        }
        if whisper && !whisper_was {
            failed += self.whisperers.place_all(e, legs, cps);
        }
        failed
    }
}

/// Runs the paired windows after the step that just measured `all_first` with every
/// supervisor on, and leaves every supervisor on again for the next step.
/// `measure` measures one window; `short` stops after four windows (quick runs).
#[allow(clippy::too_many_arguments)]
pub fn run(
    e: &mut Engine,
    sups: &mut Supervisors,
    legs: &mut Vec<Leg>,
    calls: usize,
    cps: f64,
    all_first: Window,
    short: bool,
    mut measure: impl FnMut(&mut Engine, &mut Vec<Leg>) -> Window,
) -> Paired {
    let order = &ORDER[..if short { SHORT } else { ORDER.len() }];
    eprintln!("  paired windows at {calls} calls: all supervisors, then {order:?}");
    let mut w = Windows {
        all: vec![all_first],
        ..Windows::default()
    };
    let mut failed = 0;
    let mut state = State::All;
    for &next in order {
        failed += sups.switch(e, legs, cps, state, next);
        // Let the PBX finish tearing sessions down (or setting them up).
        e.pump(Duration::from_millis(500));
        w.of(next).push(measure(e, legs));
        state = next;
    }
    // Back on, so the stepping goes on where it was.
    failed += sups.switch(e, legs, cps, state, State::All);

    let mean = |x: &[Window]| x.iter().map(|x| x.0).sum::<f64>() / x.len().max(1) as f64;
    let off = mean(&w.off);
    let ratio_of = |x: &[Window]| (off > 0.0 && failed == 0).then(|| mean(x) / off);
    let (ratio, listen_ratio) = (ratio_of(&w.all), ratio_of(&w.listen));
    let show = |x: &[Window]| {
        x.iter()
            .map(|(pbx, tool)| json!({ "cpu_pct": round1(*pbx), "tool_cpu_pct": round1(*tool) }))
            .collect::<Vec<_>>()
    };
    let cpus = |x: &[Window]| {
        x.iter()
            .map(|x| format!("{:.1} (tool {:.0})", x.0, x.1))
            .collect::<Vec<_>>()
    };
    let fmt = |r: Option<f64>| r.map_or("n/a".into(), |r| format!("{r:.3}"));
    eprintln!(
        "    all {:?} listen {:?} off {:?} -> ratio all {} listen {}",
        cpus(&w.all),
        cpus(&w.listen),
        cpus(&w.off),
        fmt(ratio),
        fmt(listen_ratio)
    );
    Paired {
        calls,
        ratio,
        listen_ratio,
        json: json!({
            "calls": calls,
            "supervisors_all": show(&w.all),
            "supervisors_listen_only": show(&w.listen),
            "supervisors_off": show(&w.off),
            "spy_setup_failures": failed,
            "ratio": ratio.map(round3),
            "listen_only_ratio": listen_ratio.map(round3),
        }),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
