//! The per-core run (`spyload --pinned`, `bench/run.sh --pinned`): spygroup and the
//! minimal relay each on CPU 0 with the load tool on CPU 1, measured in turn
//! (A B A B ...) and repeated, so that the machine's own variation lands on both and
//! cancels out of their ratio; the median and the spread of every figure.
//!
//! Why a probe first: steps fine enough to place a limit within 5% are too many to
//! climb from 50 calls in every round. A short coarse climb of each system finds
//! roughly where it stops; every measured round then uses the same grid for that
//! system, coarse up to 70% of the probe's limit and 5% apart around it, so the
//! rounds are comparable step by step.

use super::measure::{StepOut, JITTER_P99_MAX_MS, LOSS_MAX, TOOL_SEND_LATE_P99_MAX_MS};
use super::plot::{self, Curve, Point, System};
use super::scenario::{minimal_capacity, pbx_capacity, Scenario};
use super::settings::Settings;
use super::{setup_json, sqlite_url, with_pbx};
use crate::calls::{callee_ext, Mix, SECRET};
use crate::rtp::{Kind, Plan};
use crate::Args;
use anyhow::Result;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Where each measured round's grid sits, as fractions of the probe's limit: 5%
/// apart from 60% on, since the probe's 2 s windows place the limit only roughly
/// and a round's first failing step (noise included) ends it; a coarser grid there
/// gave capacities 39% apart for one such failure.
const GRID: [f64; 20] = [
    0.25, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3,
    1.35, 1.4, 1.5,
];
/// The probe's coarse climb (both systems), up to what the ports allow.
const PROBE_STEPS: [usize; 11] = [
    200, 400, 800, 1200, 1600, 2000, 2400, 2800, 3200, 3600, 4000,
];
/// The PBX's port range and the tool's hold 5000 calls; the grid stops short.
pub const MAX_CALLS: usize = 4600;

/// The grid of a measured round around `limit` (the probe's last passing step, or
/// its midpoint to the first failing one), in steps of 50 calls.
fn grid(limit: usize, cap: usize) -> Vec<usize> {
    let mut g: Vec<usize> = GRID
        .iter()
        .map(|f| ((limit as f64 * f / 50.0).round() as usize * 50).clamp(50, cap.max(50)))
        .collect();
    g.dedup();
    g
}

/// The most calls a step of the per-core run places: `--max-calls`, at most
/// [`MAX_CALLS`].
pub fn cap(a: &Args) -> usize {
    a.max_calls.unwrap_or(MAX_CALLS).min(MAX_CALLS)
}

/// The probe's estimate of where a system stops: between its last passing and its
/// first failing step (the last passing one when none failed). A step where the
/// tool fell behind ends the climb as a failure does: what passed there says
/// little about the system, and a limit placed above it put the rounds' grids too
/// high.
fn probe_limit(s: &Scenario) -> usize {
    let end = s.steps.iter().position(|st| !st.pass || st.tool_behind());
    let fail = end.map(|i| s.steps[i].calls);
    let last_pass = match end {
        Some(i) => s.steps[..i]
            .iter()
            .rev()
            .find(|st| st.pass)
            .map_or(0, |st| st.calls),
        None => s.capacity,
    };
    match (last_pass, fail) {
        (0, Some(f)) => f / 2,
        (c, Some(f)) => (c + f) / 2,
        (c, None) => c,
    }
}

/// One measured round: spygroup's relay, then the minimal relay.
struct Round {
    relay: Scenario,
    mini: Scenario,
}

