//! A compute pipeline with an explicit bind group layout, and the precision preludes of its
//! modules: the helpers the baselines share.

use wgpu_alig::Precision;

/// The binding of the f16 copy of the parameters in the crate's `precision_f16.wgsl`.
pub const HALF_PARAMS_BINDING: u32 = 9;

/// A baseline's module: the crate's prelude of `precision` (`GradVec4`, the gradients'
/// element type; `store_half_params`, which writes the f16 copy of the parameters with
/// `Precision::F16` and nothing elsewhere), then `source`.
pub fn module(precision: Precision, source: &str) -> String {
    let prelude = match precision {
        Precision::F32 => include_str!("../../shaders/precision_f32.wgsl"),
        Precision::F16Grads => include_str!("../../shaders/precision_f16_grads.wgsl"),
        Precision::F16 => include_str!("../../shaders/precision_f16.wgsl"),
    };
    [prelude, source].join("\n")
}

/// How a kernel uses one binding of its bind group.
#[derive(Clone, Copy)]
pub enum Access {
    Uniform,
    Read,
    ReadWrite,
}

/// A compiled kernel and the layout of its single bind group.
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group_layout: wgpu::BindGroupLayout,
}

impl Kernel {
    /// Compiles `entry_point` of `wgsl` with bind group 0 laid out as `bindings`.
    pub fn new(
        device: &wgpu::Device,
        wgsl: &str,
        entry_point: &str,
        bindings: &[(u32, Access)],
    ) -> Self {
        let entries: Vec<_> = bindings
            .iter()
            .map(|&(binding, access)| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match access {
                        Access::Uniform => wgpu::BufferBindingType::Uniform,
                        Access::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        Access::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let label = Some(entry_point);
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label,
            entries: &entries,
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label,
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let module = shader_module(device, entry_point, wgsl);
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label,
            layout: Some(&layout),
            module: &module,
            entry_point: Some(entry_point),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        Self {
            pipeline,
            bind_group_layout,
        }
    }

    /// A bind group of buffer ranges, `(binding, buffer, byte offset, byte size)`.
    pub fn bind_group(
        &self,
        device: &wgpu::Device,
        ranges: &[(u32, &wgpu::Buffer, u64, u64)],
    ) -> wgpu::BindGroup {
        let entries: Vec<_> = ranges
            .iter()
            .map(|&(binding, buffer, offset, size)| wgpu::BindGroupEntry {
                binding,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer,
                    offset,
                    size: wgpu::BufferSize::new(size),
                }),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.bind_group_layout,
            entries: &entries,
        })
    }
}

/// Workgroups for a grid-stride pass over `len_vec4` vec4s: the crate's own split for this
/// device, so that the baselines differ from the step in what they do, not in how they spread
/// it.
pub fn grid_stride_workgroups(device: &wgpu::Device, len_vec4: u64) -> u32 {
    let len_vec4 = u32::try_from(len_vec4).expect("a window holds fewer than 2^32 vec4s");
    wgpu_alig::WorkSplit::for_device(device).workgroups(len_vec4)
}

/// Threads per workgroup of every kernel here and in the crate.
const WORKGROUP_SIZE: u64 = 256;

/// A work split with any values, by the rule of `wgpu_alig::WorkSplit::workgroups` (whose
/// values only the crate sets): the split sweep spreads the streaming kernels with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    pub vec4_per_thread: u32,
    pub max_workgroups: u32,
}

impl Split {
    /// The crate's split for `device`.
    pub fn for_device(device: &wgpu::Device) -> Self {
        let split = wgpu_alig::WorkSplit::for_device(device);
        Self {
            vec4_per_thread: split.vec4_per_thread(),
            max_workgroups: split.max_workgroups(),
        }
    }

    /// Workgroups for a pass over `len_vec4` vec4s (at least one).
    pub fn workgroups(&self, len_vec4: u64) -> u32 {
        let wanted = len_vec4.div_ceil(WORKGROUP_SIZE * u64::from(self.vec4_per_thread));
        wanted.clamp(1, u64::from(self.max_workgroups)) as u32
    }
}

/// A bench kernel's module built as the crate builds its own (`shader_runtime_checks`), so
/// that a roofline and the step it is compared with pay the same for checks.
fn shader_module(device: &wgpu::Device, label: &str, wgsl: &str) -> wgpu::ShaderModule {
    let desc = wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(wgsl.into()),
    };
    // SAFETY: the bench kernels (benches/shaders/*.wgsl) index their buffers below the
    // lengths they are dispatched over, as the crate's kernels do.
    unsafe { device.create_shader_module_trusted(desc, wgpu_alig::shader_runtime_checks()) }
}
