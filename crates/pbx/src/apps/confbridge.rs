//! `ConfBridge(room[,bridge_profile[,user_profile]])`: a compatible subset of
//! Asterisk's conference. The channel is answered and joins `room` (made by its
//! first member, gone with its last); it hears everyone else and is heard by them,
//! until it hangs up, is kicked or presses `#`; then the dialplan goes on with
//! `CONFBRIDGE_RESULT` (`HANGUP`, `KICKED`, `ENDMARKED`, `DTMF`, `FAILED`), as
//! Asterisk's.
//!
//! Profiles are built in (there is no `confbridge.conf`):
//! - bridge: `default_bridge` (a beep when someone joins or leaves), `silent_bridge`
//!   (none);
//! - user: `default_user`; `admin_user` (may mute and kick, through the API);
//!   `marked_user` (admin and marked); `muted_user` (joins muted); `quiet_user` (no
//!   beep for its own joining and leaving); `waiting_user` (`wait_marked` and
//!   `end_marked`: hears music on hold, unheard, until a marked user joins, and
//!   leaves with the last one).
//!
//! Keys while in the room: `1` mute or unmute yourself, `4`/`6` listen volume
//! down/up, `7`/`9` talk volume down/up, `#` leave (`CONFBRIDGE_RESULT=DTMF`);
//! admins also `2` mute or unmute everyone but the admins, `3` kick the member who
//! joined last (Asterisk's admin menu actions).
//!
//! A member is a channel like any other: ChanSpy on it hears the room as that
//! member does, and a whisper reaches that member only.

use dialplan::{AppOutcome, ChannelVars};
use media::mix::VolumeStep;
use media::tone::{FrameSource, ToneGenerator, ToneSpec};

use super::{Input, PbxHost};
use crate::conference::UserFlags;

/// The built-in user profiles.
fn user_profile(name: &str) -> Option<UserFlags> {
    let d = UserFlags::default();
    Some(match name {
        "" | "default_user" => d,
        "admin_user" => UserFlags { admin: true, ..d },
        "marked_user" => UserFlags {
            admin: true,
            marked: true,
            ..d
        },
        "muted_user" => UserFlags {
            start_muted: true,
            ..d
        },
        "quiet_user" => UserFlags { quiet: true, ..d },
        "waiting_user" => UserFlags {
            wait_marked: true,
            end_marked: true,
            ..d
        },
        _ => return None,
    })
}

/// Room names: what a dialplan would put in an extension, no paths or spaces.
fn valid_room(room: &str) -> bool {
    !room.is_empty()
        && room.len() <= 64
        && room
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A short beep into the room: higher for a join, lower for a leave.
fn room_beep(join: bool) -> Box<dyn FrameSource + Send> {
    Box::new(ToneGenerator::new(ToneSpec {
        freqs: vec![if join { 880.0 } else { 440.0 }],
        level_dbfs: -16.0,
        cadence: vec![(120, 0)],
        repeat: false,
    }))
}

/// Why a member left, for `CONFBRIDGE_RESULT` and the `conference.leave` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Left {
    Hangup,
    Kicked,
    EndMarked,
    Dtmf,
    /// A monitor in the room (a barge made a conference) stopped through the API.
    Stopped,
}

impl Left {
    fn result(self) -> &'static str {
        match self {
            Left::Hangup => "HANGUP",
            Left::Kicked => "KICKED",
            Left::EndMarked => "ENDMARKED",
            Left::Dtmf => "DTMF",
            Left::Stopped => "STOPPED",
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Left::Hangup => "hangup",
            Left::Kicked => "kicked",
            Left::EndMarked => "endmarked",
            Left::Dtmf => "dtmf",
            Left::Stopped => "stopped",
        }
    }
}

impl PbxHost {
    pub(super) async fn confbridge(&mut self, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let a: Vec<&str> = args.split(',').map(str::trim).collect();
        let room = a.first().copied().unwrap_or_default();
        if !valid_room(room) {
            tracing::warn!(channel = %self.chan.name, "ConfBridge({args}): {room:?} is not a room name (letters, digits, - _ . up to 64)");
            vars.set("CONFBRIDGE_RESULT", "FAILED");
            return AppOutcome::Continue;
        }
        let beeps = match a.get(1).copied().unwrap_or_default() {
            "" | "default_bridge" => true,
            "silent_bridge" => false,
            other => {
                tracing::warn!(channel = %self.chan.name, "ConfBridge: no bridge profile {other:?} (default_bridge, silent_bridge); using default_bridge");
                true
            }
        };
        let user = a.get(2).copied().unwrap_or_default();
        let flags = user_profile(user).unwrap_or_else(|| {
            tracing::warn!(channel = %self.chan.name, "ConfBridge: no user profile {user:?}; using default_user");
            UserFlags::default()
        });
        if !self.ensure_answered().await {
            return AppOutcome::Hangup;
        }
        let left = self.in_room(room, flags, beeps).await;
        vars.set("CONFBRIDGE_RESULT", left.result());
        if left == Left::Hangup {
            self.hung_up = true;
            return AppOutcome::Hangup;
        }
        AppOutcome::Continue
    }

