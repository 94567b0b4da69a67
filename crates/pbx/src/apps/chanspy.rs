//! ChanSpy and ExtenSpy, with Asterisk's semantics: a spy is an audiohook on the
//! spied channel's audio (its bridge), never a special call. The supervisor's own
//! channel plays what the hook hears and, in whisper and barge, feeds the hook
//! with what the supervisor says.
//!
//! `ChanSpy([chanprefix][,options])`, `ExtenSpy(exten[@context][,options])`.
//! Options:
//! - targets: `b` bridged channels only, `e(ext:ext)` only these endpoints,
//!   `g(grp:grp)` only channels whose SPYGROUP shares a group;
//! - modes: `w` whisper, `W` private whisper (talk, hear nothing), `B` barge, `o` hear
//!   only the spied channel, `d` DTMF 4/5/6 switch listen/whisper/barge live;
//! - flow: `E` exit when the spied channel hangs up, `S` stop when nothing is left,
//!   `x(d)` exit on digit `d`, `X` a digit naming a one-digit extension of the
//!   current context leaves for it, `c(d)` next channel on `d` instead of `*`;
//! - other: `q`/`n` no beep and no announcement, `N` don't answer, `v(-4..4)` volume,
//!   `r(name)` record what the spy hears, `s` accepted (we never say the technology).
//!
//! While spying: `*` next channel, digits then `#` spy on that extension, `#` alone
//! cycles the volume (unless `d`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dialplan::{AppOutcome, ChannelVars};
use media::mix::{SpyMode, VolumeStep};
use media::{LinkSource, PlayEnd};

use super::permit::{Denied, Policy};
use super::play::{split_first, Played};
use super::{Input, PbxHost};
use crate::registry::ChannelEntry;

/// Parsed ChanSpy options.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct SpyOptions {
    pub bridged_only: bool,
    pub mode: Option<SpyMode>,
    pub private_whisper: bool,
    pub dtmf_modes: bool,
    pub endpoints: Vec<String>,
    pub exit_on_hangup: bool,
    pub groups: Vec<String>,
    pub quiet: bool,
    pub no_answer: bool,
    pub stop_when_none: bool,
    pub volume: i32,
    pub exit_digit: Option<char>,
    /// `r(name)`: record what the spy hears to `<recordings>/<name>-<ms>.wav`.
    pub record: Option<String>,
    /// `o`: hear only the spied channel, not its peer.
    pub one_way: bool,
    /// `c(d)`: the digit that moves to the next channel (default `*`).
    pub cycle_digit: Option<char>,
    /// `X`: a digit naming a one-digit extension of the current context leaves
    /// ChanSpy for it.
    pub exit_to_exten: bool,
    pub ignored: Vec<char>,
}

