// Workgroup reduction with subgroup operations (`Features::SUBGROUP`): a butterfly of
// shuffles inside each subgroup, then the subgroup sums in a pairwise tree, in place, by
// thread 0.

struct ReduceBuiltins {
    @builtin(local_invocation_index) local_index: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) subgroup_size: u32,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(num_subgroups) subgroups: u32,
}

// At most WG_SIZE / 4 subgroups: 4 is the smallest subgroup size wgpu reports
// (MINIMUM_SUBGROUP_MIN_SIZE), so `subgroup` and every index of the tree below stay under it.
const MAX_SUBGROUPS: u32 = 64u;
var<workgroup> subgroup_sums: array<vec2<f32>, MAX_SUBGROUPS>;
var<workgroup> subgroup_maxes: array<u32, MAX_SUBGROUPS>;

// The sum over the subgroup in every lane: each lane adds its partner's value at distance 1,
// 2, 4, ...: a pairwise tree of log2(subgroup size) roundings, written out rather than left
// to `subgroupAdd`, whose order is the driver's. Partners add the same two values, so every
// lane ends with the same bits.
fn subgroup_pairwise_sum(x: vec2<f32>, size: u32) -> vec2<f32> {
    var sum = x;
    for (var distance = 1u; distance < size; distance = distance << 1u) {
        sum = sum + subgroupShuffleXor(sum, distance);
    }
    return sum;
}

// The sums of both `sums` and the max of `max_bits` over the workgroup, in thread 0 only (the
// other threads get an unspecified value): log2(subgroup size) + log2(subgroups) =
// log2(WG_SIZE) = 8 roundings for any thread's value. Each sum is added as it would be alone. (Thread 0 summing 64 zero-padded slots
// through vec4s made pass 1 and 2 slower as a whole on lavapipe; the loop in place does not.) One barrier, and the scratch is not reused, so a kernel calls this at most
// once: on CPU drivers every barrier slows the whole kernel (a second one doubled the time
// of pass 1 on lavapipe).
fn workgroup_totals(value: Totals, rb: ReduceBuiltins) -> Totals {
    let subgroup_sum = subgroup_pairwise_sum(value.sums, rb.subgroup_size);
    let subgroup_max = subgroupMax(value.max_bits);
    if rb.lane == 0u {
        subgroup_sums[rb.subgroup] = subgroup_sum;
        subgroup_maxes[rb.subgroup] = subgroup_max;
    }
    workgroupBarrier();
    var total = vec2<f32>(0.0);
    var max_bits = 0u;
    if rb.local_index == 0u {
        // In place, a pairwise tree over the subgroups (a power of two of them).
        for (var width = 1u; width < rb.subgroups; width = width << 1u) {
            for (var s = 0u; s < rb.subgroups; s = s + (width << 1u)) {
                subgroup_sums[s] = subgroup_sums[s] + subgroup_sums[s + width];
            }
        }
        total = subgroup_sums[0];
        for (var s = 0u; s < rb.subgroups; s = s + 1u) {
            max_bits = max(max_bits, subgroup_maxes[s]);
        }
    }
    return Totals(total, max_bits);
}
