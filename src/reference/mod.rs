//! A CPU reference of the optimizer in f64, with the same semantics as the kernels: the
//! same step size rule, momentum variants, skip rules and flags. The tests compare the GPU
//! with it; an engine can compare its integration with it too.
//!
//! The functions are named after the kernels they port: [`grad_sq_norm`] (pass 1),
//! [`step_size`], [`group_gamma`] and [`alig_update`] (pass 2), [`project_params`] (pass 3).
//!
//! ALI-G's successors MoMo and MoMo-Adam are here too ([`MomoReference`],
//! [`MomoAdamReference`]), ported from their official code; the GPU does not run them yet.

mod momo;
mod momo_adam;
mod momo_config;
mod momo_model;

pub use momo::MomoReference;
pub use momo_adam::MomoAdamReference;
pub use momo_config::{MomoAdamConfig, MomoConfig};
pub use momo_model::MomoStep;

use crate::arena::Precision;
use crate::error::{Error, Result};
use crate::optimizer::config::{AligConfig, MomentumKind};
use crate::optimizer::{assign_groups, ParamGroup};
use crate::stats::StepFlags;

/// Pass 3, shared with the host projection of
/// [`Alig::project_params`](crate::Alig::project_params).
pub use crate::optimizer::project_params;

/// The step size the kernels would compute, in f64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepSize {
    /// `max(0, loss - f_star) / (c ||g||^2 + eps)` (0 when skipped, except for a skip
    /// because it overflows, which keeps it).
    pub gamma_hat: f64,
    /// The step size of the first parameter group (0 when skipped).
    pub gamma: f64,
    /// The same flags the GPU records.
    pub flags: StepFlags,
    /// With projection on: `||w||^2` after the update, before the projection; else 0.
    pub param_sq_norm: f64,
    /// The loss scale the gradients were divided by (1 without one).
    pub loss_scale: f64,
}

/// Pass 1: `||g||^2` over the given tensors, and whether every element is finite.
pub fn grad_sq_norm<'a>(grads: impl IntoIterator<Item = &'a [f64]>) -> (f64, bool) {
    let mut sum = 0.0;
    let mut finite = true;
    for g in grads.into_iter().flatten() {
        finite &= g.is_finite();
        sum += g * g;
    }
    (sum, finite)
}

/// Pass 2, first half: `gamma_hat` and the step's flags from the loss and `||g||^2`, with
/// the kernels' rules: a non-finite loss or gradient skips the step; a norm beyond
/// `f32::MAX` (every element finite) skips it too, as does a `gamma_hat` beyond `f32::MAX`
/// when some group has no `max_lr` (`unbounded_group`); a loss at or below `f_star` gives
/// `gamma_hat = 0`.
pub fn step_size(
    config: &AligConfig,
    unbounded_group: bool,
    loss: f64,
    grad_sq_norm: f64,
    grads_finite: bool,
) -> (f64, StepFlags) {
    let f32_max = f64::from(f32::MAX);
    let mut flags = 0;
    if !loss.is_finite() || loss.abs() > f32_max {
        flags |= StepFlags::SKIPPED_LOSS.0;
    }
    if !grads_finite {
        flags |= StepFlags::SKIPPED_GRAD.0;
    } else if grad_sq_norm > f32_max {
        flags |= StepFlags::SKIPPED_NORM_OVERFLOW.0;
    }
    if flags != 0 {
        return (0.0, StepFlags(flags));
    }
    let f_star = f64::from(config.f_star);
    if loss <= f_star {
        return (0.0, StepFlags::FLOOR_REACHED);
    }
    let denominator = f64::from(config.c) * grad_sq_norm + f64::from(config.eps);
    let gamma_hat = if denominator > 0.0 {
        (loss - f_star) / denominator
    } else {
        0.0
    };
    if gamma_hat > f32_max && unbounded_group {
        return (gamma_hat, StepFlags::SKIPPED_STEP_OVERFLOW);
    }
    (gamma_hat, StepFlags(0))
}

/// The step size of one group: `gamma_hat` clipped to its `max_lr`.
pub fn group_gamma(gamma_hat: f64, max_lr: Option<f32>) -> f64 {
    match max_lr.map(f64::from) {
        Some(max_lr) if gamma_hat > max_lr => max_lr,
        _ => gamma_hat,
    }
}

