//! The core's fixed rule as a channel task: dial the dialled extension, then hang up.
//! The dialplan engine replaces this with the caller's context.

use super::Channel;

/// Dials `chan.dialled` and ends the channel when the dial ends. A failed dial leaves
/// its status for the caller's final response (486 busy, 408 no answer, ...).
pub async fn run_fixed_route(mut chan: Channel) {
    let endpoints = vec![chan.dialled.clone()];
    let outcome = chan.dial(endpoints, None).await;
    tracing::debug!(channel = %chan.name, status = outcome.status.as_str(), "dial ended");
    chan.hangup(None);
}
