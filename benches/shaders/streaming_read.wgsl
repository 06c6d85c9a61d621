// Roofline of pass 1: reads every gradient once, like `grad_sq_norm`, with no arithmetic to
// speak of and no reduction. The store below never runs on finite data; it only keeps the
// compiler from dropping the loads. After the crate's precision prelude (`GradVec4`: f32 or
// f16 gradients, summed in f32 as `grad_sq_norm` sums them).

@group(0) @binding(0) var<storage, read> grads: array<GradVec4>;
@group(0) @binding(1) var<storage, read_write> sink: array<vec4<f32>>;

const WG_SIZE: u32 = 256u;
// No sum of gradients reaches this, so the store is dead at run time but not at compile time.
const UNREACHABLE_SUM: f32 = 3.0e38;
// Nor is this (a NaN's bits) ever the largest |g| bit pattern of the benchmark's finite
// gradients; it could be for other data, so the compiler cannot drop the max.
const UNREACHABLE_BITS: u32 = 0x7f800001u;

@compute @workgroup_size(WG_SIZE)
fn streaming_read(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let len = arrayLength(&grads);
    let stride = num_workgroups.x * WG_SIZE;
    var sum = vec4<f32>(0.0);
    for (var i = global_id.x; i < len; i = i + stride) {
        sum = sum + vec4<f32>(grads[i]);
    }
    if (sum.x + sum.y) + (sum.z + sum.w) == UNREACHABLE_SUM {
        sink[0] = sum;
    }
}

// The same with one workgroup barrier and nothing else added (see `streaming_update.wgsl`).
@compute @workgroup_size(WG_SIZE)
fn streaming_read_barrier(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let len = arrayLength(&grads);
    let stride = num_workgroups.x * WG_SIZE;
    var sum = vec4<f32>(0.0);
    for (var i = global_id.x; i < len; i = i + stride) {
        sum = sum + vec4<f32>(grads[i]);
    }
    workgroupBarrier();
    if (sum.x + sum.y) + (sum.z + sum.w) == UNREACHABLE_SUM {
        sink[0] = sum;
    }
}

// The read with pass 1's per-element work and no reduction: a Kahan-compensated sum of g*g
// and the largest bit pattern of |g| per thread, as `grad_sq_norm` accumulates them.
@compute @workgroup_size(WG_SIZE)
fn streaming_read_arithmetic(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let sum = compensated_sq_sum(global_id.x, num_workgroups.x * WG_SIZE);
    if sum.x == UNREACHABLE_SUM || bitcast<u32>(sum.z) == UNREACHABLE_BITS {
        sink[0] = sum;
    }
}

// The same with one workgroup barrier added.
@compute @workgroup_size(WG_SIZE)
fn streaming_read_arithmetic_barrier(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let sum = compensated_sq_sum(global_id.x, num_workgroups.x * WG_SIZE);
    workgroupBarrier();
    if sum.x == UNREACHABLE_SUM || bitcast<u32>(sum.z) == UNREACHABLE_BITS {
        sink[0] = sum;
    }
}

// (sum of g*g, compensation, largest |g| bits, 0) over a grid-stride share.
fn compensated_sq_sum(first: u32, stride: u32) -> vec4<f32> {
    let len = arrayLength(&grads);
    var sum = vec4<f32>(0.0);
    var compensation = vec4<f32>(0.0);
    var max_bits = 0u;
    for (var i = first; i < len; i = i + stride) {
        let g = vec4<f32>(grads[i]);
        let bits = bitcast<vec4<u32>>(g) & vec4<u32>(0x7fffffffu);
        max_bits = max(max_bits, max(max(bits.x, bits.y), max(bits.z, bits.w)));
        let y = g * g - compensation;
        let t = sum + y;
        compensation = (t - sum) - y;
        sum = t;
    }
    let lanes = sum - compensation;
    return vec4<f32>((lanes.x + lanes.y) + (lanes.z + lanes.w), 0.0, bitcast<f32>(max_bits), 0.0);
}
