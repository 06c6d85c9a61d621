// Pass 1: the squared norm of every gradient in one window of the arena (the whole arena
// when it fits in one storage binding), as one partial per workgroup. No atomics: pass 2 sums
// the partials in a fixed order, so the norm is deterministic.

@group(0) @binding(0) var<uniform> cfg: AligUniforms;
@group(0) @binding(1) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> partials: array<Partial>;

@compute @workgroup_size(WG_SIZE)
fn grad_sq_norm(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(local_invocation_id) local_id: vec3<u32>,
    @builtin(workgroup_id) workgroup_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
    rb: ReduceBuiltins,
) {
    // Kahan-compensated sum per vec4 lane: a thread adds hundreds of terms on large arenas,
    // and the plain f32 sum would lose ~1e-5 of the norm there.
    var sum = vec4<f32>(0.0);
    var compensation = vec4<f32>(0.0);
    var max_bits = 0u;
    let stride = num_workgroups.x * WG_SIZE;
    for (var i = global_id.x; i < cfg.len_vec4; i = i + stride) {
        let g = grads[i];
        let bits = bitcast<vec4<u32>>(g) & vec4<u32>(0x7fffffffu);
        max_bits = max(max_bits, max(max(bits.x, bits.y), max(bits.z, bits.w)));
        let y = g * g - compensation;
        let t = sum + y;
        compensation = (t - sum) - y;
        sum = t;
    }
    let lanes = sum - compensation;
    let thread_sum = (lanes.x + lanes.y) + (lanes.z + lanes.w);

    let total = workgroup_reduce(Partial(thread_sum, max_bits), rb);
    if local_id.x == 0u {
        partials[cfg.partial_base + workgroup_id.x] = total;
    }
}
