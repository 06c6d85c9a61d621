// Gradients of the output layer, overwriting the arena's grads: dW2 = dlogits^T hidden and
// db2 = the column sums of dlogits.
//
// One thread per hidden unit computes that unit's column of dW2 for every class: per row it
// loads its activation once, and the row's dlogits are uniform loads.

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> hidden: array<f32>;  // count x HIDDEN
@group(0) @binding(2) var<storage, read> dlogits: array<f32>; // count x CLASSES
@group(0) @binding(3) var<storage, read_write> dw2: array<Grad>; // CLASSES x HIDDEN
@group(0) @binding(4) var<storage, read_write> db2: array<Grad>; // CLASSES

@compute @workgroup_size(64)
fn output_grads(@builtin(global_invocation_id) id: vec3<u32>) {
    let unit = id.x;
    if unit >= HIDDEN {
        return;
    }
    var weight_sums: array<f32, CLASSES>;
    var bias_sums: array<f32, CLASSES>;
    for (var row = 0u; row < batch.count; row++) {
        let activation = hidden[row * HIDDEN + unit];
        for (var c = 0u; c < CLASSES; c++) {
            let delta = dlogits[row * CLASSES + c];
            weight_sums[c] += delta * activation;
            bias_sums[c] += delta;
        }
    }
    for (var c = 0u; c < CLASSES; c++) {
        dw2[c * HIDDEN + unit] = Grad(weight_sums[c]);
    }
    if unit == 0u {
        for (var c = 0u; c < CLASSES; c++) {
            db2[c] = Grad(bias_sums[c]);
        }
    }
}
