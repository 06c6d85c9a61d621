// Workgroup reduction through shared memory, for devices without subgroup operations: every
// thread leaves its value, then thread 0 sums them in a fixed pairwise tree.

struct ReduceBuiltins {
    @builtin(local_invocation_index) local_index: u32,
}

var<workgroup> thread_sums: array<f32, WG_SIZE>;
var<workgroup> thread_maxes: array<u32, WG_SIZE>;

// Four consecutive thread sums from `first`.
fn thread_quad(first: u32) -> vec4<f32> {
    return vec4<f32>(thread_sums[first], thread_sums[first + 1u], thread_sums[first + 2u], thread_sums[first + 3u]);
}

// The sum of `sq_sum` and the max of `max_abs_bits` over the workgroup, in thread 0 only (the
// other threads get an unspecified value). The sum is 16 blocks of 16 threads, each pairwise,
// then the 16 block sums pairwise: 8 roundings for any thread's value, log2(WG_SIZE). One
// barrier rather than a tree's eight, and the scratch is not reused, so a kernel calls this
// at most once: on CPU drivers every barrier slows the whole kernel.
fn workgroup_total(value: Partial, rb: ReduceBuiltins) -> Partial {
    thread_sums[rb.local_index] = value.sq_sum;
    thread_maxes[rb.local_index] = value.max_abs_bits;
    workgroupBarrier();
    var total = 0.0;
    var max_bits = 0u;
    if rb.local_index == 0u {
        var blocks: array<f32, 16>;
        for (var b = 0u; b < 16u; b = b + 1u) {
            let at = b * 16u;
            blocks[b] = pairwise16(thread_quad(at), thread_quad(at + 4u), thread_quad(at + 8u), thread_quad(at + 12u));
        }
        total = pairwise16(
            vec4<f32>(blocks[0], blocks[1], blocks[2], blocks[3]),
            vec4<f32>(blocks[4], blocks[5], blocks[6], blocks[7]),
            vec4<f32>(blocks[8], blocks[9], blocks[10], blocks[11]),
            vec4<f32>(blocks[12], blocks[13], blocks[14], blocks[15]),
        );
        for (var t = 0u; t < WG_SIZE; t = t + 1u) {
            max_bits = max(max_bits, thread_maxes[t]);
        }
    }
    return Partial(total, max_bits);
}
