//! The queue scenario: 200 callers waiting in one queue with music on hold, 100
//! agents answering in turn. All in one PBX process, one after the other:
//!
//! 1. idle: the agents registered (and paused), nothing else: the baseline CPU;
//! 2. relayed reference: 100 plain calls caller -> agent (`Dial`), G.711 both ways;
//! 3. waiting: 200 callers in queue 800 (every member paused), each sending G.711
//!    and receiving the PBX's music on hold; the received packets are counted, so
//!    the figure proves the music flows;
//! 4. turnover: the agents are unpaused; each rings 200-500 ms, answers, talks 2-4 s
//!    and hangs up itself (BYE from the agent's phone), while the tool keeps 200
//!    callers waiting (300 in the system: a new caller whenever one is done). For
//!    every agent hang-up, the time from the agent's BYE to the PBX's next INVITE
//!    to that agent is the "free to ringing" delay.
//!
//! CPU per waiting caller and per relayed call are the windows' CPU less the idle
//! window's, over the callers or calls; their ratio is the headline.

use super::measure::{judge, measure_step, ms};
use super::pbx::{make_db, Pbx};
use super::settings::Settings;
use crate::calls::{callee_ext, caller_ext, place, SECRET};
use crate::proc::CpuMeter;
use crate::rtp::{Kind, Leg, Plan, Stats};
use crate::sip::{AgentEventKind, AgentPlan, CallState, Engine};
use crate::Args;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The queue's name (`bench/dialplan.conf` sends 800 to `Queue(800,t,,,600)`).
pub const QUEUE: &str = "800";
pub const AGENTS: usize = 100;
pub const WAITING: usize = 200;
/// The queue's strategy: the member rung is the one after the last answerer, so
/// the agents take calls in turn.
const STRATEGY: &str = "rrmemory";
/// The agents' behaviour in the turnover (ms): ring, then talk, then hang up.
const RING_MS: (u64, u64) = (200, 500);
const TALK_MS: (u64, u64) = (2000, 4000);

/// The database: callers, the agents, queue 800 with the agents as static members,
/// every agent paused (the waiting window needs nobody free to answer).
pub fn make_queue_db(a: &Args, url: &str) -> Result<()> {
    make_db(a, url, AGENTS, 0)?;
    let mut cmds = vec![vec![
        "queue".to_string(),
        "add".into(),
        QUEUE.into(),
        "--strategy".into(),
        STRATEGY.into(),
        "--timeout".into(),
        "15".into(),
        "--retry".into(),
        "1".into(),
        "--wrapuptime".into(),
        "0".into(),
    ]];
    run_cli(a, url, &cmds, &mut || {
        std::thread::sleep(Duration::from_millis(2))
    })?;
    cmds = (0..AGENTS)
        .map(|i| {
            ["queue", "member", "add", QUEUE, &callee_ext(i)]
                .map(String::from)
                .to_vec()
        })
        .collect();
    run_cli(a, url, &cmds, &mut || {
        std::thread::sleep(Duration::from_millis(2))
    })?;
    cmds = (0..AGENTS)
        .map(|i| {
            ["agent", "pause", &callee_ext(i), "--reason", "bench"]
                .map(String::from)
                .to_vec()
        })
        .collect();
    run_cli(a, url, &cmds, &mut || {
        std::thread::sleep(Duration::from_millis(2))
    })
}

