//! The console's sign-in sessions: a random id in an HttpOnly cookie, a CSRF
//! token the page sends back on every change, an idle and an absolute expiry.
//!
//! Time comes in as an argument (`now`), so expiry is tested without waiting.
//! Sessions live in memory: a restart signs everybody out, which for a console
//! that holds nothing but a view is the safe side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A session not used for this long is gone.
pub const IDLE: Duration = Duration::from_secs(60 * 60);
/// No session lives longer than this, used or not.
pub const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// At most this many sessions at once; the least recently used one goes first.
pub const MAX_SESSIONS: usize = 10_000;

/// Who a session acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Signed in with an extension's number and secret; its supervisor grant is
    /// looked up again on every request (a revoked grant ends the session).
    Extension {
        number: String,
        name: Option<String>,
    },
    /// Signed in with an API token; the token is verified again on every request
    /// (a revoked token ends the session). Kept only in this process's memory.
    Token { secret: String },
}

/// One signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub principal: Principal,
    /// Must come back in `X-CSRF-Token` on every request that changes something.
    pub csrf: String,
    created: Instant,
    used: Instant,
}

/// Every live session; cheap to clone, shared by every request.
#[derive(Clone, Default)]
pub struct Sessions {
    table: Arc<Mutex<HashMap<String, Session>>>,
}

fn random_hex() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    /// Starts a session: its id (for the cookie) and the session (its CSRF token).
    pub fn create(&self, principal: Principal, now: Instant) -> (String, Session) {
        let mut table = lock(&self.table);
        table.retain(|_, s| s.alive(now));
        if table.len() >= MAX_SESSIONS {
            if let Some(oldest) = table
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone())
            {
                table.remove(&oldest);
            }
        }
        let session = Session {
            principal,
            csrf: random_hex(),
            created: now,
            used: now,
        };
        let id = random_hex();
        table.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session of this id, marked used; an expired one is dropped.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut table = lock(&self.table);
        let alive = table.get(id).map(|s| s.alive(now))?;
        if !alive {
            table.remove(id);
            return None;
        }
        let s = table.get_mut(id)?;
        s.used = now;
        Some(s.clone())
    }

    /// Whether the session is still there (for a long-lived WebSocket), without
    /// counting as use.
    pub fn alive(&self, id: &str, now: Instant) -> bool {
        lock(&self.table).get(id).is_some_and(|s| s.alive(now))
    }

    /// Signs the session out; false when there was none.
    pub fn remove(&self, id: &str) -> bool {
        lock(&self.table).remove(id).is_some()
    }

    pub fn len(&self) -> usize {
        lock(&self.table).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Session {
    fn alive(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.used) < IDLE
            && now.saturating_duration_since(self.created) < LIFETIME
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(n: &str) -> Principal {
        Principal::Extension {
            number: n.into(),
            name: None,
        }
    }

    #[test]
    fn a_session_is_found_by_its_id_and_gone_after_sign_out() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let (id, session) = s.create(ext("201"), t0);
        assert_eq!(id.len(), 64);
        assert_eq!(session.csrf.len(), 64);
        assert_ne!(id, session.csrf);
        assert_eq!(s.get(&id, t0).unwrap().principal, ext("201"));
        assert!(s.get("not-an-id", t0).is_none());
        assert!(s.remove(&id));
        assert!(!s.remove(&id));
        assert!(s.get(&id, t0).is_none());
    }

    #[test]
    fn idle_sessions_expire_and_use_keeps_them_until_the_lifetime() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let (idle, _) = s.create(ext("201"), t0);
        let (busy, _) = s.create(ext("202"), t0);
        let mut t = t0;
        while t + IDLE / 2 < t0 + LIFETIME {
            t += IDLE / 2;
            assert!(s.get(&busy, t).is_some(), "used every half hour");
        }
        assert!(s.get(&idle, t).is_none(), "not used for hours");
        assert!(!s.alive(&idle, t));
        assert!(s.get(&busy, t0 + LIFETIME).is_none(), "12 hours is the end");
        assert!(s.is_empty());
    }

    #[test]
    fn the_table_is_bounded_and_drops_the_least_recently_used() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let (first, _) = s.create(ext("100"), t0);
        let mut t = t0;
        for _ in 1..MAX_SESSIONS {
            t += Duration::from_millis(1);
            s.create(ext("101"), t);
        }
        assert!(s.get(&first, t).is_some(), "used: now the most recent");
        let (_, _) = s.create(ext("102"), t + Duration::from_millis(1));
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(s.alive(&first, t));
    }
}
