// The mean loss and the number of correct predictions of a batch, in one workgroup: each
// thread sums a strided share of the rows, then a shared-memory tree in a fixed order, so the
// result is the same run after run. Written to `results[out_slot]`, where the optimizer's
// step reads the loss.

const THREADS: u32 = 256u;

@group(0) @binding(0) var<uniform> batch: BatchDesc;
@group(0) @binding(1) var<storage, read> sample_stats: array<vec2<f32>>; // (loss, correct) by row
@group(0) @binding(2) var<storage, read_write> results: array<vec2<f32>>; // (mean loss, correct)

var<workgroup> partial_sums: array<vec2<f32>, THREADS>;

@compute @workgroup_size(THREADS)
fn batch_loss(@builtin(local_invocation_index) lane: u32) {
    var sum = vec2<f32>(0.0);
    for (var row = lane; row < batch.count; row += THREADS) {
        sum += sample_stats[row];
    }
    partial_sums[lane] = sum;
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if lane < stride {
            partial_sums[lane] += partial_sums[lane + stride];
        }
        workgroupBarrier();
    }
    if lane == 0u {
        let total = partial_sums[0];
        results[batch.out_slot] = vec2<f32>(total.x * batch.inv_count, total.y);
    }
}
