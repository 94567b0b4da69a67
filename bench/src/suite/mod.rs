//! The benchmark suite: starts the PBX (or the minimal relay), steps the load up,
//! measures, and writes bench/results/.
//!
//! [`run`] is the order of events; the parts live in their own modules:
//! `settings` (steps and windows), `pbx` (the process under test and its database),
//! `measure` (one step), `scenario` (the capacity scenarios), `setup` (the set-up
//! rate), `queue` (waiting callers and agents in turn), `pinned` (the per-core
//! run), `plot` (its picture) and `report` (summary and result files).

mod measure;
mod overload;
mod pbx;
mod pinned;
mod plot;
mod queue;
mod report;
mod scenario;
mod settings;
mod setup;
mod soak;

use crate::calls::{callee_ext, monitored_kind, Mix, CALLERS, SECRET};
use crate::proc::machine;
use crate::rtp::{Kind, RtpPool};
use crate::sip::{Engine, Ports};
use crate::Args;
use anyhow::{Context, Result};
use pbx::{make_db, Pbx};
use report::Results;
use scenario::{minimal_capacity, pbx_capacity};
use serde_json::json;
use settings::{settings, RTP_POOL, TOOL_PORTS};
use setup::setup_rate;
use std::time::{Duration, Instant};

pub fn run(a: &Args) -> Result<()> {
    let t0 = Instant::now();
    let t_end = t0 + Duration::from_secs_f64(a.budget);
    if a.pin {
        // Before any thread of the tool starts: they inherit it.
        crate::proc::pin_to(crate::proc::TOOL_CPU).context("pinning the load tool")?;
    }
    let set = settings(a);
    let mach = machine();
    if let Some(total) = a.soak {
        return run_soak(a, total, t_end);
    }
    if let Some(cap) = a.overload {
        return run_overload(a, &set, cap);
    }
    eprintln!(
        "spyload suite ({}) on {mach}",
        match (a.pinned, a.quick) {
            (true, _) => "pinned",
            (_, true) => "quick",
            _ => "full",
        }
    );
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let work = std::env::temp_dir().join(format!("spyload-{}-{started}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let template = work.join("template.db");
    if a.pinned {
        let (cap, supers) = (pinned::cap(a), pinned::supervisors(pinned::cap(a)));
        eprintln!(
            "creating {} extensions with `spygroup ext add`",
            CALLERS + cap + supers
        );
        make_db(a, &sqlite_url(&template), cap, supers)?;
        let r = pinned::run(a, &set, &work, &template, started, t_end);
        let _ = std::fs::remove_dir_all(&work);
        return r;
    }
    let max_calls = *set.steps.last().unwrap_or(&100);
    let supers = (0..max_calls)
        .filter(|&i| matches!(monitored_kind(i), Kind::Listen | Kind::Whisper))
        .count();
    let need_pbx = want(a, "relay") || want(a, "setup") || want(a, "monitor") || want(a, "listen");
    if need_pbx {
        eprintln!(
            "creating {} extensions with `spygroup ext add`",
            CALLERS + max_calls + supers
        );
        make_db(a, &sqlite_url(&template), max_calls, supers)?;
        eprintln!("  done in {:.1} s", t0.elapsed().as_secs_f64());
    }
    let callees: Vec<(String, String)> = (0..max_calls)
        .map(|i| (callee_ext(i), SECRET.to_string()))
        .collect();
    let mut res = Results::default();

    if want(a, "relay") || want(a, "setup") {
        let db = work.join("relay.db");
        std::fs::copy(&template, &db)?;
        with_pbx(a, &work, &sqlite_url(&db), &callees, |e, pid, ok| {
            if want(a, "relay") {
                res.relay = Some(pbx_capacity(a, &set, e, pid, Mix::Plain, t_end));
            }
            if want(a, "setup") {
                let (best, unqueued, json) = setup_json(&set, e, pid, ok, t_end);
                res.setup_cps = Some(best);
                res.setup_unqueued = Some(unqueued);
                res.setup = Some(json);
            }
        })?;
    }
    if let (true, Some(url)) = (want(a, "setup"), a.postgres.as_deref()) {
        // The same set-up scenario on PostgreSQL: the switch reads its snapshot and
        // writes behind, so the rate should be within noise of SQLite's.
        eprintln!("creating the extensions on PostgreSQL");
        make_db(a, url, max_calls, 0)?;
        with_pbx(a, &work, url, &callees, |e, pid, ok| {
            let (best, _, json) = setup_json(&set, e, pid, ok, t_end);
            res.setup_pg_cps = Some(best);
            res.setup_pg = Some(json);
        })?;
    }
    if want(a, "monitor") {
        let db = work.join("monitor.db");
        std::fs::copy(&template, &db)?;
        with_pbx(a, &work, &sqlite_url(&db), &callees, |e, pid, _| {
            let s = pbx_capacity(a, &set, e, pid, Mix::Monitored, t_end);
            if let Some(first) = s.steps.first() {
                // The whispered-to agent hears decode -> mix -> encode; listened-to
                // calls are still forwarded packet by packet (only the spy gets a mix).
                let q = |k: Kind| {
                    let l = &first.stats.kinds[k as usize].latency;
                    (l.quantile_ms(0.5), l.quantile_ms(0.99))
                };
                res.mix_latency = q(Kind::WhisperAgent);
                res.listen_latency = q(Kind::Listen);
            }
            res.monitored = Some(s);
        })?;
    }
    if want(a, "listen") {
        let db = work.join("listen.db");
        std::fs::copy(&template, &db)?;
        with_pbx(a, &work, &sqlite_url(&db), &callees, |e, pid, _| {
            res.listen = Some(pbx_capacity(a, &set, e, pid, Mix::Listen25, t_end));
        })?;
    }
    if want(a, "mini") {
        res.mini = Some(minimal_capacity(a, &set, t_end)?);
    }
    if want(a, "queue") {
        // About 65 s quick, 150 s full, plus making its database: in a full run only
        // when the budget still has that much.
        let need = Duration::from_secs(if a.quick { 75 } else { 180 });
        if !a.only.is_empty() || Instant::now() + need < t_end {
            res.queue = Some(run_queue(a, &work)?);
        } else {
            eprintln!("== queue: skipped (time budget)");
        }
    }

    report::write(a, &set, mach, started, t0, res)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// The queue scenario on its own PBX and database (queue 800, agents paused).
fn run_queue(a: &Args, work: &std::path::Path) -> Result<serde_json::Value> {
    let t = Instant::now();
    let url = sqlite_url(&work.join("queue.db"));
    eprintln!(
        "creating the queue scenario's database (extensions, queue {}, members)",
        queue::QUEUE
    );
    queue::make_queue_db(a, &url)?;
    eprintln!("  done in {:.1} s", t.elapsed().as_secs_f64());
    // Music on hold is `<sounds>/moh/default/*.wav`: the repository's sounds/,
    // found from the dialplan's place (bench/ is next to it).
    let sounds = a.dialplan.parent().map_or_else(
        || std::path::PathBuf::from("sounds"),
        |d| d.join("../sounds"),
    );
    let extra = ["--sounds".to_string(), sounds.display().to_string()];
    let mut pbx = Pbx::start_with(a, work, &url, &extra)?;
    let r = (|| -> Result<serde_json::Value> {
        let mut e = Engine::new(pbx.sip, Ports::new(TOOL_PORTS.0, TOOL_PORTS.1))?;
        let agents: Vec<(String, String)> = (0..queue::AGENTS)
            .map(|i| (callee_ext(i), SECRET.to_string()))
            .collect();
        let ok = e.register_all(&agents, 100);
        eprintln!("registered {ok}/{} agents", queue::AGENTS);
        pbx.wait_writes_settled(Duration::from_secs(60));
        queue::queue(a, &settings(a), &mut e, &pbx, &url)
    })();
    pbx.stop();
    r
}

/// The overload scenario alone: its own PBX (`--max-calls cap`) and database,
/// results in `overload-<stamp>.json`.
fn run_overload(a: &Args, set: &settings::Settings, cap: usize) -> Result<()> {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let work =
        std::env::temp_dir().join(format!("spyload-overload-{}-{started}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let db = work.join("overload.db");
    make_db(a, &sqlite_url(&db), cap, 0)?;
    let callees: Vec<(String, String)> = (0..cap)
        .map(|i| (callee_ext(i), SECRET.to_string()))
        .collect();
    let extra = ["--max-calls".to_string(), cap.to_string()];
    let mut pbx = Pbx::start_with(a, &work, &sqlite_url(&db), &extra)?;
    let r = (|| -> Result<serde_json::Value> {
        let mut e = Engine::new(pbx.sip, Ports::new(TOOL_PORTS.0, TOOL_PORTS.1))?;
        let ok = e.register_all(&callees, 100);
        eprintln!("registered {ok}/{cap} agents");
        pbx.wait_writes_settled(Duration::from_secs(60));
        Ok(overload::overload(set, a.workers, &mut e, pbx.pid(), cap))
    })();
    pbx.stop();
    let out = json!({ "machine": machine(), "overload": r? });
    if !a.dry {
        std::fs::create_dir_all(&a.out)?;
        let path = a.out.join(format!("overload-{started}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&out)? + "\n")?;
        eprintln!("written {}", path.display());
    }
    println!("{}", serde_json::to_string_pretty(&out["overload"])?);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// The soak alone: its own PBX and database, results in `soak-<stamp>.json`.
fn run_soak(a: &Args, total: usize, t_end: Instant) -> Result<()> {
    let agents = 50;
    let supers = 50;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let work = std::env::temp_dir().join(format!("spyload-soak-{}-{started}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let db = work.join("soak.db");
    make_db(a, &sqlite_url(&db), agents, supers)?;
    let callees: Vec<(String, String)> = (0..agents)
        .map(|i| (callee_ext(i), SECRET.to_string()))
        .collect();
    let mut pbx = Pbx::start(a, &work, &sqlite_url(&db))?;
    let r = (|| -> Result<serde_json::Value> {
        let mut e = Engine::new(pbx.sip, Ports::new(TOOL_PORTS.0, TOOL_PORTS.1))?;
        let ok = e.register_all(&callees, 100);
        eprintln!("registered {ok}/{agents} agents");
        pbx.wait_writes_settled(Duration::from_secs(60));
        Ok(soak::soak(
            &pbx,
            &mut e,
            (agents, supers),
            total,
            (a.soak_cps, a.soak_spy_every),
            t_end,
        ))
    })();
    pbx.stop();
    let out = json!({ "machine": machine(), "soak": r? });
    if !a.dry {
        std::fs::create_dir_all(&a.out)?;
        let path = a.out.join(format!("soak-{started}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&out)? + "\n")?;
        eprintln!("written {}", path.display());
    }
    println!("{}", serde_json::to_string_pretty(&out["soak"])?);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// Starts a PBX on `db`, registers the callees, runs `f` (with the load tool's
/// engine, the PBX's pid and how many registered), then stops the PBX.
fn with_pbx(
    a: &Args,
    work: &std::path::Path,
    db: &str,
    callees: &[(String, String)],
    f: impl FnOnce(&mut Engine, u32, usize),
) -> Result<()> {
    let mut pbx = Pbx::start(a, work, db)?;
    let r = (|| -> Result<()> {
        let mut e = Engine::new(pbx.sip, Ports::new(TOOL_PORTS.0, TOOL_PORTS.1))?;
        e.rtp_pool = Some(RtpPool::new(RTP_POOL, || e.ports.bind())?);
        let ok = e.register_all(callees, 100);
        eprintln!(
            "registered {ok}/{} callees ({})",
            callees.len(),
            store_name(db)
        );
        if !pbx.wait_writes_settled(Duration::from_secs(60)) {
            eprintln!("  the registrations were not all written within 60 s; measuring anyway");
        }
        f(&mut e, pbx.pid(), ok);
        Ok(())
    })();
    pbx.stop();
    r
}

fn store_name(db: &str) -> &'static str {
    if db.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    }
}

/// The set-up rate scenario against `callees` registered callees, as the results
/// keep it: the best rate, the best rate with p99 under 100 ms, and the steps.
fn setup_json(
    set: &settings::Settings,
    e: &mut Engine,
    pid: u32,
    callees: usize,
    t_end: Instant,
) -> (f64, f64, serde_json::Value) {
    let (best, unqueued, steps) = setup_rate(set, e, pid, callees.max(1), t_end);
    let out = json!({ "setup_cps": best, "setup_cps_p99_under_100ms": unqueued, "steps": steps });
    (best, unqueued, out)
}

fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

fn want(a: &Args, part: &str) -> bool {
    if a.only.is_empty() {
        !OPT_IN.contains(&part)
    } else {
        a.only.iter().any(|p| p == part)
    }
}

/// Parts that run only when `--only` names them: `listen` (25% of calls listened
/// to on its own; the full run measures monitoring with the paired windows of
/// `monitor`, the per-core run has its own).
const OPT_IN: [&str; 1] = ["listen"];
