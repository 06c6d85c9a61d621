//! The `train_fashion` example's engine on a real adapter: its backward kernels against an
//! f64 CPU port of the same network, the Adam kernel against an f64 port, short training
//! runs on a small part of Fashion-MNIST, and the data loader's checks.
//!
//! The kernel and loader tests read the 256 images shipped in `data/fashion-mnist/` (the
//! first 256 of the test set; its README says how they were made) and always run. The training
//! runs and the check of the whole set need all of Fashion-MNIST, from Debian's
//! `dataset-fashion-mnist` package or the folder `FASHION_MNIST_DIR` names: they are
//! ignored by default (`cargo test --release -- --include-ignored` runs them; `.ci/run`
//! installs the package and does), and fail, saying how to get the data, when it is absent.

// The test uses part of the example's engine, which is included as the example includes it.
#[allow(dead_code)]
#[path = "../examples/train_fashion/mod.rs"]
mod engine;

mod common;
mod fashion_reference;

use std::path::{Path, PathBuf};

use common::gpu;
use engine::cnn::{Cnn, TENSORS};
use engine::common::adam::Adam;
use engine::common::kernel::ClassifierKernels;
use engine::dataset::{self, DatasetError, Images, CLASSES, PIXELS, TEST_SAMPLES, TRAIN_SAMPLES};
use engine::device_images::DeviceImages;
use engine::kernels::{Kernels, Shape};
use engine::optimizers::{OptimizerSpec, Schedule};
use engine::readback::read_f32s;
use engine::training::{train, TrainingConfig, TrainingReport};

/// The example's default network.
const SHAPE: Shape = Shape {
    channels: 8,
    hidden: 64,
};

/// All of Fashion-MNIST, `(train, test)`, for the ignored tests.
fn fashion() -> (Images, Images) {
    Images::load(&dataset::default_dir()).unwrap_or_else(|e| {
        panic!(
            "this test needs the whole data set: {e}; then run the ignored tests with \
             `cargo test --release -- --include-ignored`"
        )
    })
}

/// The images shipped with the crate: the first `SHIPPED` of the test set.
const SHIPPED: usize = 256;

/// Their class counts, labels 0 to 9.
const SHIPPED_CLASSES: [usize; CLASSES] = [25, 32, 37, 18, 27, 21, 22, 27, 23, 24];

/// The shipped files: `(images, labels)`.
fn shipped_files() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist");
    let file = |kind| dir.join(format!("t10k-first{SHIPPED}-{kind}.gz"));
    (file("images-idx3-ubyte"), file("labels-idx1-ubyte"))
}

fn shipped() -> Images {
    let (images, labels) = shipped_files();
    Images::load_files(&images, &labels, SHIPPED)
        .unwrap_or_else(|e| panic!("the Fashion-MNIST subset shipped in data/fashion-mnist: {e}"))
}

/// `(train, test)` subsets of `train_len` and `test_len` images of all of Fashion-MNIST,
/// seeded.
fn subsets(train_len: usize, test_len: usize) -> (Images, Images) {
    let (train_set, test_set) = fashion();
    (
        train_set.split(train_len, 1).1,
        test_set.split(test_len, 2).1,
    )
}

fn run(optimizer: OptimizerSpec, epochs: usize) -> TrainingReport {
    let (train_set, test_set) = subsets(1024, 500);
    let gpu = gpu();
    let kernels = Kernels::new(&gpu.device, SHAPE).unwrap();
    let train_gpu = DeviceImages::upload(&gpu.device, &train_set);
    let test_gpu = DeviceImages::upload(&gpu.device, &test_set);
    let config = TrainingConfig {
        epochs,
        batch_size: 64,
        seed: 7,
        optimizer,
    };
    train(
        &gpu.device,
        &gpu.queue,
        &kernels,
        (&train_gpu, &test_gpu),
        true,
        &config,
        &mut |_| {},
    )
    .unwrap()
}

