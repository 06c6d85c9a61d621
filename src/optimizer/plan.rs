//! The step plan: what an optimizer's step runs, as plain data. It is computed without a
//! device, from the arena's layout and precision, the groups, the config, the device's limits
//! and work split: the windows and their uniform blocks, the kernels' specialization and chunk
//! table, the partials and the sizes of every buffer. [`Resources`](super::resources) makes
//! the wgpu objects from it; the step, the setters, the sharded calls and the loss-scale path
//! read it instead of computing anything again.

use std::ops::Range;

use super::config::AligConfig;
use super::groups::{assign_groups, ParamGroup};
use crate::arena::{ArenaLayout, Precision};
use crate::error::{Error, Result};
use crate::kernels::chunk_table::{chunk_table, has_masked_floats};
use crate::kernels::shader_types::{
    AligUniforms, GroupParams, Partial, StepStateHeader, CHUNK_FLOATS, GROUP_HAS_MAX_LR,
    OPTION_UNBOUNDED_GROUP, OPTION_WRITES_RECORD,
};
use crate::kernels::shaders::Specialization;
use crate::kernels::summation::{relative_bound, sq_norm_roundings, WindowPass};
use crate::kernels::work_split::WorkSplit;
use crate::stats::StepRecord;

/// Largest window the kernels index: 2^31 `vec4`s, so that a grid-stride index plus its
/// stride stays within `u32` (some backends report a binding limit as large as a buffer).
const MAX_WINDOW_BYTES: u64 = 1 << 35;

/// What a plan needs to know of the device: its limits and how to split work on it.
#[derive(Clone, Debug)]
pub(crate) struct DeviceShape {
    pub limits: wgpu::Limits,
    pub split: WorkSplit,
}

impl DeviceShape {
    pub fn of(device: &wgpu::Device) -> Self {
        Self {
            limits: device.limits(),
            split: WorkSplit::for_device(device),
        }
    }
}

/// One window of the arena: at most one storage binding of each buffer kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WindowPlan {
    /// Its bytes in an f32 buffer of the arena (half as many in an f16 one).
    pub bytes: Range<u64>,
    /// Workgroups of each pass over it, hence partials of pass 1.
    pub workgroups: u32,
    /// Its uniform block; the setters rewrite these.
    pub uniforms: AligUniforms,
}

/// Everything a step runs, as data.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StepPlan {
    pub layout: ArenaLayout,
    pub precision: Precision,
    /// The config, with the first group's `max_lr` and `momentum`.
    pub config: AligConfig,
    pub groups: Vec<ParamGroup>,
    /// The group of each tensor (None: frozen), in the arena's order.
    pub tensor_groups: Vec<Option<usize>>,
    pub chunk_table: Vec<u32>,
    pub specialization: Specialization,
    pub windows: Vec<WindowPlan>,
    /// Bytes between two windows' uniform blocks: a valid uniform binding offset.
    pub uniform_stride: u64,
    /// Partials of pass 1 over every window.
    pub num_partials: u32,
}

impl StepPlan {
    /// The plan for `groups` of `layout`'s tensors; `config`'s own `max_lr` and `momentum`
    /// are replaced by the first group's.
    pub fn new(
        layout: &ArenaLayout,
        precision: Precision,
        config: AligConfig,
        groups: &[ParamGroup],
        device: &DeviceShape,
    ) -> Result<Self> {
        config.validate_optimizer_wide()?;
        config.validate_for_limits(&device.limits)?;
        let tensor_groups =
            assign_groups(layout.tensors().iter().map(|t| t.name.as_str()), groups)?;
        let chunk_table = chunk_table(layout, &tensor_groups, groups.len())?;
        let config = AligConfig {
            max_lr: groups[0].max_lr,
            momentum: groups[0].momentum,
            ..config
        };
        let specialization = Specialization {
            masked: has_masked_floats(&chunk_table),
            grouped: groups.len() > 1,
            momentum: uses_momentum(groups).then_some(config.momentum_kind),
            projection: config.max_norm.is_some(),
            loss_scaled: config.loss_scale.is_scaled(),
            precision,
        };
        let max_binding = device.limits.max_storage_buffer_binding_size;
        let ranges = layout.windows(max_binding.min(MAX_WINDOW_BYTES));
        let windows = plan_windows(layout, &ranges, device.split, &config, groups)?;
        let uniform_size = std::mem::size_of::<AligUniforms>() as u64;
        let alignment = device.limits.min_uniform_buffer_offset_alignment;
        Ok(Self {
            layout: layout.clone(),
            precision,
            config,
            groups: groups.to_vec(),
            tensor_groups,
            chunk_table,
            specialization,
            num_partials: windows.iter().map(|w| w.workgroups).sum(),
            windows,
            uniform_stride: uniform_size.next_multiple_of(alignment.into()),
        })
    }

