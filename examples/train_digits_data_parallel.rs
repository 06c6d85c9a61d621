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
use wgpu_alig::{Alig, AligConfig, Gpu, GpuRequest, Loss};

use engine::common::training::{Model, Score};
use engine::dataset::{self, Digits};
use engine::device_digits::DeviceDigits;
use engine::kernels::Kernels;
use engine::mlp::Mlp;
use engine::optimizers::OptimizerSpec;
use engine::readback::read_f32s;
use engine::split_mix::SplitMix64;
use engine::training::{train, TrainingConfig};

/// Trains the digits perceptron data-parallel on two devices with ALI-G, and on one device
/// for comparison.
#[derive(Debug, Parser)]
#[command(about, long_about = None)]
struct Args {
    /// Passes over the training set.
    #[arg(long, default_value_t = 60)]
    epochs: usize,
    /// Samples per mini-batch over both devices (each device computes half).
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Hidden units.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// ALI-G's one hyper-parameter.
    #[arg(long, default_value_t = 1.0)]
    max_lr: f32,
    /// Seed of the initial parameters, of the shuffles and of the split into halves.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The gzipped CSV of the digits set.
    #[arg(long, default_value_os_t = dataset::default_path())]
    data: std::path::PathBuf,
}

const DEVICES: usize = 2;
/// Keeps each device's shuffles apart from the initialisation's random stream.
const SHUFFLE_STREAM: u64 = 0x4450_5348_5546_4c45;

fn main() -> ExitCode {
    engine::common::exit_code(run(Args::parse()))
}

fn run(args: Args) -> engine::Result<()> {
    if args.batch_size < DEVICES || args.epochs == 0 {
        return Err("the batch size must be at least 2 and the epochs at least 1".into());
    }
    let (train_set, test_set) = Digits::load(&args.data)?.train_test_split();
    // Each device trains on its half of the training set, as a distributed sampler gives it.
    let (first, second) = train_set.split(train_set.len() / 2, args.seed);
    let halves = [first, second];
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
    let train_data: Vec<DeviceDigits> = gpus
        .iter()
        .zip(&halves)
        .map(|(gpu, half)| DeviceDigits::upload(&gpu.device, half))
        .collect();
    let test_data: Vec<DeviceDigits> = gpus
        .iter()
        .map(|gpu| DeviceDigits::upload(&gpu.device, &test_set))
        .collect();
    let mut replicas = Vec::new();
    for d in 0..DEVICES {
        let gpu = &gpus[d];
        let mlp = Mlp::new(
            &gpu.device,
            &kernels[d],
            &train_data[d],
            &test_data[d],
            args.batch_size / DEVICES,
        )?;
        mlp.init_params(&gpu.queue, args.seed)?;
        let alig = Alig::new(&gpu.device, &mlp.arena, AligConfig::paper(args.max_lr))?;
        replicas.push((mlp, alig));
    }
    let steps_per_epoch = replicas[0].0.steps_per_epoch();
    if replicas
        .iter()
        .any(|(mlp, _)| mlp.steps_per_epoch() != steps_per_epoch)
    {
        return Err("the halves of the training set give different numbers of batches".into());
    }

    let mut shuffles: Vec<SplitMix64> = (0..DEVICES as u64)
        .map(|d| SplitMix64::new(args.seed ^ SHUFFLE_STREAM ^ d))
        .collect();
    let started = Instant::now();
    for _ in 0..args.epochs {
        for ((gpu, (mlp, _)), shuffle) in gpus.iter().zip(&replicas).zip(&mut shuffles) {
            let mut order: Vec<u32> = (0..mlp.head().train_len() as u32).collect();
            shuffle.shuffle(&mut order);
            mlp.head().write_train_order(&gpu.queue, &order);
        }
        for batch in 0..steps_per_epoch {
            let mut grads = Vec::with_capacity(DEVICES);
            let mut losses = Vec::with_capacity(DEVICES);
            for (gpu, (mlp, _)) in gpus.iter().zip(&replicas) {
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                {
                    let mut pass = encoder.begin_compute_pass(&Default::default());
                    mlp.record_train_batch(&mut pass, batch);
                }
                gpu.queue.submit([encoder.finish()]);
                grads.push(mlp.arena.read_all_grads(&gpu.device, &gpu.queue)?);
                let (buffer, offset) = mlp.step_loss();
                losses.push(read_f32s(&gpu.device, &gpu.queue, buffer, offset, 1)?[0]);
            }
            let (grad, loss) = all_reduce(&grads, &losses);
            for (gpu, (mlp, alig)) in gpus.iter().zip(&mut replicas) {
                mlp.arena.write_all_grads(&gpu.queue, &grad)?;
                alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))?;
            }
        }
    }
    for gpu in &gpus {
        gpu.device.poll(wgpu::PollType::wait_indefinitely())?;
    }
    let wall = started.elapsed();

    let params: Vec<Vec<f32>> = gpus
        .iter()
        .zip(&replicas)
        .map(|(gpu, (mlp, _))| mlp.arena.read_all_params(&gpu.device, &gpu.queue))
        .collect::<wgpu_alig::Result<_>>()?;
    let identical = params[0]
        .iter()
        .zip(&params[1])
        .all(|(a, b)| a.to_bits() == b.to_bits());
    let mut train_score = Score::default();
    let mut test = Vec::new();
    for ((gpu, (mlp, alig)), half) in gpus.iter().zip(&replicas).zip(&halves) {
        let evaluation = mlp.evaluate(&gpu.device, &gpu.queue)?;
        // The whole training set's mean loss and accuracy, from the two halves'.
        let weight = half.len() as f32 / train_set.len() as f32;
        train_score.loss += weight * evaluation.train.loss;
        train_score.accuracy += weight * evaluation.train.accuracy;
        test.push(evaluation.held_out.accuracy);
        let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue)?;
        if stats.skipped > 0 {
            println!("a device skipped {} steps", stats.skipped);
        }
    }
    let steps = args.epochs * steps_per_epoch;
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

/// The reference all-reduce: the mean of the devices' gradients and losses, computed once so
/// that every device is given the same bits.
fn all_reduce(grads: &[Vec<f32>], losses: &[f32]) -> (Vec<f32>, f32) {
    let scale = 1.0 / grads.len() as f32;
    let mut mean = vec![0.0f32; grads[0].len()];
    for grad in grads {
        for (m, g) in mean.iter_mut().zip(grad) {
            *m += g;
        }
    }
    for m in &mut mean {
        *m *= scale;
    }
    (mean, losses.iter().sum::<f32>() * scale)
}