/// Chance is 10% and the untrained loss ln(10) = 2.30.
fn assert_learned(name: &str, report: &TrainingReport, max_loss: f32, min_accuracy: f32) {
    let eval = report.evaluation;
    assert!(
        eval.train.loss < max_loss,
        "{name}: train loss {} (first batch {}), expected < {max_loss}",
        eval.train.loss,
        report.log[0].loss
    );
    assert!(
        eval.held_out.accuracy > min_accuracy,
        "{name}: test accuracy {}, expected > {min_accuracy}",
        eval.held_out.accuracy
    );
    assert_eq!(report.skipped_steps, 0);
    assert_eq!(report.epoch_held_out.len(), report.steps / 16);
}

#[test]
#[ignore = "needs all of Fashion-MNIST: apt-get install dataset-fashion-mnist (or set FASHION_MNIST_DIR), then cargo test --release -- --include-ignored"]
fn alig_learns_fashion_mnist() {
    let max_lr = 0.1;
    let report = run(OptimizerSpec::Alig { max_lr }, 3);
    assert_learned("ALI-G", &report, 0.9, 0.6);
    for step in &report.log {
        assert!(
            step.step_size > 0.0 && step.step_size <= max_lr,
            "step {}: gamma {} outside (0, max_lr]",
            step.step,
            step.step_size
        );
    }
    // The last epoch's test score is the final one.
    let last = report.epoch_held_out.last().unwrap();
    assert_eq!(last.accuracy, report.evaluation.held_out.accuracy);
}

#[test]
#[ignore = "needs all of Fashion-MNIST: apt-get install dataset-fashion-mnist (or set FASHION_MNIST_DIR), then cargo test --release -- --include-ignored"]
fn adam_and_sgd_learn_fashion_mnist() {
    assert_learned("Adam", &run(OptimizerSpec::Adam { lr: 1e-3 }, 2), 1.2, 0.6);
    let sgd = run(
        OptimizerSpec::Sgd {
            lr: 0.1,
            schedule: Schedule::Cosine,
        },
        2,
    );
    assert_learned("SGD cosine", &sgd, 1.2, 0.6);
    // Epoch 0 at the base rate, epoch 1 at half of it.
    assert_eq!(sgd.log[0].step_size, 0.1);
    assert!((sgd.log[16].step_size - 0.05).abs() < 1e-7);
}

#[test]
fn the_cosine_schedule_falls_from_the_base_rate_towards_zero() {
    let rates: Vec<f32> = (0..4).map(|e| Schedule::Cosine.lr(1.0, e, 4)).collect();
    let expected = [1.0, 0.853_553_4, 0.5, 0.146_446_6];
    for (epoch, (rate, expected)) in rates.iter().zip(expected).enumerate() {
        assert!(
            (rate - expected).abs() <= 1e-6,
            "epoch {epoch}: lr {rate}, expected {expected}"
        );
    }
}

