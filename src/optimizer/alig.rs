//! The optimizer: its plan, its kernels and its resources, built in named steps. What it does
//! with them lives beside it: recording a step (`step.rs`), the setters (`setters.rs`),
//! reads (`reads.rs`), the sharded step (`sharded.rs`), save and restore (`crate::state`).

use super::config::AligConfig;
use super::groups::ParamGroup;
use super::plan::{DeviceShape, StepPlan};
use super::resources::{bind_windows, Buffers, WindowBindGroups};
use super::shard_exchange::{ShardCall, ShardExchange};
use crate::arena::{buffer_slice, Arena};
use crate::device::check::{check_device, CheckedBuffers};
use crate::error::Result;
use crate::kernels::pipelines::Pipelines;
use crate::kernels::shaders::Reduction;
use crate::stats::MaxLrHistory;

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
/// is [`Error::WrongDevice`](crate::Error::WrongDevice), and one on a lost device
/// [`Error::DeviceLost`](crate::Error::DeviceLost); so is a loss buffer or norm slot of
/// another device of the same instance. Queues and encoders wgpu offers no way to check; they
/// must be of the same device.
#[derive(Debug)]
pub struct Alig {
    pub(crate) device: wgpu::Device,
    /// What a step runs; the setters keep it current.
    pub(crate) plan: StepPlan,
    pub(crate) pipelines: Pipelines,
    pub(crate) buffers: Buffers,
    pub(crate) windows: Vec<WindowBindGroups>,
    pub(crate) max_lr_history: MaxLrHistory,
    /// Steps recorded (wraps as the GPU's count does): where a read since a step stops.
    pub(crate) recorded_steps: u32,
    /// The sharded step's kernels (built on its first call) and which of its calls is next.
    pub(crate) shard_exchange: Option<ShardExchange>,
    pub(crate) shard_next: ShardCall,
    /// Loss buffers and norm slots found to be of the optimizer's device.
    pub(crate) checked_buffers: CheckedBuffers,
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
    /// group's; [`StatsSnapshot::group_gammas`](crate::StatsSnapshot::group_gammas) gives
    /// every group's.
    pub fn with_groups(
        device: &wgpu::Device,
        arena: &Arena,
        config: AligConfig,
        groups: &[ParamGroup],
    ) -> Result<Self> {
        config.validate_optimizer_wide()?;
        check_device(arena.device(), device)?;
        let shape = DeviceShape::of(device);
        let plan = StepPlan::new(arena.layout(), arena.precision(), config, groups, &shape)?;
        let pipelines = Pipelines::new(device, &plan.specialization)?;
        let buffers = Buffers::new(device, &plan)?;
        let windows = bind_windows(device, &plan, &pipelines, &buffers, arena)?;
        let max_lr_history = MaxLrHistory::new(groups.iter().map(|g| g.max_lr).collect());
        Ok(Self {
            device: device.clone(),
            plan,
            pipelines,
            buffers,
            windows,
            max_lr_history,
            recorded_steps: 0,
            shard_exchange: None,
            shard_next: ShardCall::default(),
            checked_buffers: CheckedBuffers::default(),
        })
    }

    /// Where the engine reads the loss scale S it multiplies its loss gradient by (one `f32`,
    /// 1 without [`AligConfig::loss_scale`]), for its backward pass: a storage binding of
    /// the optimizer's state buffer at offset 0 (`var<storage, read> loss_scale: f32`). A
    /// step sets it for the next one after its update, on the GPU. It must not be written.
    pub fn loss_scale_binding(&self) -> wgpu::BufferBinding<'_> {
        buffer_slice(&self.buffers.state, 0, 4)
    }

    /// The momentum buffer (same layout as the arena), when some group uses momentum.
    pub fn momentum_buffer(&self) -> Option<&wgpu::Buffer> {
        self.buffers.momentum.as_ref()
    }

    /// The configuration the optimizer runs with. Its `max_lr` and `momentum` are the first
    /// group's as they are now (after [`Alig::set_max_lr`] and [`Alig::set_momentum`]), with
    /// groups too; [`Alig::groups`] has every group's.
    pub fn config(&self) -> &AligConfig {
        &self.plan.config
    }

    /// The parameter groups the optimizer was built with.
    pub fn groups(&self) -> &[ParamGroup] {
        &self.plan.groups
    }

    /// The workgroup reduction passes 1 and 2 use on this device.
    pub fn reduction(&self) -> Reduction {
        self.pipelines.reduction
    }

    /// The largest relative error of a step's `||g||^2` (and, with projection, `||w||^2`)
    /// against the exact sum of the squares of the `f32` values, whatever the values and the
    /// compiler: the kernels sum in interleaved accumulators, blocks and pairwise trees whose
    /// roundings per term are counted from the arena's windows and work split (see
    /// `shaders/common.wgsl`). About 1.5e-6 for 10^6 parameters and 3.0e-6 for 10^8 in one
    /// window on a GPU. On a driver that flushes subnormals to zero, squares below 2^-126 may
    /// be lost besides.
    pub fn sq_norm_error_bound(&self) -> f64 {
        self.plan.sq_norm_error_bound()
    }

    /// Dispatches per step: two per window of the arena (one window when the arena fits in
    /// one storage binding), three with projection, whatever the number of tensors.
    pub fn dispatches_per_step(&self) -> usize {
        self.plan.dispatches_per_step()
    }

    /// `Ok` when `device` is the optimizer's and is not lost.
    pub(crate) fn check_device(&self, device: &wgpu::Device) -> Result<()> {
        check_device(&self.device, device)
    }
}
