// Adam's step, kept on the GPU: one thread advances the bias corrections to the next step
// before each update (a separate dispatch, so that every thread of the update reads the
// same values). With c_t = 1 - beta^t, c_{t+1} = (1 - beta) + beta c_t: a sum of positive
// terms, where 1 - pow(beta, t) in f32 would lose most of its digits to the cancellation
// (1 - 0.999^t is 1e-3 at t = 1) and to pow's loose precision.

@group(0) @binding(0) var<uniform> uniforms: AdamUniforms;
@group(0) @binding(1) var<storage, read_write> corrections: BiasCorrections;

@compute @workgroup_size(1)
fn adam_tick() {
    corrections.first = (1.0 - uniforms.beta1) + uniforms.beta1 * corrections.first;
    corrections.second = (1.0 - uniforms.beta2) + uniforms.beta2 * corrections.second;
}
