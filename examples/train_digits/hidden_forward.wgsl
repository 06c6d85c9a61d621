// Forward pass of the hidden layer: hidden = relu(W1 x + b1).
//
// A workgroup computes 64 units for ROW_TILE rows, one unit per thread. Rows come from the
// workgroup id, so their pixel loads are the same for every thread (uniform), and each weight
// a thread loads serves ROW_TILE rows: CPU drivers such as lavapipe gather a per-thread load
// lane by lane, and this keeps those loads to one per ROW_TILE multiply-adds.

const ROW_TILE: u32 = 8u;

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> sample_index: array<u32>;
@group(0) @binding(2) var<storage, read> images: array<f32>;      // INPUTS per sample
@group(0) @binding(3) var<storage, read> w1: array<Param>;        // HIDDEN x INPUTS, by row
@group(0) @binding(4) var<storage, read> b1: array<Param>;        // HIDDEN
@group(0) @binding(5) var<storage, read_write> hidden: array<f32>; // count x HIDDEN

@compute @workgroup_size(64)
fn hidden_forward(
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(workgroup_id) group: vec3<u32>,
) {
    let unit = group.x * 64u + local.x;
    let first_row = group.y * ROW_TILE;
    if unit >= HIDDEN || first_row >= batch.count {
        return;
    }
    let last_row = batch.count - 1u;
    var pixels: array<u32, ROW_TILE>;
    for (var r = 0u; r < ROW_TILE; r++) {
        // Rows past the batch repeat its last row; their results are not stored.
        pixels[r] = sample_index[batch.start + min(first_row + r, last_row)] * INPUTS;
    }
    var sums: array<f32, ROW_TILE>;
    let weights = unit * INPUTS;
    for (var k = 0u; k < INPUTS; k++) {
        let weight = f32(w1[weights + k]);
        for (var r = 0u; r < ROW_TILE; r++) {
            sums[r] += weight * images[pixels[r] + k];
        }
    }
    let bias = f32(b1[unit]);
    for (var r = 0u; r < ROW_TILE; r++) {
        let row = first_row + r;
        if row <= last_row {
            hidden[row * HIDDEN + unit] = max(sums[r] + bias, 0.0);
        }
    }
}
