//! Overload: twice the calls the PBX is set to carry (`--max-calls`). `cap` calls
//! are set up and stream G.711 both ways; during the measurement window the tool
//! keeps `cap` more calls trying at once, each placed again as soon as it is
//! refused. What counts: the established calls stay clean (loss, jitter, as in
//! the capacity steps), every extra call gets 503, and how long the PBX takes to
//! say so (from the INVITE with credentials to the 503).

use super::measure::{judge, ms};
use super::settings::Settings;
use crate::calls::{callee_ext, caller_ext, SECRET};
use crate::proc::CpuMeter;
use crate::rtp;
use crate::sip::{CallState, Engine};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub fn overload(set: &Settings, workers: usize, e: &mut Engine, pid: u32, cap: usize) -> Value {
    eprintln!("== overload: {cap} calls up (the PBX's --max-calls), {cap} more trying at once");
    let (legs, failed) = crate::calls::plain_calls(e, cap, set.ramp_cps);
    rtp::drain(&legs);
    let plan = set.plan;
    let started = Instant::now();
    let h = std::thread::spawn(move || rtp::measure(legs, workers, plan));
    // The extra calls: to agents beyond the first `cap`, `cap` of them at a time.
    let mut trying: Vec<String> = Vec::new();
    let (mut attempts, mut refused, mut admitted, mut other) = (0usize, 0usize, 0usize, 0usize);
    let mut refusal_ns: Vec<u64> = Vec::new();
    let mut k = cap;
    let meter = CpuMeter::start(pid);
    let me = CpuMeter::start(std::process::id());
    while started.elapsed() < plan.warmup + plan.window {
        // Keep the offered load at twice the capacity, placed at the ramp rate at
        // most (the same pace calls were set up at).
        let budget = ((set.ramp_cps / 100.0).ceil() as usize).max(1);
        for _ in 0..budget {
            if trying.len() >= cap {
                break;
            }
            // Refused before the dialplan runs: the callee need not be registered.
            let target = callee_ext(cap + k % cap.max(1));
            if let Some(id) = e.call(&caller_ext(k), SECRET, &target) {
                trying.push(id);
                attempts += 1;
            }
            k += 1;
        }
        e.pump(Duration::from_millis(10));
        trying.retain(|id| {
            let Some(c) = e.out.get(id) else {
                return false;
            };
            match c.state {
                CallState::Calling => true,
                CallState::Failed(503) => {
                    refused += 1;
                    if let (Some(a), Some(f)) = (c.authed_ns, c.failed_ns) {
                        refusal_ns.push(f.saturating_sub(a));
                    }
                    false
                }
                CallState::Up => {
                    admitted += 1;
                    false
                }
                _ => {
                    other += 1;
                    false
                }
            }
        });
        e.forget_finished();
    }
    let cpu = meter.percent();
    let tool_cpu = me.percent();
    while !h.is_finished() {
        e.pump(Duration::from_millis(10));
    }
    let (legs, stats) = h.join().expect("measure thread");
    let out = judge(
        cap,
        failed,
        &stats,
        cpu,
        crate::proc::rss_kib(pid),
        tool_cpu,
    );
    refusal_ns.sort_unstable();
    let q = |p: f64| -> Option<f64> {
        if refusal_ns.is_empty() {
            return None;
        }
        let i = ((refusal_ns.len() as f64 * p).ceil() as usize).clamp(1, refusal_ns.len()) - 1;
        Some(refusal_ns[i] as f64 / 1e6)
    };
    eprintln!(
        "  {attempts} extra calls tried: {refused} refused 503 (p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms after the INVITE with credentials), {admitted} admitted, {other} other outcomes; established calls: {}",
        q(0.5).unwrap_or(0.0),
        q(0.99).unwrap_or(0.0),
        q(1.0).unwrap_or(0.0),
        if out.pass { "clean" } else { "NOT clean" }
    );
    e.hangup_all(Duration::from_secs(20));
    drop(legs);
    json!({
        "max_calls": cap,
        "established": out.json,
        "extra_attempts": attempts,
        "extra_refused_503": refused,
        "extra_admitted": admitted,
        "extra_other": other,
        "refusal_p50_ms": ms(q(0.5)),
        "refusal_p99_ms": ms(q(0.99)),
        "refusal_max_ms": ms(q(1.0)),
        "pass": out.pass && admitted == 0 && other == 0 && q(0.99).is_some_and(|v| v < 10.0),
    })
}