/// Runs the whole per-core measurement and writes its results; `template` is a
/// database with the extensions of [`cap`] calls and their supervisors.
pub fn run(
    a: &Args,
    base: &Settings,
    work: &Path,
    template: &Path,
    started: u64,
    t_end: Instant,
) -> Result<()> {
    let rounds = a.rounds.max(1);
    let cap = cap(a);
    let probe_steps: Vec<usize> = PROBE_STEPS.iter().copied().filter(|&n| n <= cap).collect();
    let callees: Vec<(String, String)> = (0..cap)
        .map(|i| (callee_ext(i), SECRET.to_string()))
        .collect();
    let fresh_db = |name: &str| -> Result<String> {
        let db = work.join(format!("{name}.db"));
        std::fs::copy(template, &db)?;
        Ok(sqlite_url(&db))
    };
    let probe_set = Settings {
        steps: probe_steps.clone(),
        mini_steps: probe_steps,
        plan: Plan {
            warmup: Duration::from_secs(1),
            window: Duration::from_secs(2),
            grace: base.plan.grace,
        },
        ..base.clone()
    };
    eprintln!("== pinned: probe (coarse steps, 2 s windows)");
    let mut probe_relay = None;
    with_pbx(a, work, &fresh_db("probe")?, &callees, |e, pid, _| {
        probe_relay = Some(pbx_capacity(a, &probe_set, e, pid, Mix::Plain, t_end));
    })?;
    let probe_relay = probe_relay.expect("the probe ran");
    let probe_mini = minimal_capacity(a, &probe_set, t_end)?;
    let (k_relay, k_mini) = (probe_limit(&probe_relay), probe_limit(&probe_mini));
    eprintln!("  probe: spygroup about {k_relay} calls, minimal relay about {k_mini}");
    let relay_set = Settings {
        steps: grid(k_relay, cap),
        ..base.clone()
    };
    let mini_set = Settings {
        mini_steps: grid(k_mini, cap),
        ..base.clone()
    };
    let mut measured = Vec::new();
    for r in 0..rounds {
        if Instant::now() > t_end {
            eprintln!("  (time budget reached after {r} rounds)");
            break;
        }
        eprintln!("== pinned round {} of {rounds}: spygroup", r + 1);
        let mut relay = None;
        with_pbx(
            a,
            work,
            &fresh_db(&format!("round{r}"))?,
            &callees,
            |e, pid, _| {
                relay = Some(pbx_capacity(a, &relay_set, e, pid, Mix::Plain, t_end));
            },
        )?;
        eprintln!("== pinned round {} of {rounds}: minimal relay", r + 1);
        let mini = minimal_capacity(a, &mini_set, t_end)?;
        measured.push(Round {
            relay: relay.expect("the round ran"),
            mini,
        });
    }
    // 25% of calls listened to, on a grid around 3/4 of the relay's limit; then
    // the set-up rate, each on a fresh PBX.
    let listen_set = Settings {
        steps: grid(k_relay * 3 / 4, cap),
        ..base.clone()
    };
    let mut listen = None;
    let mut setup = None;
    if Instant::now() < t_end {
        eprintln!("== pinned: 25% of calls listened to");
        with_pbx(a, work, &fresh_db("listen")?, &callees, |e, pid, _| {
            listen = Some(pbx_capacity(a, &listen_set, e, pid, Mix::Listen25, t_end));
        })?;
    }
    if Instant::now() < t_end {
        with_pbx(a, work, &fresh_db("setup")?, &callees, |e, pid, ok| {
            setup = Some(setup_json(base, e, pid, ok, t_end).2);
        })?;
    }
    let out = Out {
        probe: (probe_relay, probe_mini),
        rounds: measured,
        listen,
        setup,
    };
    out.write(a, base, started)
}

/// What the per-core run measured.
struct Out {
    probe: (Scenario, Scenario),
    rounds: Vec<Round>,
    listen: Option<Scenario>,
    setup: Option<Value>,
}

/// The median and the spread of some figures (None when there are none).
fn spread(mut v: Vec<f64>) -> (Option<f64>, Option<(f64, f64)>) {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return (None, None);
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    (Some(median), Some((v[0], v[v.len() - 1])))
}

fn r3(x: f64) -> Value {
    json!((x * 1000.0).round() / 1000.0)
}

/// `median` and `spread` keys for one figure.
fn put(latest: &mut Value, key: &str, v: Vec<f64>) {
    let (m, s) = spread(v);
    latest[key] = m.map_or(Value::Null, r3);
    latest[format!("{key}_spread")] = s.map_or(Value::Null, |(lo, hi)| json!([r3(lo), r3(hi)]));
}

/// A step's one-way latency p99 over the calls' streams.
fn latency_p99(s: &StepOut) -> Option<f64> {
    s.stats.calls().latency.quantile_ms(0.99)
}

/// The CPU% of the first step whose jitter p99 is above 2 ms: how busy the core
/// was when packets started to wait (None when no step got there).
fn busy_at_jitter_over_2ms(s: &Scenario) -> Option<f64> {
    s.steps
        .iter()
        .find(|st| {
            st.stats
                .calls()
                .jitter
                .quantile_ms(0.99)
                .is_some_and(|j| j > 2.0)
        })
        .map(|st| st.cpu)
}

