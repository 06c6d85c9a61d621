// Workgroup reduction with subgroup operations (`Features::SUBGROUP`): one subgroupAdd per
// subgroup, then the subgroup results summed in subgroup order by thread 0
// (compensated).

struct ReduceBuiltins {
    @builtin(local_invocation_index) local_index: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(num_subgroups) subgroups: u32,
}

// At most WG_SIZE / 4 subgroups: 4 is the smallest subgroup size wgpu reports.
var<workgroup> subgroup_sums: array<f32, 64>;
var<workgroup> subgroup_maxes: array<u32, 64>;

// The sum of `sq_sum` and the max of `max_abs_bits` over the workgroup, in thread 0 only (the
// other threads get an unspecified value). One barrier, and the scratch is not reused, so a
// kernel calls this at most once: on CPU drivers every barrier slows the whole kernel (a
// second one doubled the time of pass 1 on lavapipe).
fn workgroup_total(value: Partial, rb: ReduceBuiltins) -> Partial {
    let subgroup_sum = subgroupAdd(value.sq_sum);
    let subgroup_max = subgroupMax(value.max_abs_bits);
    if rb.lane == 0u {
        subgroup_sums[rb.subgroup] = subgroup_sum;
        subgroup_maxes[rb.subgroup] = subgroup_max;
    }
    workgroupBarrier();
    var sum = CompensatedSum(vec4<f32>(0.0), vec4<f32>(0.0));
    var max_bits = 0u;
    if rb.local_index == 0u {
        for (var s = 0u; s < rb.subgroups; s = s + 1u) {
            compensated_add(&sum, vec4<f32>(subgroup_sums[s], 0.0, 0.0, 0.0));
            max_bits = max(max_bits, subgroup_maxes[s]);
        }
    }
    return Partial(compensated_total(sum), max_bits);
}
