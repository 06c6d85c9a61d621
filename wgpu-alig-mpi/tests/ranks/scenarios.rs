//! The scenarios, each run by every rank together.

use wgpu_alig::{Alig, AligConfig, Arena, Gpu, Loss, ShardNorm};
use wgpu_alig_mpi::{average_gradients, Error, Ranks, ShardedStep};

use mpi::traits::*;

use crate::model::{self, bits, concat, SIZES};
use crate::Fault;

const STEPS: usize = 12;
/// The step at which a fault is injected.
const FAULT_STEP: usize = 3;

/// Runs scenario `name`.
pub fn run(name: &str, ranks: &Ranks, gpu: &Gpu) -> Result<(), Fault> {
    match name {
        "replicas" => replicas(ranks, gpu, None),
        "sharded" => sharded(ranks, gpu, AligConfig::paper(0.5), None),
        "sharded-projection" => {
            let config = AligConfig {
                max_norm: Some(20.0),
                ..AligConfig::paper(0.5)
            };
            sharded(ranks, gpu, config, None)
        }
        "nan" => {
            replicas(ranks, gpu, Some(FAULT_STEP))?;
            sharded(ranks, gpu, AligConfig::paper(0.5), Some(FAULT_STEP))
        }
        "lengths" => lengths(ranks),
        "dies" | "hangs" => fails_midway(name, ranks, gpu),
        _ => Err(format!("no scenario {name:?}").into()),
    }
}

/// Data parallel: each rank's own gradients, averaged across the ranks, then the plain step.
/// Every step, the mean every rank got must be the in-process reference's bits (the sum in
/// rank order of every rank's gradients, regenerated here), and a replica on this device
/// stepped with that reference must stay identical bit for bit; at the end every rank's
/// parameters must be rank 0's. With `nan_at`, rank 1's gradients hold a NaN at that step:
/// every rank must skip it and write nothing.
fn replicas(ranks: &Ranks, gpu: &Gpu, nan_at: Option<usize>) -> Result<(), Fault> {
    let every: Vec<usize> = (0..SIZES.len()).collect();
    let config = AligConfig::paper(0.5);
    let replica = model::arena(gpu, &every)?;
    let mut alig = Alig::new(&gpu.device, &replica, config)?;
    let reference = model::arena(gpu, &every)?;
    let mut reference_alig = Alig::new(&gpu.device, &reference, config)?;
    for step in 0..STEPS {
        let mut all: Vec<(Vec<f32>, f32)> = (0..ranks.size())
            .map(|r| {
                let (grads, loss) = model::grads(step, r);
                (concat(&grads, &every), loss)
            })
            .collect();
        if nan_at == Some(step) {
            all[1].0[1234] = f32::NAN;
        }
        let (mine, my_loss) = &all[ranks.rank()];
        replica.write_all_grads(&gpu.queue, mine)?;
        let before = State::read(gpu, &replica, &alig)?;
        let loss = average_gradients(ranks, (&gpu.device, &gpu.queue), &replica, *my_loss)?;
        let (mean, mean_loss) = in_process_mean(&all);
        let got = replica.read_all_grads(&gpu.device, &gpu.queue)?;
        if bits(&got) != bits(&mean) || loss.to_bits() != mean_loss.to_bits() {
            return Err(format!("step {step}: the mean differs from the in-process one").into());
        }
        alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))?;
        reference.write_all_grads(&gpu.queue, &mean)?;
        reference_alig.step(&gpu.device, &gpu.queue, Loss::Host(mean_loss))?;
        let after = State::read(gpu, &replica, &alig)?;
        if after.params != bits(&reference.read_all_params(&gpu.device, &gpu.queue)?) {
            return Err(format!("step {step}: the replica left the in-process run").into());
        }
        check_skip(step, nan_at, &alig, gpu, &before, &after)?;
    }
    let params = bits(&replica.read_all_params(&gpu.device, &gpu.queue)?);
    let mut every_rank = vec![0u32; params.len() * ranks.size()];
    ranks
        .comm()
        .all_gather_into(&params[..], &mut every_rank[..]);
    if every_rank
        .chunks_exact(params.len())
        .any(|other| other != params)
    {
        return Err("the replicas differ after the run".into());
    }
    Ok(())
}

/// Sharded: tensor `k` on rank `k % ranks`, stepped with [`ShardedStep`], against the whole
/// model stepped on this device with every gradient (within the in-process sharded tests'
/// tolerance: the shards' norms are summed in another grouping). Every rank must get the
/// same combined norm and record it. With `nan_at`, a NaN in rank 1's shard at that step.
fn sharded(
    ranks: &Ranks,
    gpu: &Gpu,
    config: AligConfig,
    nan_at: Option<usize>,
) -> Result<(), Fault> {
    let every: Vec<usize> = (0..SIZES.len()).collect();
    let mine: Vec<usize> = every
        .iter()
        .copied()
        .filter(|k| k % ranks.size() == ranks.rank())
        .collect();
    let shard = model::arena(gpu, &mine)?;
    let mut alig = Alig::new(&gpu.device, &shard, config)?;
    let step_over_ranks = ShardedStep::new(&gpu.device);
    let whole = model::arena(gpu, &every)?;
    let mut whole_alig = Alig::new(&gpu.device, &whole, config)?;
    for step in 0..STEPS {
        // Every rank draws the same global batch: rank 0's gradients and loss.
        let (mut grads, loss) = model::grads(step, 0);
        if nan_at == Some(step) {
            let k = 1 % ranks.size();
            grads[k][0] = f32::NAN;
        }
        shard.write_all_grads(&gpu.queue, &concat(&grads, &mine))?;
        let before = State::read(gpu, &shard, &alig)?;
        let combined = step_over_ranks.step(
            ranks,
            (&gpu.device, &gpu.queue),
            &mut alig,
            Loss::Host(loss),
        )?;
        whole.write_all_grads(&gpu.queue, &concat(&grads, &every))?;
        whole_alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))?;
        let after = State::read(gpu, &shard, &alig)?;
        same_on_every_rank(ranks, step, combined)?;
        check_skip(step, nan_at, &alig, gpu, &before, &after)?;
        for &k in &mine {
            let got = shard.read_params(&gpu.device, &gpu.queue, &model::name(k))?;
            let want = whole.read_params(&gpu.device, &gpu.queue, &model::name(k))?;
            close(&format!("step {step}: t{k}"), &got, &want, 1e-5)?;
        }
    }
    Ok(())
}

