//! How hard and how long the scenarios push: the load steps, the measurement window
//! and the set-up rates, quick or full, with the command line's overrides.

use crate::rtp::Plan;
use crate::Args;
use std::time::Duration;

/// The tool's own RTP ports (kept away from the e2e tests' 40000-49900).
pub const TOOL_PORTS: (u16, u16) = (50000, 59999);

/// Sockets the calls of a capacity scenario share in the tool (each sends and reads
/// for many legs in one system call; see `rtp::RtpPool`).
pub const RTP_POOL: usize = 64;

/// The load each scenario steps through, and how long each step is measured.
#[derive(Clone)]
pub struct Settings {
    pub steps: Vec<usize>,
    pub mini_steps: Vec<usize>,
    pub plan: Plan,
    pub ramp_cps: f64,
    pub setup_rates: Vec<f64>,
    pub setup_secs: f64,
}

pub fn settings(a: &Args) -> Settings {
    let (steps, mini_steps, warm, win, rates, ssecs) = if a.quick {
        (
            vec![50, 100, 200, 400, 600, 800],
            vec![50, 100, 200, 400, 600, 800, 1200, 1600, 2400],
            1.0,
            2.0,
            vec![50.0, 100.0, 200.0, 400.0],
            2.0,
        )
    } else {
        (
            vec![
                50, 100, 200, 300, 400, 500, 600, 700, 800, 1000, 1200, 1400, 1600, 2000,
            ],
            vec![
                100, 200, 400, 600, 800, 1000, 1200, 1600, 2000, 2400, 2800, 3200, 4000,
            ],
            2.0,
            6.0,
            vec![
                25.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 600.0, 800.0, 1000.0, 1200.0, 1600.0,
            ],
            5.0,
        )
    };
    let (steps, mini_steps) = if a.steps.is_empty() {
        (steps, mini_steps)
    } else {
        (a.steps.clone(), a.steps.clone())
    };
    let win = a.window.unwrap_or(win);
    let cap = a.max_calls.unwrap_or(usize::MAX);
    Settings {
        steps: steps.into_iter().filter(|&n| n <= cap).collect(),
        mini_steps: mini_steps
            .into_iter()
            .filter(|&n| n <= cap.max(4000))
            .collect(),
        plan: Plan {
            warmup: Duration::from_secs_f64(warm),
            window: Duration::from_secs_f64(win),
            grace: Duration::from_millis(300),
        },
        ramp_cps: 200.0,
        setup_rates: rates,
        setup_secs: ssecs,
    }
}
