//! The `train_digits` example's engine on a real adapter: its backward kernels against an f64
//! CPU port of the same network, and short training runs on the UCI digits, ALI-G (also on an
//! f16 arena, where the adapter has `SHADER_F16`) and the SGD baseline. Also the data loader's
//! checks.

// The test uses part of the example's engine, which is included as the example includes it.
#[allow(dead_code)]
#[path = "../examples/train_digits/mod.rs"]
mod engine;

mod common;

use common::gpu;
use engine::common::training::Model;
use engine::dataset::{self, DatasetError, Digits, CLASSES, INPUTS, SAMPLES};
use engine::device_digits::DeviceDigits;
use engine::kernels::Kernels;
use engine::mlp::Mlp;
use engine::optimizers::{OptimizerSpec, Schedule};
use engine::readback::read_f32s;
use engine::training::{train, TrainingConfig, TrainingReport};
use wgpu_alig::Precision;

const HIDDEN: usize = 64;
const BATCH: usize = 64;

fn digits() -> (Digits, Digits) {
    let path = dataset::default_path();
    let digits = Digits::load(&path).unwrap_or_else(|e| panic!("{e}"));
    digits.train_test_split()
}

fn run(optimizer: OptimizerSpec, epochs: usize) -> TrainingReport {
    run_with_precision(optimizer, epochs, Precision::F32).expect("f32 needs no feature")
}

/// [`run`] on an arena of `precision`; `None` (after saying so) where the adapter lacks
/// `SHADER_F16`, which the f16 kinds need.
fn run_with_precision(
    optimizer: OptimizerSpec,
    epochs: usize,
    precision: Precision,
) -> Option<TrainingReport> {
    let (train_set, test_set) = digits();
    assert_eq!((train_set.len(), test_set.len()), (1437, 360));
    let gpu = gpu();
    if precision.needs_f16() && !gpu.device.features().contains(wgpu::Features::SHADER_F16) {
        let refused = Kernels::with_precision(&gpu.device, HIDDEN, precision).unwrap_err();
        assert!(refused.to_string().contains("SHADER_F16"), "{refused}");
        eprintln!("no SHADER_F16 on this adapter: the {precision:?} run was skipped");
        return None;
    }
    let kernels = Kernels::with_precision(&gpu.device, HIDDEN, precision).unwrap();
    let train_gpu = DeviceDigits::upload(&gpu.device, &train_set);
    let test_gpu = DeviceDigits::upload(&gpu.device, &test_set);
    let config = TrainingConfig {
        epochs,
        batch_size: BATCH,
        seed: 7,
        optimizer,
    };
    let report = train(
        &gpu.device,
        &gpu.queue,
        &kernels,
        &train_gpu,
        &test_gpu,
        &config,
        &mut |_| {},
    )
    .unwrap();
    Some(report)
}

/// The loss of the first mini-batch against the final loss on the whole training set.
fn loss_drop(report: &TrainingReport) -> (f32, f32) {
    (report.log[0].loss, report.evaluation.train.loss)
}

#[test]
fn alig_drives_the_digits_loss_down_and_generalises() {
    let max_lr = 1.0;
    let report = run(OptimizerSpec::Alig { max_lr }, 10);
    let (first, last) = loss_drop(&report);
    assert!(
        last * 10.0 <= first,
        "ALI-G: the loss fell from {first} to {last}, less than 10x"
    );
    let test_accuracy = report.evaluation.held_out.accuracy;
    assert!(test_accuracy > 0.90, "ALI-G: test accuracy {test_accuracy}");
    assert_eq!(report.skipped_steps, 0);
    // Every step's gamma came back through the stats ring, read once per epoch.
    for step in &report.log {
        assert!(
            step.step_size > 0.0 && step.step_size <= max_lr,
            "step {}: gamma {} outside (0, max_lr]",
            step.step,
            step.step_size
        );
    }
}

