//! ChanSpy and ExtenSpy, with Asterisk's semantics: a spy is an audiohook on the
//! spied channel's audio (its bridge), never a special call. The supervisor's own
//! channel plays what the hook hears and, in whisper and barge, feeds the hook
//! with what the supervisor says.
//!
//! `ChanSpy([chanprefix][,options])`, `ExtenSpy(exten[@context][,options])`; the
//! options are in `options.rs`, one session's records in `session.rs`.
//!
//! While spying: `*` next channel, digits then `#` spy on that extension, `#` alone
//! cycles the volume (unless `d`: then 4/5/6 listen/whisper/barge and 7 take the
//! call over). A monitor started from the API is steered by typed commands (mode,
//! stop) instead of digits.
//!
//! A takeover (`7`, `T`, the API's `takeover`) makes the session the supervisor's
//! call: the agent's leg is released, the client talks with the supervisor, digits
//! steer nothing more, and leaving the session (hangup, exit digit, stop) hangs the
//! call up.

mod conference;
mod follow;
mod options;
mod session;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dialplan::{AppOutcome, ChannelVars};
use media::mix::{SpyMode, VolumeStep};
use media::{LinkSource, PlayEnd};

use super::play::{split_first, Played};
use super::recordings;
use super::{Input, PbxHost};
use crate::events::Event;
use crate::monitor::{MonitorCmd, MonitorError};
use crate::permit::{Denied, Policy};
use crate::registry::ChannelEntry;
use follow::{after_change, Aim, Followed, PRESENCE_EVERY};
pub(crate) use options::{parse_options, spec_matches, SpyOptions};
use session::{session_id, SpySession};

/// The prompt a group's `announce` policy plays to both parties.
const ANNOUNCEMENT: &str = "call-monitored";

/// Sleeps until `at`; never wakes when there is none.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// A takeover by key: how long both parties hear the supervisor before the agent
/// is released, so the supervisor's voice is back after the key press (a phone
/// sends the key for 100-250 ms, then its jitter buffer on our side catches up).
const KEY_HANDOVER: Duration = Duration::from_millis(400);

/// How long a refusal waits for a fresher configuration before it stands.
const REFRESH_WAIT: Duration = Duration::from_secs(1);

/// How one spy session ended.
enum SpyEnd {
    Next,
    Exit,
    /// `X`: leave for this one-digit extension.
    ExitTo(char),
    Hangup,
    TargetGone,
    Jump(String),
    /// The call changed under the session: go on with this aim (see `follow.rs`).
    Follow(Aim),
    /// The barge became a conference (see `conference.rs`); never leaves `spy_on`.
    Conference,
}

/// What a running spy session steers: the hook on the spied call, and how.
struct Steer<'a> {
    t: &'a ChannelEntry,
    link: media::mix::SupervisorId,
    mode: SpyMode,
    policy: &'a Policy,
    /// Plays refusal tones over what the supervisor hears.
    cue: media::tone::Cue,
    /// The supervisor's voice toward the hook (whisper, barge, takeover).
    says: media::FrameSender,
    /// This session took the call over: the call is the supervisor's now.
    taken: bool,
    /// The mode change comes from a key the supervisor pressed.
    after_key: bool,
    /// What the monitored parties are told (their groups' policy).
    notice: store::GroupNotice,
    /// The call became this conference room: the session goes on in it.
    conference: Option<String>,
}

/// Three short congestion bursts: "no" while spying goes on.
fn refusal_tone() -> Box<dyn media::tone::FrameSource + Send> {
    let tone = media::tone::ToneSpec {
        repeat: false,
        cadence: vec![(250, 250); 3],
        ..media::tone::ToneSpec::congestion()
    };
    Box::new(media::tone::ToneGenerator::new(tone))
}

/// Whom a refused attempt was about: a live channel, or only what was asked for.
struct Refused<'a> {
    endpoint: &'a str,
    channel: &'a str,
    peer: Option<&'a str>,
}

