//! The results: the summary figures drawn from the scenarios, the full JSON, the
//! Markdown tables, and the files under bench/results/.

use super::measure::{StepOut, JITTER_P99_MAX_MS, LOSS_MAX};
use super::scenario::Scenario;
use super::settings::Settings;
use crate::rtp::Kind;
use crate::Args;
use anyhow::Result;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Instant;

/// What the scenarios found; a part that did not run stays `None`.
#[derive(Default)]
pub struct Results {
    pub relay: Option<Scenario>,
    pub monitored: Option<Scenario>,
    /// 25% of calls listened to, nothing whispered (`--only listen`).
    pub listen: Option<Scenario>,
    pub mini: Option<Scenario>,
    /// The set-up rate scenario as it goes into the full JSON.
    pub setup: Option<Value>,
    pub setup_cps: Option<f64>,
    pub setup_unqueued: Option<f64>,
    /// The same scenario with PostgreSQL as the store (`--postgres`).
    pub setup_pg: Option<Value>,
    pub setup_pg_cps: Option<f64>,
    /// p50 and p99 of the whispered-to agent's latency (decode, mix, encode).
    pub mix_latency: (Option<f64>, Option<f64>),
    /// p50 and p99 of a listened-to call's latency (still forwarded as is).
    pub listen_latency: (Option<f64>, Option<f64>),
    /// The queue scenario's figures (`queue_*` keys).
    pub queue: Option<Value>,
}

