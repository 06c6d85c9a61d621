// Pass 1: the squared norm of the trainable gradients in one window of the arena, as one
// partial per workgroup. No atomics: pass 2 sums the partials in a fixed order, so the norm
// is deterministic.

@group(0) @binding(0) var<uniform> cfg: AligUniforms;
@group(0) @binding(1) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> partials: array<Partial>;
@group(0) @binding(3) var<storage, read> chunk_table: array<u32>;

// Some chunk holds padding or a frozen tensor: only then is each chunk's entry looked up.
override MASKED: bool = true;

@compute @workgroup_size(WG_SIZE)
fn grad_sq_norm(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(local_invocation_id) local_id: vec3<u32>,
    @builtin(workgroup_id) workgroup_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
    rb: ReduceBuiltins,
) {
    var acc = blocked_sum();
    var max_bits = 0u;
    let stride = num_workgroups.x * WG_SIZE;
    for (var i = global_id.x; i < cfg.len_vec4; i = i + stride) {
        var g = grads[i];
        if MASKED {
            let chunk = chunk_of(chunk_table[cfg.chunk_base + (i >> VEC4_PER_CHUNK_LOG2)]);
            if chunk.trainable == 0u {
                continue;
            }
            g = select(vec4<f32>(0.0), g, trainable_lanes(chunk, i));
        }
        let bits = bitcast<vec4<u32>>(g) & vec4<u32>(0x7fffffffu);
        max_bits = max(max_bits, max(max(bits.x, bits.y), max(bits.z, bits.w)));
        blocked_add(&acc, g * g);
    }

    let total = workgroup_total(Partial(blocked_total(acc), max_bits), rb);
    if local_id.x == 0u {
        partials[cfg.partial_base + workgroup_id.x] = total;
    }
}
