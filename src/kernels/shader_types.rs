//! Host twins of the structs and constants in `shaders/common.wgsl`. Each `#[repr(C)]` struct
//! here mirrors the WGSL struct of the same name; the unit test below checks sizes, offsets
//! and values against the WGSL through naga.

use bytemuck::{Pod, Zeroable};

/// Threads per workgroup of every kernel (`WG_SIZE` in `shaders/common.wgsl`).
pub(crate) const WORKGROUP_SIZE: u32 = 256;

/// Bits of [`AligUniforms::options`] (`OPTION_*` in `shaders/common.wgsl`).
pub(crate) const OPTION_WRITES_RECORD: u32 = 1;
pub(crate) const OPTION_UNBOUNDED_GROUP: u32 = 2;

/// Bits of [`GroupParams::options`] (`GROUP_*` in `shaders/common.wgsl`).
pub(crate) const GROUP_HAS_MAX_LR: u32 = 1;

/// Bits of a chunk table entry that hold the group (`CHUNK_GROUP_BITS` in
/// `shaders/common.wgsl`); the trainable floats of the chunk are above them.
pub(crate) const CHUNK_GROUP_BITS: u32 = 24;

/// Terms a thread adds into one block of its sums of squares (`BLOCK_TERMS`).
pub(crate) const BLOCK_TERMS: u32 = 8;

/// Threads that each sum a slice of the partials in passes 2 and 3 (`PARTIAL_SLICES` in
/// `shaders/sum_partials.wgsl`).
pub(crate) const PARTIAL_SLICES: u32 = 32;

/// Bits in each of the two halves of a host loss's sequence number that a step's commands
/// copy into the state (`HOST_LOSS_TAG_HALF_BITS` in `shaders/common.wgsl`).
pub(crate) const HOST_LOSS_TAG_HALF_BITS: u32 = 16;

/// Floats per chunk of the chunk-to-group table: every tensor starts at a multiple of it.
pub(crate) const CHUNK_FLOATS: usize = 64;

/// Mirrors `AligUniforms` in `shaders/common.wgsl`: the uniform block of one window.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub(crate) struct AligUniforms {
    pub eps: f32,
    pub f_star: f32,
    pub c: f32,
    pub max_norm: f32,
    pub options: u32,
    pub len_vec4: u32,
    pub num_partials: u32,
    pub stats_capacity: u32,
    pub partial_base: u32,
    pub chunk_base: u32,
    pub max_lr_version: u32,
    pub backoff_factor: f32,
    pub growth_factor: f32,
    pub growth_interval: u32,
    pub _pad: [u32; 2],
}

/// Mirrors `GroupParams` in `shaders/common.wgsl`: what a parameter group sets for itself.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub(crate) struct GroupParams {
    pub max_lr: f32,
    pub momentum: f32,
    pub options: u32,
    pub _pad: u32,
}

/// Mirrors `Partial` in `shaders/common.wgsl`: what one workgroup of a pass leaves, and what
/// a sharded step exchanges.
pub(crate) use crate::kernels::shard_norm::ShardNorm as Partial;

/// Mirrors the fixed head of `StepState` in `shaders/common.wgsl`; the ring of
/// [`StepRecord`](crate::StepRecord)s follows it in the same buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub(crate) struct StepStateHeader {
    pub loss_scale: f32,
    pub good_steps: u32,
    pub loss: f32,
    pub loss_tag: u32,
    pub expected_tag_lo: u32,
    pub expected_tag_hi: u32,
    pub steps: u32,
    pub skipped: u32,
}

#[cfg(test)]
mod tests {
    //! The host twins against the WGSL declarations, read from `shaders/common.wgsl` by naga.
    use super::*;
    use crate::stats::{StepFlags, StepRecord};

    fn common() -> naga::Module {
        naga::front::wgsl::parse_str(include_str!("../../shaders/common.wgsl"))
            .expect("common.wgsl parses")
    }

