//! # wgpu-alig
//!
//! The ALI-G optimizer (Berrada, Zisserman, Kumar, *Training Neural Networks for and by
//! Interpolation*, ICML 2020, arXiv:1906.05661) as hand-written WGSL compute kernels, for
//! training engines whose parameters and gradients stay on the GPU.
//!
//! ALI-G is SGD with a step size computed in closed form from the mini-batch loss `l` and
//! the gradient `g` of every trainable tensor together:
//!
//! ```text
//! gamma_hat = max(0, l - f_star) / (c * ||g||^2 + eps)      ALI-G: f_star = 0, c = 1
//! gamma     = min(gamma_hat, max_lr)                        (gamma_hat when max_lr is None)
//!
//! no momentum:                 w <- w - gamma*g
//! momentum (Nesterov, default) z <- mu*z - gamma*g ;  w <- w - gamma*g + mu*z
//! adjusted momentum:           z <- mu*z - g       ;  w <- w - gamma*g + gamma*mu*z
//! projection (max_norm = r):   if ||w|| > r then w <- w * r/||w||
//! ```
//!
//! [`ParamGroup`]s give sets of tensors their own `max_lr` and momentum (`gamma_hat` stays
//! global); tensors in no group are frozen. [`Alig::set_max_lr`] and [`Alig::set_momentum`]
//! change a group's settings between steps (a warmup, a schedule) with a buffer write.
//! `f_star` and `c` turn the same kernels into the Polyak step with a known optimum or
//! SPS-max.
//!
//! A step is two dispatches whatever the number of tensors (three with projection; that many
//! per window when the arena exceeds one storage binding): pass 1 writes partial sums of
//! `||g||^2` (no atomics, so the result is deterministic); pass 2 re-reduces them in every
//! workgroup, computes gamma on the GPU and updates parameters and momentum. The loss comes
//! from the host or from a GPU buffer; nothing is read back. A non-finite loss or gradient
//! skips the step on the GPU, leaving the state untouched. Each step appends a
//! [`StepRecord`] to a ring on the GPU, read asynchronously with [`Alig::read_stats`].
//!
//! ```no_run
//! use wgpu_alig::{Alig, AligConfig, Arena, Gpu, Loss};
//! # fn main() -> wgpu_alig::Result<()> {
//! let gpu = Gpu::new()?; // or bring your own device and queue
//! let arena = Arena::new(&gpu.device, &[("w1", 784 * 128), ("b1", 128)])?;
//! // The engine binds each tensor where it lives: arena.param_binding("w1")?, ...
//! let mut alig = Alig::new(&gpu.device, &arena, AligConfig::paper(0.1))?;
//! let mut encoder = gpu.device.create_command_encoder(&Default::default());
//! // ... the engine's forward and backward passes write the gradients into the arena ...
//! alig.record_step(&mut encoder, &gpu.queue, Loss::Host(0.7))?;
//! gpu.queue.submit([encoder.finish()]);
//! # Ok(()) }
//! ```
//!
//! A model sharded over devices takes the same step split around its one global quantity:
//! [`Alig::record_local_grad_norm`] copies this shard's [`ShardNorm`] out, the engine
//! combines the devices' values with its own collective, and [`Alig::record_global_update`]
//! steps the shard with the combined one.
//!
//! [`reference`](mod@reference) holds an f64 CPU port of the kernels with the same semantics.
//!
//! ## Guide
//!
//! - **The tensors**: an [`Arena`] holds every trainable tensor in one params and one grads
//!   buffer; the engine binds each tensor at its [`TensorSlot`] ([`Arena::param_binding`],
//!   [`Arena::grad_binding`]), names it by a [`TensorKey`] (its name or a [`TensorId`]) and
//!   writes or reads it with [`Arena::write_params`] and [`Arena::read_params`].
//! - **The optimizer**: [`AligConfig`] holds the hyper-parameters ([`AligConfig::paper`] for
//!   the paper's defaults, checked by [`AligConfig::validate`]); [`Alig::new`] steps every tensor,
//!   [`Alig::with_groups`] takes [`ParamGroup`]s. Construction plans the step on the CPU
//!   (windows, uniforms, specialization) and then makes its buffers, pipelines and bind
//!   groups once; a step only records dispatches.
//! - **A step**: [`Alig::record_step`] into the engine's encoder, the loss as [`Loss::Host`]
//!   or [`Loss::Buffer`] (a GPU buffer the engine's loss kernel wrote: nothing read back).
//!   On native targets [`Alig::project_params`] projects the parameters once before
//!   training, as the official code does at construction.
//! - **What happened**: [`Alig::read_stats`] (async) or [`Alig::read_stats_blocking`] return a
//!   [`StatsSnapshot`] of [`StepRecord`]s with their [`StepFlags`] (a skipped step, a step at
//!   `max_lr`, an overflow of the loss scale).
//! - **Mixed precision**: [`Precision::F16Grads`] and [`Precision::F16`] arenas, with a fixed
//!   or dynamic [`LossScale`].
//! - **Large models**: an arena larger than one storage binding runs in windows by itself;
//!   a model sharded over devices steps with [`Alig::record_local_grad_norm`],
//!   [`Alig::record_global_update`] and [`ShardNorm`]; [`WorkSplit`] sizes the passes.
//! - **Checkpoints**: [`Alig::save_state`] gives an [`AligState`] ([`AligState::to_bytes`]
//!   with a CRC-32), [`Alig::from_state`] restores it.
//! - **Errors**: every fallible call returns [`Error`]: invalid configuration, a buffer of the
//!   wrong size or device, a missing feature, a lost device. Nothing a caller passes panics.
//! - **Devices**: [`Gpu::new`] and [`GpuRequest`] open one for examples and tests; an engine
//!   passes its own `wgpu::Device` and `wgpu::Queue` instead. [`shaders`] gives the WGSL
//!   sources for validation elsewhere.
//! - **Debugging and profiling**: the kernels are built without bounds checks (every index
//!   is in range by construction); `WGPU_ALIG_SHADER_CHECKS=1` ([`SHADER_CHECKS_VAR`]) puts
//!   them back. [`Alig::record_step_with_pass_timestamps`] times each pass on its own.
#![deny(missing_docs)]

mod arena;
mod device;
mod error;
mod kernels;
mod optimizer;
pub mod reference;
mod state;
mod stats;

pub use arena::{Arena, ArenaLayout, Precision, TensorId, TensorKey, TensorSlot};
pub use device::{Gpu, GpuRequest};
pub use error::{Error, Result};
pub use kernels::runtime_checks::{shader_runtime_checks, SHADER_CHECKS_VAR};
pub use kernels::shaders;
pub use kernels::shard_norm::{NormSlot, ShardNorm};
pub use kernels::work_split::WorkSplit;
pub use optimizer::{Alig, AligConfig, Loss, LossScale, MomentumKind, ParamGroup, HOST_LOSS_SLOTS};
pub use state::AligState;
pub use stats::{StatsSnapshot, StepFlags, StepRecord};