/// Pass 2, second half: the update of one tensor with step size `gamma` and momentum `mu`.
pub fn alig_update(
    kind: MomentumKind,
    mu: f64,
    gamma: f64,
    params: &mut [f64],
    momentum: &mut [f64],
    grads: &[f64],
) {
    if mu == 0.0 {
        for (w, g) in params.iter_mut().zip(grads) {
            *w -= gamma * g;
        }
        return;
    }
    for ((w, z), g) in params.iter_mut().zip(momentum.iter_mut()).zip(grads) {
        match kind {
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

/// [`Error::LengthMismatch`] unless `grads` has a gradient of each tensor's length.
pub(crate) fn check_shapes(params: &[Vec<f64>], grads: &[Vec<f64>]) -> Result<()> {
    if grads.len() != params.len() {
        return Err(Error::LengthMismatch {
            tensor: "(tensor count)".into(),
            expected: params.len(),
            actual: grads.len(),
        });
    }
    for (k, (p, g)) in params.iter().zip(grads).enumerate() {
        if p.len() != g.len() {
            return Err(Error::LengthMismatch {
                tensor: format!("#{k}"),
                expected: p.len(),
                actual: g.len(),
            });
        }
    }
    Ok(())
}

/// `x` rounded to the nearest f16, as an f64.
fn round_to_f16(x: f32) -> f64 {
    f64::from(half::f16::from_f32(x).to_f32())
}

/// The whole optimizer on the CPU: parameters and momentum of every tensor in f64.
#[derive(Clone, Debug)]
pub struct AligReference {
    config: AligConfig,
    groups: Vec<ParamGroup>,
    tensor_groups: Vec<Option<usize>>,
    params: Vec<Vec<f64>>,
    momentum: Vec<Vec<f64>>,
    steps: u32,
    skipped: u32,
    precision: Precision,
    // The loss scale of the next step, and the steps since it changed.
    loss_scale: f64,
    good_steps: u32,
}

impl AligReference {
    /// Starts from `params` (one vector per tensor) with zero momentum, every tensor in one
    /// group with the config's `max_lr` and `momentum`.
    pub fn new(config: AligConfig, params: Vec<Vec<f64>>) -> Result<Self> {
        let names: Vec<String> = (0..params.len()).map(|k| format!("t{k}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        config.validate()?;
        let group = ParamGroup::new(&names, config.max_lr, config.momentum);
        Self::with_groups(config, &names, params, &[group])
    }

    /// Starts from `params` (one vector per tensor, named by `names`) with zero momentum and
    /// the given groups; tensors in no group are frozen. The config's `max_lr` and `momentum`
    /// are not used: each group has its own.
    pub fn with_groups(
        config: AligConfig,
        names: &[&str],
        params: Vec<Vec<f64>>,
        groups: &[ParamGroup],
    ) -> Result<Self> {
        config.validate_optimizer_wide()?;
        if names.len() != params.len() {
            return Err(Error::LengthMismatch {
                tensor: "(tensor names)".into(),
                expected: params.len(),
                actual: names.len(),
            });
        }
        let tensor_groups = assign_groups(names.iter().copied(), groups)?;
        let momentum = params.iter().map(|p| vec![0.0; p.len()]).collect();
        Ok(Self {
            config,
            groups: groups.to_vec(),
            tensor_groups,
            params,
            momentum,
            steps: 0,
            skipped: 0,
            precision: Precision::F32,
            loss_scale: f64::from(config.loss_scale.initial()),
            good_steps: 0,
        })
    }

    /// The reference of an arena of `precision`: gradients stored in f16 are rounded to it
    /// (to nearest) before the step, as the GPU sees them; [`AligReference::half_params`]
    /// gives the f16 copy of the parameters.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// The loss scale the next step divides its gradients by (and the engine multiplies its
    /// loss gradient by).
    pub fn loss_scale(&self) -> f64 {
        self.loss_scale
    }

    /// The parameters as the f16 copy of [`Precision::F16`] holds them: the f32 master
    /// rounded to f16.
    pub fn half_params(&self) -> Vec<Vec<f64>> {
        self.params
            .iter()
            .map(|p| p.iter().map(|&w| round_to_f16(w as f32)).collect())
            .collect()
    }

    /// The scale after a step with `flags`, as the kernels set it.
    fn update_loss_scale(&mut self, flags: StepFlags) -> StepFlags {
        if !self.config.loss_scale.is_scaled() {
            return StepFlags(0);
        }
        let (backoff, growth, interval) = self.config.loss_scale.factors();
        let scale = self.loss_scale as f32;
        let mut next = scale;
        if flags.intersects(StepFlags(
            StepFlags::SKIPPED_GRAD.0 | StepFlags::SKIPPED_NORM_OVERFLOW.0,
        )) {
            next = scale * backoff;
            self.good_steps = 0;
        } else if !flags.skipped() {
            self.good_steps += 1;
            if self.good_steps >= interval {
                next = scale * growth;
                self.good_steps = 0;
            }
        }
        if !(next > 0.0 && next.is_finite()) {
            next = scale;
        }
        self.loss_scale = f64::from(next);
        if next < scale {
            StepFlags::LOSS_SCALE_LOWERED
        } else if next > scale {
            StepFlags::LOSS_SCALE_RAISED
        } else {
            StepFlags(0)
        }
    }

    /// One step with `loss` and `grads` (one vector per tensor, same shapes as the
    /// parameters; a frozen tensor's gradient is ignored). A skipped step changes nothing but
    /// the counters.
    pub fn step(&mut self, loss: f64, grads: &[Vec<f64>]) -> Result<StepSize> {
        check_shapes(&self.params, grads)?;
        let grads = self.stored_grads(grads);
        let loss_scale = self.loss_scale;
        let (gamma_hat, mut flags) = self.step_size(loss, &grads);
        self.steps = self.steps.wrapping_add(1);
        if flags.skipped() {
            self.skipped = self.skipped.wrapping_add(1);
            flags.0 |= self.update_loss_scale(flags).0;
            return Ok(StepSize {
                gamma_hat,
                gamma: 0.0,
                flags,
                param_sq_norm: 0.0,
                loss_scale,
            });
        }
        let first_gamma = group_gamma(gamma_hat, self.groups[0].max_lr);
        if first_gamma != gamma_hat {
            flags.0 |= StepFlags::CLIPPED.0;
        }
        let unscaled: Vec<Vec<f64>> = grads
            .iter()
            .map(|g| g.iter().map(|x| x / loss_scale).collect())
            .collect();
        self.update(gamma_hat, &unscaled);
        let param_sq_norm = self.project();
        flags.0 |= self.update_loss_scale(flags).0;
        Ok(StepSize {
            gamma_hat,
            gamma: first_gamma,
            flags,
            param_sq_norm,
            loss_scale,
        })
    }

    /// One gradient per tensor, of its length.
    /// The gradients as the arena stores them (rounded to f16 where it keeps them so), still
    /// scaled.
    fn stored_grads(&self, grads: &[Vec<f64>]) -> Vec<Vec<f64>> {
        if self.precision.grad_bytes() == 2 {
            grads
                .iter()
                .map(|g| g.iter().map(|&x| round_to_f16(x as f32)).collect())
                .collect()
        } else {
            grads.to_vec()
        }
    }

    /// Pass 1 and the step size: `gamma_hat` and the flags, from the trainable gradients.
    fn step_size(&self, loss: f64, grads: &[Vec<f64>]) -> (f64, StepFlags) {
        let trainable = |k: &usize| self.tensor_groups[*k].is_some();
        let (scaled_norm, finite) =
            grad_sq_norm((0..grads.len()).filter(trainable).map(|k| &grads[k][..]));
        // A scaled norm beyond f32 overflows on the GPU, whatever it is unscaled.
        let norm = if scaled_norm > f64::from(f32::MAX) {
            f64::INFINITY
        } else {
            scaled_norm / (self.loss_scale * self.loss_scale)
        };
        let unbounded = self.groups.iter().any(|g| g.max_lr.is_none());
        step_size(&self.config, unbounded, loss, norm, finite)
    }

    /// Pass 2's update of every trainable tensor, with its group's step size and momentum.
    fn update(&mut self, gamma_hat: f64, grads: &[Vec<f64>]) {
        let kind = self.config.momentum_kind;
        for (k, group) in self.tensor_groups.iter().enumerate() {
            if let Some(group) = group.map(|g| &self.groups[g]) {
                let gamma = group_gamma(gamma_hat, group.max_lr);
                let mu = f64::from(group.momentum);
                let (params, momentum) = (&mut self.params[k], &mut self.momentum[k]);
                alig_update(kind, mu, gamma, params, momentum, &grads[k]);
            }
        }
    }

    /// Pass 3 with projection on: `||w||^2` of the trainable parameters before it (else 0).
    fn project(&mut self) -> f64 {
        let Some(max_norm) = self.config.max_norm else {
            return 0.0;
        };
        let mut trainable: Vec<&mut Vec<f64>> = self
            .params
            .iter_mut()
            .zip(&self.tensor_groups)
            .filter(|(_, group)| group.is_some())
            .map(|(p, _)| p)
            .collect();
        project_params(&mut trainable, f64::from(max_norm))
    }

    /// Sets the `max_lr` of group `group` for the next steps, as
    /// [`Alig::set_max_lr`](crate::Alig::set_max_lr) does.
    pub fn set_max_lr(&mut self, group: usize, max_lr: Option<f32>) -> Result<()> {
        crate::optimizer::config::validate_max_lr(max_lr)?;
        self.group_mut(group)?.max_lr = max_lr;
        Ok(())
    }

    /// Sets the momentum of group `group` for the next steps, as
    /// [`Alig::set_momentum`](crate::Alig::set_momentum) does: at 0 the group's momentum
    /// buffer is left as it is.
    pub fn set_momentum(&mut self, group: usize, momentum: f32) -> Result<()> {
        crate::optimizer::config::validate_momentum(momentum)?;
        self.group_mut(group)?.momentum = momentum;
        Ok(())
    }

    fn group_mut(&mut self, group: usize) -> Result<&mut ParamGroup> {
        let groups = self.groups.len();
        self.groups
            .get_mut(group)
            .ok_or(Error::UnknownGroup { group, groups })
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
        let mut reference = AligReference::new(config, vec![vec![1.0]]).unwrap();
        let size = reference.step(1.0, &[vec![1.0]]).unwrap();
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
        let (gamma_hat, flags) = step_size(&config, true, -3.0, 1.0, true);
        assert_eq!(gamma_hat, 0.0);
        assert_eq!(flags, StepFlags::FLOOR_REACHED);
    }

    #[test]
    fn frozen_tensors_count_nowhere_and_groups_clip_separately() {
        let config = AligConfig::default();
        let groups = [
            ParamGroup::new(&["a"], Some(0.1), config.momentum),
            ParamGroup::new(&["b"], config.max_lr, config.momentum),
        ];
        let params = vec![vec![1.0], vec![1.0], vec![1.0]];
        let mut r =
            AligReference::with_groups(config, &["a", "b", "frozen"], params, &groups).unwrap();
        // The frozen tensor's huge (even non-finite) gradient is ignored.
        let size = r
            .step(1.0, &[vec![1.0], vec![1.0], vec![f64::NAN]])
            .unwrap();
        let gamma_hat = 1.0 / (2.0 + f64::from(1e-5f32));
        assert_eq!(size.gamma_hat, gamma_hat);
        assert!(size.flags.clipped());
        assert_eq!(r.params()[0], vec![1.0 - f64::from(0.1f32)]);
        assert_eq!(r.params()[1], vec![1.0 - gamma_hat]);
        assert_eq!(r.params()[2], vec![1.0]);
    }

    #[test]
    fn projection_scales_the_trainable_tensors_onto_the_ball() {
        let config = AligConfig {
            max_norm: Some(1.0),
            ..AligConfig::default()
        };
        let groups = [ParamGroup::new(&["a", "b"], config.max_lr, config.momentum)];
        let params = vec![vec![3.0], vec![4.0], vec![10.0]];
        let mut r =
            AligReference::with_groups(config, &["a", "b", "frozen"], params, &groups).unwrap();
        let size = r.step(0.0, &[vec![0.0], vec![0.0], vec![0.0]]).unwrap();
        assert_eq!(size.param_sq_norm, 25.0);
        let expected = [0.6, 0.8, 10.0];
        for (got, want) in r.params().iter().zip(expected) {
            assert!((got[0] - want).abs() < 1e-15, "{got:?} vs {want}");
        }
    }
}
