// Back-propagates through the hidden dense layer and the ReLU after the pool:
// dpooled = (W1^T dhidden) where the pooled value is positive, 0 elsewhere.
//
// A workgroup handles 64 features for ROW_TILE rows, one feature per thread: each weight
// the thread loads serves ROW_TILE rows, and the rows' dhidden are uniform loads.

const ROW_TILE: u32 = 8u;

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> pooled: array<f32>;  // count x FEATURES
@group(0) @binding(2) var<storage, read> dhidden: array<f32>; // count x HIDDEN
@group(0) @binding(3) var<storage, read> w1: array<f32>;      // FEATURES x HIDDEN
@group(0) @binding(4) var<storage, read_write> dpooled: array<f32>; // count x FEATURES

@compute @workgroup_size(64)
fn pooled_backward(
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(workgroup_id) group: vec3<u32>,
) {
    let feature = group.x * 64u + local.x;
    let first_row = group.y * ROW_TILE;
    if feature >= FEATURES || first_row >= batch.count {
        return;
    }
    let last_row = batch.count - 1u;
    var sums: array<f32, ROW_TILE>;
    for (var unit = 0u; unit < HIDDEN; unit++) {
        let weight = w1[feature * HIDDEN + unit];
        for (var r = 0u; r < ROW_TILE; r++) {
            // Rows past the batch repeat its last row; their results are not stored.
            sums[r] += weight * dhidden[min(first_row + r, last_row) * HIDDEN + unit];
        }
    }
    for (var r = 0u; r < ROW_TILE; r++) {
        let row = first_row + r;
        if row <= last_row {
            let i = row * FEATURES + feature;
            dpooled[i] = select(0.0, sums[r], pooled[i] > 0.0);
        }
    }
}
