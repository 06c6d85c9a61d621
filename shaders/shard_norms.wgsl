// A sharded step's exchange (src/optimizer/sharded.rs): the sum of one set of partials of this
// device's shard (the gradients' of pass 1, or with projection the parameters' of pass 2),
// in the fixed order of sum_partials.wgsl, so that the value equals the one the plain step's
// next pass computes, bit for bit. The engine combines it with the other shards' values.
// One workgroup.

@group(0) @binding(0) var<uniform> cfg: AligUniforms;
@group(0) @binding(1) var<storage, read> partials: array<Partial>;
// The gradients' sum, then the parameters'.
@group(0) @binding(2) var<storage, read_write> local_norms: array<Partial, 2>;

// The sum of the partials from `first` (0 or num_partials: a whole set) on, to every thread.
fn sum_partial_set(first: u32, local_index: u32) -> Partial {
    var slice = blocked_sum();
    var slice_max_bits = 0u;
    if local_index < PARTIAL_SLICES {
        for (var p = local_index; p < cfg.num_partials; p = p + PARTIAL_SLICES) {
            let partial = partials[first + p];
            blocked_add(&slice, vec4<f32>(partial.sq_sum, 0.0, 0.0, 0.0));
            slice_max_bits = max(slice_max_bits, partial.max_abs_bits);
        }
    }
    return sum_slices(Partial(blocked_total(slice), slice_max_bits), local_index);
}

@compute @workgroup_size(WG_SIZE)
fn shard_grad_norm(@builtin(local_invocation_id) local_id: vec3<u32>) {
    let total = sum_partial_set(0u, local_id.x);
    if local_id.x == 0u {
        local_norms[0] = total;
    }
}

// The exchange carries one sum: huge parameters (a scaled range that is not 0, see
// PARAM_BIG_MIN) cannot cross it. The max, which the combination keeps, marks them, and every
// device's pass 3 then leaves the parameters be and flags the step.
@compute @workgroup_size(WG_SIZE)
fn shard_param_norm(@builtin(local_invocation_id) local_id: vec3<u32>) {
    let totals = param_sq_totals(local_id.x);
    if local_id.x == 0u {
        let max_bits = select(totals.max_bits, NON_FINITE_BITS, totals.sums.y != 0.0);
        local_norms[1] = Partial(totals.sums.x, max_bits);
    }
}
