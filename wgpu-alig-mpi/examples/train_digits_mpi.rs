//! Data parallelism across MPI ranks: the digits perceptron of the core crate's
//! `train_digits_data_parallel` example, one replica per rank (one process per device), each
//! computing the gradient of its half of every mini-batch. After each backward pass
//! [`average_gradients`] stages the gradients and the loss through the host and averages them
//! across the ranks, summed in rank order; every rank then takes the same ALI-G step, so the
//! replicas stay identical bit for bit. With `--compare`, rank 0 then trains the in-process
//! run of that example (two devices in one process, the host's mean) and checks that its
//! parameters are the ranks' bit for bit.
//!
//! ```text
//! cargo build --release --example train_digits_mpi
//! mpirun -np 2 target/release/examples/train_digits_mpi --compare
//! ```

#[allow(dead_code)]
#[path = "../../examples/train_digits/mod.rs"]
mod engine;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use mpi::traits::*;
use wgpu_alig::{Gpu, GpuRequest};
use wgpu_alig_mpi::{average_gradients, Ranks};

use engine::common::training::{Model, Score};
use engine::dataset::Digits;
use engine::kernels::Kernels;
use engine::replica::{self, DataParallelArgs, Replica, ReplicaConfig, DEVICES as RANKS};

/// Trains the digits perceptron data-parallel on two MPI ranks with ALI-G.
#[derive(Debug, Parser)]
#[command(about, long_about = None)]
struct Args {
    #[command(flatten)]
    run: DataParallelArgs,
    /// The gzipped CSV of the digits set.
    #[arg(long, default_value_os_t = default_data())]
    data: PathBuf,
    /// Seconds a collective waits for the other ranks before it ends the job.
    #[arg(long, default_value_t = 300)]
    deadline_s: u64,
    /// Rank 0 also trains the in-process two-device run and checks it gives the same bits.
    #[arg(long)]
    compare: bool,
}

/// The digits set of the core crate's repository.
fn default_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/digits/digits.csv.gz")
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(universe) = mpi::initialize() else {
        eprintln!("error: MPI was initialised already");
        return ExitCode::FAILURE;
    };
    let ranks = Ranks::new(universe.world()).with_deadline(Duration::from_secs(args.deadline_s));
    match run(&args, &ranks) {
        Ok(()) => ExitCode::SUCCESS,
        // The other rank may be waiting in a collective: end the whole job.
        Err(error) => ranks.abort(1, &format!("error: {error}")),
    }
}

fn run(args: &Args, ranks: &Ranks) -> engine::Result<()> {
    // One rank per half of the training set.
    if ranks.size() != RANKS {
        return Err("run on 2 ranks (mpirun -np 2)".into());
    }
    let config = args.run.replica_config()?;
    let rank = ranks.rank();
    let (train_set, test_set) = Digits::load(&args.data)?.train_test_split();
    let halves = replica::halves(&train_set, args.run.seed);
    let gpu = Gpu::new()?;
    if rank == 0 {
        println!("adapter: {} (one per rank)", gpu.describe());
        println!(
            "data: {} train ({} + {}) / {} test images; MLP 64-{}-10; {} epochs of batches of {} ({} per rank)",
            train_set.len(),
            halves[0].len(),
            halves[1].len(),
            test_set.len(),
            args.run.hidden,
            args.run.epochs,
            args.run.batch_size,
            config.batch_size,
        );
    }
    let kernels = Kernels::new(&gpu.device, args.run.hidden)?;
    let mut replica = Replica::new(&gpu, &kernels, &halves[rank], &test_set, config, rank)?;
    let (wall, times) = train(ranks, &gpu, &mut replica, args.run.epochs)?;
    let steps = args.run.epochs * replica.mlp.steps_per_epoch();

    let params = replica.mlp.arena.read_all_params(&gpu.device, &gpu.queue)?;
    let identical = same_on_every_rank(ranks, &params);
    let weight = halves[rank].len() as f32 / train_set.len() as f32;
    let scores = gather_scores(ranks, &gpu, &replica, weight)?;
    if rank != 0 {
        return Ok(());
    }
    println!("\n| run | final train loss | train accuracy | test accuracy | steps | wall time |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| two ranks, {} each, MPI all-reduce | {:.2e} | {:.2}% | {:.2}% / {:.2}% | {} | {:.1} s |",
        config.batch_size,
        scores.train.loss,
        100.0 * scores.train.accuracy,
        100.0 * scores.test[0],
        100.0 * scores.test[1],
        steps,
        wall.as_secs_f64(),
    );
    println!("\nper step on rank 0: {}", times.describe(steps));
    if !identical {
        return Err("the ranks' replicas diverged".into());
    }
    println!("the ranks' parameters after {steps} steps: identical, bit for bit");
    if args.compare {
        compare_in_process(args, &halves, &test_set, config, &params)?;
    }
    Ok(())
}

