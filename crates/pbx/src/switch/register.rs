//! REGISTER (RFC 3261 section 10.3): authenticate, update the location service, persist
//! it so registrations survive a restart, answer with every current binding.

use std::time::{Duration, Instant, SystemTime};

use sip::transaction::ServerTxId;
use sip::{ContactValue, Peer, Request, Transport};

use super::auth::AuthOutcome;
use super::Switch;
use crate::registrar::{Binding, ContactEntry, RegisterError, RegisterRequest, Registrar};

impl Switch {
    pub(super) async fn on_register(
        &mut self,
        tx: ServerTxId,
        req: Request,
        peer: Peer,
        now: Instant,
    ) {
        let ext = match self
            .auth
            .check(&req, peer.addr.ip(), &self.store, now)
            .await
        {
            AuthOutcome::Accepted(ext) => ext,
            AuthOutcome::Reject(resp) => return self.layer.respond(tx, resp, now),
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
        self.count_registrations();
        match bindings {
            Ok(bindings) => {
                if !query_only {
                    self.persist_bindings(&aor, &bindings, now).await;
                    tracing::info!(%aor, %peer, bindings = bindings.len(), "registered");
                    self.events.emit(
                        "registration",
                        serde_json::json!({
                            "aor": aor,
                            "source": peer.to_string(),
                            "contacts": bindings.iter().map(|b| b.contact_uri.clone()).collect::<Vec<_>>(),
                        }),
                    );
                }
                let mut resp = self.response(&req, 200);
                for b in &bindings {
                    resp.headers.push(
                        "Contact",
                        format!("<{}>;expires={}", b.contact_uri, b.remaining(now)),
                    );
                }
                resp.headers
                    .push("Date", httpdate::fmt_http_date(SystemTime::now()));
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

    /// Mirrors an AOR's bindings into the database.
    async fn persist_bindings(&mut self, aor: &str, bindings: &[Binding], now: Instant) {
        if let Err(e) = self.store.delete_locations(aor).await {
            tracing::warn!(%aor, "cannot persist registration: {e}");
            return;
        }
        for b in bindings {
            let loc = store::StoredLocation {
                aor: aor.to_string(),
                contact_uri: b.contact_uri.clone(),
                source_transport: b.source.transport.to_string(),
                source_addr: b.source.addr,
                expires_at: SystemTime::now() + Duration::from_secs(u64::from(b.remaining(now))),
                call_id: b.call_id.clone(),
                cseq: b.cseq,
                user_agent: b.user_agent.clone(),
            };
            if let Err(e) = self.store.save_location(&loc).await {
                tracing::warn!(%aor, "cannot persist registration: {e}");
            }
        }
    }
}

/// Puts a binding loaded from the database back into the location service.
pub(super) fn restore(registrar: &mut Registrar, loc: store::StoredLocation) {
    let Ok(remaining) = loc.expires_at.duration_since(SystemTime::now()) else {
        return;
    };
    let transport = if loc.source_transport.eq_ignore_ascii_case("tcp") {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let binding = Binding {
        contact_uri: loc.contact_uri,
        source: Peer::new(transport, loc.source_addr),
        expires_at: Instant::now() + remaining,
        call_id: loc.call_id,
        cseq: loc.cseq,
        q: None,
        user_agent: loc.user_agent,
    };
    registrar.restore(&loc.aor, binding);
}
