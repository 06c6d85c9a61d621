//! The GPU against the f64 CPU reference: every momentum variant, with and without max_lr,
//! awkward tensor sizes, 1 to 100 tensors, 20 steps each.
//!
//! Tolerances:
//! - gamma, 1e-6 relative: every term of the GPU's ||g||^2 meets a bounded number of
//!   roundings in sums of positive terms (interleaved lanes, then pairwise and blocked
//!   levels: `src/kernels/summation.rs`), whose bound, `Alig::sq_norm_error_bound`, stays
//!   well under 1e-6 relative at these sizes; the division adds one rounding (6e-8).
//! - parameters and momentum, 1e-5 relative to max(|value|, 1): each f32 update rounds at
//!   the scale of its operands (|w|, |gamma*g|, |mu*z| ~ 1 here), not of its result, so a
//!   value that crosses zero keeps an absolute error of a few 1e-7 per step; 20 steps stay
//!   below 1e-5.

mod common;

use common::{assert_run_matches_reference, gpu, run_against_reference, Rng};
use wgpu_alig::{AligConfig, MomentumKind};

const STEPS: usize = 20;

/// Every momentum variant, with and without max_lr.
fn configs() -> Vec<AligConfig> {
    let mut out = Vec::new();
    for (momentum, momentum_kind) in [
        (0.0, MomentumKind::Nesterov),
        (0.9, MomentumKind::Nesterov),
        (0.9, MomentumKind::Adjusted),
    ] {
        for max_lr in [Some(0.05), None] {
            out.push(AligConfig {
                max_lr,
                momentum,
                momentum_kind,
                ..AligConfig::default()
            });
        }
    }
    out
}

fn agree(sizes: &[usize], seed: u64) {
    let gpu = gpu();
    for config in configs() {
        let run = run_against_reference(&gpu, sizes, config, STEPS, seed);
        assert_eq!(run.dispatches_per_step, 2);
        assert_run_matches_reference(&format!("{config:?}, sizes {sizes:?}"), &run);
    }
}

#[test]
fn awkward_sizes() {
    agree(&[1, 3, 255, 257, 4097], 1);
}

#[test]
fn single_element() {
    agree(&[1], 2);
}

#[test]
fn one_million_in_one_tensor() {
    agree(&[1_000_000], 3);
}

#[test]
fn a_hundred_tensors_of_random_sizes() {
    let mut rng = Rng::new(4);
    let sizes: Vec<usize> = (0..100).map(|_| rng.int(1, 3000)).collect();
    agree(&sizes, 5);
}
