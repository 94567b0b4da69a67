//! Click-to-spy's channel task: the switch has placed a call with no caller phone
//! (its A side is virtual) and checked the request; this task rings the
//! supervisor's phone (side B of the bridge) and, once it is answered, runs
//! ChanSpy on the requested channel, steered by typed commands from the API.

use std::time::Duration;

use dialplan::ChannelVars;
use media::mix::SpyMode;
use media::{BridgeControl, Side};

use super::{ChanEvent, Channel};
use crate::apps::{AppEnv, PbxHost, SpyOptions};
use crate::monitor::{MonitorId, Monitors};

/// How long the supervisor's phone may ring.
const RING: Duration = Duration::from_secs(30);

/// What a click-to-spy task does.
pub struct ClickToSpy {
    pub supervisor: String,
    /// A channel name.
    pub target: String,
    pub mode: SpyMode,
    pub follow: model::Follow,
    pub id: MonitorId,
    /// The supervisor's channel, when its leg is answered already (a browser's).
    pub answered: Option<String>,
}

/// Rings the supervisor (unless its leg is answered already); on answer spies on
/// the target in the mode asked for.
pub async fn run_click_to_spy(
    mut chan: Channel,
    env: AppEnv,
    media: BridgeControl,
    spy: ClickToSpy,
    monitors: Monitors,
) {
    let ClickToSpy {
        supervisor,
        target,
        mode,
        follow,
        id,
        answered,
    } = spy;
    let control = monitors.insert(&id, &supervisor);
    let answered = match answered {
        Some(channel) => {
            chan.name = channel;
            true
        }
        None => ring(&mut chan, &supervisor, &id).await,
    };
    if answered {
        let name = chan.name.clone();
        let mut host = PbxHost::on_side(chan, env, media, Side::B);
        host.answered = true;
        host.input.set_remote(control);
        // `agent`: ChanSpy on the extension without E (its next call too);
        // `client`: F; `none`: this channel only, ending with it.
        let stays = follow == model::Follow::Agent;
        let opts = SpyOptions {
            mode: Some(mode),
            quiet: true,
            dtmf_modes: true,
            exit_on_hangup: !stays,
            stop_when_none: !stays,
            follow_client: follow == model::Follow::Client,
            monitor: Some(id.0.clone()),
            ..Default::default()
        };
        let spec = match crate::channel::endpoint_of(&target) {
            Some(ep) if stays => format!("SIP/{ep}"),
            _ => target,
        };
        let mut vars = ChannelVars::new(name, id.0.clone());
        let _ = host.spy_with(spec, &opts, &mut vars).await;
        host.chan.hangup(None);
    } else {
        chan.hangup(None);
    }
    monitors.remove(&id);
}

/// Rings the supervisor's phone: true once it answered.
async fn ring(chan: &mut Channel, supervisor: &str, id: &MonitorId) -> bool {
    chan.dial_start(vec![supervisor.to_string()], Some(RING));
    loop {
        match chan.next_event().await {
            ChanEvent::PlacedAnswered(channel) => {
                // From now on this task speaks for the supervisor's channel.
                chan.name = channel;
                return true;
            }
            ChanEvent::Hangup => return false,
            ChanEvent::DialDone(outcome) => {
                tracing::info!(monitor = %id, %supervisor, status = outcome.status.as_str(), "click-to-spy: supervisor did not answer");
                return false;
            }
            ChanEvent::Dtmf(_)
            | ChanEvent::AnswerDone(_)
            | ChanEvent::TakeOverDone(_)
            | ChanEvent::Transferred(_)
            | ChanEvent::ConferenceDone(_)
            | ChanEvent::TransferDone { .. }
            | ChanEvent::QueueJoined(_)
            | ChanEvent::QueueAnnounce { .. }
            | ChanEvent::QueuePeriodic(_)
            | ChanEvent::QueueConnected { .. }
            | ChanEvent::QueueExit(_)
            | ChanEvent::QueueMemberDone(_) => {}
        }
    }
}
