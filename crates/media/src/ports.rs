//! The pool of RTP/RTCP port pairs (RTP on an even port, RTCP on the next one,
//! RFC 3550 section 11).

use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug)]
pub(crate) struct PortPool {
    bases: Vec<u16>,
    used: Vec<bool>,
    /// Where the next search starts. Handing pairs out round-robin rather than
    /// lowest-first keeps a just-freed port idle for a while, so late packets of an
    /// ended call do not land in a new one.
    cursor: usize,
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
        PortPool {
            used: vec![false; bases.len()],
            bases,
            cursor: 0,
            pairs_in_use: 0,
        }
    }

    /// Marks the next free pair used and returns its RTP port.
    pub(crate) fn reserve(&mut self) -> Option<u16> {
        let n = self.bases.len();
        for i in 0..n {
            let idx = (self.cursor + i) % n;
            if !self.used[idx] {
                self.used[idx] = true;
                self.cursor = (idx + 1) % n;
                self.pairs_in_use += 1;
                return Some(self.bases[idx]);
            }
        }
        None
    }

    pub(crate) fn release(&mut self, base: u16) {
        if let Ok(idx) = self.bases.binary_search(&base) {
            if self.used[idx] {
                self.used[idx] = false;
                self.pairs_in_use -= 1;
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

    #[test]
    fn pairs_are_even_and_inside_the_range() {
        let mut p = PortPool::new(&(10001..=10006));
        assert_eq!(p.bases, vec![10002, 10004]);
        assert_eq!(p.reserve(), Some(10002));
        assert_eq!(p.reserve(), Some(10004));
        assert_eq!(p.reserve(), None);
        p.release(10002);
        assert_eq!(p.pairs_in_use(), 1);
        assert_eq!(p.reserve(), Some(10002));
        p.release(12345); // not ours: ignored
        assert_eq!(p.pairs_in_use(), 2);
    }

    #[test]
    fn degenerate_ranges_have_no_pairs() {
        assert!(PortPool::new(&(65535..=65535)).bases.is_empty());
        assert!(PortPool::new(&(0..=1)).bases.is_empty());
        assert!(PortPool::new(&(2000..=2000)).bases.is_empty());
        #[allow(clippy::reversed_empty_ranges)]
        let empty = 3000..=2000;
        assert!(PortPool::new(&empty).bases.is_empty());
        assert_eq!(
            PortPool::new(&(65530..=65535)).bases,
            vec![65530, 65532, 65534]
        );
    }

    #[test]
    fn round_robin_after_release() {
        let mut p = PortPool::new(&(20000..=20005));
        let a = p.reserve().unwrap();
        p.release(a);
        assert_ne!(p.reserve(), Some(a), "a freed pair is not reused at once");
    }
}
