//! REGISTER (RFC 3261 section 10.3): authenticate, update the location service, persist
//! it so registrations survive a restart, answer with every current binding.

use std::time::{Duration, Instant, SystemTime};

use sip::transaction::ServerTxId;
use sip::{ContactValue, Peer, Request, Transport};

use super::auth::AuthOutcome;
use super::Switch;
use crate::events::Event;
use crate::registrar::{Binding, ContactEntry, RegisterError, RegisterRequest, Registrar};

impl Switch {
    pub(super) fn on_register(&mut self, tx: ServerTxId, req: Request, peer: Peer, now: Instant) {
        let may_wait = self.may_park();
        let ext = match self
            .auth
            .check(&req, peer.addr.ip(), &self.config, may_wait, now)
        {
            AuthOutcome::Accepted(ext) => ext,
            AuthOutcome::Reject(resp) => return self.layer.respond(tx, resp, now),
            AuthOutcome::Unknown => return self.park(tx, req, peer, now),
        };
        // The credentials must be those of the address-of-record being registered.
        let aor = req
            .to()
            .ok()
            .and_then(|to| to.uri.user.clone())
            .unwrap_or_default();
        if aor != ext.number {
            return self.respond(tx, &req, 403, now);
        }
        if self.refused_without_tls(tx, &req, &ext, peer, now) {
            return;
        }
        let mut contacts = Vec::new();
        let mut star = false;
        let Ok(values) = req.contacts() else {
            return self.respond(tx, &req, 400, now);
        };
        for value in values {
            match value {
                ContactValue::Star => star = true,
                ContactValue::Addr(na) => contacts.push(ContactEntry {
                    uri: na.uri.to_string(),
                    expires: na.expires(),
                    q: na.param("q").flatten().and_then(|q| q.parse().ok()),
                }),
            }
        }
        let query_only = contacts.is_empty() && !star;
        let bindings = if query_only {
            Ok(self.registrar.lookup(&aor, now))
        } else {
            let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
            self.registrar.apply(
                &aor,
                RegisterRequest {
                    contacts,
                    star,
                    expires_header: req.expires().ok().flatten(),
                    call_id: req.call_id().unwrap_or_default().to_string(),
                    cseq,
                    source: peer,
                    user_agent: req.headers.get("User-Agent").map(str::to_string),
                },
                now,
            )
        };
        if !query_only {
            self.count_registrations();
        }
        match bindings {
            Ok(bindings) => {
                if !query_only {
                    self.persist_bindings(&aor, &bindings, now);
                    tracing::info!(%aor, %peer, bindings = bindings.len(), "registered");
                    self.emit(Event::Registration {
                        aor: aor.clone(),
                        source: peer.to_string(),
                        contacts: bindings.iter().map(|b| b.contact_uri.clone()).collect(),
                    });
                }
                let mut resp = self.response(&req, 200);
                for b in &bindings {
                    resp.headers.push(
                        "Contact",
                        format!("<{}>;expires={}", b.contact_uri, b.remaining(now)),
                    );
                }
                resp.headers
                    .push("Date", httpdate::fmt_http_date(self.wall(now)));
                self.layer.respond(tx, resp, now);
            }
            Err(RegisterError::IntervalTooBrief { min_expires }) => {
                let mut resp = self.response(&req, 423);
                resp.headers.push("Min-Expires", min_expires.to_string());
                self.layer.respond(tx, resp, now);
            }
            Err(e) => {
                let status = e.status_code();
                let mut resp = self.response(&req, status);
                resp.headers
                    .push("Warning", format!("399 spygroup \"{e}\""));
                self.layer.respond(tx, resp, now);
            }
        }
    }

    /// Mirrors an AOR's bindings into the database (write-behind: registrations
    /// survive a restart, and a database outage does not stop phones registering).
    fn persist_bindings(&mut self, aor: &str, bindings: &[Binding], now: Instant) {
        let wall = self.wall(now);
        let bindings = bindings
            .iter()
            .map(|b| store::StoredLocation {
                aor: aor.to_string(),
                contact_uri: b.contact_uri.clone(),
                source_transport: b.source.transport.to_string(),
                source_addr: b.source.addr,
                expires_at: wall + Duration::from_secs(u64::from(b.remaining(now))),
                call_id: b.call_id.clone(),
                cseq: b.cseq,
                user_agent: b.user_agent.clone(),
            })
            .collect();
        self.store(store::Write::Locations {
            aor: aor.to_string(),
            bindings,
        });
    }
}

/// Puts a binding loaded from the database back into the location service.
pub(super) fn restore(
    registrar: &mut Registrar,
    loc: store::StoredLocation,
    now: Instant,
    wall: SystemTime,
) {
    let Ok(remaining) = loc.expires_at.duration_since(wall) else {
        return;
    };
    let transport = Transport::from_name(&loc.source_transport).unwrap_or(Transport::Udp);
    let binding = Binding {
        contact_uri: loc.contact_uri,
        source: Peer::new(transport, loc.source_addr),
        expires_at: now + remaining,
        call_id: loc.call_id,
        cseq: loc.cseq,
        q: None,
        user_agent: loc.user_agent,
    };
    registrar.restore(&loc.aor, binding);
}
