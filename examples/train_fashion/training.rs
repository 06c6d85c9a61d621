//! One training run of the network: a fresh model from the seed, trained by the shared loop
//! (one submit per epoch, the stats ring read once per epoch).

use super::cnn::Cnn;
use super::common::training::train_model;
pub use super::common::training::{Progress, TrainingConfig, TrainingReport};
use super::device_images::DeviceImages;
use super::kernels::Kernels;
use super::Result;

/// Trains a freshly initialised network on `train` and evaluates it on `train` and
/// `held_out`; with `track_held_out`, also on `held_out` after every epoch.
pub fn train(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &Kernels,
    (train, held_out): (&DeviceImages, &DeviceImages),
    track_held_out: bool,
    config: &TrainingConfig,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<TrainingReport> {
    let cnn = Cnn::new(
        device,
        kernels,
        train,
        held_out,
        config.batch_size,
        track_held_out,
    )?;
    cnn.init_params(queue, config.seed)?;
    train_model(
        device,
        queue,
        &cnn,
        &kernels.classifier,
        config,
        on_progress,
    )
}
