//! `spygroup recordings list|show|delete`: MixMonitor's and ChanSpy's recordings,
//! from the database (like `audit list`, it works whether or not the server runs).
//!
//! Deleting removes the files too, so it needs the recordings folder the server
//! records to: `--recordings DIR`, else `recordings` in the config file, else
//! `recordings` (the same settings `serve` reads). A file the folder does not hold
//! is reported, so a wrong folder is noticed rather than silently leaving files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::bail;
use clap::Subcommand;
use store::{Recording, RecordingDetail, RecordingFilter, Store};

use super::{audit, clean, table};
use crate::exit::Missing;
use crate::timefmt;

#[derive(Debug, Subcommand)]
pub enum RecordingsCommand {
    /// Most recent first: id, start, kind, channel and peer, parties, length, tracks.
    List {
        /// Only recordings of this channel or of its peer (`SIP/110-0000001a`).
        #[arg(long, value_name = "CHANNEL")]
        channel: Option<String>,
        /// Started at or after: YYYY-MM-DD[THH:MM[:SS]] (UTC) or epoch milliseconds.
        #[arg(long, value_name = "TIME", value_parser = timefmt::parse_utc)]
        since: Option<SystemTime>,
        /// Started before (same forms as --since).
        #[arg(long, value_name = "TIME", value_parser = timefmt::parse_utc)]
        until: Option<SystemTime>,
        /// How many recordings to show.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
    },
    /// One recording: its call and parties, its files, and the monitoring sessions
    /// that ran while it recorded, with their mode changes.
    Show {
        id: String,
        /// The recordings folder, to show where the files are [default: the config
        /// file's `recordings`, else recordings].
        #[arg(long, value_name = "DIR")]
        recordings: Option<PathBuf>,
    },
    /// Delete a recording: its files under the recordings folder (those no other
    /// recording lists), then its record.
    Delete {
        id: String,
        /// The folder the server records to [default: the config file's
        /// `recordings`, else recordings].
        #[arg(long, value_name = "DIR")]
        recordings: Option<PathBuf>,
    },
}

