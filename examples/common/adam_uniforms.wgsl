// The uniforms of the Adam kernels (`adam_tick`, `adam`), with a `#[repr(C)]` twin in
// adam.rs, and their state: the bias corrections 1 - beta1^t and 1 - beta2^t of step t.

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

struct BiasCorrections {
    first: f32,  // 1 - beta1^t
    second: f32, // 1 - beta2^t
}
