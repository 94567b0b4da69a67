//! The lockout rules in virtual time.

use super::*;

fn ip(n: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, n])
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn a_source_is_locked_after_five_failures_in_a_minute() {
    let t0 = Instant::now();
    let mut l = LockoutTracker::default();
    for i in 0..4 {
        assert!(l.record_failure(ip(1), "110", t0 + secs(i)).is_empty());
        assert!(!l.is_locked(ip(1), "110", t0 + secs(i)));
    }
    let started = l.record_failure(ip(1), "110", t0 + secs(4));
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0].subject, Subject::Source(ip(1)));
    assert_eq!(started[0].failures, 5);
    assert_eq!(started[0].count, 1);
    let at = t0 + secs(4);
    assert_eq!(started[0].until, at + secs(300));
    // The source is locked for every extension; the extension is not locked for
    // other sources (one source is no distributed attack).
    assert!(l.is_locked(ip(1), "other", at));
    assert!(!l.is_locked(ip(2), "110", at));
    assert!(l.is_locked(ip(1), "110", at + secs(299)));
    assert!(!l.is_locked(ip(1), "110", at + secs(300)));
}

#[test]
fn slow_guessing_is_locked_within_the_hour_and_waits_longer_each_time() {
    let t0 = Instant::now();
    let mut l = LockoutTracker::default();
    // 4 a minute (never 5 within 60 s): the hourly limit of 10 catches it.
    let mut t = t0;
    let mut tries = 0;
    let first = loop {
        tries += 1;
        let started = l.record_failure(ip(1), "110", t);
        if let Some(lock) = started.into_iter().next() {
            break lock;
        }
        t += secs(15);
        assert!(tries < 100);
    };
    assert_eq!(tries, 10, "locked at the 10th slow guess");
    assert_eq!(first.window, HOUR);
    assert_eq!(first.until - first.since, secs(300));
    // After the lock, the next 10 slow guesses lock twice as long, then 4x.
    let mut lengths = vec![first.until - first.since];
    t = first.until;
    for _ in 0..2 {
        let lock = loop {
            assert!(!l.is_locked(ip(1), "110", t));
            if let Some(lock) = l.record_failure(ip(1), "110", t).into_iter().next() {
                break lock;
            }
            t += secs(15);
        };
        lengths.push(lock.until - lock.since);
        t = lock.until;
    }
    assert_eq!(lengths, vec![secs(300), secs(600), secs(1200)]);
    // A quiet day later the backoff starts afresh.
    t += FORGET_AFTER;
    l.purge(t);
    for _ in 0..4 {
        l.record_failure(ip(1), "110", t);
    }
    let lock = l.record_failure(ip(1), "110", t).pop().unwrap();
    assert_eq!(lock.until - lock.since, secs(300));
}

#[test]
fn the_backoff_stops_at_a_day() {
    let t0 = Instant::now();
    let mut l = LockoutTracker::default();
    let mut t = t0;
    let mut last = Duration::ZERO;
    for _ in 0..12 {
        for _ in 0..4 {
            l.record_failure(ip(1), "110", t);
        }
        let lock = l.record_failure(ip(1), "110", t).pop().unwrap();
        assert_eq!(
            lock.subject,
            Subject::Source(ip(1)),
            "one source never locks the extension"
        );
        last = lock.until - lock.since;
        t = lock.until;
    }
    assert_eq!(last, secs(24 * 3600));
}

#[test]
fn many_sources_lock_the_extension_but_not_its_known_good_source() {
    let t0 = Instant::now();
    let mut l = LockoutTracker::default();
    l.record_success(ip(100), "110", t0);
    let mut started = Vec::new();
    // 20 sources, one guess each, within the hour.
    for n in 1..=20 {
        started.extend(l.record_failure(ip(n), "110", t0 + secs(n.into())));
    }
    assert_eq!(
        started.iter().map(|l| &l.subject).collect::<Vec<_>>(),
        vec![&Subject::Extension("110".into())]
    );
    let t = t0 + secs(30);
    assert!(l.is_locked(ip(77), "110", t), "a new source is held back");
    assert!(!l.is_locked(ip(77), "111", t), "other extensions are not");
    assert!(
        !l.is_locked(ip(100), "110", t),
        "the phone's own address gets in"
    );
}

#[test]
fn one_source_alone_never_locks_the_extension() {
    let t0 = Instant::now();
    let mut l = LockoutTracker::default();
    let mut t = t0;
    for _ in 0..100 {
        if l.is_locked(ip(1), "110", t) {
            t += secs(60);
            continue;
        }
        for lock in l.record_failure(ip(1), "110", t) {
            assert_eq!(lock.subject, Subject::Source(ip(1)));
        }
        t += secs(1);
    }
    assert!(!l.is_locked(ip(2), "110", t));
}

