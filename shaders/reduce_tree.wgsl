// Workgroup reduction through shared memory, for devices without subgroup operations.
// The order of the additions is fixed, so every workgroup that reduces the same values gets
// the same result, bit for bit.

struct ReduceBuiltins {
    @builtin(local_invocation_index) local_index: u32,
}

var<workgroup> tree_sums: array<f32, WG_SIZE>;
var<workgroup> tree_maxes: array<u32, WG_SIZE>;

// Returns the sum of `sq_sum` and the max of `max_abs_bits` over the workgroup, to every thread.
fn workgroup_reduce(value: Partial, rb: ReduceBuiltins) -> Partial {
    let i = rb.local_index;
    tree_sums[i] = value.sq_sum;
    tree_maxes[i] = value.max_abs_bits;
    workgroupBarrier();
    for (var half = WG_SIZE / 2u; half > 0u; half = half / 2u) {
        if i < half {
            tree_sums[i] = tree_sums[i] + tree_sums[i + half];
            tree_maxes[i] = max(tree_maxes[i], tree_maxes[i + half]);
        }
        workgroupBarrier();
    }
    let total = Partial(tree_sums[0], tree_maxes[0]);
    // Every thread has read the result before the scratch can be reused by another call.
    workgroupBarrier();
    return total;
}
