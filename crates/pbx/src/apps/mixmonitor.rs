//! `MixMonitor(file[,options])` and `StopMixMonitor()`: record this channel's call
//! to WAV files under the recordings folder, from now until the call ends (or
//! `StopMixMonitor`). A compatible subset of Asterisk's options:
//! - `r(file)`: also what this channel's phone said, alone; `t(file)`: what it
//!   heard, alone (the other party, and a supervisor who barges; a whisper to the
//!   other party is never in it);
//! - `S(file)` (spygroup's): what supervisors said into the call, whisper included,
//!   so each party's voice has a file of its own;
//! - `b`: only while bridged to another phone; `v(x)`/`V(x)`: the volume of what
//!   was heard/said, -4 to 4; `a` (append) is not supported (warned about).
//!
//! File names are relative to the recordings folder (`/` makes sub-folders, no
//! `..`); `.wav` is added when missing. `MIXMONITOR_FILENAME` gets the main file's
//! path, as in Asterisk.
//!
//! Each recording is listed in the store (`recordings.rs`) with its files as
//! tracks: `mixed` (the main file), `read` (`r()`), `write` (`t()`) and
//! `supervisors` (`S()`), for the API and `spygroup recordings`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use dialplan::{AppOutcome, ChannelVars};
use media::mix::VolumeStep;
use media::{MixMonitor, RecordingTap};
use store::Track;

use super::play::split_first;
use super::recordings::{self, TrackFile};
use super::PbxHost;

/// Parsed MixMonitor options.
#[derive(Debug, Default, PartialEq)]
struct Options {
    read: Option<String>,
    write: Option<String>,
    supervisors: Option<String>,
    only_bridged: bool,
    heard: i32,
    said: i32,
    ignored: Vec<char>,
}

fn parse_options(s: &str) -> Options {
    let mut o = Options::default();
    for (c, arg) in super::letters::option_letters(s) {
        let level = |a: &Option<String>| {
            a.as_deref()
                .and_then(|v| v.trim().parse::<i32>().ok())
                .unwrap_or(0)
                .clamp(-4, 4)
        };
        match c {
            'r' => o.read = arg,
            't' => o.write = arg,
            'S' => o.supervisors = arg,
            'b' => o.only_bridged = true,
            'v' => o.heard = level(&arg),
            'V' => o.said = level(&arg),
            other => o.ignored.push(other),
        }
    }
    o
}

/// `name` under `dir`, `.wav` added: plain relative names only.
fn recording_path(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('/')
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if !ok {
        return Err(format!(
            "{name:?} is not a recording name (letters, digits, - _ . and / only, no '..')"
        ));
    }
    // Appended, never put in place of another extension: `${UNIQUEID}` names
    // (`14400.7`, `14400.7-client`) would otherwise all become `14400.wav`.
    if name.to_ascii_lowercase().ends_with(".wav") {
        Ok(dir.join(name))
    } else {
        Ok(dir.join(format!("{name}.wav")))
    }
}

fn open_tap(path: &Path) -> Result<RecordingTap, String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    media::wav::WavRecorder::create(path)
        .map(RecordingTap::new)
        .map_err(|e| e.to_string())
}

