//! Dead and runaway calls: a phone that stopped sending media (it lost power, its
//! network went away, it crashed without a BYE) and a call past the maximum
//! duration are hung up, so they do not hold ports, licences of a trunk and a
//! supervisor's attention forever.
//!
//! The shell reads each bridge's received-packet counters every few seconds and
//! hands them over ([`Switch::media_activity`]); the switch, which knows which
//! calls are answered, who holds whom and which leg was released, decides. A call
//! on hold gets the longer `rtp_hold_timeout` (a held phone may send nothing).

use std::collections::HashMap;
use std::time::Instant;

use super::call::{CallId, CallState, LegSide};
use super::output::BridgeId;
use super::Switch;

/// What the watchdog last saw of one call: packets received per side, and since
/// when that count has not grown.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seen {
    packets: [u64; 2],
    since: [Instant; 2],
}

impl Switch {
    /// The packets each side of each open bridge has received so far. Hangs up
    /// answered calls whose phone sent nothing for too long.
    pub fn media_activity(&mut self, bridges: &[(BridgeId, [u64; 2])], now: Instant) {
        let Some(timeout) = self.cfg.rtp_timeout else {
            return;
        };
        let hold_timeout = self.cfg.rtp_hold_timeout.max(timeout);
        let by_bridge: HashMap<BridgeId, CallId> = self
            .calls
            .iter()
            .filter_map(|(id, c)| c.bridge.map(|b| (b.id, *id)))
            .collect();
        let mut dead = Vec::new();
        for &(bridge, packets) in bridges {
            let Some(&id) = by_bridge.get(&bridge) else {
                continue;
            };
            let Some(call) = self.calls.get(&id) else {
                continue;
            };
            if call.state != CallState::Answered {
                self.media_seen.remove(&id);
                continue;
            }
            let seen = self.media_seen.entry(id).or_insert(Seen {
                packets,
                since: [now; 2],
            });
            let held = call.holding.iter().any(|h| *h);
            let limit = if held { hold_timeout } else { timeout };
            for side in [LegSide::A, LegSide::B] {
                let i = side.index();
                if packets[i] != seen.packets[i] {
                    seen.packets[i] = packets[i];
                    seen.since[i] = now;
                    continue;
                }
                let watched = match side {
                    LegSide::A => !call.virtual_a,
                    LegSide::B => call.b.is_some(),
                } && call.taken_over.as_ref().is_none_or(|t| t.agent != side);
                if watched && now.saturating_duration_since(seen.since[i]) >= limit {
                    let channel = call
                        .leg(side)
                        .map(|l| l.channel.clone())
                        .unwrap_or_default();
                    dead.push((id, channel, limit));
                    break;
                }
            }
        }
        for (id, channel, limit) in dead {
            tracing::warn!(%channel, "RTP timeout: no media from the phone for {} s: hanging up", limit.as_secs());
            self.media_seen.remove(&id);
            self.pbx_hangup(id, now);
        }
        self.media_seen.retain(|id, _| self.calls.contains_key(id));
        self.drive(now);
    }

    /// Hangs up calls answered longer ago than the maximum call duration.
    pub(super) fn end_overlong_calls(&mut self, now: Instant) {
        let Some(max) = self.cfg.max_call_duration else {
            return;
        };
        let wall = self.wall(now);
        let overlong: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.state == CallState::Answered)
            .filter(|(_, c)| {
                c.answered
                    .is_some_and(|t| wall.duration_since(t).is_ok_and(|d| d >= max))
            })
            .map(|(id, _)| *id)
            .collect();
        for id in overlong {
            tracing::warn!(call = %id, "maximum call duration ({} s) reached: hanging up", max.as_secs());
            self.pbx_hangup(id, now);
        }
    }
}
