// Back-propagates through the output layer and the ReLU: dhidden = (W2^T dlogits) where the
// unit was active, 0 elsewhere.
//
// A workgroup handles 64 units for ROW_TILE rows, one unit per thread: the thread's column
// of W2 is loaded once, and the rows' dlogits (from the workgroup id) are uniform loads.

const ROW_TILE: u32 = 8u;

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> hidden: array<f32>;  // count x HIDDEN, after the ReLU
@group(0) @binding(2) var<storage, read> dlogits: array<f32>; // count x CLASSES
@group(0) @binding(3) var<storage, read> w2: array<Param>;    // CLASSES x HIDDEN
@group(0) @binding(4) var<storage, read_write> dhidden: array<f32>; // count x HIDDEN

@compute @workgroup_size(64)
fn hidden_backward(
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(workgroup_id) group: vec3<u32>,
) {
    let unit = group.x * 64u + local.x;
    let first_row = group.y * ROW_TILE;
    if unit >= HIDDEN {
        return;
    }
    var column: array<f32, CLASSES>;
    for (var c = 0u; c < CLASSES; c++) {
        column[c] = f32(w2[c * HIDDEN + unit]);
    }
    let end_row = min(first_row + ROW_TILE, batch.count);
    for (var row = first_row; row < end_row; row++) {
        let i = row * HIDDEN + unit;
        var sum = 0.0;
        if hidden[i] > 0.0 {
            for (var c = 0u; c < CLASSES; c++) {
                sum += column[c] * dlogits[row * CLASSES + c];
            }
        }
        dhidden[i] = sum;
    }
}