impl PbxHost {
    pub(super) fn mix_monitor(&mut self, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let (file, opts) = split_first(args);
        let opts = parse_options(opts);
        if !opts.ignored.is_empty() {
            tracing::warn!(channel = %self.chan.name, options = ?opts.ignored, "MixMonitor: options not supported, ignored");
        }
        let dir = self.env.recordings.clone();
        let open =
            |name: &str| recording_path(&dir, name).and_then(|p| open_tap(&p).map(|t| (p, t)));
        let main = match open(file) {
            Ok(m) => m,
            Err(e) => {
                // As Asterisk: the call goes on unrecorded, and the log says why.
                tracing::error!(channel = %self.chan.name, "MixMonitor({args}): {e}");
                return AppOutcome::Continue;
            }
        };
        let mut files = Vec::new();
        let mut keep = |track: Track, (path, tap): (PathBuf, RecordingTap)| {
            files.push(TrackFile {
                track,
                path,
                status: tap.status(),
            });
            tap
        };
        let main_path = main.0.clone();
        let mixed = keep(Track::Mixed, main);
        let mut extra = |track: Track, name: &Option<String>| -> Option<RecordingTap> {
            let name = name.as_deref()?;
            match open(name) {
                Ok(opened) => Some(keep(track, opened)),
                Err(e) => {
                    tracing::error!(channel = %self.chan.name, "MixMonitor: {e}");
                    None
                }
            }
        };
        let read = extra(Track::Read, &opts.read);
        let write = extra(Track::Write, &opts.write);
        let supervisors = extra(Track::Supervisors, &opts.supervisors);
        let monitor = MixMonitor {
            id: rand::random(),
            side: self.side,
            read,
            write,
            supervisors,
            mixed: Some(mixed),
            only_bridged: opts.only_bridged,
            heard_gain: VolumeStep::new(opts.heard).unwrap_or(VolumeStep::UNITY),
            said_gain: VolumeStep::new(opts.said).unwrap_or(VolumeStep::UNITY),
        };
        tracing::info!(channel = %self.chan.name, file = %main_path.display(), "MixMonitor recording");
        vars.set("MIXMONITOR_FILENAME", &main_path.display().to_string());
        self.media.mix_monitor(monitor);
        recordings::register(&self.env, self.recording_start(), files);
        AppOutcome::Continue
    }

    /// What this channel knows of its call when MixMonitor starts: the caller's
    /// number and what was dialled, and the call and peer from the live table.
    fn recording_start(&self) -> store::RecordingStart {
        let live = self.env.registry.get(&self.chan.name);
        store::RecordingStart {
            id: String::new(),
            kind: store::RecordingKind::MixMonitor,
            call: live.as_ref().map(|e| e.info.call_ref.clone()),
            channel: self.chan.name.clone(),
            peer_channel: live.and_then(|e| e.info.bridged_to),
            caller: recordings::tidy(&self.chan.caller.number),
            callee: recordings::tidy(&self.chan.dialled),
            monitor_session: None,
            supervisor: None,
            started_at: SystemTime::now(),
            tracks: Vec::new(),
        }
    }

    pub(super) fn stop_mix_monitor(&mut self) -> AppOutcome {
        self.media.stop_mix_monitor(None);
        AppOutcome::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_names() {
        let o = parse_options("br(in)t(out)S(sup)v(2)V(-9)a");
        assert_eq!(o.read.as_deref(), Some("in"));
        assert_eq!(o.write.as_deref(), Some("out"));
        assert_eq!(o.supervisors.as_deref(), Some("sup"));
        assert!(o.only_bridged);
        assert_eq!((o.heard, o.said), (2, -4));
        assert_eq!(o.ignored, ['a']);
        let dir = Path::new("/rec");
        assert_eq!(
            recording_path(dir, "q/1-2").unwrap(),
            Path::new("/rec/q/1-2.wav")
        );
        assert_eq!(
            recording_path(dir, "a.WAV").unwrap(),
            Path::new("/rec/a.WAV")
        );
        // A dot in the name (`${UNIQUEID}`) is not an extension to replace.
        assert_eq!(
            recording_path(dir, "calls/14400.7").unwrap(),
            Path::new("/rec/calls/14400.7.wav")
        );
        assert_eq!(
            recording_path(dir, "calls/14400.7-client").unwrap(),
            Path::new("/rec/calls/14400.7-client.wav")
        );
        for bad in ["", "/etc/x", "../x", "a/../b", "a b", "a//b"] {
            assert!(recording_path(dir, bad).is_err(), "{bad:?}");
        }
    }
}
