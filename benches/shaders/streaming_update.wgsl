// Roofline of pass 2: reads w and g (and z) and writes w (and z) once each, like
// `alig_update`, with one add per value instead of the ALI-G arithmetic. Every stored value
// depends on every load, so none can be dropped. After the crate's precision prelude
// (`GradVec4`, and `store_half_params`, which with `Precision::F16` writes the f16 copy of w
// as `alig_update` does, and elsewhere nothing).

@group(0) @binding(0) var<storage, read> grads: array<GradVec4>;
@group(0) @binding(1) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> momentum: array<vec4<f32>>;

const WG_SIZE: u32 = 256u;

// Without momentum: read w, g; write w.
@compute @workgroup_size(WG_SIZE)
fn streaming_update(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let len = arrayLength(&params);
    let stride = num_workgroups.x * WG_SIZE;
    for (var i = global_id.x; i < len; i = i + stride) {
        let w = params[i] + vec4<f32>(grads[i]);
        params[i] = w;
        store_half_params(i, w, vec4<bool>(true));
    }
}

// With momentum: read w, g, z; write w, z.
@compute @workgroup_size(WG_SIZE)
fn streaming_update_momentum(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let len = arrayLength(&params);
    let stride = num_workgroups.x * WG_SIZE;
    for (var i = global_id.x; i < len; i = i + stride) {
        let g = vec4<f32>(grads[i]);
        let z = momentum[i] + g;
        momentum[i] = z;
        let w = params[i] + z;
        params[i] = w;
        store_half_params(i, w, vec4<bool>(true));
    }
}

// The momentum kernel with one workgroup barrier and nothing else added: the benchmark's
// measure of what a barrier alone costs on the adapter. Each pass of the step needs one: pass
// 1 to combine its threads' sums, pass 2 to share the sum of pass 1's partials (and a second
// with projection on, for its ||w||^2 partial).
@compute @workgroup_size(WG_SIZE)
fn streaming_update_momentum_barrier(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    workgroupBarrier();
    let len = arrayLength(&params);
    let stride = num_workgroups.x * WG_SIZE;
    for (var i = global_id.x; i < len; i = i + stride) {
        let g = vec4<f32>(grads[i]);
        let z = momentum[i] + g;
        momentum[i] = z;
        let w = params[i] + z;
        params[i] = w;
        store_half_params(i, w, vec4<bool>(true));
    }
}

// Pass 2's per-element work with momentum (Nesterov, as `alig_update` with one group) and a
// fixed step size in place of the one pass 2 computes from the partials.
const GAMMA: f32 = 1.0e-3;
const MU: f32 = 0.9;

@compute @workgroup_size(WG_SIZE)
fn streaming_update_momentum_arithmetic(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    alig_update_share(global_id.x, num_workgroups.x * WG_SIZE);
}

// The same with one workgroup barrier added.
@compute @workgroup_size(WG_SIZE)
fn streaming_update_momentum_arithmetic_barrier(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    workgroupBarrier();
    alig_update_share(global_id.x, num_workgroups.x * WG_SIZE);
}

// z <- mu*z - gamma*g ;  w <- w - gamma*g + mu*z over a grid-stride share.
fn alig_update_share(first: u32, stride: u32) {
    let len = arrayLength(&params);
    for (var i = first; i < len; i = i + stride) {
        let step = GAMMA * vec4<f32>(grads[i]);
        let z = MU * momentum[i] - step;
        momentum[i] = z;
        let w = (params[i] - step) + MU * z;
        params[i] = w;
        store_half_params(i, w, vec4<bool>(true));
    }
}
