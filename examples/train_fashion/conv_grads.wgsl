// Gradients of the convolution, overwriting the arena's grads: each pooled gradient flows to
// the convolution output that won its max-pool, and from there to the TAPS weights and the
// bias of its channel:
//     dW[c][ky][kx] = sum over rows and pooled positions of dpooled * x[winner + (ky, kx)]
//     db[c]         = sum of dpooled over rows and positions.
//
// One workgroup per channel: each thread sums a strided share of (row, position) pairs,
// then a shared-memory tree in a fixed order, so the result is the same run after run.

const THREADS: u32 = 64u;
const SUMS: u32 = 26u; // TAPS weights, then the bias

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> sample_index: array<u32>;
@group(0) @binding(2) var<storage, read> pixels: array<u32>;
@group(0) @binding(3) var<storage, read> dpooled: array<f32>;     // count x FEATURES
@group(0) @binding(4) var<storage, read> pool_choice: array<u32>; // count x FEATURES
@group(0) @binding(5) var<storage, read_write> dconv_w: array<f32>; // CHANNELS x TAPS
@group(0) @binding(6) var<storage, read_write> dconv_b: array<f32>; // CHANNELS

var<workgroup> partial_sums: array<f32, 1664>; // THREADS * SUMS

@compute @workgroup_size(THREADS)
fn conv_grads(
    @builtin(local_invocation_index) lane: u32,
    @builtin(workgroup_id) group: vec3<u32>,
) {
    let channel = group.x;
    var sums: array<f32, SUMS>;
    for (var index = lane; index < batch.count * POOLED; index += THREADS) {
        let row = index / POOLED;
        let position = index % POOLED;
        let at = row * FEATURES + channel * POOLED + position;
        let delta = dpooled[at];
        if delta != 0.0 {
            let choice = pool_choice[at];
            let top = 2u * (position / POOLED_SIDE) + choice / 2u;
            let left = 2u * (position % POOLED_SIDE) + choice % 2u;
            let image_base = sample_index[batch.start + row] * PIXELS;
            for (var ky = 0u; ky < KERNEL; ky++) {
                for (var kx = 0u; kx < KERNEL; kx++) {
                    let x = pixel(image_base, (top + ky) * SIDE + left + kx);
                    sums[ky * KERNEL + kx] += delta * x;
                }
            }
            sums[TAPS] += delta;
        }
    }
    for (var s = 0u; s < SUMS; s++) {
        partial_sums[lane * SUMS + s] = sums[s];
    }
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if lane < stride {
            for (var s = 0u; s < SUMS; s++) {
                partial_sums[lane * SUMS + s] += partial_sums[(lane + stride) * SUMS + s];
            }
        }
        workgroupBarrier();
    }
    if lane < TAPS {
        dconv_w[channel * TAPS + lane] = partial_sums[lane];
    }
    if lane == TAPS {
        dconv_b[channel] = partial_sums[TAPS];
    }
}
