//! The compute pipelines of the passes (the third only with projection on) and their bind
//! group layouts, built once per optimizer with the reduction the device supports.

use crate::error::{catch_gpu_errors, Result};
use crate::kernels::runtime_checks::shader_module;
use crate::kernels::shaders::{Kernel, Reduction, Specialization};

/// Binding indices of pass 1 (`shaders/grad_sq_norm.wgsl`).
pub(crate) mod grad_sq_norm_binding {
    pub const UNIFORMS: u32 = 0;
    pub const GRADS: u32 = 1;
    pub const PARTIALS: u32 = 2;
    pub const CHUNK_TABLE: u32 = 3;
}

/// Binding indices of pass 2 (`shaders/alig_update.wgsl`).
pub(crate) mod alig_update_binding {
    pub const UNIFORMS: u32 = 0;
    pub const PARTIALS: u32 = 1;
    pub const STATE: u32 = 2;
    pub const PARAMS: u32 = 3;
    pub const GRADS: u32 = 4;
    pub const MOMENTUM: u32 = 5;
    pub const GROUPS: u32 = 6;
    pub const CHUNK_TABLE: u32 = 7;
    /// The f16 copy of the parameters (`Precision::F16` only).
    pub const HALF_PARAMS: u32 = 9;
}

/// Binding indices of pass 3 (`shaders/project_params.wgsl`).
pub(crate) mod project_params_binding {
    pub const UNIFORMS: u32 = 0;
    pub const PARTIALS: u32 = 1;
    pub const STATE: u32 = 2;
    pub const PARAMS: u32 = 3;
    pub const CHUNK_TABLE: u32 = 4;
    /// The f16 copy of the parameters (`Precision::F16` only).
    pub const HALF_PARAMS: u32 = 9;
}

/// Binding indices of a sharded step's sums (`shaders/shard_norms.wgsl`).
pub(crate) mod shard_norms_binding {
    pub const UNIFORMS: u32 = 0;
    pub const PARTIALS: u32 = 1;
    pub const LOCAL_NORMS: u32 = 2;
}

/// What a kernel does with a binding.
#[derive(Clone, Copy)]
enum Access {
    Uniform,
    Read,
    ReadWrite,
}

fn layout_entry(binding: u32, access: Access) -> wgpu::BindGroupLayoutEntry {
    let ty = match access {
        Access::Uniform => wgpu::BufferBindingType::Uniform,
        Access::Read => wgpu::BufferBindingType::Storage { read_only: true },
        Access::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
    };
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// What pass 1 does with each of its bindings.
fn grad_sq_norm_bindings() -> Vec<(u32, Access)> {
    use grad_sq_norm_binding::*;
    use Access::*;
    vec![
        (UNIFORMS, Uniform),
        (GRADS, Read),
        (PARTIALS, ReadWrite),
        (CHUNK_TABLE, Read),
    ]
}

/// What pass 2 does with each of its bindings (the f16 copy of the parameters only with a
/// master copy).
fn alig_update_bindings(half_params: bool) -> Vec<(u32, Access)> {
    use alig_update_binding::*;
    use Access::*;
    let mut bindings = vec![
        (UNIFORMS, Uniform),
        (PARTIALS, ReadWrite),
        (STATE, ReadWrite),
        (PARAMS, ReadWrite),
        (GRADS, Read),
        (MOMENTUM, ReadWrite),
        (GROUPS, Read),
        (CHUNK_TABLE, Read),
    ];
    bindings.extend(half_params.then_some((HALF_PARAMS, ReadWrite)));
    bindings
}

/// What pass 3 does with each of its bindings.
fn project_params_bindings(half_params: bool) -> Vec<(u32, Access)> {
    use project_params_binding::*;
    use Access::*;
    let mut bindings = vec![
        (UNIFORMS, Uniform),
        (PARTIALS, Read),
        (STATE, ReadWrite),
        (PARAMS, ReadWrite),
        (CHUNK_TABLE, Read),
    ];
    bindings.extend(half_params.then_some((HALF_PARAMS, ReadWrite)));
    bindings
}

/// A kernel's pipeline with the layout of its single bind group.
#[derive(Debug)]
pub(crate) struct KernelPipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group_layout: wgpu::BindGroupLayout,
}

impl KernelPipeline {
    fn new(
        device: &wgpu::Device,
        kernel: Kernel,
        reduction: Reduction,
        spec: &Specialization,
        bindings: &[(u32, Access)],
    ) -> Self {
        let label = Some(kernel.entry_point());
        let entries: Vec<_> = bindings.iter().map(|&(b, a)| layout_entry(b, a)).collect();
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label,
            entries: &entries,
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label,
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let wgsl = kernel.wgsl(kernel.reduction(reduction), spec.precision);
        let module = shader_module(device, kernel.entry_point(), wgsl);
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label,
            layout: Some(&layout),
            module: &module,
            entry_point: Some(kernel.entry_point()),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &kernel.constants(spec),
                ..Default::default()
            },
            cache: None,
        });
        Self {
            pipeline,
            bind_group_layout,
        }
    }
}

/// The passes, built for one device.
#[derive(Debug)]
pub(crate) struct Pipelines {
    pub grad_sq_norm: KernelPipeline,
    pub alig_update: KernelPipeline,
    /// Only with projection on.
    pub project_params: Option<KernelPipeline>,
    pub reduction: Reduction,
    pub specialization: Specialization,
}

impl Pipelines {
    /// Compiles the kernels for `spec`; a shader or layout error comes back as `Err`.
    pub fn new(device: &wgpu::Device, spec: &Specialization) -> Result<Self> {
        let reduction = Reduction::for_device(device);
        let half_params = spec.precision.has_master();
        let pipeline = |kernel, bindings: &[(u32, Access)]| {
            KernelPipeline::new(device, kernel, reduction, spec, bindings)
        };
        catch_gpu_errors(device, || Self {
            grad_sq_norm: pipeline(Kernel::GradSqNorm, &grad_sq_norm_bindings()),
            alig_update: pipeline(Kernel::AligUpdate, &alig_update_bindings(half_params)),
            project_params: spec
                .projection
                .then(|| pipeline(Kernel::ProjectParams, &project_params_bindings(half_params))),
            reduction,
            specialization: *spec,
        })
    }
}

/// The kernels of a sharded step, built on its first use: most optimizers never need them.
#[derive(Debug)]
pub(crate) struct ShardPipelines {
    pub grad_norm: KernelPipeline,
    /// Only with projection on.
    pub param_norm: Option<KernelPipeline>,
}

impl ShardPipelines {
    pub fn new(device: &wgpu::Device, pipelines: &Pipelines) -> Result<Self> {
        use shard_norms_binding::*;
        use Access::*;
        let bindings = [
            (UNIFORMS, Uniform),
            (PARTIALS, Read),
            (LOCAL_NORMS, ReadWrite),
        ];
        let spec = &pipelines.specialization;
        let kernel =
            |kernel| KernelPipeline::new(device, kernel, pipelines.reduction, spec, &bindings);
        catch_gpu_errors(device, || Self {
            grad_norm: kernel(Kernel::ShardGradNorm),
            param_norm: spec.projection.then(|| kernel(Kernel::ShardParamNorm)),
        })
    }
}
