//! Process and machine figures from /proc.
use std::time::Instant;

/// CPU time (user + system) of a process in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after the command (which may contain spaces) start after the last ')'
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime 15
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((ut + st) / if hz > 0.0 { hz } else { 100.0 })
}

/// Resident set size in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// CPU% of a process between two points (100 = one core).
pub struct CpuMeter {
    pid: u32,
    t0: Instant,
    c0: f64,
}

impl CpuMeter {
    pub fn start(pid: u32) -> CpuMeter {
        CpuMeter {
            pid,
            t0: Instant::now(),
            c0: cpu_seconds(pid).unwrap_or(0.0),
        }
    }
    pub fn percent(&self) -> f64 {
        let c1 = cpu_seconds(self.pid).unwrap_or(self.c0);
        let dt = self.t0.elapsed().as_secs_f64();
        if dt <= 0.0 {
            0.0
        } else {
            100.0 * (c1 - self.c0) / dt
        }
    }
}

pub fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    // The machine's cores, not this process's share: a pinned tool may use one.
    // SAFETY: sysconf has no preconditions.
    let nproc = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    serde_json::json!({
        "nproc": nproc,
        "cpu_model": model,
        "loadavg_at_start": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "kernel": kernel.trim(),
        "memory": mem.split_whitespace().skip(1).collect::<Vec<_>>().join(" "),
    })
}

/// The CPU the PBX (or the minimal relay) runs on with `--pin`; the load tool
/// takes [`TOOL_CPU`]. Per-core capacity then means one core for each.
pub const PBX_CPU: usize = 0;
pub const TOOL_CPU: usize = 1;

/// Restricts the calling thread (and the threads it starts afterwards) to `cpu`.
pub fn pin_to(cpu: usize) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays within it
    // for cpu < CPU_SETSIZE, and sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Makes a child process start on `cpu` only, when `pin` says so.
pub fn pin_child(cmd: &mut std::process::Command, pin: bool, cpu: usize) {
    if pin {
        use std::os::unix::process::CommandExt;
        // SAFETY: runs in the child between fork and exec; pin_to makes one
        // async-signal-safe system call.
        unsafe {
            cmd.pre_exec(move || pin_to(cpu));
        }
    }
}
