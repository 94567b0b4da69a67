//! Dialplan applications: the `dialplan::Host` the PBX gives the interpreter. Each
//! application works on one channel through its `Channel` handle (call control, via
//! the switch) and its media bridge (prompts, tones, DTMF, spy hooks).
//!
//! Control-flow applications (Set, Goto, Gosub, Macro, ...) never get here: the
//! interpreter runs them itself.

mod auth;
mod catalog;
pub(crate) mod chanspy;
pub(crate) mod confbridge;
mod dial;
mod input;
mod letters;
mod mixmonitor;
mod play;
mod queue;
mod recordings;

use std::sync::Arc;

use dialplan::{AppOutcome, ChannelVars, Dialplan, Host};
use media::wav::Prompts;
use media::{BridgeControl, Side};

use crate::chan::Channel;
use crate::registry::Registry;
pub use catalog::{load_options, App};
pub(crate) use chanspy::SpyOptions;
pub use input::Input;
pub use recordings::PendingRecordings;

/// What every channel task shares: the configuration (read from memory, written
/// behind), the dialplan, sounds, live channels, events.
#[derive(Clone)]
pub struct AppEnv {
    pub config: store::LiveConfig,
    pub plan: Arc<Dialplan>,
    pub prompts: Arc<Prompts>,
    /// Music-on-hold classes (`MusicOnHold`, held parties).
    pub music: Arc<crate::moh::MusicLibrary>,
    pub registry: Registry,
    /// Where MixMonitor and ChanSpy's `r()` option record.
    pub recordings: std::path::PathBuf,
    /// Recordings whose end is not on record yet (shutdown waits for them).
    pub pending_recordings: PendingRecordings,
    pub events: crate::events::EventBus,
    /// Conference rooms (`ConfBridge`).
    pub conferences: crate::conference::Conferences,
    /// PIN failures across calls (`Authenticate`).
    pub pins: crate::pinguard::PinGuard,
    /// The call-center floor (`QUEUE_WAITING_COUNT()`, `QUEUE_MEMBER()`).
    pub floor: crate::queue::FloorView,
}

/// One channel's host: its call-control handle and its media.
pub struct PbxHost {
    pub chan: Channel,
    pub env: AppEnv,
    /// The caller's leg of this channel's bridge.
    pub media: BridgeControl,
    pub side: Side,
    pub input: input::InputQueue,
    pub answered: bool,
    pub hung_up: bool,
    /// `SetMusicOnHold`'s class (empty: `default`), for `MusicOnHold()`.
    pub music_class: String,
}

impl PbxHost {
    pub fn new(chan: Channel, env: AppEnv, media: BridgeControl) -> PbxHost {
        PbxHost::on_side(chan, env, media, Side::A)
    }

    /// A host whose phone is on `side` of the bridge (B for a call the PBX placed).
    pub fn on_side(chan: Channel, env: AppEnv, media: BridgeControl, side: Side) -> PbxHost {
        let dtmf = media.dtmf(side);
        PbxHost {
            chan,
            env,
            media,
            side,
            input: input::InputQueue::new(dtmf),
            answered: false,
            hung_up: false,
            music_class: String::new(),
        }
    }

    /// Answers if not yet answered; false when the caller is gone.
    pub async fn ensure_answered(&mut self) -> bool {
        if self.hung_up {
            return false;
        }
        if !self.answered {
            if !self.chan.answer().await {
                self.hung_up = true;
                return false;
            }
            self.answered = true;
            self.media.set_local(self.side, true);
        }
        true
    }

