//! Transfers: a phone's REFER (RFC 3515) moves its peer elsewhere, and the
//! dialplan's `Transfer()` asks a phone to go elsewhere itself.
//!
//! - **Blind** (REFER, no Replaces) from either party of a two-phone call: the
//!   transferee goes on in the dialplan at the Refer-To extension in the
//!   transferer's context (Asterisk's blind transfer), so the target is dialled like
//!   any other call. From the callee, the caller's channel simply leaves its `Dial`;
//!   from the caller, the callee's leg gets a new call and a dialplan task of its own.
//! - **Attended** (REFER whose Refer-To carries Replaces, RFC 3891): the transferer
//!   talks to the transferee on one call and to the target on another. The two
//!   parties that stay are joined on the call whose caller is not the transferer
//!   (its dialplan task keeps running): the other phone is re-INVITEd to that
//!   call's bridge, and the consultation call ends.
//!
//! Either way the transferer gets `202 Accepted`, a NOTIFY with `SIP/2.0 100
//! Trying` and one with `SIP/2.0 200 OK` (RFC 3420 sipfrag, subscription
//! terminated), then a BYE on every leg it had: as Asterisk, the PBX hangs the
//! transferer up itself. A blind transfer from the *caller* (an agent who dialled
//! out) moves the transferee to a new call of its own, whose dialplan dials the
//! target (`blind_transfer_by_caller`).

mod attended;
mod dialplan;

use std::time::Instant;

use media::Side;
use sip::transaction::ServerTxId;
use sip::{Method, Request, Uri};

use super::call::{CallId, CallState, LegSide};
use super::{Switch, TxPurpose};
use crate::chan::{ChanEvent, Transferred};
use crate::events::Event;

/// The dialog a Replaces names (RFC 3891 section 6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Replaces {
    call_id: String,
    to_tag: String,
    from_tag: String,
}

impl Replaces {
    /// From the `Replaces=` header of a Refer-To URI (percent-encoded).
    fn from_uri(uri: &Uri) -> Option<Replaces> {
        let headers = uri.headers.as_deref()?;
        let value = headers.split('&').find_map(|h| {
            let (k, v) = h.split_once('=')?;
            k.trim().eq_ignore_ascii_case("replaces").then_some(v)
        })?;
        Replaces::parse(&percent_decode(value))
    }

