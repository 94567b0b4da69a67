//! The digest locks as the rest of the PBX sees them: each lock the authenticator
//! starts is recorded (kept across restarts, on record for the administrator) and
//! announced; the API lists them and an administrator lifts them through the
//! switch, their one owner.

use std::time::Instant;

use model::{Lockout, LockoutKind};
use sip::auth::{Lock, LockSubject};

use super::Switch;
use crate::lockouts::{instant_at, span, subject_id, Started};

fn kind_of(subject: &LockSubject) -> LockoutKind {
    match subject {
        LockSubject::Source(_) => LockoutKind::Source,
        LockSubject::Extension(_) => LockoutKind::Extension,
        LockSubject::SourceExtension(..) => LockoutKind::SourceExtension,
    }
}

fn reason_of(lock: &Lock) -> String {
    if lock.window.is_zero() {
        return "wrong passwords (kept across a restart)".into();
    }
    let what = match lock.subject {
        LockSubject::Source(_) => "from this source",
        LockSubject::Extension(_) => "from several sources (a distributed guess)",
        LockSubject::SourceExtension(..) => "from its known-good source",
    };
    format!(
        "{} wrong passwords within {} {what}",
        lock.failures,
        span(lock.window)
    )
}

impl Switch {
    /// A lock of the tracker as the rest of the PBX records and shows it.
    fn started_of(&self, lock: &Lock) -> Started {
        Started {
            kind: kind_of(&lock.subject),
            key: lock.subject.key(),
            subject: lock.subject.to_string(),
            since: self.wall(lock.since),
            until: self.wall(lock.until),
            count: lock.count,
            reason: reason_of(lock),
        }
    }

    /// Records and announces the locks the last request started.
    pub(super) fn publish_locks(&mut self, now: Instant) {
        for lock in self.auth.take_started() {
            let started = self.started_of(&lock);
            tracing::warn!(
                subject = %started.subject,
                until = ?lock.until.saturating_duration_since(now),
                "locked out: {}",
                started.reason
            );
            let (write, event) = started.announce();
            self.store(write);
            self.emit(event);
        }
    }

    /// The digest locks in force.
    pub fn lockouts(&self, now: Instant) -> Vec<Lockout> {
        self.auth
            .locks(now)
            .iter()
            .map(|lock| self.started_of(lock).shown())
            .collect()
    }

    /// Lifts the digest lock named `id` (as [`Switch::lockouts`] shows it), on
    /// `by`'s say-so; false when no such lock is in force.
    pub fn lift_lockout(&mut self, id: &str, by: &str, now: Instant) -> bool {
        let Some(lock) = self
            .auth
            .locks(now)
            .into_iter()
            .find(|l| subject_id(kind_of(&l.subject), &l.subject.key()) == id)
        else {
            return false;
        };
        if !self.auth.lift(&lock.subject, now) {
            return false;
        }
        tracing::warn!(subject = %lock.subject, %by, "lock lifted");
        self.store(store::Write::LockoutLifted {
            subject_id: id.to_string(),
            at: self.wall(now),
            by: by.to_string(),
        });
        self.emit(crate::events::Event::LockoutLifted {
            id: id.to_string(),
            subject: lock.subject.to_string(),
            by: by.to_string(),
        });
        true
    }

    /// Puts back the digest locks kept in the database (at start); others (PIN
    /// locks) are skipped. How many were restored.
    pub fn restore_lockouts(&mut self, records: &[store::LockoutRecord], now: Instant) -> usize {
        let now_wall = self.wall(now);
        let mut restored = 0;
        for r in records {
            let Some(subject) = LockSubject::parse(&r.kind, &r.key) else {
                continue;
            };
            let until = instant_at(r.until, now, now_wall);
            self.auth.restore(subject, until, r.count, now);
            restored += 1;
        }
        restored
    }
}
