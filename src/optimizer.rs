//! The optimizer: two dispatches per step over the whole arena (per window of it), plus one
//! with projection on.

mod sharded;

use std::future::Future;

use crate::arena::{buffer_slice, Arena, ArenaLayout};
use crate::chunk_table::{chunk_table, has_masked_floats};
use crate::config::{validate_max_lr, validate_momentum, AligConfig};
use crate::device_check::{check_device, create_buffer_with, CheckedBuffers};
use crate::error::{catch_gpu_errors, Error, Result};
use crate::groups::{assign_groups, ParamGroup};
use crate::host_losses::HostLosses;
use crate::max_lr_history::MaxLrHistory;
use crate::pipelines::{
    alig_update_binding, grad_sq_norm_binding, project_params_binding, Pipelines,
};
use crate::readback::{read_buffer, read_ranges};
#[cfg(not(target_arch = "wasm32"))]
use crate::readback::{read_buffer_blocking, read_f32s_blocking};
use crate::shader_types::{
    AligUniforms, GroupParams, Partial, StepStateHeader, CHUNK_FLOATS, GROUP_HAS_MAX_LR,
    OPTION_UNBOUNDED_GROUP, OPTION_WRITES_RECORD,
};
use crate::shaders::{Reduction, Specialization};
use crate::state::AligState;
use crate::stats::{StatsSnapshot, StepRecord};
use crate::summation::{relative_bound, sq_norm_roundings, WindowPass};
use crate::work_split::WorkSplit;
use sharded::{ShardCall, ShardExchange};

/// Largest window the kernels index: 2^31 `vec4`s, so that a grid-stride index plus its
/// stride stays within `u32` (some backends report a binding limit as large as a buffer).
const MAX_WINDOW_BYTES: u64 = 1 << 35;

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
/// Everything is built in [`Alig::new`]; a step only records the copies of the loss and one
/// compute pass with two dispatches (three with projection; that many per window when the
/// arena is larger than one storage binding), whatever the number of tensors.
///
/// The optimizer lives on its arena's device and remembers it: a call given another device
/// is [`Error::WrongDevice`], and one on a lost device [`Error::DeviceLost`]; so is a loss
/// buffer or norm slot of another device of the same instance. Queues and encoders wgpu
/// offers no way to check; they must be of the same device.
#[derive(Debug)]
pub struct Alig {
    device: wgpu::Device,
    config: AligConfig,
    groups: Vec<ParamGroup>,
    // Read only by the blocking reads, which wasm32 lacks.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    layout: ArenaLayout,
    // The group of each tensor (None: frozen), in the arena's order.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    tensor_groups: Vec<Option<usize>>,
    pipelines: Pipelines,
    windows: Vec<Window>,
    // Pass 1's partials of ||g||^2, then (with projection) pass 2's of ||w||^2.
    partials: wgpu::Buffer,
    num_partials: u32,
    state: wgpu::Buffer,
    momentum: Option<wgpu::Buffer>,
    host_losses: HostLosses,
    // What the setters rewrite: the groups' parameters, and each window's uniform block
    // (host copies in `uniforms`, `uniform_stride` bytes apart).
    groups_buffer: wgpu::Buffer,
    uniform_buffer: wgpu::Buffer,
    uniforms: Vec<AligUniforms>,
    uniform_stride: u64,
    max_lr_history: MaxLrHistory,
    // Steps recorded (wraps as the GPU's count does): where a read since a step stops.
    recorded_steps: u32,
    // The sharded step's kernels (built on its first call) and which of its calls is next.
    shard_exchange: Option<ShardExchange>,
    shard_next: ShardCall,
    // Loss buffers and norm slots found to be of the optimizer's device.
    checked_buffers: CheckedBuffers,
}

/// One window of the arena: at most one storage binding of each buffer kind.
#[derive(Debug)]
struct Window {
    workgroups: u32,
    len_vec4: u32,
    grad_sq_norm: wgpu::BindGroup,
    alig_update: wgpu::BindGroup,
    project_params: Option<wgpu::BindGroup>,
}

impl Alig {
    /// The optimizer with every tensor of `arena` in one group with the config's `max_lr`
    /// and `momentum`. Validates `config`, compiles the kernels for `device` (subgroup
    /// reduction where the device has `Features::SUBGROUP`) and allocates the optimizer's
    /// state: the momentum buffer (when `momentum > 0`), the partial sums and the stats ring.
    /// `device` must be the arena's.
    pub fn new(device: &wgpu::Device, arena: &Arena, config: AligConfig) -> Result<Self> {
        let names: Vec<&str> = arena
            .layout()
            .tensors()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        config.validate()?;
        let group = ParamGroup::new(&names, config.max_lr, config.momentum);
        Self::with_groups(device, arena, config, &[group])
    }

