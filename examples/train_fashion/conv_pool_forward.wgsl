// Forward pass of the convolution, its ReLU and the 2x2 max-pool, fused: one thread per
// pooled position of one row computes the four convolution outputs under it for every
// channel, and stores relu(max + bias) and which of the four was the max (for the backward
// pass; relu(max) = max(relu), so the mask is `pooled > 0`).
//
// The thread loads its 6x6 input patch (`inputs`) once; the filter weights (channel and tap from the
// loop counters) are uniform loads, so a per-thread load serves 4 * TAPS * CHANNELS / 36
// multiply-adds.

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> sample_index: array<u32>;
@group(0) @binding(2) var<storage, read> pixels: array<u32>;
@group(0) @binding(3) var<storage, read> conv_w: array<f32>; // CHANNELS x TAPS
@group(0) @binding(4) var<storage, read> conv_b: array<f32>; // CHANNELS
@group(0) @binding(5) var<storage, read_write> pooled: array<f32>;     // count x FEATURES
@group(0) @binding(6) var<storage, read_write> pool_choice: array<u32>; // count x FEATURES

const PATCH: u32 = 6u; // KERNEL + 1: the inputs of a 2x2 block of convolution outputs

@compute @workgroup_size(64)
fn conv_pool_forward(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x;
    if index >= batch.count * POOLED {
        return;
    }
    let row = index / POOLED;
    let position = index % POOLED;
    let top = 2u * (position / POOLED_SIDE);
    let left = 2u * (position % POOLED_SIDE);
    let image_base = sample_index[batch.start + row] * PIXELS;
    var inputs: array<f32, 36>;
    for (var y = 0u; y < PATCH; y++) {
        for (var x = 0u; x < PATCH; x++) {
            inputs[y * PATCH + x] = pixel(image_base, (top + y) * SIDE + left + x);
        }
    }
    let out = row * FEATURES + position;
    for (var channel = 0u; channel < CHANNELS; channel++) {
        var sums = vec4<f32>(0.0); // outputs (0,0), (0,1), (1,0), (1,1) of the block
        let weights = channel * TAPS;
        for (var ky = 0u; ky < KERNEL; ky++) {
            for (var kx = 0u; kx < KERNEL; kx++) {
                let weight = conv_w[weights + ky * KERNEL + kx];
                let at = ky * PATCH + kx;
                sums += weight * vec4<f32>(
                    inputs[at],
                    inputs[at + 1u],
                    inputs[at + PATCH],
                    inputs[at + PATCH + 1u],
                );
            }
        }
        // The first of equal maxima wins, as in the CPU port.
        var choice = 0u;
        var largest = sums.x;
        if sums.y > largest { choice = 1u; largest = sums.y; }
        if sums.z > largest { choice = 2u; largest = sums.z; }
        if sums.w > largest { choice = 3u; largest = sums.w; }
        pooled[out + channel * POOLED] = max(largest + conv_b[channel], 0.0);
        pool_choice[out + channel * POOLED] = choice;
    }
}
