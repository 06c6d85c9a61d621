// Declarations shared by every kernel. Each struct here has a `#[repr(C)]` twin in
// src/shader_types.rs (StepRecord: src/stats.rs), and each constant a twin in Rust;
// a unit test in src/shader_types.rs checks both.

// Threads per workgroup of every kernel (`WORKGROUP_SIZE` in src/shader_types.rs).
const WG_SIZE: u32 = 256u;

// Every tensor starts at a multiple of 256 bytes, so each chunk of 16 vec4 (64 floats) holds
// one tensor's elements or padding: `chunk_groups` maps each chunk to its tensor's group.
const VEC4_PER_CHUNK_LOG2: u32 = 4u;
// The group of a frozen tensor's chunks: in neither the norm nor the update, never written.
const FROZEN: u32 = 0xffffffffu;

// Bits of `AligUniforms::options`. What is fixed for the life of an optimizer (momentum
// kind, groups, projection) is an `override` constant of the kernel instead.
const OPTION_WRITES_RECORD: u32 = 1u;    // set for the first window only: one record per step
const OPTION_UNBOUNDED_GROUP: u32 = 2u;  // some group has no max_lr

// Bits of `GroupParams::options`.
const GROUP_HAS_MAX_LR: u32 = 1u;

// Bits of `StepRecord::flags` (`StepFlags` in src/stats.rs).
const FLAG_CLIPPED: u32 = 1u;                // gamma of the first group = its max_lr
const FLAG_FLOOR_REACHED: u32 = 2u;          // loss <= f_star, so gamma = 0
const FLAG_SKIPPED_LOSS: u32 = 4u;           // the loss is NaN or infinite
const FLAG_SKIPPED_GRAD: u32 = 8u;           // a trainable gradient element is NaN or infinite
const FLAG_SKIPPED_NORM_OVERFLOW: u32 = 16u; // every element finite, but ||g||^2 overflows f32
const FLAG_SKIPPED_STEP_OVERFLOW: u32 = 32u; // gamma_hat overflows f32 and a group has no max_lr
const FLAG_SKIPPED_LOSS_OVERWRITTEN: u32 = 64u; // a later step reused this host loss's slot first
const SKIP_MASK: u32 = 124u;

// A host loss's sequence number reaches the kernel as two halves of this many bits
// (src/host_losses.rs says why).
const HOST_LOSS_TAG_HALF_BITS: u32 = 16u;

// Bit patterns at or above this (sign cleared) are infinities and NaNs. Tested on the bits
// because WGSL lets a compiler assume that floats are finite.
const NON_FINITE_BITS: u32 = 0x7f800000u;

// One window of the arena (the whole arena when it fits in one storage binding).
struct AligUniforms {
    eps: f32,
    f_star: f32,
    c: f32,
    max_norm: f32,       // projection radius (with PROJECTION on)
    options: u32,
    len_vec4: u32,       // vec4 elements of this window, padding included
    num_partials: u32,   // partials written by pass 1 over all windows
    stats_capacity: u32, // records in the stats ring
    partial_base: u32,   // index of this window's first partial
    chunk_base: u32,     // index of this window's first chunk
    _pad0: u32,
    _pad1: u32,
}

// What a parameter group sets for itself; gamma_hat is global.
struct GroupParams {
    max_lr: f32,
    momentum: f32,
    options: u32,
    _pad: u32,
}

// What one workgroup leaves behind for a later pass to sum.
struct Partial {
    sq_sum: f32,       // a sum of squares over the workgroup's share
    max_abs_bits: u32, // largest bit pattern of |g|: detects non-finite elements
}

struct StepRecord {
    step: u32,
    flags: u32,
    loss: f32,
    grad_sq_norm: f32,
    gamma_hat: f32,
    gamma: f32,         // of the first group
    param_sq_norm: f32, // ||w||^2 after the update, before projection (projection only)
    _reserved: u32,
}

// The optimizer's per-step state on the GPU: the loss of the step being run (copied in by
// the host's command encoder), the counters, and the ring of step records.
struct StepState {
    loss: f32,
    // A host loss: the sequence number its slot held when the step ran, and the one the
    // step's commands expect. Both 0 for a GPU loss.
    loss_tag: u32,
    expected_tag_lo: u32,
    expected_tag_hi: u32,
    steps: u32,
    skipped: u32,
    _pad0: u32,
    _pad1: u32,
    records: array<StepRecord>,
}

fn is_finite_f32(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) < NON_FINITE_BITS;
}

// The step size of one group: gamma_hat, clipped to the group's max_lr.
fn group_gamma(gamma_hat: f32, group: GroupParams) -> f32 {
    if (group.options & GROUP_HAS_MAX_LR) != 0u && (!is_finite_f32(gamma_hat) || gamma_hat > group.max_lr) {
        return group.max_lr;
    }
    return gamma_hat;
}

// Kahan-compensated running sum per vec4 lane: a thread adds hundreds of terms on large
// arenas, and a plain f32 sum would lose ~1e-5 of a norm there.
struct CompensatedSum {
    sum: vec4<f32>,
    compensation: vec4<f32>,
}

fn compensated_add(acc: ptr<function, CompensatedSum>, x: vec4<f32>) {
    let y = x - (*acc).compensation;
    let t = (*acc).sum + y;
    (*acc).compensation = (t - (*acc).sum) - y;
    (*acc).sum = t;
}

fn compensated_total(acc: CompensatedSum) -> f32 {
    let lanes = acc.sum - acc.compensation;
    return (lanes.x + lanes.y) + (lanes.z + lanes.w);
}
