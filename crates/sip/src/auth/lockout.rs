//! Brute-force throttling of digest authentication, I/O-free (fed `now`).
//!
//! What it must stop, and what it must not allow:
//! - **one source guessing** (svcrack, or 4 tries a minute for hours): the source
//!   is locked after `source_burst` failures in a minute or `source_slow` in an
//!   hour, whichever comes first;
//! - **many sources guessing one extension** (a botnet): the extension is locked
//!   after `extension_limit` failures in an hour from sources not known to be good
//!   for it. A single source is locked long before it gets there, so this only
//!   triggers under a distributed attack;
//! - **an attacker locking someone else out**: the PBX only counts failures against
//!   nonces it issued to that very source (see `NonceTracker::issue_for`), so
//!   forged REGISTERs from spoofed or arbitrary addresses count for nothing; and a
//!   source where an extension authenticated before (its *known-good* source: the
//!   phone's own address) passes both the source and the extension lock for that
//!   extension. It has a lock of its own (the pair), fed only by its own failures,
//!   so a guesser behind the same NAT as a phone is still stopped.
//!
//! Each lock lasts `first_lock`, doubling with every lock of the same subject in a
//! row up to `max_lock` (slow guessing gets slower and slower); a subject forgets
//! its history after a quiet day.
//!
//! Unknown users and wrong passwords are indistinguishable: both are recorded
//! here, and while a lock holds every attempt is answered the same way without the
//! password being checked, so a lock reveals nothing about whether an account
//! exists or a guess was right.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Thresholds for [`LockoutTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutConfig {
    /// Failures from one source within a minute that lock it.
    pub source_burst: u32,
    /// Failures from one source within an hour that lock it (slow guessing).
    pub source_slow: u32,
    /// Failures on one extension within an hour, from sources not known good for
    /// it, that lock the extension (for those sources), when they come from at
    /// least `extension_sources` different sources: one source alone is the
    /// source lock's business, however long it keeps at it.
    pub extension_limit: u32,
    pub extension_sources: u32,
    /// The first lock's length; each further lock in a row doubles it.
    pub first_lock: Duration,
    pub max_lock: Duration,
    /// How long a successful authentication keeps its source known good.
    pub known_good_for: Duration,
    /// Bound on each table (sources, extensions, pairs, known-good pairs), so
    /// spoofed sources cannot grow memory without limit.
    pub max_tracked: usize,
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
/// A subject quiet for this long after its last lock starts its backoff afresh.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

impl Default for LockoutConfig {
    /// 5 failures a minute or 10 an hour lock a source for 5 minutes (then 10,
    /// 20, ... up to a day); 20 an hour lock an extension.
    fn default() -> Self {
        LockoutConfig {
            source_burst: 5,
            source_slow: 10,
            extension_limit: 20,
            extension_sources: 3,
            first_lock: Duration::from_secs(300),
            max_lock: Duration::from_secs(24 * 3600),
            known_good_for: Duration::from_secs(30 * 24 * 3600),
            max_tracked: 65_536,
        }
    }
}

/// What a lock holds back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// Every extension from this address (except where it is known good).
    Source(IpAddr),
    /// This extension from every address not known good for it.
    Extension(String),
    /// This extension from this known-good address.
    SourceExtension(IpAddr, String),
}

impl Subject {
    /// `source`, `extension` or `source_extension`.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Source(_) => "source",
            Subject::Extension(_) => "extension",
            Subject::SourceExtension(..) => "source_extension",
        }
    }

    /// Parses what [`Subject::key`] wrote, with its kind.
    pub fn parse(kind: &str, key: &str) -> Option<Subject> {
        match kind {
            "source" => key.parse().ok().map(Subject::Source),
            "extension" => Some(Subject::Extension(key.to_string())),
            "source_extension" => {
                let (ip, user) = key.split_once(' ')?;
                Some(Subject::SourceExtension(ip.parse().ok()?, user.to_string()))
            }
            _ => None,
        }
    }

    /// The subject without its kind: `192.0.2.1`, `110`, `192.0.2.1 110`.
    pub fn key(&self) -> String {
        match self {
            Subject::Source(ip) => ip.to_string(),
            Subject::Extension(user) => user.clone(),
            Subject::SourceExtension(ip, user) => format!("{ip} {user}"),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Source(ip) => write!(f, "source {ip}"),
            Subject::Extension(user) => write!(f, "extension {user}"),
            Subject::SourceExtension(ip, user) => write!(f, "extension {user} from {ip}"),
        }
    }
}

