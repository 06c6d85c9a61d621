// The sum of the partials an earlier pass left, the same bit for bit in every thread of every
// workgroup whatever the device's subgroup layout: the first PARTIAL_SLICES threads each sum
// every PARTIAL_SLICES-th partial in index order, in blocks (the caller's loop, since each
// kernel declares `partials` itself), then every thread sums the slices in a fixed pairwise
// tree (5 roundings). One barrier only: on CPU drivers a kernel with a barrier runs its whole
// update loop slower.

const PARTIAL_SLICES: u32 = 32u;

var<workgroup> slice_sums: array<f32, PARTIAL_SLICES>;
var<workgroup> slice_maxes: array<u32, PARTIAL_SLICES>;

// Four consecutive slice sums from `first`.
fn slice_quad(first: u32) -> vec4<f32> {
    return vec4<f32>(slice_sums[first], slice_sums[first + 1u], slice_sums[first + 2u], slice_sums[first + 3u]);
}

// `slice` is this thread's slice (zero past the first PARTIAL_SLICES threads); returns the
// total to every thread. Called once per kernel, so the scratch is never reused.
fn sum_slices(slice: Partial, local_index: u32) -> Partial {
    if local_index < PARTIAL_SLICES {
        slice_sums[local_index] = slice.sq_sum;
        slice_maxes[local_index] = slice.max_abs_bits;
    }
    workgroupBarrier();
    let total = pairwise16(slice_quad(0u), slice_quad(4u), slice_quad(8u), slice_quad(12u))
        + pairwise16(slice_quad(16u), slice_quad(20u), slice_quad(24u), slice_quad(28u));
    var max_bits = 0u;
    for (var s = 0u; s < PARTIAL_SLICES; s = s + 1u) {
        max_bits = max(max_bits, slice_maxes[s]);
    }
    return Partial(total, max_bits);
}
