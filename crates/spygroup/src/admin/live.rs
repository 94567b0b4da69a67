//! `spygroup calls` and `spygroup monitor start|mode|stop`: the running server's live
//! calls and click-to-spy, through its HTTP API (a token is needed).

use std::net::SocketAddr;

use clap::{Args, Subcommand};
use serde_json::json;

use super::http::{delete, fail, request, segment, token};

/// Where the server is and who we are.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The server's HTTP address [default: the config's `http`, else 127.0.0.1:8088].
    #[arg(long, value_name = "ADDR:PORT")]
    pub http: Option<SocketAddr>,
    /// API token [default: $SPYGROUP_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Ring SUPERVISOR's phone and, on answer, monitor the call of CHANNEL.
    Start {
        /// The call's id, first on its line in `spygroup calls` (or one of its
        /// channels, SIP/110-0000001a: that party is the one spied on).
        call: String,
        #[arg(long)]
        supervisor: String,
        #[arg(long, default_value = "listen", value_parser = ["listen", "whisper", "barge", "takeover"])]
        mode: String,
        /// When the call is transferred: none (the monitor ends with the channel),
        /// agent (stays with the extension, moves to its next call) or client
        /// (stays with the party the channel talks to).
        #[arg(long, default_value = "none", value_parser = ["none", "agent", "client"])]
        follow: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Switch a running monitor to another mode.
    Mode {
        id: String,
        #[arg(value_parser = ["listen", "whisper", "barge", "takeover"])]
        mode: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// End a running monitor.
    Stop {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub(super) fn addr(flag: Option<SocketAddr>, config: Option<SocketAddr>) -> SocketAddr {
    flag.or(config)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8088)))
}

/// `spygroup calls`: one line per live call: its id (what `monitor start` takes),
/// its channels and who monitors it.
pub fn calls(api: ApiArgs, config_http: Option<SocketAddr>) -> anyhow::Result<()> {
    let token = token(api.token)?;
    let (status, body) = request(
        addr(api.http, config_http),
        "GET",
        "/api/v1/calls",
        Some(&token),
        None,
    )?;
    if status != 200 {
        return Err(fail(status, &body));
    }
    let calls = body["calls"].as_array().cloned().unwrap_or_default();
    if calls.is_empty() {
        println!("no live calls");
    }
    for call in calls {
        let chans: Vec<String> = call["channels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let group = c["spygroup"].as_str().unwrap_or("");
                let name = c["name"].as_str().unwrap_or("?");
                if group.is_empty() {
                    name.to_string()
                } else {
                    format!("{name} [{group}]")
                }
            })
            .collect();
        // The roster: who monitors, how, for how long.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let spies: Vec<String> = call["monitored_by"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let name = m["name"].as_str()?;
                let mode = m["spying"]["mode"].as_str().unwrap_or("?");
                let secs = m["spying"]["since"]
                    .as_u64()
                    .map_or(0, |t| now.saturating_sub(t) / 1000);
                Some(format!("{name} ({mode}, {}:{:02})", secs / 60, secs % 60))
            })
            .collect();
        let spied = if spies.is_empty() {
            String::new()
        } else {
            format!("  monitored by {}", spies.join(", "))
        };
        let id = call["id"].as_str().unwrap_or("?");
        println!("{id}  {}{spied}", chans.join(" <-> "));
    }
    Ok(())
}

pub fn monitor(cmd: MonitorCommand, config_http: Option<SocketAddr>) -> anyhow::Result<()> {
    match cmd {
        MonitorCommand::Start {
            call,
            supervisor,
            mode,
            follow,
            api,
        } => {
            let token = token(api.token)?;
            let path = format!("/api/v1/calls/{}/monitor", segment(&call));
            let body = json!({ "supervisor": supervisor, "mode": mode, "follow": follow });
            let (status, answer) = request(
                addr(api.http, config_http),
                "POST",
                &path,
                Some(&token),
                Some(&body),
            )?;
            if status != 201 {
                return Err(fail(status, &answer));
            }
            // The id alone on stdout, for scripts.
            println!("{}", answer["id"].as_str().unwrap_or_default());
            eprintln!("{supervisor}'s phone is ringing; monitoring starts when it answers");
            Ok(())
        }
        MonitorCommand::Mode { id, mode, api } => {
            let token = token(api.token)?;
            let path = format!("/api/v1/monitors/{}", segment(&id));
            let (status, answer) = request(
                addr(api.http, config_http),
                "PATCH",
                &path,
                Some(&token),
                Some(&json!({ "mode": mode })),
            )?;
            if status != 204 {
                return Err(fail(status, &answer));
            }
            Ok(())
        }
        MonitorCommand::Stop { id, api } => {
            let token = token(api.token)?;
            let path = format!("/api/v1/monitors/{}", segment(&id));
            delete(addr(api.http, config_http), &path, &token)
        }
    }
}
