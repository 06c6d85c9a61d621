//! Trains a small multilayer perceptron on the UCI handwritten digits entirely on the GPU and
//! compares ALI-G with SGD baselines on the same engine, initialisation and sample order.
//!
//! The forward and backward passes are WGSL kernels (`examples/train_digits/*.wgsl`); every
//! weight and bias lives in one `wgpu_alig::Arena`; the mean mini-batch loss is written by a
//! kernel and handed to ALI-G as `Loss::Buffer`, so nothing is read back per step. SGD's
//! learning rate (constant, and with step decay) is tuned on a grid against a validation part
//! of the training set.
//!
//! ```text
//! cargo run --release --example train_digits                 # the whole comparison
//! cargo run --release --example train_digits -- --precision f16  # ALI-G on f16 weights
//! cargo run --release --example train_digits -- --help       # flags
//! ```
//!
//! With `--precision f16-grads` or `f16` the arena holds f16 gradients (and f16 weights, an
//! f32 master beside them), the engine's kernels read and write those, and ALI-G scales the
//! loss dynamically; the SGD baselines, whose kernels are f32, do not run.
//!
//! Writes `summary.md`, `steps.csv` (per-step loss and step size), `sgd_grid.csv` and
//! `train_digits.svg` to `--out-dir` (default `target/train_digits`).

#[path = "train_digits/cli.rs"]
mod cli;
#[path = "train_digits/mod.rs"]
mod engine;

use std::process::ExitCode;

use clap::Parser;
use wgpu_alig::{Gpu, Precision};

use cli::{Args, OptimizerKind};
use engine::common::plot;
use engine::common::progress::{progress_bar, show};
use engine::common::report;
use engine::common::tuning::{tune, GridPoint};
use engine::dataset::Digits;
use engine::device_digits::DeviceDigits;
use engine::kernels::Kernels;
use engine::optimizers::{OptimizerSpec, Schedule};
use engine::training::{train, TrainingConfig};

/// Samples of the training set held out to tune SGD (20% of it).
const VALIDATION_SAMPLES: usize = 287;
const VALIDATION_SEED: u64 = 2020;

fn main() -> ExitCode {
    engine::common::exit_code(run(Args::parse()))
}

