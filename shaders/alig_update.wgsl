// Pass 2: every workgroup sums the gradient partials of pass 1 (of all windows) in the same
// order, so all of them see the same gamma_hat bit for bit, then updates its share of
// the parameters and momentum of one window, each group with its own max_lr and momentum.
// Workgroup 0 of the first window appends the step record and, with a loss scale, leaves the
// next scale after the partials. With projection on, each workgroup also leaves partials of
// ||w||^2 in its two ranges (PARAM_BIG_MIN) for pass 3.

@group(0) @binding(0) var<uniform> cfg: AligUniforms;
@group(0) @binding(1) var<storage, read_write> partials: array<Partial>;
@group(0) @binding(2) var<storage, read_write> state: StepState;
@group(0) @binding(3) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> grads: array<GradVec4>;
@group(0) @binding(5) var<storage, read_write> momentum: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> groups: array<GroupParams>;
@group(0) @binding(7) var<storage, read> chunk_table: array<u32>;

// Fixed for the life of an optimizer, so decided when its pipeline is built rather than per
// element (src/shaders.rs sets them).
// Several groups: each chunk's group is looked up. Otherwise every element takes the first
// group's gamma and momentum.
override GROUPED: bool = true;
// Some chunk holds padding or a frozen tensor: their floats are left as they are.
override MASKED: bool = true;
// 0: no group uses momentum; 1: Nesterov (gamma inside the buffer); 2: adjusted.
override MOMENTUM_KIND: u32 = 1u;
// Projection on: leave a partial of ||w||^2 for pass 3.
override PROJECTION: bool = false;
// The gradients were scaled by state.loss_scale: divide ||g||^2 by its square and each
// gradient by it, and update the scale.
override LOSS_SCALED: bool = false;

struct StepSize {
    gamma_hat: f32,
    flags: u32,
}

// gamma_hat = max(0, loss - f_star) / (c * ||g||^2 + eps), or a skip flag.
fn step_size(loss: f32, norm: Partial) -> StepSize {
    var flags = 0u;
    if !is_finite_f32(loss) {
        flags = flags | FLAG_SKIPPED_LOSS;
    }
    if norm.max_abs_bits >= NON_FINITE_BITS {
        flags = flags | FLAG_SKIPPED_GRAD;
    } else if !is_finite_f32(norm.sq_sum) {
        flags = flags | FLAG_SKIPPED_NORM_OVERFLOW;
    }
    if flags != 0u {
        return StepSize(0.0, flags);
    }
    if loss <= cfg.f_star {
        return StepSize(0.0, FLAG_FLOOR_REACHED);
    }
    let denominator = cfg.c * norm.sq_sum + cfg.eps;
    // A zero denominator means a zero gradient (with eps = 0): there is nothing to step along.
    var gamma_hat = 0.0;
    if denominator > 0.0 {
        gamma_hat = (loss - cfg.f_star) / denominator;
    }
    if !is_finite_f32(gamma_hat) && (cfg.options & OPTION_UNBOUNDED_GROUP) != 0u {
        return StepSize(gamma_hat, FLAG_SKIPPED_STEP_OVERFLOW);
    }
    return StepSize(gamma_hat, 0u);
}

// The scale after a step with these flags, as PyTorch's GradScaler sets it: lowered after a
// non-finite gradient (or a scaled norm beyond f32), raised after `growth_interval` steps
// that ran without one; unchanged after other skips. Left in the slot after the partials for
// the copy that follows the pass; returns the flag that says whether it changed.
fn next_loss_scale(scale: f32, flags: u32) -> u32 {
    var next = scale;
    var good = state.good_steps;
    if (flags & (FLAG_SKIPPED_GRAD | FLAG_SKIPPED_NORM_OVERFLOW)) != 0u {
        next = scale * cfg.backoff_factor;
        good = 0u;
    } else if (flags & SKIP_MASK) == 0u {
        good = good + 1u;
        if good >= cfg.growth_interval {
            next = scale * cfg.growth_factor;
            good = 0u;
        }
    }
    // A scale that reached 0 or infinity would lose every gradient: keep the last good one.
    if !(next > 0.0) || !is_finite_f32(next) {
        next = scale;
    }
    // The slot after the two sets of partials.
    partials[2u * cfg.num_partials] = Partial(next, good);
    if next < scale {
        return FLAG_LOSS_SCALE_LOWERED;
    }
    if next > scale {
        return FLAG_LOSS_SCALE_RAISED;
    }
    return 0u;
}