/// spygroup's CPU per call over the minimal relay's, at the passing steps both
/// measured (the grids differ: the steps of one within 10% of the other's).
fn cpu_per_call_ratio(relay: &Scenario, mini: &Scenario) -> Option<f64> {
    let per = |s: &StepOut| s.cpu / s.calls as f64;
    let mut ratios = Vec::new();
    for r in relay.steps.iter().filter(|s| s.pass && s.calls >= 400) {
        let near = mini
            .steps
            .iter()
            .filter(|m| m.pass && m.calls >= 400)
            .min_by_key(|m| m.calls.abs_diff(r.calls))
            .filter(|m| m.calls.abs_diff(r.calls) * 10 <= r.calls);
        if let Some(m) = near {
            ratios.push(per(r) / per(m));
        }
    }
    spread(ratios).0
}

/// Whether the first failing step is the tool's (it sent late), not the relay's.
fn failed_on_tool(s: &Scenario) -> bool {
    s.steps
        .iter()
        .find(|st| !st.pass)
        .is_some_and(StepOut::tool_behind)
}

fn curve(label: String, system: System, s: &Scenario) -> Curve {
    Curve {
        label,
        system,
        points: s
            .steps
            .iter()
            .map(|st| Point {
                calls: st.calls,
                latency_p99_ms: latency_p99(st),
                cpu_pct: st.cpu,
                pass: st.pass,
            })
            .collect(),
    }
}

impl Out {
    fn summary(&self) -> Value {
        let mut l = json!({});
        let rs = &self.rounds;
        let f = |g: &dyn Fn(&Round) -> Option<f64>| rs.iter().filter_map(g).collect::<Vec<_>>();
        put(
            &mut l,
            "pinned_relay_capacity_calls",
            f(&|r| Some(r.relay.capacity as f64)),
        );
        put(
            &mut l,
            "pinned_minimal_relay_capacity_calls",
            f(&|r| Some(r.mini.capacity as f64)),
        );
        put(
            &mut l,
            "pinned_relay_ratio",
            f(
                &|r| {
                    (r.mini.capacity > 0).then(|| r.relay.capacity as f64 / r.mini.capacity as f64)
                },
            ),
        );
        put(
            &mut l,
            "pinned_knee_cpu_pct",
            f(&|r| r.relay.knee_cpu_pct()),
        );
        put(
            &mut l,
            "pinned_minimal_relay_knee_cpu_pct",
            f(&|r| r.mini.knee_cpu_pct()),
        );
        for ms in [2, 10] {
            put(
                &mut l,
                &format!("pinned_relay_latency_p99_over_{ms}ms_at_calls"),
                f(&|r| r.relay.latency_p99_over(ms as f64).map(|n| n as f64)),
            );
            put(
                &mut l,
                &format!("pinned_minimal_relay_latency_p99_over_{ms}ms_at_calls"),
                f(&|r| r.mini.latency_p99_over(ms as f64).map(|n| n as f64)),
            );
        }
        put(
            &mut l,
            "pinned_relay_busy_pct_at_jitter_p99_over_2ms",
            f(&|r| busy_at_jitter_over_2ms(&r.relay)),
        );
        put(
            &mut l,
            "pinned_cpu_per_call_ratio",
            f(&|r| cpu_per_call_ratio(&r.relay, &r.mini)),
        );
        l["pinned_rounds"] = json!(rs.len());
        l["pinned_rounds_failed_on_the_tool"] = json!({
            "relay": rs.iter().filter(|r| failed_on_tool(&r.relay)).count(),
            "minimal_relay": rs.iter().filter(|r| failed_on_tool(&r.mini)).count(),
        });
        let mini_median = spread(f(&|r| Some(r.mini.capacity as f64))).0;
        if let Some(s) = &self.listen {
            l["pinned_monitored_capacity_calls"] = json!(s.capacity);
            l["pinned_monitored_ratio"] = mini_median
                .filter(|m| *m > 0.0)
                .map_or(Value::Null, |m| r3(s.capacity as f64 / m));
        }
        if let Some(s) = &self.setup {
            l["pinned_setup_cps"] = s["setup_cps"].clone();
            // The target's wording: the highest rate whose set-up p99 is under 20 ms.
            let under_20 = s["steps"].as_array().and_then(|steps| {
                steps
                    .iter()
                    .take_while(|st| st["pass"] == json!(true))
                    .filter(|st| st["setup_p99_ms"].as_f64().is_some_and(|p| p < 20.0))
                    .filter_map(|st| st["cps"].as_f64())
                    .last()
            });
            l["pinned_setup_cps_p99_under_20ms"] = json!(under_20);
        }
        let rss: Vec<f64> = rs
            .iter()
            .filter_map(|r| super::report::rss_slope(&r.relay.steps))
            .collect();
        put(&mut l, "pinned_rss_per_call_kib", rss);
        l
    }

