//! Attended transfer (REFER whose Refer-To carries Replaces, RFC 3891): the
//! transferer talks to the transferee on one call and to the target on another;
//! the two parties that stay are joined and the transferer's legs are released.
//! See the parent module for the shape of every transfer.

use std::time::Instant;

use media::Side;
use sip::transaction::ServerTxId;
use sip::Request;

use super::{Refusal, Replaces};
use crate::events::Event;
use crate::switch::call::{CallId, CallState, LegSide};
use crate::switch::Switch;

impl Switch {
    /// An attended transfer: REFER on call `x` (transferer on `sx`) naming, through
    /// Replaces, the transferer's leg of another call.
    pub(super) fn attended_transfer(
        &mut self,
        tx: ServerTxId,
        req: &Request,
        x: CallId,
        sx: LegSide,
        replaces: &Replaces,
        now: Instant,
    ) -> Result<(), Refusal> {
        let (y, sy) = [&replaces.to_tag, &replaces.from_tag]
            .into_iter()
            .find_map(|tag| {
                self.dialogs
                    .get(&(replaces.call_id.clone(), tag.clone()))
                    .copied()
            })
            .ok_or(Refusal(403, "Replaces names no call of this PBX"))?;
        let usable = self.calls.get(&y).is_some_and(|c| {
            c.state == CallState::Answered
                && c.b.is_some()
                && !c.virtual_a
                && c.taken_over.is_none()
        });
        if y == x || !usable {
            return Err(Refusal(403, "Replaces names no other answered call"));
        }
        // The call kept is one whose leg B is the transferer: its caller's task
        // goes on. The other party comes over from the other call.
        let (keep, from, from_transferer) = match (sx, sy) {
            (LegSide::B, _) => (x, y, sy),
            (LegSide::A, LegSide::B) => (y, x, sx),
            (LegSide::A, LegSide::A) => return self.join_callees(tx, req, x, y, now),
        };
        let moved_side = from_transferer.other();
        self.accept_refer(tx, req, x, sx, now);

        // Take the moving leg out of the other call, which then ends.
        let Some(f) = self.calls.get_mut(&from) else {
            return Ok(());
        };
        let (moved, origin) = match moved_side {
            LegSide::A => {
                f.virtual_a = true;
                (f.a.clone(), f.a_origin.clone())
            }
            LegSide::B => match f.b.take() {
                Some(b) => (b, f.b_origin.clone()),
                None => return Ok(()),
            },
        };
        f.holding = [false; 2];
        let moved_key = (moved.dialog.call_id.clone(), moved.dialog.local_tag.clone());
        self.dialogs.remove(&moved_key);
        let moved_info = self.channels.get(&moved.channel).cloned();
        self.linger_dialog(from, from_transferer, now);
        self.pbx_hangup(from, now);

        // Release the transferer's leg of the kept call.
        let Some(k) = self.calls.get(&keep) else {
            return Ok(());
        };
        let transferer = k.b.as_ref().map(|b| b.channel.clone()).unwrap_or_default();
        let transferee = k.a.channel.clone();
        let (public_id, bridge) = (k.public_id.clone(), k.bridge.map(|b| b.id));
        self.bye_leg(keep, LegSide::B, now);
        self.linger_dialog(keep, LegSide::B, now);
        self.hold_changed(keep, LegSide::B, false);
        if let Some(k) = self.calls.get_mut(&keep) {
            if let Some(b) = k.b.take() {
                self.dialogs
                    .remove(&(b.dialog.call_id.clone(), b.dialog.local_tag.clone()));
                self.channels.gone(&b.channel, &mut self.out);
            }
        }

        // The moved phone joins the kept call as its leg B.
        tracing::info!(call = %keep, %transferee, target = %moved.channel, %transferer, "attended transfer");
        let Some(k) = self.calls.get_mut(&keep) else {
            return Ok(());
        };
        k.b = Some(moved.clone());
        k.b_origin = origin;
        // The caller may still be holding: the newcomer hears the music until it
        // resumes. (The transferer's hold ended when it left.)
        k.holding[LegSide::B.index()] = false;
        let trunk = k.trunk.clone();
        k.reinvite_ack[LegSide::B.index()] = None;
        self.dialogs.insert(moved_key, (keep, LegSide::B));
        if let (Some(mut info), Some(bridge)) = (moved_info, bridge) {
            info.call_ref = public_id.clone();
            info.bridge = bridge;
            info.side = Side::B;
            info.bridged_to = None;
            // The agent of a call from a trunk: inbound rules give it groups.
            info.inbound = trunk;
            self.channels.up(info, &mut self.out);
            self.channels
                .bridge(&transferee, &moved.channel, &mut self.out);
        }
        self.emit(Event::CallTransfer {
            call: public_id,
            kind: "attended".into(),
            transferer,
            transferee,
            target: moved.channel.clone(),
        });
        self.reinvite(keep, LegSide::B, now);
        Ok(())
    }

