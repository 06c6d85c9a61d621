// Workgroup reduction through shared memory, for devices without subgroup operations: every
// thread leaves its value, then thread 0 sums them in a pairwise tree, in place.

struct ReduceBuiltins {
    @builtin(local_invocation_index) local_index: u32,
}

var<workgroup> thread_sums: array<vec2<f32>, WG_SIZE>;
var<workgroup> thread_maxes: array<u32, WG_SIZE>;

// The sums of both `sums` and the max of `max_bits` over the workgroup, in thread 0 only (the
// other threads get an unspecified value): 8 roundings for any thread's value, log2(WG_SIZE).
// Each sum is added as it would be alone.
// One barrier rather than a parallel tree's eight, and the scratch is not reused, so a kernel
// calls this at most once: on CPU drivers every barrier slows the whole kernel.
// Indices: local_index < WG_SIZE; in the tree, t + width < WG_SIZE (both powers of two).
fn workgroup_totals(value: Totals, rb: ReduceBuiltins) -> Totals {
    thread_sums[rb.local_index] = value.sums;
    thread_maxes[rb.local_index] = value.max_bits;
    workgroupBarrier();
    var total = vec2<f32>(0.0);
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
    return Totals(total, max_bits);
}