/// Runs `spygroup <cmd> --db url` for each command, four at a time (retrying a
/// failure up to 5 times: SQLite may be busy with the server's writes), calling
/// `idle` between polls so a running engine keeps answering.
fn run_cli(a: &Args, url: &str, cmds: &[Vec<String>], idle: &mut dyn FnMut()) -> Result<()> {
    let start = |c: &[String]| -> Result<Child> {
        Ok(Command::new(&a.spygroup)
            .args(c)
            .args(["--db", url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?)
    };
    let mut queue: Vec<&Vec<String>> = cmds.iter().rev().collect();
    let mut running: Vec<(&Vec<String>, Child, u32)> = Vec::new();
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < 4 {
            let Some(c) = queue.pop() else { break };
            running.push((c, start(c)?, 0));
        }
        let mut i = 0;
        while i < running.len() {
            if let Some(st) = running[i].1.try_wait()? {
                let (c, _, tries) = running.swap_remove(i);
                if !st.success() {
                    if tries >= 5 {
                        bail!("spygroup {} failed ({st})", c.join(" "));
                    }
                    running.push((c, start(c)?, tries + 1));
                }
            } else {
                i += 1;
            }
        }
        idle();
    }
    Ok(())
}

/// The CPU% of `pid` over `plan`'s window with nothing from the tool but SIP.
fn idle_cpu(e: &mut Engine, pid: u32, plan: Plan) -> f64 {
    e.pump(plan.warmup);
    let meter = CpuMeter::start(pid);
    e.pump(plan.window);
    meter.percent()
}

fn pct(v: f64, digits: i32) -> Value {
    let f = 10f64.powi(digits);
    json!((v * f).round() / f)
}

/// The scenario, on a running PBX whose agents registered; returns the `queue`
/// part of the results.
pub fn queue(a: &Args, set: &Settings, e: &mut Engine, pbx: &Pbx, db: &str) -> Result<Value> {
    let pid = pbx.pid();
    let win = a.window.unwrap_or(if a.quick { 5.0 } else { 10.0 });
    let plan = Plan {
        warmup: Duration::from_secs(1),
        window: Duration::from_secs_f64(win),
        grace: set.plan.grace,
    };
    eprintln!("== queue: {WAITING} callers waiting in queue {QUEUE} ({STRATEGY}), {AGENTS} agents");

    // 1. idle
    let idle = idle_cpu(e, pid, plan);
    eprintln!("  idle ({AGENTS} agents registered, paused): cpu {idle:.2}%");

    // 2. the relayed reference: caller -> agent directly
    let calls: Vec<(String, String, Kind)> = (0..AGENTS)
        .map(|i| (caller_ext(i), callee_ext(i), Kind::Plain))
        .collect();
    let (ok, mut failed) = place(e, &calls, set.ramp_cps, 200, Duration::from_secs(8));
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
    eprint!("  relayed reference:");
    let (legs, stats, relay_cpu, rss, tool_cpu) = measure_step(legs, a.workers, plan, pid, Some(e));
    let relay = judge(AGENTS, failed, &stats, relay_cpu, rss, tool_cpu);
    e.hangup_all(Duration::from_secs(20));
    drop(legs);
    e.pump(Duration::from_secs(1));

    // 3. waiting callers: answered by Queue() at once, music on hold
    let calls: Vec<(String, String, Kind)> = (0..WAITING)
        .map(|i| (caller_ext(i), QUEUE.to_string(), Kind::Plain))
        .collect();
    let (ok, mut wait_failed) = place(e, &calls, set.ramp_cps, 200, Duration::from_secs(8));
    let mut waiting_legs = Vec::new();
    for (i, id) in &ok {
        match e.out.get_mut(id).map(|c| (c.rtp.take(), c.remote_rtp)) {
            Some((Some(s), Some(r))) => {
                waiting_legs.push(Leg::new(s, r, Kind::Plain, 1_000_000 + *i as u32))
            }
            _ => wait_failed += 1,
        }
    }
    let live = pbx.live_calls();
    let (waiting_legs, wstats, wait_cpu, wait_rss, wait_tool_cpu) =
        measure_step(waiting_legs, a.workers, plan, pid, Some(e));
    let n_waiting = waiting_legs.len();
    let moh = music_flow(&wstats, n_waiting, plan);
    eprintln!(
        "  {} waiting callers: cpu {wait_cpu:.1}% (tool cpu {wait_tool_cpu:.0}%, lag {:.1} ms, set-up failures {wait_failed}); \
         music: {:.1} packets/s per caller received ({} callers received none)",
        n_waiting,
        wstats.max_lag_ms,
        moh.per_caller_per_s,
        moh.silent
    );

    // 4. turnover: unpause, agents answer, talk and hang up; refill the queue
    let turn = turnover(a, e, pid, db, if a.quick { 15.0 } else { 30.0 })?;
    drop(waiting_legs);

    let per_wait = (wait_cpu - idle) / n_waiting.max(1) as f64;
    let per_relay = (relay_cpu - idle) / AGENTS as f64;
    let ratio = (per_relay > 0.0).then(|| per_wait / per_relay);
    eprintln!(
        "  cpu per waiting caller {per_wait:.4}% , per relayed call {per_relay:.4}% (idle {idle:.2}% subtracted): ratio {}",
        ratio.map_or("n/a".into(), |r| format!("{r:.3}"))
    );
    eprintln!(
        "  agent free -> ringing (BYE sent -> next INVITE): p50 {} ms p99 {} ms max {} ms over {} hang-ups \
         (from the PBX's 200 for the BYE: p50 {} p99 {}); tool lag max {:.1} ms",
        turn.free_to_ring.p(0.5),
        turn.free_to_ring.p(0.99),
        turn.free_to_ring.p(1.0),
        turn.free_to_ring.n(),
        turn.ok_to_ring.p(0.5),
        turn.ok_to_ring.p(0.99),
        turn.tool_lag_ms
    );
    let mut out = json!({
        "queue": QUEUE,
        "strategy": STRATEGY,
        "queue_timeout_s": 15, "queue_retry_s": 1, "wrapuptime_s": 0,
        "pinned": a.pin,
        "window_s": win,
        "idle_cpu_pct": pct(idle, 2),
        "queue_waiting_callers": n_waiting,
        "queue_waiting_setup_failures": wait_failed,
        "queue_live_calls_at_waiting": live,
        "queue_waiting_cpu_pct": pct(wait_cpu, 2),
        "queue_waiting_rss_kib": wait_rss,
        "queue_waiting_tool_cpu_pct": pct(wait_tool_cpu, 1),
        "queue_waiting_tool_max_lag_ms": pct(wstats.max_lag_ms, 2),
        "queue_moh_packets_received": moh.packets,
        "queue_moh_packets_per_caller_per_s": pct(moh.per_caller_per_s, 2),
        "queue_moh_callers_without_music": moh.silent,
    });
    let more = json!({
        "queue_relayed_calls": AGENTS,
        "queue_relayed_cpu_pct": pct(relay_cpu, 2),
        "queue_relayed_step": relay.json,
        "queue_cpu_pct_per_waiting_caller": pct(per_wait, 4),
        "queue_cpu_pct_per_relayed_call": pct(per_relay, 4),
        "queue_cpu_pct_per_waiting_caller_raw": pct(wait_cpu / n_waiting.max(1) as f64, 4),
        "queue_cpu_pct_per_relayed_call_raw": pct(relay_cpu / AGENTS as f64, 4),
        "queue_waiting_to_relayed_ratio": ratio.map(|r| pct(r, 3)),
    });
    let turnover = json!({
        "queue_turnover_s": pct(turn.secs, 1),
        "queue_unpause_s": pct(turn.unpause_secs, 2),
        "queue_agent_ring_ms": [RING_MS.0, RING_MS.1],
        "queue_agent_talk_ms": [TALK_MS.0, TALK_MS.1],
        "queue_calls_answered": turn.answered,
        "queue_calls_per_agent_min": turn.per_agent.0,
        "queue_calls_per_agent_max": turn.per_agent.1,
        "queue_callers_placed_in_turnover": turn.placed,
        "queue_caller_failures_in_turnover": turn.failed,
        "queue_rung_while_busy": turn.rung_while_busy,
        "queue_free_to_ring_p50_ms": turn.free_to_ring.p(0.5),
        "queue_free_to_ring_p99_ms": turn.free_to_ring.p(0.99),
        "queue_free_to_ring_max_ms": turn.free_to_ring.p(1.0),
        "queue_free_to_ring_samples": turn.free_to_ring.n(),
        "queue_free_to_ring_unanswered_byes": turn.unpaired,
        "queue_bye_ok_to_ring_p50_ms": turn.ok_to_ring.p(0.5),
        "queue_bye_ok_to_ring_p99_ms": turn.ok_to_ring.p(0.99),
        "queue_turnover_tool_max_lag_ms": pct(turn.tool_lag_ms, 2),
        "queue_turnover_tool_cpu_pct": pct(turn.tool_cpu, 1),
        "queue_turnover_cpu_pct": pct(turn.pbx_cpu, 1),
    });
    for part in [more, turnover] {
        if let (Some(o), Value::Object(p)) = (out.as_object_mut(), part) {
            o.extend(p);
        }
    }
    Ok(out)
}

/// What the waiting callers received (the PBX's music: nothing else sends to them).
struct Music {
    packets: u64,
    per_caller_per_s: f64,
    /// Callers that received nothing at all in the window.
    silent: usize,
}

fn music_flow(s: &Stats, callers: usize, plan: Plan) -> Music {
    let k = &s.kinds[Kind::Plain as usize];
    // recv_any counts from the window's start to the end of the grace period.
    let secs = (plan.window + plan.grace).as_secs_f64();
    Music {
        packets: k.recv_any,
        per_caller_per_s: k.recv_any as f64 / callers.max(1) as f64 / secs,
        silent: s.silent_legs,
    }
}

/// Delays in ms, sorted on demand.
#[derive(Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn n(&self) -> usize {
        self.0.len()
    }
    /// The q-quantile in ms (nearest rank), rounded to µs; 1.0 is the maximum.
    fn p(&self, q: f64) -> Value {
        if self.0.is_empty() {
            return Value::Null;
        }
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        ms(Some(v[i]))
    }
}

