//! SIP session timers (RFC 4028): a dialog is kept alive by periodic refreshes
//! (re-INVITE or UPDATE); when the refresher stops (its phone lost power with the
//! media already gone, a NAT dropped the signalling), the other side ends the
//! call instead of holding it open forever.
//!
//! Negotiated per leg, as everything else in the B2BUA:
//! - leg A (we are UAS): the caller's `Session-Expires` is taken (or answered 422
//!   when below our `Min-SE` of 90 s); the refresher is who the caller named,
//!   else the caller when it supports timers, else us. Our 2xx carries the
//!   interval and the refresher, with `Require: timer` when the caller supports it.
//! - leg B (we are UAC): our INVITE offers `Session-Expires: 1800` and lets the
//!   callee choose; its 2xx says whether and who.
//! - the refresher sends a refresh at half the interval; we send UPDATE without
//!   SDP (no media renegotiation, nothing re-latches). The other side waits the
//!   interval minus min(32 s, interval/3) (RFC 4028 10) and then hangs up.
//!
//! The checks run on the switch's 5 s housekeeping, which is fine against
//! intervals of 90 s and more.

use std::time::{Duration, Instant};

use sip::{Method, Request, Response};

use super::call::{CallId, CallState, LegSide};
use super::{Switch, TxPurpose};

/// The smallest interval we accept (RFC 4028's minimum, and its recommended Min-SE).
pub const MIN_SE: u64 = 90;
/// What we ask of callees, as RFC 4028 recommends.
pub const DEFAULT_SE: u64 = 1800;

/// Who refreshes, as RFC 4028 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Uac,
    Uas,
}

impl Refresher {
    fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// `Session-Expires: 1800;refresher=uac` (or its compact form `x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    pub secs: u64,
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    pub fn of(headers: &sip::Headers) -> Option<SessionExpires> {
        let v = headers
            .get("Session-Expires")
            .or_else(|| headers.get("x"))?;
        let mut parts = v.split(';');
        let secs = parts.next()?.trim().parse().ok()?;
        let refresher = parts.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            if !k.trim().eq_ignore_ascii_case("refresher") {
                return None;
            }
            match v.trim().to_ascii_lowercase().as_str() {
                "uac" => Some(Refresher::Uac),
                "uas" => Some(Refresher::Uas),
                _ => None,
            }
        });
        Some(SessionExpires { secs, refresher })
    }

    fn header(self) -> String {
        match self.refresher {
            Some(r) => format!("{};refresher={}", self.secs, r.as_str()),
            None => self.secs.to_string(),
        }
    }
}

/// Whether a message lists `timer` in Supported (or Require).
pub fn supports_timer(headers: &sip::Headers) -> bool {
    ["Supported", "k", "Require"].iter().any(|h| {
        headers
            .get_all(h)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("timer"))
    })
}

/// One leg's session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    /// We refresh (else the phone does, and we watch).
    pub we_refresh: bool,
    /// Its role on this leg, for the header we repeat in answers to refreshes.
    pub expires: SessionExpires,
    /// The last refresh, sent or received (or the answer that started the timer).
    pub refreshed: Instant,
    /// Our refresh is on its way.
    pub pending: bool,
}

impl SessionTimer {
    fn new(expires: SessionExpires, we_are: Refresher, now: Instant) -> SessionTimer {
        SessionTimer {
            we_refresh: expires.refresher == Some(we_are),
            expires,
            refreshed: now,
            pending: false,
        }
    }

    /// The negotiated interval.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.expires.secs)
    }

    /// When we refresh next (our side), or when the session expires (theirs).
    pub fn due(&self) -> Instant {
        let interval = self.interval();
        if self.we_refresh {
            self.refreshed + interval / 2
        } else {
            let margin = Duration::from_secs(32).min(interval / 3);
            self.refreshed + interval - margin
        }
    }
}

