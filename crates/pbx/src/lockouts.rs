//! Locks against guessing as they are recorded, announced and shown: the one
//! shape shared by the switch's digest locks (`switch::lockouts`) and the PIN locks
//! of `Authenticate` (`pinguard`).
//!
//! A lock is named by an id derived from what it holds back, so every lock of one
//! source (or extension, or PIN) has the same id across restarts, and the id shows
//! nothing of a PIN or its hash.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use model::{Lockout, LockoutKind};
use sha2::{Digest, Sha256};

/// The id of what a lock of `kind` keyed on `key` holds back.
pub fn subject_id(kind: LockoutKind, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(kind.as_str())
        .chain_update([0])
        .chain_update(key)
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A lock that just started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub kind: LockoutKind,
    /// What the tracker keys on (for a PIN its stored form: never shown).
    pub key: String,
    /// In words.
    pub subject: String,
    pub since: SystemTime,
    pub until: SystemTime,
    pub count: u32,
    pub reason: String,
}

impl Started {
    pub fn id(&self) -> String {
        subject_id(self.kind, &self.key)
    }

    /// The row for the lockouts table, with a fresh id of its own.
    pub fn record(&self) -> store::LockoutRecord {
        store::LockoutRecord {
            id: format!("lk-{:016x}", rand::random::<u64>()),
            subject_id: self.id(),
            kind: self.kind.as_str().to_string(),
            key: self.key.clone(),
            subject: self.subject.clone(),
            started_at: self.since,
            until: self.until,
            count: self.count,
            reason: self.reason.clone(),
            lifted_at: None,
            lifted_by: None,
        }
    }

    /// As the API and the events show it.
    pub fn shown(&self) -> Lockout {
        Lockout {
            id: self.id(),
            kind: self.kind,
            subject: self.subject.clone(),
            since: epoch_ms(self.since),
            until: epoch_ms(self.until),
            count: self.count,
            reason: self.reason.clone(),
        }
    }

    /// The store write and the event that announce it.
    pub fn announce(&self) -> (store::Write, crate::events::Event) {
        (
            store::Write::LockoutStarted(self.record()),
            crate::events::Event::Lockout {
                lockout: self.shown(),
            },
        )
    }
}

pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A wall-clock time in the monotonic clock, given both clocks' `now`.
pub fn instant_at(wall: SystemTime, now: Instant, now_wall: SystemTime) -> Instant {
    match wall.duration_since(now_wall) {
        Ok(ahead) => now + ahead,
        Err(_) => now,
    }
}

/// `60 s`, `1 h`: a window in words.
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_say_nothing_of_the_key() {
        let a = subject_id(LockoutKind::Pin, "argon2:$argon2id$v=19$...");
        assert_eq!(a, subject_id(LockoutKind::Pin, "argon2:$argon2id$v=19$..."));
        assert_eq!(a.len(), 16);
        assert!(!a.contains("argon2"));
        assert_ne!(
            subject_id(LockoutKind::Source, "110"),
            subject_id(LockoutKind::Extension, "110")
        );
    }

    #[test]
    fn clocks_and_words() {
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            instant_at(wall + Duration::from_secs(5), now, wall),
            now + Duration::from_secs(5)
        );
        assert_eq!(instant_at(wall - Duration::from_secs(5), now, wall), now);
        assert_eq!(span(Duration::from_secs(60)), "1 min");
        assert_eq!(span(Duration::from_secs(3600)), "1 h");
        assert_eq!(span(Duration::from_secs(90)), "90 s");
    }
}