    /// Whether some group uses momentum: only then is there a momentum buffer.
    pub fn uses_momentum(&self) -> bool {
        self.specialization.momentum.is_some()
    }

    /// Byte offset of window `window`'s uniform block.
    pub fn uniform_offset(&self, window: usize) -> u64 {
        window as u64 * self.uniform_stride
    }

    /// The uniform blocks of the windows, `uniform_stride` bytes apart.
    pub fn uniform_bytes(&self) -> Vec<u8> {
        let stride = self.uniform_stride as usize;
        let mut bytes = vec![0u8; stride * self.windows.len()];
        for (window, at) in self.windows.iter().zip(bytes.chunks_mut(stride)) {
            let block = bytemuck::bytes_of(&window.uniforms);
            at[..block.len()].copy_from_slice(block);
        }
        bytes
    }

    /// Each group's parameters as the kernels read them.
    pub fn group_params(&self) -> Vec<GroupParams> {
        self.groups.iter().map(group_params).collect()
    }

    /// The partials buffer: pass 1's partials of `||g||^2`, pass 2's of `||w||^2` (with
    /// projection), the next loss scale (with one), then pass 2's of the scaled range of
    /// `||w||^2`.
    pub fn partials_bytes(&self) -> u64 {
        self.param_big_partials_offset() + self.partials_set_bytes()
    }

    /// The bytes of one set of partials (one per workgroup of a pass over every window).
    pub fn partials_set_bytes(&self) -> u64 {
        u64::from(self.num_partials) * std::mem::size_of::<Partial>() as u64
    }

    /// Where pass 2's partials of the scaled range of `||w||^2` (parameters of `2^40` or
    /// more, `PARAM_BIG_MIN` in `shaders/common.wgsl`) begin: after the loss scale's slot.
    pub fn param_big_partials_offset(&self) -> u64 {
        self.next_loss_scale_offset() + std::mem::size_of::<Partial>() as u64
    }

    /// Where pass 2 leaves the next loss scale (and the count of good steps) in the partials.
    pub fn next_loss_scale_offset(&self) -> u64 {
        2 * u64::from(self.num_partials) * std::mem::size_of::<Partial>() as u64
    }

    /// The step state: its header, then the stats ring.
    pub fn state_bytes(&self) -> u64 {
        state_byte_size(self.config.stats_capacity)
    }

    /// A zeroed step state whose loss scale is the config's first.
    pub fn initial_state(&self) -> Vec<u8> {
        let mut bytes = vec![0u8; self.state_bytes() as usize];
        let header = StepStateHeader {
            loss_scale: self.config.loss_scale.initial(),
            ..StepStateHeader::default()
        };
        let header = bytemuck::bytes_of(&header);
        bytes[..header.len()].copy_from_slice(header);
        bytes
    }

    /// Dispatches per step: two per window, three with projection.
    pub fn dispatches_per_step(&self) -> usize {
        let passes = if self.specialization.projection { 3 } else { 2 };
        passes * self.windows.len()
    }

    /// The bound of [`Alig::sq_norm_error_bound`](crate::Alig::sq_norm_error_bound).
    pub fn sq_norm_error_bound(&self) -> f64 {
        let passes: Vec<WindowPass> = self
            .windows
            .iter()
            .map(|w| WindowPass {
                len_vec4: w.uniforms.len_vec4,
                workgroups: w.workgroups,
            })
            .collect();
        relative_bound(sq_norm_roundings(&passes))
    }

