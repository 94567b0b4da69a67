//! The benchmark suite: starts the PBX (or the minimal relay), steps the load up,
//! measures, and writes bench/results/.
use crate::paired;
use crate::proc::{machine, rss_kib, CpuMeter};
use crate::rtp::{self, Kind, Leg, Plan, Stats, KINDS};
use crate::sip::{CallState, Engine, Ports};
use crate::Args;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-secret-1";
const CALLERS: usize = 20;
const LOSS_MAX: f64 = 0.001;
const JITTER_P99_MAX_MS: f64 = 10.0;
/// The tool's own RTP ports (kept away from the e2e tests' 40000-49900).
const TOOL_PORTS: (u16, u16) = (50000, 59999);
const PBX_RTP: &str = "20000-31999";

fn caller_ext(i: usize) -> String {
    format!("{}", 10001 + i % CALLERS)
}
fn callee_ext(i: usize) -> String {
    format!("{}", 20001 + i)
}
fn super_ext(i: usize) -> String {
    format!("{}", 30001 + i)
}

/// What a call under the monitored mix is: of every 20 calls, 5 listened, 2 whispered.
fn monitored_kind(i: usize) -> Kind {
    match i % 20 {
        0..=4 => Kind::Listen,
        5 | 6 => Kind::Whisper,
        _ => Kind::Plain,
    }
}

struct Settings {
    steps: Vec<usize>,
    mini_steps: Vec<usize>,
    plan: Plan,
    ramp_cps: f64,
    setup_rates: Vec<f64>,
    setup_secs: f64,
}

fn settings(a: &Args) -> Settings {
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
            vec![25.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 600.0],
            5.0,
        )
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

// ---- processes ------------------------------------------------------------------
fn free_port() -> Result<u16> {
    for _ in 0..100 {
        let u = UdpSocket::bind("127.0.0.1:0")?;
        let p = u.local_addr()?.port();
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return Ok(p);
        }
    }
    bail!("no free port")
}

struct Pbx {
    child: Child,
    sip: SocketAddr,
}