/// ALI-G on f16 weights and gradients (f32 master weights) with a dynamic loss scale: the
/// engine's kernels read the f16 copy and write f16 gradients scaled by S. It learns as the
/// f32 run does; the first steps may overflow f16 at S = 2^16 and be skipped while S falls.
#[test]
fn alig_learns_the_digits_on_an_f16_arena() {
    let max_lr = 1.0;
    let Some(report) = run_with_precision(OptimizerSpec::Alig { max_lr }, 10, Precision::F16)
    else {
        return;
    };
    let (first, last) = loss_drop(&report);
    assert!(
        last * 10.0 <= first,
        "ALI-G f16: the loss fell from {first} to {last}, less than 10x"
    );
    let test_accuracy = report.evaluation.held_out.accuracy;
    assert!(
        test_accuracy > 0.90,
        "ALI-G f16: test accuracy {test_accuracy}"
    );
    assert!(
        report.skipped_steps as usize * 20 <= report.steps,
        "ALI-G f16: {} of {} steps skipped",
        report.skipped_steps,
        report.steps
    );
}

/// The backward pass on an f16 arena (`Precision::F16`: f16 weights read, f16 gradients
/// written) with a loss scale of 2^10 bound: each gradient is 2^10 times the f32 engine's from
/// the same f32 weights rounded to f16, within the f16 rounding of weights and gradients.
#[test]
fn f16_backward_writes_the_scaled_gradients() {
    let gpu = gpu();
    if !gpu.device.features().contains(wgpu::Features::SHADER_F16) {
        eprintln!("no SHADER_F16 on this adapter: the f16 backward pass was not run");
        return;
    }
    const SCALE: f32 = 1024.0;
    let (train_set, test_set) = digits();
    let train_gpu = DeviceDigits::upload(&gpu.device, &train_set);
    let test_gpu = DeviceDigits::upload(&gpu.device, &test_set);
    let names = ["w1", "b1", "w2", "b2"];
    let grads = |precision: Precision, scale: Option<f32>| {
        let kernels = Kernels::with_precision(&gpu.device, HIDDEN, precision).unwrap();
        let mlp = Mlp::new(&gpu.device, &kernels, &train_gpu, &test_gpu, BATCH).unwrap();
        mlp.init_params(&gpu.queue, 3).unwrap();
        if precision == Precision::F32 {
            // The f16 run's weights (rounded to nearest, as its f16 copy is), so that only the
            // gradients' rounding differs.
            for name in names {
                let rounded: Vec<f32> = mlp
                    .arena
                    .read_params(&gpu.device, &gpu.queue, name)
                    .unwrap()
                    .iter()
                    .map(|&w| half::f16::from_f32(w).to_f32())
                    .collect();
                mlp.arena.write_params(&gpu.queue, name, &rounded).unwrap();
            }
        }
        if let Some(scale) = scale {
            let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("loss scale"),
                size: 4,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            gpu.queue
                .write_buffer(&buffer, 0, bytemuck::bytes_of(&scale));
            Model::bind_loss_scale(&mlp, &gpu.device, buffer.as_entire_buffer_binding()).unwrap();
        }
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            mlp.record_train_batch(&mut pass, 0);
        }
        gpu.queue.submit([encoder.finish()]);
        names.map(|name| mlp.arena.read_grads(&gpu.device, &gpu.queue, name).unwrap())
    };
    let exact = grads(Precision::F32, None);
    let half = grads(Precision::F16, Some(SCALE));
    for ((name, exact), half) in names.iter().zip(&exact).zip(&half) {
        let largest = exact.iter().fold(0f32, |m, g| m.max(g.abs()));
        assert!(largest > 0.0, "{name}: the gradient is zero");
        for (i, (&e, &h)) in exact.iter().zip(half).enumerate() {
            // f16 keeps 11 bits: 2^-11 of the value, and 1e-3 of the tensor's largest for
            // the sums of products of f16-rounded hidden-layer weights.
            let error = (h / SCALE - e).abs();
            assert!(
                error <= e.abs() * 2f32.powi(-10) + 1e-3 * largest,
                "d{name}[{i}]: f16 {h} / {SCALE} vs f32 {e}"
            );
        }
    }
}

