//! The capacity scenarios: step the concurrent calls up until a step fails, through
//! the PBX (plain calls, or the monitored mix with its supervisors) or through the
//! minimal relay that sets the bar.

use super::measure::{judge, measure_step, StepOut};
use super::settings::{Settings, RTP_POOL, TOOL_PORTS};
use crate::calls::{callee_ext, caller_ext, place, super_ext, Mix};
use crate::paired;
use crate::rtp::{Kind, Leg, RtpPool};
use crate::sip::{Engine, Ports};
use crate::Args;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Scenario {
    pub name: &'static str,
    pub steps: Vec<StepOut>,
    pub capacity: usize,
    /// Monitoring's cost measured with supervisors on and off in turn (monitored only).
    pub paired: Option<paired::Paired>,
}

impl Scenario {
    pub fn json(&self) -> Value {
        json!({
            "capacity_calls": self.capacity,
            // every step passed: the capacity is only a lower bound
            "capped_by_step_list": self.steps.iter().all(|s| s.pass),
            "steps": self.steps.iter().map(|s| s.json.clone()).collect::<Vec<_>>(),
            "paired": self.paired.as_ref().map(|p| p.json.clone()),
        })
    }
    pub fn cpu_at(&self, n: usize) -> Option<f64> {
        self.steps.iter().find(|s| s.calls == n).map(|s| s.cpu)
    }

    /// The process's CPU% at the first failing step: how full the core was when
    /// the relay stopped keeping up (None when every step passed).
    pub fn knee_cpu_pct(&self) -> Option<f64> {
        self.steps.iter().find(|s| !s.pass).map(|s| s.cpu)
    }

    /// The first step whose one-way latency p99 (plain calls) is above `ms`: where
    /// packets start to wait, long before loss or jitter fail a step.
    pub fn latency_p99_over(&self, ms: f64) -> Option<usize> {
        self.steps
            .iter()
            .find(|s| {
                s.stats.kinds[Kind::Plain as usize]
                    .latency
                    .quantile_ms(0.99)
                    .is_some_and(|p| p > ms)
            })
            .map(|s| s.calls)
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

/// Step the PBX's load up, with supervisors on the calls `mix` says.
pub fn pbx_capacity(
    a: &Args,
    set: &Settings,
    e: &mut Engine,
    pid: u32,
    mix: Mix,
    t_end: Instant,
) -> Scenario {
    let name = mix.name();
    let monitored = mix != Mix::Plain;
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
            .map(|i| (caller_ext(i), callee_ext(i), mix.kind(i)))
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
        if mix == Mix::Monitored && Some(target) == paired_at {
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

pub fn minimal_capacity(a: &Args, set: &Settings, t_end: Instant) -> Result<Scenario> {
    eprintln!("== minimal relay: stepping concurrent calls up");
    let pairs = *set.mini_steps.last().unwrap_or(&100);
    let mut cmd = Command::new(&a.minirelay);
    crate::proc::pin_child(&mut cmd, a.pin, crate::proc::PBX_CPU);
    let mut child = cmd
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
    let mut pool = RtpPool::new(RTP_POOL, || ports.bind())?;
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
            match (pool.next(), pool.next()) {
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