    async fn run_app(&mut self, app: &str, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let Some(known) = App::parse(app) else {
            return AppOutcome::Fail(format!(
                "application {app}({args}) is not available in spygroup; see `spygroup dialplan check`"
            ));
        };
        match known {
            App::Answer => {
                if !self.ensure_answered().await {
                    return AppOutcome::Hangup;
                }
                let ms: u64 = args.trim().parse().unwrap_or(0);
                self.wait_ms(ms).await
            }
            App::Hangup => {
                self.chan.hangup(hangup_status(args));
                self.hung_up = true;
                AppOutcome::Hangup
            }
            App::Wait => {
                let secs: f64 = args.trim().parse().unwrap_or(0.0);
                self.wait_ms((secs.max(0.0) * 1000.0) as u64).await
            }
            App::SetMusicOnHold => {
                let class = args.split(',').next().unwrap_or("").trim();
                self.music_class = class.to_string();
                self.chan.set_music_class(class);
                AppOutcome::Continue
            }
            App::MusicOnHold => self.music_on_hold(args).await,
            App::MixMonitor => self.mix_monitor(args, vars),
            App::StopMixMonitor => self.stop_mix_monitor(),
            App::NoCdr => {
                self.chan.no_cdr();
                AppOutcome::Continue
            }
            App::Ringing => {
                self.chan.ringing();
                AppOutcome::Continue
            }
            App::Progress => {
                self.chan.progress();
                AppOutcome::Continue
            }
            App::Busy => self.refuse(486, media::tone::ToneSpec::busy()).await,
            App::Congestion => self.refuse(503, media::tone::ToneSpec::congestion()).await,
            App::Playback => self.playback(args, vars).await,
            App::Background => self.background(args, vars).await,
            App::WaitExten => self.wait_exten(args, vars).await,
            App::Read => self.read(args, vars).await,
            App::SayDigits => self.say_digits(args).await,
            App::Playtones => self.playtones(args),
            App::StopPlaytones => {
                self.media.stop_play(self.side);
                AppOutcome::Continue
            }
            App::Echo => self.echo().await,
            App::Authenticate => self.authenticate(args, vars).await,
            App::Dial => self.dial(args, vars).await,
            App::Transfer => self.transfer(args, vars).await,
            App::ConfBridge => self.confbridge(args, vars).await,
            App::ChanSpy => self.chanspy(args, vars, false).await,
            App::ExtenSpy => self.chanspy(args, vars, true).await,
            App::Queue => self.queue(args, vars).await,
            App::AddQueueMember => self.add_queue_member(args, vars).await,
            App::RemoveQueueMember => self.remove_queue_member(args, vars).await,
            App::PauseQueueMember => self.pause_queue_member(args, vars, true).await,
            App::UnpauseQueueMember => self.pause_queue_member(args, vars, false).await,
        }
    }

    /// Busy/Congestion: a final response before answer, the tone after.
    async fn refuse(&mut self, status: u16, tone: media::tone::ToneSpec) -> AppOutcome {
        if !self.answered {
            self.chan.hangup(Some(status));
            self.hung_up = true;
            return AppOutcome::Hangup;
        }
        drop(
            self.media
                .play(self.side, Box::new(media::tone::ToneGenerator::new(tone))),
        );
        loop {
            if let Input::Hangup = self.input.next(&mut self.chan, None).await {
                self.hung_up = true;
                return AppOutcome::Hangup;
            }
        }
    }

    /// Waits, keeping typed digits for later applications; ends on hangup.
    async fn wait_ms(&mut self, ms: u64) -> AppOutcome {
        if ms == 0 || self.pause(ms).await {
            AppOutcome::Continue
        } else {
            AppOutcome::Hangup
        }
    }
}

impl Host for PbxHost {
    async fn exec(&mut self, app: &str, args: &str, chan: &mut ChannelVars) -> AppOutcome {
        // ChanSpy's g() reads SPYGROUP from the live-channel table: keep it current.
        let group = chan.get("SPYGROUP").unwrap_or_default().to_string();
        self.chan.set_spygroup(&group);
        let name = self.chan.name.clone();
        if self.hung_up {
            return AppOutcome::Hangup;
        }
        tracing::debug!(channel = %name, %app, %args, "exec");
        let outcome = self.run_app(app, args, chan).await;
        if let AppOutcome::Fail(why) = &outcome {
            tracing::error!(channel = %name, "{why}");
        }
        outcome
    }

    // AstDB: read from the configuration snapshot (with this PBX's own pending
    // writes), written behind, so `DB()` works through a database outage.
    async fn db_get(&mut self, family: &str, key: &str) -> Option<String> {
        self.env.config.db_get(family, key)
    }

    async fn db_put(&mut self, family: &str, key: &str, value: &str) -> bool {
        self.env.config.db_put(family, key, value).is_ok()
    }

    async fn db_del(&mut self, family: &str, key: &str) -> bool {
        self.env.config.db_del(family, key).unwrap_or(false)
    }

    async fn db_deltree(&mut self, family: &str) -> usize {
        self.env.config.db_deltree(family).unwrap_or(0)
    }

    async fn function(&mut self, name: &str, args: &str) -> Option<String> {
        queue::function(&self.env, name, args)
    }
}

/// `Hangup(cause)`: Asterisk's Q.850 cause codes to the SIP status an unanswered
/// caller gets.
fn hangup_status(args: &str) -> Option<u16> {
    match args.trim().parse::<u16>().ok()? {
        1 | 3 => Some(404),
        17 => Some(486),
        18 | 19 => Some(480),
        21 => Some(403),
        34 | 38 | 41 | 42 => Some(503),
        _ => None,
    }
}
