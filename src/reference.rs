//! A CPU reference of the optimizer in f64, with the same semantics as the kernels: the
//! same step size rule, momentum variants, skip rules and flags. The tests compare the GPU
//! with it; an engine can compare its integration with it too.
//!
//! The functions are named after the kernels they port: [`grad_sq_norm`] (pass 1),
//! [`step_size`] and [`alig_update`] (pass 2).

use crate::config::{AligConfig, MomentumKind};
use crate::error::{Error, Result};
use crate::stats::StepFlags;

/// The step size the kernels would compute, in f64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepSize {
    /// `max(0, loss - f_star) / (c ||g||^2 + eps)` (0 when skipped).
    pub gamma_hat: f64,
    /// The step size applied (0 when skipped).
    pub gamma: f64,
    /// The same flags the GPU records.
    pub flags: StepFlags,
}

/// Pass 1: `||g||^2` over every tensor, and whether every element is finite.
pub fn grad_sq_norm(grads: &[Vec<f64>]) -> (f64, bool) {
    let mut sum = 0.0;
    let mut finite = true;
    for g in grads.iter().flatten() {
        finite &= g.is_finite();
        sum += g * g;
    }
    (sum, finite)
}

/// Pass 2, first half: the step size from the loss and `||g||^2`, with the kernels' rules:
/// a non-finite loss or gradient skips the step; a norm beyond `f32::MAX` (every element
/// finite) skips it too, as does a `gamma_hat` beyond `f32::MAX` without `max_lr`; a loss at
/// or below `f_star` gives `gamma = 0`.
pub fn step_size(
    config: &AligConfig,
    loss: f64,
    grad_sq_norm: f64,
    grads_finite: bool,
) -> StepSize {
    let f32_max = f64::from(f32::MAX);
    let skip = |flags| StepSize {
        gamma_hat: 0.0,
        gamma: 0.0,
        flags,
    };
    let mut flags = StepFlags(0);
    if !loss.is_finite() || loss.abs() > f32_max {
        flags.0 |= StepFlags::SKIPPED_LOSS.0;
    }
    if !grads_finite {
        flags.0 |= StepFlags::SKIPPED_GRAD.0;
    } else if grad_sq_norm > f32_max {
        flags.0 |= StepFlags::SKIPPED_NORM_OVERFLOW.0;
    }
    if flags.0 != 0 {
        return skip(flags);
    }
    let f_star = f64::from(config.f_star);
    if loss <= f_star {
        return skip(StepFlags::FLOOR_REACHED);
    }
    let denominator = f64::from(config.c) * grad_sq_norm + f64::from(config.eps);
    let gamma_hat = if denominator > 0.0 {
        (loss - f_star) / denominator
    } else {
        0.0
    };
    match config.max_lr.map(f64::from) {
        Some(max_lr) if gamma_hat > max_lr => StepSize {
            gamma_hat,
            gamma: max_lr,
            flags: StepFlags::CLIPPED,
        },
        None if gamma_hat > f32_max => StepSize {
            gamma_hat,
            gamma: 0.0,
            flags: StepFlags::SKIPPED_STEP_OVERFLOW,
        },
        _ => StepSize {
            gamma_hat,
            gamma: gamma_hat,
            flags: StepFlags(0),
        },
    }
}

/// Pass 2, second half: the update of one tensor with step size `gamma`.
pub fn alig_update(
    config: &AligConfig,
    gamma: f64,
    params: &mut [f64],
    momentum: &mut [f64],
    grads: &[f64],
) {
    let mu = f64::from(config.momentum);
    if mu == 0.0 {
        for (w, g) in params.iter_mut().zip(grads) {
            *w -= gamma * g;
        }
        return;
    }
    for ((w, z), g) in params.iter_mut().zip(momentum.iter_mut()).zip(grads) {
        match config.momentum_kind {
            MomentumKind::Nesterov => {
                *z = mu * *z - gamma * g;
                *w = *w - gamma * g + mu * *z;
            }
            MomentumKind::Adjusted => {
                *z = mu * *z - g;
                *w = *w - gamma * g + gamma * mu * *z;
            }
        }
    }
}

/// The whole optimizer on the CPU: parameters and momentum of every tensor in f64.
#[derive(Clone, Debug)]
pub struct AligReference {
    config: AligConfig,
    params: Vec<Vec<f64>>,
    momentum: Vec<Vec<f64>>,
    steps: u32,
    skipped: u32,
}

impl AligReference {
    /// Starts from `params` (one vector per tensor) with zero momentum.
    pub fn new(config: AligConfig, params: Vec<Vec<f64>>) -> Result<Self> {
        config.validate()?;
        let momentum = params.iter().map(|p| vec![0.0; p.len()]).collect();
        Ok(Self {
            config,
            params,
            momentum,
            steps: 0,
            skipped: 0,
        })
    }