#[test]
fn sgd_refuses_an_f16_arena() {
    let gpu = gpu();
    if !gpu.device.features().contains(wgpu::Features::SHADER_F16) {
        eprintln!("no SHADER_F16 on this adapter: nothing to refuse");
        return;
    }
    let (train_set, test_set) = digits();
    let kernels = Kernels::with_precision(&gpu.device, HIDDEN, Precision::F16Grads).unwrap();
    let train_gpu = DeviceDigits::upload(&gpu.device, &train_set);
    let test_gpu = DeviceDigits::upload(&gpu.device, &test_set);
    let config = TrainingConfig {
        epochs: 1,
        batch_size: BATCH,
        seed: 7,
        optimizer: OptimizerSpec::Sgd {
            lr: 0.1,
            schedule: Schedule::Constant,
        },
    };
    let refused = train(
        &gpu.device,
        &gpu.queue,
        &kernels,
        &train_gpu,
        &test_gpu,
        &config,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        refused.to_string().contains("f32 kernels only"),
        "{refused}"
    );
}

#[test]
fn sgd_baseline_learns_the_digits() {
    let report = run(
        OptimizerSpec::Sgd {
            lr: 0.1,
            schedule: Schedule::Constant,
        },
        5,
    );
    let (first, last) = loss_drop(&report);
    assert!(
        last * 10.0 <= first,
        "SGD: the loss fell from {first} to {last}, less than 10x"
    );
    let test_accuracy = report.evaluation.held_out.accuracy;
    assert!(test_accuracy > 0.90, "SGD: test accuracy {test_accuracy}");
    assert!(report.log.iter().all(|s| s.step_size == 0.1));
}

#[test]
fn step_decay_divides_the_rate_by_ten_at_half_and_three_quarters() {
    let rates: Vec<f32> = (0..8)
        .map(|epoch| Schedule::StepDecay.lr(1.0, epoch, 8))
        .collect();
    let expected = [1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01];
    for (epoch, (rate, expected)) in rates.iter().zip(expected).enumerate() {
        assert!(
            (rate - expected).abs() <= 1e-6 * expected,
            "epoch {epoch}: lr {rate}, expected {expected}"
        );
    }
    assert_eq!(Schedule::Constant.lr(0.3, 7, 8), 0.3);
}

/// An f64 port of the network on one batch: the mean loss and the gradient of every tensor.
struct CpuBatch {
    loss: f64,
    grads: [Vec<f64>; 4], // w1, b1, w2, b2
}

