//! # wgpu-alig-burn
//!
//! The ALI-G optimizer of [`wgpu_alig`] for [burn](https://burn.dev) models on burn's wgpu
//! backend. Burn's runtime and the optimizer share one `wgpu::Device` and `Queue`
//! ([`SharedDevice`]); the loss stays on the GPU (the step reads it from the loss tensor's
//! buffer); nothing is read back per step.
//!
//! ```no_run
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::GradientsParams;
//! use burn::tensor::Tensor;
//! use wgpu_alig::AligConfig;
//! use wgpu_alig_burn::{AligOptimizer, SharedDevice};
//! # fn main() -> wgpu_alig_burn::Result<()> {
//! let shared = SharedDevice::open()?;
//! let device = shared.burn_device();
//! let mut model: Linear = LinearConfig::new(4, 1).init(&device);
//! let mut alig = AligOptimizer::new(&shared, AligConfig::paper(0.1))?;
//! let (x, y) = (Tensor::<2>::ones([8, 4], &device), Tensor::<2>::zeros([8, 1], &device));
//! for _ in 0..10 {
//!     let loss = (model.forward(x.clone()) - y.clone()).powi_scalar(2).mean();
//!     let grads = GradientsParams::from_grads(loss.backward(), &model);
//!     model = alig.step(&loss, model, grads)?;
//! }
//! // Burn never drops its devices: release this one before the program exits.
//! drop((model, alig, x, y));
//! shared.shutdown()?;
//! # Ok(()) }
//! ```
//!
//! The trainable parameters live in the optimizer's arena: the first step allocates it
//! through burn's runtime (so burn's kernels read it in place), copies each parameter in once
//! and returns the module with every trainable parameter a view of it. From then on a step
//! copies the gradients into the arena and runs the ALI-G kernels (two dispatches whatever the
//! number of tensors) in one encoder, which update the parameters where burn's forward pass
//! reads them; a parameter replaced since is adopted with one copy. It works with burn's
//! fusion on (burn's default) or off.
//! Parameters without a gradient at the first step are frozen; [`PathGroup`]s give groups of
//! parameters by module path their own `max_lr` and momentum
//! ([`AligOptimizer::with_groups`]). [`AligOptimizer::save`] / [`AligOptimizer::load`] keep
//! the state in burn's burnpack format. [`SharedDevice::shutdown`] ends a program cleanly.
#![deny(missing_docs)]

mod adopt;
mod cube_tensor;
mod error;
mod host_reads;
mod optimizer;
mod param_map;
mod param_region;
mod param_visit;
mod path_groups;
mod record;
mod shared_device;
mod tensor_buffer;

pub use cube_tensor::burn_fusion;
pub use error::{Error, Result};
pub use host_reads::staging_pages_peak;
pub use optimizer::{AligOptimizer, StepCopies};
pub use path_groups::PathGroup;
pub use shared_device::SharedDevice;
