//! The pool of RTP/RTCP port pairs (RTP on an even port, RTCP on the next one,
//! RFC 3550 section 11).

use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard};

/// At most this many just-released pairs wait before they may be handed out again
/// (fewer in a small pool: at most half of it, so the random choice always has the
/// other half to pick from).
const MAX_QUARANTINE: usize = 1024;

/// The pairs and which are free.
///
/// A new call's pair is picked at random among the free ones. Handing them out in
/// order made every call's ports predictable from the last one's (+4 per call), so
/// a stranger could spray a call's ports before its phones sent their first packet;
/// a random pick leaves nothing to predict but the configured range (the relay's
/// latching rules then keep such a stranger out, see `relay`).
///
/// A released pair first waits in a quarantine, oldest first, until
/// `quarantine_cap` newer releases push it out: late packets of an ended call do
/// not land in the next one. Only when no other pair is free is the longest-waiting
/// one reused early. Reserving and releasing are O(1) (a swap-remove from `free`, a
/// queue push and pop), whatever the size of the range.
#[derive(Debug)]
pub(crate) struct PortPool {
    bases: Vec<u16>,
    used: Vec<bool>,
    /// Indices into `bases` of the free pairs out of quarantine, in no order.
    free: Vec<u32>,
    /// Indices of released pairs, oldest release first.
    quarantine: VecDeque<u32>,
    quarantine_cap: usize,
    pairs_in_use: usize,
}

impl PortPool {
    pub(crate) fn new(range: &RangeInclusive<u16>) -> PortPool {
        let (start, end) = (u32::from(*range.start()), u32::from(*range.end()));
        // Port 0 means "any port" to bind, so the first usable pair is 2/3.
        let first = start.max(2).next_multiple_of(2);
        let bases: Vec<u16> = (first..end)
            .step_by(2)
            .filter_map(|p| u16::try_from(p).ok())
            .collect();
        // At most 32768 pairs: every index fits a u32.
        let free = (0..bases.len() as u32).collect();
        PortPool {
            used: vec![false; bases.len()],
            quarantine_cap: (bases.len() / 2).min(MAX_QUARANTINE),
            quarantine: VecDeque::new(),
            free,
            bases,
            pairs_in_use: 0,
        }
    }

    /// Marks a random free pair used and returns its RTP port.
    pub(crate) fn reserve(&mut self) -> Option<u16> {
        let idx = if self.free.is_empty() {
            // Everything else is in use: the pair released longest ago.
            self.quarantine.pop_front()?
        } else {
            let i = rand::random_range(0..self.free.len());
            self.free.swap_remove(i)
        } as usize;
        self.used[idx] = true;
        self.pairs_in_use += 1;
        Some(self.bases[idx])
    }

    pub(crate) fn release(&mut self, base: u16) {
        let Ok(idx) = self.bases.binary_search(&base) else {
            return;
        };
        if !self.used[idx] {
            return;
        }
        self.used[idx] = false;
        self.pairs_in_use -= 1;
        self.quarantine.push_back(idx as u32);
        if self.quarantine.len() > self.quarantine_cap {
            if let Some(out) = self.quarantine.pop_front() {
                self.free.push(out);
            }
        }
    }

    pub(crate) fn pairs_in_use(&self) -> usize {
        self.pairs_in_use
    }
}

pub(crate) type SharedPool = Arc<Mutex<PortPool>>;

/// Locks the pool; a poisoned lock still holds a consistent pool (every update is
/// a few plain assignments), so it is used rather than propagating a panic.
pub(crate) fn lock(pool: &SharedPool) -> MutexGuard<'_, PortPool> {
    pool.lock().unwrap_or_else(|e| e.into_inner())
}

/// Port pairs held by one bridge; returned to the pool when dropped, which the
/// media thread does only after closing its sockets.
#[derive(Debug)]
pub(crate) struct PortLease {
    pool: SharedPool,
    bases: Vec<u16>,
}

impl PortLease {
    pub(crate) fn new(pool: SharedPool) -> PortLease {
        PortLease {
            pool,
            bases: Vec::with_capacity(2),
        }
    }

    pub(crate) fn push(&mut self, base: u16) {
        self.bases.push(base);
    }

