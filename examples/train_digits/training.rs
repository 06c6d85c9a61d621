//! One training run of the digits MLP: a fresh model from the seed, trained by the shared
//! loop (one submit per epoch, the stats ring read once per epoch).

use super::common::training::train_model;
pub use super::common::training::{Progress, TrainingConfig, TrainingReport};
use super::device_digits::DeviceDigits;
use super::kernels::Kernels;
use super::mlp::Mlp;
use super::Result;

/// Trains a freshly initialised model on `train` and evaluates it on `train` and `held_out`.
pub fn train(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &Kernels,
    train: &DeviceDigits,
    held_out: &DeviceDigits,
    config: &TrainingConfig,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<TrainingReport> {
    let mlp = Mlp::new(device, kernels, train, held_out, config.batch_size)?;
    mlp.init_params(queue, config.seed)?;
    train_model(
        device,
        queue,
        &mlp,
        &kernels.classifier,
        config,
        on_progress,
    )
}
