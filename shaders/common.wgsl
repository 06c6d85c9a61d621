// Declarations shared by every kernel. Each struct here has a `#[repr(C)]` twin in
// src/shader_types.rs, and each constant a twin in Rust; tests/shaders.rs checks both.

// Threads per workgroup of every kernel (`WORKGROUP_SIZE` in src/shader_types.rs).
const WG_SIZE: u32 = 256u;

// Bits of `AligUniforms::options`.
const OPTION_HAS_MAX_LR: u32 = 1u;
const OPTION_ADJUSTED_MOMENTUM: u32 = 2u;
const OPTION_WRITES_RECORD: u32 = 4u; // set for the first window only: one record per step

// Bits of `StepRecord::flags` (`StepFlags` in src/stats.rs).
const FLAG_CLIPPED: u32 = 1u;              // gamma = max_lr
const FLAG_FLOOR_REACHED: u32 = 2u;        // loss <= f_star, so gamma = 0
const FLAG_SKIPPED_LOSS: u32 = 4u;         // the loss is NaN or infinite
const FLAG_SKIPPED_GRAD: u32 = 8u;         // some gradient element is NaN or infinite
const FLAG_SKIPPED_NORM_OVERFLOW: u32 = 16u; // every element finite, but ||g||^2 overflows f32
const FLAG_SKIPPED_STEP_OVERFLOW: u32 = 32u; // gamma_hat overflows f32 and max_lr is None
const SKIP_MASK: u32 = 60u;

// Bit patterns at or above this (sign cleared) are infinities and NaNs. Tested on the bits
// because WGSL lets a compiler assume that floats are finite.
const NON_FINITE_BITS: u32 = 0x7f800000u;

struct AligUniforms {
    max_lr: f32,
    momentum: f32,
    eps: f32,
    f_star: f32,
    c: f32,
    options: u32,
    len_vec4: u32,       // vec4 elements of this window of the arena, padding included
    num_partials: u32,   // partials written by pass 1 over all windows
    stats_capacity: u32, // records in the stats ring
    partial_base: u32,   // index of this window's first partial
    _pad0: u32,
    _pad1: u32,
}

// What one workgroup of pass 1 leaves behind.
struct Partial {
    sq_sum: f32,       // sum of g*g over the workgroup's share
    max_abs_bits: u32, // largest bit pattern of |g|: detects non-finite elements
}

struct StepRecord {
    step: u32,
    flags: u32,
    loss: f32,
    grad_sq_norm: f32,
    gamma_hat: f32,
    gamma: f32,
    _reserved0: u32,
    _reserved1: u32,
}

// The optimizer's per-step state on the GPU: the loss of the step being run (copied in by
// the host's command encoder), the counters, and the ring of step records.
struct StepState {
    loss: f32,
    steps: u32,
    skipped: u32,
    _pad: u32,
    records: array<StepRecord>,
}

fn is_finite_f32(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) < NON_FINITE_BITS;
}
