//! The WGSL sources of the kernels. A kernel's module is the precision's prelude
//! (`precision_f32.wgsl`, `precision_f16_grads.wgsl` or `precision_f16.wgsl`), `common.wgsl`, the
//! workgroup reduction it uses (`reduce_subgroup.wgsl` where the device has `Features::SUBGROUP`,
//! `reduce_shared_memory.wgsl` elsewhere), `sum_partials.wgsl` for the passes that sum an earlier
//! pass's partials, and its own file (the two kernels of a sharded step share `shard_norms.wgsl`).

use crate::arena::Precision;

const PRECISION_F32: &str = include_str!("../../shaders/precision_f32.wgsl");
const PRECISION_F16_GRADS: &str = include_str!("../../shaders/precision_f16_grads.wgsl");
const PRECISION_F16: &str = include_str!("../../shaders/precision_f16.wgsl");

const COMMON: &str = include_str!("../../shaders/common.wgsl");
const REDUCE_SHARED_MEMORY: &str = include_str!("../../shaders/reduce_shared_memory.wgsl");
const REDUCE_SUBGROUP: &str = include_str!("../../shaders/reduce_subgroup.wgsl");
const SUM_PARTIALS: &str = include_str!("../../shaders/sum_partials.wgsl");
const GRAD_SQ_NORM: &str = include_str!("../../shaders/grad_sq_norm.wgsl");
const ALIG_UPDATE: &str = include_str!("../../shaders/alig_update.wgsl");
const PROJECT_PARAMS: &str = include_str!("../../shaders/project_params.wgsl");
const SHARD_NORMS: &str = include_str!("../../shaders/shard_norms.wgsl");

/// How a kernel reduces values across a workgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// `subgroupAdd` / `subgroupMax`; needs `Features::SUBGROUP`.
    Subgroup,
    /// Through shared memory, summed by one thread; runs everywhere.
    SharedMemory,
}

impl Reduction {
    /// The reduction a device supports best: subgroups where the device has them, in
    /// subgroups of 4 or more lanes (the subgroup path's scratch holds `WG_SIZE / 4`
    /// subgroups, and its modules are built without bounds checks).
    pub fn for_device(device: &wgpu::Device) -> Self {
        let subgroups = device.features().contains(wgpu::Features::SUBGROUP);
        if subgroups && device.adapter_info().subgroup_min_size >= 4 {
            Self::Subgroup
        } else {
            Self::SharedMemory
        }
    }

    fn source(self) -> &'static str {
        match self {
            Self::Subgroup => REDUCE_SUBGROUP,
            Self::SharedMemory => REDUCE_SHARED_MEMORY,
        }
    }
}

/// How momentum enters the update (see the crate docs for the formulas).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MomentumKind {
    /// The official ALI-G default: `z <- mu*z - gamma*g ; w <- w - gamma*g + mu*z`
    /// (the step size is kept inside the buffer).
    #[default]
    Nesterov,
    /// `adjusted_momentum=True` in the official code, i.e. `torch.optim.SGD(nesterov=True)`
    /// with `lr = gamma`: `z <- mu*z - g ; w <- w - gamma*g + gamma*mu*z`.
    Adjusted,
}

/// What an optimizer fixes for its whole life, compiled into its kernels as WGSL `override`
/// constants so that nothing invariant is decided per element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Specialization {
    /// Some chunk holds padding or a frozen tensor: every pass looks each chunk's entry up and
    /// masks the floats that are not trainable (`MASKED`).
    pub masked: bool,
    /// Several groups: pass 2 looks each chunk's group up (`GROUPED`).
    pub grouped: bool,
    /// `None` when no group uses momentum (`MOMENTUM_KIND`).
    pub momentum: Option<MomentumKind>,
    /// Projection on: pass 2 sums `||w||^2` for pass 3 (`PROJECTION`).
    pub projection: bool,
    /// The gradients are loss-scaled: pass 2 unscales them and updates the scale
    /// (`LOSS_SCALED`).
    pub loss_scaled: bool,
    /// The arena's element types: which prelude every kernel's module starts with.
    pub precision: Precision,
}