@compute @workgroup_size(WG_SIZE)
fn alig_update(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(local_invocation_id) local_id: vec3<u32>,
    @builtin(workgroup_id) workgroup_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
    rb: ReduceBuiltins,
) {
    var slice = blocked_sum();
    var slice_max_bits = 0u;
    if local_id.x < PARTIAL_SLICES {
        for (var p = local_id.x; p < cfg.num_partials; p = p + PARTIAL_SLICES) {
            blocked_add(&slice, vec4<f32>(partials[p].sq_sum, 0.0, 0.0, 0.0));
            slice_max_bits = max(slice_max_bits, partials[p].max_abs_bits);
        }
    }
    var norm = sum_slices(Partial(blocked_total(slice), slice_max_bits), local_id.x);
    // Read once, before any workgroup could change it: the next scale reaches the state
    // only by a copy after this pass.
    let loss_scale = state.loss_scale;
    let inv_scale = 1.0 / loss_scale;
    if LOSS_SCALED {
        norm.sq_sum = norm.sq_sum * (inv_scale * inv_scale);
    }
    // A host loss whose slot a later step rewrote before this one ran is gone: NaN, flagged.
    let expected_tag = (state.expected_tag_hi << HOST_LOSS_TAG_HALF_BITS) | state.expected_tag_lo;
    let loss_overwritten = state.loss_tag != expected_tag;
    // A quiet NaN whatever the tag (exponent all ones, top mantissa bit set); not a constant,
    // which WGSL rejects as NaN.
    let loss = select(state.loss, bitcast<f32>(0x7fc00000u | state.loss_tag), loss_overwritten);
    var size = step_size(loss, norm);
    if loss_overwritten {
        size.flags = size.flags | FLAG_SKIPPED_LOSS_OVERWRITTEN;
    }
    let skipped = (size.flags & SKIP_MASK) != 0u;

    var param_sq = blocked_sum();
    var param_sq_big = blocked_sum();
    if !skipped {
        let first_gamma = group_gamma(size.gamma_hat, groups[0]);
        let first_mu = groups[0].momentum;
        let stride = num_workgroups.x * WG_SIZE;
        // params, grads, momentum and half params at i < len_vec4: the window's vec4s. The
        // momentum binding is a 16-byte stand-in without momentum, when MOMENTUM_KIND is 0.
        for (var i = global_id.x; i < cfg.len_vec4; i = i + stride) {
            var gamma = first_gamma;
            var mu = first_mu;
            var g = vec4<f32>(grads[i]);
            if LOSS_SCALED {
                g = g * inv_scale;
            }
            var trainable = vec4<bool>(true);
            if MASKED || GROUPED {
                let chunk = chunk_of(chunk_table[cfg.chunk_base + (i >> VEC4_PER_CHUNK_LOG2)]);
                if MASKED {
                    if chunk.trainable == 0u {
                        continue;
                    }
                    // Padding gets a zero gradient, so its momentum stays 0, and keeps its value.
                    trainable = trainable_lanes(chunk, i);
                    g = select(vec4<f32>(0.0), g, trainable);
                }
                if GROUPED {
                    let group = groups[chunk.group];
                    gamma = group_gamma(size.gamma_hat, group);
                    mu = group.momentum;
                }
            }
            let old_w = params[i];
            var w = old_w;
            // A group without momentum (built so, or set to 0 since) leaves its buffer as it is.
            if MOMENTUM_KIND == 0u || mu == 0.0 {
                w = w - gamma * g;
            } else if MOMENTUM_KIND == 2u {
                // z <- mu*z - g ;  w <- w - gamma*g + gamma*mu*z   (SGD with Nesterov, lr = gamma)
                let z = mu * momentum[i] - g;
                momentum[i] = z;
                w = (w - gamma * g) + (gamma * mu) * z;
            } else {
                // z <- mu*z - gamma*g ;  w <- w - gamma*g + mu*z   (gamma kept inside the buffer)
                let step = gamma * g;
                let z = mu * momentum[i] - step;
                momentum[i] = z;
                w = (w - step) + mu * z;
            }
            // Without masked floats, a plain store: CPU drivers do not fold the select away.
            if MASKED {
                params[i] = select(old_w, w, trainable);
            } else {
                params[i] = w;
            }
            store_half_params(i, w, trainable);
            if PROJECTION {
                let ranges = param_ranges(select(vec4<f32>(0.0), w, trainable));
                blocked_add_pair(&param_sq, &param_sq_big, ranges[0] * ranges[0], ranges[1] * ranges[1]);
            }
        }
    }

    if (cfg.options & OPTION_WRITES_RECORD) != 0u && workgroup_id.x == 0u && local_id.x == 0u {
        var gamma = 0.0;
        var flags = size.flags;
        if !skipped {
            gamma = group_gamma(size.gamma_hat, groups[0]);
            if gamma != size.gamma_hat {
                flags = flags | FLAG_CLIPPED;
            }
        }
        if LOSS_SCALED {
            flags = flags | next_loss_scale(loss_scale, size.flags);
        }
        let step = state.steps;
        // The ring holds stats_capacity records.
        state.records[step % cfg.stats_capacity] = StepRecord(
            step, flags, loss, norm.sq_sum, size.gamma_hat, gamma, 0.0, cfg.max_lr_version, loss_scale
        );
        state.steps = step + 1u;
        if skipped {
            state.skipped = state.skipped + 1u;
        }
    }

    if PROJECTION {
        let sums = vec2<f32>(blocked_total(param_sq), blocked_total(param_sq_big));
        let total = workgroup_totals(Totals(sums, 0u), rb);
        if local_id.x == 0u {
            // As pass 1's: partial_base + workgroups <= num_partials, in both sets.
            let slot = cfg.partial_base + workgroup_id.x;
            partials[cfg.num_partials + slot] = Partial(total.sums.x, 0u);
            partials[param_big_partials() + slot] = Partial(total.sums.y, 0u);
        }
    }
}
