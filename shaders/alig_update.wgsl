// Pass 2: every workgroup re-reduces the partials of pass 1 (of all windows) in the same order,
// so all of them see the same gamma bit for bit, computes the ALI-G step size, and updates its
// share of the parameters and momentum of one window. Workgroup 0 of the first window appends
// the step record.

@group(0) @binding(0) var<uniform> cfg: AligUniforms;
@group(0) @binding(1) var<storage, read> partials: array<Partial>;
@group(0) @binding(2) var<storage, read_write> state: StepState;
@group(0) @binding(3) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> momentum: array<vec4<f32>>;

struct StepSize {
    gamma_hat: f32,
    gamma: f32,
    flags: u32,
}

// gamma = min(max_lr, max(0, loss - f_star) / (c * ||g||^2 + eps)), or a skip flag.
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
        return StepSize(0.0, 0.0, flags);
    }
    if loss <= cfg.f_star {
        return StepSize(0.0, 0.0, FLAG_FLOOR_REACHED);
    }
    let denominator = cfg.c * norm.sq_sum + cfg.eps;
    // A zero denominator means a zero gradient (with eps = 0): there is nothing to step along.
    var gamma_hat = 0.0;
    if denominator > 0.0 {
        gamma_hat = (loss - cfg.f_star) / denominator;
    }
    if (cfg.options & OPTION_HAS_MAX_LR) != 0u {
        if !is_finite_f32(gamma_hat) || gamma_hat > cfg.max_lr {
            return StepSize(gamma_hat, cfg.max_lr, FLAG_CLIPPED);
        }
    } else if !is_finite_f32(gamma_hat) {
        return StepSize(gamma_hat, 0.0, FLAG_SKIPPED_STEP_OVERFLOW);
    }
    return StepSize(gamma_hat, gamma_hat, 0u);
}

@compute @workgroup_size(WG_SIZE)
fn alig_update(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(local_invocation_id) local_id: vec3<u32>,
    @builtin(workgroup_id) workgroup_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
    rb: ReduceBuiltins,
) {
    var partial = Partial(0.0, 0u);
    for (var p = local_id.x; p < cfg.num_partials; p = p + WG_SIZE) {
        partial.sq_sum = partial.sq_sum + partials[p].sq_sum;
        partial.max_abs_bits = max(partial.max_abs_bits, partials[p].max_abs_bits);
    }
    let norm = workgroup_reduce(partial, rb);
    let loss = state.loss;
    let size = step_size(loss, norm);

    let writes_record = (cfg.options & OPTION_WRITES_RECORD) != 0u;
    if writes_record && workgroup_id.x == 0u && local_id.x == 0u {
        let step = state.steps;
        state.records[step % cfg.stats_capacity] = StepRecord(
            step, size.flags, loss, norm.sq_sum, size.gamma_hat, size.gamma, 0u, 0u,
        );
        state.steps = step + 1u;
        if (size.flags & SKIP_MASK) != 0u {
            state.skipped = state.skipped + 1u;
        }
    }
    if (size.flags & SKIP_MASK) != 0u {
        return;
    }

    let gamma = size.gamma;
    let mu = cfg.momentum;
    let stride = num_workgroups.x * WG_SIZE;
    if mu == 0.0 {
        for (var i = global_id.x; i < cfg.len_vec4; i = i + stride) {
            params[i] = params[i] - gamma * grads[i];
        }
    } else if (cfg.options & OPTION_ADJUSTED_MOMENTUM) != 0u {
        // z <- mu*z - g ;  w <- w - gamma*g + gamma*mu*z   (SGD with Nesterov, lr = gamma)
        let gamma_mu = gamma * mu;
        for (var i = global_id.x; i < cfg.len_vec4; i = i + stride) {
            let g = grads[i];
            let z = mu * momentum[i] - g;
            momentum[i] = z;
            params[i] = (params[i] - gamma * g) + gamma_mu * z;
        }
    } else {
        // z <- mu*z - gamma*g ;  w <- w - gamma*g + mu*z   (gamma kept inside the buffer)
        for (var i = global_id.x; i < cfg.len_vec4; i = i + stride) {
            let step = gamma * grads[i];
            let z = mu * momentum[i] - step;
            momentum[i] = z;
            params[i] = (params[i] - step) + mu * z;
        }
    }
}