/// Trains this rank's replica for `epochs`, the gradients and losses averaged across the
/// ranks every step; returns the wall time and where the steps spent it.
fn train(
    ranks: &Ranks,
    gpu: &Gpu,
    replica: &mut Replica<'_>,
    epochs: usize,
) -> engine::Result<(Duration, StepTimes)> {
    let mut times = StepTimes::default();
    let started = Instant::now();
    for _ in 0..epochs {
        replica.begin_epoch(gpu);
        for batch in 0..replica.mlp.steps_per_epoch() {
            let t0 = Instant::now();
            let loss = replica.gradients(gpu, batch)?;
            let t1 = Instant::now();
            let loss =
                average_gradients(ranks, (&gpu.device, &gpu.queue), &replica.mlp.arena, loss)?;
            let t2 = Instant::now();
            replica.step(gpu, loss)?;
            times.add(t1 - t0, t2 - t1);
        }
    }
    gpu.device.poll(wgpu::PollType::wait_indefinitely())?;
    Ok((started.elapsed(), times))
}

/// The whole training set's loss and accuracy (from the halves', weighted) and each rank's
/// test accuracy.
struct Scores {
    train: Score,
    test: [f32; RANKS],
}

/// This rank's evaluation, its half's share of the training set being `weight`, gathered
/// from every rank.
fn gather_scores(
    ranks: &Ranks,
    gpu: &Gpu,
    replica: &Replica<'_>,
    weight: f32,
) -> engine::Result<Scores> {
    let evaluation = replica.mlp.evaluate(&gpu.device, &gpu.queue)?;
    let mine = [
        weight * evaluation.train.loss,
        weight * evaluation.train.accuracy,
        evaluation.held_out.accuracy,
    ];
    let mut all = [0.0f32; 3 * RANKS];
    ranks.comm().all_gather_into(&mine[..], &mut all[..]);
    Ok(Scores {
        train: Score {
            loss: all[0] + all[3],
            accuracy: all[1] + all[4],
        },
        test: [all[2], all[5]],
    })
}

/// Trains the in-process run of `train_digits_data_parallel` (two devices of this process,
/// the host's mean) and checks that its parameters are `params` bit for bit.
fn compare_in_process(
    args: &Args,
    halves: &[Digits],
    test_set: &Digits,
    config: ReplicaConfig,
    params: &[f32],
) -> engine::Result<()> {
    let first = Gpu::new()?;
    let second = pollster::block_on(first.another_device(GpuRequest::default()))?;
    let gpus = [first, second];
    let kernels = gpus
        .iter()
        .map(|gpu| Kernels::new(&gpu.device, args.run.hidden))
        .collect::<engine::Result<Vec<_>>>()?;
    let replicas =
        replica::train_in_process(&gpus, &kernels, halves, test_set, config, args.run.epochs)?;
    let in_process = replicas[0]
        .mlp
        .arena
        .read_all_params(&gpus[0].device, &gpus[0].queue)?;
    if in_process
        .iter()
        .zip(params)
        .any(|(a, b)| a.to_bits() != b.to_bits())
    {
        return Err("the ranks' parameters differ from the in-process run's".into());
    }
    println!("the in-process run (two devices, the host's mean): the same parameters, bit for bit");
    Ok(())
}

/// Whether every rank holds `params`' bits.
fn same_on_every_rank(ranks: &Ranks, params: &[f32]) -> bool {
    let bits: Vec<u32> = params.iter().map(|p| p.to_bits()).collect();
    let mut all = vec![0u32; bits.len() * ranks.size()];
    ranks.comm().all_gather_into(&bits[..], &mut all[..]);
    all.chunks_exact(bits.len()).all(|other| other == bits)
}

/// Where rank 0's steps spent their time.
#[derive(Default)]
struct StepTimes {
    local: Duration,
    exchange: Duration,
}

impl StepTimes {
    fn add(&mut self, local: Duration, exchange: Duration) {
        self.local += local;
        self.exchange += exchange;
    }

    fn describe(&self, steps: usize) -> String {
        let ms = |d: Duration| 1e3 * d.as_secs_f64() / steps.max(1) as f64;
        format!(
            "{:.2} ms forward and backward (with the loss read back), {:.2} ms staging and MPI mean",
            ms(self.local),
            ms(self.exchange)
        )
    }
}
