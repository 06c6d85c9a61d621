// The sum of the partials an earlier pass left, the same bit for bit in every thread of every
// workgroup whatever the device's subgroup layout: the first PARTIAL_SLICES threads each sum
// every PARTIAL_SLICES-th partial in index order, in blocks (the caller's loop, or
// `param_sq_totals` below, which reads the `cfg` and `partials` that each kernel including
// this file declares with its own access mode), then every thread sums the slices in a fixed
// pairwise tree (5 roundings). One barrier only: on CPU drivers a kernel with a barrier runs
// its whole update loop slower.

const PARTIAL_SLICES: u32 = 32u;

var<workgroup> slice_sums: array<vec2<f32>, PARTIAL_SLICES>;
var<workgroup> slice_maxes: array<u32, PARTIAL_SLICES>;

// Four consecutive slice sums of component `c` from `first` (at most 28: below
// PARTIAL_SLICES).
fn slice_quad(first: u32, c: u32) -> vec4<f32> {
    return vec4<f32>(slice_sums[first][c], slice_sums[first + 1u][c], slice_sums[first + 2u][c], slice_sums[first + 3u][c]);
}

fn slice_tree(c: u32) -> f32 {
    return pairwise16(slice_quad(0u, c), slice_quad(4u, c), slice_quad(8u, c), slice_quad(12u, c))
        + pairwise16(slice_quad(16u, c), slice_quad(20u, c), slice_quad(24u, c), slice_quad(28u, c));
}

// `slice` is this thread's slice (zero past the first PARTIAL_SLICES threads); returns the
// totals to every thread, each sum added as it would be alone. Called once per kernel, so
// the scratch is never reused.
fn sum_slice_totals(slice: Totals, local_index: u32) -> Totals {
    if local_index < PARTIAL_SLICES {
        slice_sums[local_index] = slice.sums;
        slice_maxes[local_index] = slice.max_bits;
    }
    workgroupBarrier();
    var max_bits = 0u;
    for (var s = 0u; s < PARTIAL_SLICES; s = s + 1u) {
        max_bits = max(max_bits, slice_maxes[s]);
    }
    return Totals(vec2<f32>(slice_tree(0u), slice_tree(1u)), max_bits);
}

// `sum_slice_totals` of one sum.
fn sum_slices(slice: Partial, local_index: u32) -> Partial {
    let total = sum_slice_totals(Totals(vec2<f32>(slice.sq_sum, 0.0), slice.max_abs_bits), local_index);
    return Partial(total.sums.x, total.max_bits);
}

// The index of the first partial of pass 2's scaled range of ||w||^2 (PARAM_BIG_MIN): after
// the gradients', the parameters' and the loss scale's slot.
fn param_big_partials() -> u32 {
    return 2u * cfg.num_partials + 1u;
}

// ||w||^2's two ranges summed over pass 2's partials (the kernel's `partials`), with the max
// of the first range's `max_abs_bits` (0 from pass 2; a sharded step's exchange marks there
// what it cannot carry).
fn param_sq_totals(local_index: u32) -> Totals {
    var small = blocked_sum();
    var big = blocked_sum();
    var max_bits = 0u;
    if local_index < PARTIAL_SLICES {
        // p < num_partials: the second set, and the set after the loss scale's slot.
        for (var p = local_index; p < cfg.num_partials; p = p + PARTIAL_SLICES) {
            let partial = partials[cfg.num_partials + p];
            let big_partial = partials[param_big_partials() + p];
            blocked_add_pair(&small, &big, vec4<f32>(partial.sq_sum, 0.0, 0.0, 0.0), vec4<f32>(big_partial.sq_sum, 0.0, 0.0, 0.0));
            max_bits = max(max_bits, partial.max_abs_bits);
        }
    }
    return sum_slice_totals(Totals(vec2<f32>(blocked_total(small), blocked_total(big)), max_bits), local_index);
}