    fn write(self, a: &Args, set: &Settings, started: u64) -> Result<()> {
        let summary = self.summary();
        let stamp = super::report::utc_stamp(started);
        let rounds: Vec<Value> = self
            .rounds
            .iter()
            .map(|r| json!({ "relay": r.relay.json(), "minimal_relay": r.mini.json() }))
            .collect();
        let full = json!({
            "timestamp": stamp,
            "mode": "pinned",
            "machine": crate::proc::machine(),
            "criteria": {
                "loss_max_pct": LOSS_MAX * 100.0, "jitter_p99_max_ms": JITTER_P99_MAX_MS,
                "tool_send_late_p99_max_ms": TOOL_SEND_LATE_P99_MAX_MS,
                "window_s": set.plan.window.as_secs_f64(), "warmup_s": set.plan.warmup.as_secs_f64(),
                "tool_rtp_workers": a.workers,
                "pinned": { "pbx_cpu": crate::proc::PBX_CPU, "tool_cpu": crate::proc::TOOL_CPU },
            },
            "summary": summary,
            "probe": { "relay": self.probe.0.json(), "minimal_relay": self.probe.1.json() },
            "rounds": rounds,
            "listen_25": self.listen.as_ref().map(|s| s.json()),
            "setup": self.setup,
        });
        let md = self.markdown(&full);
        println!("{md}");
        if a.dry {
            return Ok(());
        }
        std::fs::create_dir_all(&a.out)?;
        let base = a.out.join(format!("{stamp}-pinned"));
        std::fs::write(
            base.with_extension("json"),
            serde_json::to_string_pretty(&full)? + "\n",
        )?;
        std::fs::write(base.with_extension("md"), &md)?;
        // The shared-core figures of the last full run stay; the pinned_* ones are
        // this run's.
        let latest_path = a.out.join("latest.json");
        let mut latest: Value = std::fs::read_to_string(&latest_path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_else(|| json!({}));
        if let (Some(l), Some(s)) = (latest.as_object_mut(), summary.as_object()) {
            l.retain(|k, _| !k.starts_with("pinned_"));
            l.extend(s.clone());
            l.insert(
                "pinned_results".into(),
                json!(format!("{stamp}-pinned.json")),
            );
        }
        std::fs::write(&latest_path, serde_json::to_string_pretty(&latest)? + "\n")?;
        let mut curves = Vec::new();
        for (i, r) in self.rounds.iter().enumerate() {
            let n = i + 1;
            curves.push(curve(
                format!("spygroup, round {n}"),
                System::Spygroup,
                &r.relay,
            ));
            curves.push(curve(
                format!("minimal relay, round {n}"),
                System::MinimalRelay,
                &r.mini,
            ));
        }
        let png = base.with_extension("png");
        let title = format!("One core each: spygroup and the minimal relay ({stamp})");
        match plot::draw(&png, &title, &curves) {
            Ok(()) => {
                // The README shows the latest picture under a fixed name.
                std::fs::copy(&png, a.out.join("pinned-latest.png"))?;
                eprintln!("drew {}", png.display());
            }
            Err(e) => eprintln!("no picture: {e:#}"),
        }
        eprintln!("wrote {}.json/.md and latest.json", base.display());
        Ok(())
    }

    fn markdown(&self, full: &Value) -> String {
        let mut s = format!(
            "# spyload pinned results {}\n\nspygroup (or the minimal relay) on CPU {}, the load tool on CPU {}; \
             rounds measured in turn, spygroup then the minimal relay. Machine: {}.\n\n",
            full["timestamp"].as_str().unwrap_or(""),
            crate::proc::PBX_CPU,
            crate::proc::TOOL_CPU,
            full["machine"]
        );
        s += "## Summary (median, spread over the rounds)\n\n| key | value |\n|---|---|\n";
        if let Some(o) = full["summary"].as_object() {
            for (k, v) in o {
                s += &format!("| {k} | {v} |\n");
            }
        }
        s += "\n## Rounds\n\n| round | spygroup calls | knee CPU % | p99 > 2 ms at | minimal relay calls | knee CPU % | p99 > 2 ms at | ratio |\n|---|---|---|---|---|---|---|---|\n";
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
        let at = |v: Option<usize>| v.map_or("-".to_string(), |x| x.to_string());
        for (i, r) in self.rounds.iter().enumerate() {
            s += &format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                i + 1,
                r.relay.capacity,
                opt(r.relay.knee_cpu_pct()),
                at(r.relay.latency_p99_over(2.0)),
                r.mini.capacity,
                opt(r.mini.knee_cpu_pct()),
                at(r.mini.latency_p99_over(2.0)),
                if r.mini.capacity > 0 {
                    format!("{:.3}", r.relay.capacity as f64 / r.mini.capacity as f64)
                } else {
                    "-".into()
                }
            );
        }
        let mut scen: Vec<(String, &Scenario)> = vec![
            ("probe: spygroup".into(), &self.probe.0),
            ("probe: minimal relay".into(), &self.probe.1),
        ];
        for (i, r) in self.rounds.iter().enumerate() {
            scen.push((format!("round {}: spygroup", i + 1), &r.relay));
            scen.push((format!("round {}: minimal relay", i + 1), &r.mini));
        }
        if let Some(l) = &self.listen {
            scen.push(("25% of calls listened to".into(), l));
        }
        for (name, sc) in scen {
            super::report::steps_table(&mut s, &name, sc);
        }
        s
    }
}

