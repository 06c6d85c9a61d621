// The sum of the partials an earlier pass left, the same bit for bit in every thread of every
// workgroup whatever the device's subgroup layout: the first PARTIAL_SLICES threads each sum
// every PARTIAL_SLICES-th partial in index order (the caller's loop, since each kernel
// declares `partials` itself), then every thread sums the slices in slice order. One barrier
// only: on CPU drivers a kernel with a barrier runs its whole update loop slower.

const PARTIAL_SLICES: u32 = 32u;

var<workgroup> slice_sums: array<f32, PARTIAL_SLICES>;
var<workgroup> slice_maxes: array<u32, PARTIAL_SLICES>;

// `slice` is this thread's slice (zero past the first PARTIAL_SLICES threads); returns the
// total to every thread. Called once per kernel, so the scratch is never reused.
fn sum_slices(slice: Partial, local_index: u32) -> Partial {
    if local_index < PARTIAL_SLICES {
        slice_sums[local_index] = slice.sq_sum;
        slice_maxes[local_index] = slice.max_abs_bits;
    }
    workgroupBarrier();
    var sum = CompensatedSum(vec4<f32>(0.0), vec4<f32>(0.0));
    var max_bits = 0u;
    for (var s = 0u; s < PARTIAL_SLICES; s = s + 1u) {
        compensated_add(&sum, vec4<f32>(slice_sums[s], 0.0, 0.0, 0.0));
        max_bits = max(max_bits, slice_maxes[s]);
    }
    return Partial(compensated_total(sum), max_bits);
}
