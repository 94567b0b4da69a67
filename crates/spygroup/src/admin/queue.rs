//! `spygroup queue …` and `spygroup agent …`: call-center queues, their members,
//! agents logging in, out and pausing, and statistics from the queue log.
//!
//! Member changes made here are logged in the queue log as Asterisk's
//! ADDMEMBER, REMOVEMEMBER, PAUSE and UNPAUSE lines; a running server picks the
//! change up with its next snapshot.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use clap::{Args, Subcommand};
use model::{EmptyRule, QueuePatch, QueueSettings, Strategy};
use store::Store;

use super::{parse_number, store_rule, table};
use crate::timefmt;

fn parse_queue(s: &str) -> Result<String, String> {
    store_rule(store::validate::queue_name, s)
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "on" => Ok(true),
        "no" | "false" | "0" | "off" => Ok(false),
        _ => Err(format!("{s:?}: write yes or no")),
    }
}

/// Settings of `queue add` and `queue set`; what is not given keeps its value
/// (Asterisk's default for a new queue).
#[derive(Debug, Args, Default)]
pub struct QueueOptions {
    /// ringall, leastrecent, fewestcalls, random, rrmemory (roundrobin), linear, wrandom.
    #[arg(long, value_parser = |s: &str| s.parse::<Strategy>().map_err(|e| e.to_string()))]
    strategy: Option<Strategy>,
    /// Seconds a member rings before the next try.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u32>,
    /// Seconds between tries.
    #[arg(long, value_name = "SECS")]
    retry: Option<u32>,
    /// Seconds an agent rests after a queue call.
    #[arg(long, value_name = "SECS")]
    wrapuptime: Option<u32>,
    /// Most callers waiting at once (0: no limit).
    #[arg(long)]
    maxlen: Option<u32>,
    /// Who may join when nobody can answer: never (always join), unavailable, paused, strict.
    #[arg(long, value_parser = |s: &str| s.parse::<EmptyRule>().map_err(|e| e.to_string()))]
    joinempty: Option<EmptyRule>,
    /// When waiting callers leave because nobody can answer (same values).
    #[arg(long, value_parser = |s: &str| s.parse::<EmptyRule>().map_err(|e| e.to_string()))]
    leavewhenempty: Option<EmptyRule>,
    /// Seconds between position/hold-time announcements (0: none).
    #[arg(long, value_name = "SECS")]
    announce_frequency: Option<u32>,
    /// Say the estimated hold time (yes/no).
    #[arg(long, value_parser = parse_yes_no)]
    announce_holdtime: Option<bool>,
    /// Say the caller's position (yes/no).
    #[arg(long, value_parser = parse_yes_no)]
    announce_position: Option<bool>,
    /// A prompt played every --periodic-announce-frequency seconds.
    #[arg(long, value_name = "SOUND")]
    periodic_announce: Option<String>,
    #[arg(long, value_name = "SECS")]
    periodic_announce_frequency: Option<u32>,
    /// Answered within this many seconds counts for the service level.
    #[arg(long, value_name = "SECS")]
    servicelevel: Option<u32>,
    /// Queues with a higher weight get shared agents first.
    #[arg(long)]
    weight: Option<u32>,
    /// Music-on-hold class for waiting callers.
    #[arg(long)]
    musicclass: Option<String>,
}