    /// Group `group`'s `max_lr` becomes `max_lr`, as setting `version` of the history.
    pub fn set_max_lr(&mut self, group: usize, max_lr: Option<f32>, version: u32) {
        self.groups[group].max_lr = max_lr;
        if group == 0 {
            self.config.max_lr = max_lr;
        }
        let unbounded = unbounded_option(&self.groups);
        for window in &mut self.windows {
            let block = &mut window.uniforms;
            block.max_lr_version = version;
            block.options = (block.options & !OPTION_UNBOUNDED_GROUP) | unbounded;
        }
    }

    /// Group `group`'s momentum becomes `momentum`.
    pub fn set_momentum(&mut self, group: usize, momentum: f32) {
        self.groups[group].momentum = momentum;
        if group == 0 {
            self.config.momentum = momentum;
        }
    }

    /// The steps go on as setting `version` of the `max_lr` history (a restored run).
    pub fn set_max_lr_version(&mut self, version: u32) {
        for window in &mut self.windows {
            window.uniforms.max_lr_version = version;
        }
    }
}

fn uses_momentum(groups: &[ParamGroup]) -> bool {
    groups.iter().any(|g| g.momentum > 0.0)
}

pub(crate) fn group_params(group: &ParamGroup) -> GroupParams {
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

/// `OPTION_UNBOUNDED_GROUP` when some group has no `max_lr`, so that an overflowing
/// `gamma_hat` skips the step.
fn unbounded_option(groups: &[ParamGroup]) -> u32 {
    if groups.iter().any(|g| g.max_lr.is_none()) {
        OPTION_UNBOUNDED_GROUP
    } else {
        0
    }
}

/// The workgroups and uniform block of each window (`ranges` of the arena's bytes); every
/// block counts the partials of all windows.
fn plan_windows(
    layout: &ArenaLayout,
    ranges: &[Range<u64>],
    split: WorkSplit,
    config: &AligConfig,
    groups: &[ParamGroup],
) -> Result<Vec<WindowPlan>> {
    let mut windows = Vec::with_capacity(ranges.len());
    let mut partial_base = 0u32;
    for (index, range) in ranges.iter().enumerate() {
        // At most MAX_WINDOW_BYTES / 16 = 2^31.
        let len_vec4 = ((range.end - range.start) / 16) as u32;
        let workgroups = split.workgroups(len_vec4);
        let writes_record = if index == 0 { OPTION_WRITES_RECORD } else { 0 };
        let uniforms = AligUniforms {
            options: unbounded_option(groups) | writes_record,
            len_vec4,
            partial_base,
            chunk_base: chunk_base(layout, range)?,
            ..config_uniforms(config)
        };
        windows.push(WindowPlan {
            bytes: range.clone(),
            workgroups,
            uniforms,
        });
        partial_base += workgroups;
    }
    for window in &mut windows {
        window.uniforms.num_partials = partial_base;
    }
    Ok(windows)
}

/// The first 64-float chunk of a window: the kernels index chunks with a `u32`.
fn chunk_base(layout: &ArenaLayout, range: &Range<u64>) -> Result<u32> {
    let chunk_bytes = CHUNK_FLOATS as u64 * 4;
    u32::try_from(range.start / chunk_bytes).map_err(|_| Error::ArenaTooLarge {
        bytes: layout.byte_size(),
        limit: u64::from(u32::MAX) * chunk_bytes,
        what: "chunk index of the kernels",
    })
}

/// The fields of a uniform block that the config sets, the same in every window.
fn config_uniforms(config: &AligConfig) -> AligUniforms {
    let (backoff_factor, growth_factor, growth_interval) = config.loss_scale.factors();
    AligUniforms {
        eps: config.eps,
        f_star: config.f_star,
        c: config.c,
        max_norm: config.max_norm.unwrap_or(0.0),
        stats_capacity: config.stats_capacity,
        backoff_factor,
        growth_factor,
        growth_interval,
        ..AligUniforms::default()
    }
}

/// Bytes of a step state with room for `capacity` records.
pub(crate) fn state_byte_size(capacity: u32) -> u64 {
    std::mem::size_of::<StepStateHeader>() as u64
        + u64::from(capacity) * std::mem::size_of::<StepRecord>() as u64
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
