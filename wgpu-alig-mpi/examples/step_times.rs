//! Where a step's time goes across MPI ranks: the data-parallel step split into the local
//! ALI-G step, the host staging of the gradients (out and back in) and the MPI mean, and the
//! sharded step (each rank half of the model, the 8-byte norm exchanged), at the sizes given.
//! Rank 0 prints the medians of the timed steps as a table.
//!
//! ```text
//! cargo build --release --example step_times
//! mpirun -np 2 target/release/examples/step_times 1e6 1e7
//! ```

use std::time::{Duration, Instant};

use mpi::traits::*;

use wgpu_alig::{Alig, AligConfig, Arena, Gpu, Loss};
use wgpu_alig_mpi::{Ranks, ShardedStep};

/// Tensors per model: the parameters split evenly.
const TENSORS: usize = 10;
const WARM_UP: usize = 3;
const TIMED: usize = 15;

type Fault = Box<dyn std::error::Error>;

fn main() -> Result<(), Fault> {
    let universe = mpi::initialize().ok_or("MPI was initialised already")?;
    let ranks = Ranks::new(universe.world());
    let gpu = Gpu::new()?;
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse::<f64>().map(|n| n as usize))
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![1_000_000, 10_000_000]
    } else {
        sizes
    };
    if ranks.rank() == 0 {
        println!("adapter: {}; {} ranks; f32, momentum 0.9, {TENSORS} tensors; medians of {TIMED} steps, ms", gpu.describe(), ranks.size());
        println!("\n| parameters | local step | staging out | MPI mean | staging in | data-parallel step | sharded step (1/{} each) |", ranks.size());
        println!("|---:|---:|---:|---:|---:|---:|---:|");
    }
    for n in sizes {
        let data_parallel = data_parallel(&ranks, &gpu, n)?;
        let sharded = sharded(&ranks, &gpu, n)?;
        if ranks.rank() == 0 {
            let [local, out, mean, back] = data_parallel;
            let total = local + out + mean + back;
            println!("| {n:.1e} | {local:.2} | {out:.2} | {mean:.2} | {back:.2} | {total:.2} | {sharded:.2} |");
        }
    }
    Ok(())
}

/// The model's tensor names and sizes, `n` parameters over [`TENSORS`] tensors.
fn specs(n: usize) -> Vec<(String, usize)> {
    (0..TENSORS)
        .map(|k| (format!("t{k}"), n * (k + 1) / TENSORS - n * k / TENSORS))
        .collect()
}

/// An arena of `specs` with parameters and gradients filled.
fn arena(gpu: &Gpu, specs: &[(String, usize)]) -> Result<Arena, Fault> {
    let named: Vec<(&str, usize)> = specs.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    let arena = Arena::new(&gpu.device, &named)?;
    let len: usize = specs.iter().map(|(_, n)| n).sum();
    let values: Vec<f32> = (0..len)
        .map(|i| ((i % 1000) as f32 - 500.0) * 1e-3)
        .collect();
    arena.write_all_params(&gpu.queue, &values)?;
    arena.write_all_grads(&gpu.queue, &values)?;
    Ok(arena)
}

/// Waits until the device has done everything submitted.
fn wait(gpu: &Gpu) -> Result<(), Fault> {
    gpu.queue.submit([]);
    gpu.device.poll(wgpu::PollType::wait_indefinitely())?;
    Ok(())
}

/// Milliseconds `f` takes, the device waited for.
fn timed(gpu: &Gpu, f: impl FnOnce() -> Result<(), Fault>) -> Result<f64, Fault> {
    let started = Instant::now();
    f()?;
    wait(gpu)?;
    Ok(ms(started.elapsed()))
}

fn ms(d: Duration) -> f64 {
    1e3 * d.as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The data-parallel step's parts: local step, staging out, MPI mean, staging in.
fn data_parallel(ranks: &Ranks, gpu: &Gpu, n: usize) -> Result<[f64; 4], Fault> {
    let arena = arena(gpu, &specs(n))?;
    let mut alig = Alig::new(&gpu.device, &arena, AligConfig::paper(0.1))?;
    let mut parts: [Vec<f64>; 4] = Default::default();
    for step in 0..WARM_UP + TIMED {
        let mut staged = Vec::new();
        let out = timed(gpu, || {
            staged = arena.read_all_grads(&gpu.device, &gpu.queue)?;
            staged.push(1.0);
            Ok(())
        })?;
        // The ranks start the mean together, so that it times the exchange, not a late rank.
        ranks.comm().barrier();
        let mean = timed(gpu, || Ok(ranks.mean_in_rank_order(&mut staged)?))?;
        let back = timed(gpu, || {
            Ok(arena.write_all_grads(&gpu.queue, &staged[..staged.len() - 1])?)
        })?;
        let loss = Loss::Host(staged[staged.len() - 1]);
        let local = timed(gpu, || {
            alig.step(&gpu.device, &gpu.queue, loss)?;
            Ok(())
        })?;
        if step >= WARM_UP {
            for (part, value) in parts.iter_mut().zip([local, out, mean, back]) {
                part.push(value);
            }
        }
    }
    Ok(parts.map(median))
}

/// The sharded step over this rank's share of the tensors.
fn sharded(ranks: &Ranks, gpu: &Gpu, n: usize) -> Result<f64, Fault> {
    let mine: Vec<(String, usize)> = specs(n)
        .into_iter()
        .enumerate()
        .filter(|(k, _)| k % ranks.size() == ranks.rank())
        .map(|(_, spec)| spec)
        .collect();
    let arena = arena(gpu, &mine)?;
    let mut alig = Alig::new(&gpu.device, &arena, AligConfig::paper(0.1))?;
    let step = ShardedStep::new(&gpu.device);
    let mut times = Vec::new();
    for i in 0..WARM_UP + TIMED {
        ranks.comm().barrier();
        let t = timed(gpu, || {
            step.step(ranks, (&gpu.device, &gpu.queue), &mut alig, Loss::Host(1.0))?;
            Ok(())
        })?;
        if i >= WARM_UP {
            times.push(t);
        }
    }
    Ok(median(times))
}
