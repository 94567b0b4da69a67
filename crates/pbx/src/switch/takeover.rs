//! Taking a call over: a supervisor spying on one party (the agent) replaces it.
//!
//! The agent's leg gets a BYE and leaves the live-channel table; its peer (the
//! client) stays on the same bridge, now talking with the supervisor through the
//! spy's hook (ChanSpy switches the hook to `takeover` and releases the agent's
//! bridge side in one step, so the client hears no gap). From then on the call
//! lasts as long as the supervisor's channel: when the supervisor leaves, the call
//! ends as if the agent had hung up then (a caller's dialplan goes on after its
//! `Dial`, as in Asterisk; a call the agent placed is hung up). One takeover per
//! call; the call record says who took it over and when.

use std::time::{Instant, SystemTime};

use super::call::{CallId, CallState, LegSide};
use super::Switch;
use crate::chan::{ChanEvent, DialStatus, TakeOverRefused};
use crate::events::Event;

/// Who holds a call that was taken over.
#[derive(Debug, Clone)]
pub struct TakenOver {
    /// The supervisor's extension.
    pub by: String,
    pub at: SystemTime,
    /// The released agent's channel (a second supervisor may still name it).
    pub agent_channel: String,
    /// Where the released agent was.
    pub agent: LegSide,
}

impl Switch {
    /// `ChanOp::TakeOver` from the supervisor's call `from`.
    pub(super) fn on_take_over(
        &mut self,
        from: CallId,
        supervisor: String,
        channel: String,
        target: String,
        now: Instant,
    ) {
        let outcome = self.take_over(from, supervisor, channel, &target, now);
        self.tell_chan(from, ChanEvent::TakeOverDone(outcome));
    }

    fn take_over(
        &mut self,
        from: CallId,
        supervisor: String,
        channel: String,
        target: &str,
        now: Instant,
    ) -> Result<(), TakeOverRefused> {
        let no_call = || TakeOverRefused::NoCall(target.to_string());
        if let Some(t) = self
            .calls
            .values()
            .filter_map(|c| c.taken_over.as_ref())
            .find(|t| t.agent_channel == target)
        {
            return Err(TakeOverRefused::Already(t.by.clone()));
        }
        let (id, agent) = self
            .calls
            .iter()
            .find_map(|(id, c)| {
                if c.a.channel == target && !c.virtual_a {
                    Some((*id, LegSide::A))
                } else if c.b.as_ref().is_some_and(|b| b.channel == target) {
                    Some((*id, LegSide::B))
                } else {
                    None
                }
            })
            .ok_or_else(no_call)?;
        let at = self.wall(now);
        let holds_one = self.takeovers.contains_key(&from);
        let call = self.calls.get_mut(&id).ok_or_else(no_call)?;
        // Before the shape checks: a taken-over callee has no leg B any more.
        if let Some(t) = &call.taken_over {
            return Err(TakeOverRefused::Already(t.by.clone()));
        }
        if let Some(room) = &call.conference {
            return Err(TakeOverRefused::InConference(room.clone()));
        }
        if call.state != CallState::Answered || call.b.is_none() || id == from || holds_one {
            return Err(no_call());
        }
        call.taken_over = Some(TakenOver {
            by: supervisor.clone(),
            at,
            agent_channel: target.to_string(),
            agent,
        });
        let public_id = call.public_id.clone();
        let client = match agent {
            LegSide::A => call.b.as_ref().map(|b| b.channel.clone()),
            LegSide::B => Some(call.a.channel.clone()),
        };
        tracing::info!(call = %public_id, agent = %target, %supervisor, "call taken over");
        self.bye_leg(id, agent, now);
        self.release_leg(id, agent, now);
        if let Some(client) = client {
            let sup = channel.clone();
            self.channels
                .update(&client, &mut self.out, |c| c.bridged_to = Some(sup));
        }
        self.takeovers.insert(from, id);
        self.emit(Event::CallTakeover {
            call: public_id,
            agent_channel: target.to_string(),
            supervisor,
            supervisor_channel: channel,
        });
        Ok(())
    }

    /// The agent's leg after its BYE went out: out of the table, its dialog kept
    /// only to answer a crossing BYE. Leg A of the struct stays (the call's record
    /// names its channel) but is never sent anything again.
    fn release_leg(&mut self, id: CallId, side: LegSide, now: Instant) {
        // The agent held the client: the client now talks with the supervisor.
        self.hold_changed(id, side, false);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let (chan, key) = match side {
            LegSide::A => {
                call.virtual_a = true;
                let d = &call.a.dialog;
                (
                    call.a.channel.clone(),
                    (d.call_id.clone(), d.local_tag.clone()),
                )
            }
            LegSide::B => {
                let Some(b) = call.b.take() else { return };
                (b.channel, (b.dialog.call_id, b.dialog.local_tag))
            }
        };
        self.dialogs.remove(&key);
        self.ended_dialogs
            .insert(key, now + super::hangup::ENDED_DIALOG_LINGER);
        self.channels.gone(&chan, &mut self.out);
    }

    /// The supervisor's call `ended` is over: a call it had taken over ends now.
    pub(super) fn supervisor_left(&mut self, ended: CallId, now: Instant) {
        let Some(id) = self.takeovers.remove(&ended) else {
            return;
        };
        let Some(t) = self.calls.get(&id).and_then(|c| c.taken_over.clone()) else {
            return;
        };
        tracing::info!(call = %id, supervisor = %t.by, "the supervisor who took the call over left");
        match t.agent {
            // The caller's Dial returns, as when a bridged callee hangs up.
            LegSide::B => self.finish_dial(id, DialStatus::Answer, now),
            LegSide::A => self.pbx_hangup(id, now),
        }
    }
}
