// Declarations shared by every kernel. Each struct here has a `#[repr(C)]` twin in
// src/shader_types.rs (StepRecord: src/stats.rs), and each constant a twin in Rust;
// a unit test in src/shader_types.rs checks both.

// The modules are built without bounds checks (src/kernels/runtime_checks.rs): every index
// is in range by construction, and a comment beside each access pattern that is not plainly
// bounded says why. The windows' bindings hold `len_vec4` vec4s of params, grads, momentum and
// half params; the chunk table has an entry for every chunk of every window from its
// `chunk_base`; the partials buffer holds 3 * num_partials + 1 (src/optimizer/plan.rs).

// Threads per workgroup of every kernel (`WORKGROUP_SIZE` in src/shader_types.rs).
const WG_SIZE: u32 = 256u;

// Every tensor starts at a multiple of 256 bytes, so each chunk of 16 vec4 (64 floats) holds
// one tensor's elements and padding. `chunk_table` has one entry per chunk: the tensor's group
// in the low bits and the number of the chunk's floats that are trainable (0 to 64) in the
// high ones. A frozen tensor's chunks have none; the floats past a tensor's end are padding.
// Neither counts in a norm nor is ever written, whatever an engine leaves there.
const VEC4_PER_CHUNK_LOG2: u32 = 4u;
const CHUNK_GROUP_BITS: u32 = 24u;
const CHUNK_GROUP_MASK: u32 = 0xffffffu;

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
const FLAG_LOSS_SCALE_LOWERED: u32 = 128u;   // the loss scale was lowered after this step
const FLAG_LOSS_SCALE_RAISED: u32 = 256u;    // the loss scale was raised after this step
const FLAG_PROJECTION_SKIPPED: u32 = 512u;   // ||w|| could not be computed: not projected
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
    max_lr_version: u32, // which setting of the groups' max_lr this is, copied into records
    // The dynamic loss scale (LOSS_SCALED): its factor after a non-finite gradient, its
    // factor after `growth_interval` steps without one (1 and 1 for a fixed scale).
    backoff_factor: f32,
    growth_factor: f32,
    growth_interval: u32,
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

// Two sums and a max, as the workgroup and slice reductions carry them: ||w||^2 in its two
// ranges (see PARAM_BIG_MIN), or one sum and a zero.
struct Totals {
    sums: vec2<f32>,
    max_bits: u32,
}

struct StepRecord {
    step: u32,
    flags: u32,
    loss: f32,
    grad_sq_norm: f32,
    gamma_hat: f32,
    gamma: f32,         // of the first group
    param_sq_norm: f32, // ||w||^2 after the update, before projection (projection only; +inf past f32)
    max_lr_version: u32, // the groups' max_lr the step ran with (AligUniforms::max_lr_version)
    loss_scale: f32,     // the scale the step's gradients were divided by (1 without one)
}

