// The Adam baseline (Kingma and Ba 2015, as `torch.optim.Adam` without weight decay): one
// dispatch over the whole arena, one thread per vec4:
//     m <- beta1 m + (1 - beta1) g ;  v <- beta2 v + (1 - beta2) g^2
//     w <- w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// The bias corrections of step t are on the GPU (`adam_tick` advances them before each
// update), so the host writes nothing per step. The arena's padding holds zero gradients,
// so it stays zero. Declarations in adam_uniforms.wgsl.

@group(0) @binding(0) var<uniform> uniforms: AdamUniforms;
@group(0) @binding(1) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> first_moment: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> second_moment: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> corrections: BiasCorrections;

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= uniforms.len_vec4 {
        return;
    }
    let g = grads[i];
    let m = uniforms.beta1 * first_moment[i] + (1.0 - uniforms.beta1) * g;
    let v = uniforms.beta2 * second_moment[i] + (1.0 - uniforms.beta2) * g * g;
    first_moment[i] = m;
    second_moment[i] = v;
    let m_hat = m / corrections.first;
    let v_hat = v / corrections.second;
    params[i] -= uniforms.lr * m_hat / (sqrt(v_hat) + uniforms.eps);
}
