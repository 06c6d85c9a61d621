// The SGD baseline: one dispatch over the whole arena, one thread per vec4, with Nesterov
// momentum as in `torch.optim.SGD(nesterov=True)`:
//     v <- momentum * v + g ;  w <- w - lr * (g + momentum * v)
// The arena's padding holds zero gradients, so it stays zero. `SgdUniforms` has a
// `#[repr(C)]` twin in sgd.rs.

struct SgdUniforms {
    lr: f32,
    momentum: f32,
    len_vec4: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> uniforms: SgdUniforms;
@group(0) @binding(1) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> velocity: array<vec4<f32>>;

@compute @workgroup_size(256)
fn sgd_momentum(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= uniforms.len_vec4 {
        return;
    }
    let g = grads[i];
    let v = uniforms.momentum * velocity[i] + g;
    velocity[i] = v;
    params[i] -= uniforms.lr * (g + uniforms.momentum * v);
}