struct Turnover {
    secs: f64,
    unpause_secs: f64,
    answered: usize,
    per_agent: (usize, usize),
    placed: usize,
    failed: usize,
    rung_while_busy: u64,
    free_to_ring: Samples,
    ok_to_ring: Samples,
    unpaired: usize,
    tool_lag_ms: f64,
    tool_cpu: f64,
    pbx_cpu: f64,
}

/// The agents take calls for `secs`: unpaused, they ring, answer, talk and hang
/// up; the tool keeps `WAITING` callers waiting beyond the ones talking.
fn turnover(a: &Args, e: &mut Engine, pid: u32, db: &str, secs: f64) -> Result<Turnover> {
    let pid_self = std::process::id();
    e.agent_plan = AgentPlan {
        answer_after_ms: RING_MS,
        hangup_after_ms: Some(TALK_MS),
    };
    e.agent_log = Some(Vec::new());
    e.max_due_lag_ms = 0.0;
    e.rung_while_busy = 0;
    let target = WAITING + AGENTS;
    let mut placed = 0usize;
    let mut failed = 0usize;
    let mut n = WAITING;
    // `refill` tops the callers up to `target` (ringing or up), placing at most 20
    // at a time so a burst does not starve the engine.
    let mut refill = |e: &mut Engine, placed: &mut usize, failed: &mut usize| {
        *failed += e
            .out
            .values()
            .filter(|c| matches!(c.state, CallState::Failed(_)))
            .count();
        e.forget_finished();
        let live = e.out.len();
        for _ in live..target.min(live + 20) {
            if e.call(&caller_ext(n), SECRET, QUEUE).is_some() {
                *placed += 1;
            }
            n += 1;
        }
    };
    refill(e, &mut placed, &mut failed);
    let t0 = Instant::now();
    let pbx_meter = CpuMeter::start(pid);
    let me = CpuMeter::start(pid_self);
    let unpause: Vec<Vec<String>> = (0..AGENTS)
        .map(|i| {
            ["agent", "unpause", &callee_ext(i)]
                .map(String::from)
                .to_vec()
        })
        .collect();
    {
        let mut idle = || e.pump(Duration::from_millis(2));
        run_cli(a, db, &unpause, &mut idle)?;
    }
    let unpause_secs = t0.elapsed().as_secs_f64();
    eprintln!("  turnover: agents unpaused in {unpause_secs:.2} s; {secs:.0} s of calls");
    let end = t0 + Duration::from_secs_f64(secs);
    let mut last_refill = Instant::now();
    while Instant::now() < end {
        e.pump(Duration::from_millis(5));
        if last_refill.elapsed() >= Duration::from_millis(20) {
            refill(e, &mut placed, &mut failed);
            last_refill = Instant::now();
        }
    }
    let tool_cpu = me.percent();
    let pbx_cpu = pbx_meter.percent();
    let stop_ns = crate::rtp::now_ns();
    let log = e.agent_log.take().unwrap_or_default();
    let tool_lag_ms = e.max_due_lag_ms;
    let rung_while_busy = e.rung_while_busy;
    e.agent_plan = AgentPlan::default();
    eprintln!("  turnover: hanging up");
    e.hangup_all(Duration::from_secs(20));
    e.pump(Duration::from_millis(500));

    // Pair every agent's BYE with the next INVITE to that agent.
    let mut by_ext: HashMap<&str, Vec<(u64, AgentEventKind)>> = HashMap::new();
    for ev in &log {
        by_ext
            .entry(ev.ext.as_str())
            .or_default()
            .push((ev.at_ns, ev.kind));
    }
    let mut free_to_ring = Samples::default();
    let mut ok_to_ring = Samples::default();
    let mut unpaired = 0;
    let mut answered_by: Vec<usize> = Vec::new();
    for evs in by_ext.values_mut() {
        evs.sort_by_key(|x| x.0);
        let mut byes = 0;
        for (i, &(t, kind)) in evs.iter().enumerate() {
            if kind != AgentEventKind::ByeSent {
                continue;
            }
            byes += 1;
            let rest = &evs[i + 1..];
            let next = rest.iter().find(|x| x.1 == AgentEventKind::Invite);
            let ok = rest
                .iter()
                .take_while(|x| x.1 != AgentEventKind::Invite)
                .find(|x| x.1 == AgentEventKind::ByeAnswered);
            match next {
                Some(&(r, _)) => {
                    free_to_ring.0.push((r - t) as f64 / 1e6);
                    if let Some(&(o, _)) = ok {
                        ok_to_ring.0.push(r.saturating_sub(o) as f64 / 1e6);
                    }
                }
                // The run ended before the agent was rung again.
                None if t < stop_ns => unpaired += 1,
                None => {}
            }
        }
        answered_by.push(byes);
    }
    answered_by.resize(AGENTS.max(answered_by.len()), 0);
    let answered = answered_by.iter().sum();
    let per_agent = (
        answered_by.iter().copied().min().unwrap_or(0),
        answered_by.iter().copied().max().unwrap_or(0),
    );
    Ok(Turnover {
        secs,
        unpause_secs,
        answered,
        per_agent,
        placed,
        failed,
        rung_while_busy,
        free_to_ring,
        ok_to_ring,
        unpaired,
        tool_lag_ms,
        tool_cpu,
        pbx_cpu,
    })
}
