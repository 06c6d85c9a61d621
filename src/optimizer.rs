//! The optimizer: two dispatches per step over the whole arena (two per window of it).

use std::future::Future;

use wgpu::util::DeviceExt;

use crate::arena::{Arena, ArenaLayout};
use crate::config::{AligConfig, MomentumKind};
use crate::error::{catch_gpu_errors, Error, Result};
use crate::pipelines::{alig_update_binding, grad_sq_norm_binding, Pipelines};
use crate::readback::{read_buffer, read_buffer_blocking};
use crate::shader_types::{
    AligUniforms, Partial, StepStateHeader, OPTION_ADJUSTED_MOMENTUM, OPTION_HAS_MAX_LR,
    OPTION_WRITES_RECORD, WORKGROUP_SIZE,
};
use crate::shaders::Reduction;
use crate::stats::{StatsSnapshot, StepRecord};

/// Most workgroups of either pass per window, hence most partials of pass 1 per window.
const MAX_WORKGROUPS: u32 = 1024;
/// Fewest `vec4`s a thread handles before another workgroup is added.
const MIN_VEC4_PER_THREAD: u32 = 4;
/// Host losses that can be recorded between two submits (see [`Alig::record_step`]).
pub const HOST_LOSS_SLOTS: u32 = 256;

/// Where the loss of a step comes from. Neither way reads anything back to the host.
#[derive(Clone, Copy, Debug)]
pub enum Loss<'a> {
    /// A loss known on the host, written with `queue.write_buffer`.
    Host(f32),
    /// An `f32` in a GPU buffer (for instance the output of the engine's loss kernel) at a
    /// 4-byte aligned byte `offset`; the buffer needs `BufferUsages::COPY_SRC`. It is copied
    /// inside the step's encoder, so it may be written earlier in the same encoder.
    Buffer {
        /// The buffer holding the loss.
        buffer: &'a wgpu::Buffer,
        /// Byte offset of the loss in `buffer`.
        offset: u64,
    },
}

/// The ALI-G optimizer over one [`Arena`]. See the crate docs for the update rules.
///
/// Everything is built in [`Alig::new`]; a step only records a copy of the loss and one
/// compute pass with two dispatches (two per window when the arena is larger than one storage
/// binding), whatever the number of tensors.
#[derive(Debug)]
pub struct Alig {
    config: AligConfig,
    layout: ArenaLayout,
    pipelines: Pipelines,
    windows: Vec<Window>,
    state: wgpu::Buffer,
    momentum: wgpu::Buffer,
    host_losses: wgpu::Buffer,
    next_host_loss_slot: u32,
}

/// One window of the arena: at most one storage binding of each buffer kind.
#[derive(Debug)]
struct Window {
    workgroups: u32,
    grad_sq_norm: wgpu::BindGroup,
    alig_update: wgpu::BindGroup,
}

