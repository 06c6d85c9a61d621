//! The optimizers compared on the engines: ALI-G from the crate, SGD with Nesterov momentum
//! 0.9 at a constant learning rate or with a schedule (step decay, cosine), and Adam.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use wgpu_alig::{Alig, AligConfig, Arena, Loss, LossScale, Precision, StatsSnapshot};

use super::adam::Adam;
use super::kernel::ClassifierKernels;
use super::sgd::SgdMomentum;
use super::Result;

/// Momentum of every optimizer here, as in the ALI-G paper's runs.
pub const MOMENTUM: f32 = 0.9;
/// Step decay: the learning rate is divided by 10 at these fractions of the epochs.
pub const DECAY_MILESTONES: [f64; 2] = [0.5, 0.75];

/// How the SGD learning rate changes over the epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    Constant,
    StepDecay,
    /// Half a cosine from the base rate to zero over the epochs (per epoch, without restarts).
    Cosine,
}

impl Schedule {
    /// The learning rate of `epoch` (from 0) of `epochs`.
    pub fn lr(self, base: f32, epoch: usize, epochs: usize) -> f32 {
        match self {
            Self::Constant => base,
            Self::StepDecay => {
                let progress = epoch as f64 / epochs as f64;
                let decays = DECAY_MILESTONES.iter().filter(|&&m| progress >= m).count();
                base * 0.1f32.powi(decays as i32)
            }
            Self::Cosine => {
                let progress = epoch as f64 / epochs as f64;
                (f64::from(base) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())) as f32
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Constant => "constant",
            Self::StepDecay => "step decay",
            Self::Cosine => "cosine",
        }
    }
}

/// Which optimizer, with its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerSpec {
    /// `AligConfig::paper(max_lr)`: momentum 0.9, step size capped at `max_lr`.
    Alig { max_lr: f32 },
    /// SGD with Nesterov momentum 0.9.
    Sgd { lr: f32, schedule: Schedule },
    /// Adam with `torch.optim.Adam`'s betas and eps.
    Adam { lr: f32 },
}

impl OptimizerSpec {
    /// The one hyper-parameter of each method: ALI-G's max_lr, or the learning rate.
    pub fn hyper_parameter(&self) -> f32 {
        match *self {
            Self::Alig { max_lr } => max_lr,
            Self::Sgd { lr, .. } | Self::Adam { lr } => lr,
        }
    }

    /// The method without its hyper-parameter, e.g. "SGD cosine".
    pub fn method(&self) -> String {
        match self {
            Self::Alig { .. } => "ALI-G".to_string(),
            Self::Sgd {
                schedule: Schedule::Constant,
                ..
            } => "SGD".to_string(),
            Self::Sgd { schedule, .. } => format!("SGD {}", schedule.name()),
            Self::Adam { .. } => "Adam".to_string(),
        }
    }
}

impl fmt::Display for OptimizerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alig { max_lr } => write!(f, "ALI-G (max_lr {max_lr})"),
            Self::Sgd { lr, .. } | Self::Adam { lr } => write!(f, "{} (lr {lr})", self.method()),
        }
    }
}

/// A future of the ALI-G stats ring.
pub type StatsFuture = Pin<Box<dyn Future<Output = wgpu_alig::Result<StatsSnapshot>> + Send>>;

/// An optimizer built over one model's arena.
#[derive(Debug)]
pub enum Optimizer<'k> {
    Alig(Box<Alig>),
    Sgd {
        sgd: SgdMomentum<'k>,
        base_lr: f32,
        schedule: Schedule,
    },
    Adam(Adam<'k>),
}

impl<'k> Optimizer<'k> {
    /// Builds `spec` over `arena`; ALI-G keeps at least `stats_capacity` step records, and
    /// scales the loss dynamically (`LossScale::dynamic()`) where the gradients are f16. The
    /// SGD and Adam kernels read f32 gradients: they refuse an f16 arena.
    pub fn new(
        device: &wgpu::Device,
        kernels: &'k ClassifierKernels,
        arena: &Arena,
        spec: OptimizerSpec,
        stats_capacity: u32,
    ) -> Result<Self> {
        let precision = arena.precision();
        if precision != Precision::F32 && !matches!(spec, OptimizerSpec::Alig { .. }) {
            return Err(format!(
                "{} has f32 kernels only: it cannot train an arena of {precision:?}",
                spec.method()
            )
            .into());
        }
        Ok(match spec {
            OptimizerSpec::Alig { max_lr } => {
                let config = AligConfig {
                    stats_capacity: stats_capacity.max(AligConfig::default().stats_capacity),
                    loss_scale: if precision.needs_f16() {
                        LossScale::dynamic()
                    } else {
                        LossScale::None
                    },
                    ..AligConfig::paper(max_lr)
                };
                Self::Alig(Box::new(Alig::new(device, arena, config)?))
            }
            OptimizerSpec::Sgd { lr, schedule } => {
                if !(lr.is_finite() && lr > 0.0) {
                    return Err(format!("the SGD learning rate must be > 0, got {lr}").into());
                }
                Self::Sgd {
                    sgd: SgdMomentum::new(device, &kernels.sgd_momentum, arena, lr, MOMENTUM),
                    base_lr: lr,
                    schedule,
                }
            }
            OptimizerSpec::Adam { lr } => {
                if !(lr.is_finite() && lr > 0.0) {
                    return Err(format!("the Adam learning rate must be > 0, got {lr}").into());
                }
                Self::Adam(Adam::new(device, kernels, arena, lr))
            }
        })
    }

    /// Called before each epoch's steps are recorded; returns SGD's learning rate.
    pub fn start_epoch(&mut self, queue: &wgpu::Queue, epoch: usize, epochs: usize) -> Option<f32> {
        match self {
            Self::Alig(_) | Self::Adam(_) => None,
            Self::Sgd {
                sgd,
                base_lr,
                schedule,
            } => {
                let lr = schedule.lr(*base_lr, epoch, epochs);
                sgd.set_lr(queue, lr);
                Some(lr)
            }
        }
    }

    /// Records one step; the gradients are in the arena and the loss at `loss` on the GPU.
    pub fn record_step(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        loss: (&wgpu::Buffer, u64),
    ) -> Result<()> {
        match self {
            Self::Alig(alig) => {
                let (buffer, offset) = loss;
                alig.record_step(encoder, queue, Loss::Buffer { buffer, offset })?
            }
            // SGD does not need the loss.
            Self::Sgd { sgd, .. } => sgd.record_step(encoder),
            Self::Adam(adam) => adam.record_step(encoder),
        }
        Ok(())
    }

    /// Where the backward pass reads the loss scale (ALI-G's; 1 without a scale); `None` for
    /// the others, which do not scale the loss.
    pub fn loss_scale_binding(&self) -> Option<wgpu::BufferBinding<'_>> {
        match self {
            Self::Alig(alig) => Some(alig.loss_scale_binding()),
            Self::Sgd { .. } | Self::Adam(_) => None,
        }
    }

    /// Starts reading ALI-G's stats ring back (asynchronously); `None` for the others.
    pub fn read_stats(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Option<StatsFuture> {
        match self {
            Self::Alig(alig) => Some(Box::pin(alig.read_stats(device, queue))),
            Self::Sgd { .. } | Self::Adam(_) => None,
        }
    }
}
