//! Seeded random data and float comparisons that report where they fail: what the native
//! tests (through `common`) and the browser test (tests/web.rs) share.
#![allow(dead_code)]

/// The seeded generator of the examples and the step benchmark, under the tests' name: the
/// same sequences everywhere. (The examples' integration tests load it a second time, in
/// the engine they test.)
#[allow(clippy::duplicate_mod)]
#[path = "../../examples/common/split_mix.rs"]
mod split_mix;

pub use split_mix::SplitMix64 as Rng;

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