    /// (size in bytes, byte offset of each member by name) of the WGSL struct `name`.
    fn wgsl_struct(module: &naga::Module, name: &str) -> (u32, Vec<(String, u32)>) {
        let ty = module
            .types
            .iter()
            .find(|(_, ty)| ty.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no struct {name} in common.wgsl"))
            .1;
        match &ty.inner {
            naga::TypeInner::Struct { members, span } => (
                *span,
                members
                    .iter()
                    .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
                    .collect(),
            ),
            other => panic!("{name} is not a struct: {other:?}"),
        }
    }

    fn wgsl_u32_constant(module: &naga::Module, name: &str) -> u32 {
        let (_, constant) = module
            .constants
            .iter()
            .find(|(_, c)| c.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no constant {name} in common.wgsl"));
        match module.global_expressions[constant.init] {
            naga::Expression::Literal(naga::Literal::U32(value)) => value,
            ref other => panic!("{name} is not a u32 literal: {other:?}"),
        }
    }

    /// Asserts that the WGSL struct `name` has exactly the `host` members, in order and at
    /// the same byte offsets, and is `size` bytes when given.
    fn assert_layout(
        module: &naga::Module,
        name: &str,
        size: Option<usize>,
        host: &[(&str, usize)],
    ) {
        let (wgsl_size, members) = wgsl_struct(module, name);
        let wgsl: Vec<(&str, usize)> = members
            .iter()
            .map(|(member, offset)| (member.as_str(), *offset as usize))
            .collect();
        assert_eq!(wgsl, host, "{name}: members and offsets");
        if let Some(size) = size {
            assert_eq!(wgsl_size as usize, size, "{name}: size");
        }
    }

    #[test]
    fn uniforms_layout_matches_wgsl() {
        use std::mem::{offset_of, size_of};
        let module = common();
        assert_layout(
            &module,
            "AligUniforms",
            Some(size_of::<AligUniforms>()),
            &[
                ("eps", offset_of!(AligUniforms, eps)),
                ("f_star", offset_of!(AligUniforms, f_star)),
                ("c", offset_of!(AligUniforms, c)),
                ("max_norm", offset_of!(AligUniforms, max_norm)),
                ("options", offset_of!(AligUniforms, options)),
                ("len_vec4", offset_of!(AligUniforms, len_vec4)),
                ("num_partials", offset_of!(AligUniforms, num_partials)),
                ("stats_capacity", offset_of!(AligUniforms, stats_capacity)),
                ("partial_base", offset_of!(AligUniforms, partial_base)),
                ("chunk_base", offset_of!(AligUniforms, chunk_base)),
                ("max_lr_version", offset_of!(AligUniforms, max_lr_version)),
                ("backoff_factor", offset_of!(AligUniforms, backoff_factor)),
                ("growth_factor", offset_of!(AligUniforms, growth_factor)),
                ("growth_interval", offset_of!(AligUniforms, growth_interval)),
                ("_pad0", offset_of!(AligUniforms, _pad)),
                ("_pad1", offset_of!(AligUniforms, _pad) + size_of::<u32>()),
            ],
        );
    }

    #[test]
    fn group_params_layout_matches_wgsl() {
        use std::mem::{offset_of, size_of};
        let module = common();
        assert_layout(
            &module,
            "GroupParams",
            Some(size_of::<GroupParams>()),
            &[
                ("max_lr", offset_of!(GroupParams, max_lr)),
                ("momentum", offset_of!(GroupParams, momentum)),
                ("options", offset_of!(GroupParams, options)),
                ("_pad", offset_of!(GroupParams, _pad)),
            ],
        );
    }

    #[test]
    fn partial_layout_matches_wgsl() {
        use std::mem::{offset_of, size_of};
        let module = common();
        assert_layout(
            &module,
            "Partial",
            Some(size_of::<Partial>()),
            &[
                ("sq_sum", offset_of!(Partial, sq_sum)),
                ("max_abs_bits", offset_of!(Partial, max_abs_bits)),
            ],
        );
    }

    #[test]
    fn step_record_layout_matches_wgsl() {
        use std::mem::{offset_of, size_of};
        let module = common();
        assert_layout(
            &module,
            "StepRecord",
            Some(size_of::<StepRecord>()),
            &[
                ("step", offset_of!(StepRecord, step)),
                ("flags", offset_of!(StepRecord, flags)),
                ("loss", offset_of!(StepRecord, loss)),
                ("grad_sq_norm", offset_of!(StepRecord, grad_sq_norm)),
                ("gamma_hat", offset_of!(StepRecord, gamma_hat)),
                ("gamma", offset_of!(StepRecord, gamma)),
                ("param_sq_norm", offset_of!(StepRecord, param_sq_norm)),
                ("max_lr_version", offset_of!(StepRecord, max_lr_version)),
                ("loss_scale", offset_of!(StepRecord, loss_scale)),
            ],
        );
    }

    #[test]
    fn step_state_header_layout_matches_wgsl() {
        use std::mem::{offset_of, size_of};
        let module = common();
        // The header is the head of StepState, and the ring starts right after it. StepState
        // ends in a runtime-sized array, so it has no size to compare.
        assert_layout(
            &module,
            "StepState",
            None,
            &[
                ("loss_scale", offset_of!(StepStateHeader, loss_scale)),
                ("good_steps", offset_of!(StepStateHeader, good_steps)),
                ("loss", offset_of!(StepStateHeader, loss)),
                ("loss_tag", offset_of!(StepStateHeader, loss_tag)),
                (
                    "expected_tag_lo",
                    offset_of!(StepStateHeader, expected_tag_lo),
                ),
                (
                    "expected_tag_hi",
                    offset_of!(StepStateHeader, expected_tag_hi),
                ),
                ("steps", offset_of!(StepStateHeader, steps)),
                ("skipped", offset_of!(StepStateHeader, skipped)),
                ("records", size_of::<StepStateHeader>()),
            ],
        );
    }

    #[test]
    fn constants_match_wgsl() {
        let module = common();
        let c = |name| wgsl_u32_constant(&module, name);
        assert_eq!(c("WG_SIZE"), WORKGROUP_SIZE);
        assert_eq!(c("OPTION_WRITES_RECORD"), OPTION_WRITES_RECORD);
        assert_eq!(c("OPTION_UNBOUNDED_GROUP"), OPTION_UNBOUNDED_GROUP);
        assert_eq!(c("GROUP_HAS_MAX_LR"), GROUP_HAS_MAX_LR);
        assert_eq!(c("CHUNK_GROUP_BITS"), CHUNK_GROUP_BITS);
        assert_eq!(c("CHUNK_GROUP_MASK"), (1 << CHUNK_GROUP_BITS) - 1);
        assert_eq!(c("BLOCK_TERMS"), BLOCK_TERMS);
        let sum_partials = [
            include_str!("../../shaders/common.wgsl"),
            include_str!("../../shaders/sum_partials.wgsl"),
            // What each kernel that includes it declares.
            "@group(0) @binding(0) var<uniform> cfg: AligUniforms;",
            "@group(0) @binding(1) var<storage, read> partials: array<Partial>;",
        ]
        .join("\n");
        let sum_partials =
            naga::front::wgsl::parse_str(&sum_partials).expect("sum_partials.wgsl parses");
        assert_eq!(
            wgsl_u32_constant(&sum_partials, "PARTIAL_SLICES"),
            PARTIAL_SLICES
        );
        assert_eq!(c("HOST_LOSS_TAG_HALF_BITS"), HOST_LOSS_TAG_HALF_BITS);
        assert_eq!(16 << c("VEC4_PER_CHUNK_LOG2"), CHUNK_FLOATS * 4);
        assert_eq!(c("FLAG_CLIPPED"), StepFlags::CLIPPED.0);
        assert_eq!(c("FLAG_FLOOR_REACHED"), StepFlags::FLOOR_REACHED.0);
        assert_eq!(c("FLAG_SKIPPED_LOSS"), StepFlags::SKIPPED_LOSS.0);
        assert_eq!(c("FLAG_SKIPPED_GRAD"), StepFlags::SKIPPED_GRAD.0);
        assert_eq!(
            c("FLAG_SKIPPED_NORM_OVERFLOW"),
            StepFlags::SKIPPED_NORM_OVERFLOW.0
        );
        assert_eq!(
            c("FLAG_SKIPPED_STEP_OVERFLOW"),
            StepFlags::SKIPPED_STEP_OVERFLOW.0
        );
        assert_eq!(
            c("FLAG_SKIPPED_LOSS_OVERWRITTEN"),
            StepFlags::SKIPPED_LOSS_OVERWRITTEN.0
        );
        assert_eq!(c("SKIP_MASK"), StepFlags::SKIPPED.0);
        assert_eq!(
            c("FLAG_LOSS_SCALE_LOWERED"),
            StepFlags::LOSS_SCALE_LOWERED.0
        );
        assert_eq!(c("FLAG_LOSS_SCALE_RAISED"), StepFlags::LOSS_SCALE_RAISED.0);
        assert_eq!(
            c("FLAG_PROJECTION_SKIPPED"),
            StepFlags::PROJECTION_SKIPPED.0
        );
    }
}