/// Monitored supervisors the listen-25 scenario needs at `cap` calls.
pub fn supervisors(cap: usize) -> usize {
    (0..cap)
        .filter(|&i| Mix::Listen25.kind(i) == Kind::Listen)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_fine_around_the_limit_and_bounded() {
        let g = grid(2000, MAX_CALLS);
        assert_eq!(g[..6], [500, 1000, 1200, 1300, 1400, 1500]);
        assert!(g.contains(&1900) && g.contains(&2000) && g.contains(&2100));
        assert!(g.windows(2).all(|w| w[0] < w[1]), "{g:?}");
        assert_eq!(*grid(4000, MAX_CALLS).last().unwrap(), MAX_CALLS);
        assert_eq!(*grid(4000, 1000).last().unwrap(), 1000);
        assert!(grid(10, MAX_CALLS).iter().all(|&n| n >= 50));
    }

    fn scenario(steps: &[(usize, bool, bool)]) -> Scenario {
        let steps: Vec<StepOut> = steps
            .iter()
            .map(|&(calls, pass, behind)| {
                let mut stats = crate::rtp::Stats::default();
                // The tool 6 ms late at p99, or on time.
                stats
                    .send_late
                    .add(if behind { 6_000_000 } else { 100_000 });
                StepOut {
                    calls,
                    pass,
                    json: Value::Null,
                    cpu: 0.0,
                    rss: None,
                    stats,
                }
            })
            .collect();
        let capacity = steps
            .iter()
            .take_while(|s| s.pass)
            .last()
            .map_or(0, |s| s.calls);
        Scenario {
            name: "relay",
            steps,
            capacity,
            paired: None,
        }
    }

    #[test]
    fn the_probe_stops_where_it_fails_or_the_tool_fell_behind() {
        let ok = |n| (n, true, false);
        assert_eq!(
            probe_limit(&scenario(&[ok(400), ok(800), (1200, false, false)])),
            1000
        );
        // 1600 passed with the tool behind: the limit is below it, not above.
        let behind = [ok(800), ok(1200), (1600, true, true), (2000, false, true)];
        assert_eq!(probe_limit(&scenario(&behind)), 1400);
        assert_eq!(probe_limit(&scenario(&[ok(400), ok(800)])), 800);
        assert_eq!(probe_limit(&scenario(&[(200, false, false)])), 100);
    }

    #[test]
    fn median_and_spread() {
        assert_eq!(spread(vec![3.0, 1.0, 2.0]), (Some(2.0), Some((1.0, 3.0))));
        assert_eq!(spread(vec![4.0, 1.0]), (Some(2.5), Some((1.0, 4.0))));
        assert_eq!(spread(vec![f64::NAN]), (None, None));
    }
}