/// A lock in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub subject: Subject,
    pub since: Instant,
    pub until: Instant,
    /// Locks of this subject in a row, this one included (1: the first).
    pub count: u32,
    /// Failures that triggered it, and in which window (zeros for a lock restored
    /// after a restart).
    pub failures: u32,
    pub window: Duration,
}

#[derive(Debug, Default)]
struct Record {
    /// When, and from where (extension records only).
    failures: VecDeque<(Instant, Option<IpAddr>)>,
    lock: Option<(Instant, Instant)>,
    /// Locks in a row.
    locks: u32,
    /// What triggered the current lock: failures within a window (unknown for a
    /// lock restored after a restart: zeros).
    why: (u32, Duration),
    last_seen: Option<Instant>,
}

impl Record {
    fn locked(&self, now: Instant) -> Option<(Instant, Instant)> {
        self.lock.filter(|&(_, until)| now < until)
    }

    /// The lock in force on `subject` (this record's), if any.
    fn lock_of(&self, subject: Subject, now: Instant) -> Option<Lock> {
        self.locked(now).map(|(since, until)| Lock {
            subject,
            since,
            until,
            count: self.locks,
            failures: self.why.0,
            window: self.why.1,
        })
    }

    /// Adds a failure, forgetting those older than `keep`.
    fn fail(&mut self, now: Instant, from: Option<IpAddr>, keep: Duration) {
        self.last_seen = Some(now);
        while self
            .failures
            .front()
            .is_some_and(|&(t, _)| now.saturating_duration_since(t) >= keep)
        {
            self.failures.pop_front();
        }
        self.failures.push_back((now, from));
    }

    fn recent(&self, now: Instant, window: Duration) -> impl Iterator<Item = &Option<IpAddr>> {
        self.failures
            .iter()
            .rev()
            .take_while(move |&&(t, _)| now.saturating_duration_since(t) < window)
            .map(|(_, from)| from)
    }

    fn within(&self, now: Instant, window: Duration) -> u32 {
        u32::try_from(self.recent(now, window).count()).unwrap_or(u32::MAX)
    }

    /// Different sources among the failures within `window`.
    fn sources_within(&self, now: Instant, window: Duration) -> u32 {
        let mut seen: Vec<IpAddr> = self.recent(now, window).flatten().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        u32::try_from(seen.len()).unwrap_or(u32::MAX)
    }

    /// Starts a lock now: `first` doubled per lock in a row, at most `max`.
    fn start_lock(&mut self, now: Instant, cfg: &LockoutConfig) -> (Instant, u32) {
        if self
            .lock
            .is_some_and(|(_, until)| now.saturating_duration_since(until) >= FORGET_AFTER)
        {
            self.locks = 0;
        }
        let length = cfg
            .first_lock
            .saturating_mul(1u32 << self.locks.min(16))
            .min(cfg.max_lock);
        self.locks = self.locks.saturating_add(1);
        self.failures.clear();
        self.lock = Some((now, now + length));
        (now + length, self.locks)
    }

    /// Nothing left worth keeping: no lock in force, no failure within an hour, and
    /// no lock recent enough to double the next one.
    fn is_idle(&self, now: Instant) -> bool {
        self.locked(now).is_none()
            && self
                .failures
                .back()
                .is_none_or(|&(t, _)| now.saturating_duration_since(t) >= HOUR)
            && self
                .lock
                .is_none_or(|(_, until)| now.saturating_duration_since(until) >= FORGET_AFTER)
    }
}

