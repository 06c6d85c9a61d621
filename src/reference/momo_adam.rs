//! MoMo-Adam in f64, as `momo.MomoAdam` of `momo-opt` 0.1.0 runs it (see `momo_model.rs`).

use super::check_shapes;
use super::momo_config::MomoAdamConfig;
use super::momo_model::{dot, finite, skipped, Model, MomoStep, Sums};
use crate::error::Result;

/// MoMo-Adam on the CPU: parameters and averages of every tensor in f64.
#[derive(Clone, Debug)]
pub struct MomoAdamReference {
    config: MomoAdamConfig,
    params: Vec<Vec<f64>>,
    /// `d`, the average of the gradients.
    grad_avg: Vec<Vec<f64>>,
    /// `v`, the average of the squared gradients.
    grad_avg_sq: Vec<Vec<f64>>,
    /// The average of `<x, g>`.
    dot_avg: f64,
    loss_avg: f64,
    lb: f64,
    steps: u32,
}

impl MomoAdamReference {
    /// MoMo-Adam over `params` (each tensor a flat vector), every tensor trained.
    pub fn new(config: MomoAdamConfig, params: Vec<Vec<f64>>) -> Result<Self> {
        config.validate()?;
        let zeros: Vec<Vec<f64>> = params.iter().map(|p| vec![0.0; p.len()]).collect();
        Ok(Self {
            lb: f64::from(config.lb),
            config,
            params,
            grad_avg: zeros.clone(),
            grad_avg_sq: zeros,
            dot_avg: 0.0,
            loss_avg: 0.0,
            steps: 0,
        })
    }

    /// One step with the mini-batch `loss` and the gradients of every tensor.
    pub fn step(&mut self, loss: f64, grads: &[Vec<f64>]) -> Result<MomoStep> {
        check_shapes(&self.params, grads)?;
        if !finite(loss, grads) {
            return Ok(skipped(self.lb));
        }
        let c = self.config;
        let eps = f64::from(c.eps);
        self.steps += 1;
        let correction1 = 1.0 - f64::from(c.betas.0).powi(self.steps as i32);
        let correction2 = 1.0 - f64::from(c.betas.1).powi(self.steps as i32);
        let sums = self.average(loss, grads, correction2);
        let (lr, wd) = (f64::from(c.lr), f64::from(c.weight_decay));
        let model = Model {
            lr,
            weight_decay: wd,
            use_fstar: c.use_fstar,
            initial_lb: f64::from(c.lb),
            rho: correction1,
            loss_avg: self.loss_avg,
            dot_avg: self.dot_avg,
        };
        let step = model.step(sums, &mut self.lb);
        let averages = self.grad_avg.iter().zip(&self.grad_avg_sq);
        for (x, (d, v)) in self.params.iter_mut().zip(averages) {
            for ((x, d), v) in x.iter_mut().zip(d).zip(v) {
                let big_d = (v / correction2).sqrt() + eps;
                if wd > 0.0 && !c.divide {
                    *x *= 1.0 - wd * lr;
                }
                *x += -step.tau * d / big_d;
                if wd > 0.0 && c.divide {
                    *x /= 1.0 + wd * lr;
                }
            }
        }
        Ok(step)
    }

    /// Pass 1's part: the averages of the gradients, their squares, `<x, g>` and the loss take
    /// this step's in, and the sums of the new averages (`||d||^2` weighted by `1/D`, `D` with
    /// the squares' bias correction `correction2`).
    fn average(&mut self, loss: f64, grads: &[Vec<f64>], correction2: f64) -> Sums {
        let (beta1, beta2) = (
            f64::from(self.config.betas.0),
            f64::from(self.config.betas.1),
        );
        let eps = f64::from(self.config.eps);
        let mut sums = Sums::default();
        let tensors = self.params.iter().zip(grads);
        let averages = self.grad_avg.iter_mut().zip(self.grad_avg_sq.iter_mut());
        for ((x, g), (d, v)) in tensors.zip(averages) {
            for ((d, v), g) in d.iter_mut().zip(v.iter_mut()).zip(g) {
                *d = *d * beta1 + (1.0 - beta1) * g;
                *v = *v * beta2 + (1.0 - beta2) * g * g;
                let big_d = (*v / correction2).sqrt() + eps;
                sums.norm += *d * (*d / big_d);
            }
            sums.x_dot_g += dot(x, g);
            sums.dot += dot(x, d);
        }
        self.dot_avg = self.dot_avg * beta1 + (1.0 - beta1) * sums.x_dot_g;
        self.loss_avg = (1.0 - beta1) * loss + beta1 * self.loss_avg;
        sums
    }

    /// The parameters of every tensor.
    pub fn params(&self) -> &[Vec<f64>] {
        &self.params
    }

    /// The lower bound (its online estimate with `use_fstar`).
    pub fn lb(&self) -> f64 {
        self.lb
    }

    /// Steps taken (skipped ones not counted).
    pub fn steps(&self) -> u32 {
        self.steps
    }
}