impl QueueOptions {
    fn patch(self) -> QueuePatch {
        QueuePatch {
            strategy: self.strategy,
            timeout: self.timeout,
            retry: self.retry,
            wrapuptime: self.wrapuptime,
            maxlen: self.maxlen,
            joinempty: self.joinempty,
            leavewhenempty: self.leavewhenempty,
            announce_frequency: self.announce_frequency,
            announce_holdtime: self.announce_holdtime,
            announce_position: self.announce_position,
            periodic_announce: self.periodic_announce,
            periodic_announce_frequency: self.periodic_announce_frequency,
            servicelevel: self.servicelevel,
            weight: self.weight,
            musicclass: self.musicclass,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Create a queue.
    Add {
        #[arg(value_parser = parse_queue)]
        name: String,
        #[command(flatten)]
        options: QueueOptions,
    },
    /// Change a queue's settings.
    Set {
        #[arg(value_parser = parse_queue)]
        name: String,
        #[command(flatten)]
        options: QueueOptions,
    },
    /// List queues.
    List,
    /// A queue's settings and members.
    Show {
        #[arg(value_parser = parse_queue)]
        name: String,
    },
    /// Delete a queue and its members (its queue log stays).
    Del {
        #[arg(value_parser = parse_queue)]
        name: String,
    },
    /// Static members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Calls offered, answered, abandoned, service level, average wait and
    /// handle time, per queue and per agent, from the queue log.
    Stats {
        #[arg(value_parser = parse_queue)]
        name: Option<String>,
        /// From (UTC `YYYY-MM-DD[THH:MM[:SS]]`); default 24 hours ago.
        #[arg(long, value_parser = timefmt::parse_utc)]
        since: Option<SystemTime>,
        /// Until (UTC); default now.
        #[arg(long, value_parser = timefmt::parse_utc)]
        until: Option<SystemTime>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a static member (or change its penalty).
    Add {
        #[arg(value_parser = parse_queue)]
        queue: String,
        #[arg(value_parser = parse_number)]
        extension: String,
        /// Higher penalties ring only when nobody with a lower one is free.
        #[arg(long, default_value_t = 0)]
        penalty: u32,
    },
    /// Remove a member.
    Del {
        #[arg(value_parser = parse_queue)]
        queue: String,
        #[arg(value_parser = parse_number)]
        extension: String,
    },
    /// Pause a member in this queue.
    Pause {
        #[arg(value_parser = parse_queue)]
        queue: String,
        #[arg(value_parser = parse_number)]
        extension: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Unpause a member in this queue.
    Unpause {
        #[arg(value_parser = parse_queue)]
        queue: String,
        #[arg(value_parser = parse_number)]
        extension: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Log an agent into a queue (a dynamic member).
    Login {
        #[arg(value_parser = parse_number)]
        extension: String,
        #[arg(value_parser = parse_queue)]
        queue: String,
        #[arg(long, default_value_t = 0)]
        penalty: u32,
    },
    /// Log an agent out of a queue, or of every queue it logged in to (a static
    /// member stays: `queue member del` removes it).
    Logout {
        #[arg(value_parser = parse_number)]
        extension: String,
        #[arg(value_parser = parse_queue)]
        queue: Option<String>,
    },
    /// Pause an agent in every queue (or --queue), with a reason.
    Pause {
        #[arg(value_parser = parse_number)]
        extension: String,
        #[arg(long, value_parser = parse_queue)]
        queue: Option<String>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Unpause an agent in every queue (or --queue).
    Unpause {
        #[arg(value_parser = parse_number)]
        extension: String,
        #[arg(long, value_parser = parse_queue)]
        queue: Option<String>,
    },
    /// Agents (every member of a queue) with their queues and pauses; the live
    /// state is in `GET /agents` of the running server.
    List,
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn pause(
    store: &Store,
    queue: Option<&str>,
    extension: &str,
    paused: bool,
    reason: &str,
) -> anyhow::Result<()> {
    let queues: Vec<String> = store
        .member_set_paused(queue, extension, paused, reason)
        .await?
        .into_iter()
        .map(|l| l.queue)
        .collect();
    let word = if paused { "paused" } else { "unpaused" };
    println!("{extension} {word} in {}", queues.join(", "));
    Ok(())
}

pub async fn run(store: &Store, cmd: QueueCommand) -> anyhow::Result<()> {
    match cmd {
        QueueCommand::Add { name, options } => {
            let mut q = QueueSettings::new(&name);
            options.patch().apply(&mut q);
            store.queue_add(&q).await?;
            println!("queue {name} added ({})", q.strategy);
        }
        QueueCommand::Set { name, options } => {
            let mut q = store.queue_get(&name).await?;
            options.patch().apply(&mut q);
            store.queue_set(&q).await?;
            println!("queue {name} changed");
        }
        QueueCommand::List => {
            let rows: Vec<Vec<String>> = store
                .queue_list()
                .await?
                .into_iter()
                .map(|(q, m)| {
                    let members: Vec<String> = m
                        .iter()
                        .map(|m| {
                            let mut s = m.extension.clone();
                            if m.penalty > 0 {
                                s.push_str(&format!(",{}", m.penalty));
                            }
                            if m.dynamic {
                                s.push('*');
                            }
                            if m.paused {
                                s.push_str("(paused)");
                            }
                            s
                        })
                        .collect();
                    vec![
                        q.name,
                        q.strategy.to_string(),
                        q.timeout.to_string(),
                        q.wrapuptime.to_string(),
                        members.join(" "),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["NAME", "STRATEGY", "TIMEOUT", "WRAPUP", "MEMBERS"], &rows)
            );
        }
        QueueCommand::Show { name } => {
            let q = store.queue_get(&name).await?;
            println!("{}", serde_json::to_string_pretty(&q)?);
            let members = store
                .queue_list()
                .await?
                .into_iter()
                .find(|(x, _)| x.name == name)
                .map(|(_, m)| m)
                .unwrap_or_default();
            let rows: Vec<Vec<String>> = members
                .into_iter()
                .map(|m| {
                    vec![
                        m.extension,
                        m.penalty.to_string(),
                        if m.dynamic { "dynamic" } else { "static" }.into(),
                        if m.paused {
                            format!("paused {}", m.reason)
                        } else {
                            "-".into()
                        },
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["MEMBER", "PENALTY", "KIND", "PAUSED"], &rows)
            );
        }
        QueueCommand::Del { name } => {
            if !store.queue_delete(&name).await? {
                bail!("queue {name:?} does not exist");
            }
            println!("queue {name} deleted");
        }
        QueueCommand::Member(m) => match m {
            MemberCommand::Add {
                queue,
                extension,
                penalty,
            } => {
                if store
                    .member_join(&queue, &extension, penalty, false)
                    .await?
                    .is_some()
                {
                    println!("{extension} added to queue {queue}");
                } else {
                    println!("{extension} already in queue {queue}: penalty now {penalty}");
                }
            }
            MemberCommand::Del { queue, extension } => {
                store.member_remove(&queue, &extension).await?;
                println!("{extension} removed from queue {queue}");
            }
            MemberCommand::Pause {
                queue,
                extension,
                reason,
            } => pause(store, Some(&queue), &extension, true, &reason).await?,
            MemberCommand::Unpause { queue, extension } => {
                pause(store, Some(&queue), &extension, false, "").await?
            }
        },
        QueueCommand::Stats { name, since, until } => {
            let until = until.unwrap_or_else(SystemTime::now);
            let since = since.unwrap_or(until - Duration::from_secs(86_400));
            if let Some(n) = &name {
                store.queue_get(n).await?;
            }
            let (queues, agents) = store
                .queue_stats(name.as_deref(), ms(since), ms(until))
                .await?;
            println!("{} .. {} UTC", timefmt::utc(since), timefmt::utc(until));
            let rows: Vec<Vec<String>> = queues
                .iter()
                .map(|s| {
                    vec![
                        s.queue.clone(),
                        s.offered.to_string(),
                        s.answered.to_string(),
                        s.abandoned.to_string(),
                        s.timed_out.to_string(),
                        format!("{:.1}% ({}s)", s.service_level_pct, s.servicelevel_s),
                        format!("{:.1}", s.avg_wait_s),
                        s.max_wait_s.to_string(),
                        format!("{:.1}", s.avg_handle_s),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &[
                        "QUEUE",
                        "OFFERED",
                        "ANSWERED",
                        "ABANDONED",
                        "TIMEOUT",
                        "SERVICE",
                        "AVGWAIT",
                        "MAXWAIT",
                        "AVGTALK"
                    ],
                    &rows
                )
            );
            let rows: Vec<Vec<String>> = agents
                .iter()
                .map(|a| {
                    vec![
                        a.agent.clone(),
                        a.answered.to_string(),
                        a.ring_no_answer.to_string(),
                        format!("{:.1}", a.avg_handle_s),
                        a.pauses.to_string(),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                print!(
                    "{}",
                    table::render(
                        &["AGENT", "ANSWERED", "NOANSWER", "AVGTALK", "PAUSES"],
                        &rows
                    )
                );
            }
        }
    }
    Ok(())
}

pub async fn agent(store: &Store, cmd: AgentCommand) -> anyhow::Result<()> {
    match cmd {
        AgentCommand::Login {
            extension,
            queue,
            penalty,
        } => {
            if store
                .member_join(&queue, &extension, penalty, true)
                .await?
                .is_some()
            {
                println!("{extension} logged in to queue {queue}");
            } else {
                println!("{extension} was already in queue {queue}");
            }
        }
        AgentCommand::Logout { extension, queue } => {
            let left: Vec<String> = store
                .agent_logout(&extension, queue.as_deref())
                .await?
                .into_iter()
                .map(|l| l.queue)
                .collect();
            println!("{extension} logged out of {}", left.join(", "));
        }
        AgentCommand::Pause {
            extension,
            queue,
            reason,
        } => pause(store, queue.as_deref(), &extension, true, &reason).await?,
        AgentCommand::Unpause { extension, queue } => {
            pause(store, queue.as_deref(), &extension, false, "").await?
        }
        AgentCommand::List => {
            let mut by_ext: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for (q, members) in store.queue_list().await? {
                for m in members {
                    let mut s = q.name.clone();
                    if m.paused {
                        s.push_str(&format!(" (paused: {})", m.reason));
                    }
                    by_ext.entry(m.extension).or_default().push(s);
                }
            }
            let rows: Vec<Vec<String>> = by_ext
                .into_iter()
                .map(|(e, q)| vec![e, q.join(", ")])
                .collect();
            print!("{}", table::render(&["AGENT", "QUEUES"], &rows));
        }
    }
    Ok(())
}
