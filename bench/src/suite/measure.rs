//! One measurement step: RTP sent and timed over a window while the SIP side keeps
//! answering, the CPU and memory of the process under test read over the same
//! window, and the step's verdict against the pass criteria.

use crate::proc::{rss_kib, CpuMeter};
use crate::rtp::{self, Leg, Plan, Stats, KINDS};
use crate::sip::Engine;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const LOSS_MAX: f64 = 0.001;
pub const JITTER_P99_MAX_MS: f64 = 10.0;
/// The tool sent a step's packets this late (p99 over its timer slots) or later:
/// its own pacing, not the process under test, shaped the load, so a failure at
/// such a step says little about that process (`tool_behind` in the results).
pub const TOOL_SEND_LATE_P99_MAX_MS: f64 = 5.0;

pub fn ms(v: Option<f64>) -> Value {
    v.map(|x| json!((x * 1000.0).round() / 1000.0))
        .unwrap_or(Value::Null)
}

fn stats_json(s: &Stats) -> Value {
    let mut by = serde_json::Map::new();
    for k in KINDS {
        let ks = &s.kinds[k as usize];
        if ks.sent == 0 && ks.recv_any == 0 {
            continue;
        }
        by.insert(
            k.name().into(),
            json!({
                "sent": ks.sent, "received": ks.recv, "received_any": ks.recv_any,
                "unstamped": ks.unstamped, "audible": ks.audible, "loss_pct": (ks.loss() * 1e5).round() / 1e3,
                "latency_p50_ms": ms(ks.latency.quantile_ms(0.5)),
                "latency_p99_ms": ms(ks.latency.quantile_ms(0.99)),
                "jitter_p99_ms": ms(ks.jitter.quantile_ms(0.99)),
                "arrival_dev_p99_ms": ms(ks.arrival_dev.quantile_ms(0.99)),
            }),
        );
    }
    Value::Object(by)
}

pub struct StepOut {
    pub calls: usize,
    pub pass: bool,
    pub json: Value,
    pub cpu: f64,
    pub rss: Option<u64>,
    pub stats: Stats,
}

impl StepOut {
    /// The tool sent late in this step (`tool_behind` in the results).
    pub fn tool_behind(&self) -> bool {
        tool_behind(&self.stats)
    }
}

/// The tool's own send lateness reached `TOOL_SEND_LATE_P99_MAX_MS` at p99.
fn tool_behind(stats: &Stats) -> bool {
    stats
        .send_late
        .quantile_ms(0.99)
        .is_some_and(|l| l >= TOOL_SEND_LATE_P99_MAX_MS)
}

/// Run the RTP measurement on `legs` while the SIP engine keeps answering, and read
/// the CPU% of `pid` over the window.
pub fn measure_step(
    legs: Vec<Leg>,
    workers: usize,
    plan: Plan,
    pid: u32,
    mut engine: Option<&mut Engine>,
) -> (Vec<Leg>, Stats, f64, Option<u64>, f64) {
    rtp::drain(&legs);
    let started = Instant::now();
    let h = std::thread::spawn(move || rtp::measure(legs, workers, plan));
    let idle = |e: &mut Option<&mut Engine>, d: Duration| match e {
        Some(e) => e.pump(d),
        None => std::thread::sleep(d),
    };
    while started.elapsed() < plan.warmup {
        idle(&mut engine, Duration::from_millis(10));
    }
    let meter = CpuMeter::start(pid);
    let me = CpuMeter::start(std::process::id());
    while started.elapsed() < plan.warmup + plan.window {
        idle(&mut engine, Duration::from_millis(10));
    }
    let cpu = meter.percent();
    let tool_cpu = me.percent();
    let rss = rss_kib(pid);
    while !h.is_finished() {
        idle(&mut engine, Duration::from_millis(10));
    }
    let (legs, stats) = h.join().expect("measure thread");
    (legs, stats, cpu, rss, tool_cpu)
}

pub fn judge(
    calls: usize,
    failed: usize,
    stats: &Stats,
    cpu: f64,
    rss: Option<u64>,
    tool_cpu: f64,
) -> StepOut {
    let all = stats.calls();
    let loss = all.loss();
    let jit = all.jitter.quantile_ms(0.99).unwrap_or(f64::INFINITY);
    let pass = failed == 0 && all.sent > 0 && loss < LOSS_MAX && jit < JITTER_P99_MAX_MS;
    let late_p99 = stats.send_late.quantile_ms(0.99);
    let tool_behind = tool_behind(stats);
    let json = json!({
        "calls": calls,
        "setup_failures": failed,
        "pass": pass,
        "loss_pct": (loss * 1e5).round() / 1e3,
        "jitter_p99_ms": ms(all.jitter.quantile_ms(0.99)),
        "latency_p50_ms": ms(all.latency.quantile_ms(0.5)),
        "latency_p99_ms": ms(all.latency.quantile_ms(0.99)),
        "cpu_pct": (cpu * 10.0).round() / 10.0,
        "cpu_pct_per_call": if calls > 0 { json!((cpu / calls as f64 * 1000.0).round() / 1000.0) } else { Value::Null },
        "rss_kib": rss,
        "tool_cpu_pct": (tool_cpu * 10.0).round() / 10.0,
        "tool_max_lag_ms": (stats.max_lag_ms * 100.0).round() / 100.0,
        "tool_send_late_p50_ms": ms(stats.send_late.quantile_ms(0.5)),
        "tool_send_late_p99_ms": ms(late_p99),
        "tool_rx_delay_p99_ms": ms(stats.rx_delay.quantile_ms(0.99)),
        "tool_behind": tool_behind,
        "latency_max_ms": ms(all.latency.max_ms()),
        "send_errors": stats.send_errors,
        "unattributed_packets": stats.unattributed,
        "by_kind": stats_json(stats),
    });
    eprintln!(
        "  {calls:>5} calls: {} loss {:.3}% jitter p99 {:.2} ms latency p50 {:.2} p99 {:.2} max {:.1} ms cpu {:.1}% rss {} KiB (tool cpu {:.0}%, sent late p99 {:.2} max {:.1} ms{}, setup failures {failed})",
        if pass { "PASS" } else { "FAIL" },
        loss * 100.0,
        jit,
        all.latency.quantile_ms(0.5).unwrap_or(0.0),
        all.latency.quantile_ms(0.99).unwrap_or(0.0),
        all.latency.max_ms().unwrap_or(0.0),
        cpu,
        rss.unwrap_or(0),
        tool_cpu,
        late_p99.unwrap_or(0.0),
        stats.max_lag_ms,
        if tool_behind { ": THE TOOL FELL BEHIND" } else { "" }
    );
    if !pass {
        eprintln!("        by kind: {}", json["by_kind"]);
    }
    StepOut {
        calls,
        pass,
        json,
        cpu,
        rss,
        stats: stats.clone(),
    }
}