    /// The optimizer with parameter groups, each with its own `max_lr` and `momentum`;
    /// `gamma_hat` stays global. The config's `max_lr` and `momentum` are not used (nor
    /// validated): the groups hold them ([`Alig::config`] reports the first group's), and
    /// its other fields hold for every group. Tensors in no group are frozen: in
    /// neither the norm nor the update, and never written. Each record's `gamma` is the first
    /// group's; [`StatsSnapshot::group_gammas`] gives every group's.
    pub fn with_groups(
        device: &wgpu::Device,
        arena: &Arena,
        config: AligConfig,
        groups: &[ParamGroup],
    ) -> Result<Self> {
        config.validate_optimizer_wide()?;
        check_device(arena.device(), device)?;
        config.validate_for_limits(&device.limits())?;
        let layout = arena.layout().clone();
        let tensor_groups =
            assign_groups(layout.tensors().iter().map(|t| t.name.as_str()), groups)?;
        let chunk_table = chunk_table(&layout, &tensor_groups, groups.len())?;
        // The groups hold max_lr and momentum; the config reports the first group's.
        let config = AligConfig {
            max_lr: groups[0].max_lr,
            momentum: groups[0].momentum,
            ..config
        };
        let group_params: Vec<GroupParams> = groups.iter().map(group_params).collect();
        let uses_momentum = groups.iter().any(|g| g.momentum > 0.0);

        let limits = device.limits();
        let split = WorkSplit::for_device(device);
        let ranges = layout.windows(limits.max_storage_buffer_binding_size.min(MAX_WINDOW_BYTES));
        let specialization = Specialization {
            masked: has_masked_floats(&chunk_table),
            grouped: groups.len() > 1,
            momentum: uses_momentum.then_some(config.momentum_kind),
            projection: config.max_norm.is_some(),
            loss_scaled: config.loss_scale.is_scaled(),
            precision: arena.precision(),
        };
        // One uniform block per window, each at an offset a uniform binding may start at.
        let uniform_size = std::mem::size_of::<AligUniforms>() as u64;
        let uniform_stride =
            uniform_size.next_multiple_of(limits.min_uniform_buffer_offset_alignment.into());
        let (uniforms, num_partials) =
            window_uniforms(&layout, &ranges, split, &config, unbounded_option(groups))?;
        let blocks: Vec<AligUniforms> = uniforms.iter().map(|&(_, block)| block).collect();
        let uniform_bytes = uniform_bytes(&blocks, uniform_stride);
        // Gradient partials, the partials of ||w||^2 (with projection), then the next loss
        // scale (with one).
        let partial_bytes =
            (2 * u64::from(num_partials) + 1) * std::mem::size_of::<Partial>() as u64;

        let pipelines = Pipelines::new(device, &specialization)?;
        catch_gpu_errors(device, || {
            let init =
                |label, contents: &[u8], usage| create_buffer_with(device, label, contents, usage);
            let empty = |label, size, usage| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage,
                    mapped_at_creation: false,
                })
            };
            let storage = wgpu::BufferUsages::STORAGE;
            let copy = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
            // Both rewritten by set_max_lr and set_momentum.
            let uniform_buffer = init(
                "wgpu-alig uniforms",
                &uniform_bytes,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            )?;
            let groups_buffer = init(
                "wgpu-alig groups",
                bytemuck::cast_slice(&group_params),
                storage | wgpu::BufferUsages::COPY_DST,
            )?;
            let chunk_table = init(
                "wgpu-alig chunk table",
                bytemuck::cast_slice(&chunk_table),
                storage,
            )?;
            // COPY_DST: a sharded step copies the combined norm in; COPY_SRC: the next
            // loss scale goes to the state.
            let partials = empty("wgpu-alig partials", partial_bytes, storage | copy);
            let state = init(
                "wgpu-alig step state",
                &initial_state(&config),
                storage | copy,
            )?;
            let momentum = uses_momentum
                .then(|| empty("wgpu-alig momentum", layout.byte_size(), storage | copy));
            // Bound where there is no momentum; the kernels never touch it then.
            let no_momentum = empty("wgpu-alig no momentum", 16, storage);
            let host_losses = HostLosses::new(device)?;

