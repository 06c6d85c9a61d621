// The baseline's update: one dispatch per tensor, with the step size the host computed from
// the norm it read back. Same update rules as the crate (momentum: the Nesterov form). After
// the crate's precision prelude: f32 or f16 gradients, and with `Precision::F16` the f16
// copy of the parameters written after the f32 ones (`store_half_params`).

struct StepSize {
    gamma: f32,
    momentum: f32,
    _pad0: f32,
    _pad1: f32,
}

@group(0) @binding(0) var<uniform> step: StepSize;
@group(0) @binding(1) var<storage, read> grads: array<GradVec4>;
@group(0) @binding(2) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> momentum: array<vec4<f32>>;

const WG_SIZE: u32 = 256u;

// w <- w - gamma*g
@compute @workgroup_size(WG_SIZE)
fn naive_sgd_update(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let len = arrayLength(&params);
    let stride = num_workgroups.x * WG_SIZE;
    for (var i = global_id.x; i < len; i = i + stride) {
        let w = params[i] - step.gamma * vec4<f32>(grads[i]);
        params[i] = w;
        store_half_params(i, w, vec4<bool>(true));
    }
}

// z <- mu*z - gamma*g ;  w <- w - gamma*g + mu*z
@compute @workgroup_size(WG_SIZE)
fn naive_momentum_update(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let len = arrayLength(&params);
    let stride = num_workgroups.x * WG_SIZE;
    let gamma = step.gamma;
    let mu = step.momentum;
    for (var i = global_id.x; i < len; i = i + stride) {
        let s = gamma * vec4<f32>(grads[i]);
        let z = mu * momentum[i] - s;
        momentum[i] = z;
        let w = (params[i] - s) + mu * z;
        params[i] = w;
        store_half_params(i, w, vec4<bool>(true));
    }
}