/// Counts failed authentications per source, per extension and per known-good
/// pair, and decides who is locked.
#[derive(Debug)]
pub struct LockoutTracker {
    cfg: LockoutConfig,
    sources: HashMap<IpAddr, Record>,
    extensions: HashMap<String, Record>,
    pairs: HashMap<(IpAddr, String), Record>,
    /// Last successful authentication of an extension from a source.
    known_good: HashMap<(IpAddr, String), Instant>,
}

impl Default for LockoutTracker {
    fn default() -> Self {
        LockoutTracker::with_config(LockoutConfig::default())
    }
}

impl LockoutTracker {
    pub fn with_config(cfg: LockoutConfig) -> LockoutTracker {
        LockoutTracker {
            cfg,
            sources: HashMap::new(),
            extensions: HashMap::new(),
            pairs: HashMap::new(),
            known_good: HashMap::new(),
        }
    }

    pub fn config(&self) -> &LockoutConfig {
        &self.cfg
    }

    fn is_known_good(&self, ip: IpAddr, user: &str, now: Instant) -> bool {
        self.known_good
            .get(&(ip, user.to_string()))
            .is_some_and(|&t| now.saturating_duration_since(t) < self.cfg.known_good_for)
    }

    /// The lock that holds back `user` from `ip` now, if any.
    pub fn locked(&self, ip: IpAddr, user: &str, now: Instant) -> Option<Lock> {
        if self.is_known_good(ip, user, now) {
            let key = (ip, user.to_string());
            return self
                .pairs
                .get(&key)
                .and_then(|r| r.lock_of(Subject::SourceExtension(ip, user.to_string()), now));
        }
        self.sources
            .get(&ip)
            .and_then(|r| r.lock_of(Subject::Source(ip), now))
            .or_else(|| {
                self.extensions
                    .get(user)
                    .and_then(|r| r.lock_of(Subject::Extension(user.to_string()), now))
            })
    }

    /// True while `user` may not authenticate from `ip`.
    pub fn is_locked(&self, ip: IpAddr, user: &str, now: Instant) -> bool {
        self.locked(ip, user, now).is_some()
    }

    /// Records a failed attempt (a wrong response *or* an unknown user) against a
    /// nonce this server issued to `ip`. Returns the locks it started.
    pub fn record_failure(&mut self, ip: IpAddr, user: &str, now: Instant) -> Vec<Lock> {
        let cfg = self.cfg;
        let mut started = Vec::new();
        let mut check = |subject: Subject, r: &mut Record, limits: &[(u32, Duration)]| {
            if r.locked(now).is_some() {
                return;
            }
            for &(limit, window) in limits {
                let failures = r.within(now, window);
                let distributed = !matches!(subject, Subject::Extension(_))
                    || r.sources_within(now, window) >= cfg.extension_sources;
                if failures >= limit.max(1) && distributed {
                    let (until, count) = r.start_lock(now, &cfg);
                    r.why = (failures, window);
                    started.push(Lock {
                        subject,
                        since: now,
                        until,
                        count,
                        failures,
                        window,
                    });
                    return;
                }
            }
        };
        if self.is_known_good(ip, user, now) {
            let key = (ip, user.to_string());
            let r = entry(&mut self.pairs, key, &cfg, now);
            r.fail(now, None, HOUR);
            let limits = [(cfg.source_burst, MINUTE), (cfg.source_slow, HOUR)];
            check(Subject::SourceExtension(ip, user.to_string()), r, &limits);
            return started;
        }
        let r = entry(&mut self.sources, ip, &cfg, now);
        r.fail(now, None, HOUR);
        let limits = [(cfg.source_burst, MINUTE), (cfg.source_slow, HOUR)];
        check(Subject::Source(ip), r, &limits);
        let r = entry(&mut self.extensions, user.to_string(), &cfg, now);
        r.fail(now, Some(ip), HOUR);
        check(
            Subject::Extension(user.to_string()),
            r,
            &[(cfg.extension_limit, HOUR)],
        );
        started
    }

