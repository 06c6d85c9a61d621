//! Sums of squares whose accuracy does not depend on the compiler: `||g||^2`, `gamma_hat`
//! and the projection's `||w||^2` against f64 sums on data chosen to break plain f32 sums
//! (one huge element among many tiny ones, magnitudes from 1e-20 to 1e15, alternating
//! magnitudes), at awkward sizes and in several tensors, with groups and a frozen tensor.
//! The tolerance is the bound the optimizer states (`Alig::sq_norm_error_bound`), plus what a
//! driver that flushes subnormals may lose (2^-126 per term).

mod common;

use common::{gpu, step_and_record, Rng};
use wgpu_alig::{Alig, AligConfig, Arena, Gpu, Loss, ParamGroup};

const SIZES: [usize; 8] = [1, 3, 255, 257, 4097, 65_537, 262_147, 1_000_003];
const UNIT_ROUNDOFF: f64 = 1.0 / (1u64 << 24) as f64;
/// What a driver that flushes subnormal squares to zero may lose per term.
const SUBNORMAL_LOSS: f64 = 1.1754943508222875e-38;

/// Data made to defeat a plain running f32 sum of squares.
#[derive(Clone, Copy, Debug)]
enum Adversary {
    /// 1, then values whose squares (2^-26) a running sum at 1 rounds away.
    OneHugeManyTiny,
    /// Magnitudes log-uniform over 1e-20 ..= 1e15, random signs.
    Span,
    /// Runs of 5 values of 1e3, then 5 of 1e-3 (random signs and mantissas).
    Alternating,
}

impl Adversary {
    const ALL: [Adversary; 3] = [
        Adversary::OneHugeManyTiny,
        Adversary::Span,
        Adversary::Alternating,
    ];

    fn values(self, n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let sign = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
                let magnitude = match self {
                    Adversary::OneHugeManyTiny if i == 0 => 1.0,
                    Adversary::OneHugeManyTiny => 2f64.powi(-13),
                    Adversary::Span => 10f64.powf(rng.uniform(-20.0, 15.0)),
                    Adversary::Alternating if (i / 5) % 2 == 0 => 1e3 * rng.uniform(0.5, 1.0),
                    Adversary::Alternating => 1e-3 * rng.uniform(0.5, 1.0),
                };
                (sign * magnitude) as f32
            })
            .collect()
    }
}

fn exact_sq_norm<'a>(values: impl IntoIterator<Item = &'a f32>) -> f64 {
    values
        .into_iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum()
}

/// The relative error of a plain running f32 sum of squares in index order: what the
/// adversarial data does to a sum without structure.
fn plain_f32_error(values: &[f32]) -> f64 {
    let plain: f32 = values.iter().fold(0.0, |sum, &v| sum + v * v);
    let exact = exact_sq_norm(values);
    (f64::from(plain) - exact).abs() / exact
}

/// Splits `n` elements into three tensors of awkward sizes (fewer when `n` is small).
fn split(n: usize) -> Vec<usize> {
    let parts = [n / 2, n / 3, n - n / 2 - n / 3];
    parts.into_iter().filter(|&p| p > 0).collect()
}

struct Checked {
    worst_norm_error: f64,
    worst_gamma_error: f64,
}

/// One step over `values` spread over `sizes` tensors (`frozen` of them, at the end, get
/// huge gradients that must count nowhere); returns the relative errors of `||g||^2` and
/// `gamma_hat` after asserting them within the bound.
fn check_step(
    gpu: &Gpu,
    what: &str,
    values: &[f32],
    sizes: &[usize],
    grouped: bool,
    frozen: Option<usize>,
) -> (f64, f64) {
    let names: Vec<String> = (0..sizes.len() + frozen.iter().count())
        .map(|k| format!("t{k}"))
        .collect();
    let mut tensors: Vec<(&str, usize)> = names
        .iter()
        .map(String::as_str)
        .zip(sizes.iter().copied())
        .collect();
    if let Some(len) = frozen {
        tensors.push((&names[sizes.len()], len));
    }
    let arena = Arena::new(&gpu.device, &tensors).unwrap();
    let mut at = 0;
    for (name, len) in tensors.iter().take(sizes.len()) {
        arena
            .write_grads(&gpu.queue, name, &values[at..at + len])
            .unwrap();
        at += len;
    }
    if let Some(len) = frozen {
        arena
            .write_grads(&gpu.queue, &names[sizes.len()], &vec![1e18f32; len])
            .unwrap();
    }
    let config = AligConfig::default();
    let trainable: Vec<&str> = names.iter().take(sizes.len()).map(String::as_str).collect();
    let groups: Vec<ParamGroup> = if grouped {
        trainable
            .iter()
            .enumerate()
            .map(|(k, name)| ParamGroup::new(&[name], Some(1e30 * (k + 1) as f32), config.momentum))
            .collect()
    } else {
        vec![ParamGroup::new(&trainable, config.max_lr, config.momentum)]
    };
    let mut alig = Alig::with_groups(&gpu.device, &arena, config, &groups).unwrap();

    let exact = exact_sq_norm(values);
    let loss = (0.1 * exact) as f32;
    let record = step_and_record(gpu, &mut alig, Loss::Host(loss));
    let bound = alig.sq_norm_error_bound();
    let norm_error = (f64::from(record.grad_sq_norm) - exact).abs();
    let flushed = values.len() as f64 * SUBNORMAL_LOSS;
    assert!(
        norm_error <= bound * exact + flushed,
        "{what}: ||g||^2 {:e} vs exact {exact:e}: relative error {:e} > bound {bound:e}",
        record.grad_sq_norm,
        norm_error / exact
    );
    // gamma_hat = loss / (||g||^2 + eps): two more roundings, the sum with eps and the
    // division, and eps itself, which the exact value includes.
    let exact_gamma = f64::from(loss) / (exact + f64::from(config.eps));
    let gamma_error = (f64::from(record.gamma_hat) - exact_gamma).abs() / exact_gamma;
    let gamma_bound = bound + 3.0 * UNIT_ROUNDOFF + flushed / exact;
    assert!(
        gamma_error <= gamma_bound,
        "{what}: gamma_hat {:e} vs {exact_gamma:e}: relative error {gamma_error:e} > {gamma_bound:e}",
        record.gamma_hat
    );
    (norm_error / exact, gamma_error)
}

