//! `spygroup security lockouts|history|lift`: the locks against password and PIN
//! guessing on the running server, through its HTTP API (a read token lists them,
//! lifting one needs an admin token and is recorded with it).

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use clap::Subcommand;
use serde_json::Value;

use super::http::{delete, fail, request, segment, token};
use super::live::{addr, ApiArgs};
use super::table;
use crate::timefmt;

#[derive(Debug, Subcommand)]
pub enum SecurityCommand {
    /// The locks in force: sources, extensions, PIN callers, PINs.
    Lockouts {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Every lock on record, newest first, with who lifted it.
    History {
        /// How many [default: 100].
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: Option<u32>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Lift a lock (its ID from `security lockouts`).
    Lift {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub fn run(cmd: SecurityCommand, config_http: Option<SocketAddr>) -> anyhow::Result<()> {
    match cmd {
        SecurityCommand::Lockouts { api } => {
            let locks = get(api, config_http, "/api/v1/security/lockouts")?;
            if locks.is_empty() {
                println!("no lockouts in force");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = locks
                .iter()
                .map(|l| {
                    vec![
                        text(&l["id"]),
                        text(&l["subject"]),
                        when(&l["until"]),
                        text(&l["count"]),
                        text(&l["reason"]),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["ID", "LOCKED", "UNTIL", "IN A ROW", "WHY"], &rows)
            );
            Ok(())
        }
        SecurityCommand::History { limit, api } => {
            let path = format!(
                "/api/v1/security/lockouts/history?limit={}",
                limit.unwrap_or(100)
            );
            let locks = get(api, config_http, &path)?;
            if locks.is_empty() {
                println!("no lockouts on record");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = locks
                .iter()
                .map(|l| {
                    let lifted = match (&l["lifted_at"], &l["lifted_by"]) {
                        (Value::Null, _) => String::new(),
                        (at, by) => format!("{} by {}", when(at), text(by)),
                    };
                    vec![
                        text(&l["id"]),
                        text(&l["subject"]),
                        when(&l["since"]),
                        when(&l["until"]),
                        lifted,
                        text(&l["reason"]),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["ID", "LOCKED", "SINCE", "UNTIL", "LIFTED", "WHY"], &rows)
            );
            Ok(())
        }
        SecurityCommand::Lift { id, api } => {
            let token = token(api.token)?;
            let path = format!("/api/v1/security/lockouts/{}", segment(&id));
            delete(addr(api.http, config_http), &path, &token)?;
            println!("lifted {id}");
            Ok(())
        }
    }
}

fn get(api: ApiArgs, config_http: Option<SocketAddr>, path: &str) -> anyhow::Result<Vec<Value>> {
    let token = token(api.token)?;
    let (status, body) = request(addr(api.http, config_http), "GET", path, Some(&token), None)?;
    if status != 200 {
        return Err(fail(status, &body));
    }
    Ok(body["lockouts"].as_array().cloned().unwrap_or_default())
}

/// A JSON value as a table cell, with no control characters (a subject comes from
/// the network: a hostile one must not forge lines or escapes).
fn text(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn when(v: &Value) -> String {
    v.as_u64().map_or_else(String::new, |ms| {
        timefmt::utc(UNIX_EPOCH + Duration::from_millis(ms))
    })
}
