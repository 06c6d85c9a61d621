// Pass 1: the squared norm of the trainable gradients in one window of the arena, as one
// partial per workgroup. No atomics: pass 2 sums the partials in a fixed order, so the norm
// is deterministic.

@group(0) @binding(0) var<uniform> cfg: AligUniforms;
@group(0) @binding(1) var<storage, read> grads: array<GradVec4>;
@group(0) @binding(2) var<storage, read_write> partials: array<Partial>;
@group(0) @binding(3) var<storage, read> chunk_table: array<u32>;

// Some chunk holds padding or a frozen tensor: only then is each chunk's entry looked up.
override MASKED: bool = true;

// The squares of the trainable lanes of vec4 `i`, and the largest bit pattern of |g| seen.
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
    // Blocks of BLOCK_TERMS strided loads, each summed into a fresh accumulator (the shape of
    // `BlockedSum` in common.wgsl). A whole block has a fixed trip count and no bounds test,
    // so a driver can unroll it; only the last block of a thread tests each load.
    var sum = vec4<f32>(0.0);
    var max_bits = 0u;
    let stride = num_workgroups.x * WG_SIZE;
    for (var first = global_id.x; first < cfg.len_vec4; first = first + stride * BLOCK_TERMS) {
        var block = vec4<f32>(0.0);
        if first + (BLOCK_TERMS - 1u) * stride < cfg.len_vec4 {
            for (var k = 0u; k < BLOCK_TERMS; k = k + 1u) {
                block = block + squares(first + k * stride, &max_bits);
            }
        } else {
            for (var i = first; i < cfg.len_vec4; i = i + stride) {
                block = block + squares(i, &max_bits);
            }
        }
        sum = sum + block;
    }

    let total = workgroup_total(Partial(pairwise4(sum), max_bits), rb);
    if local_id.x == 0u {
        partials[cfg.partial_base + workgroup_id.x] = total;
    }
}
