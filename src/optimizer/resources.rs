//! The wgpu objects of an optimizer, made from its [`StepPlan`]: the buffers (uniforms,
//! groups, chunk table, partials, step state, momentum, host losses), then one bind group per
//! kernel and window. Each is made once, at construction; a step only records dispatches.

use super::host_losses::HostLosses;
use super::plan::{StepPlan, WindowPlan};
use crate::arena::{buffer_slice, Arena};
use crate::device::check::create_buffer_with;
use crate::error::{catch_gpu_errors, Result};
use crate::kernels::pipelines::{
    alig_update_binding, grad_sq_norm_binding, project_params_binding, KernelPipeline, Pipelines,
};
use crate::kernels::shader_types::AligUniforms;

/// The optimizer's own buffers.
#[derive(Debug)]
pub(crate) struct Buffers {
    /// One uniform block per window; rewritten by the setters.
    pub uniforms: wgpu::Buffer,
    /// The groups' parameters; rewritten by the setters.
    pub groups: wgpu::Buffer,
    pub chunk_table: wgpu::Buffer,
    /// COPY_DST: a sharded step copies the combined norm in; COPY_SRC: the next loss scale
    /// goes to the state.
    pub partials: wgpu::Buffer,
    /// The loss scale, the loss and its tag, the counters and the stats ring.
    pub state: wgpu::Buffer,
    /// Same layout as the arena; only when some group uses momentum.
    pub momentum: Option<wgpu::Buffer>,
    /// Bound where there is no momentum; the kernels never touch it then.
    pub no_momentum: wgpu::Buffer,
    pub host_losses: HostLosses,
}

impl Buffers {
    /// The buffers of `plan`, filled with their first contents; a failed allocation comes
    /// back as `Err`.
    pub fn new(device: &wgpu::Device, plan: &StepPlan) -> Result<Self> {
        let storage = wgpu::BufferUsages::STORAGE;
        let copy = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        let uniform = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
        let empty = |label, size, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        catch_gpu_errors(device, || {
            let init =
                |label, contents: &[u8], usage| create_buffer_with(device, label, contents, usage);
            let group_params = plan.group_params();
            Ok(Self {
                uniforms: init("wgpu-alig uniforms", &plan.uniform_bytes(), uniform)?,
                groups: init(
                    "wgpu-alig groups",
                    bytemuck::cast_slice(&group_params),
                    storage | wgpu::BufferUsages::COPY_DST,
                )?,
                chunk_table: init(
                    "wgpu-alig chunk table",
                    bytemuck::cast_slice(&plan.chunk_table),
                    storage,
                )?,
                partials: empty("wgpu-alig partials", plan.partials_bytes(), storage | copy),
                state: init(
                    "wgpu-alig step state",
                    &plan.initial_state(),
                    storage | copy,
                )?,
                momentum: plan.uses_momentum().then(|| {
                    empty(
                        "wgpu-alig momentum",
                        plan.layout.byte_size(),
                        storage | copy,
                    )
                }),
                no_momentum: empty("wgpu-alig no momentum", 16, storage),
                host_losses: HostLosses::new(device)?,
            })
        })?
    }

    /// Window `window`'s uniform block, as a binding.
    pub fn window_uniforms(&self, plan: &StepPlan, window: usize) -> wgpu::BufferBinding<'_> {
        let size = std::mem::size_of::<AligUniforms>() as u64;
        buffer_slice(&self.uniforms, plan.uniform_offset(window), size)
    }
}

/// The bind groups of one window, one per kernel.
#[derive(Debug)]
pub(crate) struct WindowBindGroups {
    pub grad_sq_norm: wgpu::BindGroup,
    pub alig_update: wgpu::BindGroup,
    /// Only with projection on.
    pub project_params: Option<wgpu::BindGroup>,
}

/// What a window binds of the arena's buffers and of the momentum.
struct WindowSlices<'a> {
    uniforms: wgpu::BufferBinding<'a>,
    params: wgpu::BufferBinding<'a>,
    grads: wgpu::BufferBinding<'a>,
    /// The f16 copy of the parameters (`Precision::F16` only).
    half_params: Option<wgpu::BufferBinding<'a>>,
    momentum: wgpu::BufferBinding<'a>,
}

