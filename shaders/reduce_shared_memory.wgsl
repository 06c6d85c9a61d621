// Workgroup reduction through shared memory, for devices without subgroup operations: every
// thread leaves its value, then thread 0 sums them in a pairwise tree, in place.

struct ReduceBuiltins {
    @builtin(local_invocation_index) local_index: u32,
}

var<workgroup> thread_sums: array<f32, WG_SIZE>;
var<workgroup> thread_maxes: array<u32, WG_SIZE>;

// The sum of `sq_sum` and the max of `max_abs_bits` over the workgroup, in thread 0 only (the
// other threads get an unspecified value): 8 roundings for any thread's value, log2(WG_SIZE).
// One barrier rather than a parallel tree's eight, and the scratch is not reused, so a kernel
// calls this at most once: on CPU drivers every barrier slows the whole kernel.
fn workgroup_total(value: Partial, rb: ReduceBuiltins) -> Partial {
    thread_sums[rb.local_index] = value.sq_sum;
    thread_maxes[rb.local_index] = value.max_abs_bits;
    workgroupBarrier();
    var total = 0.0;
    var max_bits = 0u;
    if rb.local_index == 0u {
        for (var width = 1u; width < WG_SIZE; width = width << 1u) {
            for (var t = 0u; t < WG_SIZE; t = t + (width << 1u)) {
                thread_sums[t] = thread_sums[t] + thread_sums[t + width];
            }
        }
        total = thread_sums[0];
        for (var t = 0u; t < WG_SIZE; t = t + 1u) {
            max_bits = max(max_bits, thread_maxes[t]);
        }
    }
    return Partial(total, max_bits);
}
