//! A small seeded RNG of our own (splitmix64), so that scenes are reproducible across
//! platforms and library versions and there is no global state.

/// splitmix64 (Steele, Lea, Flood 2014): a 64-bit state, one add and a mix per draw.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// A generator for item `index` of stream `seed`: mixing both into the state makes nearby
    /// (seed, index) pairs independent.
    pub fn for_item(seed: u64, index: u64) -> SplitMix64 {
        let mut a = SplitMix64::new(seed ^ 0x6a09_e667_f3bc_c908);
        let s = a.next_u64();
        let mut b = SplitMix64::new(s ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let s2 = b.next_u64();
        SplitMix64::new(s2)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Uniform integer in [0, n); n must be > 0.
    pub fn below(&mut self, n: usize) -> usize {
        // Multiply-shift: unbiased enough for n far below 2^32 (our n are < 100).
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_in_range() {
        let mut a = SplitMix64::for_item(3, 7);
        let mut b = SplitMix64::for_item(3, 7);
        let mut c = SplitMix64::for_item(3, 8);
        let xa: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        let mut r = SplitMix64::new(1);
        let mut counts = [0usize; 5];
        for _ in 0..5000 {
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
            counts[r.below(5)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 850 && c < 1150), "{counts:?}");
    }
}