/// The combined norm is the same bits on every rank, and this rank's step recorded it.
fn same_on_every_rank(ranks: &Ranks, step: usize, combined: ShardNorm) -> Result<(), Fault> {
    let mine = [combined.sq_sum.to_bits(), combined.max_abs_bits];
    let mut all = vec![0u32; 2 * ranks.size()];
    ranks.comm().all_gather_into(&mine[..], &mut all[..]);
    if all.chunks_exact(2).any(|other| other != mine) {
        return Err(format!("step {step}: the ranks combined different norms: {all:x?}").into());
    }
    Ok(())
}

/// Ranks passing vectors of different lengths to one mean: every rank gets the typed error
/// with every rank's length.
fn lengths(ranks: &Ranks) -> Result<(), Fault> {
    let mut values = vec![1.0f32; 10 + ranks.rank()];
    match ranks.mean_in_rank_order(&mut values) {
        Err(Error::LengthsDiffer { lengths }) => {
            let want: Vec<u64> = (0..ranks.size() as u64).map(|r| 10 + r).collect();
            if lengths != want || values.iter().any(|&v| v != 1.0) {
                return Err(format!("lengths {lengths:?}, values {values:?}").into());
            }
            Ok(())
        }
        other => Err(format!("expected LengthsDiffer, got {other:?}").into()),
    }
}

/// Rank 1 dies (`abort`) or hangs at [`FAULT_STEP`] of a data-parallel run; the others go on
/// into the next mean. The job must end with an error, not hang; this returns only if it did
/// not (a fault: the harness sees an `ok` it must not).
fn fails_midway(name: &str, ranks: &Ranks, gpu: &Gpu) -> Result<(), Fault> {
    let every: Vec<usize> = (0..SIZES.len()).collect();
    let replica = model::arena(gpu, &every)?;
    let mut alig = Alig::new(&gpu.device, &replica, AligConfig::paper(0.5))?;
    for step in 0..STEPS {
        if step == FAULT_STEP && ranks.rank() == 1 {
            if name == "dies" {
                eprintln!("rank 1: dying at step {step}");
                std::process::abort();
            }
            eprintln!("rank 1: hanging at step {step}");
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        let (grads, loss) = model::grads(step, ranks.rank());
        replica.write_all_grads(&gpu.queue, &concat(&grads, &every))?;
        let loss = average_gradients(ranks, (&gpu.device, &gpu.queue), &replica, loss)?;
        alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))?;
    }
    Ok(())
}

/// The in-process data-parallel example's all-reduce: each element summed in device order
/// from zero, times `1 / devices`.
fn in_process_mean(all: &[(Vec<f32>, f32)]) -> (Vec<f32>, f32) {
    let scale = 1.0 / all.len() as f32;
    let mut mean = vec![0.0f32; all[0].0.len()];
    let mut loss = 0.0f32;
    for (grads, l) in all {
        for (m, g) in mean.iter_mut().zip(grads) {
            *m += g;
        }
        loss += l;
    }
    mean.iter_mut().for_each(|m| *m *= scale);
    (mean, loss * scale)
}

/// The parameters and momentum of an optimizer's arena, as bits.
struct State {
    params: Vec<u32>,
    momentum: Vec<u32>,
}

impl State {
    fn read(gpu: &Gpu, arena: &Arena, alig: &Alig) -> Result<Self, Fault> {
        let mut momentum = Vec::new();
        for slot in arena.layout().tensors() {
            momentum.extend(bits(&alig.read_momentum(
                &gpu.device,
                &gpu.queue,
                slot.name.as_str(),
            )?));
        }
        Ok(Self {
            params: bits(&arena.read_all_params(&gpu.device, &gpu.queue)?),
            momentum,
        })
    }
}

/// At `nan_at` the step must be flagged skipped, with nothing written; at any other step it
/// must have run.
fn check_skip(
    step: usize,
    nan_at: Option<usize>,
    alig: &Alig,
    gpu: &Gpu,
    before: &State,
    after: &State,
) -> Result<(), Fault> {
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue)?;
    let record = stats.last().ok_or("no step record")?;
    let skipped = record.flags.skipped();
    if skipped != (nan_at == Some(step)) {
        return Err(format!("step {step}: skipped {skipped}, flags {:?}", record.flags).into());
    }
    if skipped && (before.params != after.params || before.momentum != after.momentum) {
        return Err(format!("step {step}: a skipped step wrote the parameters or momentum").into());
    }
    if !skipped && before.params == after.params {
        return Err(format!("step {step}: the step changed nothing").into());
    }
    Ok(())
}

/// `|got - want| <= rtol * max(|want|, 1)` element by element.
fn close(what: &str, got: &[f32], want: &[f32], rtol: f32) -> Result<(), Fault> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if (g - w).abs() > rtol * w.abs().max(1.0) || g.is_nan() != w.is_nan() {
            return Err(format!("{what}[{i}]: {g:e} against the whole model's {w:e}").into());
        }
    }
    Ok(())
}
