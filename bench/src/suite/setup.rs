//! The call set-up rate scenario: how many calls a second the PBX sets up (digest
//! challenge included) with under 1% failures.

use super::measure::ms;
use super::settings::Settings;
use crate::calls::{callee_ext, caller_ext, SECRET};
use crate::proc::CpuMeter;
use crate::sip::{CallState, Engine};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Call set-up rate: calls placed at a fixed rate, held 1 s, hung up; the highest
/// rate with < 1% failures (no answer within 5 s counts as a failure).
pub fn setup_rate(
    set: &Settings,
    e: &mut Engine,
    pid: u32,
    callees: usize,
    t_end: Instant,
) -> (f64, f64, Vec<Value>) {
    eprintln!("== call setup rate (INVITE, 407, INVITE with digest, 200, ACK; held 1 s; BYE)");
    let mut best = 0.0;
    let mut unqueued = 0.0;
    let mut out = Vec::new();
    let hold = Duration::from_secs(1);
    let timeout = Duration::from_secs(5);
    let mut k = 0usize;
    for &rate in &set.setup_rates {
        if Instant::now() > t_end {
            break;
        }
        let total = (rate * set.setup_secs).round() as usize;
        let meter = CpuMeter::start(pid);
        let start = Instant::now();
        let mut started = 0;
        let mut active: Vec<(String, Instant)> = Vec::new();
        let mut failed = 0usize;
        let mut setup: Vec<u64> = Vec::new();
        while started < total || !active.is_empty() {
            let due = ((start.elapsed().as_secs_f64() * rate) as usize + 1).min(total);
            while started < due {
                let from = caller_ext(k);
                let to = callee_ext(k % callees);
                k += 1;
                started += 1;
                match e.call(&from, SECRET, &to) {
                    Some(id) => active.push((id, Instant::now())),
                    None => failed += 1,
                }
            }
            e.pump(Duration::from_millis(2));
            let mut bye = Vec::new();
            active.retain(|(id, t)| match e.out.get_mut(id) {
                Some(c) => match c.state {
                    CallState::Calling if t.elapsed() > timeout => {
                        failed += 1;
                        c.state = CallState::Failed(408);
                        false
                    }
                    CallState::Calling => true,
                    CallState::Up => {
                        if let Some(ans) = c.answered_ns {
                            if c.rtp.is_some() {
                                setup.push(ans.saturating_sub(c.started_ns));
                                c.rtp = None;
                            }
                        }
                        if t.elapsed() > hold {
                            bye.push(id.clone());
                            false
                        } else {
                            true
                        }
                    }
                    CallState::Failed(_) => {
                        failed += 1;
                        false
                    }
                    _ => false,
                },
                None => false,
            });
            for id in bye {
                e.hangup(&id);
            }
            e.forget_finished();
            if start.elapsed() > Duration::from_secs_f64(set.setup_secs) + Duration::from_secs(15) {
                failed += active.len();
                break;
            }
        }
        // let the BYEs finish
        let settle = Instant::now();
        while settle.elapsed() < Duration::from_secs(3)
            && e.out.values().any(|c| c.state == CallState::Ending)
        {
            e.pump(Duration::from_millis(10));
        }
        e.forget_finished();
        let cpu = meter.percent();
        setup.sort_unstable();
        let q = |p: f64| -> Option<f64> {
            if setup.is_empty() {
                None
            } else {
                let i = ((setup.len() as f64 * p).ceil() as usize).clamp(1, setup.len()) - 1;
                Some(setup[i] as f64 / 1e6)
            }
        };
        let fail_ratio = failed as f64 / total.max(1) as f64;
        let pass = fail_ratio < 0.01;
        eprintln!(
            "  {rate:>5} cps: {} {failed}/{total} failed, setup p50 {:.1} ms p99 {:.1} ms, pbx cpu {cpu:.0}%",
            if pass { "PASS" } else { "FAIL" },
            q(0.5).unwrap_or(0.0),
            q(0.99).unwrap_or(0.0)
        );
        out.push(json!({
            "cps": rate, "calls": total, "failures": failed, "pass": pass,
            "setup_p50_ms": ms(q(0.5)), "setup_p99_ms": ms(q(0.99)),
            "cpu_pct": (cpu * 10.0).round() / 10.0,
        }));
        if !pass {
            break;
        }
        best = rate;
        if q(0.99).is_some_and(|v| v < 100.0) {
            unqueued = rate;
        }
        e.pump(Duration::from_millis(500));
    }
    e.hangup_all(Duration::from_secs(10));
    (best, unqueued, out)
}