fn cpu_forward_backward(params: &[Vec<f32>; 4], images: &[f32], labels: &[u32]) -> CpuBatch {
    let [w1, b1, w2, b2] = params
        .each_ref()
        .map(|p| p.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
    let rows = labels.len();
    let mut grads = [
        vec![0.0; HIDDEN * INPUTS],
        vec![0.0; HIDDEN],
        vec![0.0; CLASSES * HIDDEN],
        vec![0.0; CLASSES],
    ];
    let mut loss = 0.0;
    for (row, &label) in labels.iter().enumerate() {
        let x: Vec<f64> = images[row * INPUTS..(row + 1) * INPUTS]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let hidden: Vec<f64> = (0..HIDDEN)
            .map(|j| (b1[j] + (0..INPUTS).map(|k| w1[j * INPUTS + k] * x[k]).sum::<f64>()).max(0.0))
            .collect();
        let logits: Vec<f64> = (0..CLASSES)
            .map(|c| {
                b2[c]
                    + (0..HIDDEN)
                        .map(|j| w2[c * HIDDEN + j] * hidden[j])
                        .sum::<f64>()
            })
            .collect();
        let largest = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let normalizer: f64 = logits.iter().map(|l| (l - largest).exp()).sum();
        loss += normalizer.ln() + largest - logits[label as usize];
        let dlogits: Vec<f64> = (0..CLASSES)
            .map(|c| {
                let p = (logits[c] - largest).exp() / normalizer;
                (p - if c == label as usize { 1.0 } else { 0.0 }) / rows as f64
            })
            .collect();
        for c in 0..CLASSES {
            grads[3][c] += dlogits[c];
            for j in 0..HIDDEN {
                grads[2][c * HIDDEN + j] += dlogits[c] * hidden[j];
            }
        }
        for j in 0..HIDDEN {
            if hidden[j] > 0.0 {
                let delta: f64 = (0..CLASSES).map(|c| w2[c * HIDDEN + j] * dlogits[c]).sum();
                grads[1][j] += delta;
                for k in 0..INPUTS {
                    grads[0][j * INPUTS + k] += delta * x[k];
                }
            }
        }
    }
    CpuBatch {
        loss: loss / rows as f64,
        grads,
    }
}

/// Tolerance: every value is an f32 sum of at most 128 products of O(1) terms, so its rounding
/// error stays below ~1e-5 of the largest gradient of its tensor; 1e-4 leaves room for the
/// exp and log of the softmax.
#[test]
fn backward_kernels_match_an_f64_port_of_the_network() {
    let (train_set, test_set) = digits();
    let gpu = gpu();
    let kernels = Kernels::new(&gpu.device, HIDDEN).unwrap();
    let train_gpu = DeviceDigits::upload(&gpu.device, &train_set);
    let test_gpu = DeviceDigits::upload(&gpu.device, &test_set);
    let mlp = Mlp::new(&gpu.device, &kernels, &train_gpu, &test_gpu, BATCH).unwrap();
    mlp.init_params(&gpu.queue, 3).unwrap();
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        // Batch 0 of the upload order: training samples 0..BATCH.
        mlp.record_train_batch(&mut pass, 0);
    }
    gpu.queue.submit([encoder.finish()]);

    let names = ["w1", "b1", "w2", "b2"];
    let params = names.map(|name| {
        mlp.arena
            .read_params(&gpu.device, &gpu.queue, name)
            .unwrap()
    });
    let expected = cpu_forward_backward(
        &params,
        &train_set.images[..BATCH * INPUTS],
        &train_set.labels[..BATCH],
    );

    let (loss_buffer, loss_offset) = mlp.step_loss();
    let loss = read_f32s(&gpu.device, &gpu.queue, loss_buffer, loss_offset, 1).unwrap()[0];
    // A mean of 64 positive f32 row losses, each a log of a sum of 10 exps: rounding stays
    // under ~64 * 6e-8 = 4e-6 relative (measured 8.9e-9 on lavapipe and on llvmpipe GL).
    let loss_error = (f64::from(loss) - expected.loss).abs();
    assert!(
        loss_error <= 1e-5 * expected.loss,
        "loss: gpu {loss} vs f64 {}",
        expected.loss
    );
    for (name, expected) in names.iter().zip(&expected.grads) {
        let gpu_grads = mlp.arena.read_grads(&gpu.device, &gpu.queue, name).unwrap();
        let scale = expected.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        assert!(scale > 0.0, "{name}: the f64 gradient is zero");
        for (i, (&g, &e)) in gpu_grads.iter().zip(expected).enumerate() {
            let error = (f64::from(g) - e).abs();
            assert!(
                error <= 1e-4 * scale,
                "d{name}[{i}]: gpu {g:e} vs f64 {e:e}: |diff| {error:e} > 1e-4 * {scale:e}"
            );
        }
    }
}

#[test]
fn the_data_file_is_checked() {
    let digits = Digits::load(&dataset::default_path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(digits.len(), SAMPLES);
    assert!(digits.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
    assert_eq!(digits.images.len(), SAMPLES * INPUTS);

    let row = |pixel: &str, label: &str| format!("{}{pixel},{label}\n", "0,".repeat(INPUTS - 1));
    let refused = |text: String| Digits::parse_csv(&text).unwrap_err().to_string();
    let good = row("16", "9").repeat(SAMPLES);
    assert_eq!(Digits::parse_csv(&good).unwrap().len(), SAMPLES);
    assert!(refused(row("17", "9")).contains("pixel 64 is 17"));
    assert!(refused(row("3", "10")).contains("label 10"));
    assert!(refused(row("a", "1")).contains("not an integer"));
    assert!(refused("1,2,3\n".to_string()).contains("3 columns"));
    assert!(matches!(
        Digits::parse_csv(&row("0", "0").repeat(10)),
        Err(DatasetError::RowCount { found: 10 })
    ));
    let missing = Digits::load(std::path::Path::new("no/such/digits.csv.gz")).unwrap_err();
    assert!(missing.to_string().contains("no/such/digits.csv.gz"));
}
