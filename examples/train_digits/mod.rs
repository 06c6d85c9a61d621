//! A small GPU training engine for the UCI handwritten digits: a multilayer perceptron
//! (64 -> hidden ReLU -> 10, softmax cross-entropy) whose forward and backward passes are
//! WGSL kernels, with every parameter in a `wgpu_alig::Arena` and the mean mini-batch loss
//! written on the GPU and handed to the optimizer as `Loss::Buffer`. Nothing is read back per
//! step. Shared by the `train_digits` example and its integration test.

pub mod batches;
pub mod dataset;
pub mod device_digits;
pub mod kernels;
pub mod mlp;
pub mod optimizers;
pub mod readback;
pub mod sgd;
pub mod split_mix;
pub mod training;

/// The engine's error: anything, with a message that says what went wrong.
pub type Error = Box<dyn std::error::Error>;
/// The engine's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
