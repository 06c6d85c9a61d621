// Pass 3, only with projection on: every workgroup sums the ||w||^2 partials of pass 2 in
// the same order and, if ||w|| > max_norm, scales its share of the trainable parameters
// of one window by max_norm / ||w||. A skipped step is not projected.

@group(0) @binding(0) var<uniform> cfg: AligUniforms;
@group(0) @binding(1) var<storage, read> partials: array<Partial>;
@group(0) @binding(2) var<storage, read_write> state: StepState;
@group(0) @binding(3) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> chunk_table: array<u32>;

// Some chunk holds padding or a frozen tensor: only then is each chunk's entry looked up.
override MASKED: bool = true;

@compute @workgroup_size(WG_SIZE)
fn project_params(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(local_invocation_id) local_id: vec3<u32>,
    @builtin(workgroup_id) workgroup_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    var slice = blocked_sum();
    if local_id.x < PARTIAL_SLICES {
        for (var p = local_id.x; p < cfg.num_partials; p = p + PARTIAL_SLICES) {
            let partial = partials[cfg.num_partials + p].sq_sum;
            blocked_add(&slice, vec4<f32>(partial, 0.0, 0.0, 0.0));
        }
    }
    let param_sq_norm = sum_slices(Partial(blocked_total(slice), 0u), local_id.x).sq_sum;

    let record = (state.steps - 1u) % cfg.stats_capacity;
    if (state.records[record].flags & SKIP_MASK) != 0u {
        return;
    }
    if (cfg.options & OPTION_WRITES_RECORD) != 0u && workgroup_id.x == 0u && local_id.x == 0u {
        state.records[record].param_sq_norm = param_sq_norm;
    }
    // A non-finite norm would scale every parameter to zero or NaN: leave them be.
    if !is_finite_f32(param_sq_norm) || param_sq_norm <= cfg.max_norm * cfg.max_norm {
        return;
    }
    let scale = cfg.max_norm / sqrt(param_sq_norm);
    let stride = num_workgroups.x * WG_SIZE;
    for (var i = global_id.x; i < cfg.len_vec4; i = i + stride) {
        if MASKED {
            let chunk = chunk_of(chunk_table[cfg.chunk_base + (i >> VEC4_PER_CHUNK_LOG2)]);
            if chunk.trainable != 0u {
                let w = params[i];
                let lanes = trainable_lanes(chunk, i);
                params[i] = select(w, w * scale, lanes);
                store_half_params(i, w * scale, lanes);
            }
        } else {
            let w = params[i] * scale;
            params[i] = w;
            store_half_params(i, w, vec4<bool>(true));
        }
    }
}
