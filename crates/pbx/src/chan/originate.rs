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

/// Rings `supervisor`; on answer spies on `target` (a channel name) in `mode`.
#[allow(clippy::too_many_arguments)]
pub async fn run_click_to_spy(
    mut chan: Channel,
    env: AppEnv,
    media: BridgeControl,
    supervisor: String,
    target: String,
    mode: SpyMode,
    follow: model::Follow,
    id: MonitorId,
    monitors: Monitors,
) {
    let control = monitors.insert(&id, &supervisor);
    chan.dial_start(vec![supervisor.clone()], Some(RING));
    let answered = loop {
        match chan.next_event().await {
            ChanEvent::PlacedAnswered(channel) => {
                // From now on this task speaks for the supervisor's channel.
                chan.name = channel;
                break true;
            }
            ChanEvent::Hangup => break false,
            ChanEvent::DialDone(outcome) => {
                tracing::info!(monitor = %id, %supervisor, status = outcome.status.as_str(), "click-to-spy: supervisor did not answer");
                break false;
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
