//! A small GPU training engine for the UCI handwritten digits: a multilayer perceptron
//! (64 -> hidden ReLU -> 10, softmax cross-entropy) whose forward and backward passes are
//! WGSL kernels, with every parameter in a `wgpu_alig::Arena` and the mean mini-batch loss
//! written on the GPU and handed to the optimizer as `Loss::Buffer`. Nothing is read back per
//! step. Shared by the `train_digits` example and its integration test.

// Each engine uses part of the shared pieces (the digits one has no Adam, for one).
#[allow(dead_code)]
#[path = "../common/mod.rs"]
pub mod common;

// `readback` is for the integration test, which reaches the engine's pieces through here.
#[allow(unused_imports)]
pub use common::{batches, optimizers, readback, split_mix, Result};

pub mod dataset;
pub mod device_digits;
pub mod kernels;
pub mod mlp;
// Used by the data-parallel examples only (here and in wgpu-alig-mpi/).
#[allow(dead_code)]
pub mod replica;
pub mod training;
