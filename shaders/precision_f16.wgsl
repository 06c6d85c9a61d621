// Gradients and the parameters the engine binds in f16; the kernels update f32 master
// parameters (their `params`) and write the f16 copy after them. The first part of every
// kernel's module (`enable` must come before any declaration); only the kernels that write
// parameters bind `half_params`.
enable f16;

alias GradVec4 = vec4<f16>;

@group(0) @binding(9) var<storage, read_write> half_params: array<vec4<f16>>;

// Writes the f16 copy of vec4 `i` of the master parameters; lanes not in `lanes` (padding,
// frozen floats) keep what the copy holds.
fn store_half_params(i: u32, w: vec4<f32>, lanes: vec4<bool>) {
    if all(lanes) {
        half_params[i] = vec4<f16>(w);
    } else {
        half_params[i] = select(half_params[i], vec4<f16>(w), lanes);
    }
}
