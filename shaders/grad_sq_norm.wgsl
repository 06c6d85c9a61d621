// Pass 1: the squared norm of the trainable gradients in one window of the arena, as one
// partial per workgroup. No atomics: pass 2 sums the partials in a fixed order, so the norm
// is deterministic.

@group(0) @binding(0) var<uniform> cfg: AligUniforms;
@group(0) @binding(1) var<storage, read> grads: array<GradVec4>;
@group(0) @binding(2) var<storage, read_write> partials: array<Partial>;
@group(0) @binding(3) var<storage, read> chunk_table: array<u32>;

// Some chunk holds padding or a frozen tensor: only then is each chunk's entry looked up.
override MASKED: bool = true;

// The squares of the trainable lanes of vec4 `i` (< len_vec4), and the largest bit pattern
// of |g| seen.
fn squares(i: u32, max_bits: ptr<function, u32>) -> vec4<f32> {
    var g = vec4<f32>(grads[i]);
    if MASKED {
        let chunk = chunk_of(chunk_table[cfg.chunk_base + (i >> VEC4_PER_CHUNK_LOG2)]);
        g = select(vec4<f32>(0.0), g, trainable_lanes(chunk, i));
    }
    let bits = bitcast<vec4<u32>>(g) & vec4<u32>(0x7fffffffu);
    *max_bits = max(*max_bits, max(max(bits.x, bits.y), max(bits.z, bits.w)));
    return g * g;
}

@compute @workgroup_size(WG_SIZE)
fn grad_sq_norm(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(local_invocation_id) local_id: vec3<u32>,
    @builtin(workgroup_id) workgroup_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
    rb: ReduceBuiltins,
) {
    // Four accumulators, each taking every fourth of this thread's strided terms, and the
    // few left over into the first (`interleaved_sum_roundings` in src/summation.rs counts a
    // term's roundings: about a quarter of a running sum's). One loop and no inner one: a
    // blocked sum with an inner loop made this pass about 20% slower on lavapipe.
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var max_bits = 0u;
    let stride = num_workgroups.x * WG_SIZE;
    var i = global_id.x;
    for (; i + 3u * stride < cfg.len_vec4; i = i + 4u * stride) {
        a0 = a0 + squares(i, &max_bits);
        a1 = a1 + squares(i + stride, &max_bits);
        a2 = a2 + squares(i + 2u * stride, &max_bits);
        a3 = a3 + squares(i + 3u * stride, &max_bits);
    }
    for (; i < cfg.len_vec4; i = i + stride) {
        a0 = a0 + squares(i, &max_bits);
    }
    let sum = (a0 + a1) + (a2 + a3);

    let total = workgroup_totals(Totals(vec2<f32>(pairwise4(sum), 0.0), max_bits), rb);
    if local_id.x == 0u {
        // A window's workgroups are its partials: partial_base + workgroups <= num_partials.
        partials[cfg.partial_base + workgroup_id.x] = Partial(total.sums.x, total.max_bits);
    }
}
