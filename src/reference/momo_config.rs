//! The settings of MoMo and MoMo-Adam, named as their official code (`momo-opt` 0.1.0) names
//! them, with its defaults and its range checks, and a few more: every setting must be finite
//! (the official code takes `lb = -inf`, a step always at the cap), and MoMo-Adam's
//! `weight_decay` must be `>= 0` (the official code does not check it).

use crate::error::{Error, Result};

/// MoMo's settings, named as `momo.Momo` names them (its defaults in [`MomoConfig::default`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MomoConfig {
    /// The largest step size (`lr`), `>= 0`.
    pub lr: f32,
    /// The averages' momentum, in `[0, 1]`.
    pub beta: f32,
    /// A lower bound of the loss (`lb`); with `use_fstar` the estimate's floor.
    pub lb: f32,
    /// Decoupled weight decay (`weight_decay`), `>= 0`: the update divides by `1 + lr wd`.
    pub weight_decay: f32,
    /// Averages that start at zero and are corrected by `1 - beta^k`, instead of starting at
    /// the first step's values.
    pub bias_correction: bool,
    /// Estimate the lower bound online (`use_fstar`), never below `lb`.
    pub use_fstar: bool,
}

impl Default for MomoConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            beta: 0.9,
            lb: 0.0,
            weight_decay: 0.0,
            bias_correction: false,
            use_fstar: false,
        }
    }
}

/// MoMo-Adam's settings, named as `momo.MomoAdam` names them (its defaults in
/// [`MomoAdamConfig::default`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MomoAdamConfig {
    /// The largest step size (`lr`), `>= 0`.
    pub lr: f32,
    /// The momentum of the averages (`betas`): of the gradient, `<x, g>` and the loss; of the
    /// squared gradient. Each in `[0, 1)`.
    pub betas: (f32, f32),
    /// Added to `D = sqrt(v / (1 - beta2^k))` (`eps`), `>= 0`.
    pub eps: f32,
    /// A lower bound of the loss (`lb`); with `use_fstar` the estimate's floor.
    pub lb: f32,
    /// Weight decay (`weight_decay`), `>= 0`.
    pub weight_decay: f32,
    /// The weight decay's form (`divide`): proximal, dividing by `1 + lr wd` after the step
    /// (true), or AdamW's, multiplying by `1 - lr wd` before it (false).
    pub divide: bool,
    /// Estimate the lower bound online (`use_fstar`), never below `lb`.
    pub use_fstar: bool,
}

impl Default for MomoAdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            betas: (0.9, 0.999),
            eps: 1e-8,
            lb: 0.0,
            weight_decay: 0.0,
            divide: true,
            use_fstar: false,
        }
    }
}

/// A setting out of its range: the official code's checks, and finiteness.
fn check(name: &'static str, value: f32, valid: bool) -> Result<()> {
    match valid && value.is_finite() {
        true => Ok(()),
        false => Err(Error::InvalidSetting { name, value }),
    }
}

impl MomoConfig {
    /// Checks every setting: `lr >= 0`, `weight_decay >= 0`, `beta` in `[0, 1]`, `lb` finite.
    pub fn validate(&self) -> Result<()> {
        check("lr", self.lr, self.lr >= 0.0)?;
        check("weight_decay", self.weight_decay, self.weight_decay >= 0.0)?;
        check("beta", self.beta, (0.0..=1.0).contains(&self.beta))?;
        check("lb", self.lb, true)
    }
}

impl MomoAdamConfig {
    /// Checks every setting: `lr`, `eps` and `weight_decay >= 0`, each beta in `[0, 1)`, `lb`
    /// finite.
    pub fn validate(&self) -> Result<()> {
        check("lr", self.lr, self.lr >= 0.0)?;
        check("eps", self.eps, self.eps >= 0.0)?;
        check("weight_decay", self.weight_decay, self.weight_decay >= 0.0)?;
        check("betas.0", self.betas.0, (0.0..1.0).contains(&self.betas.0))?;
        check("betas.1", self.betas.1, (0.0..1.0).contains(&self.betas.1))?;
        check("lb", self.lb, true)
    }
}
