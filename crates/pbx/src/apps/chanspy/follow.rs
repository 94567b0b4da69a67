//! Which call a spy session goes on with when its call changes under it (the
//! monitoring rule for transfers, in `docs/architecture.md`):
//!
//! - a session aimed at a channel stays with that channel: if an attended transfer
//!   moves it to another call, the hook moves with it; if the channel leaves (its
//!   phone transferred the client away, or hung up), the session ends there and,
//!   without `E`, ChanSpy's scan finds that endpoint's next call, as Asterisk's does;
//! - with `F` (the API's `follow: "client"`), a session whose channel leaves stays
//!   with the party that channel was talking to (the client): it waits while the
//!   client rings the transfer target, then monitors whoever the client is bridged
//!   to next, if the supervisor's grant covers that channel (else it is refused and
//!   recorded like any other refusal).
//!
//! A call taken over is not a change: the client stays on the same bridge, talking
//! with the supervisor who took it, and other spies of the call stay with it.
//!
//! Each move ends one audit session and starts the next, so the record says who
//! was monitored when.

use std::time::Duration;

use media::mix::SpyMode;

use super::{Refused, SpyEnd, SpyOptions};
use crate::apps::{Input, PbxHost};
use crate::monitor::MonitorCmd;
use crate::permit::Policy;
use crate::registry::ChannelEntry;

/// How often a running session checks that its channel is still where it was, and
/// a following session looks for the client's new peer.
pub(super) const PRESENCE_EVERY: Duration = Duration::from_millis(250);

/// Where the next session of a run is aimed, instead of scanning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Aim {
    /// The same channel, on the call it moved to.
    Channel(String),
    /// Whoever `client` is bridged to next (not `left`, the channel that left).
    Client { client: String, left: String },
}

/// How looking for the next target ended.
pub(super) enum Followed {
    To(Box<ChannelEntry>),
    /// The aimed-at channel (or the client) is gone.
    Lost,
    /// The next target is outside the grant: refused and recorded.
    Refused,
    Hangup,
    Stop,
}

/// What a session whose hook may be stale does next: `None` while its channel is
/// where the hook is.
pub(super) fn after_change(
    host: &PbxHost,
    t: &ChannelEntry,
    client: Option<&String>,
    opts: &SpyOptions,
) -> Option<(SpyEnd, &'static str)> {
    match host.env.registry.get(&t.info.name) {
        Some(now) if now.info.bridge == t.info.bridge && now.info.side == t.info.side => None,
        Some(_) => Some((
            SpyEnd::Follow(Aim::Channel(t.info.name.clone())),
            "the channel moved to another call",
        )),
        // Taken over: the client talks with the supervisor who took the call, on
        // the same bridge; other spies stay with the call.
        None if taken_over(host, client) => None,
        None => match client {
            Some(client) if opts.follow_client => Some((
                SpyEnd::Follow(Aim::Client {
                    client: client.clone(),
                    left: t.info.name.clone(),
                }),
                "the channel left; following the client",
            )),
            _ => Some((SpyEnd::TargetGone, "target left the call")),
        },
    }
}

/// Is `client` now talking with a channel that runs ChanSpy (a supervisor who
/// took the call over)?
fn taken_over(host: &PbxHost, client: Option<&String>) -> bool {
    let registry = &host.env.registry;
    client
        .and_then(|c| registry.get(c))
        .and_then(|c| c.info.bridged_to)
        .and_then(|peer| registry.get(&peer))
        .is_some_and(|peer| peer.info.in_chanspy)
}

impl PbxHost {
    /// Waits until `aim` names a live channel the grant covers.
    pub(super) async fn follow(
        &mut self,
        aim: &Aim,
        opts: &SpyOptions,
        policy: &Policy,
        mode: SpyMode,
    ) -> Followed {
        loop {
            let found = match aim {
                Aim::Channel(name) => match self.env.registry.get(name) {
                    Some(e) => Some(e),
                    None => return Followed::Lost,
                },
                Aim::Client { client, left } => match self.env.registry.get(client) {
                    None => return Followed::Lost,
                    Some(c) => c
                        .info
                        .bridged_to
                        .as_ref()
                        .filter(|peer| *peer != left && **peer != self.chan.name)
                        .and_then(|peer| self.env.registry.get(peer))
                        .filter(|e| !e.info.in_chanspy && !e.bridge.is_closed()),
                },
            };
            if let Some(entry) = found {
                let config = self.env.config.snapshot();
                return match policy.check_channel(&entry.info, &config, mode) {
                    Ok(()) => Followed::To(Box::new(entry)),
                    Err(denied) => {
                        self.deny(Refused::channel(&entry), mode, denied).await;
                        Followed::Refused
                    }
                };
            }
            match self.input.next(&mut self.chan, Some(PRESENCE_EVERY)).await {
                Input::Hangup => return Followed::Hangup,
                Input::Remote(MonitorCmd::Stop) => return Followed::Stop,
                Input::Digit(d) if Some(d) == opts.exit_digit => return Followed::Stop,
                _ => {}
            }
        }
    }
}