impl Specialization {
    /// Every specialization, for tests that compile them all.
    pub fn all() -> Vec<Self> {
        let mut out = Vec::new();
        for masked in [false, true] {
            for grouped in [false, true] {
                for momentum in [
                    None,
                    Some(MomentumKind::Nesterov),
                    Some(MomentumKind::Adjusted),
                ] {
                    for projection in [false, true] {
                        for loss_scaled in [false, true] {
                            for precision in Precision::ALL {
                                out.push(Self {
                                    masked,
                                    grouped,
                                    momentum,
                                    projection,
                                    loss_scaled,
                                    precision,
                                });
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// One kernel of the optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Pass 1: partial sums of the squared gradient norm.
    GradSqNorm,
    /// Pass 2: the step size and the fused update.
    AligUpdate,
    /// Pass 3, only with projection on: the projection onto the L2 ball.
    ProjectParams,
    /// A sharded step, after pass 1: the sum of this shard's gradient partials.
    ShardGradNorm,
    /// A sharded step with projection, after pass 2: the sum of this shard's `||w||^2`
    /// partials.
    ShardParamNorm,
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 5] = [
        Kernel::GradSqNorm,
        Kernel::AligUpdate,
        Kernel::ProjectParams,
        Kernel::ShardGradNorm,
        Kernel::ShardParamNorm,
    ];

    /// The name of the kernel's entry point (and of its file under `shaders/`, but for the
    /// sharded step's two, in `shard_norms.wgsl`).
    pub fn entry_point(self) -> &'static str {
        match self {
            Self::GradSqNorm => "grad_sq_norm",
            Self::AligUpdate => "alig_update",
            Self::ProjectParams => "project_params",
            Self::ShardGradNorm => "shard_grad_norm",
            Self::ShardParamNorm => "shard_param_norm",
        }
    }

    /// The workgroup reduction the kernel uses on a device that offers `best`; `None` for
    /// the kernels that only sum partials. Sums of partials that every workgroup must agree on
    /// bit for bit (passes 2 and 3) go through `sum_partials.wgsl`, whose order is fixed
    /// whatever the subgroup layout, so each kernel can take the device's best reduction
    /// for what only its own workgroup needs.
    pub fn reduction(self, best: Reduction) -> Option<Reduction> {
        match self {
            Self::GradSqNorm | Self::AligUpdate => Some(best),
            Self::ProjectParams | Self::ShardGradNorm | Self::ShardParamNorm => None,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Self::GradSqNorm => GRAD_SQ_NORM,
            Self::AligUpdate => ALIG_UPDATE,
            Self::ProjectParams => PROJECT_PARAMS,
            Self::ShardGradNorm | Self::ShardParamNorm => SHARD_NORMS,
        }
    }

    /// The values of the kernel's `override` constants for `spec`.
    pub fn constants(self, spec: &Specialization) -> Vec<(&'static str, f64)> {
        let flag = |on: bool| if on { 1.0 } else { 0.0 };
        match self {
            Self::GradSqNorm | Self::ProjectParams => vec![("MASKED", flag(spec.masked))],
            Self::ShardGradNorm | Self::ShardParamNorm => Vec::new(),
            Self::AligUpdate => vec![
                ("GROUPED", flag(spec.grouped)),
                ("MASKED", flag(spec.masked)),
                (
                    "MOMENTUM_KIND",
                    match spec.momentum {
                        None => 0.0,
                        Some(MomentumKind::Nesterov) => 1.0,
                        Some(MomentumKind::Adjusted) => 2.0,
                    },
                ),
                ("PROJECTION", flag(spec.projection)),
                ("LOSS_SCALED", flag(spec.loss_scaled)),
            ],
        }
    }

    /// The complete WGSL module of the kernel with the given reduction (see
    /// [`Kernel::reduction`]) for an arena of `precision`.
    pub fn wgsl(self, reduction: Option<Reduction>, precision: Precision) -> String {
        let prelude = match precision {
            Precision::F32 => PRECISION_F32,
            Precision::F16Grads => PRECISION_F16_GRADS,
            Precision::F16 => PRECISION_F16,
        };
        let mut parts = vec![prelude, COMMON];
        parts.extend(reduction.map(Reduction::source));
        if self != Self::GradSqNorm {
            parts.push(SUM_PARTIALS);
        }
        parts.push(self.source());
        parts.join("\n")
    }
}
