//! `spygroup conf list|mute|unmute|kick`: the running server's conference rooms
//! (`ConfBridge`), through its HTTP API (listing needs a read token, the rest an
//! admin token).

use std::net::SocketAddr;

use clap::Subcommand;
use serde_json::json;

use super::http::{delete, fail, request, segment, token};
use super::live::{addr, ApiArgs};

#[derive(Debug, Subcommand)]
pub enum ConfCommand {
    /// Every live room and its members.
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Mute a member: the others stop hearing it.
    Mute {
        room: String,
        /// The member's channel, e.g. SIP/101-00000004 (from `conf list`).
        channel: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Unmute a member.
    Unmute {
        room: String,
        channel: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Make a member leave the room (its dialplan goes on after ConfBridge).
    Kick {
        room: String,
        channel: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub fn run(cmd: ConfCommand, config_http: Option<SocketAddr>) -> anyhow::Result<()> {
    match cmd {
        ConfCommand::List { api } => list(api, config_http),
        ConfCommand::Mute { room, channel, api } => mute(room, channel, true, api, config_http),
        ConfCommand::Unmute { room, channel, api } => mute(room, channel, false, api, config_http),
        ConfCommand::Kick { room, channel, api } => {
            let token = token(api.token)?;
            delete(
                addr(api.http, config_http),
                &member_path(&room, &channel),
                &token,
            )?;
            println!("kicked {channel} from {room}");
            Ok(())
        }
    }
}

fn member_path(room: &str, channel: &str) -> String {
    format!(
        "/api/v1/conferences/{}/members/{}",
        segment(room),
        segment(channel)
    )
}

fn mute(
    room: String,
    channel: String,
    muted: bool,
    api: ApiArgs,
    config_http: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let token = token(api.token)?;
    let body = json!({ "muted": muted });
    let (status, answer) = request(
        addr(api.http, config_http),
        "PATCH",
        &member_path(&room, &channel),
        Some(&token),
        Some(&body),
    )?;
    if status != 204 {
        return Err(fail(status, &answer));
    }
    println!(
        "{} {channel} in {room}",
        if muted { "muted" } else { "unmuted" }
    );
    Ok(())
}

fn list(api: ApiArgs, config_http: Option<SocketAddr>) -> anyhow::Result<()> {
    let token = token(api.token)?;
    let (status, body) = request(
        addr(api.http, config_http),
        "GET",
        "/api/v1/conferences",
        Some(&token),
        None,
    )?;
    if status != 200 {
        return Err(fail(status, &body));
    }
    let rooms = body["conferences"].as_array().cloned().unwrap_or_default();
    if rooms.is_empty() {
        println!("no conferences");
    }
    for room in rooms {
        let members = room["members"].as_array().cloned().unwrap_or_default();
        println!(
            "{}  ({} member{})",
            room["name"].as_str().unwrap_or("?"),
            members.len(),
            if members.len() == 1 { "" } else { "s" }
        );
        for m in members {
            let flags: Vec<&str> = [
                ("admin", "admin"),
                ("marked", "marked"),
                ("muted", "muted"),
                ("waiting", "waiting"),
            ]
            .into_iter()
            .filter(|(k, _)| m[*k].as_bool() == Some(true))
            .map(|(_, v)| v)
            .collect();
            println!(
                "  {}  {}{}",
                m["channel"].as_str().unwrap_or("?"),
                m["endpoint"].as_str().unwrap_or("?"),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", flags.join(", "))
                }
            );
        }
    }
    Ok(())
}
