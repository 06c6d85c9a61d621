// Gradients of the hidden layer, overwriting the arena's grads: dW1 = dhidden^T x and
// db1 = the column sums of dhidden.
//
// A workgroup handles UNIT_TILE units, one pixel per thread (INPUTS = 64 threads): per row,
// each thread loads its pixel once and the units' dhidden (from the workgroup id) are uniform
// loads, so a per-thread load serves UNIT_TILE multiply-adds.

const UNIT_TILE: u32 = 8u;

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> sample_index: array<u32>;
@group(0) @binding(2) var<storage, read> images: array<f32>;  // INPUTS per sample
@group(0) @binding(3) var<storage, read> dhidden: array<f32>; // count x HIDDEN
@group(0) @binding(4) var<storage, read_write> dw1: array<Grad>; // HIDDEN x INPUTS
@group(0) @binding(5) var<storage, read_write> db1: array<Grad>; // HIDDEN

@compute @workgroup_size(64)
fn input_grads(
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(workgroup_id) group: vec3<u32>,
) {
    let pixel = local.x;
    let first_unit = group.x * UNIT_TILE;
    let last_unit = HIDDEN - 1u;
    var weight_sums: array<f32, UNIT_TILE>;
    var bias_sums: array<f32, UNIT_TILE>;
    for (var row = 0u; row < batch.count; row++) {
        let x = images[sample_index[batch.start + row] * INPUTS + pixel];
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
            dw1[unit * INPUTS + pixel] = Grad(weight_sums[u]);
            if pixel == 0u {
                db1[unit] = Grad(bias_sums[u]);
            }
        }
    }
}
