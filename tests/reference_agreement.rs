//! The GPU against the f64 CPU reference: every momentum variant, with and without max_lr,
//! awkward tensor sizes, 1 to 100 tensors, 20 steps each.
//!
//! Tolerances:
//! - gamma, 1e-6 relative: the GPU's ||g||^2 is an f32 Kahan sum per thread followed by f32
//!   trees of depth <= 18, whose rounding stays well under 1e-6 relative for these sums of
//!   positive terms; the division adds one rounding (6e-8).
//! - parameters and momentum, 1e-5 relative to max(|value|, 1): each f32 update rounds at
//!   the scale of its operands (|w|, |gamma*g|, |mu*z| ~ 1 here), not of its result, so a
//!   value that crosses zero keeps an absolute error of a few 1e-7 per step; 20 steps stay
//!   below 1e-5.

mod common;

use common::{assert_close, assert_rel, gpu, to_f64, Rng};
use wgpu_alig::reference::AligReference;
use wgpu_alig::{Alig, AligConfig, Arena, Loss, MomentumKind};

const STEPS: usize = 20;

fn configs() -> Vec<(&'static str, AligConfig)> {
    let mut out = Vec::new();
    for (momentum_name, momentum, kind) in [
        ("no momentum", 0.0, MomentumKind::Nesterov),
        ("nesterov", 0.9, MomentumKind::Nesterov),
        ("adjusted", 0.9, MomentumKind::Adjusted),
    ] {
        for max_lr in [Some(0.05), None] {
            let name = match (momentum_name, max_lr.is_some()) {
                ("no momentum", true) => "no momentum, max_lr",
                ("no momentum", false) => "no momentum, no max_lr",
                ("nesterov", true) => "nesterov, max_lr",
                ("nesterov", false) => "nesterov, no max_lr",
                ("adjusted", true) => "adjusted, max_lr",
                _ => "adjusted, no max_lr",
            };
            out.push((
                name,
                AligConfig {
                    max_lr,
                    momentum,
                    momentum_kind: kind,
                    ..AligConfig::default()
                },
            ));
        }
    }
    out
}

/// Runs `STEPS` steps on the GPU and on the reference with the same random gradients and
/// losses, then compares every step size, parameter and momentum.
fn agree(sizes: &[usize], seed: u64) {
    let gpu = gpu();
    let names: Vec<String> = (0..sizes.len()).map(|k| format!("t{k}")).collect();
    let tensors: Vec<(&str, usize)> = names
        .iter()
        .map(|n| n.as_str())
        .zip(sizes.iter().copied())
        .collect();
    for (config_name, config) in configs() {
        let mut rng = Rng::new(seed);
        let arena = Arena::new(&gpu.device, &tensors).unwrap();
        let init: Vec<Vec<f32>> = sizes.iter().map(|&n| rng.vec_f32(n, -1.0, 1.0)).collect();
        for (name, values) in names.iter().zip(&init) {
            arena.write_params(&gpu.queue, name, values).unwrap();
        }
        let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
        let mut reference =
            AligReference::new(config, init.iter().map(|v| to_f64(v)).collect()).unwrap();

        let mut expected = Vec::new();
        for _ in 0..STEPS {
            let grads: Vec<Vec<f32>> = sizes.iter().map(|&n| rng.vec_f32(n, -1.0, 1.0)).collect();
            for (name, values) in names.iter().zip(&grads) {
                arena.write_grads(&gpu.queue, name, values).unwrap();
            }
            let grads64: Vec<Vec<f64>> = grads.iter().map(|g| to_f64(g)).collect();
            // A loss that makes gamma_hat land in [0.01, 0.1]: clipped by max_lr = 0.05 about
            // half of the time, and large enough that the parameters move.
            let sq_norm: f64 = grads64.iter().flatten().map(|g| g * g).sum();
            let loss = (rng.uniform(0.01, 0.1) * sq_norm) as f32;
            alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))
                .unwrap();
            expected.push(reference.step(f64::from(loss), &grads64).unwrap());
        }

        let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
        assert_eq!(stats.steps as usize, STEPS, "{config_name}");
        assert_eq!(stats.skipped, 0, "{config_name}");
        for (record, want) in stats.records.iter().zip(&expected) {
            let what = format!("{config_name}, sizes {sizes:?}: step {}", record.step);
            assert_eq!(record.flags, want.flags, "{what}: flags");
            assert_rel(&format!("{what}: gamma"), record.gamma, want.gamma, 1e-6);
            assert_rel(
                &format!("{what}: gamma_hat"),
                record.gamma_hat,
                want.gamma_hat,
                1e-6,
            );
        }
        for (k, name) in names.iter().enumerate() {
            let what = format!("{config_name}, sizes {sizes:?}, tensor {name}");
            let params = arena.read_params(&gpu.device, &gpu.queue, name).unwrap();
            assert_close(
                &format!("{what}: params"),
                &params,
                &reference.params()[k],
                1e-5,
                1.0,
            );
            let momentum = alig.read_momentum(&gpu.device, &gpu.queue, name).unwrap();
            assert_close(
                &format!("{what}: momentum"),
                &momentum,
                &reference.momentum()[k],
                1e-5,
                1.0,
            );
        }
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
