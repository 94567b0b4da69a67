//! The PBX under test, as a child process: started on free ports and waited for
//! until `/health` answers, stopped with SIGTERM; and the database it runs on, made
//! once with the CLI and copied for each scenario.

use crate::calls::{callee_ext, caller_ext, super_ext, CALLERS, SECRET};
use crate::Args;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// 5000 calls' worth (4 ports a call): a pinned run steps past 3000 (the e2e
/// tests use 40000 up, the tool 50000 up).
const PBX_RTP: &str = "20000-39999";

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

pub struct Pbx {
    child: Child,
    pub sip: SocketAddr,
    http_port: u16,
}

impl Pbx {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// `db` is a database URL (`sqlite://…` or `postgres://…`).
    pub fn start(a: &Args, work: &Path, db: &str) -> Result<Pbx> {
        Pbx::start_with(a, work, db, &[])
    }

    /// `start`, with more arguments for `spygroup serve` (e.g. `--max-calls`).
    pub fn start_with(a: &Args, work: &Path, db: &str, extra: &[String]) -> Result<Pbx> {
        let sip_port = free_port()?;
        let http_port = free_port()?;
        let log = std::fs::File::create(work.join("pbx.log"))?;
        let mut cmd = Command::new(&a.spygroup);
        crate::proc::pin_child(&mut cmd, a.pin, crate::proc::PBX_CPU);
        let child = cmd
            .args([
                "serve",
                "--sip",
                &format!("127.0.0.1:{sip_port}"),
                "--media-ip",
                "127.0.0.1",
            ])
            .args([
                // The load comes from one address at thousands of requests a second.
                "--sip-rate-limit",
                "0",
                "--rtp-ports",
                PBX_RTP,
                "--http",
                &format!("127.0.0.1:{http_port}"),
            ])
            .arg("--db")
            .arg(db)
            .arg("--dialplan")
            .arg(&a.dialplan)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting spygroup serve")?;
        let mut pbx = Pbx {
            child,
            sip: SocketAddr::from(([127, 0, 0, 1], sip_port)),
            http_port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = pbx.child.try_wait() {
                bail!(
                    "spygroup serve exited early ({st}); see {}",
                    work.join("pbx.log").display()
                );
            }
            if health(http_port).is_some() {
                return Ok(pbx);
            }
            if Instant::now() > deadline {
                pbx.stop();
                bail!("spygroup serve not healthy within 20 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    /// Waits (bounded) until the PBX's write-behind queue is empty: registrations
    /// are written behind, and a measurement should not overlap that burst.
    pub fn wait_writes_settled(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let queued = health(self.http_port).and_then(|body| {
                let start = body.find("\r\n\r\n")? + 4;
                let v: serde_json::Value = serde_json::from_str(&body[start..]).ok()?;
                // A PBX without a write-behind queue (an older build) wrote inline.
                Some(
                    v.get("database")
                        .map_or(Some(0), |d| d["queued_writes"].as_u64()),
                )
            });
            if queued == Some(Some(0)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Calls the PBX counts now (`/health`), if it answers.
    pub fn live_calls(&self) -> Option<u64> {
        let body = health(self.http_port)?;
        let start = body.find("\r\n\r\n")? + 4;
        let v: serde_json::Value = serde_json::from_str(&body[start..]).ok()?;
        v["calls"].as_u64()
    }

    pub fn stop(&mut self) {
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

/// The whole `/health` answer (headers and body) when it is a 200.
fn health(port: u16) -> Option<String> {
    let mut s = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    (buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200")).then_some(buf)
}

/// A database with every extension the scenarios use, made once with the CLI
/// (`url`: `sqlite://…` or `postgres://…`).
pub fn make_db(a: &Args, url: &str, callees: usize, supers: usize) -> Result<()> {
    let url = url.to_string();
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