/// What the caller's INVITE asked for, decided when we answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerTimer {
    /// No timer (the caller neither asked nor supports one).
    None,
    /// Answer with this, and run the leg's timer; `require`: the caller supports
    /// timers (so our 2xx says `Require: timer`).
    Use {
        expires: SessionExpires,
        require: bool,
    },
}

/// Leg A: what its INVITE asks; Err(()) when its interval is below our Min-SE
/// (the caller gets 422).
pub fn caller_timer(invite: &Request) -> Result<CallerTimer, ()> {
    let supported = supports_timer(&invite.headers);
    let asked = SessionExpires::of(&invite.headers);
    let Some(asked) = asked else {
        return Ok(CallerTimer::None);
    };
    if asked.secs < MIN_SE {
        return Err(());
    }
    let refresher = asked.refresher.unwrap_or(if supported {
        Refresher::Uac
    } else {
        Refresher::Uas
    });
    Ok(CallerTimer::Use {
        expires: SessionExpires {
            secs: asked.secs,
            refresher: Some(refresher),
        },
        require: supported,
    })
}

impl Switch {
    /// Headers for a 2xx to the caller's INVITE, and its leg's timer from now on.
    pub(super) fn answer_caller_timer(&mut self, id: CallId, ok: &mut Response, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Ok(CallerTimer::Use { expires, require }) = caller_timer(&call.invite) else {
            return;
        };
        ok.headers.push("Session-Expires", expires.header());
        if require {
            ok.headers.push("Require", "timer");
        }
        call.a.session = Some(SessionTimer::new(expires, Refresher::Uas, now));
    }