            let windows = ranges
                .iter()
                .zip(&uniforms)
                .enumerate()
                .map(|(index, (range, &(workgroups, block)))| {
                    let uniform =
                        buffer_slice(&uniform_buffer, index as u64 * uniform_stride, uniform_size);
                    let size = range.end - range.start;
                    // The ranges are of f32 buffers; an f16 one's are half as many bytes.
                    let of = |buffer, element_bytes: u64| {
                        buffer_slice(
                            buffer,
                            range.start / 4 * element_bytes,
                            size / 4 * element_bytes,
                        )
                    };
                    let params = of(arena.master_params_buffer(), 4);
                    let grads = of(arena.grads_buffer(), arena.precision().grad_bytes());
                    let half_params = arena
                        .precision()
                        .has_master()
                        .then(|| of(arena.params_buffer(), 2));
                    let momentum = match &momentum {
                        Some(momentum) => buffer_slice(momentum, range.start, size),
                        None => no_momentum.as_entire_buffer_binding(),
                    };
                    let bind_group =
                        |kernel: &crate::pipelines::KernelPipeline,
                         label,
                         entries: &[wgpu::BindGroupEntry<'_>]| {
                            device.create_bind_group(&wgpu::BindGroupDescriptor {
                                label: Some(label),
                                layout: &kernel.bind_group_layout,
                                entries,
                            })
                        };
                    let grad_sq_norm = {
                        use grad_sq_norm_binding::*;
                        bind_group(
                            &pipelines.grad_sq_norm,
                            "grad_sq_norm",
                            &[
                                entry(UNIFORMS, uniform.clone()),
                                entry(GRADS, grads.clone()),
                                entry(PARTIALS, partials.as_entire_buffer_binding()),
                                entry(CHUNK_TABLE, chunk_table.as_entire_buffer_binding()),
                            ],
                        )
                    };
                    let alig_update = {
                        use alig_update_binding::*;
                        let mut entries = vec![
                            entry(UNIFORMS, uniform.clone()),
                            entry(PARTIALS, partials.as_entire_buffer_binding()),
                            entry(STATE, state.as_entire_buffer_binding()),
                            entry(PARAMS, params.clone()),
                            entry(GRADS, grads),
                            entry(MOMENTUM, momentum),
                            entry(GROUPS, groups_buffer.as_entire_buffer_binding()),
                            entry(CHUNK_TABLE, chunk_table.as_entire_buffer_binding()),
                        ];
                        entries.extend(half_params.clone().map(|b| entry(HALF_PARAMS, b)));
                        bind_group(&pipelines.alig_update, "alig_update", &entries)
                    };
                    let project_params = pipelines.project_params.as_ref().map(|pipeline| {
                        use project_params_binding::*;
                        let mut entries = vec![
                            entry(UNIFORMS, uniform),
                            entry(PARTIALS, partials.as_entire_buffer_binding()),
                            entry(STATE, state.as_entire_buffer_binding()),
                            entry(PARAMS, params),
                            entry(CHUNK_TABLE, chunk_table.as_entire_buffer_binding()),
                        ];
                        entries.extend(half_params.map(|b| entry(HALF_PARAMS, b)));
                        bind_group(pipeline, "project_params", &entries)
                    });
                    Window {
                        workgroups,
                        len_vec4: block.len_vec4,
                        grad_sq_norm,
                        alig_update,
                        project_params,
                    }
                })
                .collect();
            Ok(Self {
                device: device.clone(),
                config,
                groups: groups.to_vec(),
                layout,
                tensor_groups,
                pipelines,
                windows,
                partials,
                num_partials,
                state,
                momentum,
                host_losses,
                groups_buffer,
                uniform_buffer,
                uniforms: blocks,
                uniform_stride,
                max_lr_history: MaxLrHistory::new(groups.iter().map(|g| g.max_lr).collect()),
                recorded_steps: 0,
                shard_exchange: None,
                shard_next: ShardCall::default(),
                checked_buffers: CheckedBuffers::default(),
            })
        })?
    }

    /// Records one step into `encoder`: the copies of the loss into the optimizer's state, then
    /// one compute pass: the squared gradient norm, the fused update, and (with projection)
    /// the projection; one dispatch each per window. Nothing is allocated, mapped or polled.
    ///
    /// `encoder` and `queue` must be of the optimizer's device: wgpu offers no way to check
    /// them here. A [`Loss::Buffer`]'s buffer of another device of the same instance is
    /// [`Error::WrongDevice`] (checked once per buffer, by a copy in an encoder of the
    /// optimizer's own that is never submitted); of another instance it cannot be told.
    ///
    /// A [`Loss::Host`] goes through `queue.write_buffer` (which lands at the next submit on
    /// the queue) into one of [`HOST_LOSS_SLOTS`](crate::HOST_LOSS_SLOTS) slots. When more
    /// host-loss steps than that are recorded before the first of them runs, the earlier
    /// ones find their slot rewritten: the GPU skips them and flags
    /// [`StepFlags::SKIPPED_LOSS_OVERWRITTEN`](crate::StepFlags::SKIPPED_LOSS_OVERWRITTEN);
    /// no step ever runs with another step's loss. A [`Loss::Buffer`] has no such limit.
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
        self.shard_next.expect_plain_step()?;
        self.record_loss(encoder, queue, loss)?;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("wgpu-alig step"),
            timestamp_writes,
        });
        self.dispatch_grad_sq_norm(&mut pass);
        self.dispatch_alig_update(&mut pass);
        self.dispatch_project_params(&mut pass);
        drop(pass);
        self.record_next_loss_scale(encoder);
        Ok(())
    }

    /// With a loss scale: the copy of the scale pass 2 left after the partials into the
    /// state, where the engine's next backward pass and the next step read it.
    fn record_next_loss_scale(&self, encoder: &mut wgpu::CommandEncoder) {
        if self.pipelines.specialization.loss_scaled {
            let slot = 2 * u64::from(self.num_partials) * std::mem::size_of::<Partial>() as u64;
            let at = std::mem::offset_of!(StepStateHeader, loss_scale) as u64;
            debug_assert_eq!(
                std::mem::offset_of!(StepStateHeader, good_steps) as u64,
                at + 4
            );
            encoder.copy_buffer_to_buffer(&self.partials, slot, &self.state, at, 8);
        }
    }

    /// Where the engine reads the loss scale S it multiplies its loss gradient by (one `f32`,
    /// 1 without [`AligConfig::loss_scale`]), for its backward pass: a storage binding of
    /// the optimizer's state buffer at offset 0 (`var<storage, read> loss_scale: f32`). A
    /// step sets it for the next one after its update, on the GPU. It must not be written.
    pub fn loss_scale_binding(&self) -> wgpu::BufferBinding<'_> {
        buffer_slice(&self.state, 0, 4)
    }

    /// Checks `loss`, then records its copies into the optimizer's state: nothing is
    /// recorded when it is invalid. Counts the step, whose update comes next.
    fn record_loss(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
    ) -> Result<()> {
        match loss {
            Loss::Host(value) => {
                self.host_losses
                    .record_host(encoder, queue, value, &self.state);
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
                self.checked_buffers
                    .check(&self.device, buffer, &self.state)?;
                HostLosses::record_buffer(encoder, buffer, offset, &self.state);
            }
        }
        self.recorded_steps = self.recorded_steps.wrapping_add(1);
        Ok(())
    }

    /// Pass 1, one dispatch per window: the partials of `||g||^2`.
    fn dispatch_grad_sq_norm(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipelines.grad_sq_norm.pipeline);
        for window in &self.windows {
            pass.set_bind_group(0, &window.grad_sq_norm, &[]);
            pass.dispatch_workgroups(window.workgroups, 1, 1);
        }
    }

    /// Pass 2, one dispatch per window: the step size from the partials, the update.
    fn dispatch_alig_update(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipelines.alig_update.pipeline);
        for window in &self.windows {
            pass.set_bind_group(0, &window.alig_update, &[]);
            pass.dispatch_workgroups(window.workgroups, 1, 1);
        }
    }

    /// Pass 3 (only with projection), one dispatch per window.
    fn dispatch_project_params(&self, pass: &mut wgpu::ComputePass<'_>) {
        if let Some(project_params) = &self.pipelines.project_params {
            pass.set_pipeline(&project_params.pipeline);
            for window in &self.windows {
                if let Some(bind_group) = &window.project_params {
                    pass.set_bind_group(0, bind_group, &[]);
                    pass.dispatch_workgroups(window.workgroups, 1, 1);
                }
            }
        }
    }

    /// Records one step in a new encoder and submits it. `device` must be the optimizer's,
    /// and `queue` its queue.
    pub fn step(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
    ) -> Result<wgpu::SubmissionIndex> {
        check_device(&self.device, device)?;
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgpu-alig step"),
            });
        self.record_step(&mut encoder, queue, loss)?;
        Ok(queue.submit([encoder.finish()]))
    }

    /// Projects the trainable parameters of `arena` onto the ball of radius `max_norm` now, as
    /// the official code does once at construction (the steps project after each update).
    /// Does nothing without projection or when they are inside the ball already. It reads the
    /// parameters back, projects them in f64 and writes them, waiting for the device: a call
    /// before training, not for the training loop.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn project_params(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        arena: &Arena,
    ) -> Result<()> {
        check_device(&self.device, device)?;
        if arena.layout() != &self.layout {
            return Err(Error::ArenaMismatch);
        }
        let Some(max_norm) = self.config.max_norm else {
            return Ok(());
        };
        // One read and one write of the whole arena, whatever the number of tensors.
        let all = arena.read_all_params(device, queue)?;
        let mut params: Vec<Vec<f64>> = Vec::new();
        let mut trained = Vec::new();
        let mut taken = 0;
        for (slot, group) in self.layout.tensors().iter().zip(&self.tensor_groups) {
            if group.is_some() {
                let values = &all[taken..taken + slot.len];
                params.push(values.iter().map(|&w| f64::from(w)).collect());
                trained.push(taken);
            }
            taken += slot.len;
        }
        let mut views: Vec<&mut Vec<f64>> = params.iter_mut().collect();
        let sq_norm = crate::reference::project_params(&mut views, f64::from(max_norm));
        if sq_norm.is_finite() && sq_norm > f64::from(max_norm).powi(2) {
            let mut all = all;
            for (start, values) in trained.iter().zip(&params) {
                for (w, &projected) in all[*start..].iter_mut().zip(values) {
                    *w = projected as f32;
                }
            }
            arena.write_all_params(queue, &all)?;
        }
        Ok(())
    }

    /// Starts reading the stats ring back and returns a future of it. The read is queued
    /// after the steps already submitted and does not hold up later ones.
    ///
    /// The future completes only once the device is polled after the read has run: on a
    /// native backend, **awaiting it while nothing polls the device hangs forever**. Poll
    /// before awaiting (below), from the engine's loop (`wgpu::PollType::Poll`) or from
    /// another thread, or call [`Alig::read_stats_blocking`] (not on wasm32), which waits
    /// for the device itself. In a browser the device is polled for you and awaiting is
    /// enough. The future is `Send` except on wasm32.
    ///
    /// ```no_run
    /// # use wgpu_alig::{Alig, AligConfig, Arena, Error, Gpu};
    /// # fn main() -> wgpu_alig::Result<()> {
    /// # let gpu = Gpu::new()?;
    /// # let arena = Arena::new(&gpu.device, &[("w", 10)])?;
    /// # let alig = Alig::new(&gpu.device, &arena, AligConfig::default())?;
    /// let stats = alig.read_stats(&gpu.device, &gpu.queue);
    /// // Runs the read (and every step before it) and calls its map callback.
    /// gpu.device
    ///     .poll(wgpu::PollType::wait_indefinitely())
    ///     .map_err(|e| Error::Gpu(e.to_string()))?;
    /// let stats = pollster::block_on(stats)?; // ready now: this cannot hang
    /// println!("{} steps, last gamma {:?}", stats.steps, stats.last().map(|r| r.gamma));
    /// # Ok(()) }
    /// ```
    pub fn read_stats(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> impl Future<Output = Result<StatsSnapshot>> + wgpu::WasmNotSend + 'static {
        let bytes = check_device(&self.device, device)
            .and_then(|()| read_buffer(&self.device, queue, &self.state, 0, self.state.size()));
        let history = self.max_lr_history.clone();
        async move { Ok(StatsSnapshot::from_state_bytes(&bytes?.await?, &history)) }
    }

    /// Starts reading the records of the steps from `since` on (the `steps` of an earlier
    /// snapshot, say) and the counters: a copy of those records only, not of the whole ring.
    /// Returns the index of the copy's submit (for `wgpu::PollType::WaitForSubmissionIndex`)
    /// and a future of the snapshot, which completes as [`Alig::read_stats`]'s does. The
    /// snapshot holds the records of the steps from `since` on that the ring still keeps and
    /// that had run when the copy ran; [`StatsSnapshot::dropped_since`]`(since)` counts those
    /// it no longer keeps. Which slots to copy comes from the steps recorded so far; steps
    /// recorded and not yet submitted are not in it, nor are they counted.
    #[allow(clippy::type_complexity)]
    pub fn read_stats_since(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        since: u32,
    ) -> Result<(
        wgpu::SubmissionIndex,
        impl Future<Output = Result<StatsSnapshot>> + wgpu::WasmNotSend + 'static,
    )> {
        check_device(&self.device, device)?;
        let capacity = self.config.stats_capacity;
        // Steps from `since` to the last recorded one, at most a ring's worth (wrapping).
        let wanted = self.recorded_steps.wrapping_sub(since);
        let wanted = if wanted > u32::MAX / 2 { 0 } else { wanted };
        let count = wanted.min(capacity);
        let first = self.recorded_steps.wrapping_sub(count);
        let header = std::mem::size_of::<StepStateHeader>() as u64;
        let record = std::mem::size_of::<StepRecord>() as u64;
        let slot = |s: u32| header + u64::from(s) * record;
        let start = first % capacity;
        let head = count.min(capacity - start);
        let mut ranges = Vec::with_capacity(3);
        ranges.push(0..header);
        if head > 0 {
            ranges.push(slot(start)..slot(start + head));
        }
        if count > head {
            ranges.push(slot(0)..slot(count - head));
        }
        let (submission, bytes) = read_ranges(&self.device, queue, &self.state, &ranges)?;
        let history = self.max_lr_history.clone();
        Ok((submission, async move {
            Ok(StatsSnapshot::from_records_since(
                &bytes.await?,
                first,
                &history,
            ))
        }))
    }

    /// [`Alig::read_stats`], waiting for the device.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_stats_blocking(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<StatsSnapshot> {
        check_device(&self.device, device)?;
        let bytes = read_buffer_blocking(&self.device, queue, &self.state, 0, self.state.size())?;
        Ok(StatsSnapshot::from_state_bytes(
            &bytes,
            &self.max_lr_history,
        ))
    }

    /// Reads the momentum of tensor `key` (a name or a [`TensorId`](crate::TensorId)) back,
    /// waiting for the device (zeros when no group uses momentum).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_momentum(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        key: impl crate::TensorKey,
    ) -> Result<Vec<f32>> {
        let slot = self.layout.tensor(key)?;
        check_device(&self.device, device)?;
        let Some(momentum) = &self.momentum else {
            return Ok(vec![0.0; slot.len]);
        };
        read_f32s_blocking(
            &self.device,
            queue,
            momentum,
            slot.byte_offset(),
            slot.byte_size(),
        )
    }

    /// The momentum buffer (same layout as the arena), when some group uses momentum.
    pub fn momentum_buffer(&self) -> Option<&wgpu::Buffer> {
        self.momentum.as_ref()
    }

    /// The configuration the optimizer runs with. Its `max_lr` and `momentum` are the first
    /// group's as they are now (after [`Alig::set_max_lr`] and [`Alig::set_momentum`]), with
    /// groups too; [`Alig::groups`] has every group's.
    pub fn config(&self) -> &AligConfig {
        &self.config
    }

    /// Snapshots the optimizer (config, groups, counters, stats ring and momentum), waiting
    /// for the device. Save the arena's parameters with it to continue a run later.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn save_state(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<AligState> {
        check_device(&self.device, device)?;
        let device = &self.device;
        let step_state = read_buffer_blocking(device, queue, &self.state, 0, self.state.size())?;
        let momentum = match &self.momentum {
            Some(momentum) => read_f32s_blocking(device, queue, momentum, 0, momentum.size())?,
            None => Vec::new(),
        };
        Ok(AligState {
            config: self.config,
            groups: self.groups.clone(),
            tensors: tensor_lens(&self.layout),
            step_state,
            momentum,
            max_lr_history: self.max_lr_history.versions().map(<[_]>::to_vec).collect(),
        })
    }

    /// Rebuilds an optimizer from a [`AligState`] over `arena`, which must hold the same
    /// tensors; the next step continues the saved run bit for bit (given the same parameters
    /// in the arena).
    pub fn from_state(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        arena: &Arena,
        state: &AligState,
    ) -> Result<Self> {
        let tensors = tensor_lens(arena.layout());
        if tensors != state.tensors {
            return Err(Error::StateMismatch(format!(
                "saved for {:?}, the arena has {:?}",
                state.tensors, tensors
            )));
        }
        let first = state.groups.first();
        if first
            .is_some_and(|g| g.max_lr != state.config.max_lr || g.momentum != state.config.momentum)
        {
            return Err(Error::InvalidState(
                "config.max_lr or config.momentum differs from the first group's: the groups hold them, edit those".into(),
            ));
        }
        let history = MaxLrHistory::from_versions(state.max_lr_history.clone())
            .filter(|h| h.versions().all(|v| v.len() == state.groups.len()))
            .filter(|h| {
                h.current()
                    .iter()
                    .eq(state.groups.iter().map(|g| &g.max_lr))
            })
            .ok_or_else(|| {
                Error::InvalidState("the max_lr history does not end at the groups' max_lr".into())
            })?;
        // Before anything is allocated: a wrong capacity would otherwise reach the device.
        if state.step_state.len() as u64 != state_byte_size(state.config.stats_capacity) {
            return Err(Error::InvalidState(format!(
                "a step state of {} bytes does not hold stats_capacity = {} records",
                state.step_state.len(),
                state.config.stats_capacity
            )));
        }
        let mut alig = Self::with_groups(device, arena, state.config, &state.groups)?;
        alig.restore_max_lr_history(queue, history);
        alig.recorded_steps = state.steps();
        if state.step_state.len() as u64 != alig.state.size() {
            return Err(Error::InvalidState("step state of the wrong size".into()));
        }
        queue.write_buffer(&alig.state, 0, &state.step_state);
        match &alig.momentum {
            Some(momentum) if state.momentum.len() as u64 * 4 == momentum.size() => {
                queue.write_buffer(momentum, 0, bytemuck::cast_slice(&state.momentum));
            }
            None if state.momentum.is_empty() => {}
            _ => return Err(Error::InvalidState("momentum of the wrong size".into())),
        }
        Ok(alig)
    }

    /// The parameter groups the optimizer was built with.
    pub fn groups(&self) -> &[ParamGroup] {
        &self.groups
    }

    /// Sets the `max_lr` of group `group` (the index in the groups given at construction;
    /// 0 for [`Alig::new`]) from the next submit on `queue` on: a `queue.write_buffer` into the
    /// groups' parameters and the uniforms, nothing rebuilt, nothing waited for. Like any
    /// such write it lands before the next submitted command buffer, so steps recorded
    /// earlier and submitted after this call run with the new value too. Each record names
    /// the setting it ran with ([`StepRecord::max_lr_version`]), so
    /// [`StatsSnapshot::group_gammas`] stays true for earlier steps; the optimizer keeps
    /// every setting (one `Option<f32>` per group per change) in memory and in its saved
    /// state. Setting the value a group already has changes nothing.
    pub fn set_max_lr(
        &mut self,
        queue: &wgpu::Queue,
        group: usize,
        max_lr: Option<f32>,
    ) -> Result<()> {
        self.check_group(group)?;
        validate_max_lr(max_lr)?;
        if self.groups[group].max_lr == max_lr {
            return Ok(());
        }
        let mut max_lrs = self.max_lr_history.current().to_vec();
        max_lrs[group] = max_lr;
        let version = self
            .max_lr_history
            .push(max_lrs)
            .ok_or(Error::TooManySettings)?;
        self.groups[group].max_lr = max_lr;
        if group == 0 {
            self.config.max_lr = max_lr;
        }
        self.write_group(queue, group);
        let unbounded = unbounded_option(&self.groups);
        for block in &mut self.uniforms {
            block.max_lr_version = version;
            block.options = (block.options & !OPTION_UNBOUNDED_GROUP) | unbounded;
        }
        queue.write_buffer(
            &self.uniform_buffer,
            0,
            &uniform_bytes(&self.uniforms, self.uniform_stride),
        );
        Ok(())
    }

    /// Sets the momentum of group `group` from the next submit on `queue` on, as
    /// [`Alig::set_max_lr`] does (a write, nothing rebuilt). Setting it to 0 leaves the
    /// group's momentum buffer as it is, and setting it back resumes from there. An
    /// optimizer built with no momentum in any group has no momentum buffer (nor the kernels
    /// for it): a momentum above 0 is then [`Error::NoMomentumBuffer`]. To turn momentum on
    /// during a run, build the group with its momentum and set it to 0 before the first step.
    pub fn set_momentum(&mut self, queue: &wgpu::Queue, group: usize, momentum: f32) -> Result<()> {
        self.check_group(group)?;
        validate_momentum(momentum)?;
        if momentum > 0.0 && self.momentum.is_none() {
            return Err(Error::NoMomentumBuffer);
        }
        self.groups[group].momentum = momentum;
        if group == 0 {
            self.config.momentum = momentum;
        }
        self.write_group(queue, group);
        Ok(())
    }

    /// Continues a saved run's versions of max_lr, so that its records stay readable.
    fn restore_max_lr_history(&mut self, queue: &wgpu::Queue, history: MaxLrHistory) {
        for block in &mut self.uniforms {
            block.max_lr_version = history.current_version();
        }
        self.max_lr_history = history;
        queue.write_buffer(
            &self.uniform_buffer,
            0,
            &uniform_bytes(&self.uniforms, self.uniform_stride),
        );
    }

    fn check_group(&self, group: usize) -> Result<()> {
        if group < self.groups.len() {
            Ok(())
        } else {
            Err(Error::UnknownGroup {
                group,
                groups: self.groups.len(),
            })
        }
    }

    fn write_group(&self, queue: &wgpu::Queue, group: usize) {
        let params = group_params(&self.groups[group]);
        let offset = (group * std::mem::size_of::<GroupParams>()) as u64;
        queue.write_buffer(&self.groups_buffer, offset, bytemuck::bytes_of(&params));
    }

    /// The workgroup reduction passes 1 and 2 use on this device.
    pub fn reduction(&self) -> Reduction {
        self.pipelines.reduction
    }

    /// The largest relative error of a step's `||g||^2` (and, with projection, `||w||^2`)
    /// against the exact sum of the squares of the `f32` values, whatever the values and the
    /// compiler: the kernels sum in interleaved accumulators, blocks and pairwise trees whose roundings per term are
    /// counted from the arena's windows and work split (see `shaders/common.wgsl`). About
    /// 1.5e-6 for 10^6 parameters and 3.0e-6 for 10^8 in one window on a GPU. On a driver that flushes
    /// subnormals to zero, squares below 2^-126 may be lost besides.
    pub fn sq_norm_error_bound(&self) -> f64 {
        let passes: Vec<WindowPass> = self
            .windows
            .iter()
            .map(|w| WindowPass {
                len_vec4: w.len_vec4,
                workgroups: w.workgroups,
            })
            .collect();
        relative_bound(sq_norm_roundings(&passes))
    }

    /// Dispatches per step: two per window of the arena (one window when the arena fits in
    /// one storage binding), three with projection, whatever the number of tensors.
    pub fn dispatches_per_step(&self) -> usize {
        let passes = if self.config.max_norm.is_some() { 3 } else { 2 };
        passes * self.windows.len()
    }
}

