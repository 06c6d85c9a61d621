//! MoMo in f64, as `momo.Momo` of `momo-opt` 0.1.0 runs it (see `momo_model.rs`).

use super::check_shapes;
use super::momo_config::MomoConfig;
use super::momo_model::{dot, finite, skipped, Model, MomoStep, Sums};
use crate::error::Result;

/// MoMo on the CPU: parameters and averages of every tensor in f64.
#[derive(Clone, Debug)]
pub struct MomoReference {
    config: MomoConfig,
    params: Vec<Vec<f64>>,
    /// `d`, the average of the gradients.
    grad_avg: Vec<Vec<f64>>,
    /// The average of `<x, g>` (the official code's sum of `grad_dot_w`).
    dot_avg: f64,
    loss_avg: f64,
    lb: f64,
    steps: u32,
}

impl MomoReference {
    /// MoMo over `params` (each tensor a flat vector), every tensor trained.
    pub fn new(config: MomoConfig, params: Vec<Vec<f64>>) -> Result<Self> {
        config.validate()?;
        let grad_avg = params.iter().map(|p| vec![0.0; p.len()]).collect();
        Ok(Self {
            lb: f64::from(config.lb),
            config,
            params,
            grad_avg,
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
        self.steps += 1;
        let sums = self.average(loss, grads);
        let rho = match c.bias_correction {
            true => 1.0 - f64::from(c.beta).powi(self.steps as i32),
            false => 1.0,
        };
        let (lr, wd) = (f64::from(c.lr), f64::from(c.weight_decay));
        let model = Model {
            lr,
            weight_decay: wd,
            use_fstar: c.use_fstar,
            initial_lb: f64::from(c.lb),
            rho,
            loss_avg: self.loss_avg,
            dot_avg: self.dot_avg,
        };
        let step = model.step(sums, &mut self.lb);
        for (x, d) in self.params.iter_mut().zip(&self.grad_avg) {
            for (x, d) in x.iter_mut().zip(d) {
                *x += -step.tau * d;
                if wd > 0.0 {
                    *x /= 1.0 + lr * wd;
                }
            }
        }
        Ok(step)
    }

    /// Pass 1's part: the averages of the loss, the gradients and `<x, g>` take this step's
    /// in (without bias correction, the first step's values are where they start), and the
    /// sums of the new averages.
    fn average(&mut self, loss: f64, grads: &[Vec<f64>]) -> Sums {
        let beta = f64::from(self.config.beta);
        let x_dot_g: f64 = self.params.iter().zip(grads).map(|(p, g)| dot(p, g)).sum();
        if self.steps == 1 && !self.config.bias_correction {
            self.loss_avg = loss;
            self.grad_avg = grads.to_vec();
            self.dot_avg = x_dot_g;
        }
        self.loss_avg = beta * self.loss_avg + (1.0 - beta) * loss;
        let mut sums = Sums {
            x_dot_g,
            ..Sums::default()
        };
        for ((d, g), x) in self.grad_avg.iter_mut().zip(grads).zip(&self.params) {
            for (d, g) in d.iter_mut().zip(g) {
                *d = *d * beta + (1.0 - beta) * g;
            }
            sums.dot += dot(x, d);
            sums.norm += dot(d, d);
        }
        self.dot_avg = self.dot_avg * beta + (1.0 - beta) * sums.x_dot_g;
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