impl Pbx {
    fn pid(&self) -> u32 {
        self.child.id()
    }
    fn start(a: &Args, work: &Path, db: &Path) -> Result<Pbx> {
        let sip_port = free_port()?;
        let http_port = free_port()?;
        let log = std::fs::File::create(work.join("pbx.log"))?;
        let child = Command::new(&a.spygroup)
            .args([
                "serve",
                "--sip",
                &format!("127.0.0.1:{sip_port}"),
                "--media-ip",
                "127.0.0.1",
            ])
            .args([
                "--rtp-ports",
                PBX_RTP,
                "--http",
                &format!("127.0.0.1:{http_port}"),
            ])
            .arg("--db")
            .arg(format!("sqlite://{}", db.display()))
            .arg("--dialplan")
            .arg(&a.dialplan)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting spygroup serve")?;
        let mut pbx = Pbx {
            child,
            sip: SocketAddr::from(([127, 0, 0, 1], sip_port)),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = pbx.child.try_wait() {
                bail!(
                    "spygroup serve exited early ({st}); see {}",
                    work.join("pbx.log").display()
                );
            }
            if health(http_port) {
                return Ok(pbx);
            }
            if Instant::now() > deadline {
                pbx.stop();
                bail!("spygroup serve not healthy within 20 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    fn stop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn health(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200")
}

/// A database with every extension the scenarios use, made once with the CLI.
fn make_db(a: &Args, path: &Path, callees: usize, supers: usize) -> Result<()> {
    let url = format!("sqlite://{}", path.display());
    let mut exts: Vec<String> = (0..CALLERS).map(caller_ext).collect();
    exts.extend((0..callees).map(callee_ext));
    exts.extend((0..supers).map(super_ext));
    // the first call creates the database; then 4 at a time
    let run = |e: &str| {
        Command::new(&a.spygroup)
            .args(["ext", "add", e, "--secret", SECRET, "--db", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    };
    let st = run(&exts[0])?.wait()?;
    if !st.success() {
        bail!("spygroup ext add failed ({st})");
    }
    let mut queue: Vec<&String> = exts[1..].iter().collect();
    queue.reverse();
    let mut running: Vec<(String, Child, u32)> = Vec::new();
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < 4 {
            let Some(e) = queue.pop() else { break };
            running.push((e.clone(), run(e)?, 0));
        }
        let mut i = 0;
        while i < running.len() {
            if let Some(st) = running[i].1.try_wait()? {
                let (e, _, tries) = running.swap_remove(i);
                if !st.success() {
                    if tries >= 5 {
                        bail!("spygroup ext add {e} failed ({st})");
                    }
                    running.push((e.clone(), run(&e)?, tries + 1));
                }
            } else {
                i += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // The supervisors spy without per-supervisor grants: Asterisk's open policy,
    // so the benchmark measures media, not permission lookups.
    let st = Command::new(&a.spygroup)
        .args(["monitoring", "open", "--db", &url])
        .stdout(Stdio::null())
        .status()?;
    if !st.success() {
        bail!("spygroup monitoring open failed ({st})");
    }
    Ok(())
}

// ---- measurements --------------------------------------------------------------
fn ms(v: Option<f64>) -> Value {
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
                "unstamped": ks.unstamped, "loss_pct": (ks.loss() * 1e5).round() / 1e3,
                "latency_p50_ms": ms(ks.latency.quantile_ms(0.5)),
                "latency_p99_ms": ms(ks.latency.quantile_ms(0.99)),
                "jitter_p99_ms": ms(ks.jitter.quantile_ms(0.99)),
                "arrival_dev_p99_ms": ms(ks.arrival_dev.quantile_ms(0.99)),
            }),
        );
    }
    Value::Object(by)
}

struct StepOut {
    calls: usize,
    pass: bool,
    json: Value,
    cpu: f64,
    rss: Option<u64>,
    stats: Stats,
}

/// Run the RTP measurement on `legs` while the SIP engine keeps answering, and read
/// the CPU% of `pid` over the window.
fn measure_step(
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

fn judge(
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
        "send_errors": stats.send_errors,
        "by_kind": stats_json(stats),
    });
    eprintln!(
        "  {calls:>5} calls: {} loss {:.3}% jitter p99 {:.2} ms latency p99 {:.2} ms cpu {:.1}% rss {} KiB (tool cpu {:.0}%, lag {:.1} ms, setup failures {failed})",
        if pass { "PASS" } else { "FAIL" },
        loss * 100.0,
        jit,
        all.latency.quantile_ms(0.99).unwrap_or(0.0),
        cpu,
        rss.unwrap_or(0),
        tool_cpu,
        stats.max_lag_ms
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

/// Place calls at `cps` (at most `inflight` ringing at once); returns the Call-IDs
/// that were answered and how many failed, after at most `timeout` per call.
pub(crate) fn place(
    e: &mut Engine,
    calls: &[(String, String, Kind)],
    cps: f64,
    inflight: usize,
    timeout: Duration,
) -> (Vec<(usize, String)>, usize) {
    let start = Instant::now();
    let mut next = 0;
    let mut pending: Vec<(usize, String, Instant)> = Vec::new();
    let mut ok = Vec::new();
    let mut failed = 0;
    while next < calls.len() || !pending.is_empty() {
        let due = ((start.elapsed().as_secs_f64() * cps) as usize + 1).min(calls.len());
        while next < due && pending.len() < inflight {
            let (from, to, _) = &calls[next];
            match e.call(from, SECRET, to) {
                Some(id) => pending.push((next, id, Instant::now())),
                None => failed += 1,
            }
            next += 1;
        }
        e.pump(Duration::from_millis(2));
        pending.retain(|(i, id, t)| {
            let st = e.out.get(id).map(|c| c.state);
            match st {
                Some(CallState::Up) => {
                    ok.push((*i, id.clone()));
                    false
                }
                Some(CallState::Calling) if t.elapsed() < timeout => true,
                _ => {
                    failed += 1;
                    false
                }
            }
        });
    }
    (ok, failed)
}

struct Scenario {
    name: &'static str,
    steps: Vec<StepOut>,
    capacity: usize,
    /// Monitoring's cost measured with supervisors on and off in turn (monitored only).
    paired: Option<paired::Paired>,
}

impl Scenario {
    fn json(&self) -> Value {
        json!({
            "capacity_calls": self.capacity,
            // every step passed: the capacity is only a lower bound
            "capped_by_step_list": self.steps.iter().all(|s| s.pass),
            "steps": self.steps.iter().map(|s| s.json.clone()).collect::<Vec<_>>(),
            "paired": self.paired.as_ref().map(|p| p.json.clone()),
        })
    }
    fn cpu_at(&self, n: usize) -> Option<f64> {
        self.steps.iter().find(|s| s.calls == n).map(|s| s.cpu)
    }
}

fn capacity(steps: &[StepOut]) -> usize {
    let mut cap = 0;
    for s in steps {
        if !s.pass {
            break;
        }
        cap = s.calls;
    }
    cap
}

/// Step the PBX's load up. `monitored`: 25% of calls listened, 10% whispered.
fn pbx_capacity(
    a: &Args,
    set: &Settings,
    e: &mut Engine,
    pid: u32,
    monitored: bool,
    t_end: Instant,
) -> Scenario {
    let name = if monitored { "monitored" } else { "relay" };
    eprintln!("== {name}: stepping concurrent calls up");
    let mut legs: Vec<Leg> = Vec::new();
    let mut n_calls = 0usize;
    let mut n_spies = 0usize;
    let mut steps = Vec::new();
    let mut sups = paired::Supervisors {
        listeners: paired::Spies::new(1_000_000),
        whisperers: paired::Spies::new(2_000_000),
    };
    // The paired on/off measurement runs at the largest step up to 400 calls: busy
    // enough to matter, short of saturating the two cores it shares with the tool.
    let paired_at = set.steps.iter().copied().filter(|&n| n <= 400).max();
    let mut paired = None;
    for &target in &set.steps {
        if Instant::now() > t_end {
            eprintln!("  (time budget reached)");
            break;
        }
        let new: Vec<(String, String, Kind)> = (n_calls..target)
            .map(|i| {
                let k = if monitored {
                    monitored_kind(i)
                } else {
                    Kind::Plain
                };
                (caller_ext(i), callee_ext(i), k)
            })
            .collect();
        let (ok, mut failed) = place(e, &new, set.ramp_cps, 200, Duration::from_secs(8));
        let (mut new_listeners, mut new_whisperers) = (Vec::new(), Vec::new());
        for (i, id) in &ok {
            let idx = n_calls + i;
            let kind = new[*i].2;
            let (Some(c), Some(inc_id)) = (
                e.out.get_mut(id),
                e.inc_by_ext.get(&callee_ext(idx)).cloned(),
            ) else {
                failed += 1;
                continue;
            };
            let (Some(s1), Some(r1)) = (c.rtp.take(), c.remote_rtp) else {
                failed += 1;
                continue;
            };
            let Some(inc) = e.inc.get_mut(&inc_id) else {
                failed += 1;
                continue;
            };
            let (Some(s2), Some(r2)) = (inc.rtp.take(), inc.remote_rtp) else {
                failed += 1;
                continue;
            };
            legs.push(Leg::new(s1, r1, kind, (idx * 2) as u32));
            // The agent (callee) is the one whispered to.
            let agent_kind = if kind == Kind::Whisper {
                Kind::WhisperAgent
            } else {
                kind
            };
            legs.push(Leg::new(s2, r2, agent_kind, (idx * 2 + 1) as u32));
            let (group, code) = match kind {
                Kind::Listen => (&mut new_listeners, "5"),
                Kind::Whisper => (&mut new_whisperers, "6"),
                _ => continue,
            };
            group.push((
                super_ext(n_spies),
                format!("{code}{}", callee_ext(idx)),
                Kind::Spy,
            ));
            n_spies += 1;
        }
        n_calls = target;
        failed += sups
            .listeners
            .add(e, new_listeners, &mut legs, set.ramp_cps);
        failed += sups
            .whisperers
            .add(e, new_whisperers, &mut legs, set.ramp_cps);
        let (l, stats, cpu, rss, tool_cpu) = measure_step(legs, a.workers, set.plan, pid, Some(e));
        legs = l;
        let mut out = judge(target, failed, &stats, cpu, rss, tool_cpu);
        if monitored {
            out.json["spies"] = json!(n_spies);
        }
        let pass = out.pass;
        steps.push(out);
        if !pass {
            break;
        }
        if monitored && Some(target) == paired_at {
            let plan = set.plan;
            let workers = a.workers;
            paired = Some(paired::run(
                e,
                &mut sups,
                &mut legs,
                target,
                set.ramp_cps,
                (cpu, tool_cpu),
                a.quick,
                |e, legs| {
                    let (l, _, cpu, _, tool) =
                        measure_step(std::mem::take(legs), workers, plan, pid, Some(e));
                    *legs = l;
                    (cpu, tool)
                },
            ));
        }
    }
    eprintln!("  hanging up");
    e.hangup_all(Duration::from_secs(20));
    drop(legs);
    let capacity = capacity(&steps);
    Scenario {
        name,
        steps,
        capacity,
        paired,
    }
}

fn minimal_capacity(a: &Args, set: &Settings, t_end: Instant) -> Result<Scenario> {
    eprintln!("== minimal relay: stepping concurrent calls up");
    let pairs = *set.mini_steps.last().unwrap_or(&100);
    let mut child = Command::new(&a.minirelay)
        .args(["127.0.0.1", "0", &pairs.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting minirelay")?;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().context("minirelay stdout")?),
        &mut line,
    )?;
    let relay_ports: Vec<u16> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|p| p.parse().ok())
        .collect();
    if relay_ports.len() != pairs * 2 {
        let _ = child.kill();
        let _ = child.wait();
        bail!("minirelay did not start");
    }
    let pid = child.id();
    let mut ports = Ports::new(TOOL_PORTS.0, TOOL_PORTS.1);
    let mut legs = Vec::new();
    let mut steps = Vec::new();
    let mut n = 0;
    for &target in &set.mini_steps {
        if Instant::now() > t_end {
            break;
        }
        let mut failed = 0;
        for k in n..target {
            let (a_port, b_port) = (relay_ports[2 * k], relay_ports[2 * k + 1]);
            match (ports.bind(), ports.bind()) {
                (Ok(s1), Ok(s2)) => {
                    legs.push(Leg::new(
                        s1,
                        SocketAddr::from(([127, 0, 0, 1], a_port)),
                        Kind::Plain,
                        2 * k as u32,
                    ));
                    legs.push(Leg::new(
                        s2,
                        SocketAddr::from(([127, 0, 0, 1], b_port)),
                        Kind::Plain,
                        2 * k as u32 + 1,
                    ));
                }
                _ => failed += 1,
            }
        }
        n = target;
        let (l, stats, cpu, rss, tool_cpu) = measure_step(legs, a.workers, set.plan, pid, None);
        legs = l;
        let out = judge(target, failed, &stats, cpu, rss, tool_cpu);
        let pass = out.pass;
        steps.push(out);
        if !pass {
            break;
        }
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    let capacity = capacity(&steps);
    Ok(Scenario {
        name: "minimal_relay",
        steps,
        capacity,
        paired: None,
    })
}

/// Call set-up rate: calls placed at a fixed rate, held 1 s, hung up; the highest
/// rate with < 1% failures (no answer within 5 s counts as a failure).
fn setup_rate(
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

fn rss_slope(steps: &[StepOut]) -> Option<f64> {
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

fn want(a: &Args, part: &str) -> bool {
    a.only.is_empty() || a.only.iter().any(|p| p == part)
}

fn round(v: Option<f64>, digits: i32) -> Value {
    let f = 10f64.powi(digits);
    v.map(|x| json!((x * f).round() / f)).unwrap_or(Value::Null)
}

pub fn run(a: &Args) -> Result<()> {
    let t0 = Instant::now();
    let t_end = t0 + Duration::from_secs_f64(a.budget);
    let set = settings(a);
    let mach = machine();
    eprintln!(
        "spyload suite ({}) on {mach}",
        if a.quick { "quick" } else { "full" }
    );
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let work = std::env::temp_dir().join(format!("spyload-{}-{started}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let max_calls = *set.steps.last().unwrap_or(&100);
    let supers = (0..max_calls)
        .filter(|&i| matches!(monitored_kind(i), Kind::Listen | Kind::Whisper))
        .count();
    let template = work.join("template.db");
    let need_pbx = want(a, "relay") || want(a, "setup") || want(a, "monitor");
    if need_pbx {
        eprintln!(
            "creating {} extensions with `spygroup ext add`",
            CALLERS + max_calls + supers
        );
        make_db(a, &template, max_calls, supers)?;
        eprintln!("  done in {:.1} s", t0.elapsed().as_secs_f64());
    }
    let callees: Vec<(String, String)> = (0..max_calls)
        .map(|i| (callee_ext(i), SECRET.to_string()))
        .collect();
    let mut results = serde_json::Map::new();
    let mut relay: Option<Scenario> = None;
    let mut monitored: Option<Scenario> = None;
    let mut mini: Option<Scenario> = None;
    let mut setup_cps: Option<f64> = None;
    let mut setup_unqueued: Option<f64> = None;
    let mut mix_latency: (Option<f64>, Option<f64>) = (None, None);
    let mut listen_latency: (Option<f64>, Option<f64>) = (None, None);

    if want(a, "relay") || want(a, "setup") {
        let db = work.join("relay.db");
        std::fs::copy(&template, &db)?;
        let mut pbx = Pbx::start(a, &work, &db)?;
        let r = (|| -> Result<()> {
            let mut e = Engine::new(pbx.sip, Ports::new(TOOL_PORTS.0, TOOL_PORTS.1))?;
            let ok = e.register_all(&callees, 100);
            eprintln!("registered {ok}/{} callees", callees.len());
            if want(a, "relay") {
                let s = pbx_capacity(a, &set, &mut e, pbx.pid(), false, t_end);
                relay = Some(s);
            }
            if want(a, "setup") {
                let (best, unqueued, steps) = setup_rate(&set, &mut e, pbx.pid(), ok.max(1), t_end);
                setup_cps = Some(best);
                setup_unqueued = Some(unqueued);
                results.insert(
                    "setup".into(),
                    json!({ "setup_cps": best, "setup_cps_p99_under_100ms": unqueued, "steps": steps }),
                );
            }
            Ok(())
        })();
        pbx.stop();
        r?;
    }
    if want(a, "monitor") {
        let db = work.join("monitor.db");
        std::fs::copy(&template, &db)?;
        let mut pbx = Pbx::start(a, &work, &db)?;
        let r = (|| -> Result<()> {
            let mut e = Engine::new(pbx.sip, Ports::new(TOOL_PORTS.0, TOOL_PORTS.1))?;
            let ok = e.register_all(&callees, 100);
            eprintln!("registered {ok}/{} callees", callees.len());
            let s = pbx_capacity(a, &set, &mut e, pbx.pid(), true, t_end);
            if let Some(first) = s.steps.first() {
                // The whispered-to agent hears decode -> mix -> encode; listened-to
                // calls are still forwarded packet by packet (only the spy gets a mix).
                let q = |k: Kind| {
                    let l = &first.stats.kinds[k as usize].latency;
                    (l.quantile_ms(0.5), l.quantile_ms(0.99))
                };
                mix_latency = q(Kind::WhisperAgent);
                listen_latency = q(Kind::Listen);
            }
            monitored = Some(s);
            Ok(())
        })();
        pbx.stop();
        r?;
    }
    if want(a, "mini") {
        mini = Some(minimal_capacity(a, &set, t_end)?);
    }

    // ---- summary ---------------------------------------------------------------------
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
        "relay_latency_p50_ms": round(relay_p50, 3),
        "relay_latency_p99_ms": round(relay_p99, 3),
        "mix_latency_p50_ms": round(mix_latency.0, 3),
        "mix_latency_p99_ms": round(mix_latency.1, 3),
        "listen_latency_p50_ms": round(listen_latency.0, 3),
        "listen_latency_p99_ms": round(listen_latency.1, 3),
        "rss_per_call_kib": round(rss_per_call, 1),
    });
    let stamp = utc_stamp(started);
    let full = json!({
        "timestamp": stamp,
        "mode": if a.quick { "quick" } else { "full" },
        "machine": mach,
        "note": "load generator, PBX and relay share this machine's cores with whatever else runs on it; \
                 see loadavg_at_start",
        "criteria": { "loss_max_pct": LOSS_MAX * 100.0, "jitter_p99_max_ms": JITTER_P99_MAX_MS,
                      "window_s": set.plan.window.as_secs_f64(), "warmup_s": set.plan.warmup.as_secs_f64(),
                      "tool_rtp_workers": a.workers },
        "summary": latest,
        "relay": relay.as_ref().map(|s| s.json()),
        "monitored": monitored.as_ref().map(|s| s.json()),
        "minimal_relay": mini.as_ref().map(|s| s.json()),
        "setup": results.get("setup").cloned(),
        "duration_s": (t0.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    });
    let md = markdown(&full, [&relay, &monitored, &mini]);
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
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn utc_stamp(secs: u64) -> String {
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

fn markdown(full: &Value, scen: [&Option<Scenario>; 3]) -> String {
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
        s += &format!("\n## {} (capacity {} calls)\n\n", sc.name, sc.capacity);
        s += "| calls | pass | loss % | jitter p99 ms | latency p50 / p99 ms | CPU % | CPU %/call | RSS KiB | tool CPU % | setup failures |\n";
        s += "|---|---|---|---|---|---|---|---|---|---|\n";
        for st in &sc.steps {
            let j = &st.json;
            s += &format!(
                "| {} | {} | {} | {} | {} / {} | {} | {} | {} | {} | {} |\n",
                j["calls"],
                j["pass"],
                j["loss_pct"],
                j["jitter_p99_ms"],
                j["latency_p50_ms"],
                j["latency_p99_ms"],
                j["cpu_pct"],
                j["cpu_pct_per_call"],
                j["rss_kib"],
                j["tool_cpu_pct"],
                j["setup_failures"]
            );
        }
    }
    if let Some(steps) = full["setup"]["steps"].as_array() {
        s += &format!(
            "\n## Call setup rate (best {} cps with < 1% failures)\n\n",
            full["setup"]["setup_cps"]
        );
        s += "| cps | calls | failures | setup p50 ms | setup p99 ms | PBX CPU % |\n|---|---|---|---|---|---|\n";
        for j in steps {
            s += &format!(
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
    s
}
