//! A set of RTP payload types (0-127), as a phone's SDP lists them on its m= line.

/// The payload types one phone's SDP names: its codecs' and its telephone-event's.
/// The relay latches a source its SDP does not name (a phone behind NAT) only on a
/// packet whose payload type is in this set, so a stranger's random or mistaken
/// stream does not become the call's. A bit per payload type: copying and testing
/// it is free on the per-packet path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PayloadTypes(u128);

impl PayloadTypes {
    /// No payload type: nothing the set guards is admitted.
    pub const NONE: PayloadTypes = PayloadTypes(0);

    /// The given payload types; values above 127 (not payload types) are ignored.
    pub const fn of(pts: &[u8]) -> PayloadTypes {
        let mut bits = 0u128;
        let mut i = 0;
        while i < pts.len() {
            if pts[i] < 128 {
                bits |= 1u128 << pts[i];
            }
            i += 1;
        }
        PayloadTypes(bits)
    }

    pub fn insert(&mut self, pt: u8) {
        if pt < 128 {
            self.0 |= 1u128 << pt;
        }
    }

    pub fn contains(self, pt: u8) -> bool {
        pt < 128 && self.0 & (1u128 << pt) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<u8> for PayloadTypes {
    fn from_iter<I: IntoIterator<Item = u8>>(iter: I) -> PayloadTypes {
        let mut set = PayloadTypes::NONE;
        for pt in iter {
            set.insert(pt);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::PayloadTypes;

    #[test]
    fn holds_exactly_what_was_put_in() {
        let s = PayloadTypes::of(&[0, 8, 101, 127, 200]);
        for pt in [0, 8, 101, 127] {
            assert!(s.contains(pt), "{pt}");
        }
        for pt in [1, 9, 18, 96, 100, 128, 200, 255] {
            assert!(!s.contains(pt), "{pt}");
        }
        assert!(PayloadTypes::NONE.is_empty() && !PayloadTypes::NONE.contains(0));
        assert!(!s.is_empty());
    }
}
