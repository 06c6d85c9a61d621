//! Host twins of the structs and constants in `shaders/common.wgsl`. Each `#[repr(C)]` struct
//! here mirrors the WGSL struct of the same name; `tests/shaders.rs` checks sizes and values.

use bytemuck::{Pod, Zeroable};

/// Threads per workgroup of every kernel (`WG_SIZE` in `shaders/common.wgsl`).
pub(crate) const WORKGROUP_SIZE: u32 = 256;

/// Bits of [`AligUniforms::options`] (`OPTION_*` in `shaders/common.wgsl`).
pub(crate) const OPTION_HAS_MAX_LR: u32 = 1;
pub(crate) const OPTION_ADJUSTED_MOMENTUM: u32 = 2;

/// Mirrors `AligUniforms` in `shaders/common.wgsl`: the optimizer's uniform block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub(crate) struct AligUniforms {
    pub max_lr: f32,
    pub momentum: f32,
    pub eps: f32,
    pub f_star: f32,
    pub c: f32,
    pub options: u32,
    pub len_vec4: u32,
    pub num_partials: u32,
    pub stats_capacity: u32,
    pub _pad: [u32; 3],
}

/// Mirrors `Partial` in `shaders/common.wgsl`: what one workgroup of pass 1 writes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub(crate) struct Partial {
    pub sq_sum: f32,
    pub max_abs_bits: u32,
}

/// Mirrors the fixed head of `StepState` in `shaders/common.wgsl`; the ring of
/// [`StepRecord`](crate::StepRecord)s follows it in the same buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub(crate) struct StepStateHeader {
    pub loss: f32,
    pub steps: u32,
    pub skipped: u32,
    pub _pad: u32,
}