    /// In the room until the member leaves, one way or another.
    pub(super) async fn in_room(&mut self, room: &str, flags: UserFlags, beeps: bool) -> Left {
        let confs = self.env.conferences.clone();
        let (name, endpoint) = (self.chan.name.clone(), self.chan.caller.endpoint.clone());
        let mut m = confs.join(room, &name, &endpoint, flags);
        let Some(joined) = m.media.take() else {
            return Left::Hangup;
        };
        self.media.talk_to(self.side, Some(joined.says));
        // The room reaches the phone as its peer's audio would (the way music on
        // hold does), so a spy on this channel hears the room and a whisper to it
        // is mixed over the room.
        let mut room_audio = Some(joined.hears);
        let waits = |confs: &crate::Conferences| confs.waiting(room, &name);
        if waits(&confs) {
            let music = self
                .env
                .music
                .player(&self.music_class)
                .unwrap_or_else(|| Box::new(media::tone::Silence::forever()));
            self.media.hold_music(self.side, Some(music));
        } else if let Some(audio) = room_audio.take() {
            self.media.hold_music(self.side, Some(Box::new(audio)));
        }
        if beeps && !flags.quiet {
            confs.play(room, room_beep(true));
        }
        let mut marked_seen = confs.has_marked(room);
        let (mut talk, mut listen) = (VolumeStep::UNITY, VolumeStep::UNITY);
        let mut others_muted = false;
        let left = loop {
            let kicked = m.kicked.clone();
            tokio::select! {
                _ = kicked.notified() => break Left::Kicked,
                changed = m.changes.changed() => {
                    if changed.is_err() {
                        break Left::Hangup;
                    }
                    if !waits(&confs) {
                        if let Some(audio) = room_audio.take() {
                            // A marked member came: the room, instead of the music.
                            self.media.hold_music(self.side, Some(Box::new(audio)));
                        }
                    }
                    let marked = confs.has_marked(room);
                    if flags.end_marked && marked_seen && !marked {
                        break Left::EndMarked;
                    }
                    marked_seen |= marked;
                }
                input = self.input.next(&mut self.chan, None) => match input {
                    Input::Hangup => break Left::Hangup,
                    Input::Digit('1') => {
                        let muted = !m.muted();
                        let _ = confs.set_muted(room, &name, muted);
                    }
                    Input::Digit(d @ ('4' | '6')) => {
                        listen = step(listen, d == '6');
                        m.set_volume(None, Some(listen));
                    }
                    Input::Digit(d @ ('7' | '9')) => {
                        talk = step(talk, d == '9');
                        m.set_volume(Some(talk), None);
                    }
                    // Admins: mute or unmute everyone else, kick the last one in.
                    Input::Digit('2') if flags.admin => {
                        others_muted = !others_muted;
                        confs.mute_others(room, others_muted);
                    }
                    Input::Digit('3') if flags.admin => {
                        if let Some(kicked) = confs.kick_last(room) {
                            tracing::info!(%room, admin = %name, %kicked, "admin kicked the last member");
                        }
                    }
                    Input::Digit('#') => break Left::Dtmf,
                    Input::Remote(crate::monitor::MonitorCmd::Stop) => break Left::Stopped,
                    Input::Remote(crate::monitor::MonitorCmd::Mode(_, reply)) => {
                        // In the room, a monitor has no other mode.
                        if let Some(reply) = reply {
                            reply.send(Err(crate::monitor::MonitorError::TakenOver(
                                "this monitor made the call a conference: it is in the room now, \
                                 in no other mode"
                                    .into(),
                            )));
                        }
                    }
                    Input::Digit(_) | Input::Timeout => {}
                },
            }
        };
        self.media.talk_to(self.side, None);
        self.media.hold_music(self.side, None);
        m.reason = left.reason();
        drop(m);
        if beeps && !flags.quiet {
            confs.play(room, room_beep(false));
        }
        left
    }
}

/// One volume step up or down, within -4..4.
fn step(v: VolumeStep, up: bool) -> VolumeStep {
    let next = v.get() + if up { 1 } else { -1 };
    VolumeStep::new(next.clamp(-4, 4)).unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_and_room_names() {
        assert_eq!(user_profile(""), Some(UserFlags::default()));
        assert!(user_profile("admin_user").unwrap().admin);
        let m = user_profile("marked_user").unwrap();
        assert!(m.admin && m.marked);
        let w = user_profile("waiting_user").unwrap();
        assert!(w.wait_marked && w.end_marked && !w.marked);
        assert_eq!(user_profile("nobody"), None);
        assert!(valid_room("800") && valid_room("sales-huddle.2"));
        for bad in ["", "a b", "../x", "x/y", &"9".repeat(65)] {
            assert!(!valid_room(bad), "{bad:?}");
        }
        assert_eq!(step(VolumeStep::UNITY, true).get(), 1);
        assert_eq!(step(VolumeStep::new(4).unwrap(), true).get(), 4);
        assert_eq!(step(VolumeStep::new(-4).unwrap(), false).get(), -4);
    }
}