fn check_all(gpu: &Gpu, grouped: bool, frozen: Option<usize>) -> Checked {
    let mut checked = Checked {
        worst_norm_error: 0.0,
        worst_gamma_error: 0.0,
    };
    for adversary in Adversary::ALL {
        for (seed, n) in SIZES.into_iter().enumerate() {
            let values = adversary.values(n, &mut Rng::new(seed as u64));
            let what = format!("{adversary:?}, n = {n}, grouped {grouped}, frozen {frozen:?}");
            let (norm, gamma) = check_step(gpu, &what, &values, &split(n), grouped, frozen);
            checked.worst_norm_error = checked.worst_norm_error.max(norm);
            checked.worst_gamma_error = checked.worst_gamma_error.max(gamma);
        }
    }
    checked
}

#[test]
fn the_data_defeats_a_plain_f32_sum() {
    // Without structure in the sum, these inputs lose far more than the bound: a test of the
    // kernels on them can fail.
    for n in [4097, 65_537, 1_000_003] {
        let values = Adversary::OneHugeManyTiny.values(n, &mut Rng::new(1));
        let error = plain_f32_error(&values);
        assert!(
            error > 1e-5,
            "n = {n}: a plain f32 sum is off by only {error:e}"
        );
    }
}

#[test]
fn squared_norms_of_adversarial_data_stay_within_the_stated_bound() {
    let gpu = gpu();
    let checked = check_all(&gpu, false, None);
    println!(
        "one group: worst relative error of ||g||^2 {:e}, of gamma_hat {:e}",
        checked.worst_norm_error, checked.worst_gamma_error
    );
}

#[test]
fn grouped_runs_with_a_frozen_tensor_stay_within_the_stated_bound() {
    let gpu = gpu();
    let checked = check_all(&gpu, true, Some(1000));
    println!(
        "groups and a frozen tensor: worst relative error of ||g||^2 {:e}, of gamma_hat {:e}",
        checked.worst_norm_error, checked.worst_gamma_error
    );
}

#[test]
fn the_projection_norm_of_adversarial_parameters_stays_within_the_bound() {
    let gpu = gpu();
    for adversary in Adversary::ALL {
        for (seed, n) in SIZES.into_iter().enumerate() {
            let what = format!("{adversary:?}, n = {n}");
            let params = adversary.values(n, &mut Rng::new(100 + seed as u64));
            let sizes = split(n);
            let names: Vec<String> = (0..sizes.len()).map(|k| format!("t{k}")).collect();
            let tensors: Vec<(&str, usize)> = names
                .iter()
                .map(String::as_str)
                .zip(sizes.iter().copied())
                .collect();
            let arena = Arena::new(&gpu.device, &tensors).unwrap();
            let mut at = 0;
            for (name, len) in &tensors {
                arena
                    .write_params(&gpu.queue, name, &params[at..at + len])
                    .unwrap();
                at += len;
            }
            // Zero gradients and a positive loss: w stays as it is, and pass 2 sums ||w||^2.
            let config = AligConfig {
                max_lr: Some(1.0),
                max_norm: Some(f32::MAX),
                ..AligConfig::default()
            };
            let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
            let record = step_and_record(&gpu, &mut alig, Loss::Host(1.0));
            let exact = exact_sq_norm(&params);
            let error = (f64::from(record.param_sq_norm) - exact).abs();
            let bound = alig.sq_norm_error_bound();
            assert!(
                error <= bound * exact + n as f64 * SUBNORMAL_LOSS,
                "{what}: ||w||^2 {:e} vs exact {exact:e}: relative error {:e} > {bound:e}",
                record.param_sq_norm,
                error / exact
            );
        }
    }
}
