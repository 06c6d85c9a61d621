// Loss and gradient of least squares, 0.5 * mean((X w + b - y)^2), in one workgroup: small
// enough for a quickstart, and the loss lands in a GPU buffer that the optimizer reads.

override NUM_SAMPLES: u32;
override NUM_FEATURES: u32;
const THREADS: u32 = 256u;
const MAX_SAMPLES: u32 = 1024u;

@group(0) @binding(0) var<storage, read> features: array<f32>; // NUM_SAMPLES x NUM_FEATURES
@group(0) @binding(1) var<storage, read> targets: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;      // the arena's "w"
@group(0) @binding(3) var<storage, read> bias: array<f32>;         // the arena's "b"
@group(0) @binding(4) var<storage, read_write> weights_grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> bias_grad: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;

var<workgroup> residuals: array<f32, MAX_SAMPLES>;

@compute @workgroup_size(THREADS)
fn least_squares(@builtin(local_invocation_index) thread: u32) {
    for (var i = thread; i < NUM_SAMPLES; i = i + THREADS) {
        var prediction = bias[0];
        for (var j = 0u; j < NUM_FEATURES; j = j + 1u) {
            prediction = prediction + features[i * NUM_FEATURES + j] * weights[j];
        }
        residuals[i] = prediction - targets[i];
    }
    workgroupBarrier();

    let scale = 1.0 / f32(NUM_SAMPLES);
    if thread < NUM_FEATURES {
        var sum = 0.0;
        for (var i = 0u; i < NUM_SAMPLES; i = i + 1u) {
            sum = sum + residuals[i] * features[i * NUM_FEATURES + thread];
        }
        weights_grad[thread] = sum * scale;
    } else if thread == NUM_FEATURES {
        var sum = 0.0;
        for (var i = 0u; i < NUM_SAMPLES; i = i + 1u) {
            sum = sum + residuals[i];
        }
        bias_grad[0] = sum * scale;
    } else if thread == NUM_FEATURES + 1u {
        var sum = 0.0;
        for (var i = 0u; i < NUM_SAMPLES; i = i + 1u) {
            sum = sum + residuals[i] * residuals[i];
        }
        loss[0] = 0.5 * sum * scale;
    }
}
