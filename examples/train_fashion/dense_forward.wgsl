// Forward pass of the hidden dense layer: hidden = relu(W1 pooled + b1).
//
// A workgroup computes 64 units for ROW_TILE rows, one unit per thread. Rows come from the
// workgroup id, so their input loads are the same for every thread (uniform), and each weight
// a thread loads serves ROW_TILE rows. W1 is stored feature-major, so that the threads'
// weights of one feature are contiguous: CPU drivers such as lavapipe gather a scattered
// load lane by lane, and this forward pass also runs for every evaluation.

const ROW_TILE: u32 = 8u;

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> pooled: array<f32>;      // count x FEATURES
@group(0) @binding(2) var<storage, read> w1: array<f32>;          // FEATURES x HIDDEN
@group(0) @binding(3) var<storage, read> b1: array<f32>;          // HIDDEN
@group(0) @binding(4) var<storage, read_write> hidden: array<f32>; // count x HIDDEN

@compute @workgroup_size(64)
fn dense_forward(
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(workgroup_id) group: vec3<u32>,
) {
    let unit = group.x * 64u + local.x;
    let first_row = group.y * ROW_TILE;
    if unit >= HIDDEN || first_row >= batch.count {
        return;
    }
    let last_row = batch.count - 1u;
    var inputs: array<u32, ROW_TILE>;
    for (var r = 0u; r < ROW_TILE; r++) {
        // Rows past the batch repeat its last row; their results are not stored.
        inputs[r] = min(first_row + r, last_row) * FEATURES;
    }
    var sums: array<f32, ROW_TILE>;
    for (var k = 0u; k < FEATURES; k++) {
        let weight = w1[k * HIDDEN + unit];
        for (var r = 0u; r < ROW_TILE; r++) {
            sums[r] += weight * pooled[inputs[r] + k];
        }
    }
    let bias = b1[unit];
    for (var r = 0u; r < ROW_TILE; r++) {
        let row = first_row + r;
        if row <= last_row {
            hidden[row * HIDDEN + unit] = max(sums[r] + bias, 0.0);
        }
    }
}
