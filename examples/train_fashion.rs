//! Trains a small convolutional network on Fashion-MNIST entirely on the GPU and compares
//! ALI-G with tuned baselines (SGD at a constant rate, SGD on a cosine schedule, Adam) on the
//! same engine, initialisation and sample order.
//!
//! The forward and backward passes are WGSL kernels (`examples/train_fashion/*.wgsl`); every
//! weight and bias lives in one `wgpu_alig::Arena`; the mean mini-batch loss is written by a
//! kernel and handed to ALI-G as `Loss::Buffer`, so nothing is read back per step. Each
//! method's one hyper-parameter (ALI-G's max_lr, the others' learning rate) is picked on a
//! grid of the same size by validation accuracy on a part of the training images held out
//! for it, every run with the same number of steps.
//!
//! ```text
//! cargo run --release --example train_fashion                 # a 6,000-image subset, 5 epochs
//! cargo run --release --example train_fashion -- --full       # 60,000 images, 15 epochs
//! cargo run --release --example train_fashion -- --help       # flags
//! ```
//!
//! Needs Debian's `dataset-fashion-mnist` package (or `--data` with the four IDX files).
//! Writes `summary.md`, `results.csv`, `grid.csv`, `epochs.csv`, `steps.csv`,
//! `train_fashion.svg` and `train_fashion_sensitivity.svg` to `--out-dir` (default
//! `target/train_fashion`).

#[path = "train_fashion/cli.rs"]
mod cli;
#[path = "train_fashion/mod.rs"]
mod engine;
#[path = "train_fashion/plot.rs"]
mod plot;
#[path = "train_fashion/tables.rs"]
mod tables;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use wgpu_alig::Gpu;

use cli::{Args, OptimizerKind};
use engine::cnn::Cnn;
use engine::common::progress::{progress_bar, show};
use engine::common::report;
use engine::common::tuning::{tune, GridPoint};
use engine::dataset::Images;
use engine::device_images::DeviceImages;
use engine::kernels::{Kernels, Shape};
use engine::optimizers::{OptimizerSpec, Schedule};
use engine::training::{train, TrainingConfig, TrainingReport};

/// Seeds of the training subset and of the validation split, apart from the training seed.
const SUBSET_SEED: u64 = 2017;
const VALIDATION_SEED: u64 = 2020;
/// The part of the training images held out for validation while tuning.
const VALIDATION_FRACTION: usize = 6;

fn main() -> ExitCode {
    engine::common::exit_code(run(Args::parse()))
}