    /// Leg B answered: start its timer if the callee's 2xx has one.
    pub(super) fn callee_timer(&mut self, id: CallId, resp: &Response, now: Instant) {
        let Some(expires) = SessionExpires::of(&resp.headers) else {
            return;
        };
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.b.as_mut()) else {
            return;
        };
        // No refresher in the 2xx: the UAS did not choose, so we (the UAC) refresh.
        let expires = SessionExpires {
            secs: expires.secs.max(MIN_SE),
            refresher: Some(expires.refresher.unwrap_or(Refresher::Uac)),
        };
        leg.session = Some(SessionTimer::new(expires, Refresher::Uac, now));
    }

    /// A refresh (re-INVITE or UPDATE) arrived on a leg: its timer starts over.
    /// The headers are those our 2xx to it repeats.
    pub(super) fn refreshed_by_phone(
        &mut self,
        id: CallId,
        side: LegSide,
        now: Instant,
    ) -> Vec<(&'static str, String)> {
        let Some(t) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.leg_mut(side))
            .and_then(|l| l.session.as_mut())
        else {
            return Vec::new();
        };
        t.refreshed = now;
        t.pending = false;
        vec![
            ("Session-Expires", t.expires.header()),
            ("Require", "timer".to_string()),
        ]
    }

    /// Housekeeping: send the refreshes that are due, end the sessions whose
    /// refresher fell silent.
    pub(super) fn run_session_timers(&mut self, now: Instant) {
        let mut refresh = Vec::new();
        let mut expired = Vec::new();
        for (&id, call) in &self.calls {
            if call.state != CallState::Answered {
                continue;
            }
            for side in [LegSide::A, LegSide::B] {
                let Some(t) = call.leg(side).and_then(|l| l.session) else {
                    continue;
                };
                if t.due() > now {
                    continue;
                }
                if !t.we_refresh {
                    expired.push((id, side));
                } else if !t.pending {
                    refresh.push((id, side));
                }
            }
        }
        for (id, side) in expired {
            tracing::warn!(call = %id, ?side, "session timer expired: no refresh from the phone, ending the call");
            self.pbx_hangup(id, now);
        }
        for (id, side) in refresh {
            self.send_refresh(id, side, now);
        }
    }

    /// Our refresh of one leg: an UPDATE without a body.
    fn send_refresh(&mut self, id: CallId, side: LegSide, now: Instant) {
        let via_host = self.via_host.clone();
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(side)) else {
            return;
        };
        let Some(t) = leg.session.as_mut() else {
            return;
        };
        t.pending = true;
        let expires = t.expires;
        let peer = leg.dialog.peer;
        let contact = super::contact_for(&via_host, peer.transport);
        let mut update = leg.dialog.request(Method::Update, &via_host, &contact);
        update.headers.push("Session-Expires", expires.header());
        update.headers.push("Supported", "timer");
        tracing::debug!(call = %id, ?side, "session refresh");
        let tx = self.layer.send_request(update, peer, now);
        self.client_txs.insert(tx, (id, TxPurpose::Refresh(side)));
    }

    /// The answer to our refresh: a 2xx starts the interval over; 481 or 408 (the
    /// dialog is gone, RFC 4028 10) ends the call; anything else (a phone that
    /// takes no UPDATE) stops our refreshing on that leg and keeps the call.
    pub(super) fn on_refresh_response(
        &mut self,
        id: CallId,
        side: LegSide,
        status: u16,
        now: Instant,
    ) {
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(side)) else {
            return;
        };
        match status {
            200..=299 => {
                if let Some(t) = leg.session.as_mut() {
                    t.refreshed = now;
                    t.pending = false;
                }
            }
            408 | 481 => {
                tracing::warn!(call = %id, ?side, status, "session refresh failed: the dialog is gone, ending the call");
                self.pbx_hangup(id, now);
            }
            _ => {
                tracing::info!(call = %id, ?side, status, "session refresh refused: no more refreshes on this leg");
                leg.session = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(headers: &[(&str, &str)]) -> Request {
        let mut r = Request::new(Method::Invite, "sip:102@pbx".parse().unwrap());
        for (k, v) in headers {
            r.headers.push(k, v.to_string());
        }
        r
    }

    #[test]
    fn the_callers_wishes_decide_leg_a() {
        assert_eq!(caller_timer(&invite(&[])), Ok(CallerTimer::None));
        assert_eq!(
            caller_timer(&invite(&[("Session-Expires", "60")])),
            Err(()),
            "below Min-SE: 422"
        );
        let t = caller_timer(&invite(&[
            ("Supported", "100rel, timer"),
            ("Session-Expires", "600"),
        ]));
        assert_eq!(
            t,
            Ok(CallerTimer::Use {
                expires: SessionExpires {
                    secs: 600,
                    refresher: Some(Refresher::Uac)
                },
                require: true
            })
        );
        // Without Supported: timer the caller cannot refresh: we do.
        let t = caller_timer(&invite(&[("x", "900")])).unwrap();
        assert!(matches!(
            t,
            CallerTimer::Use {
                expires: SessionExpires {
                    refresher: Some(Refresher::Uas),
                    ..
                },
                require: false
            }
        ));
        let t = caller_timer(&invite(&[
            ("Supported", "timer"),
            ("Session-Expires", "900;refresher=uas"),
        ]))
        .unwrap();
        assert!(matches!(
            t,
            CallerTimer::Use {
                expires: SessionExpires {
                    refresher: Some(Refresher::Uas),
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn due_times_follow_rfc_4028() {
        let t0 = Instant::now();
        let e = SessionExpires {
            secs: 90,
            refresher: Some(Refresher::Uac),
        };
        let ours = SessionTimer::new(e, Refresher::Uac, t0);
        assert!(ours.we_refresh);
        assert_eq!(ours.due(), t0 + Duration::from_secs(45));
        let theirs = SessionTimer::new(e, Refresher::Uas, t0);
        assert!(!theirs.we_refresh);
        // 90 - min(32, 30)
        assert_eq!(theirs.due(), t0 + Duration::from_secs(60));
        let long = SessionTimer::new(
            SessionExpires {
                secs: 1800,
                refresher: Some(Refresher::Uac),
            },
            Refresher::Uas,
            t0,
        );
        assert_eq!(long.due(), t0 + Duration::from_secs(1768));
    }
}