/// Prints the Markdown summary and, unless `--dry`, writes `<timestamp>.json`,
/// `<timestamp>.md` and `latest.json` under `--out`.
pub fn write(
    a: &Args,
    set: &Settings,
    mach: Value,
    started: u64,
    t0: Instant,
    res: Results,
) -> Result<()> {
    let Results {
        relay,
        monitored,
        listen,
        mini,
        setup,
        setup_cps,
        setup_unqueued,
        setup_pg,
        setup_pg_cps,
        mix_latency,
        listen_latency,
        queue,
    } = res;
    let relay_cap = relay.as_ref().map(|s| s.capacity);
    let mini_cap = mini.as_ref().map(|s| s.capacity);
    let mon_cap = monitored.as_ref().map(|s| s.capacity);
    let relay_ratio = match (relay_cap, mini_cap) {
        (Some(r), Some(m)) if m > 0 => Some(r as f64 / m as f64),
        _ => None,
    };
    let separate = separate_ratios(relay.as_ref(), monitored.as_ref());
    let paired = monitored.as_ref().and_then(|m| m.paired.as_ref());
    // The headline is the paired measurement (same calls, same process, adjacent
    // windows); the separate-scenario ratio when it could not run.
    let (monitor_cpu_ratio, cpu_ratio_at) = match paired.and_then(|p| p.ratio.map(|r| (r, p.calls)))
    {
        Some((r, n)) => (Some(r), Some(n)),
        None => (separate.ratio, separate.at),
    };
    let (relay_p50, relay_p99) = relay
        .as_ref()
        .and_then(|s| s.steps.first())
        .map(|f| {
            let k = &f.stats.kinds[Kind::Plain as usize];
            (k.latency.quantile_ms(0.5), k.latency.quantile_ms(0.99))
        })
        .unwrap_or((None, None));
    let rss_per_call = relay.as_ref().and_then(|s| rss_slope(&s.steps));
    let latest = json!({
        "relay_capacity_calls": relay_cap,
        "minimal_relay_capacity_calls": mini_cap,
        "relay_ratio": round(relay_ratio, 3),
        "monitored_capacity_calls": mon_cap,
        "monitor_cpu_ratio": round(monitor_cpu_ratio, 3),
        "monitor_cpu_ratio_at_calls": cpu_ratio_at,
        "monitor_cpu_ratio_listen_25": round(paired.and_then(|p| p.listen_ratio), 3),
        "monitor_cpu_ratio_separate": round(separate.ratio, 3),
        "monitor_cpu_ratio_separate_at_calls": separate.at,
        "monitor_cpu_ratio_separate_by_calls": separate.by_calls,
        "monitor_cpu_ratio_separate_median": round(separate.median, 3),
        "setup_cps": setup_cps,
        "setup_cps_p99_under_100ms": setup_unqueued,
        "setup_cps_postgres": setup_pg_cps,
        "setup_postgres_ratio": round(
            match (setup_pg_cps, setup_cps) {
                (Some(p), Some(s)) if s > 0.0 => Some(p / s),
                _ => None,
            },
            3
        ),
        "relay_latency_p50_ms": round(relay_p50, 3),
        "relay_latency_p99_ms": round(relay_p99, 3),
        "mix_latency_p50_ms": round(mix_latency.0, 3),
        "mix_latency_p99_ms": round(mix_latency.1, 3),
        "listen_latency_p50_ms": round(listen_latency.0, 3),
        "listen_latency_p99_ms": round(listen_latency.1, 3),
        "rss_per_call_kib": round(rss_per_call, 1),
    });
    let mut latest = latest;
    // Where each relay's latency tail starts and how busy its core was when it
    // failed; with --pin the capacities are one core's, under pinned_* too.
    for (prefix, sc) in [("relay", &relay), ("minimal_relay", &mini)] {
        latest[format!("{prefix}_knee_cpu_pct")] =
            json!(round(sc.as_ref().and_then(|s| s.knee_cpu_pct()), 1));
        for ms in [2, 10] {
            latest[format!("{prefix}_latency_p99_over_{ms}ms_at_calls")] =
                json!(sc.as_ref().and_then(|s| s.latency_p99_over(ms as f64)));
        }
    }
    if a.pin {
        latest["pinned_relay_capacity_calls"] = json!(relay_cap);
        latest["pinned_minimal_relay_capacity_calls"] = json!(mini_cap);
        latest["pinned_relay_ratio"] = json!(round(relay_ratio, 3));
        latest["pinned_knee_cpu_pct"] =
            json!(round(relay.as_ref().and_then(|s| s.knee_cpu_pct()), 1));
        latest["pinned_monitored_capacity_calls"] = json!(mon_cap);
        latest["pinned_setup_cps"] = json!(setup_cps);
    }
    if let Some(q) = &queue {
        // The queue's headline figures join the summary (the rest stays under "queue").
        for k in [
            "queue_waiting_callers",
            "queue_cpu_pct_per_waiting_caller",
            "queue_cpu_pct_per_relayed_call",
            "queue_waiting_to_relayed_ratio",
            "queue_free_to_ring_p50_ms",
            "queue_free_to_ring_p99_ms",
            "queue_free_to_ring_max_ms",
            "queue_free_to_ring_samples",
        ] {
            latest[k] = q[k].clone();
        }
    }
    let stamp = utc_stamp(started);
    let full = json!({
        "timestamp": stamp,
        "mode": if a.quick { "quick" } else { "full" },
        "machine": mach,
        "note": "load generator, PBX and relay share this machine's cores with whatever else runs on it; \
                 see loadavg_at_start",
        "criteria": { "loss_max_pct": LOSS_MAX * 100.0, "jitter_p99_max_ms": JITTER_P99_MAX_MS,
                      "window_s": set.plan.window.as_secs_f64(), "warmup_s": set.plan.warmup.as_secs_f64(),
                      "tool_rtp_workers": a.workers,
                      "pinned": a.pin.then_some(json!({ "pbx_cpu": crate::proc::PBX_CPU, "tool_cpu": crate::proc::TOOL_CPU })) },
        "summary": latest,
        "relay": relay.as_ref().map(|s| s.json()),
        "monitored": monitored.as_ref().map(|s| s.json()),
        "listen_25": listen.as_ref().map(|s| s.json()),
        "minimal_relay": mini.as_ref().map(|s| s.json()),
        "setup": setup,
        "setup_postgres": setup_pg,
        "queue": queue,
        "duration_s": (t0.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    });
    let md = markdown(&full, [&relay, &monitored, &listen, &mini]);
    println!("{md}");
    if !a.dry {
        std::fs::create_dir_all(&a.out)?;
        let base: PathBuf = a.out.join(&stamp);
        std::fs::write(
            base.with_extension("json"),
            serde_json::to_string_pretty(&full)? + "\n",
        )?;
        std::fs::write(base.with_extension("md"), &md)?;
        std::fs::write(
            a.out.join("latest.json"),
            serde_json::to_string_pretty(&latest)? + "\n",
        )?;
        eprintln!("wrote {}.json/.md and latest.json", base.display());
    }
    Ok(())
}

pub(super) fn rss_slope(steps: &[StepOut]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = steps
        .iter()
        .filter_map(|s| s.rss.map(|r| (s.calls as f64, r as f64)))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 {
        None
    } else {
        Some(sxy / sxx)
    }
}

/// Monitoring's cost from the two separate scenarios: CPU of the monitored run /
/// CPU of the plain run at the same number of calls.
struct SeparateRatios {
    /// At the largest call count both passed.
    ratio: Option<f64>,
    at: Option<usize>,
    by_calls: serde_json::Map<String, Value>,
    /// Over every call count both passed (one noisy step sways it less).
    median: Option<f64>,
}

fn separate_ratios(relay: Option<&Scenario>, monitored: Option<&Scenario>) -> SeparateRatios {
    let mut out = SeparateRatios {
        ratio: None,
        at: None,
        by_calls: serde_json::Map::new(),
        median: None,
    };
    let (Some(r), Some(m)) = (relay, monitored) else {
        return out;
    };
    let mut ratios = Vec::new();
    for s in m.steps.iter().filter(|s| s.pass) {
        if let (Some(cm), Some(cr)) = (m.cpu_at(s.calls), r.cpu_at(s.calls)) {
            if cr > 0.0 {
                out.by_calls
                    .insert(s.calls.to_string(), json!(round(Some(cm / cr), 3)));
                ratios.push(cm / cr);
                out.ratio = Some(cm / cr);
                out.at = Some(s.calls);
            }
        }
    }
    ratios.sort_by(f64::total_cmp);
    if !ratios.is_empty() {
        let mid = ratios.len() / 2;
        out.median = Some(if ratios.len() % 2 == 1 {
            ratios[mid]
        } else {
            (ratios[mid - 1] + ratios[mid]) / 2.0
        });
    }
    out
}

fn round(v: Option<f64>, digits: i32) -> Value {
    let f = 10f64.powi(digits);
    v.map(|x| json!((x * f).round() / f)).unwrap_or(Value::Null)
}

pub(super) fn utc_stamp(secs: u64) -> String {
    // civil-from-days (Howard Hinnant), UTC
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn markdown(full: &Value, scen: [&Option<Scenario>; 4]) -> String {
    let mut s = String::new();
    let m = &full["machine"];
    s += &format!(
        "# spyload results {} ({})\n\n",
        full["timestamp"].as_str().unwrap_or(""),
        full["mode"].as_str().unwrap_or("")
    );
    s += &format!(
        "Machine: {} x {}, load average at start {}, kernel {}. Load generator, PBX and relay \
         all run on this machine and share its cores with other work: figures are noisy.\n\n",
        m["nproc"],
        m["cpu_model"].as_str().unwrap_or(""),
        m["loadavg_at_start"].as_str().unwrap_or(""),
        m["kernel"].as_str().unwrap_or("")
    );
    s += "## Summary\n\n| key | value |\n|---|---|\n";
    if let Some(o) = full["summary"].as_object() {
        for (k, v) in o {
            s += &format!("| {k} | {v} |\n");
        }
    }
    for sc in scen.into_iter().flatten() {
        steps_table(&mut s, sc.name, sc);
    }
    for (key, store) in [("setup", "SQLite"), ("setup_postgres", "PostgreSQL")] {
        setup_table(&mut s, &full[key], store);
    }
    if let Some(q) = full["queue"].as_object() {
        s += "\n## Queue (waiting callers with music on hold, agents in turn)\n\n| key | value |\n|---|---|\n";
        for (k, v) in q.iter().filter(|(k, _)| *k != "queue_relayed_steps") {
            s += &format!("| {k} | {v} |\n");
        }
    }
    s
}

/// One scenario's steps as a Markdown table under `## <title>`.
pub(super) fn steps_table(s: &mut String, title: &str, sc: &Scenario) {
    *s += &format!("\n## {title} (capacity {} calls)\n\n", sc.capacity);
    *s += "| calls | pass | loss % | jitter p99 ms | latency p50 / p99 / max ms | CPU % | CPU %/call | RSS KiB | tool CPU % | tool sent late p99 / max ms | setup failures |\n";
    *s += "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for st in &sc.steps {
        let j = &st.json;
        *s += &format!(
            "| {} | {} | {} | {} | {} / {} / {} | {} | {} | {} | {} | {} / {}{} | {} |\n",
            j["calls"],
            j["pass"],
            j["loss_pct"],
            j["jitter_p99_ms"],
            j["latency_p50_ms"],
            j["latency_p99_ms"],
            j["latency_max_ms"],
            j["cpu_pct"],
            j["cpu_pct_per_call"],
            j["rss_kib"],
            j["tool_cpu_pct"],
            j["tool_send_late_p99_ms"],
            j["tool_max_lag_ms"],
            if j["tool_behind"] == json!(true) {
                " (tool behind)"
            } else {
                ""
            },
            j["setup_failures"]
        );
    }
}

fn setup_table(s: &mut String, setup: &Value, store: &str) {
    if let Some(steps) = setup["steps"].as_array() {
        *s += &format!(
            "\n## Call setup rate, {store} (best {} cps with < 1% failures)\n\n",
            setup["setup_cps"]
        );
        *s += "| cps | calls | failures | setup p50 ms | setup p99 ms | PBX CPU % |\n|---|---|---|---|---|---|\n";
        for j in steps {
            *s += &format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                j["cps"],
                j["calls"],
                j["failures"],
                j["setup_p50_ms"],
                j["setup_p99_ms"],
                j["cpu_pct"]
            );
        }
    }
}