/// `configured`: the config file's `recordings`, when it has one.
pub async fn run(
    store: &Store,
    cmd: RecordingsCommand,
    configured: Option<&Path>,
) -> anyhow::Result<()> {
    let folder = |flag: Option<PathBuf>| {
        flag.or_else(|| configured.map(Path::to_path_buf))
            .unwrap_or_else(|| pbx::PbxConfig::default().recordings)
    };
    match cmd {
        RecordingsCommand::List {
            channel,
            since,
            until,
            limit,
        } => {
            let filter = RecordingFilter {
                channel,
                since,
                until,
                limit,
            };
            let rows: Vec<Vec<String>> = store
                .list_recordings(&filter)
                .await?
                .iter()
                .map(row)
                .collect();
            print!(
                "{}",
                table::render(
                    &[
                        "ID",
                        "STARTED (UTC)",
                        "KIND",
                        "CHANNEL",
                        "PEER",
                        "CALLER",
                        "CALLEE",
                        "LENGTH",
                        "TRACKS"
                    ],
                    &rows
                )
            );
        }
        RecordingsCommand::Show { id, recordings } => {
            let Some(detail) = store.recording_detail(&id).await? else {
                bail!(Missing(format!("recording {id:?} does not exist")));
            };
            print!("{}", show(&detail, &folder(recordings)));
        }
        RecordingsCommand::Delete { id, recordings } => {
            let folder = folder(recordings);
            let Some(done) = store.delete_recording_and_files(&folder, &id).await? else {
                bail!(Missing(format!("recording {id:?} does not exist")));
            };
            for f in &done.missing {
                eprintln!(
                    "warning: {} was not there (deleted already, or the server records \
                     elsewhere: see --recordings)",
                    f.display()
                );
            }
            for f in &done.shared {
                eprintln!("note: {} kept: another recording lists it", f.display());
            }
            for p in &done.refused {
                eprintln!(
                    "warning: stored path {:?} is not under the recordings folder; left alone",
                    clean(p)
                );
            }
            println!(
                "recording {id} deleted ({} file{} removed)",
                done.removed.len(),
                if done.removed.len() == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

fn or_dash(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "-".to_string(), clean)
}

/// The audio's length, or `recording` while there is no end on record.
fn length(r: &Recording) -> String {
    match (r.ended_at, r.duration_ms) {
        (Some(_), Some(ms)) => timefmt::duration_ms(ms),
        _ => "(no end recorded)".to_string(),
    }
}

fn row(r: &Recording) -> Vec<String> {
    let tracks: Vec<String> = r.tracks.iter().map(|t| clean(&t.track)).collect();
    vec![
        clean(&r.id),
        timefmt::utc(r.started_at),
        clean(&r.kind),
        clean(&r.channel),
        or_dash(&r.peer_channel),
        or_dash(&r.caller),
        or_dash(&r.callee),
        length(r),
        tracks.join(","),
    ]
}

/// The printed description of one recording.
fn show(d: &RecordingDetail, folder: &Path) -> String {
    let r = &d.recording;
    let mut out = format!("recording {}  {}\n", clean(&r.id), clean(&r.kind));
    let _ = writeln!(out, "  call        {}", or_dash(&r.call));
    let _ = writeln!(
        out,
        "  channel     {}  peer {}",
        clean(&r.channel),
        or_dash(&r.peer_channel)
    );
    let _ = writeln!(
        out,
        "  parties     {} -> {}",
        or_dash(&r.caller),
        or_dash(&r.callee)
    );
    if r.monitor_session.is_some() || r.supervisor.is_some() {
        let _ = writeln!(
            out,
            "  supervisor  {}  session {}",
            or_dash(&r.supervisor),
            or_dash(&r.monitor_session)
        );
    }
    let ended = r
        .ended_at
        .map_or_else(|| "-".to_string(), |t| format!("{} UTC", timefmt::utc(t)));
    let _ = writeln!(
        out,
        "  started     {} UTC  ended {ended}  length {}",
        timefmt::utc(r.started_at),
        length(r)
    );
    out.push_str("tracks:\n");
    let rows: Vec<Vec<String>> = r
        .tracks
        .iter()
        .map(|t| {
            let file = store::track_file(folder, &t.path).map_or_else(
                || "(not under the recordings folder)".to_string(),
                |f| clean(&f.display().to_string()),
            );
            let n = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
            vec![
                clean(&t.track),
                n(t.frames),
                n(t.bytes),
                n(t.dropped_frames),
                file,
            ]
        })
        .collect();
    for line in table::render(&["TRACK", "FRAMES", "BYTES", "DROPPED", "FILE"], &rows).lines() {
        let _ = writeln!(out, "  {line}");
    }
    if d.sessions.is_empty() {
        out.push_str("monitoring while it recorded: none\n");
    } else {
        out.push_str("monitoring while it recorded:\n");
        for s in &d.sessions {
            for line in audit::block(s).lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};
    use store::RecordingTrack;

    fn rec() -> Recording {
        Recording {
            id: "ab12".into(),
            kind: "mixmonitor".into(),
            call: Some("1-1".into()),
            channel: "SIP/101-1".into(),
            peer_channel: None,
            caller: Some("101".into()),
            callee: Some("110".into()),
            monitor_session: None,
            supervisor: None,
            started_at: UNIX_EPOCH + Duration::from_secs(60),
            ended_at: Some(UNIX_EPOCH + Duration::from_secs(125)),
            duration_ms: Some(65_000),
            tracks: vec![RecordingTrack {
                track: "mixed".into(),
                path: "calls/1.wav".into(),
                frames: Some(3250),
                bytes: Some(1_040_044),
                dropped_frames: Some(0),
            }],
        }
    }

    #[test]
    fn list_row() {
        assert_eq!(
            row(&rec()),
            [
                "ab12",
                "1970-01-01 00:01:00",
                "mixmonitor",
                "SIP/101-1",
                "-",
                "101",
                "110",
                "1:05",
                "mixed"
            ]
        );
        let mut running = rec();
        running.ended_at = None;
        running.duration_ms = None;
        assert_eq!(row(&running)[7], "(no end recorded)");
    }

    #[test]
    fn shown_with_files_and_no_control_characters() {
        let mut r = rec();
        r.caller = Some("101\n1970-01-01 forged\u{1b}[2J".into());
        let out = show(
            &RecordingDetail {
                recording: r,
                sessions: Vec::new(),
            },
            Path::new("/rec"),
        );
        assert!(out.contains("/rec/calls/1.wav"), "{out}");
        assert!(out.contains("monitoring while it recorded: none"), "{out}");
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(!out.contains("\n1970-01-01 forged"), "{out}");
    }
}