    /// Records a success: the source becomes known good for the extension (it
    /// passes the source and extension locks from now on) and the pair's failures
    /// are forgotten. The source's own count is kept, so an attacker holding one
    /// valid account cannot reset the budget it scans other accounts with.
    pub fn record_success(&mut self, ip: IpAddr, user: &str, now: Instant) {
        let key = (ip, user.to_string());
        if let Some(r) = self.pairs.get_mut(&key) {
            r.failures.clear();
        }
        if !self.known_good.contains_key(&key) && self.known_good.len() >= self.cfg.max_tracked {
            let oldest = self
                .known_good
                .iter()
                .min_by_key(|(_, &t)| t)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.known_good.remove(&k);
            }
        }
        self.known_good.insert(key, now);
    }

    /// Every lock in force, sources first.
    pub fn locks(&self, now: Instant) -> Vec<Lock> {
        let mut all: Vec<Lock> = self
            .sources
            .iter()
            .filter_map(|(ip, r)| r.lock_of(Subject::Source(*ip), now))
            .chain(
                self.extensions
                    .iter()
                    .filter_map(|(u, r)| r.lock_of(Subject::Extension(u.clone()), now)),
            )
            .chain(self.pairs.iter().filter_map(|((ip, u), r)| {
                r.lock_of(Subject::SourceExtension(*ip, u.clone()), now)
            }))
            .collect();
        all.sort_by(|a, b| a.subject.cmp(&b.subject));
        all
    }

    /// Lifts a lock (an administrator's decision): the subject's failures and its
    /// backoff are forgotten too. False when it was not locked.
    pub fn lift(&mut self, subject: &Subject, now: Instant) -> bool {
        let r = match subject {
            Subject::Source(ip) => self.sources.remove(ip),
            Subject::Extension(u) => self.extensions.remove(u),
            Subject::SourceExtension(ip, u) => self.pairs.remove(&(*ip, u.clone())),
        };
        r.is_some_and(|r| r.locked(now).is_some())
    }

    /// Puts back a lock kept across a restart (`until` in this process's clock),
    /// with the number of locks in a row it was.
    pub fn restore(&mut self, subject: Subject, until: Instant, count: u32, now: Instant) {
        if until <= now {
            return;
        }
        let cfg = self.cfg;
        let r = match subject {
            Subject::Source(ip) => entry(&mut self.sources, ip, &cfg, now),
            Subject::Extension(u) => entry(&mut self.extensions, u, &cfg, now),
            Subject::SourceExtension(ip, u) => entry(&mut self.pairs, (ip, u), &cfg, now),
        };
        r.lock = Some((now, until));
        r.locks = count.max(1);
        r.why = (0, Duration::ZERO);
        r.last_seen = Some(now);
    }

    /// Drops records with nothing left worth keeping, and expired known-good pairs.
    pub fn purge(&mut self, now: Instant) {
        self.sources.retain(|_, r| !r.is_idle(now));
        self.extensions.retain(|_, r| !r.is_idle(now));
        self.pairs.retain(|_, r| !r.is_idle(now));
        let keep = self.cfg.known_good_for;
        self.known_good
            .retain(|_, t| now.saturating_duration_since(*t) < keep);
    }

    /// Number of tracked sources and extensions (for metrics and tests).
    pub fn tracked(&self) -> (usize, usize) {
        (self.sources.len(), self.extensions.len())
    }
}

/// Record for `key`, making room first when the map is at its bound: idle
/// records go, then the least recently seen one.
fn entry<'a, K: Hash + Eq + Clone>(
    map: &'a mut HashMap<K, Record>,
    key: K,
    cfg: &LockoutConfig,
    now: Instant,
) -> &'a mut Record {
    if !map.contains_key(&key) && map.len() >= cfg.max_tracked.max(1) {
        map.retain(|_, r| !r.is_idle(now));
        if map.len() >= cfg.max_tracked.max(1) {
            let oldest = map
                .iter()
                .min_by_key(|(_, r)| r.last_seen)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
    }
    map.entry(key).or_default()
}

#[cfg(test)]
mod tests;
