//! A minimal HTTP/1.1 client for commands that talk to the running server's API
//! (`dialplan reload`, `calls`, `monitor`): one request per connection, JSON bodies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{anyhow, bail};
use serde_json::Value;

/// Sends one request; returns the status and the JSON body (Null when empty).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| {
        anyhow!("cannot reach the server at http://{addr} ({e}); is `spygroup serve` running there? (--http ADDR:PORT)")
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP answer from http://{addr}"))?;
    let body = serde_json::from_str(rest.trim()).unwrap_or(Value::Null);
    Ok((status, body))
}

/// DELETEs `path` with `token`; anything but 204 is the server's error.
pub fn delete(addr: std::net::SocketAddr, path: &str, token: &str) -> anyhow::Result<()> {
    let (status, body) = request(addr, "DELETE", path, Some(token), None)?;
    if status != 204 {
        return Err(fail(status, &body));
    }
    Ok(())
}

/// The error a failed request reports: the server's `error` message.
pub fn fail(status: u16, body: &Value) -> anyhow::Error {
    let msg = body["error"]
        .as_str()
        .unwrap_or("unexpected answer from the server");
    anyhow!("{msg} (HTTP {status})")
}

/// The API token from `--token` or `SPYGROUP_TOKEN`.
pub fn token(flag: Option<String>) -> anyhow::Result<String> {
    match flag.or_else(|| std::env::var("SPYGROUP_TOKEN").ok()) {
        Some(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => bail!("an API token is needed: --token TOKEN or SPYGROUP_TOKEN (make one with `spygroup token create`)"),
    }
}

/// Percent-encodes a path segment (channel names hold `/`).
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
