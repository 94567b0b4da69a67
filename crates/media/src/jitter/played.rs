//! Which recent sequence numbers were already played, so that a packet arriving
//! after its turn can be told apart as a duplicate (played) or late (lost, then
//! arrived too late to play). 64 packets of history in one word.

#[derive(Debug, Clone, Default)]
pub(super) struct Played {
    top: Option<u16>,
    /// Bit i set: sequence number `top - i` was played.
    mask: u64,
}

impl Played {
    pub(super) fn mark(&mut self, seq: u16) {
        let Some(top) = self.top else {
            self.top = Some(seq);
            self.mask = 1;
            return;
        };
        let d = seq.wrapping_sub(top) as i16;
        if d > 0 {
            let d = d as u32;
            self.mask = if d >= 64 { 0 } else { self.mask << d };
            self.mask |= 1;
            self.top = Some(seq);
        } else if (-d as u32) < 64 {
            self.mask |= 1 << (-d as u32);
        }
    }

    pub(super) fn contains(&self, seq: u16) -> bool {
        let Some(top) = self.top else {
            return false;
        };
        let d = top.wrapping_sub(seq) as i16;
        (0..64).contains(&d) && self.mask & (1 << d) != 0
    }

    pub(super) fn clear(&mut self) {
        *self = Played::default();
    }
}
