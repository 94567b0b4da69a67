//! Which free members a waiting caller rings next: the queue strategies of
//! Asterisk's `app_queue`, over the members that can take a call now.

use model::Strategy;

/// A member that could be rung now, with what the strategies weigh.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub extension: String,
    pub penalty: u32,
    /// Its place in the queue's member list (the order members were added).
    pub position: usize,
    /// Queue calls it answered (fewestcalls).
    pub calls: u64,
    /// When its last queue call ended, in ms of the floor's clock; None: never
    /// (leastrecent rings it first).
    pub last_call: Option<u64>,
    /// Already tried for this caller in this round (linear, rrmemory...).
    pub tried: bool,
}

/// A small deterministic generator for `random` and `wrandom` (splitmix64): the
/// choice need not be unpredictable, only fair, and tests need it repeatable.
#[derive(Debug, Clone)]
pub(super) struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Dice {
        Dice(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The members to ring for one caller. `rr_next` is where round robin goes on
/// (the list position after the member rrmemory rang last). Members already tried
/// in this round are passed over while untried ones remain, so a caller is not
/// offered the same member again and again while others are free.
///
/// Penalties: only members at the lowest penalty among the candidates are
/// considered (higher penalties ring only when none lower is free), except under
/// `wrandom`, where the penalty is the weight itself.
pub(super) fn pick(
    strategy: Strategy,
    candidates: &[Candidate],
    rr_next: usize,
    dice: &mut Dice,
) -> Vec<String> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let fresh: Vec<&Candidate> = candidates.iter().filter(|c| !c.tried).collect();
    let pool: Vec<&Candidate> = if fresh.is_empty() {
        candidates.iter().collect()
    } else {
        fresh
    };
    if strategy == Strategy::Wrandom {
        return wrandom(&pool, dice).into_iter().collect();
    }
    let low = pool.iter().map(|c| c.penalty).min().unwrap_or(0);
    let mut pool: Vec<&Candidate> = pool.into_iter().filter(|c| c.penalty == low).collect();
    pool.sort_by_key(|c| c.position);
    let one = match strategy {
        Strategy::Ringall => return pool.iter().map(|c| c.extension.clone()).collect(),
        Strategy::Linear => pool.first().copied(),
        Strategy::Rrmemory => pool
            .iter()
            .find(|c| c.position >= rr_next)
            .or_else(|| pool.first())
            .copied(),
        Strategy::Leastrecent => pool
            .iter()
            .min_by_key(|c| (c.last_call.is_some(), c.last_call, c.position))
            .copied(),
        Strategy::Fewestcalls => pool.iter().min_by_key(|c| (c.calls, c.position)).copied(),
        Strategy::Random => pool.get(dice.below(pool.len() as u64) as usize).copied(),
        Strategy::Wrandom => None,
    };
    one.map(|c| vec![c.extension.clone()]).unwrap_or_default()
}

/// One member at random, a member's chance falling with its penalty: weight
/// 1 / (1 + penalty).
fn wrandom(pool: &[&Candidate], dice: &mut Dice) -> Option<String> {
    // Weights scaled to integers: 1_000_000 / (1 + penalty).
    let weights: Vec<u64> = pool
        .iter()
        .map(|c| 1_000_000 / (1 + u64::from(c.penalty)))
        .collect();
    let total: u64 = weights.iter().sum();
    let mut roll = dice.below(total);
    for (c, w) in pool.iter().zip(weights) {
        if roll < w {
            return Some(c.extension.clone());
        }
        roll -= w;
    }
    pool.last().map(|c| c.extension.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(ext: &str, position: usize) -> Candidate {
        Candidate {
            extension: ext.to_string(),
            penalty: 0,
            position,
            calls: 0,
            last_call: None,
            tried: false,
        }
    }

    #[test]
    fn ringall_rings_the_lowest_penalty_only() {
        let mut c = vec![cand("201", 0), cand("202", 1), cand("203", 2)];
        c[2].penalty = 1;
        let got = pick(Strategy::Ringall, &c, 0, &mut Dice::new(1));
        assert_eq!(got, ["201", "202"]);
        // With the low ones busy (not candidates), the higher penalty rings.
        let got = pick(Strategy::Ringall, &c[2..], 0, &mut Dice::new(1));
        assert_eq!(got, ["203"]);
    }

    #[test]
    fn linear_and_rrmemory_order() {
        let mut c = vec![cand("201", 0), cand("202", 1), cand("203", 2)];
        assert_eq!(pick(Strategy::Linear, &c, 0, &mut Dice::new(1)), ["201"]);
        c[0].tried = true;
        assert_eq!(pick(Strategy::Linear, &c, 0, &mut Dice::new(1)), ["202"]);
        c[0].tried = false;
        assert_eq!(pick(Strategy::Rrmemory, &c, 2, &mut Dice::new(1)), ["203"]);
        // Wraps around.
        assert_eq!(pick(Strategy::Rrmemory, &c, 3, &mut Dice::new(1)), ["201"]);
    }

    #[test]
    fn leastrecent_and_fewestcalls() {
        let mut c = vec![cand("201", 0), cand("202", 1)];
        c[0].last_call = Some(5_000);
        c[1].last_call = Some(1_000);
        assert_eq!(
            pick(Strategy::Leastrecent, &c, 0, &mut Dice::new(1)),
            ["202"]
        );
        c[1].last_call = None;
        c[0].last_call = Some(1);
        assert_eq!(
            pick(Strategy::Leastrecent, &c, 0, &mut Dice::new(1)),
            ["202"]
        );
        c[0].calls = 3;
        c[1].calls = 1;
        assert_eq!(
            pick(Strategy::Fewestcalls, &c, 0, &mut Dice::new(1)),
            ["202"]
        );
    }

    #[test]
    fn random_is_fair_and_wrandom_favours_low_penalty() {
        let mut c = vec![cand("201", 0), cand("202", 1)];
        let mut dice = Dice::new(7);
        let mut first = 0;
        for _ in 0..1000 {
            if pick(Strategy::Random, &c, 0, &mut dice) == ["201"] {
                first += 1;
            }
        }
        assert!((400..600).contains(&first), "{first}");
        c[1].penalty = 3; // weight 1/4 against 1
        let mut low = 0;
        for _ in 0..1000 {
            if pick(Strategy::Wrandom, &c, 0, &mut dice) == ["201"] {
                low += 1;
            }
        }
        assert!((730..870).contains(&low), "{low}");
    }
}
