//! The compute pipelines of the digits engine, one per WGSL file: the hidden layer's own,
//! and the shared classifier kernels (output layer, loss, updates).

use super::common::kernel::{build, Access, ClassifierKernels, Kernel, CLASSIFIER};
use super::Result;

const INPUTS: &str = include_str!("inputs.wgsl");

/// Every kernel of the engine, compiled for one hidden size.
#[derive(Debug)]
pub struct Kernels {
    pub hidden: usize,
    pub hidden_forward: Kernel,
    pub input_grads: Kernel,
    pub classifier: ClassifierKernels,
}

impl Kernels {
    /// Compiles the kernels for `hidden` units; a shader or pipeline error comes back as `Err`.
    pub fn new(device: &wgpu::Device, hidden: usize) -> Result<Self> {
        use Access::*;
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let classifier = ClassifierKernels::new(device, hidden);
        let constants = [("HIDDEN", hidden as f64)];
        let mlp_kernel = |entry_point, source, bindings: &[Access]| {
            build(
                device,
                entry_point,
                &[CLASSIFIER, INPUTS, source].join("\n"),
                &constants,
                bindings,
            )
        };
        let hidden_forward = mlp_kernel(
            "hidden_forward",
            include_str!("hidden_forward.wgsl"),
            &[Batch, Read, Read, Read, Read, ReadWrite],
        );
        let input_grads = mlp_kernel(
            "input_grads",
            include_str!("input_grads.wgsl"),
            &[Batch, Read, Read, Read, ReadWrite, ReadWrite],
        );
        let error = pollster::block_on(validation.pop());
        let classifier = classifier?;
        match error {
            Some(error) => Err(format!("building the digits kernels failed: {error}").into()),
            None => Ok(Self {
                hidden,
                hidden_forward,
                input_grads,
                classifier,
            }),
        }
    }
}
