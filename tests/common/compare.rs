//! Seeded random data and float comparisons that report where they fail: what the native
//! tests (through `common`) and the browser test (tests/web.rs) share.
#![allow(dead_code)]

/// SplitMix64: small, seeded, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * unit
    }

    /// `n` f32 values uniform in [lo, hi).
    pub fn vec_f32(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi) as f32).collect()
    }

    /// Uniform integer in [lo, hi].
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

pub fn to_f64(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| f64::from(v)).collect()
}

/// Asserts `|gpu - reference| <= rtol * max(|reference|, scale)` element by element, and on
/// failure names the element, both values and the difference.
pub fn assert_close(what: &str, gpu: &[f32], reference: &[f64], rtol: f64, scale: f64) {
    assert_eq!(gpu.len(), reference.len(), "{what}: lengths differ");
    for (i, (&g, &r)) in gpu.iter().zip(reference).enumerate() {
        let diff = (f64::from(g) - r).abs();
        let bound = rtol * r.abs().max(scale);
        assert!(
            diff <= bound,
            "{what}[{i}]: gpu {g:e} vs reference {r:e}: |diff| {diff:e} > {bound:e} (rtol {rtol:e})"
        );
    }
}

/// Asserts `|gpu - reference| <= rtol * |reference|` for one scalar.
pub fn assert_rel(what: &str, gpu: f32, reference: f64, rtol: f64) {
    let diff = (f64::from(gpu) - reference).abs();
    assert!(
        diff <= rtol * reference.abs(),
        "{what}: gpu {gpu:e} vs reference {reference:e}: relative diff {:e} > {rtol:e}",
        diff / reference.abs()
    );
}
