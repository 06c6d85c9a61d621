// Roofline of pass 1: reads every gradient once, like `grad_sq_norm`, with no arithmetic to
// speak of and no reduction. The store below never runs on finite data; it only keeps the
// compiler from dropping the loads.

@group(0) @binding(0) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> sink: array<vec4<f32>>;

const WG_SIZE: u32 = 256u;
// No sum of gradients reaches this, so the store is dead at run time but not at compile time.
const UNREACHABLE_SUM: f32 = 3.0e38;

@compute @workgroup_size(WG_SIZE)
fn streaming_read(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let len = arrayLength(&grads);
    let stride = num_workgroups.x * WG_SIZE;
    var sum = vec4<f32>(0.0);
    for (var i = global_id.x; i < len; i = i + stride) {
        sum = sum + grads[i];
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
        sum = sum + grads[i];
    }
    workgroupBarrier();
    if (sum.x + sum.y) + (sum.z + sum.w) == UNREACHABLE_SUM {
        sink[0] = sum;
    }
}