fn run(args: Args) -> engine::Result<()> {
    let digits = Digits::load(&args.data)?;
    let (train_set, test_set) = digits.train_test_split();
    let gpu = Gpu::new()?;
    println!("adapter: {}", gpu.describe());
    let precision = Precision::from(args.precision);
    let optimizers = args.optimizers();
    if precision != Precision::F32 && optimizers.iter().any(|&k| k != OptimizerKind::Alig) {
        return Err(format!(
            "--precision {}: only ALI-G trains f16 gradients here (the SGD kernels read f32); \
             pass --optimizers alig",
            precision_name(precision)
        )
        .into());
    }
    println!(
        "data: {} train / {} test images; MLP 64-{}-10; {} epochs of batches of {}; {}",
        train_set.len(),
        test_set.len(),
        args.hidden,
        args.epochs,
        args.batch_size,
        precision_text(precision),
    );
    let kernels = Kernels::with_precision(&gpu.device, args.hidden, precision)?;
    let config = |optimizer| TrainingConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        seed: args.seed,
        optimizer,
    };

    let mut specs = Vec::new();
    let mut grid = Vec::new();
    for &kind in &optimizers {
        let schedule = match kind {
            OptimizerKind::Alig => {
                specs.push(OptimizerSpec::Alig {
                    max_lr: args.max_lr,
                });
                continue;
            }
            OptimizerKind::Sgd => Schedule::Constant,
            OptimizerKind::SgdStep => Schedule::StepDecay,
        };
        let lr = match args.sgd_lr {
            Some(lr) => lr,
            None => {
                let (points, picked) = tune_sgd(
                    &gpu,
                    &kernels,
                    &train_set,
                    schedule,
                    &args.sgd_grid,
                    &config,
                )?;
                grid.extend(points);
                picked.ok_or("every learning rate of the SGD grid diverged")?
            }
        };
        specs.push(OptimizerSpec::Sgd { lr, schedule });
    }
    if !grid.is_empty() {
        println!("\nSGD tuning ({VALIDATION_SAMPLES} training images held out for validation):\n");
        println!("{}", report::grid_table(&grid));
    }

    let train_gpu = DeviceDigits::upload(&gpu.device, &train_set);
    let test_gpu = DeviceDigits::upload(&gpu.device, &test_set);
    let mut reports = Vec::new();
    for spec in specs {
        let bar = progress_bar(&spec.to_string());
        let report = train(
            &gpu.device,
            &gpu.queue,
            &kernels,
            &train_gpu,
            &test_gpu,
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

    println!("\n{}", report::results_table(&reports));
    std::fs::create_dir_all(&args.out_dir)?;
    let tuning = if grid.is_empty() {
        "No tuning: the SGD learning rate was given with `--sgd-lr`.\n".to_string()
    } else {
        format!(
            "{VALIDATION_SAMPLES} training images held out for validation; the best validation \
             accuracy is picked (ties: the lower validation loss).\n\n{}",
            report::grid_table(&grid)
        )
    };
    let summary = format!(
        "# train_digits\n\nadapter: {}\n\nMLP 64-{}-10, {} epochs of batches of {}, seed {}, \
         {} train / {} test images, {}.\n\n{}\n## SGD tuning\n\n{tuning}",
        gpu.describe(),
        args.hidden,
        args.epochs,
        args.batch_size,
        args.seed,
        train_set.len(),
        test_set.len(),
        precision_text(precision),
        report::results_table(&reports),
    );
    std::fs::write(args.out_dir.join("summary.md"), summary)?;
    report::write_steps_csv(&args.out_dir.join("steps.csv"), &reports)?;
    report::write_grid_csv(&args.out_dir.join("sgd_grid.csv"), &grid)?;
    plot::write_svg(&args.out_dir.join("train_digits.svg"), &reports)?;
    println!("outputs in {}", args.out_dir.display());
    Ok(())
}

/// Trains SGD with each learning rate of `grid` on the training set less a validation part,
/// and picks the best validation accuracy (ties: the lower validation loss).
fn tune_sgd(
    gpu: &Gpu,
    kernels: &Kernels,
    train_set: &Digits,
    schedule: Schedule,
    grid: &[f32],
    config: &dyn Fn(OptimizerSpec) -> TrainingConfig,
) -> engine::Result<(Vec<GridPoint>, Option<f32>)> {
    let (fit, validation) = train_set.split(VALIDATION_SAMPLES, VALIDATION_SEED);
    let fit_gpu = DeviceDigits::upload(&gpu.device, &fit);
    let validation_gpu = DeviceDigits::upload(&gpu.device, &validation);
    let specs: Vec<OptimizerSpec> = grid
        .iter()
        .map(|&lr| OptimizerSpec::Sgd { lr, schedule })
        .collect();
    let method = OptimizerSpec::Sgd { lr: 0.0, schedule }.method();
    let name = format!("tuning {method}");
    let (points, picked) = tune(&name, &specs, &mut |optimizer| {
        train(
            &gpu.device,
            &gpu.queue,
            kernels,
            &fit_gpu,
            &validation_gpu,
            &config(optimizer),
            &mut |_| {},
        )
    })?;
    Ok((points, picked.map(|spec| spec.hyper_parameter())))
}

/// The `--precision` name of `precision`.
fn precision_name(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "f32",
        Precision::F16Grads => "f16-grads",
        Precision::F16 => "f16",
    }
}

/// What the run keeps in which precision, for the header and the summary.
fn precision_text(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "f32 weights and gradients",
        Precision::F16Grads => "f16 gradients, f32 weights, dynamic loss scale",
        Precision::F16 => "f16 weights and gradients, f32 master weights, dynamic loss scale",
    }
}
