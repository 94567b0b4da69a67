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
/// Agents unpaused one at a time (400 ms apart) before the rest all at once.
const SINGLE_UNPAUSES: usize = 5;

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
    .map(drop)
}

/// Runs `spygroup <cmd> --db url` for each command, four at a time (retrying a
/// failure up to 5 times: SQLite may be busy with the server's writes), calling
/// `idle` between polls so a running engine keeps answering. Returns when each
/// command was seen done (tool clock, [`crate::rtp::now_ns`]), in order.
fn run_cli(a: &Args, url: &str, cmds: &[Vec<String>], idle: &mut dyn FnMut()) -> Result<Vec<u64>> {
    let start = |c: &[String]| -> Result<Child> {
        Ok(Command::new(&a.spygroup)
            .args(c)
            .args(["--db", url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?)
    };
    let mut done = vec![0u64; cmds.len()];
    let mut queue: Vec<(usize, &Vec<String>)> = cmds.iter().enumerate().rev().collect();
    let mut running: Vec<(usize, &Vec<String>, Child, u32)> = Vec::new();
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < 4 {
            let Some((k, c)) = queue.pop() else { break };
            running.push((k, c, start(c)?, 0));
        }
        let mut i = 0;
        while i < running.len() {
            if let Some(st) = running[i].2.try_wait()? {
                let (k, c, _, tries) = running.swap_remove(i);
                if st.success() {
                    done[k] = crate::rtp::now_ns();
                } else {
                    if tries >= 5 {
                        bail!("spygroup {} failed ({st})", c.join(" "));
                    }
                    running.push((k, c, start(c)?, tries + 1));
                }
            } else {
                i += 1;
            }
        }
        idle();
    }
    Ok(done)
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
    // Rounds of idle / relayed / waiting windows, the order of the last two
    // alternating: on a shared machine a drift or a neighbour's burst lands on
    // both kinds instead of one (the last round ends with the waiting callers,
    // who stay for the turnover).
    let rounds = if a.quick { 2 } else { 3 };
    eprintln!(
        "== queue: {WAITING} callers waiting in queue {QUEUE} ({STRATEGY}), {AGENTS} agents; \
         {rounds} rounds of idle / relayed / waiting windows of {win} s"
    );
    let (mut idle_w, mut relay_w, mut wait_w) = (Vec::new(), Vec::new(), Vec::new());
    let mut relay_steps = Vec::new();
    let mut waiting = None;
    // The tool's worst timer-wheel lag over every window.
    let mut windows_lag = 0f64;
    for r in 0..rounds {
        let idle = idle_cpu(e, pid, plan);
        eprintln!("  idle ({AGENTS} agents registered, paused): cpu {idle:.2}%");
        idle_w.push(idle);
        let relay_first = (rounds - 1 - r) % 2 == 0;
        for part in [relay_first, !relay_first] {
            if part {
                let step = relay_window(a, set, e, pid, plan);
                relay_w.push(step.cpu);
                windows_lag = windows_lag.max(step.stats.max_lag_ms);
                relay_steps.push(step.json);
            } else {
                let w = waiting_window(a, set, e, pbx, plan);
                wait_w.push(w.cpu);
                windows_lag = windows_lag.max(w.tool_lag_ms);
                if r + 1 < rounds {
                    e.hangup_all(Duration::from_secs(20));
                    e.pump(Duration::from_secs(1));
                }
                waiting = Some(w);
            }
        }
    }
    let w = waiting.expect("at least one round");
    let n_waiting = w.callers;
    let moh = &w.moh;

    // 4. turnover: unpause, agents answer, talk and hang up; refill the queue
    let turn = turnover(a, e, pid, db, if a.quick { 15.0 } else { 30.0 })?;
    // The first waiting callers have left by now (answered or hung up).
    drop(w.legs);
    let (idle, relay_cpu, wait_cpu) = (mean(&idle_w), mean(&relay_w), mean(&wait_w));
    let per_wait = (wait_cpu - idle) / n_waiting.max(1) as f64;
    let per_relay = (relay_cpu - idle) / AGENTS as f64;
    let ratio = (per_relay > 0.0).then(|| per_wait / per_relay);
    eprintln!(
        "  cpu per waiting caller {per_wait:.4}%, per relayed call {per_relay:.4}% (means of {rounds} windows each, idle {idle:.2}% subtracted): ratio {}",
        ratio.map_or("n/a".into(), |r| format!("{r:.3}"))
    );
    eprintln!(
        "  agent free -> ringing (BYE sent -> next INVITE): p50 {} ms p99 {} ms max {} ms over {} hang-ups \
         (from the PBX's 200 for the BYE: p50 {} p99 {}); tool lag max {:.1} ms (windows: {windows_lag:.1} ms)",
        turn.free_to_ring.p(0.5),
        turn.free_to_ring.p(0.99),
        turn.free_to_ring.p(1.0),
        turn.free_to_ring.n(),
        turn.ok_to_ring.p(0.5),
        turn.ok_to_ring.p(0.99),
        turn.tool_lag_ms
    );
    eprintln!(
        "  unpaused -> first ringing: alone {:?} ms; all at once p50 {} ms max {} ms ({} agents); turnover {:.1} answered calls/s at cpu {:.1}%",
        turn.single_unpause_to_ring.0.iter().map(|v| (v * 10.0).round() / 10.0).collect::<Vec<_>>(),
        turn.unpause_to_ring.p(0.5),
        turn.unpause_to_ring.p(1.0),
        turn.unpause_to_ring.n(),
        turn.answered as f64 / turn.secs,
        turn.pbx_cpu
    );
    let mut out = json!({
        "queue": QUEUE,
        "strategy": STRATEGY,
        "queue_timeout_s": 15, "queue_retry_s": 1, "wrapuptime_s": 0,
        "pinned": a.pin,
        "window_s": win,
        "rounds": rounds,
        "idle_cpu_pct": pct(idle, 2),
        "idle_cpu_pct_windows": idle_w.iter().map(|&c| pct(c, 2)).collect::<Vec<_>>(),
        "queue_waiting_callers": n_waiting,
        "queue_waiting_setup_failures": w.failed,
        "queue_live_calls_at_waiting": w.live,
        "queue_waiting_cpu_pct": pct(wait_cpu, 2),
        "queue_waiting_cpu_pct_windows": wait_w.iter().map(|&c| pct(c, 2)).collect::<Vec<_>>(),
        "queue_waiting_rss_kib": w.rss,
        "queue_waiting_tool_cpu_pct": pct(w.tool_cpu, 1),
        "queue_waiting_tool_max_lag_ms": pct(w.tool_lag_ms, 2),
        "queue_windows_tool_max_lag_ms": pct(windows_lag, 2),
        "queue_moh_packets_received": moh.packets,
        "queue_moh_packets_unstamped": moh.unstamped,
        "queue_moh_packets_audible": moh.audible,
        "queue_moh_packets_per_caller_per_s": pct(moh.per_caller_per_s, 2),
        "queue_moh_callers_without_music": moh.silent,
    });
    let more = json!({
        "queue_relayed_calls": AGENTS,
        "queue_relayed_cpu_pct": pct(relay_cpu, 2),
        "queue_relayed_cpu_pct_windows": relay_w.iter().map(|&c| pct(c, 2)).collect::<Vec<_>>(),
        "queue_relayed_steps": relay_steps,
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
        "queue_unpause_to_ring_p50_ms": turn.unpause_to_ring.p(0.5),
        "queue_unpause_to_ring_max_ms": turn.unpause_to_ring.p(1.0),
        "queue_unpause_to_ring_samples": turn.unpause_to_ring.n(),
        "queue_single_unpause_to_ring_ms": turn.single_unpause_to_ring.0.iter().map(|&v| ms(Some(v))).collect::<Vec<_>>(),
        "queue_turnover_calls_per_s": pct(turn.answered as f64 / turn.secs, 1),
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

/// 100 plain calls caller -> agent (`Dial`), G.711 both ways, measured over one
/// window and hung up.
fn relay_window(
    a: &Args,
    set: &Settings,
    e: &mut Engine,
    pid: u32,
    plan: Plan,
) -> super::measure::StepOut {
    let (legs, failed) = crate::calls::plain_calls(e, AGENTS, set.ramp_cps);
    eprint!("  relayed reference:");
    let (legs, stats, cpu, rss, tool_cpu) = measure_step(legs, a.workers, plan, pid, Some(e));
    let step = judge(AGENTS, failed, &stats, cpu, rss, tool_cpu);
    e.hangup_all(Duration::from_secs(20));
    drop(legs);
    e.pump(Duration::from_secs(1));
    step
}

/// One waiting window: what the 200 callers in the queue cost and received.
struct WaitingWindow {
    callers: usize,
    failed: usize,
    live: Option<u64>,
    cpu: f64,
    rss: Option<u64>,
    tool_cpu: f64,
    tool_lag_ms: f64,
    moh: Music,
    /// The callers' RTP sockets: they stay open while the callers wait on.
    legs: Vec<Leg>,
}

/// 200 callers into the queue (answered at once by `Queue()`, music on hold),
/// each sending G.711 as a phone does; measured over one window, left waiting.
fn waiting_window(
    a: &Args,
    set: &Settings,
    e: &mut Engine,
    pbx: &Pbx,
    plan: Plan,
) -> WaitingWindow {
    let calls: Vec<(String, String, Kind)> = (0..WAITING)
        .map(|i| (caller_ext(i), QUEUE.to_string(), Kind::Plain))
        .collect();
    let (ok, mut failed) = place(e, &calls, set.ramp_cps, 200, Duration::from_secs(8));
    let mut legs = Vec::new();
    for (i, id) in &ok {
        match e.out.get_mut(id).map(|c| (c.rtp.take(), c.remote_rtp)) {
            Some((Some(s), Some(r))) => {
                legs.push(Leg::new(s, r, Kind::Plain, 1_000_000 + *i as u32))
            }
            _ => failed += 1,
        }
    }
    let live = pbx.live_calls();
    let (legs, st, cpu, rss, tool_cpu) = measure_step(legs, a.workers, plan, pbx.pid(), Some(e));
    let moh = music_flow(&st, legs.len(), plan);
    eprintln!(
        "  {} waiting callers: cpu {cpu:.1}% (tool cpu {tool_cpu:.0}%, lag {:.1} ms, set-up failures {failed}); \
         music: {:.1} packets/s per caller received, {:.1}% not silence ({} callers received none)",
        legs.len(),
        st.max_lag_ms,
        moh.per_caller_per_s,
        100.0 * moh.audible as f64 / moh.unstamped.max(1) as f64,
        moh.silent
    );
    WaitingWindow {
        callers: legs.len(),
        failed,
        live,
        cpu,
        rss,
        tool_cpu,
        tool_lag_ms: st.max_lag_ms,
        moh,
        legs,
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// What the waiting callers received (the PBX's music: nothing else sends to them).
struct Music {
    packets: u64,
    /// Received in the window without a stamp (the music), and of those, the ones
    /// that are not silence.
    unstamped: u64,
    audible: u64,
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
        unstamped: k.unstamped,
        audible: k.audible,
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
    unpause_to_ring: Samples,
    single_unpause_to_ring: Samples,
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
    // A few agents unpaused alone first, each REFRESH_GAP-plus apart: how long one
    // database change takes to reach the floor when nothing else is changing.
    let mut single = Samples::default();
    for (i, cmd) in unpause.iter().enumerate().take(SINGLE_UNPAUSES) {
        let done = {
            let mut idle = || e.pump(Duration::from_millis(1));
            run_cli(a, db, std::slice::from_ref(cmd), &mut idle)?[0]
        };
        let ext = callee_ext(i);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            e.pump(Duration::from_millis(1));
            let rung = e.agent_log.as_ref().and_then(|log| {
                log.iter()
                    .find(|ev| ev.ext == ext && ev.kind == AgentEventKind::Invite)
                    .map(|ev| ev.at_ns)
            });
            if let Some(r) = rung {
                single.0.push(r.saturating_sub(done) as f64 / 1e6);
                break;
            }
        }
        let pause_end = Instant::now() + Duration::from_millis(400);
        while Instant::now() < pause_end {
            e.pump(Duration::from_millis(5));
            refill(e, &mut placed, &mut failed);
        }
    }
    let unpaused = {
        let mut idle = || e.pump(Duration::from_millis(2));
        run_cli(a, db, &unpause[SINGLE_UNPAUSES..], &mut idle)?
    };
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
    // The database's change reaching the floor: from the `agent unpause` command's
    // exit to that agent's first INVITE.
    let mut unpause_to_ring = Samples::default();
    for (i, &t) in unpaused.iter().enumerate() {
        let first = by_ext
            .get(callee_ext(SINGLE_UNPAUSES + i).as_str())
            .and_then(|evs| evs.iter().find(|x| x.1 == AgentEventKind::Invite));
        if let Some(&(r, _)) = first {
            unpause_to_ring.0.push(r.saturating_sub(t) as f64 / 1e6);
        }
    }
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
        unpause_to_ring,
        single_unpause_to_ring: single,
        unpaired,
        tool_lag_ms,
        tool_cpu,
        pbx_cpu,
    })
}
