// Pass 3, only with projection on: every workgroup sums the ||w||^2 partials of pass 2 (both
// ranges, see PARAM_BIG_MIN) in the same order and, if ||w|| > max_norm, scales its share of
// the trainable parameters of one window by max_norm / ||w||. A skipped step is not
// projected; nor, flagged, one whose ||w|| cannot be computed: a non-finite parameter, or in
// a sharded step huge ones, which the exchange's one sum cannot carry.

@group(0) @binding(0) var<uniform> cfg: AligUniforms;
@group(0) @binding(1) var<storage, read> partials: array<Partial>;
@group(0) @binding(2) var<storage, read_write> state: StepState;
@group(0) @binding(3) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> chunk_table: array<u32>;

// Some chunk holds padding or a frozen tensor: only then is each chunk's entry looked up.
override MASKED: bool = true;

// How pass 3 scales the parameters: by `factor` = max_norm / ||w||; or, where that falls
// below the normal range (`tiny`), each parameter by 2^-100, divided by `root` = 2^-100 ||w||,
// then by max_norm, so that no value on the way leaves it.
struct Projection {
    factor: f32,
    root: f32,
    tiny: bool,
    inside: bool, // ||w|| <= max_norm: nothing to do
}

fn projection(small: f32, big: f32) -> Projection {
    if big == 0.0 {
        if small <= cfg.max_norm * cfg.max_norm {
            return Projection(1.0, 0.0, false, true);
        }
        return Projection(cfg.max_norm / sqrt(small), 0.0, false, false);
    }
    // ||w|| = 2^100 * root, with root in [2^-60, 2^45]; 2^-200 * small is exact (where it
    // falls below 2^-126 it lies far under big's last bit).
    let root = sqrt(big + scale_down_pow2_1(small, 2u * PARAM_BIG_SHIFT));
    if root <= scale_down_pow2_1(cfg.max_norm, PARAM_BIG_SHIFT) {
        return Projection(1.0, root, false, true);
    }
    // Projecting means max_norm < 2^100 * root: the quotient stays below 2^100.
    let factor = scale_down_pow2_1(cfg.max_norm / root, PARAM_BIG_SHIFT);
    return Projection(factor, root, factor < 0x1p-126f, false);
}

fn projected(w: vec4<f32>, p: Projection) -> vec4<f32> {
    if p.tiny {
        return (scale_down_pow2(w, PARAM_BIG_SHIFT) / p.root) * cfg.max_norm;
    }
    return w * p.factor;
}

@compute @workgroup_size(WG_SIZE)
fn project_params(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(local_invocation_id) local_id: vec3<u32>,
    @builtin(workgroup_id) workgroup_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let totals = param_sq_totals(local_id.x);
    let small = totals.sums.x;
    let big = totals.sums.y;

    // Pass 2 counted this step; the ring holds stats_capacity records.
    let record = (state.steps - 1u) % cfg.stats_capacity;
    if (state.records[record].flags & SKIP_MASK) != 0u {
        return;
    }
    // A non-finite norm would scale every parameter to zero or NaN, and so would a factor
    // that is not finite (a norm whose square fell below f32 on a driver that flushes it):
    // leave them be, flagged.
    let p = projection(small, big);
    let computable = is_finite_f32(small) && is_finite_f32(big) && totals.max_bits < NON_FINITE_BITS
        && (p.inside || is_finite_f32(p.factor));
    if (cfg.options & OPTION_WRITES_RECORD) != 0u && workgroup_id.x == 0u && local_id.x == 0u {
        state.records[record].param_sq_norm = param_sq_norm_value(small, big);
        // Other workgroups may read these flags meanwhile: the bit is outside SKIP_MASK, the
        // only bits they test.
        if !computable {
            state.records[record].flags = state.records[record].flags | FLAG_PROJECTION_SKIPPED;
        }
    }
    if !computable || p.inside {
        return;
    }
    // params and half params at i < len_vec4: the window's vec4s.
    let stride = num_workgroups.x * WG_SIZE;
    for (var i = global_id.x; i < cfg.len_vec4; i = i + stride) {
        if MASKED {
            let chunk = chunk_of(chunk_table[cfg.chunk_base + (i >> VEC4_PER_CHUNK_LOG2)]);
            if chunk.trainable != 0u {
                let w = params[i];
                let lanes = trainable_lanes(chunk, i);
                let scaled = projected(w, p);
                params[i] = select(w, scaled, lanes);
                store_half_params(i, scaled, lanes);
            }
        } else {
            let w = projected(params[i], p);
            params[i] = w;
            store_half_params(i, w, vec4<bool>(true));
        }
    }
}
