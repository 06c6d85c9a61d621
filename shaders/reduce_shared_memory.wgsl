// Workgroup reduction through shared memory, for devices without subgroup operations: every
// thread leaves its value, then thread 0 sums them in thread order (compensated).

struct ReduceBuiltins {
    @builtin(local_invocation_index) local_index: u32,
}

var<workgroup> thread_sums: array<f32, WG_SIZE>;
var<workgroup> thread_maxes: array<u32, WG_SIZE>;

// The sum of `sq_sum` and the max of `max_abs_bits` over the workgroup, in thread 0 only (the
// other threads get an unspecified value). One barrier rather than a tree's nine, and the
// scratch is not reused, so a kernel calls this at most once: on CPU drivers every barrier
// slows the whole kernel.
fn workgroup_total(value: Partial, rb: ReduceBuiltins) -> Partial {
    thread_sums[rb.local_index] = value.sq_sum;
    thread_maxes[rb.local_index] = value.max_abs_bits;
    workgroupBarrier();
    var sum = CompensatedSum(vec4<f32>(0.0), vec4<f32>(0.0));
    var max_bits = 0u;
    if rb.local_index == 0u {
        for (var t = 0u; t < WG_SIZE; t = t + 1u) {
            compensated_add(&sum, vec4<f32>(thread_sums[t], 0.0, 0.0, 0.0));
            max_bits = max(max_bits, thread_maxes[t]);
        }
    }
    return Partial(compensated_total(sum), max_bits);
}