/// Tolerances: every gradient is an f32 sum of at most 16 x 144 = 2304 products (the
/// convolution's; the dense layers' are shorter), accumulated in short runs and a tree, so
/// its rounding error stays below ~1e-5 of the largest gradient of its tensor; 1e-4 leaves
/// room for the exp and log of the softmax. A max-pool whose winner differs between f32 and
/// f64 (two outputs within rounding of each other) would show up as a larger error. The
/// images: 16 of the shipped ones for the batch and 100 others as the test set.
#[test]
fn backward_kernels_match_an_f64_port_of_the_network() {
    const BATCH: usize = 16;
    let (rest, train_set) = shipped().split(BATCH, 1);
    let test_set = rest.split(100, 2).1;
    let gpu = gpu();
    let kernels = Kernels::new(&gpu.device, SHAPE).unwrap();
    let train_gpu = DeviceImages::upload(&gpu.device, &train_set);
    let test_gpu = DeviceImages::upload(&gpu.device, &test_set);
    let cnn = Cnn::new(&gpu.device, &kernels, &train_gpu, &test_gpu, BATCH, false).unwrap();
    cnn.init_params(&gpu.queue, 3).unwrap();
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        // Batch 0 of the upload order: the whole subset.
        cnn.record_train_batch(&mut pass, 0);
    }
    gpu.queue.submit([encoder.finish()]);

    let read = |name| {
        cnn.arena
            .read_params(&gpu.device, &gpu.queue, name)
            .unwrap()
    };
    let params = fashion_reference::Params {
        channels: SHAPE.channels,
        hidden: SHAPE.hidden,
        tensors: TENSORS.map(|name| read(name).iter().map(|&v| f64::from(v)).collect()),
    };
    let expected =
        fashion_reference::forward_backward(&params, &train_set.pixels, &train_set.labels);

    let (loss_buffer, loss_offset) = cnn.step_loss();
    let loss = read_f32s(&gpu.device, &gpu.queue, loss_buffer, loss_offset, 1).unwrap()[0];
    let loss_error = (f64::from(loss) - expected.loss).abs();
    assert!(
        loss_error <= 1e-5 * expected.loss,
        "loss: gpu {loss} vs f64 {}",
        expected.loss
    );
    for (name, expected) in TENSORS.iter().zip(&expected.grads) {
        let gpu_grads = cnn.arena.read_grads(&gpu.device, &gpu.queue, name).unwrap();
        assert_eq!(gpu_grads.len(), expected.len(), "{name}");
        let scale = expected.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        assert!(scale > 0.0, "{name}: the f64 gradient is zero");
        let mut worst = 0.0f64;
        for (i, (&g, &e)) in gpu_grads.iter().zip(expected).enumerate() {
            let error = (f64::from(g) - e).abs();
            worst = worst.max(error / scale);
            assert!(
                error <= 1e-4 * scale,
                "d{name}[{i}]: gpu {g:e} vs f64 {e:e}: |diff| {error:e} > 1e-4 * {scale:e}"
            );
        }
        eprintln!("d{name}: largest error {worst:.1e} of the largest gradient");
    }
}

/// Three steps of the same gradient. Tolerance: each step moves a parameter by about lr
/// (m_hat / sqrt(v_hat) = sign(g) for a constant g), computed in f32 to a few 1e-7 relative,
/// so within 1e-6 lr; the parameter's own rounding adds ~6e-8 of its magnitude per step.
#[test]
fn the_adam_kernel_matches_an_f64_port() {
    let gpu = gpu();
    let kernels = ClassifierKernels::new(&gpu.device, 64).unwrap();
    let sizes = [("a", 1001), ("b", 3), ("c", 257)];
    let arena = wgpu_alig::Arena::new(&gpu.device, &sizes).unwrap();
    let mut rng = common::Rng::new(11);
    let values: Vec<(Vec<f32>, Vec<f32>)> = sizes
        .iter()
        .map(|&(_, len)| (rng.vec_f32(len, -1.0, 1.0), rng.vec_f32(len, -1.0, 1.0)))
        .collect();
    for (&(name, _), (params, grads)) in sizes.iter().zip(&values) {
        arena.write_params(&gpu.queue, name, params).unwrap();
        arena.write_grads(&gpu.queue, name, grads).unwrap();
    }
    let lr = 0.01;
    let adam = Adam::new(&gpu.device, &kernels, &arena, lr);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    for _ in 0..3 {
        adam.record_step(&mut encoder);
    }
    gpu.queue.submit([encoder.finish()]);
    for (&(name, _), (params, grads)) in sizes.iter().zip(&values) {
        let mut expected = common::to_f64(params);
        fashion_reference::adam(&mut expected, &common::to_f64(grads), f64::from(lr), 3);
        let got = arena.read_params(&gpu.device, &gpu.queue, name).unwrap();
        for (i, (&g, &e)) in got.iter().zip(&expected).enumerate() {
            let error = (f64::from(g) - e).abs();
            assert!(
                error <= 3.0 * (1e-6 * f64::from(lr) + 6e-8 * e.abs()),
                "{name}[{i}]: gpu {g:e} vs f64 {e:e}"
            );
        }
    }
}