impl<'a> WindowSlices<'a> {
    fn new(buffers: &'a Buffers, arena: &'a Arena, plan: &StepPlan, index: usize) -> Self {
        let window: &WindowPlan = &plan.windows[index];
        let (start, size) = (window.bytes.start, window.bytes.end - window.bytes.start);
        // The window's bytes are of f32 buffers; an f16 one's are half as many.
        let of = |buffer, element_bytes: u64| {
            buffer_slice(buffer, start / 4 * element_bytes, size / 4 * element_bytes)
        };
        let precision = arena.precision();
        let params = buffer_slice(
            arena.master_params_buffer(),
            arena.master_params_offset() + start,
            size,
        );
        Self {
            uniforms: buffers.window_uniforms(plan, index),
            params,
            grads: of(arena.grads_buffer(), precision.grad_bytes()),
            half_params: precision.has_master().then(|| {
                buffer_slice(
                    arena.params_buffer(),
                    arena.params_offset() + start / 2,
                    size / 2,
                )
            }),
            momentum: match &buffers.momentum {
                Some(momentum) => buffer_slice(momentum, start, size),
                None => buffers.no_momentum.as_entire_buffer_binding(),
            },
        }
    }
}

/// The bind groups of every window of `plan`, over `arena`'s buffers and `buffers`.
pub(crate) fn bind_windows(
    device: &wgpu::Device,
    plan: &StepPlan,
    pipelines: &Pipelines,
    buffers: &Buffers,
    arena: &Arena,
) -> Result<Vec<WindowBindGroups>> {
    catch_gpu_errors(device, || {
        (0..plan.windows.len())
            .map(|index| {
                let slices = WindowSlices::new(buffers, arena, plan, index);
                WindowBindGroups {
                    grad_sq_norm: grad_sq_norm_bind_group(device, pipelines, buffers, &slices),
                    alig_update: alig_update_bind_group(device, pipelines, buffers, &slices),
                    project_params: pipelines.project_params.as_ref().map(|pipeline| {
                        project_params_bind_group(device, pipeline, buffers, &slices)
                    }),
                }
            })
            .collect()
    })
}

fn grad_sq_norm_bind_group(
    device: &wgpu::Device,
    pipelines: &Pipelines,
    buffers: &Buffers,
    slices: &WindowSlices<'_>,
) -> wgpu::BindGroup {
    use grad_sq_norm_binding::*;
    let entries = [
        entry(UNIFORMS, slices.uniforms.clone()),
        entry(GRADS, slices.grads.clone()),
        entry(PARTIALS, buffers.partials.as_entire_buffer_binding()),
        entry(CHUNK_TABLE, buffers.chunk_table.as_entire_buffer_binding()),
    ];
    bind_group(device, &pipelines.grad_sq_norm, "grad_sq_norm", &entries)
}

fn alig_update_bind_group(
    device: &wgpu::Device,
    pipelines: &Pipelines,
    buffers: &Buffers,
    slices: &WindowSlices<'_>,
) -> wgpu::BindGroup {
    use alig_update_binding::*;
    let mut entries = vec![
        entry(UNIFORMS, slices.uniforms.clone()),
        entry(PARTIALS, buffers.partials.as_entire_buffer_binding()),
        entry(STATE, buffers.state.as_entire_buffer_binding()),
        entry(PARAMS, slices.params.clone()),
        entry(GRADS, slices.grads.clone()),
        entry(MOMENTUM, slices.momentum.clone()),
        entry(GROUPS, buffers.groups.as_entire_buffer_binding()),
        entry(CHUNK_TABLE, buffers.chunk_table.as_entire_buffer_binding()),
    ];
    entries.extend(slices.half_params.clone().map(|b| entry(HALF_PARAMS, b)));
    bind_group(device, &pipelines.alig_update, "alig_update", &entries)
}

fn project_params_bind_group(
    device: &wgpu::Device,
    pipeline: &KernelPipeline,
    buffers: &Buffers,
    slices: &WindowSlices<'_>,
) -> wgpu::BindGroup {
    use project_params_binding::*;
    let mut entries = vec![
        entry(UNIFORMS, slices.uniforms.clone()),
        entry(PARTIALS, buffers.partials.as_entire_buffer_binding()),
        entry(STATE, buffers.state.as_entire_buffer_binding()),
        entry(PARAMS, slices.params.clone()),
        entry(CHUNK_TABLE, buffers.chunk_table.as_entire_buffer_binding()),
    ];
    entries.extend(slices.half_params.clone().map(|b| entry(HALF_PARAMS, b)));
    bind_group(device, pipeline, "project_params", &entries)
}

pub(crate) fn bind_group(
    device: &wgpu::Device,
    kernel: &KernelPipeline,
    label: &str,
    entries: &[wgpu::BindGroupEntry<'_>],
) -> wgpu::BindGroup {
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &kernel.bind_group_layout,
        entries,
    })
}

pub(crate) fn entry(binding: u32, buffer: wgpu::BufferBinding<'_>) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::Buffer(buffer),
    }
}
