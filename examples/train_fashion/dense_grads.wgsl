// Gradients of the hidden dense layer, overwriting the arena's grads: dW1 = dhidden^T pooled
// and db1 = the column sums of dhidden.
//
// A workgroup handles UNIT_TILE units (from group.x) for 64 features (group.y), one feature
// per thread: per row, each thread loads its input once and the units' dhidden are uniform
// loads, so a per-thread load serves UNIT_TILE multiply-adds.

const UNIT_TILE: u32 = 8u;

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> pooled: array<f32>;  // count x FEATURES
@group(0) @binding(2) var<storage, read> dhidden: array<f32>; // count x HIDDEN
@group(0) @binding(3) var<storage, read_write> dw1: array<f32>; // FEATURES x HIDDEN
@group(0) @binding(4) var<storage, read_write> db1: array<f32>; // HIDDEN

@compute @workgroup_size(64)
fn dense_grads(
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(workgroup_id) group: vec3<u32>,
) {
    let feature = group.y * 64u + local.x;
    if feature >= FEATURES {
        return;
    }
    let first_unit = group.x * UNIT_TILE;
    let last_unit = HIDDEN - 1u;
    var weight_sums: array<f32, UNIT_TILE>;
    var bias_sums: array<f32, UNIT_TILE>;
    for (var row = 0u; row < batch.count; row++) {
        let x = pooled[row * FEATURES + feature];
        let deltas = row * HIDDEN;
        for (var u = 0u; u < UNIT_TILE; u++) {
            // Units past the layer repeat its last unit; their results are not stored.
            let delta = dhidden[deltas + min(first_unit + u, last_unit)];
            weight_sums[u] += delta * x;
            bias_sums[u] += delta;
        }
    }
    for (var u = 0u; u < UNIT_TILE; u++) {
        let unit = first_unit + u;
        if unit <= last_unit {
            dw1[feature * HIDDEN + unit] = weight_sums[u];
            if feature == 0u {
                db1[unit] = bias_sums[u];
            }
        }
    }
}
