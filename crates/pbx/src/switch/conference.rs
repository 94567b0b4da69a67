//! A barge that becomes a conference: the supervisor's ChanSpy asks for it
//! (`ChanOp::Conference`, DTMF 8 or the API's `conference` mode), and from then on
//! the call's two legs no longer end together.
//!
//! The media side is the conference room (ChanSpy puts both legs of the call's
//! bridge and the supervisor in it); the switch only changes how the call ends:
//! - the caller leaving: its channel goes, its dialplan task ends (its `Dial`
//!   returns `CANCEL`), and the callee stays, in the room;
//! - the callee leaving: its channel goes and the caller stays (its `Dial` does not
//!   return: the caller is still in the room);
//! - the call ends (record, bridge closed) when both have left. A shutdown still
//!   ends everything at once.

use std::time::Instant;

use super::call::{CallId, CallState, LegSide};
use super::Switch;
use crate::chan::{ChanEvent, DialStatus, TakeOverRefused};
use crate::events::Event;

impl Switch {
    /// `ChanOp::Conference` from the supervisor's call `from`.
    pub(super) fn on_conference(
        &mut self,
        from: CallId,
        supervisor: String,
        target: &str,
        room: String,
    ) {
        let outcome = self.conference(from, &supervisor, target, room);
        self.tell_chan(from, ChanEvent::ConferenceDone(outcome));
    }

    fn conference(
        &mut self,
        from: CallId,
        supervisor: &str,
        target: &str,
        room: String,
    ) -> Result<(), TakeOverRefused> {
        let no_call = || TakeOverRefused::NoCall(target.to_string());
        let id = self
            .calls
            .iter()
            .find_map(|(id, c)| {
                let a = c.a.channel == target && !c.virtual_a;
                let b = c.b.as_ref().is_some_and(|b| b.channel == target);
                (a || b).then_some(*id)
            })
            .ok_or_else(no_call)?;
        let call = self.calls.get_mut(&id).ok_or_else(no_call)?;
        if let Some(t) = &call.taken_over {
            return Err(TakeOverRefused::Already(t.by.clone()));
        }
        if call.conference.is_some() {
            // Already a conference: the supervisor just joins the room.
            return Ok(());
        }
        if call.state != CallState::Answered || call.b.is_none() || id == from {
            return Err(no_call());
        }
        tracing::info!(call = %call.public_id, %room, %supervisor, "call turned into a conference");
        call.conference = Some(room.clone());
        let public_id = call.public_id.clone();
        self.emit(Event::CallConference {
            call: public_id,
            room,
            supervisor: supervisor.to_string(),
        });
        Ok(())
    }

    /// Is this call a conference whose legs leave one by one?
    fn conferenced(&self, id: CallId) -> bool {
        !self.shutting_down && self.calls.get(&id).is_some_and(|c| c.conference.is_some())
    }

    /// The caller of a conferenced call left while its callee is still in: true
    /// when handled (the callee stays).
    pub(super) fn conference_caller_left(&mut self, id: CallId, now: Instant) -> bool {
        if !self.conferenced(id) {
            return false;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        if call.b.is_none() || call.virtual_a {
            return false;
        }
        call.virtual_a = true;
        let chan = call.a.channel.clone();
        let key = (
            call.a.dialog.call_id.clone(),
            call.a.dialog.local_tag.clone(),
        );
        tracing::info!(call = %id, channel = %chan, "the caller left the conference; the callee stays");
        self.dialogs.remove(&key);
        self.ended_dialogs
            .insert(key, now + super::hangup::ENDED_DIALOG_LINGER);
        self.channels.gone(&chan, &mut self.out);
        self.tell_chan(id, ChanEvent::Hangup);
        self.finish_dial(id, DialStatus::Cancel, now);
        true
    }

    /// The callee of a conferenced call left: true when handled. The caller stays
    /// (its Dial goes on); if the caller had left already, the call ends now.
    pub(super) fn conference_callee_left(&mut self, id: CallId, now: Instant) -> bool {
        if !self.conferenced(id) {
            return false;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        let caller_gone = call.virtual_a;
        if let Some(b) = call.b.take() {
            tracing::info!(call = %id, channel = %b.channel, "the callee left the conference");
            self.channels.gone(&b.channel, &mut self.out);
            self.dialogs.remove(&(b.dialog.call_id, b.dialog.local_tag));
        }
        if caller_gone {
            self.end_conference(id, "callee", now);
        }
        true
    }

    /// The channel task hung up while its caller had left a conferenced call whose
    /// callee is still in: nothing ends yet.
    pub(super) fn conference_keeps_call(&self, id: CallId) -> bool {
        self.conferenced(id)
            && self
                .calls
                .get(&id)
                .is_some_and(|c| c.virtual_a && c.b.is_some())
    }

    fn end_conference(&mut self, id: CallId, by: &str, now: Instant) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.state = CallState::Ending;
        }
        self.finish_dial(id, DialStatus::Answer, now);
        self.record(id, store::Disposition::Answered, by, now);
        self.forget_if_settled(id, now);
    }

    /// `ChanOp::HangupChannel`: a BYE to that leg, then as if its phone had left.
    pub(super) fn hangup_channel(&mut self, channel: &str, now: Instant) {
        let found = self.calls.iter().find_map(|(id, c)| {
            if c.a.channel == channel && !c.virtual_a {
                Some((*id, LegSide::A))
            } else if c.b.as_ref().is_some_and(|b| b.channel == channel) {
                Some((*id, LegSide::B))
            } else {
                None
            }
        });
        let Some((id, side)) = found else {
            return;
        };
        tracing::info!(call = %id, %channel, "hanging up one leg");
        self.bye_leg(id, side, now);
        match side {
            LegSide::A => self.caller_gone(id, now),
            LegSide::B => {
                if let Some(d) = self.calls.get(&id).and_then(|c| c.b.as_ref()) {
                    self.ended_dialogs.insert(
                        (d.dialog.call_id.clone(), d.dialog.local_tag.clone()),
                        now + super::hangup::ENDED_DIALOG_LINGER,
                    );
                }
                self.callee_gone(id, now)
            }
        }
    }
}