impl<'a> Refused<'a> {
    fn channel(c: &'a ChannelEntry) -> Refused<'a> {
        Refused {
            endpoint: &c.info.endpoint,
            channel: &c.info.name,
            peer: c.info.bridged_to.as_deref(),
        }
    }
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
        self.chan.set_in_chanspy(true);
        let mut mode = opts.mode.unwrap_or(SpyMode::Listen);
        let mut volume = VolumeStep::new(opts.volume.clamp(-4, 4)).unwrap_or(VolumeStep::UNITY);
        let mut last: Option<String> = None;
        let mut aim: Option<Aim> = None;
        let supervisor = self.chan.caller.endpoint.clone();
        // A refusal is decided on a fresh snapshot: a grant made a moment ago counts.
        let mut refreshed = false;
        let outcome = loop {
            // Grants as they are now: a revoked supervisor is refused at the next
            // channel, not only on the next call.
            let config = self.env.config.snapshot();
            let policy = Policy::of(&config, &supervisor);
            if !policy.is_supervisor() && !refreshed {
                self.env.config.catch_up(REFRESH_WAIT).await;
                refreshed = true;
                continue;
            }
            if !policy.is_supervisor() {
                // Refused out loud and recorded whether or not the target exists,
                // so nobody learns which extensions are on a call.
                let endpoint = spec_endpoint(&spec);
                let asked = Refused {
                    endpoint: &endpoint,
                    channel: "",
                    peer: None,
                };
                self.deny(asked, mode, Denied::NotSupervisor).await;
                break AppOutcome::Continue;
            }
            let target = if let Some(aim) = aim.take() {
                match self.follow(&aim, opts, &policy, mode).await {
                    Followed::To(entry) => *entry,
                    Followed::Lost if opts.exit_on_hangup => break AppOutcome::Continue,
                    Followed::Lost => {
                        last = None;
                        continue;
                    }
                    Followed::Refused | Followed::Stop => break AppOutcome::Continue,
                    Followed::Hangup => break AppOutcome::Hangup,
                }
            } else {
                let seen = self.spy_candidates(&spec, opts, &config);
                let mut candidates = Vec::new();
                let mut refused = None;
                for c in seen {
                    match policy.check_channel(&c.info, &config, mode) {
                        Ok(()) => candidates.push(c),
                        Err(d) => refused = refused.or(Some((c, d))),
                    }
                }
                // Naming a channel one may not monitor is refused out loud, and recorded;
                // a scan just passes such channels by.
                if candidates.is_empty()
                    && !spec.trim().is_empty()
                    && refused.is_some()
                    && !refreshed
                {
                    self.env.config.catch_up(REFRESH_WAIT).await;
                    refreshed = true;
                    continue;
                }
                if candidates.is_empty() && !spec.trim().is_empty() {
                    if let Some((target, denied)) = refused {
                        self.deny(Refused::channel(&target), mode, denied).await;
                        break AppOutcome::Continue;
                    }
                }
                let target = candidates
                    .iter()
                    .find(|c| {
                        last.as_ref()
                            .is_none_or(|l| c.info.name.as_str() > l.as_str())
                    })
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
                        Input::Remote(MonitorCmd::Stop) => break AppOutcome::Continue,
                        Input::Digit(d) if Some(d) == opts.exit_digit => {
                            break AppOutcome::Continue
                        }
                        _ => {}
                    }
                    last = None;
                    continue;
                };
                target
            };
            last = Some(target.info.name.clone());
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
                SpyEnd::Follow(next) => aim = Some(next),
                SpyEnd::Conference => break AppOutcome::Continue,
            }
        };
        self.chan.set_in_chanspy(false);
        if matches!(outcome, AppOutcome::Hangup) {
            self.hung_up = true;
        }
        outcome
    }

    /// Channels this spy may monitor now, ordered by name: never itself, never a
    /// channel that is itself spying.
    fn spy_candidates(
        &self,
        spec: &str,
        opts: &SpyOptions,
        config: &store::ConfigSnapshot,
    ) -> Vec<ChannelEntry> {
        let me = &self.chan.name;
        self.env
            .registry
            .snapshot()
            .into_iter()
            .filter(|c| &c.info.name != me && !c.info.in_chanspy && !c.bridge.is_closed())
            .filter(|c| spec_matches(spec, &c.info.name))
            .filter(|c| !opts.bridged_only || c.info.bridged_to.is_some())
            .filter(|c| {
                opts.endpoints.is_empty() || opts.endpoints.iter().any(|e| e == &c.info.endpoint)
            })
            .filter(|c| {
                opts.groups.is_empty()
                    || c.info
                        .groups(config)
                        .iter()
                        .any(|g| opts.groups.iter().any(|w| w == g))
            })
            .filter(|c| {
                opts.queues.is_empty()
                    || c.info
                        .queue
                        .as_ref()
                        .is_some_and(|q| opts.queues.contains(q))
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
            if t.info.endpoint.chars().all(|c| c.is_ascii_digit()) {
                for d in t.info.endpoint.chars() {
                    if let Played::Hangup = self.play_file(&format!("digits/{d}"), false).await {
                        return SpyEnd::Hangup;
                    }
                }
            }
        }
        // A takeover starts as listening: the hook changes only once the switch
        // has given us the call.
        let attach_as = if matches!(*mode, SpyMode::Takeover | SpyMode::Conference) {
            SpyMode::Listen
        } else {
            *mode
        };
        let Some(link) = t
            .bridge
            .attach_spy_tap(t.info.side, attach_as, *volume, opts.one_way)
            .await
        else {
            return SpyEnd::TargetGone;
        };
        let mut session = SpySession::start(
            &self.env,
            self.chan.requester(),
            &self.chan.caller.endpoint,
            &self.chan.name,
            t,
            attach_as,
            opts.monitor.as_deref(),
        );
        let talk = |mode: SpyMode| mode != SpyMode::Listen || opts.private_whisper;
        self.media
            .talk_to(self.side, talk(attach_as).then(|| link.says.clone()));
        let hears: Box<dyn media::tone::FrameSource + Send> = if opts.private_whisper {
            // Talk, hear nothing.
            Box::new(media::tone::Silence::forever())
        } else {
            let source = Box::new(LinkSource::new(link.hears));
            match &opts.record {
                Some(name) => self.recording(name, source, t, session.id()),
                None => source,
            }
        };
        // Refusal tones are heard over the call, without stopping it.
        let (hears, cue) = media::tone::Interruptible::new(hears);
        let mut done = self.media.play(self.side, Box::new(hears));
        let mut steer = Steer {
            t,
            link: link.id,
            mode: attach_as,
            policy,
            cue,
            says: link.says.clone(),
            taken: false,
            after_key: false,
            conference: None,
            notice: {
                let config = self.env.config.snapshot();
                config.notice_for(&t.info.groups(&config))
            },
        };
        if !matches!(*mode, SpyMode::Takeover | SpyMode::Conference) {
            // (A takeover at the start tells them as the mode change it is.)
            self.give_notice(&steer, steer.notice.notice);
        }
        if matches!(*mode, SpyMode::Takeover | SpyMode::Conference) {
            let asked = *mode;
            *mode = attach_as;
            let _ = self
                .change_mode(&mut steer, &mut session, asked, opts)
                .await;
        }
        let mut typed = String::new();
        let every = Duration::from_secs(u64::from(steer.notice.every_s));
        let mut reminder = (steer.notice.every_s > 0).then(|| tokio::time::Instant::now() + every);
        // Who the spied channel talks to, for `F` (see `follow.rs`).
        let client = t.info.bridged_to.clone();
        let mut presence = tokio::time::interval(PRESENCE_EVERY);
        presence.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let (end, reason) = loop {
            let input = tokio::select! {
                _ = presence.tick(), if !steer.taken => {
                    // A transfer may take the channel off this bridge without
                    // closing it: the hook would hear whoever comes next.
                    match after_change(self, t, client.as_ref(), opts) {
                        Some(end) => break end,
                        None => continue,
                    }
                }
                () = sleep_until_some(reminder) => {
                    // A reminder is a beep, even where the start was announced.
                    let beep = match steer.notice.notice {
                        store::Notice::Announce => store::Notice::Both,
                        n => n,
                    };
                    self.give_notice(&steer, beep);
                    reminder = Some(tokio::time::Instant::now() + every);
                    continue;
                }
                r = &mut done => {
                    // The hook's queue closing ends the player: the spied call is gone.
                    // Our own bridge closing (or stopping the player) means we are.
                    match r {
                        Ok(PlayEnd::Finished) if steer.taken => {
                            // The call we held ended: so does ours.
                            self.chan.hangup(None);
                            break (SpyEnd::Hangup, "the other party hung up")
                        }
                        Ok(PlayEnd::Finished) => match after_change(self, t, client.as_ref(), opts) {
                            Some((SpyEnd::TargetGone, _)) | None => break (SpyEnd::TargetGone, "target hung up"),
                            Some(end) => break end,
                        },
                        Ok(PlayEnd::Stopped) | Err(_) => break (SpyEnd::Hangup, "supervisor hung up"),
                    }
                }
                i = self.input.next(&mut self.chan, None) => i,
            };
            let asked = match input {
                Input::Hangup => break (SpyEnd::Hangup, "supervisor hung up"),
                Input::Timeout => None,
                // Leaving a call one took over hangs it up: nobody else is on it.
                Input::Remote(MonitorCmd::Stop) if steer.taken => {
                    self.chan.hangup(None);
                    break (SpyEnd::Hangup, "stopped through the API");
                }
                Input::Remote(MonitorCmd::Stop) => break (SpyEnd::Exit, "stopped through the API"),
                Input::Remote(MonitorCmd::Mode(m, reply)) => Some((m, reply)),
                Input::Digit(d) if Some(d) == opts.exit_digit && steer.taken => {
                    self.chan.hangup(None);
                    break (SpyEnd::Hangup, "exit digit");
                }
                Input::Digit(d) if Some(d) == opts.exit_digit => {
                    break (SpyEnd::Exit, "exit digit")
                }
                // The call is the supervisor's now: digits steer nothing.
                Input::Digit(_) if steer.taken => None,
                Input::Digit(d) if opts.dtmf_modes && matches!(d, '4'..='8') => {
                    let m = match d {
                        '4' => SpyMode::Listen,
                        '5' => SpyMode::Whisper,
                        '6' => SpyMode::Barge,
                        '8' => SpyMode::Conference,
                        _ => SpyMode::Takeover,
                    };
                    if m == SpyMode::Takeover {
                        // The key press itself: the phone sends its digit instead of
                        // voice for as long as the key is down.
                        steer.after_key = true;
                    }
                    Some((m, None))
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
                    None
                }
                Input::Digit(d) if d.is_ascii_digit() => {
                    typed.push(d);
                    None
                }
                Input::Digit(_) => None,
            };
            if let Some((new, reply)) = asked {
                let outcome = self.change_mode(&mut steer, &mut session, new, opts).await;
                steer.after_key = false;
                *mode = steer.mode;
                if let Some(reply) = reply {
                    reply.send(outcome);
                }
                if steer.conference.is_some() {
                    break (SpyEnd::Conference, "conference");
                }
            }
        };
        // Into the room before the hook goes, so the parties keep hearing us.
        let room = steer.conference.take();
        if let Some(room) = &room {
            self.adopt_call(t, client.as_ref(), room);
        }
        t.bridge.detach_spy(link.id);
        self.media.talk_to(self.side, None);
        self.media.stop_play(self.side);
        let (end, reason) = match room {
            Some(room) => self.supervisor_in_room(&room).await,
            None => (end, reason),
        };
        session.end(reason);
        if matches!(end, SpyEnd::Hangup) {
            self.hung_up = true;
        }
        end
    }

    /// One mode change asked for (a digit, the API, `T` at the start): refused
    /// when the grant does not allow it or the call was taken over, else applied
    /// to the hook at once. A takeover first gets the call from the switch, then
    /// switches the hook and releases the agent's side in one step (the same
    /// control queue, applied before the same tick), so the client hears no gap.
    async fn change_mode(
        &mut self,
        s: &mut Steer<'_>,
        session: &mut SpySession,
        new: SpyMode,
        opts: &SpyOptions,
    ) -> Result<(), MonitorError> {
        if new == s.mode {
            return Ok(());
        }
        if s.taken {
            let why = "this monitor took the call over: it is the supervisor's call now, \
                       in no other mode";
            session.mode_refused(new, s.t, why.to_string());
            s.cue.play(refusal_tone());
            return Err(MonitorError::TakenOver(why.to_string()));
        }
        if !s.policy.mode_allowed(new) {
            let why = Denied::Mode(new).reason(&self.chan.caller.endpoint, &s.t.info.endpoint);
            session.mode_refused(new, s.t, why.clone());
            s.cue.play(refusal_tone());
            return Err(MonitorError::Forbidden(why));
        }
        if new == SpyMode::Conference {
            return self.conference_mode(s, session, opts).await;
        }
        if new == SpyMode::Takeover {
            if s.after_key {
                // A phone sends a pressed key (RFC 4733) instead of its voice, and
                // resumes only after the key is up: the client would hear nothing
                // in between. So the client hears both (a barge) until the
                // supervisor's voice is back, then the agent goes.
                s.t.bridge.set_spy_mode(s.link, SpyMode::Barge);
                self.media.talk_to(self.side, Some(s.says.clone()));
                tokio::time::sleep(KEY_HANDOVER).await;
            }
            // The answer comes within a switch round trip; digits wait meanwhile.
            let granted = self.chan.take_over(&s.t.info.name).await;
            if let Err(refused) = granted {
                let talk = s.mode != SpyMode::Listen || opts.private_whisper;
                s.t.bridge.set_spy_mode(s.link, s.mode);
                self.media.talk_to(self.side, talk.then(|| s.says.clone()));
                let why = refused.to_string();
                session.mode_refused(new, s.t, why.clone());
                s.cue.play(refusal_tone());
                return Err(MonitorError::TakenOver(why));
            }
            s.t.bridge.set_spy_mode(s.link, new);
            s.t.bridge.release(s.t.info.side);
            s.taken = true;
        } else {
            s.t.bridge.set_spy_mode(s.link, new);
        }
        let talk = new != SpyMode::Listen || opts.private_whisper;
        self.media.talk_to(self.side, talk.then(|| s.says.clone()));
        s.mode = new;
        session.mode_changed(new);
        self.give_notice(s, s.notice.notice);
        Ok(())
    }

    /// Tells the monitored parties, as their groups' policy asks: a beep to the
    /// agent (the spied channel), to both, or the announcement to both. Mixed
    /// over what they hear, so the call goes on underneath.
    fn give_notice(&self, s: &Steer<'_>, notice: store::Notice) {
        let beep = || -> Box<dyn media::tone::FrameSource + Send> {
            Box::new(media::tone::ToneGenerator::new(
                media::tone::ToneSpec::monitor_notice(),
            ))
        };
        let side = s.t.info.side;
        match notice {
            store::Notice::None => {}
            store::Notice::Agent => s.t.bridge.notice(side, beep()),
            store::Notice::Both => {
                s.t.bridge.notice(side, beep());
                s.t.bridge.notice(side.other(), beep());
            }
            store::Notice::Announce => {
                for to in [side, side.other()] {
                    match self.env.prompts.open("en", ANNOUNCEMENT) {
                        Ok(p) => s.t.bridge.notice(to, Box::new(p.player())),
                        Err(e) => {
                            tracing::error!("monitoring announcement: {e}; beeping instead");
                            s.t.bridge.notice(to, beep());
                        }
                    }
                }
            }
        }
    }

    /// A refused attempt: recorded, announced as an event, and the supervisor hears
    /// a congestion tone.
    async fn deny(&mut self, target: Refused<'_>, mode: SpyMode, denied: Denied) {
        let supervisor = self.chan.caller.endpoint.clone();
        let reason = denied.reason(&supervisor, target.endpoint);
        tracing::warn!(supervisor = %self.chan.name, target = %target.channel, "monitoring refused: {reason}");
        let attempt = store::MonitorStart {
            id: session_id(),
            supervisor: supervisor.clone(),
            supervisor_channel: self.chan.name.clone(),
            target_endpoint: target.endpoint.to_string(),
            target_channel: target.channel.to_string(),
            peer_channel: target.peer.map(str::to_string),
            mode: mode.as_str().into(),
            started_at: SystemTime::now(),
        };
        self.env.config.submit(store::Write::MonitorDenied {
            attempt,
            reason: reason.clone(),
        });
        self.env.events.emit(Event::MonitorDenied {
            supervisor,
            target_channel: target.channel.to_string(),
            mode: mode.as_str().into(),
            reason,
            session: None,
        });
        let _ = self.play_source(refusal_tone(), false).await;
    }

    /// Wraps what the spy hears in a recorder, listed in the store as a `chanspy`
    /// recording of the spied channel `t` within session `session`; on a file
    /// error, logs and plays on.
    fn recording(
        &self,
        name: &str,
        source: Box<dyn media::tone::FrameSource + Send>,
        t: &ChannelEntry,
        session: &str,
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
                let recorder = media::RecordingSource::new(source, rec);
                let (caller, callee) = recordings::parties_of(&self.env, t);
                let start = store::RecordingStart {
                    id: String::new(),
                    kind: store::RecordingKind::ChanSpy,
                    call: Some(t.info.call_ref.clone()),
                    channel: t.info.name.clone(),
                    peer_channel: t.info.bridged_to.clone(),
                    caller,
                    callee,
                    monitor_session: Some(session.to_string()),
                    supervisor: recordings::tidy(&self.chan.caller.endpoint),
                    started_at: SystemTime::now(),
                    tracks: Vec::new(),
                };
                let file = recordings::TrackFile {
                    track: store::Track::Heard,
                    path,
                    status: recorder.status(),
                };
                recordings::register(&self.env, start, vec![file]);
                Box::new(recorder)
            }
            Err(e) => {
                tracing::error!(channel = %self.chan.name, "ChanSpy cannot record to {}: {e}", path.display());
                source
            }
        }
    }
}

/// The endpoint a spec names (`SIP/110` -> `110`), or `all` for a scan.
fn spec_endpoint(spec: &str) -> String {
    let spec = spec.trim();
    let ep = spec.split_once('/').map_or(spec, |(_, rest)| rest).trim();
    if ep.is_empty() || spec.eq_ignore_ascii_case("sip") || spec.eq_ignore_ascii_case("pjsip") {
        "all".to_string()
    } else {
        ep.chars().take(80).collect()
    }
}