fn group_params(group: &ParamGroup) -> GroupParams {
    GroupParams {
        max_lr: group.max_lr.unwrap_or(0.0),
        momentum: group.momentum,
        options: if group.max_lr.is_some() {
            GROUP_HAS_MAX_LR
        } else {
            0
        },
        _pad: 0,
    }
}

/// The workgroups and uniform block of each window (`ranges` of the arena's bytes), and the
/// number of partials pass 1 writes over all windows.
fn window_uniforms(
    layout: &ArenaLayout,
    ranges: &[std::ops::Range<u64>],
    split: WorkSplit,
    config: &AligConfig,
    options: u32,
) -> Result<(Vec<(u32, AligUniforms)>, u32)> {
    let mut uniforms = Vec::with_capacity(ranges.len());
    let mut num_partials = 0u32;
    let (backoff_factor, growth_factor, growth_interval) = config.loss_scale.factors();
    for (index, range) in ranges.iter().enumerate() {
        // The kernels index 64-float chunks with a u32.
        let chunk_bytes = CHUNK_FLOATS as u64 * 4;
        let chunk_base =
            u32::try_from(range.start / chunk_bytes).map_err(|_| Error::ArenaTooLarge {
                bytes: layout.byte_size(),
                limit: u64::from(u32::MAX) * chunk_bytes,
                what: "chunk index of the kernels",
            })?;
        // At most MAX_WINDOW_BYTES / 16 = 2^31.
        let len_vec4 = ((range.end - range.start) / 16) as u32;
        let workgroups = split.workgroups(len_vec4);
        let writes_record = if index == 0 { OPTION_WRITES_RECORD } else { 0 };
        uniforms.push((
            workgroups,
            AligUniforms {
                eps: config.eps,
                f_star: config.f_star,
                c: config.c,
                max_norm: config.max_norm.unwrap_or(0.0),
                options: options | writes_record,
                len_vec4,
                num_partials: 0, // known once every window is counted
                stats_capacity: config.stats_capacity,
                partial_base: num_partials,
                chunk_base,
                max_lr_version: 0,
                backoff_factor,
                growth_factor,
                growth_interval,
                _pad: [0; 2],
            },
        ));
        num_partials += workgroups;
    }
    for (_, block) in uniforms.iter_mut() {
        block.num_partials = num_partials;
    }
    Ok((uniforms, num_partials))
}