/// Splits `gq(x)v(-2)` into options; unknown letters are kept to be warned about.
pub(super) fn parse_options(s: &str) -> SpyOptions {
    let mut o = SpyOptions::default();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let mut arg = String::new();
        if chars.get(i) == Some(&'(') {
            let close = chars[i..]
                .iter()
                .position(|&c| c == ')')
                .map_or(chars.len(), |p| i + p);
            arg = chars[i + 1..close.min(chars.len())].iter().collect();
            i = close + 1;
        }
        match c {
            'b' => o.bridged_only = true,
            'B' => o.mode = Some(SpyMode::Barge),
            'w' => o.mode = Some(SpyMode::Whisper),
            'W' => {
                o.mode = Some(SpyMode::Whisper);
                o.private_whisper = true;
            }
            'd' => o.dtmf_modes = true,
            'e' => {
                o.endpoints = arg
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            'E' => o.exit_on_hangup = true,
            'g' => {
                o.groups = arg
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            'q' | 'n' => o.quiet = true,
            'N' => o.no_answer = true,
            'S' => o.stop_when_none = true,
            'v' => o.volume = arg.trim().parse().unwrap_or(0),
            'x' => o.exit_digit = arg.chars().next(),
            'o' => o.one_way = true,
            'c' => o.cycle_digit = arg.chars().next(),
            'X' => o.exit_to_exten = true,
            // `s`: don't say the technology before the name: we never do.
            's' => {}
            'r' => {
                // A base name only: no path tricks into other directories.
                let name: String = arg
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                    .collect();
                o.record = Some(if name.is_empty() {
                    "chanspy".into()
                } else {
                    name
                });
            }
            ' ' | ',' => {}
            other => o.ignored.push(other),
        }
    }
    o
}

/// Does a spy spec (`SIP/110`, `sip/110`, `PJSIP/110`, `SIP`, empty) name this
/// channel? The channel name is compared up to its `-`, case-insensitively, and the
/// technologies SIP and PJSIP are the same thing here.
pub(super) fn spec_matches(spec: &str, channel: &str) -> bool {
    let spec = spec.trim();
    if spec.is_empty() || spec.eq_ignore_ascii_case(channel) {
        // Empty: every channel; a whole channel name (the API's click-to-spy): that one.
        return true;
    }
    let norm = |s: &str| -> String {
        let s = s.to_ascii_lowercase();
        match s.split_once('/') {
            Some((tech, rest)) if tech == "sip" || tech == "pjsip" => format!("sip/{rest}"),
            _ => s,
        }
    };
    let spec = norm(spec);
    let base = channel.rsplit_once('-').map_or(channel, |(b, _)| b);
    let base = norm(base);
    if spec == "sip" || spec == "sip/" {
        return base.starts_with("sip/");
    }
    base == spec
}

/// How one spy session ended.
enum SpyEnd {
    Next,
    Exit,
    /// `X`: leave for this one-digit extension.
    ExitTo(char),
    Hangup,
    TargetGone,
    Jump(String),
}

impl PbxHost {
    pub(super) async fn chanspy(
        &mut self,
        args: &str,
        vars: &mut ChannelVars,
        exten_spy: bool,
    ) -> AppOutcome {
        let (spec, opts) = split_first(args);
        let opts = parse_options(opts);
        if !opts.ignored.is_empty() {
            tracing::warn!(channel = %self.chan.name, options = ?opts.ignored, "ChanSpy: options not supported, ignored");
        }
        let spec = if exten_spy {
            // ExtenSpy(110@ctx): channels of endpoint 110.
            format!("SIP/{}", spec.split('@').next().unwrap_or("").trim())
        } else {
            spec.to_string()
        };
        self.spy_with(spec, &opts, vars).await
    }

    /// ChanSpy with parsed options (the API's click-to-spy builds them directly).
    pub(crate) async fn spy_with(
        &mut self,
        mut spec: String,
        opts: &SpyOptions,
        vars: &mut ChannelVars,
    ) -> AppOutcome {
        if !opts.no_answer && !self.ensure_answered().await {
            return AppOutcome::Hangup;
        }
        let me = self.chan.name.clone();
        self.env.registry.update(&me, |e| e.spying = true);
        let mut mode = opts.mode.unwrap_or(SpyMode::Listen);
        let mut volume = VolumeStep::new(opts.volume.clamp(-4, 4)).unwrap_or(VolumeStep::UNITY);
        let mut last: Option<String> = None;
        let supervisor = self.chan.caller.endpoint.clone();
        let policy = Policy::load(&self.env.store, &supervisor).await;
        let outcome = loop {
            let seen = self.spy_candidates(&spec, opts);
            let mut candidates = Vec::new();
            let mut refused = None;
            for c in seen {
                match policy.check(&c, mode) {
                    Ok(()) => candidates.push(c),
                    Err(d) => refused = refused.or(Some((c, d))),
                }
            }
            // Naming a channel one may not monitor is refused out loud, and recorded;
            // a scan just passes such channels by.
            if candidates.is_empty() && !spec.trim().is_empty() {
                if let Some((target, denied)) = refused {
                    self.deny(&target, mode, &denied).await;
                    break AppOutcome::Continue;
                }
            }
            let target = candidates
                .iter()
                .find(|c| last.as_ref().is_none_or(|l| c.name.as_str() > l.as_str()))
                .or_else(|| candidates.first())
                .cloned();
            let Some(target) = target else {
                if opts.stop_when_none {
                    break AppOutcome::Continue;
                }
                // Nothing to spy on yet: look again in a second (Asterisk waits too).
                match self
                    .input
                    .next(&mut self.chan, Some(Duration::from_secs(1)))
                    .await
                {
                    Input::Hangup => break AppOutcome::Hangup,
                    Input::Digit(d) if Some(d) == opts.exit_digit => break AppOutcome::Continue,
                    _ => {}
                }
                last = None;
                continue;
            };
            last = Some(target.name.clone());
            let context = vars.location.context.clone();
            match self
                .spy_on(&target, &mut mode, &mut volume, opts, &context, &policy)
                .await
            {
                SpyEnd::Next => {}
                SpyEnd::Exit => break AppOutcome::Continue,
                SpyEnd::ExitTo(d) => break AppOutcome::Digits(d.to_string()),
                SpyEnd::Hangup => break AppOutcome::Hangup,
                SpyEnd::TargetGone if opts.exit_on_hangup => break AppOutcome::Continue,
                SpyEnd::TargetGone => last = None,
                SpyEnd::Jump(digits) => {
                    spec = format!("SIP/{digits}");
                    last = None;
                }
            }
        };
        self.env.registry.update(&me, |e| e.spying = false);
        if matches!(outcome, AppOutcome::Hangup) {
            self.hung_up = true;
        }
        outcome
    }

    /// Channels this spy may monitor now, ordered by name: never itself, never a
    /// channel that is itself spying.
    fn spy_candidates(&self, spec: &str, opts: &SpyOptions) -> Vec<ChannelEntry> {
        let me = &self.chan.name;
        self.env
            .registry
            .snapshot()
            .into_iter()
            .filter(|c| &c.name != me && !c.spying && !c.bridge.is_closed())
            .filter(|c| spec_matches(spec, &c.name))
            .filter(|c| !opts.bridged_only || c.bridged_to.is_some())
            .filter(|c| {
                opts.endpoints.is_empty() || opts.endpoints.iter().any(|e| e == &c.endpoint)
            })
            .filter(|c| {
                opts.groups.is_empty() || c.groups().any(|g| opts.groups.iter().any(|w| w == g))
            })
            .collect()
    }

    async fn spy_on(
        &mut self,
        t: &ChannelEntry,
        mode: &mut SpyMode,
        volume: &mut VolumeStep,
        opts: &SpyOptions,
        context: &str,
        policy: &Policy,
    ) -> SpyEnd {
        if !opts.quiet {
            // A beep, then who is being spied on, as Asterisk announces it.
            if let Played::Hangup = self.play_file("beep", false).await {
                return SpyEnd::Hangup;
            }
            if t.endpoint.chars().all(|c| c.is_ascii_digit()) {
                for d in t.endpoint.chars() {
                    if let Played::Hangup = self.play_file(&format!("digits/{d}"), false).await {
                        return SpyEnd::Hangup;
                    }
                }
            }
        }
        let Some(link) = t
            .bridge
            .attach_spy_tap(t.side, *mode, *volume, opts.one_way)
            .await
        else {
            return SpyEnd::TargetGone;
        };
        let session = session_id();
        tracing::info!(supervisor = %self.chan.name, target = %t.name, ?mode, "spy session started");
        let (me, target_name) = (self.chan.name.clone(), t.name.clone());
        self.env
            .registry
            .update(&me, |e| e.spying_on = Some(target_name));
        let start = store::MonitorStart {
            id: session.clone(),
            supervisor: self.chan.caller.endpoint.clone(),
            supervisor_channel: self.chan.name.clone(),
            target_endpoint: t.endpoint.clone(),
            target_channel: t.name.clone(),
            peer_channel: t.bridged_to.clone(),
            mode: mode_name(*mode).into(),
            started_at: SystemTime::now(),
        };
        if let Err(e) = self.env.store.monitor_started(&start).await {
            tracing::error!("cannot write the monitoring audit record: {e}");
        }
        self.env.events.emit(
            "monitor.start",
            serde_json::json!({
                "session": session,
                "supervisor": start.supervisor,
                "supervisor_channel": start.supervisor_channel,
                "target": start.target_endpoint,
                "target_channel": start.target_channel,
                "peer_channel": start.peer_channel,
                "mode": start.mode,
            }),
        );
        let talk = |mode: SpyMode| mode != SpyMode::Listen || opts.private_whisper;
        self.media
            .talk_to(self.side, talk(*mode).then(|| link.says.clone()));
        let mut done = if opts.private_whisper {
            // Talk, hear nothing.
            self.media
                .play(self.side, Box::new(media::tone::Silence::forever()))
        } else {
            let source: Box<dyn media::tone::FrameSource + Send> =
                Box::new(LinkSource::new(link.hears));
            let source = match &opts.record {
                Some(name) => self.recording(name, source),
                None => source,
            };
            self.media.play(self.side, source)
        };
        let mut typed = String::new();
        let (end, reason) = loop {
            let input = tokio::select! {
                r = &mut done => {
                    // The hook's queue closing ends the player: the spied call is gone.
                    // Our own bridge closing (or stopping the player) means we are.
                    match r {
                        Ok(PlayEnd::Finished) => break (SpyEnd::TargetGone, "target hung up"),
                        Ok(PlayEnd::Stopped) | Err(_) => break (SpyEnd::Hangup, "supervisor hung up"),
                    }
                }
                i = self.input.next(&mut self.chan, None) => i,
            };
            match input {
                Input::Hangup => break (SpyEnd::Hangup, "supervisor hung up"),
                Input::Timeout => {}
                Input::Digit(d) if Some(d) == opts.exit_digit => {
                    break (SpyEnd::Exit, "exit digit")
                }
                Input::Digit(d) if opts.dtmf_modes && matches!(d, '4' | '5' | '6') => {
                    let new = match d {
                        '4' => SpyMode::Listen,
                        '5' => SpyMode::Whisper,
                        _ => SpyMode::Barge,
                    };
                    if new != *mode && !policy.mode_allowed(new) {
                        tracing::warn!(supervisor = %self.chan.name, mode = mode_name(new), "spy mode refused: not granted");
                        self.env.events.emit(
                            "monitor.denied",
                            serde_json::json!({ "session": session, "mode": mode_name(new), "reason": "mode not granted" }),
                        );
                    } else if new != *mode {
                        *mode = new;
                        t.bridge.set_spy_mode(link.id, new);
                        self.media
                            .talk_to(self.side, talk(new).then(|| link.says.clone()));
                        tracing::info!(supervisor = %self.chan.name, target = %t.name, mode = ?new, "spy mode changed");
                        self.env.events.emit(
                            "monitor.mode",
                            serde_json::json!({ "session": session, "mode": mode_name(new) }),
                        );
                        if let Err(e) = self
                            .env
                            .store
                            .monitor_mode_changed(&session, mode_name(new), SystemTime::now())
                            .await
                        {
                            tracing::error!("cannot write the monitoring audit record: {e}");
                        }
                    }
                }
                Input::Digit(d) if d == opts.cycle_digit.unwrap_or('*') => {
                    break (SpyEnd::Next, "next channel")
                }
                Input::Digit(d)
                    if opts.exit_to_exten && self.env.plan.exists(context, &d.to_string()) =>
                {
                    break (SpyEnd::ExitTo(d), "exit to extension")
                }
                Input::Digit('#') if !typed.is_empty() => {
                    break (SpyEnd::Jump(std::mem::take(&mut typed)), "jump")
                }
                Input::Digit('#') if !opts.dtmf_modes => {
                    *volume = volume.cycled();
                    t.bridge.set_spy_volume(link.id, *volume);
                }
                Input::Digit(d) if d.is_ascii_digit() => typed.push(d),
                Input::Digit(_) => {}
            }
        };
        t.bridge.detach_spy(link.id);
        let me = self.chan.name.clone();
        self.env.registry.update(&me, |e| e.spying_on = None);
        self.media.talk_to(self.side, None);
        self.media.stop_play(self.side);
        tracing::info!(supervisor = %self.chan.name, target = %t.name, reason, "spy session ended");
        self.env.events.emit(
            "monitor.stop",
            serde_json::json!({ "session": session, "target_channel": t.name, "reason": reason }),
        );
        if let Err(e) = self
            .env
            .store
            .monitor_ended(&session, reason, SystemTime::now())
            .await
        {
            tracing::error!("cannot write the monitoring audit record: {e}");
        }
        if matches!(end, SpyEnd::Hangup) {
            self.hung_up = true;
        }
        end
    }
}

impl PbxHost {
    /// A refused attempt: recorded, announced as an event, and the supervisor hears
    /// a congestion tone.
    async fn deny(&mut self, target: &ChannelEntry, mode: SpyMode, denied: &Denied) {
        let supervisor = self.chan.caller.endpoint.clone();
        let reason = denied.reason(&supervisor, target);
        tracing::warn!(supervisor = %self.chan.name, target = %target.name, "monitoring refused: {reason}");
        let attempt = store::MonitorStart {
            id: session_id(),
            supervisor: supervisor.clone(),
            supervisor_channel: self.chan.name.clone(),
            target_endpoint: target.endpoint.clone(),
            target_channel: target.name.clone(),
            peer_channel: target.bridged_to.clone(),
            mode: mode_name(mode).into(),
            started_at: SystemTime::now(),
        };
        if let Err(e) = self.env.store.monitor_denied(&attempt, &reason).await {
            tracing::error!("cannot write the monitoring audit record: {e}");
        }
        self.env.events.emit(
            "monitor.denied",
            serde_json::json!({
                "supervisor": supervisor,
                "target_channel": target.name,
                "mode": mode_name(mode),
                "reason": reason,
            }),
        );
        let tone = media::tone::ToneSpec {
            repeat: false,
            cadence: vec![(250, 250); 3],
            ..media::tone::ToneSpec::congestion()
        };
        let _ = self
            .play_source(Box::new(media::tone::ToneGenerator::new(tone)), false)
            .await;
    }

    /// Wraps what the spy hears in a recorder; on a file error, logs and plays on.
    fn recording(
        &self,
        name: &str,
        source: Box<dyn media::tone::FrameSource + Send>,
    ) -> Box<dyn media::tone::FrameSource + Send> {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let dir = &self.env.recordings;
        let path = dir.join(format!("{name}-{ms}.wav"));
        let made = std::fs::create_dir_all(dir)
            .map_err(|e| e.to_string())
            .and_then(|()| media::wav::WavRecorder::create(&path).map_err(|e| e.to_string()));
        match made {
            Ok(rec) => {
                tracing::info!(channel = %self.chan.name, file = %path.display(), "ChanSpy recording");
                Box::new(media::RecordingSource::new(source, rec))
            }
            Err(e) => {
                tracing::error!(channel = %self.chan.name, "ChanSpy cannot record to {}: {e}", path.display());
                source
            }
        }
    }
}

/// A monitoring session's id in the audit log: start time, then random bits.
fn session_id() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{ms}-{:08x}", rand::random::<u32>())
}