fn class_counts(set: &Images) -> [usize; CLASSES] {
    let mut counts = [0; CLASSES];
    set.labels.iter().for_each(|&l| counts[l as usize] += 1);
    counts
}

#[test]
fn the_data_files_are_checked() {
    let subset = shipped();
    assert_eq!(subset.len(), SHIPPED);
    assert_eq!(subset.pixels.len(), SHIPPED * PIXELS);
    assert_eq!(class_counts(&subset), SHIPPED_CLASSES);
    // The header's sample count is checked against the one asked for.
    let (images, labels) = shipped_files();
    let refused = Images::load_files(&images, &labels, TEST_SAMPLES).unwrap_err();
    assert!(matches!(refused, DatasetError::Corrupt { .. }));
    let message = refused.to_string();
    assert!(message.contains("dimensions [256, 28, 28]"), "{message}");

    let path = Path::new("labels.idx");
    let idx = |magic: u32, dims: &[u32], payload: usize| {
        let mut bytes: Vec<u8> = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.resize(bytes.len() + payload, 0);
        bytes
    };
    let parse = |bytes: &[u8], magic, samples| dataset::parse_idx(path, bytes, magic, samples);
    let refused =
        |bytes: &[u8], magic, samples| parse(bytes, magic, samples).unwrap_err().to_string();
    assert_eq!(parse(&idx(0x801, &[5], 5), 0x801, 5).unwrap(), vec![0; 5]);
    assert_eq!(
        parse(&idx(0x803, &[2, 28, 28], 2 * PIXELS), 0x803, 2)
            .unwrap()
            .len(),
        2 * PIXELS
    );
    assert!(refused(&idx(0x803, &[5], 5), 0x801, 5).contains("magic number 0x00000803"));
    assert!(refused(&idx(0x801, &[4], 4), 0x801, 5).contains("dimensions [4]"));
    assert!(refused(&idx(0x803, &[2, 28, 27], 2 * 28 * 27), 0x803, 2).contains("dimensions"));
    assert!(refused(&idx(0x801, &[5], 4), 0x801, 5).contains("4 bytes of data"));
    assert!(refused(&[0, 0], 0x801, 5).contains("no IDX header"));

    let missing = Images::load(Path::new("no/such/folder")).unwrap_err();
    assert!(matches!(missing, DatasetError::Missing { .. }));
    let message = missing.to_string();
    assert!(
        message.contains("no/such/folder/train-images-idx3-ubyte.gz"),
        "{message}"
    );
    assert!(
        message.contains("apt-get install dataset-fashion-mnist"),
        "{message}"
    );
    assert!(message.contains(dataset::DIR_VARIABLE), "{message}");
}

/// The whole set's sizes and classes, and the shipped images are its first test images.
#[test]
#[ignore = "needs all of Fashion-MNIST: apt-get install dataset-fashion-mnist (or set FASHION_MNIST_DIR), then cargo test --release -- --include-ignored"]
fn the_whole_data_set_is_checked() {
    let (train_set, test_set) = fashion();
    assert_eq!(train_set.len(), TRAIN_SAMPLES);
    assert_eq!(test_set.len(), TEST_SAMPLES);
    assert_eq!(train_set.pixels.len(), TRAIN_SAMPLES * PIXELS);
    // Balanced classes: 6,000 and 1,000 of each.
    for (set, per_class) in [(&train_set, 6000), (&test_set, 1000)] {
        assert_eq!(class_counts(set), [per_class; CLASSES]);
    }

    let subset = shipped();
    assert!(
        subset.pixels == test_set.pixels[..SHIPPED * PIXELS],
        "data/fashion-mnist's images are not the first {SHIPPED} of the test set"
    );
    assert_eq!(subset.labels, test_set.labels[..SHIPPED]);
}