/// `OPTION_UNBOUNDED_GROUP` when some group has no `max_lr`, so that an overflowing
/// `gamma_hat` skips the step.
fn unbounded_option(groups: &[ParamGroup]) -> u32 {
    if groups.iter().any(|g| g.max_lr.is_none()) {
        OPTION_UNBOUNDED_GROUP
    } else {
        0
    }
}

/// The uniform blocks of the windows, `stride` bytes apart.
fn uniform_bytes(blocks: &[AligUniforms], stride: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; stride as usize * blocks.len()];
    for (block, at) in blocks.iter().zip(bytes.chunks_mut(stride as usize)) {
        at[..std::mem::size_of::<AligUniforms>()].copy_from_slice(bytemuck::bytes_of(block));
    }
    bytes
}

fn entry(binding: u32, buffer: wgpu::BufferBinding<'_>) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::Buffer(buffer),
    }
}

/// (name, number of elements) of each tensor: what a saved state must match.
fn tensor_lens(layout: &ArenaLayout) -> Vec<(String, usize)> {
    layout
        .tensors()
        .iter()
        .map(|t| (t.name.clone(), t.len))
        .collect()
}

/// A zeroed step state whose loss scale is the config's first.
fn initial_state(config: &AligConfig) -> Vec<u8> {
    let mut bytes = vec![0u8; state_byte_size(config.stats_capacity) as usize];
    let header = StepStateHeader {
        loss_scale: config.loss_scale.initial(),
        ..StepStateHeader::default()
    };
    bytes[..std::mem::size_of::<StepStateHeader>()].copy_from_slice(bytemuck::bytes_of(&header));
    bytes
}

fn state_byte_size(capacity: u32) -> u64 {
    std::mem::size_of::<StepStateHeader>() as u64
        + u64::from(capacity) * std::mem::size_of::<StepRecord>() as u64
}
