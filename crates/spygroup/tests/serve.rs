//! `spygroup serve` as a real process: answers /health, stops cleanly on SIGTERM.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;

/// A port free on both TCP and UDP right now (bound, then released).
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Kills the child if the test fails before it exits on its own.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn serve_answers_health_and_exits_0_on_sigterm() {
    let env = Env::new();
    let sip = free_port();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = env
        .cmd()
        .args(["serve", "--sip", &format!("127.0.0.1:{sip}")])
        .args(["--http", &http.to_string(), "--rtp-ports", "31000-31100"])
        .args(["--db", &env.db])
        // The shipped dialplan: the test runs in a temp dir without config/.
        .args([
            "--dialplan",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/extensions.conf"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Guard(Some(child));

    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        if let Some(r) = get(http, "/health") {
            break r;
        }
        let child = guard.0.as_mut().unwrap();
        assert!(
            child.try_wait().unwrap().is_none(),
            "serve exited before answering"
        );
        assert!(Instant::now() < deadline, "no /health answer within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["registrations"], 0);
    assert_eq!(json["calls"], 0);

    let (status, body) = get(http, "/nope").unwrap();
    assert_eq!(status, 404);
    assert!(body.contains("\"error\""), "{body}");

    let pid = guard.0.as_ref().unwrap().id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let mut child = guard.0.take().unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("serve did not exit within 20 s of SIGTERM; stderr: {err}");
    };
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(err.contains("listening"), "startup line missing: {err}");
    assert!(err.contains(&http.to_string()), "{err}");
    // The database was created on first start.
    assert!(env.path().join("pbx.db").exists());
}

#[test]
fn busy_http_port_fails_the_start() {
    let env = Env::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let http = taken.local_addr().unwrap();
    let o = env
        .cmd()
        .args(["serve", "--sip", &format!("127.0.0.1:{}", free_port())])
        .args(["--http", &http.to_string(), "--db", &env.db])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&http.to_string()) && err.contains("in use"),
        "{err}"
    );
}
