//! A compute pipeline with the explicit layout of its single bind group, and the kernels
//! every classifier engine shares: the output layer, the softmax cross-entropy, the batch
//! loss and the optimizer updates. Built once and shared by every training run.

use wgpu_alig::Precision;

use super::batches::BatchSlot;
use super::Result;

/// The declarations every classifier kernel starts with (`CLASSES`, `HIDDEN`, `BatchDesc`).
pub const CLASSIFIER: &str = include_str!("classifier.wgsl");

/// The first part of the module of a kernel that binds the arena: the element types of its
/// parameters (`Param`) and gradients (`Grad`) in an arena of `precision`, with `enable f16;`
/// for the f16 kinds.
pub fn precision_prelude(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => include_str!("precision_f32.wgsl"),
        Precision::F16Grads => include_str!("precision_f16_grads.wgsl"),
        Precision::F16 => include_str!("precision_f16.wgsl"),
    }
}
/// The declarations of the Adam kernels.
const ADAM_UNIFORMS: &str = include_str!("adam_uniforms.wgsl");

/// What a kernel does with a binding. Bindings are numbered in the order they are listed,
/// which is the order of the `@binding` declarations in the kernel's file.
#[derive(Clone, Copy)]
pub enum Access {
    /// The `BatchDesc` uniform, selected per dispatch by a dynamic offset.
    Batch,
    Uniform,
    Read,
    ReadWrite,
}

/// A pipeline and the layout of its bind group.
#[derive(Debug)]
pub struct Kernel {
    pub name: &'static str,
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Kernel {
    /// A bind group with `resources` at bindings 0, 1, 2, ...
    pub fn bind_group(
        &self,
        device: &wgpu::Device,
        resources: &[wgpu::BufferBinding<'_>],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry<'_>> = resources
            .iter()
            .enumerate()
            .map(|(binding, resource)| wgpu::BindGroupEntry {
                binding: binding as u32,
                resource: wgpu::BindingResource::Buffer(resource.clone()),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(self.name),
            layout: &self.layout,
            entries: &entries,
        })
    }
}

pub fn build(
    device: &wgpu::Device,
    entry_point: &'static str,
    source: &str,
    constants: &[(&str, f64)],
    bindings: &[Access],
) -> Kernel {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
        .iter()
        .enumerate()
        .map(|(binding, &access)| {
            let (ty, has_dynamic_offset) = match access {
                Access::Batch => (wgpu::BufferBindingType::Uniform, true),
                Access::Uniform => (wgpu::BufferBindingType::Uniform, false),
                Access::Read => (wgpu::BufferBindingType::Storage { read_only: true }, false),
                Access::ReadWrite => (wgpu::BufferBindingType::Storage { read_only: false }, false),
            };
            wgpu::BindGroupLayoutEntry {
                binding: binding as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty,
                    has_dynamic_offset,
                    min_binding_size: None,
                },
                count: None,
            }
        })
        .collect();
    let label = Some(entry_point);
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label,
        entries: &entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label,
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label,
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label,
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some(entry_point),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants,
            ..Default::default()
        },
        cache: None,
    });
    Kernel {
        name: entry_point,
        pipeline,
        layout,
    }
}

/// `Ok` where `device` can run kernels for an arena of `precision`: the f16 kinds need
/// `Features::SHADER_F16`.
pub fn check_precision(device: &wgpu::Device, precision: Precision) -> Result<()> {
    if precision.needs_f16() && !device.features().contains(wgpu::Features::SHADER_F16) {
        return Err(
            format!("{precision:?} needs SHADER_F16, which this adapter does not offer").into(),
        );
    }
    Ok(())
}

/// The output layer and loss kernels, over the last hidden layer of `HIDDEN` units (stored by
/// row, after its ReLU), for an arena of one precision, and the optimizers' update kernels
/// (SGD's and Adam's for f32 arenas only).
#[derive(Debug)]
pub struct ClassifierKernels {
    /// The arena's precision the output layer's kernels are compiled for.
    pub precision: Precision,
    pub output_forward: Kernel,
    pub batch_loss: Kernel,
    pub output_grads: Kernel,
    pub hidden_backward: Kernel,
    pub sgd_momentum: Kernel,
    pub adam: Kernel,
    pub adam_tick: Kernel,
}

impl ClassifierKernels {
    /// Compiles the kernels for `hidden` units of an f32 arena. Errors surface in the
    /// caller's error scope.
    pub fn new(device: &wgpu::Device, hidden: usize) -> Result<Self> {
        Self::with_precision(device, hidden, Precision::F32)
    }

    /// [`ClassifierKernels::new`] for an arena of `precision`: the output layer's kernels
    /// read its parameters and write its gradients in their element types (the f16 kinds
    /// need `Features::SHADER_F16`).
    pub fn with_precision(
        device: &wgpu::Device,
        hidden: usize,
        precision: Precision,
    ) -> Result<Self> {
        use Access::*;
        if hidden == 0 || hidden > 1024 {
            return Err(format!("hidden units must be in 1..=1024, got {hidden}").into());
        }
        check_precision(device, precision)?;
        let constants = [("HIDDEN", hidden as f64)];
        let classifier_kernel = |entry_point, source, bindings: &[Access]| {
            build(
                device,
                entry_point,
                &[precision_prelude(precision), CLASSIFIER, source].join("\n"),
                &constants,
                bindings,
            )
        };
        Ok(Self {
            precision,
            output_forward: classifier_kernel(
                "output_forward",
                include_str!("output_forward.wgsl"),
                &[
                    Batch, Read, Read, Read, Read, Read, ReadWrite, ReadWrite, Read,
                ],
            ),
            batch_loss: classifier_kernel(
                "batch_loss",
                include_str!("batch_loss.wgsl"),
                &[Batch, Read, ReadWrite],
            ),
            output_grads: classifier_kernel(
                "output_grads",
                include_str!("output_grads.wgsl"),
                &[Batch, Read, Read, ReadWrite, ReadWrite],
            ),
            hidden_backward: classifier_kernel(
                "hidden_backward",
                include_str!("hidden_backward.wgsl"),
                &[Batch, Read, Read, Read, ReadWrite],
            ),
            sgd_momentum: build(
                device,
                "sgd_momentum",
                include_str!("sgd_momentum.wgsl"),
                &[],
                &[Uniform, ReadWrite, Read, ReadWrite],
            ),
            adam: build(
                device,
                "adam",
                &[ADAM_UNIFORMS, include_str!("adam.wgsl")].join("\n"),
                &[],
                &[Uniform, ReadWrite, Read, ReadWrite, ReadWrite, Read],
            ),
            adam_tick: build(
                device,
                "adam_tick",
                &[ADAM_UNIFORMS, include_str!("adam_tick.wgsl")].join("\n"),
                &[],
                &[Uniform, ReadWrite],
            ),
        })
    }
}

/// A whole buffer as a binding.
pub fn whole(buffer: &wgpu::Buffer) -> wgpu::BufferBinding<'_> {
    buffer.as_entire_buffer_binding()
}

/// One dispatch of `kernel` over `batch`, with `workgroups` in x and y.
pub fn dispatch(
    pass: &mut wgpu::ComputePass<'_>,
    kernel: &Kernel,
    bind_group: &wgpu::BindGroup,
    batch: BatchSlot,
    workgroups: [u32; 2],
) {
    pass.set_pipeline(&kernel.pipeline);
    pass.set_bind_group(0, bind_group, &[batch.dynamic_offset]);
    pass.dispatch_workgroups(workgroups[0], workgroups[1], 1);
}
