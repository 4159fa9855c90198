//! A small deterministic generator (xorshift64*): every thread of a run draws its own stream from
//! the run's seed, so a seed names the mix of work each thread submits (the interleaving between
//! threads is the scheduler's).

/// xorshift64* state; never zero.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator for stream `stream` of `seed`.
    pub(crate) fn new(seed: u64, stream: u64) -> Rng {
        // SplitMix64 of (seed, stream), so nearby seeds and streams give unrelated states.
        let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// A number in `low..=high`.
    pub(crate) fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True with probability 1 / `n`.
    pub(crate) fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// One element of `items` (not empty).
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// `len` random bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn streams_differ_and_repeat() {
        let (mut a, mut b, mut c) = (Rng::new(1, 0), Rng::new(1, 1), Rng::new(1, 0));
        let first: Vec<u64> = (0..4).map(|_| a.next()).collect();
        assert_ne!(first, (0..4).map(|_| b.next()).collect::<Vec<_>>());
        assert_eq!(first, (0..4).map(|_| c.next()).collect::<Vec<_>>());
    }

    #[test]
    fn bounds_hold() {
        let mut rng = Rng::new(7, 3);
        for _ in 0..1000 {
            assert!(rng.below(5) < 5);
            let v = rng.range(2, 4);
            assert!((2..=4).contains(&v));
        }
        let mut items = [1, 2, 3, 4, 5];
        rng.shuffle(&mut items);
        items.sort();
        assert_eq!(items, [1, 2, 3, 4, 5]);
    }
}
