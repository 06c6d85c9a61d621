//! The compute pipelines of the Fashion-MNIST engine, one per WGSL file: the convolution and
//! the hidden dense layer's own, and the shared classifier kernels (output layer, loss,
//! updates).

use super::common::kernel::{build, Access, ClassifierKernels, Kernel, CLASSIFIER};
use super::Result;

const FASHION: &str = include_str!("fashion.wgsl");
const PIXEL: &str = include_str!("pixel.wgsl");

/// The network's shape: convolution filters and hidden units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub channels: usize,
    pub hidden: usize,
}

/// Every kernel of the engine, compiled for one shape.
#[derive(Debug)]
pub struct Kernels {
    pub shape: Shape,
    pub conv_pool_forward: Kernel,
    pub dense_forward: Kernel,
    pub dense_grads: Kernel,
    pub pooled_backward: Kernel,
    pub conv_grads: Kernel,
    pub classifier: ClassifierKernels,
}

impl Kernels {
    /// Compiles the kernels for `shape`; a shader or pipeline error comes back as `Err`.
    pub fn new(device: &wgpu::Device, shape: Shape) -> Result<Self> {
        use Access::*;
        if shape.channels == 0 || shape.channels > 64 {
            return Err(format!("channels must be in 1..=64, got {}", shape.channels).into());
        }
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let classifier = ClassifierKernels::new(device, shape.hidden);
        let constants = [
            ("HIDDEN", shape.hidden as f64),
            ("CHANNELS", shape.channels as f64),
        ];
        let kernel = |entry_point, reads_pixels: bool, source, bindings: &[Access]| {
            let pixel = if reads_pixels { PIXEL } else { "" };
            build(
                device,
                entry_point,
                &[CLASSIFIER, FASHION, pixel, source].join("\n"),
                &constants,
                bindings,
            )
        };
        let conv_pool_forward = kernel(
            "conv_pool_forward",
            true,
            include_str!("conv_pool_forward.wgsl"),
            &[Batch, Read, Read, Read, Read, ReadWrite, ReadWrite],
        );
        let dense_forward = kernel(
            "dense_forward",
            false,
            include_str!("dense_forward.wgsl"),
            &[Batch, Read, Read, Read, ReadWrite],
        );
        let dense_grads = kernel(
            "dense_grads",
            false,
            include_str!("dense_grads.wgsl"),
            &[Batch, Read, Read, ReadWrite, ReadWrite],
        );
        let pooled_backward = kernel(
            "pooled_backward",
            false,
            include_str!("pooled_backward.wgsl"),
            &[Batch, Read, Read, Read, ReadWrite],
        );
        let conv_grads = kernel(
            "conv_grads",
            true,
            include_str!("conv_grads.wgsl"),
            &[Batch, Read, Read, Read, Read, ReadWrite, ReadWrite],
        );
        let error = pollster::block_on(validation.pop());
        let classifier = classifier?;
        match error {
            Some(error) => {
                Err(format!("building the Fashion-MNIST kernels failed: {error}").into())
            }
            None => Ok(Self {
                shape,
                conv_pool_forward,
                dense_forward,
                dense_grads,
                pooled_backward,
                conv_grads,
                classifier,
            }),
        }
    }
}