impl Alig {
    /// Validates `config`, compiles the kernels for `device` (subgroup reduction where the
    /// device has `Features::SUBGROUP`) and allocates the optimizer's state: the momentum
    /// buffer (when `momentum > 0`), the partial sums and the stats ring.
    pub fn new(device: &wgpu::Device, arena: &Arena, config: AligConfig) -> Result<Self> {
        config.validate()?;
        let layout = arena.layout().clone();
        let limits = device.limits();
        let ranges = layout.windows(limits.max_storage_buffer_binding_size);

        // One uniform block per window, each at an offset a uniform binding may start at.
        let uniform_size = std::mem::size_of::<AligUniforms>() as u64;
        let uniform_stride =
            uniform_size.next_multiple_of(limits.min_uniform_buffer_offset_alignment.into());
        let mut uniforms = Vec::with_capacity(ranges.len());
        let mut num_partials = 0u32;
        for (index, range) in ranges.iter().enumerate() {
            let len_vec4 = u32::try_from((range.end - range.start) / 16).map_err(|_| {
                Error::ArenaTooLarge {
                    bytes: range.end - range.start,
                    limit: u64::from(u32::MAX) * 16,
                    what: "window",
                }
            })?;
            let workgroups = len_vec4
                .div_ceil(WORKGROUP_SIZE * MIN_VEC4_PER_THREAD)
                .clamp(1, MAX_WORKGROUPS);
            let mut options = options_bits(&config);
            if index == 0 {
                options |= OPTION_WRITES_RECORD;
            }
            uniforms.push((
                workgroups,
                AligUniforms {
                    max_lr: config.max_lr.unwrap_or(0.0),
                    momentum: config.momentum,
                    eps: config.eps,
                    f_star: config.f_star,
                    c: config.c,
                    options,
                    len_vec4,
                    num_partials: 0, // known once every window is counted
                    stats_capacity: config.stats_capacity,
                    partial_base: num_partials,
                    _pad: [0; 2],
                },
            ));
            num_partials += workgroups;
        }
        let mut uniform_bytes = vec![0u8; uniform_stride as usize * uniforms.len()];
        for (index, (_, block)) in uniforms.iter_mut().enumerate() {
            block.num_partials = num_partials;
            let at = index * uniform_stride as usize;
            uniform_bytes[at..at + uniform_size as usize]
                .copy_from_slice(bytemuck::bytes_of(block));
        }

        let state_bytes = state_byte_size(config.stats_capacity);
        let momentum_bytes = if config.uses_momentum() {
            layout.byte_size()
        } else {
            16 // never read: the kernel's momentum branch is off
        };

        let pipelines = Pipelines::new(device)?;
        catch_gpu_errors(device, || {
            let storage = |label, size, extra| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage: wgpu::BufferUsages::STORAGE | extra,
                    mapped_at_creation: false,
                })
            };
            let copy = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
            let uniform_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("wgpu-alig uniforms"),
                contents: &uniform_bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            });
            let partial_bytes = u64::from(num_partials) * std::mem::size_of::<Partial>() as u64;
            let partials = storage(
                "wgpu-alig partials",
                partial_bytes,
                wgpu::BufferUsages::empty(),
            );
            let state = storage("wgpu-alig step state", state_bytes, copy);
            let momentum = storage("wgpu-alig momentum", momentum_bytes, copy);
            let host_losses = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgpu-alig host losses"),
                size: u64::from(HOST_LOSS_SLOTS) * 4,
                usage: copy,
                mapped_at_creation: false,
            });

            let windows = ranges
                .iter()
                .zip(&uniforms)
                .enumerate()
                .map(|(index, (range, &(workgroups, _)))| {
                    let uniform =
                        slice(&uniform_buffer, index as u64 * uniform_stride, uniform_size);
                    let size = range.end - range.start;
                    let params = slice(arena.params_buffer(), range.start, size);
                    let grads = slice(arena.grads_buffer(), range.start, size);
                    let momentum = if config.uses_momentum() {
                        slice(&momentum, range.start, size)
                    } else {
                        momentum.as_entire_buffer_binding()
                    };
                    let grad_sq_norm = {
                        use grad_sq_norm_binding::*;
                        device.create_bind_group(&wgpu::BindGroupDescriptor {
                            label: Some("grad_sq_norm"),
                            layout: &pipelines.grad_sq_norm.bind_group_layout,
                            entries: &[
                                entry(UNIFORMS, uniform.clone()),
                                entry(GRADS, grads.clone()),
                                entry(PARTIALS, partials.as_entire_buffer_binding()),
                            ],
                        })
                    };
                    let alig_update = {
                        use alig_update_binding::*;
                        device.create_bind_group(&wgpu::BindGroupDescriptor {
                            label: Some("alig_update"),
                            layout: &pipelines.alig_update.bind_group_layout,
                            entries: &[
                                entry(UNIFORMS, uniform),
                                entry(PARTIALS, partials.as_entire_buffer_binding()),
                                entry(STATE, state.as_entire_buffer_binding()),
                                entry(PARAMS, params),
                                entry(GRADS, grads),
                                entry(MOMENTUM, momentum),
                            ],
                        })
                    };
                    Window {
                        workgroups,
                        grad_sq_norm,
                        alig_update,
                    }
                })
                .collect();
            Self {
                config,
                layout,
                pipelines,
                windows,
                state,
                momentum,
                host_losses,
                next_host_loss_slot: 0,
            }
        })
    }

    /// Records one step into `encoder`: the copy of the loss into the optimizer's state, then
    /// one compute pass with exactly two dispatches (the squared gradient norm, then the
    /// fused update). Nothing is allocated, mapped or polled.
    ///
    /// A [`Loss::Host`] goes through `queue.write_buffer` into one of [`HOST_LOSS_SLOTS`]
    /// slots, which lands when the encoder is submitted; so at most that many host-loss steps
    /// may be recorded between two submits. A [`Loss::Buffer`] has no such limit.
    pub fn record_step(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
    ) -> Result<()> {
        self.record_step_with_timestamps(encoder, queue, loss, None)
    }

    /// [`Alig::record_step`], with timestamps written at the beginning and end of the step's
    /// compute pass (needs `Features::TIMESTAMP_QUERY`): GPU time for benchmarks.
    pub fn record_step_with_timestamps(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
        timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) -> Result<()> {
        let (source, offset) = match loss {
            Loss::Host(value) => {
                let offset = u64::from(self.next_host_loss_slot) * 4;
                self.next_host_loss_slot = (self.next_host_loss_slot + 1) % HOST_LOSS_SLOTS;
                queue.write_buffer(&self.host_losses, offset, bytemuck::bytes_of(&value));
                (&self.host_losses, offset)
            }
            Loss::Buffer { buffer, offset } => {
                if offset % 4 != 0 || offset.checked_add(4).is_none_or(|end| end > buffer.size()) {
                    return Err(Error::LossOffset {
                        offset,
                        size: buffer.size(),
                    });
                }
                if !buffer.usage().contains(wgpu::BufferUsages::COPY_SRC) {
                    return Err(Error::LossBufferUsage);
                }
                (buffer, offset)
            }
        };
        encoder.copy_buffer_to_buffer(source, offset, &self.state, 0, 4);

        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("wgpu-alig step"),
            timestamp_writes,
        });
        pass.set_pipeline(&self.pipelines.grad_sq_norm.pipeline);
        for window in &self.windows {
            pass.set_bind_group(0, &window.grad_sq_norm, &[]);
            pass.dispatch_workgroups(window.workgroups, 1, 1);
        }
        pass.set_pipeline(&self.pipelines.alig_update.pipeline);
        for window in &self.windows {
            pass.set_bind_group(0, &window.alig_update, &[]);
            pass.dispatch_workgroups(window.workgroups, 1, 1);
        }
        Ok(())
    }

    /// Records one step in a new encoder and submits it.
    pub fn step(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
    ) -> Result<wgpu::SubmissionIndex> {
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("wgpu-alig step"),
        });
        self.record_step(&mut encoder, queue, loss)?;
        Ok(queue.submit([encoder.finish()]))
    }

    /// Starts reading the stats ring back and returns a future of it. The read is queued
    /// after the steps already submitted and does not hold up later ones; the future
    /// completes once the device is polled after it has run (see `wgpu::Device::poll`).
    pub fn read_stats(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> impl Future<Output = Result<StatsSnapshot>> + Send + 'static {
        let bytes = read_buffer(device, queue, &self.state, 0, self.state.size());
        async move { Ok(StatsSnapshot::from_state_bytes(&bytes.await?)) }
    }

    /// [`Alig::read_stats`], waiting for the device.
    pub fn read_stats_blocking(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<StatsSnapshot> {
        let bytes = read_buffer_blocking(device, queue, &self.state, 0, self.state.size())?;
        Ok(StatsSnapshot::from_state_bytes(&bytes))
    }

    /// Reads the momentum of tensor `name` back, waiting for the device (zeros when the
    /// optimizer has no momentum).
    pub fn read_momentum(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        name: &str,
    ) -> Result<Vec<f32>> {
        let slot = self.layout.tensor(name)?;
        if !self.config.uses_momentum() {
            return Ok(vec![0.0; slot.len]);
        }
        let bytes = read_buffer_blocking(
            device,
            queue,
            &self.momentum,
            slot.byte_offset(),
            slot.byte_size(),
        )?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// The momentum buffer (same layout as the arena), when the optimizer uses momentum.
    pub fn momentum_buffer(&self) -> Option<&wgpu::Buffer> {
        self.config.uses_momentum().then_some(&self.momentum)
    }

    /// The configuration the optimizer was built with.
    pub fn config(&self) -> &AligConfig {
        &self.config
    }

    /// The workgroup reduction pass 1 uses on this device.
    pub fn reduction(&self) -> Reduction {
        self.pipelines.reduction
    }

    /// Dispatches per step: two per window of the arena (one window when the arena fits in
    /// one storage binding), whatever the number of tensors.
    pub fn dispatches_per_step(&self) -> usize {
        2 * self.windows.len()
    }
}

fn entry(binding: u32, buffer: wgpu::BufferBinding<'_>) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::Buffer(buffer),
    }
}

fn slice(buffer: &wgpu::Buffer, offset: u64, size: u64) -> wgpu::BufferBinding<'_> {
    wgpu::BufferBinding {
        buffer,
        offset,
        size: wgpu::BufferSize::new(size),
    }
}

fn options_bits(config: &AligConfig) -> u32 {
    let mut options = 0;
    if config.max_lr.is_some() {
        options |= OPTION_HAS_MAX_LR;
    }
    if config.momentum_kind == MomentumKind::Adjusted {
        options |= OPTION_ADJUSTED_MOMENTUM;
    }
    options
}

fn state_byte_size(capacity: u32) -> u64 {
    std::mem::size_of::<StepStateHeader>() as u64
        + u64::from(capacity) * std::mem::size_of::<StepRecord>() as u64
}