    /// `call-id;to-tag=x;from-tag=y`.
    fn parse(s: &str) -> Option<Replaces> {
        let mut parts = s.split(';');
        let call_id = parts.next()?.trim().to_string();
        let (mut to_tag, mut from_tag) = (None, None);
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "to-tag" => to_tag = Some(v.trim().to_string()),
                    "from-tag" => from_tag = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        (!call_id.is_empty()).then_some(Replaces {
            call_id,
            to_tag: to_tag?,
            from_tag: from_tag?,
        })
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status line of a `message/sipfrag` body: `SIP/2.0 200 OK` -> 200.
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?.trim();
    let rest = line.strip_prefix("SIP/2.0")?.trim_start();
    rest.split_whitespace().next()?.parse().ok()
}

/// Why a REFER is refused before it is accepted.
struct Refusal(u16, &'static str);

impl Switch {
    /// A REFER on leg `side` of call `id`.
    pub(super) fn on_refer(
        &mut self,
        tx: ServerTxId,
        req: Request,
        id: CallId,
        side: LegSide,
        now: Instant,
    ) {
        let outcome = match self.refer_target(&req, id) {
            Err(r) => Err(r),
            Ok(uri) => match Replaces::from_uri(&uri) {
                Some(replaces) => self.attended_transfer(tx, &req, id, side, &replaces, now),
                None => self.blind_transfer(tx, &req, id, side, &uri, now),
            },
        };
        if let Err(Refusal(status, why)) = outcome {
            tracing::info!(call = %id, ?side, status, "transfer refused: {why}");
            let mut resp = self.response(&req, status);
            resp.headers
                .push("Warning", format!("399 spygroup \"{why}\""));
            self.layer.respond(tx, resp, now);
        }
    }

    fn refer_target(&self, req: &Request, id: CallId) -> Result<Uri, Refusal> {
        let call = self.calls.get(&id).ok_or(Refusal(481, "no such call"))?;
        if call.state != CallState::Answered
            || call.b.is_none()
            || call.virtual_a
            || call.taken_over.is_some()
        {
            return Err(Refusal(
                403,
                "only a call between two phones can be transferred",
            ));
        }
        let refer_to = req
            .headers
            .get("Refer-To")
            .ok_or(Refusal(400, "a REFER needs one Refer-To"))?;
        let na: sip::NameAddr = refer_to
            .parse()
            .map_err(|_| Refusal(400, "Refer-To is not a SIP address"))?;
        if na.uri.scheme != "sip" && na.uri.scheme != "sips" {
            return Err(Refusal(416, "Refer-To must be a sip: URI"));
        }
        Ok(na.uri)
    }

    /// 202 to the REFER, then both NOTIFYs: the transfer is done on our side.
    fn accept_refer(
        &mut self,
        tx: ServerTxId,
        req: &Request,
        id: CallId,
        side: LegSide,
        now: Instant,
    ) {
        let peer = self
            .calls
            .get(&id)
            .and_then(|c| c.leg(side))
            .map(|l| l.dialog.peer);
        let mut resp = self.response(req, 202);
        if let Some(peer) = peer {
            resp.headers.push("Contact", self.contact(peer));
        }
        self.layer.respond(tx, resp, now);
        self.notify_refer(id, side, "100 Trying", false, now);
        self.notify_refer(id, side, "200 OK", true, now);
    }

    /// A NOTIFY of the implicit `refer` subscription (RFC 3515 2.4.4).
    fn notify_refer(&mut self, id: CallId, side: LegSide, status: &str, last: bool, now: Instant) {
        let via_host = self.via_host.clone();
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(side)) else {
            return;
        };
        let peer = leg.dialog.peer;
        let contact = super::contact_for(&via_host, peer.transport);
        let mut notify = leg.dialog.request(Method::Notify, &via_host, &contact);
        let h = &mut notify.headers;
        h.push("Event", "refer");
        h.push(
            "Subscription-State",
            if last {
                "terminated;reason=noresource"
            } else {
                "active;expires=60"
            },
        );
        h.push("Content-Type", "message/sipfrag;version=2.0");
        notify.body = format!("SIP/2.0 {status}\r\n").into_bytes();
        let ctx = self.layer.send_request(notify, peer, now);
        self.client_txs.insert(ctx, (id, TxPurpose::Other));
    }

    /// A blind transfer from the callee: the caller's dialplan takes it to the target.
    fn blind_transfer(
        &mut self,
        tx: ServerTxId,
        req: &Request,
        id: CallId,
        side: LegSide,
        target: &Uri,
        now: Instant,
    ) -> Result<(), Refusal> {
        let exten = target
            .user
            .as_deref()
            .map(percent_decode)
            .filter(|u| !u.is_empty())
            .ok_or(Refusal(400, "Refer-To names no extension"))?;
        if side == LegSide::A {
            return self.blind_transfer_by_caller(tx, req, id, exten, now);
        }
        let call = self.calls.get(&id).ok_or(Refusal(481, "no such call"))?;
        let transferer = call
            .b
            .as_ref()
            .map(|b| b.channel.clone())
            .unwrap_or_default();
        let transferee = call.a.channel.clone();
        let public_id = call.public_id.clone();
        let endpoint = crate::channel::endpoint_of(&transferer).unwrap_or_default();
        let context = self
            .config
            .extension(endpoint)
            .map(|e| e.context.clone())
            .ok_or(Refusal(403, "the transferer is no extension"))?;
        if !self.plan.plan.exists(&context, &exten) {
            return Err(Refusal(
                404,
                "no such extension in the transferer's context",
            ));
        }
        tracing::info!(call = %id, %transferer, %exten, %context, "blind transfer");
        self.accept_refer(tx, req, id, side, now);
        self.emit(Event::CallTransfer {
            call: public_id,
            kind: "blind".into(),
            transferer: transferer.clone(),
            transferee,
            target: exten.clone(),
        });
        self.queue_transferred(id, &exten, &context);
        // Before the Dial returns, so the task sees where to go on.
        self.tell_chan(
            id,
            ChanEvent::Transferred(Transferred {
                context,
                exten,
                by: transferer,
            }),
        );
        self.bye_leg(id, LegSide::B, now);
        self.linger_dialog(id, LegSide::B, now);
        self.callee_gone(id, now);
        Ok(())
    }

    /// A blind transfer from the caller (an agent who dialled out transfers the
    /// person it called): the transferee's leg moves to a new call of its own,
    /// re-INVITEd onto that call's bridge, whose dialplan starts at the target in the
    /// transferer's context and dials it like any other call. The transferer's call
    /// ends.
    fn blind_transfer_by_caller(
        &mut self,
        tx: ServerTxId,
        req: &Request,
        id: CallId,
        exten: String,
        now: Instant,
    ) -> Result<(), Refusal> {
        let call = self.calls.get(&id).ok_or(Refusal(481, "no such call"))?;
        let transferer = call.a.channel.clone();
        let endpoint = crate::channel::endpoint_of(&transferer).unwrap_or_default();
        let context = self
            .config
            .extension(endpoint)
            .map(|e| e.context.clone())
            .ok_or(Refusal(403, "the transferer is no extension"))?;
        if !self.plan.plan.exists(&context, &exten) {
            return Err(Refusal(
                404,
                "no such extension in the transferer's context",
            ));
        }
        let bridge = self
            .media
            .open()
            .map_err(|_| Refusal(503, "no media port for the transferred call"))?;
        self.accept_refer(tx, req, id, LegSide::A, now);
        // The transferee's leg leaves the transferer's call, which then ends.
        let Some(old) = self.calls.get_mut(&id) else {
            return Ok(());
        };
        let Some(moved) = old.b.take() else {
            return Ok(());
        };
        let (origin, invite, old_public) = (
            old.b_origin.clone(),
            old.invite.clone(),
            old.public_id.clone(),
        );
        let setup = super::call::CallSetup {
            caller: crate::channel::endpoint_of(&moved.channel)
                .unwrap_or_default()
                .to_string(),
            dialled: exten.clone(),
            codecs: old.codecs.clone(),
            dtmf: old.dtmf.clone(),
            ptime: old.ptime,
        };
        old.holding = [false; 2];
        let key = (moved.dialog.call_id.clone(), moved.dialog.local_tag.clone());
        self.dialogs.remove(&key);
        let info = self.channels.get(&moved.channel).cloned();
        self.linger_dialog(id, LegSide::A, now);
        self.pbx_hangup(id, now);

        let new_id = self.new_call_id();
        let wall = self.wall(now);
        let channel = moved.channel.clone();
        let mut call = super::call::Call::new(new_id, moved, invite, bridge, setup, wall);
        call.state = CallState::Answered;
        call.answered = Some(wall);
        call.a_origin = origin;
        let public_id = call.public_id.clone();
        let caller_number = call.caller.clone();
        self.calls.insert(new_id, call);
        self.dialogs.insert(key, (new_id, LegSide::A));
        tracing::info!(call = %id, %transferer, transferee = %channel, %exten, %context, new_call = %new_id, "blind transfer by the caller");
        if let Some(mut info) = info {
            info.call_ref = public_id.clone();
            info.bridge = bridge.id;
            info.side = Side::A;
            info.role = model::Role::Caller;
            info.bridged_to = None;
            self.channels.up(info, &mut self.out);
        }
        self.emit(Event::CallTransfer {
            call: old_public,
            kind: "blind".into(),
            transferer,
            transferee: channel.clone(),
            target: exten.clone(),
        });
        self.emit(Event::CallStart {
            call: public_id,
            channel: channel.clone(),
            caller: caller_number.clone(),
            dialled: exten.clone(),
        });
        self.out.push_back(super::Output::Spawn(super::Spawn {
            call: new_id,
            bridge: bridge.id,
            channel,
            kind: super::SpawnKind::Dialplan {
                caller: crate::chan::CallerInfo {
                    endpoint: caller_number.clone(),
                    number: caller_number,
                    name: None,
                    context,
                    trunk: None,
                },
                dialled: exten,
                plan: self.plan.clone(),
            },
        }));
        self.reinvite(new_id, LegSide::A, now);
        Ok(())
    }

    /// A leg's dialog still answers a crossing BYE for a while after we left it.
    fn linger_dialog(&mut self, id: CallId, side: LegSide, now: Instant) {
        if let Some(d) = self
            .calls
            .get(&id)
            .and_then(|c| c.leg(side))
            .map(|l| &l.dialog)
        {
            self.ended_dialogs.insert(
                (d.call_id.clone(), d.local_tag.clone()),
                now + super::hangup::ENDED_DIALOG_LINGER,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_from_a_refer_to() {
        let na: sip::NameAddr =
            "<sip:120@127.0.0.1:5060?Replaces=abc%40h%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>"
                .parse()
                .unwrap();
        assert_eq!(
            Replaces::from_uri(&na.uri),
            Some(Replaces {
                call_id: "abc@h".into(),
                to_tag: "t1".into(),
                from_tag: "f1".into()
            })
        );
        let plain: sip::NameAddr = "<sip:120@127.0.0.1>".parse().unwrap();
        assert_eq!(Replaces::from_uri(&plain.uri), None);
        assert_eq!(
            Replaces::parse("abc;to-tag=1"),
            None,
            "both tags are needed"
        );
    }

    #[test]
    fn sipfrag_status_lines() {
        assert_eq!(sipfrag_status(b"SIP/2.0 200 OK\r\n"), Some(200));
        assert_eq!(sipfrag_status(b"SIP/2.0 100 Trying"), Some(100));
        assert_eq!(sipfrag_status(b"SIP/2.0 486 Busy Here\r\n\r\n"), Some(486));
        assert_eq!(sipfrag_status(b"hello"), None);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%40b%3Bc"), "a@b;c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