    /// One step with `loss` and `grads` (one vector per tensor, same shapes as the
    /// parameters). A skipped step changes nothing but the counters.
    pub fn step(&mut self, loss: f64, grads: &[Vec<f64>]) -> Result<StepSize> {
        if grads.len() != self.params.len() {
            return Err(Error::LengthMismatch {
                tensor: "(tensor count)".into(),
                expected: self.params.len(),
                actual: grads.len(),
            });
        }
        for (k, (p, g)) in self.params.iter().zip(grads).enumerate() {
            if p.len() != g.len() {
                return Err(Error::LengthMismatch {
                    tensor: format!("#{k}"),
                    expected: p.len(),
                    actual: g.len(),
                });
            }
        }
        let (norm, finite) = grad_sq_norm(grads);
        let size = step_size(&self.config, loss, norm, finite);
        self.steps = self.steps.wrapping_add(1);
        if size.flags.skipped() {
            self.skipped += 1;
            return Ok(size);
        }
        for ((w, z), g) in self.params.iter_mut().zip(&mut self.momentum).zip(grads) {
            alig_update(&self.config, size.gamma, w, z, g);
        }
        Ok(size)
    }

    /// The parameters, one vector per tensor.
    pub fn params(&self) -> &[Vec<f64>] {
        &self.params
    }

    /// The momentum buffers, one vector per tensor.
    pub fn momentum(&self) -> &[Vec<f64>] {
        &self.momentum
    }

    /// Steps taken, and how many of them were skipped.
    pub fn counters(&self) -> (u32, u32) {
        (self.steps, self.skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_step_matches_the_formula() {
        let config = AligConfig::default();
        let mut reference = AligReference::new(config, vec![vec![1.0, 2.0]]).unwrap();
        let size = reference.step(2.0, &[vec![1.0, 1.0]]).unwrap();
        let gamma = 2.0 / (2.0 + 1e-5f32 as f64);
        assert_eq!(size.gamma, gamma);
        assert_eq!(reference.params()[0], vec![1.0 - gamma, 2.0 - gamma]);
    }

    #[test]
    fn max_lr_clips_and_flags() {
        let config = AligConfig {
            max_lr: Some(0.1),
            ..AligConfig::default()
        };
        let size = step_size(&config, 1.0, 1.0, true);
        assert_eq!(size.gamma, 0.1f32 as f64);
        assert!(size.flags.clipped());
    }

    #[test]
    fn the_two_momentum_kinds_differ_only_when_gamma_changes() {
        let run = |kind, losses: &[f64]| {
            let config = AligConfig {
                momentum: 0.9,
                momentum_kind: kind,
                ..AligConfig::default()
            };
            let mut r = AligReference::new(config, vec![vec![1.0]]).unwrap();
            for &l in losses {
                r.step(l, &[vec![1.0]]).unwrap();
            }
            r.params()[0][0]
        };
        let same = [0.5, 0.5, 0.5];
        let varying = [0.5, 0.1, 0.9];
        let tol = 1e-12;
        assert!(
            (run(MomentumKind::Nesterov, &same) - run(MomentumKind::Adjusted, &same)).abs() < tol
        );
        assert!(
            (run(MomentumKind::Nesterov, &varying) - run(MomentumKind::Adjusted, &varying)).abs()
                > 1e-3
        );
    }

    #[test]
    fn bad_inputs_skip_without_touching_state() {
        let config = AligConfig::paper(1.0);
        let mut r = AligReference::new(config, vec![vec![1.0, -1.0]]).unwrap();
        r.step(1.0, &[vec![0.5, 0.5]]).unwrap();
        let (params, momentum) = (r.params().to_vec(), r.momentum().to_vec());
        for (loss, grad, flag) in [
            (f64::NAN, vec![1.0, 1.0], StepFlags::SKIPPED_LOSS),
            (1.0, vec![f64::INFINITY, 1.0], StepFlags::SKIPPED_GRAD),
            (1.0, vec![1e20, 1e20], StepFlags::SKIPPED_NORM_OVERFLOW),
        ] {
            let size = r.step(loss, &[grad]).unwrap();
            assert!(size.flags.intersects(flag), "{size:?}");
            assert_eq!(r.params(), &params[..]);
            assert_eq!(r.momentum(), &momentum[..]);
        }
        assert_eq!(r.counters(), (4, 3));
    }

    #[test]
    fn loss_below_the_floor_gives_no_ascent() {
        let config = AligConfig::default();
        let size = step_size(&config, -3.0, 1.0, true);
        assert_eq!(size.gamma, 0.0);
        assert_eq!(size.flags, StepFlags::FLOOR_REACHED);
    }
}