#[test]
fn forged_failures_from_the_phones_address_lock_only_that_pair() {
    // A guesser behind the phone's NAT: same address, same extension.
    let t0 = Instant::now();
    let mut l = LockoutTracker::default();
    l.record_success(ip(1), "110", t0);
    for _ in 0..4 {
        assert!(l.record_failure(ip(1), "110", t0).is_empty());
    }
    let lock = l.record_failure(ip(1), "110", t0).pop().unwrap();
    assert_eq!(lock.subject, Subject::SourceExtension(ip(1), "110".into()));
    assert!(l.is_locked(ip(1), "110", t0));
    // The address is not locked for others, the extension not for other addresses.
    assert!(!l.is_locked(ip(1), "111", t0));
    assert!(!l.is_locked(ip(2), "110", t0));
}

#[test]
fn a_scanner_from_a_phones_address_is_locked_on_other_extensions() {
    let t0 = Instant::now();
    let mut l = LockoutTracker::default();
    l.record_success(ip(1), "110", t0);
    for u in ["100", "101", "102", "103", "104"] {
        l.record_failure(ip(1), u, t0);
    }
    assert!(l.is_locked(ip(1), "999", t0));
    assert!(
        !l.is_locked(ip(1), "110", t0),
        "the phone itself still registers"
    );
}

#[test]
fn success_does_not_reset_the_sources_budget() {
    let t0 = Instant::now();
    let mut l = LockoutTracker::default();
    for u in ["100", "101", "102", "103"] {
        l.record_failure(ip(1), u, t0);
    }
    l.record_success(ip(1), "110", t0);
    let lock = l.record_failure(ip(1), "105", t0).pop().unwrap();
    assert_eq!(lock.subject, Subject::Source(ip(1)));
}

#[test]
fn lift_and_restore() {
    let t0 = Instant::now();
    let mut l = LockoutTracker::default();
    for _ in 0..5 {
        l.record_failure(ip(1), "110", t0);
    }
    assert_eq!(l.locks(t0).len(), 1);
    assert!(l.lift(&Subject::Source(ip(1)), t0));
    assert!(!l.is_locked(ip(1), "110", t0));
    assert!(!l.lift(&Subject::Source(ip(1)), t0), "nothing left to lift");
    // Restored after a restart: in force until then, and the next lock doubles.
    let mut l = LockoutTracker::default();
    l.restore(Subject::Source(ip(1)), t0 + secs(100), 1, t0);
    l.restore(Subject::Extension("110".into()), t0, 1, t0);
    assert_eq!(l.locks(t0).len(), 1, "an expired one is not restored");
    assert!(l.is_locked(ip(1), "x", t0 + secs(99)));
    let t = t0 + secs(100);
    for _ in 0..4 {
        l.record_failure(ip(1), "x", t);
    }
    let lock = l.record_failure(ip(1), "x", t).pop().unwrap();
    assert_eq!(lock.until - lock.since, secs(600));
}

#[test]
fn subjects_round_trip_through_their_text() {
    for s in [
        Subject::Source(ip(1)),
        Subject::Source("2001:db8::1".parse().unwrap()),
        Subject::Extension("110".into()),
        Subject::SourceExtension(ip(3), "110".into()),
    ] {
        assert_eq!(Subject::parse(s.kind(), &s.key()), Some(s.clone()));
    }
    assert_eq!(Subject::parse("source", "not an ip"), None);
    assert_eq!(Subject::parse("planet", "x"), None);
}

#[test]
fn bounded_memory_and_purge() {
    let t0 = Instant::now();
    let mut l = LockoutTracker::with_config(LockoutConfig {
        max_tracked: 4,
        ..LockoutConfig::default()
    });
    for n in 0..50u8 {
        l.record_failure(
            ip(n),
            &format!("u{n}"),
            t0 + Duration::from_millis(n.into()),
        );
        l.record_success(ip(n), &format!("u{n}"), t0);
    }
    let (ips, users) = l.tracked();
    assert!(ips <= 4 && users <= 4);
    assert!(l.known_good.len() <= 4);
    l.purge(t0 + HOUR + secs(1));
    assert_eq!(l.tracked(), (0, 0));
}

#[test]
fn purge_keeps_active_lockouts() {
    let t0 = Instant::now();
    let mut l = LockoutTracker::default();
    for _ in 0..5 {
        l.record_failure(ip(1), "110", t0);
    }
    l.purge(t0 + secs(120));
    assert!(l.is_locked(ip(1), "110", t0 + secs(120)));
    l.purge(t0 + FORGET_AFTER + secs(301));
    assert_eq!(l.tracked(), (0, 0));
}