// The optimizer's per-step state on the GPU: the loss scale, the loss of the step being run
// (copied in by the host's command encoder), the counters, and the ring of step records.
struct StepState {
    // The scale S the engine multiplies its loss gradient by (1 without loss scaling), first
    // so that an engine can bind it at offset 0; pass 2 leaves the next value in the partials
    // and a copy after the pass brings it here with `good_steps`, so that every workgroup of
    // a pass reads the same S.
    loss_scale: f32,
    good_steps: u32, // steps since the scale last changed
    loss: f32,
    // A host loss: the sequence number its slot held when the step ran, and the one the
    // step's commands expect. Both 0 for a GPU loss.
    loss_tag: u32,
    expected_tag_lo: u32,
    expected_tag_hi: u32,
    steps: u32,
    skipped: u32,
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

// The chunk table's entry for vec4 `i` of a window: read as `chunk_table[cfg.chunk_base +
// (i >> VEC4_PER_CHUNK_LOG2)]` with `i < len_vec4`, so one of the window's own chunks. Its
// `group` is below the number of groups (the host writes the table from the plan's groups).
struct Chunk {
    group: u32,
    trainable: u32, // floats of the chunk that belong to a trainable tensor, from its start
}

fn chunk_of(entry: u32) -> Chunk {
    return Chunk(entry & CHUNK_GROUP_MASK, entry >> CHUNK_GROUP_BITS);
}

// Which lanes of vec4 `i` are trainable: padding and frozen floats are not.
fn trainable_lanes(chunk: Chunk, i: u32) -> vec4<bool> {
    let first = (i & ((1u << VEC4_PER_CHUNK_LOG2) - 1u)) * 4u;
    return (vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(chunk.trainable);
}

// Sums of squares (||g||^2, ||w||^2), accurate by the shape of the sum alone. Every term is
// >= 0, so a sum's relative error is at most about D * 2^-24, where D is the largest number of
// roundings any one term goes through on its way to the total. No compensation trick: WGSL
// lets a compiler reassociate, and Mesa folds the (t - s) - y of a Kahan sum away. Instead
// each thread spreads its terms over several accumulators: four interleaved ones in pass 1
// (grad_sq_norm.wgsl), blocks of BLOCK_TERMS, each summed into a fresh accumulator, where a
// loop adds one term per iteration (||w||^2 in pass 2, the partials); and every sum of values
// from several threads (lanes, workgroups, partials) is a fixed pairwise tree. A
// reassociating compiler could only reorder within that shape. src/summation.rs computes D
// for an arena (`Alig::sq_norm_error_bound`); on a driver that flushes subnormals, each term
// below 2^-126 may be lost as well.
const BLOCK_TERMS: u32 = 8u;

struct BlockedSum {
    total: vec4<f32>,
    block: vec4<f32>,
    terms: u32, // in `block`
}

fn blocked_sum() -> BlockedSum {
    return BlockedSum(vec4<f32>(0.0), vec4<f32>(0.0), 0u);
}

fn blocked_add(acc: ptr<function, BlockedSum>, x: vec4<f32>) {
    (*acc).block = (*acc).block + x;
    (*acc).terms = (*acc).terms + 1u;
    if (*acc).terms == BLOCK_TERMS {
        (*acc).total = (*acc).total + (*acc).block;
        (*acc).block = vec4<f32>(0.0);
        (*acc).terms = 0u;
    }
}

// `blocked_add` of `x` into `acc` and of `y` into `other` on one count: each sum gets the
// additions it would get alone.
fn blocked_add_pair(acc: ptr<function, BlockedSum>, other: ptr<function, BlockedSum>, x: vec4<f32>, y: vec4<f32>) {
    (*acc).block = (*acc).block + x;
    (*other).block = (*other).block + y;
    (*acc).terms = (*acc).terms + 1u;
    if (*acc).terms == BLOCK_TERMS {
        (*acc).total = (*acc).total + (*acc).block;
        (*other).total = (*other).total + (*other).block;
        (*acc).block = vec4<f32>(0.0);
        (*other).block = vec4<f32>(0.0);
        (*acc).terms = 0u;
    }
}

fn blocked_total(acc: BlockedSum) -> f32 {
    return pairwise4(acc.total + acc.block);
}

// Two roundings for any term.
fn pairwise4(v: vec4<f32>) -> f32 {
    return (v.x + v.y) + (v.z + v.w);
}

// Sixteen values, four roundings for any term.
fn pairwise16(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) -> f32 {
    return pairwise4((a + b) + (c + d));
}

// ||w||^2 without overflow for any finite parameters, in two ranges: a trained element with
// 2^40 <= |w| < infinity is scaled by 2^-100 before it is squared (exact: a power of two, the
// result normal) and summed apart, so its square lies in [2^-120, 2^56) and even 2^33 of them
// (a whole window) stay below 2^89; the others' squares lie below 2^80, 2^33 of them below
// 2^113 (or are infinite, for a non-finite parameter). ||w||^2 = small + 2^200 * big. With no
// huge element, `big` is 0 and `small` is the sum the kernels always computed, bit for bit.
const PARAM_BIG_MIN_BITS: u32 = 0x53800000u; // 2^40
const PARAM_BIG_SHIFT: u32 = 100u;

// x * 2^-e, lane by lane, on the exponent bits: exact where the result is normal, a signed 0
// where it would fall below, x itself where x is infinite or NaN. Not a product by 2^-e nor
// an `ldexp` by a constant: compilers fold those into a product by the constant 2^-e, which
// f32 cannot hold past 2^-149 (Mesa does, and 2^-100 squared is 0 there).
fn scale_down_pow2(x: vec4<f32>, e: u32) -> vec4<f32> {
    let bits = bitcast<vec4<u32>>(x);
    let exponent = (bits >> vec4<u32>(23u)) & vec4<u32>(0xffu);
    let scaled = bitcast<vec4<f32>>(bits - vec4<u32>(e << 23u));
    let zero = bitcast<vec4<f32>>(bits & vec4<u32>(0x80000000u));
    return select(select(scaled, zero, exponent <= vec4<u32>(e)), x, exponent == vec4<u32>(0xffu));
}

fn scale_down_pow2_1(x: f32, e: u32) -> f32 {
    return scale_down_pow2(vec4<f32>(x), e).x;
}

// (`w`'s lanes below 2^40 or not finite, the others scaled by 2^-100), each 0 where it is in
// the other range. The caller squares them: a square then meets its sum as it always did.
fn param_ranges(w: vec4<f32>) -> array<vec4<f32>, 2> {
    let magnitude = bitcast<vec4<u32>>(w) & vec4<u32>(0x7fffffffu);
    let big = (magnitude >= vec4<u32>(PARAM_BIG_MIN_BITS)) & (magnitude < vec4<u32>(NON_FINITE_BITS));
    let scaled = scale_down_pow2(w, PARAM_BIG_SHIFT);
    return array<vec4<f32>, 2>(select(w, vec4<f32>(0.0), big), select(vec4<f32>(0.0), scaled, big));
}

// ||w||^2 from its two ranges, for the record: +infinity where f32 cannot hold it (NaN where
// a parameter is NaN).
fn param_sq_norm_value(small: f32, big: f32) -> f32 {
    if big == 0.0 || !is_finite_f32(big) || !is_finite_f32(small) {
        return small + big;
    }
    // 2^200 * big reaches 2^128 from big = 2^-72 on (exponent bits 55). Below, big >= 2^-120
    // is normal and the exponent bits take the 200 exactly.
    let bits = bitcast<u32>(big);
    if (bits >> 23u) >= 55u {
        // +infinity from a runtime value: a constant expression may not be infinite in WGSL
        // (Chrome's compiler refuses the module; naga does not).
        return bitcast<f32>(max(bits, NON_FINITE_BITS));
    }
    return bitcast<f32>(bits + ((2u * PARAM_BIG_SHIFT) << 23u)) + small;
}
