//! Data parallelism over two devices: the digits perceptron of `train_digits`, one replica of
//! the model on each device, each computing the gradient of its half of every mini-batch.
//! After each backward pass the gradients and the losses are averaged (here by the host, the
//! reference all-reduce) and written back to both devices, which then take the same plain
//! ALI-G step: identical inputs, deterministic kernels, so the replicas stay identical bit
//! for bit. The same model trained on one device with the whole batches is the comparison.
//!
//! ```text
//! cargo run --release --example train_digits_data_parallel
//! ```
//!
//! The two devices share one instance and, here, one adapter (`Gpu::another_device`); on a
//! machine with two GPUs each would be opened on its own adapter of that instance. One
//! instance lets wgpu report one device's buffer or encoder used with the other as a
//! validation error, which two instances cannot. A real engine replaces `all_reduce`
//! with its collective (see the README, "More than one GPU").

// The digits engine, shared with the `train_digits` example; this one uses part of it.
#[allow(dead_code)]
#[path = "train_digits/mod.rs"]
mod engine;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use wgpu_alig::{Gpu, GpuRequest};

use engine::common::training::{Model, Score};
use engine::dataset::{self, Digits};
use engine::device_digits::DeviceDigits;
use engine::kernels::Kernels;
use engine::optimizers::OptimizerSpec;
use engine::replica::{self, DataParallelArgs, DEVICES};
use engine::training::{train, TrainingConfig};

/// Trains the digits perceptron data-parallel on two devices with ALI-G, and on one device
/// for comparison.
#[derive(Debug, Parser)]
#[command(about, long_about = None)]
struct Args {
    #[command(flatten)]
    run: DataParallelArgs,
    /// The gzipped CSV of the digits set.
    #[arg(long, default_value_os_t = dataset::default_path())]
    data: std::path::PathBuf,
}

fn main() -> ExitCode {
    engine::common::exit_code(run(Args::parse()))
}

fn run(Args { run: args, data }: Args) -> engine::Result<()> {
    let config = args.replica_config()?;
    let (train_set, test_set) = Digits::load(&data)?.train_test_split();
    // Each device trains on its half of the training set, as a distributed sampler gives it.
    let halves = replica::halves(&train_set, args.seed);
    let first = Gpu::new()?;
    let second = pollster::block_on(first.another_device(GpuRequest::default()))?;
    let gpus = [first, second];
    println!("adapter: {} (twice)", gpus[0].describe());
    println!(
        "data: {} train ({} + {}) / {} test images; MLP 64-{}-10; {} epochs of batches of {} ({} per device)",
        train_set.len(),
        halves[0].len(),
        halves[1].len(),
        test_set.len(),
        args.hidden,
        args.epochs,
        args.batch_size,
        args.batch_size / DEVICES,
    );

    // One device, the whole batches: the run to match.
    let single = {
        let gpu = &gpus[0];
        let kernels = Kernels::new(&gpu.device, args.hidden)?;
        let config = TrainingConfig {
            epochs: args.epochs,
            batch_size: args.batch_size,
            seed: args.seed,
            optimizer: OptimizerSpec::Alig {
                max_lr: args.max_lr,
            },
        };
        let train_gpu = DeviceDigits::upload(&gpu.device, &train_set);
        let test_gpu = DeviceDigits::upload(&gpu.device, &test_set);
        train(
            &gpu.device,
            &gpu.queue,
            &kernels,
            &train_gpu,
            &test_gpu,
            &config,
            &mut |_| {},
        )?
    };

    // Two devices: a replica each, the same initial parameters (same seed).
    let kernels = gpus
        .iter()
        .map(|gpu| Kernels::new(&gpu.device, args.hidden))
        .collect::<engine::Result<Vec<_>>>()?;
    let started = Instant::now();
    let replicas =
        replica::train_in_process(&gpus, &kernels, &halves, &test_set, config, args.epochs)?;
    for gpu in &gpus {
        gpu.device.poll(wgpu::PollType::wait_indefinitely())?;
    }
    let wall = started.elapsed();
    let steps = args.epochs * replica::same_steps_per_epoch(&replicas)?;

    let params: Vec<Vec<f32>> = gpus
        .iter()
        .zip(&replicas)
        .map(|(gpu, r)| r.mlp.arena.read_all_params(&gpu.device, &gpu.queue))
        .collect::<wgpu_alig::Result<_>>()?;
    let identical = params[0]
        .iter()
        .zip(&params[1])
        .all(|(a, b)| a.to_bits() == b.to_bits());
    let mut train_score = Score::default();
    let mut test = Vec::new();
    for ((gpu, r), half) in gpus.iter().zip(&replicas).zip(&halves) {
        let evaluation = r.mlp.evaluate(&gpu.device, &gpu.queue)?;
        // The whole training set's mean loss and accuracy, from the two halves'.
        let weight = half.len() as f32 / train_set.len() as f32;
        train_score.loss += weight * evaluation.train.loss;
        train_score.accuracy += weight * evaluation.train.accuracy;
        test.push(evaluation.held_out.accuracy);
        let stats = r.alig.read_stats_blocking(&gpu.device, &gpu.queue)?;
        if stats.skipped > 0 {
            println!("a device skipped {} steps", stats.skipped);
        }
    }
    println!("\n| run | final train loss | train accuracy | test accuracy | steps | wall time |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| one device, batches of {} | {:.2e} | {:.2}% | {:.2}% | {} | {:.1} s |",
        args.batch_size,
        single.evaluation.train.loss,
        100.0 * single.evaluation.train.accuracy,
        100.0 * single.evaluation.held_out.accuracy,
        single.steps,
        single.wall.as_secs_f64(),
    );
    println!(
        "| two devices, {} each, host all-reduce | {:.2e} | {:.2}% | {:.2}% / {:.2}% | {} | {:.1} s |",
        args.batch_size / DEVICES,
        train_score.loss,
        100.0 * train_score.accuracy,
        100.0 * test[0],
        100.0 * test[1],
        steps,
        wall.as_secs_f64(),
    );
    println!(
        "\nthe replicas' parameters after {steps} steps: {}",
        if identical {
            "identical, bit for bit"
        } else {
            "DIFFERENT"
        }
    );
    if !identical {
        return Err("the replicas diverged".into());
    }
    Ok(())
}
