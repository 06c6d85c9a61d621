//! The WGSL sources of the kernels. A kernel's module is its file after `common.wgsl` and one
//! workgroup reduction: `reduce_subgroup.wgsl` where the device has `Features::SUBGROUP`,
//! `reduce_tree.wgsl` elsewhere.

const COMMON: &str = include_str!("../shaders/common.wgsl");
const REDUCE_TREE: &str = include_str!("../shaders/reduce_tree.wgsl");
const REDUCE_SUBGROUP: &str = include_str!("../shaders/reduce_subgroup.wgsl");
const GRAD_SQ_NORM: &str = include_str!("../shaders/grad_sq_norm.wgsl");
const ALIG_UPDATE: &str = include_str!("../shaders/alig_update.wgsl");
const PROJECT_PARAMS: &str = include_str!("../shaders/project_params.wgsl");

/// How a kernel reduces values across a workgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// `subgroupAdd` / `subgroupMax`; needs `Features::SUBGROUP`.
    Subgroup,
    /// A shared-memory tree; runs everywhere.
    Tree,
}

impl Reduction {
    /// The reduction a device supports best.
    pub fn for_device(device: &wgpu::Device) -> Self {
        if device.features().contains(wgpu::Features::SUBGROUP) {
            Self::Subgroup
        } else {
            Self::Tree
        }
    }

    fn source(self) -> &'static str {
        match self {
            Self::Subgroup => REDUCE_SUBGROUP,
            Self::Tree => REDUCE_TREE,
        }
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
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 3] = [
        Kernel::GradSqNorm,
        Kernel::AligUpdate,
        Kernel::ProjectParams,
    ];

    /// The name of the kernel's entry point (and of its file under `shaders/`).
    pub fn entry_point(self) -> &'static str {
        match self {
            Self::GradSqNorm => "grad_sq_norm",
            Self::AligUpdate => "alig_update",
            Self::ProjectParams => "project_params",
        }
    }

    /// The reduction the kernel uses on a device that offers `best`. Passes 2 and 3 always
    /// use the tree: every workgroup must reach the same gamma (and projection scale) bit for
    /// bit, and a fixed tree order guarantees that whatever the subgroup layout of each
    /// workgroup.
    pub fn reduction(self, best: Reduction) -> Reduction {
        match self {
            Self::GradSqNorm => best,
            Self::AligUpdate | Self::ProjectParams => Reduction::Tree,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Self::GradSqNorm => GRAD_SQ_NORM,
            Self::AligUpdate => ALIG_UPDATE,
            Self::ProjectParams => PROJECT_PARAMS,
        }
    }

    /// The complete WGSL module of the kernel with the given reduction.
    pub fn wgsl(self, reduction: Reduction) -> String {
        [COMMON, reduction.source(), self.source()].join("\n")
    }
}
