//! A GPU training engine for Fashion-MNIST: a small convolutional network (conv 5x5, ReLU,
//! max-pool 2x2, dense ReLU, dense, softmax cross-entropy) whose forward and backward passes
//! are WGSL kernels, with every parameter in a `wgpu_alig::Arena` and the mean mini-batch
//! loss written on the GPU and handed to the optimizer as `Loss::Buffer`. Nothing is read
//! back per step. Shared by the `train_fashion` example and its integration test.

// Each engine uses part of the shared pieces.
#[allow(dead_code)]
#[path = "../common/mod.rs"]
pub mod common;

// `readback` is for the integration test, which reaches the engine's pieces through here.
#[allow(unused_imports)]
pub use common::{batches, optimizers, readback, split_mix, Result};

pub mod cnn;
pub mod dataset;
pub mod device_images;
pub mod kernels;
pub mod training;