fn run(args: Args) -> engine::Result<()> {
    let started = Instant::now();
    let (samples, epochs) = args.budget();
    let (all_train, test_set) = Images::load(&args.data)?;
    let (_, train_set) = all_train.split(samples, SUBSET_SEED ^ args.seed);
    let (fit, validation) = train_set.split(
        train_set.len() / VALIDATION_FRACTION,
        VALIDATION_SEED ^ args.seed,
    );
    let gpu = Gpu::new()?;
    let shape = Shape {
        channels: args.channels,
        hidden: args.hidden,
    };
    let kernels = Kernels::new(&gpu.device, shape)?;
    let setup = format!(
        "CNN conv5x5x{}-ReLU-maxpool2-dense{}-ReLU-dense10 ({} parameters in 6 tensors); \
         {} epochs of batches of {}; {} train / {} test images ({} + {} while tuning); seed {}",
        shape.channels,
        shape.hidden,
        Cnn::parameters(&kernels),
        epochs,
        args.batch_size,
        train_set.len(),
        test_set.len(),
        fit.len(),
        validation.len(),
        args.seed,
    );
    println!("adapter: {}\n{setup}", gpu.describe());
    let config = |optimizer| TrainingConfig {
        epochs,
        batch_size: args.batch_size,
        seed: args.seed,
        optimizer,
    };

    let fit_gpu = DeviceImages::upload(&gpu.device, &fit);
    let validation_gpu = DeviceImages::upload(&gpu.device, &validation);
    let mut grid: Vec<GridPoint> = Vec::new();
    let mut picked = Vec::new();
    for &kind in &args.optimizers {
        let specs = candidates(kind, &args);
        let name = format!(
            "tuning {}",
            specs.first().map_or(String::new(), |s| s.method())
        );
        let (points, best) = tune(&name, &specs, &mut |optimizer| {
            train(
                &gpu.device,
                &gpu.queue,
                &kernels,
                (&fit_gpu, &validation_gpu),
                false,
                &config(optimizer),
                &mut |_| {},
            )
        })?;
        grid.extend(points);
        picked.push(best.ok_or_else(|| format!("every value of the {kind:?} grid diverged"))?);
    }
    println!(
        "\ntuning ({} training images held out for validation):\n\n{}",
        validation.len(),
        report::grid_table(&grid)
    );
    drop((fit_gpu, validation_gpu));

    let train_gpu = DeviceImages::upload(&gpu.device, &train_set);
    let test_gpu = DeviceImages::upload(&gpu.device, &test_set);
    let mut reports: Vec<TrainingReport> = Vec::new();
    for spec in picked {
        let bar = progress_bar(&spec.to_string());
        let report = train(
            &gpu.device,
            &gpu.queue,
            &kernels,
            (&train_gpu, &test_gpu),
            true,
            &config(spec),
            &mut |progress| show(&bar, progress),
        )?;
        bar.finish();
        if report.skipped_steps > 0 {
            println!(
                "{spec} skipped {} steps (non-finite loss or gradient)",
                report.skipped_steps
            );
        }
        reports.push(report);
    }
    let total = started.elapsed();

    let results = report::results_table(&reports);
    println!("\n{results}\nwhole command: {:.0} s", total.as_secs_f64());
    std::fs::create_dir_all(&args.out_dir)?;
    let summary = format!(
        "# train_fashion\n\nadapter: {}\n\n{setup}.\n\nWhole command (tuning included): {:.0} s.\n\n\
         {results}\n## Tuning\n\n{} training images held out for validation; the best validation \
         accuracy is picked (ties: the lower validation loss); every run {} epochs.\n\n{}",
        gpu.describe(),
        total.as_secs_f64(),
        validation.len(),
        epochs,
        report::grid_table(&grid),
    );
    std::fs::write(args.out_dir.join("summary.md"), summary)?;
    tables::write_results_csv(&args.out_dir.join("results.csv"), &reports, args.seed)?;
    tables::write_epochs_csv(&args.out_dir.join("epochs.csv"), &reports)?;
    report::write_steps_csv(&args.out_dir.join("steps.csv"), &reports)?;
    report::write_grid_csv(&args.out_dir.join("grid.csv"), &grid)?;
    plot::write_training_svg(&args.out_dir.join("train_fashion.svg"), &reports)?;
    plot::write_sensitivity_svg(&args.out_dir.join("train_fashion_sensitivity.svg"), &grid)?;
    println!("outputs in {}", args.out_dir.display());
    Ok(())
}

/// The grid of one method: each value of its one hyper-parameter.
fn candidates(kind: OptimizerKind, args: &Args) -> Vec<OptimizerSpec> {
    let sgd = |schedule| {
        args.sgd_grid
            .iter()
            .map(|&lr| OptimizerSpec::Sgd { lr, schedule })
            .collect()
    };
    match kind {
        OptimizerKind::Alig => args
            .alig_grid
            .iter()
            .map(|&max_lr| OptimizerSpec::Alig { max_lr })
            .collect(),
        OptimizerKind::Sgd => sgd(Schedule::Constant),
        OptimizerKind::SgdCosine => sgd(Schedule::Cosine),
        OptimizerKind::SgdStep => sgd(Schedule::StepDecay),
        OptimizerKind::Adam => args
            .adam_grid
            .iter()
            .map(|&lr| OptimizerSpec::Adam { lr })
            .collect(),
    }
}
