//! The model of the loss that MoMo and MoMo-Adam (Schaipp, Ohana, Eickenberg, Defazio,
//! Gower, ICML 2024, arXiv:2305.07583) make, in f64, as their official code makes it
//! (`momo-opt` 0.1.0, `momo.Momo` and `momo.MomoAdam`), one parameter group, every tensor
//! trained.
//!
//! Both keep momentum averages of the gradient (`d`), of `<x, g>` and of the loss, and take the
//! step size of the model of the loss they make:
//!
//! ```text
//! nom = (1 + lr wd) (loss_avg - rho lb) + <x, d> - (1 + lr wd) avg<x, g>
//! tau = min(lr / rho, max(nom, 0) / ||d||^2)         (MoMo-Adam: ||d||^2 weighted by 1/D)
//! ```
//!
//! with `rho` the bias correction of the averages (1 for MoMo without it). Where the ports
//! differ from the official code:
//! - it keeps `avg<x, g>` per tensor and sums the averages; the average of the sums kept here
//!   is the same quantity (it differs in the last bits only);
//! - it makes some scalars with torch's default dtype, float32 unless changed: MoMo-Adam's
//!   `avg<x, g>`, and with bias correction MoMo's, whose step size is then computed in
//!   float32; here everything is f64 (the fixtures run it with float64 as the default);
//! - a step with a non-finite loss or gradient is skipped, every average untouched, as the
//!   crate's ALI-G skips it; the official code has no such rule;
//! - a NaN numerator from finite inputs (an overflow, `inf - inf`) gives `tau = 0` here, where
//!   Python's `max(nom, 0.)` keeps the NaN and `min(lr / rho, nan)` then takes `lr / rho`;
//! - the settings are checked a little more (`momo_config.rs`).

/// What one step of either method computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MomoStep {
    /// The step size `tau` (0 when skipped).
    pub tau: f64,
    /// The model's numerator `nom` before the `max` with 0 (0 when skipped).
    pub numerator: f64,
    /// The lower bound after the step (`lb`, or its online estimate).
    pub lb: f64,
    /// Whether `tau` is the cap `lr / rho` (the model's step is longer, or undefined).
    pub capped: bool,
    /// Whether the step was skipped (a non-finite loss or gradient): nothing changed.
    pub skipped: bool,
}

/// The three global scalars pass 1 reduces, from the new averages.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Sums {
    /// `<x, d>`.
    pub(super) dot: f64,
    /// `||d||^2`, weighted by `1/D` for MoMo-Adam.
    pub(super) norm: f64,
    /// `<x, g>` of this step, which the average of it takes in.
    pub(super) x_dot_g: f64,
}

/// The model of the loss a step makes: the settings that shape it and the averages it is made
/// of.
pub(super) struct Model {
    pub(super) lr: f64,
    pub(super) weight_decay: f64,
    pub(super) use_fstar: bool,
    pub(super) initial_lb: f64,
    /// The averages' bias correction (1 without it).
    pub(super) rho: f64,
    pub(super) loss_avg: f64,
    /// The average of `<x, g>`.
    pub(super) dot_avg: f64,
}

impl Model {
    /// The step size and the new lower bound from the sums: the official code's update of `lb`
    /// (with `use_fstar`), its `nom`, `t1` and `tau`, in its order.
    pub(super) fn step(&self, sums: Sums, lb: &mut f64) -> MomoStep {
        let (rho, loss_avg, dot_avg) = (self.rho, self.loss_avg, self.dot_avg);
        let decay = 1.0 + self.lr * self.weight_decay;
        if self.use_fstar {
            let cap = decay * loss_avg + sums.dot - decay * dot_avg;
            if cap < decay * rho * *lb {
                *lb = (cap / (2.0 * decay * rho)).max(self.initial_lb);
            }
        }
        let numerator = decay * (loss_avg - rho * *lb) + sums.dot - decay * dot_avg;
        // Python's max(nom, 0.) and min(lr / rho, t1): a NaN t1 (0 / 0) gives lr / rho.
        let t1 = numerator.max(0.0) / sums.norm;
        let capped = t1.is_nan() || t1 >= self.lr / rho;
        let tau = if capped { self.lr / rho } else { t1 };
        if self.use_fstar {
            let h = loss_avg + sums.dot - dot_avg;
            *lb = ((h - 0.5 * tau * sums.norm) / rho).max(self.initial_lb);
        }
        MomoStep {
            tau,
            numerator,
            lb: *lb,
            capped,
            skipped: false,
        }
    }
}

/// A skipped step's record: nothing moved.
pub(super) fn skipped(lb: f64) -> MomoStep {
    MomoStep {
        tau: 0.0,
        numerator: 0.0,
        lb,
        capped: false,
        skipped: true,
    }
}

/// Whether the loss and every gradient are finite (else the step is skipped).
pub(super) fn finite(loss: f64, grads: &[Vec<f64>]) -> bool {
    loss.is_finite() && grads.iter().flatten().all(|g| g.is_finite())
}

pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}
