//! The compute pipelines of the digits engine, one per WGSL file: the hidden layer's own,
//! and the shared classifier kernels (output layer, loss, updates), for an arena of one
//! precision (each module starts with its prelude, `common/precision_*.wgsl`).

use wgpu_alig::Precision;

use super::common::kernel::{
    build, check_precision, precision_prelude, Access, ClassifierKernels, Kernel, CLASSIFIER,
};
use super::Result;

const INPUTS: &str = include_str!("inputs.wgsl");

/// Every kernel of the engine, compiled for one hidden size.
#[derive(Debug)]
pub struct Kernels {
    pub hidden: usize,
    /// The precision of the arena the kernels read and write.
    pub precision: Precision,
    pub hidden_forward: Kernel,
    pub input_grads: Kernel,
    pub classifier: ClassifierKernels,
}

impl Kernels {
    /// Compiles the kernels for `hidden` units of an f32 arena; a shader or pipeline error
    /// comes back as `Err`. (The integration test's; the example takes its precision.)
    #[allow(dead_code)]
    pub fn new(device: &wgpu::Device, hidden: usize) -> Result<Self> {
        Self::with_precision(device, hidden, Precision::F32)
    }

    /// [`Kernels::new`] for an arena of `precision`: the forward kernels read its parameters
    /// (f16 with `Precision::F16`) and the backward kernels write its gradients (f16 with both
    /// f16 kinds) in their element types.
    pub fn with_precision(
        device: &wgpu::Device,
        hidden: usize,
        precision: Precision,
    ) -> Result<Self> {
        use Access::*;
        check_precision(device, precision)?;
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let classifier = ClassifierKernels::with_precision(device, hidden, precision);
        let constants = [("HIDDEN", hidden as f64)];
        let mlp_kernel = |entry_point, source, bindings: &[Access]| {
            build(
                device,
                entry_point,
                &[precision_prelude(precision), CLASSIFIER, INPUTS, source].join("\n"),
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
                precision,
                hidden_forward,
                input_grads,
                classifier,
            }),
        }
    }
}
