//! The soak: many short calls through one server, every fourth one listened to by
//! a supervisor (`5<agent>`, ChanSpy), with the PBX's memory, open files and
//! sockets sampled as they go. A leak (a bridge never closed, a channel task that
//! never ends, an RTP port pair never given back) shows as growth, a socket count
//! that does not come back down, or `/health` still counting calls at the end.

use super::pbx::Pbx;
use crate::calls::{callee_ext, super_ext, SECRET};
use crate::proc::rss_kib;
use crate::sip::{CallState, Engine};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Open file descriptors of a process, and how many of them are sockets.
fn fds(pid: u32) -> (usize, usize) {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return (0, 0);
    };
    let mut all = 0;
    let mut sockets = 0;
    for e in dir.flatten() {
        all += 1;
        if std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:")) {
            sockets += 1;
        }
    }
    (all, sockets)
}

/// What one of the tool's calls is in the soak.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A call to an agent; `spied`: it has had (or needs no) supervisor.
    Call { agent: usize, spied: bool },
    /// A supervisor listening to an agent's call.
    Supervisor,
}

#[derive(Clone, Copy)]
struct Sample {
    calls: usize,
    rss_kib: u64,
    fds: usize,
    sockets: usize,
}

impl Sample {
    fn take(pid: u32, calls: usize) -> Sample {
        let (fds, sockets) = fds(pid);
        Sample {
            calls,
            rss_kib: rss_kib(pid).unwrap_or(0),
            fds,
            sockets,
        }
    }

    fn json(&self) -> Value {
        json!({"calls": self.calls, "rss_kib": self.rss_kib, "fds": self.fds, "sockets": self.sockets})
    }
}

/// `total` calls at `cps`, each held 2 s; one in `spy_every` gets a listening
/// supervisor for half of it. Samples every `total / 10` calls, and once all have ended.
pub fn soak(
    pbx: &Pbx,
    e: &mut Engine,
    (callees, supers): (usize, usize),
    total: usize,
    (cps, spy_every): (f64, usize),
    t_end: Instant,
) -> Value {
    eprintln!("== soak: {total} calls at {cps} cps, held 2 s, every 4th listened to");
    let pid = pbx.pid();
    let hold = Duration::from_secs(2);
    let timeout = Duration::from_secs(8);
    let every = (total / 10).max(1);
    let before = Sample::take(pid, 0);
    let mut samples = vec![before];
    let start = Instant::now();
    let (mut started, mut done, mut failed, mut spies, mut spy_failed) = (0, 0, 0, 0, 0);
    // (call id, when placed, what it is)
    let mut active: Vec<(String, Instant, Role)> = Vec::new();
    let mut next_sample = every;
    let mut stopped_early = false;
    while started < total || !active.is_empty() {
        if Instant::now() > t_end && started < total {
            eprintln!("  (time budget reached after {started} calls)");
            stopped_early = true;
            break;
        }
        let due = ((start.elapsed().as_secs_f64() * cps) as usize + 1).min(total);
        while started < due {
            let from = crate::calls::caller_ext(started);
            let agent = started % callees;
            match e.call(&from, SECRET, &callee_ext(agent)) {
                Some(id) => active.push((
                    id,
                    Instant::now(),
                    Role::Call {
                        agent,
                        spied: spy_every == 0 || started % spy_every != 0,
                    },
                )),
                None => failed += 1,
            }
            started += 1;
        }
        e.pump(Duration::from_millis(2));
        let mut bye = Vec::new();
        let mut spy_on = Vec::new();
        active.retain_mut(|(id, t, role)| {
            let Some(c) = e.out.get_mut(id.as_str()) else {
                done += 1;
                return false;
            };
            let spy = *role == Role::Supervisor;
            match c.state {
                CallState::Calling if t.elapsed() > timeout => {
                    c.state = CallState::Failed(408);
                    if spy {
                        spy_failed += 1;
                    } else {
                        failed += 1;
                    }
                    false
                }
                CallState::Calling => true,
                CallState::Up => {
                    c.rtp = None;
                    if let Role::Call {
                        agent,
                        spied: false,
                    } = *role
                    {
                        spy_on.push(agent);
                        *role = Role::Call { agent, spied: true };
                    }
                    // A supervisor's call lasts half as long as the call it spies on.
                    let held = if spy { hold / 2 } else { hold };
                    if t.elapsed() > held {
                        bye.push(id.clone());
                        return false;
                    }
                    true
                }
                CallState::Failed(_) => {
                    if spy {
                        spy_failed += 1;
                    } else {
                        failed += 1;
                    }
                    false
                }
                _ => {
                    done += 1;
                    false
                }
            }
        });
        // Every fourth call gets a supervisor once it is answered.
        for agent in spy_on {
            let sup = super_ext(spies % supers.max(1));
            match e.call(&sup, SECRET, &format!("5{}", callee_ext(agent))) {
                Some(sid) => active.push((sid, Instant::now(), Role::Supervisor)),
                None => spy_failed += 1,
            }
            spies += 1;
        }
        for id in bye {
            e.hangup(&id);
        }
        e.forget_finished();
        if started >= next_sample {
            next_sample += every;
            let s = Sample::take(pid, started);
            eprintln!(
                "  {:>6} calls: RSS {} KiB, {} fds ({} sockets), {} failed, {} supervisors",
                s.calls, s.rss_kib, s.fds, s.sockets, failed, spies
            );
            samples.push(s);
        }
        if start.elapsed() > Duration::from_secs_f64(total as f64 / cps) + Duration::from_secs(60) {
            failed += active.len();
            break;
        }
    }
    // Let the last BYEs finish and the PBX close the last bridges.
    e.hangup_all(Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(3));
    let after = Sample::take(pid, started);
    let live_calls = pbx.live_calls();
    samples.push(after);
    // Growth from the sample at 30% of the calls to the end. Before that the PBX
    // is still filling what it keeps for a while after each call by design: the
    // transactions of the last 32 s (RFC 3261 Timers J, K, M and RFC 6026), ended
    // dialogs (to answer their stray retransmissions), RTP ports in quarantine;
    // at 50 calls a second that is some 1,600 calls' worth, which stops growing
    // after about 40 s. A leak goes on growing after that.
    let warm = samples.get(3).copied().unwrap_or(before);
    let rss_growth = after.rss_kib as i64 - warm.rss_kib as i64;
    let leaked_sockets = after.sockets as i64 - before.sockets as i64;
    eprintln!(
        "  end: RSS {} KiB ({rss_growth:+} KiB since {} calls), {} fds, {} sockets ({leaked_sockets:+} since the start), {} calls still live, {failed}/{started} calls and {spy_failed}/{spies} supervisors failed",
        after.rss_kib,
        warm.calls,
        after.fds,
        after.sockets,
        live_calls.map_or("?".to_string(), |n| n.to_string())
    );
    json!({
        "calls": started, "cps": cps, "failed": failed, "supervisors": spies,
        "supervisors_failed": spy_failed, "stopped_early": stopped_early,
        "rss_growth_kib_after_warmup": rss_growth, "sockets_left_over": leaked_sockets,
        "fds_start": before.fds, "fds_end": after.fds, "live_calls_at_end": live_calls,
        "completed": done,
        "samples": samples.iter().map(Sample::json).collect::<Vec<_>>(),
    })
}