    pub(crate) fn len(&self) -> usize {
        self.bases.len()
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut pool = lock(&self.pool);
        for &b in &self.bases {
            pool.release(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Reserves everything the pool has, in the order it hands it out.
    fn drain(p: &mut PortPool) -> Vec<u16> {
        std::iter::from_fn(|| p.reserve()).collect()
    }

    #[test]
    fn pairs_are_even_and_inside_the_range() {
        let mut p = PortPool::new(&(10001..=10006));
        assert_eq!(p.bases, vec![10002, 10004]);
        let mut got = drain(&mut p);
        got.sort_unstable();
        assert_eq!(got, vec![10002, 10004]);
        assert_eq!(p.reserve(), None);
        p.release(10002);
        assert_eq!(p.pairs_in_use(), 1);
        assert_eq!(p.reserve(), Some(10002), "the only free pair");
        p.release(12345); // not ours: ignored
        p.release(10003); // not a pair's base: ignored
        assert_eq!(p.pairs_in_use(), 2);
        p.release(10004);
        p.release(10004); // twice: counted once
        assert_eq!(p.pairs_in_use(), 1);
    }

    #[test]
    fn degenerate_ranges_have_no_pairs() {
        assert!(PortPool::new(&(65535..=65535)).bases.is_empty());
        assert!(PortPool::new(&(0..=1)).bases.is_empty());
        assert!(PortPool::new(&(2000..=2000)).bases.is_empty());
        #[allow(clippy::reversed_empty_ranges)]
        let empty = 3000..=2000;
        assert!(PortPool::new(&empty).bases.is_empty());
        assert_eq!(PortPool::new(&(0..=1)).reserve(), None);
        assert_eq!(
            PortPool::new(&(65530..=65535)).bases,
            vec![65530, 65532, 65534]
        );
    }

    #[test]
    fn pairs_come_in_no_predictable_order_and_never_twice() {
        // The e2e suite's range size and a production-sized one.
        for range in [40000..=40099, 10000..=29999] {
            let mut p = PortPool::new(&range);
            let n = p.bases.len();
            let got = drain(&mut p);
            assert_eq!(got.len(), n, "every pair is handed out");
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), n, "none twice");
            assert!(got.iter().all(|b| b % 2 == 0 && range.contains(b)));
            assert_eq!(p.pairs_in_use(), n);
            // In order (as the old round-robin pool handed them out), each pair is
            // the last + 2. A random order: the odds that even 10 of the first 50
            // steps are +2 are below 1e-10 for 50 pairs.
            let steps: Vec<i32> = got
                .windows(2)
                .take(50)
                .map(|w| i32::from(w[1]) - i32::from(w[0]))
                .collect();
            let plus_two = steps.iter().filter(|&&d| d == 2).count();
            assert!(plus_two < 10, "{plus_two} of {} steps were +2", steps.len());
            assert!(steps.iter().any(|&d| d != steps[0]), "a constant step");
        }
    }

    #[test]
    fn a_released_pair_waits_while_others_are_free() {
        let mut p = PortPool::new(&(20000..=20039)); // 20 pairs, quarantine of 10
        assert_eq!(p.quarantine_cap, 10);
        let a = p.reserve().unwrap();
        p.release(a);
        // Nine more releases keep `a` in quarantine: not handed out meanwhile.
        let mut released = Vec::new();
        for _ in 0..9 {
            let b = p.reserve().unwrap();
            assert_ne!(
                b, a,
                "a just-freed pair is not reused while others are free"
            );
            released.push(b);
        }
        for &b in &released {
            p.release(b);
        }
        // The tenth newer release lets `a` go back among the free pairs.
        let c = p.reserve().unwrap();
        assert_ne!(c, a);
        p.release(c);
        released.push(c);
        assert!(p
            .free
            .contains(&(p.bases.binary_search(&a).unwrap() as u32)));
        // Used pairs are never handed out; quarantined ones only when nothing else
        // is free, the longest-waiting first.
        let all = drain(&mut p);
        assert_eq!(all.len(), 20);
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 20);
        assert!(all[..10].contains(&a));
        assert_eq!(&all[10..], &released[..]);
    }

    #[test]
    fn with_everything_else_taken_the_oldest_release_comes_back_first() {
        let mut p = PortPool::new(&(30000..=30007)); // 4 pairs, quarantine of 2
        let all = drain(&mut p);
        p.release(all[2]);
        p.release(all[0]);
        assert_eq!(p.reserve(), Some(all[2]));
        assert_eq!(p.reserve(), Some(all[0]));
        assert_eq!(p.reserve(), None);
    }
}
