// Forward pass of the output layer and the softmax cross-entropy, one thread per row:
// logits = W2 hidden + b2; the row's loss and whether its argmax is the label go to
// `sample_stats`, and d(mean loss)/d(logits), multiplied by the loss scale S, to `dlogits`
// for the backward pass (S is 1 unless the optimizer scales the loss: then every gradient the
// backward pass writes is S times the true one, which keeps small ones from vanishing in f16).

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> sample_index: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> hidden: array<f32>;              // count x HIDDEN
@group(0) @binding(4) var<storage, read> w2: array<Param>;                // CLASSES x HIDDEN, by row
@group(0) @binding(5) var<storage, read> b2: array<Param>;                // CLASSES
@group(0) @binding(6) var<storage, read_write> dlogits: array<f32>;       // count x CLASSES
@group(0) @binding(7) var<storage, read_write> sample_stats: array<vec2<f32>>; // (loss, correct)
@group(0) @binding(8) var<storage, read> loss_scale: f32;                // S

// log(1 + r) for r >= 0, accurate when r is tiny: near interpolation the loss is such an r,
// and 1 + r would round it away in f32. The series' first dropped term is r^4 / 4.
fn log1p_nonnegative(r: f32) -> f32 {
    if r < 1e-3 {
        return r * (1.0 - r * (0.5 - r / 3.0));
    }
    return log(1.0 + r);
}

@compute @workgroup_size(64)
fn output_forward(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    if row >= batch.count {
        return;
    }
    let label = labels[sample_index[batch.start + row]];
    let activations = row * HIDDEN;

    var logits: array<f32, CLASSES>;
    var top = 0u;
    for (var c = 0u; c < CLASSES; c++) {
        let weights = c * HIDDEN;
        var sum = f32(b2[c]);
        for (var j = 0u; j < HIDDEN; j++) {
            sum += f32(w2[weights + j]) * hidden[activations + j];
        }
        logits[c] = sum;
        if sum > logits[top] {
            top = c;
        }
    }

    // Shifted by the largest logit so that no exp overflows.
    let largest = logits[top];
    var others = 0.0; // sum of exp(logit - largest) over the wrong classes
    for (var c = 0u; c < CLASSES; c++) {
        if c != label {
            others += exp(logits[c] - largest);
        }
    }
    let label_shift = logits[label] - largest; // <= 0
    let label_exp = exp(label_shift);
    let normalizer = label_exp + others;
    // loss = log(normalizer) - label_shift = log(1 + others / label_exp); the second form keeps
    // tiny losses exact, the first stays finite when label_exp underflows.
    var loss: f32;
    if label_shift > -60.0 {
        loss = log1p_nonnegative(others / label_exp);
    } else {
        loss = log(normalizer) - label_shift;
    }

    // d loss / d logit_c = softmax_c - [c == label]; for the label that is minus the
    // probability of the other classes, computed directly to keep it exact near zero.
    let scale = batch.inv_count / normalizer * loss_scale;
    for (var c = 0u; c < CLASSES; c++) {
        var gradient: f32;
        if c == label {
            gradient = -others * scale;
        } else {
            gradient = exp(logits[c] - largest) * scale;
        }
        dlogits[row * CLASSES + c] = gradient;
    }
    sample_stats[row] = vec2<f32>(loss, select(0.0, 1.0, top == label));
}