    /// An attended transfer between two calls the transferer placed (an agent who
    /// dialled the client, then a colleague): neither call has a caller that stays,
    /// so the two callees get a new call of their own, each re-INVITEd onto one side
    /// of its bridge. It has no dialplan: it ends when either of them hangs up.
    fn join_callees(
        &mut self,
        tx: ServerTxId,
        req: &Request,
        x: CallId,
        y: CallId,
        now: Instant,
    ) -> Result<(), Refusal> {
        let bridge = self
            .media
            .open()
            .map_err(|_| Refusal(503, "no media port for the joined call"))?;
        self.accept_refer(tx, req, x, LegSide::A, now);
        let mut taken = Vec::new();
        for id in [x, y] {
            let Some(c) = self.calls.get_mut(&id) else {
                return Ok(());
            };
            let Some(leg) = c.b.take() else {
                return Ok(());
            };
            c.holding = [false; 2];
            let parts = (
                leg,
                c.b_origin.clone(),
                c.invite.clone(),
                c.codecs.clone(),
                c.dtmf.clone(),
                c.ptime,
                c.a.channel.clone(),
                c.public_id.clone(),
            );
            let key = (
                parts.0.dialog.call_id.clone(),
                parts.0.dialog.local_tag.clone(),
            );
            self.dialogs.remove(&key);
            let info = self.channels.get(&parts.0.channel).cloned();
            self.linger_dialog(id, LegSide::A, now);
            self.pbx_hangup(id, now);
            taken.push((parts, key, info));
        }
        let [(client, client_key, client_info), (target, target_key, target_info)]: [_; 2] =
            match taken.try_into() {
                Ok(t) => t,
                Err(_) => return Ok(()),
            };
        let (a_leg, a_origin, invite, codecs, dtmf, ptime, transferer, x_public) = client;
        let (b_leg, b_origin, ..) = target;
        let new_id = self.new_call_id();
        let wall = self.wall(now);
        let setup = crate::switch::call::CallSetup {
            caller: crate::channel::endpoint_of(&a_leg.channel)
                .unwrap_or_default()
                .to_string(),
            dialled: crate::channel::endpoint_of(&b_leg.channel)
                .unwrap_or_default()
                .to_string(),
            codecs,
            dtmf,
            ptime,
        };
        let (a_chan, b_chan) = (a_leg.channel.clone(), b_leg.channel.clone());
        let mut call = crate::switch::call::Call::new(new_id, a_leg, invite, bridge, setup, wall);
        call.state = CallState::Answered;
        call.answered = Some(wall);
        call.a_origin = a_origin;
        call.b_origin = b_origin;
        call.b = Some(b_leg);
        call.no_task = true;
        let public_id = call.public_id.clone();
        self.calls.insert(new_id, call);
        self.dialogs.insert(client_key, (new_id, LegSide::A));
        self.dialogs.insert(target_key, (new_id, LegSide::B));
        tracing::info!(call = %new_id, client = %a_chan, target = %b_chan, %transferer, "attended transfer between two callees");
        for (info, side, role) in [
            (client_info, Side::A, model::Role::Caller),
            (target_info, Side::B, model::Role::Callee),
        ] {
            if let Some(mut info) = info {
                info.call_ref = public_id.clone();
                info.bridge = bridge.id;
                info.side = side;
                info.role = role;
                info.bridged_to = None;
                self.channels.up(info, &mut self.out);
            }
        }
        self.channels.bridge(&a_chan, &b_chan, &mut self.out);
        self.emit(Event::CallTransfer {
            call: x_public,
            kind: "attended".into(),
            transferer,
            transferee: a_chan,
            target: b_chan,
        });
        self.reinvite(new_id, LegSide::A, now);
        self.reinvite(new_id, LegSide::B, now);
        Ok(())
    }
}
