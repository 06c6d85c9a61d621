// The Adam baseline (Kingma and Ba 2015, as `torch.optim.Adam` without weight decay): one
// dispatch over the whole arena, one thread per vec4:
//     m <- beta1 m + (1 - beta1) g ;  v <- beta2 v + (1 - beta2) g^2
//     w <- w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// The step number t is on the GPU (`adam_tick` adds one before each update), so the host
// writes nothing per step. The arena's padding holds zero gradients, so it stays zero.
// `AdamUniforms` has a `#[repr(C)]` twin in adam.rs.

struct AdamUniforms {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    len_vec4: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> uniforms: AdamUniforms;
@group(0) @binding(1) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> first_moment: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> second_moment: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> step_count: array<u32>; // [t], from 1

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= uniforms.len_vec4 {
        return;
    }
    let t = f32(step_count[0]);
    let g = grads[i];
    let m = uniforms.beta1 * first_moment[i] + (1.0 - uniforms.beta1) * g;
    let v = uniforms.beta2 * second_moment[i] + (1.0 - uniforms.beta2) * g * g;
    first_moment[i] = m;
    second_moment[i] = v;
    let m_hat = m / (1.0 - pow(uniforms.beta1, t));
    let v_hat = v / (1.0 - pow(uniforms.beta2, t));
    params[i] -= uniforms.lr * m_hat / (sqrt(v_hat) + uniforms.eps);
}
