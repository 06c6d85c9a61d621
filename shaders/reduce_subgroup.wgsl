// Workgroup reduction with subgroup operations (`Features::SUBGROUP`): one subgroupAdd per
// subgroup, then the subgroup results summed in subgroup order through shared memory.

struct ReduceBuiltins {
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(num_subgroups) subgroups: u32,
}

// At most WG_SIZE / 4 subgroups: 4 is the smallest subgroup size wgpu reports.
var<workgroup> subgroup_sums: array<f32, 64>;
var<workgroup> subgroup_maxes: array<u32, 64>;

// Returns the sum of `sq_sum` and the max of `max_abs_bits` over the workgroup, to every thread.
fn workgroup_reduce(value: Partial, rb: ReduceBuiltins) -> Partial {
    let sum = subgroupAdd(value.sq_sum);
    let max_bits = subgroupMax(value.max_abs_bits);
    if rb.lane == 0u {
        subgroup_sums[rb.subgroup] = sum;
        subgroup_maxes[rb.subgroup] = max_bits;
    }
    workgroupBarrier();
    var total = Partial(0.0, 0u);
    for (var s = 0u; s < rb.subgroups; s = s + 1u) {
        total.sq_sum = total.sq_sum + subgroup_sums[s];
        total.max_abs_bits = max(total.max_abs_bits, subgroup_maxes[s]);
    }
    // Every thread has read the results before the scratch can be reused by another call.
    workgroupBarrier();
    return total;
}
