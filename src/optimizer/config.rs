//! The optimizer's hyper-parameters and their validation.

use crate::error::{Error, Result};
use crate::kernels::shader_types::StepStateHeader;
pub use crate::kernels::shaders::MomentumKind;
use crate::optimizer::loss_scale::LossScale;
use crate::stats::StepRecord;

/// Hyper-parameters of ALI-G and its Polyak-step generalisation:
///
/// `gamma = min(max_lr, max(0, loss - f_star) / (c * ||g||^2 + eps))`.
///
/// The defaults are the official ALI-G defaults: no `max_lr`, no momentum, `eps = 1e-5`,
/// `f_star = 0`, `c = 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AligConfig {
    /// Upper bound of the step size; `None` leaves it unbounded (official default).
    pub max_lr: Option<f32>,
    /// Momentum `mu` in `[0, 1)`; 0 turns momentum off. The paper's runs use 0.9.
    pub momentum: f32,
    /// Which momentum update to use when `momentum > 0`.
    pub momentum_kind: MomentumKind,
    /// Added to the denominator so that a tiny gradient does not blow the step up.
    pub eps: f32,
    /// The loss floor (the optimal value): 0 for ALI-G, the known optimum for a Polyak step.
    pub f_star: f32,
    /// Scale of `||g||^2` in the denominator: 1 for ALI-G and Polyak, usually 0.5 for SPS-max.
    pub c: f32,
    /// Radius of the L2 ball the trainable parameters are projected onto after each step
    /// (`None`: no projection, the official default). The paper's runs use 50 to 400.
    pub max_norm: Option<f32>,
    /// Number of step records kept in the GPU stats ring.
    pub stats_capacity: u32,
    /// How the engine scales its gradients (mixed precision): none by default.
    pub loss_scale: LossScale,
}

impl Default for AligConfig {
    fn default() -> Self {
        Self {
            max_lr: None,
            momentum: 0.0,
            momentum_kind: MomentumKind::Nesterov,
            eps: 1e-5,
            f_star: 0.0,
            c: 1.0,
            max_norm: None,
            stats_capacity: 1024,
            loss_scale: LossScale::None,
        }
    }
}

impl AligConfig {
    /// The configuration of the paper's runs: momentum 0.9 (Nesterov) and the given `max_lr`.
    pub fn paper(max_lr: f32) -> Self {
        Self {
            max_lr: Some(max_lr),
            momentum: 0.9,
            ..Self::default()
        }
    }

    /// Checks every field; the first invalid one is returned as a typed error.
    pub fn validate(&self) -> Result<()> {
        validate_max_lr(self.max_lr)?;
        validate_momentum(self.momentum)?;
        self.validate_optimizer_wide()
    }

    /// Checks the fields that hold for every parameter group: all but `max_lr` and
    /// `momentum`, which each group sets for itself.
    pub(crate) fn validate_optimizer_wide(&self) -> Result<()> {
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(Error::InvalidEps(self.eps));
        }
        if !self.f_star.is_finite() {
            return Err(Error::InvalidFStar(self.f_star));
        }
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(Error::InvalidC(self.c));
        }
        if let Some(max_norm) = self.max_norm {
            if !(max_norm.is_finite() && max_norm > 0.0) {
                return Err(Error::InvalidMaxNorm(max_norm));
            }
        }
        if self.stats_capacity == 0 {
            return Err(Error::InvalidStatsCapacity);
        }
        self.loss_scale.validate()
    }
}

impl AligConfig {
    /// The largest `stats_capacity` a device with `limits` can hold: the stats ring and the
    /// step state's header are one buffer, bound whole by the kernels, so they must fit in
    /// one storage binding (`max_storage_buffer_binding_size`) and one buffer
    /// (`max_buffer_size`).
    pub fn max_stats_capacity(limits: &wgpu::Limits) -> u32 {
        let bytes = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let header = std::mem::size_of::<StepStateHeader>() as u64;
        let record = std::mem::size_of::<StepRecord>() as u64;
        (bytes.saturating_sub(header) / record).min(u64::from(u32::MAX)) as u32
    }

    /// [`Error::StatsCapacityTooLarge`] when `stats_capacity` exceeds what a device with
    /// `limits` can hold ([`AligConfig::max_stats_capacity`]).
    pub(crate) fn validate_for_limits(&self, limits: &wgpu::Limits) -> Result<()> {
        let max = Self::max_stats_capacity(limits);
        if self.stats_capacity > max {
            return Err(Error::StatsCapacityTooLarge {
                capacity: self.stats_capacity,
                max,
            });
        }
        Ok(())
    }
}

/// `max_lr`, when set, must be finite and positive.
pub(crate) fn validate_max_lr(max_lr: Option<f32>) -> Result<()> {
    match max_lr {
        Some(max_lr) if !(max_lr.is_finite() && max_lr > 0.0) => Err(Error::InvalidMaxLr(max_lr)),
        _ => Ok(()),
    }
}

/// `momentum` must lie in `[0, 1)`.
pub(crate) fn validate_momentum(momentum: f32) -> Result<()> {
    if (0.0..1.0).contains(&momentum) {
        Ok(())
    } else {
        Err(Error::InvalidMomentum(momentum))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_official_ones_and_valid() {
        let config = AligConfig::default();
        assert_eq!(config.max_lr, None);
        assert_eq!(config.momentum, 0.0);
        assert_eq!(config.eps, 1e-5);
        config.validate().unwrap();
        AligConfig::paper(0.1).validate().unwrap();
    }

    #[test]
    fn each_invalid_field_has_its_error() {
        let bad = |f: fn(&mut AligConfig)| {
            let mut config = AligConfig::default();
            f(&mut config);
            config.validate().unwrap_err()
        };
        assert!(matches!(
            bad(|c| c.max_lr = Some(-1.0)),
            Error::InvalidMaxLr(_)
        ));
        assert!(matches!(
            bad(|c| c.max_lr = Some(0.0)),
            Error::InvalidMaxLr(_)
        ));
        assert!(matches!(
            bad(|c| c.max_lr = Some(f32::NAN)),
            Error::InvalidMaxLr(_)
        ));
        assert!(matches!(
            bad(|c| c.max_lr = Some(f32::INFINITY)),
            Error::InvalidMaxLr(_)
        ));
        assert!(matches!(
            bad(|c| c.momentum = 1.0),
            Error::InvalidMomentum(_)
        ));
        assert!(matches!(
            bad(|c| c.momentum = -0.1),
            Error::InvalidMomentum(_)
        ));
        assert!(matches!(
            bad(|c| c.momentum = f32::NAN),
            Error::InvalidMomentum(_)
        ));
        assert!(matches!(bad(|c| c.eps = -1e-5), Error::InvalidEps(_)));
        assert!(matches!(bad(|c| c.eps = f32::NAN), Error::InvalidEps(_)));
        assert!(matches!(
            bad(|c| c.f_star = f32::INFINITY),
            Error::InvalidFStar(_)
        ));
        assert!(matches!(bad(|c| c.c = 0.0), Error::InvalidC(_)));
        assert!(matches!(
            bad(|c| c.stats_capacity = 0),
            Error::InvalidStatsCapacity
        ));
        assert!(matches!(
            bad(|c| c.max_norm = Some(0.0)),
            Error::InvalidMaxNorm(_)
        ));
        assert!(matches!(
            bad(|c| c.max_norm = Some(f32::NAN)),
            Error::InvalidMaxNorm(_)
        ));
    }
}