pub(super) fn mode_name(m: SpyMode) -> &'static str {
    match m {
        SpyMode::Listen => "listen",
        SpyMode::Whisper => "whisper",
        SpyMode::Barge => "barge",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_match_like_asterisk() {
        assert!(spec_matches("SIP/110", "SIP/110-0000001a"));
        assert!(spec_matches("sip/110", "SIP/110-0000001a"));
        assert!(spec_matches("PJSIP/110", "SIP/110-0000001a"));
        assert!(!spec_matches("SIP/110", "SIP/1100-0000001b"));
        assert!(!spec_matches("SIP/11", "SIP/110-0000001a"));
        assert!(spec_matches("", "SIP/110-0000001a"));
        assert!(spec_matches("SIP", "SIP/carrier-00000003"));
        assert!(spec_matches("SIP/110-0000001a", "SIP/110-0000001a"));
        assert!(!spec_matches("SIP/110-0000001a", "SIP/110-0000001b"));
    }

    #[test]
    fn options_parse() {
        let o = parse_options("qw");
        assert!(o.quiet);
        assert_eq!(o.mode, Some(SpyMode::Whisper));
        let o = parse_options("g(spygrp:vip)v(-2)x(9)EdSbqB");
        assert_eq!(o.groups, vec!["spygrp", "vip"]);
        assert_eq!(o.volume, -2);
        assert_eq!(o.exit_digit, Some('9'));
        assert!(o.exit_on_hangup && o.dtmf_modes && o.stop_when_none && o.bridged_only);
        assert_eq!(o.mode, Some(SpyMode::Barge));
        let o = parse_options("oc(9)Xs");
        assert!(o.one_way && o.exit_to_exten && o.ignored.is_empty());
        assert_eq!(o.cycle_digit, Some('9'));
        let o = parse_options("e(110:111)Zr(../rec)");
        assert_eq!(o.endpoints, vec!["110", "111"]);
        assert_eq!(o.ignored, vec!['Z']);
        assert_eq!(o.record.as_deref(), Some("rec"));
    }
}
