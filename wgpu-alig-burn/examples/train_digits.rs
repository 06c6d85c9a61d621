//! Trains a burn MLP on the UCI digits with ALI-G (through the adapter) and with burn's own
//! SGD (its learning rate picked from a grid, on the test set, in SGD's favour), from the
//! same initialisation, on the same batches, for the same number of epochs, and compares
//! their test accuracy. Exits with failure when ALI-G ends more than 2 points below SGD.
//!
//! ```text
//! cargo run --release --example train_digits [-- EPOCHS]
//! ```

#[path = "train_digits/dataset.rs"]
mod dataset;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use wgpu_alig::{AligConfig, StepRecord};
use wgpu_alig_burn::{AligOptimizer, SharedDevice};

use dataset::{CLASSES, Digits, INPUTS, shuffle};

const HIDDEN: usize = 64;
const BATCH: usize = 64;
const DEFAULT_EPOCHS: usize = 15;
const SGD_LEARNING_RATES: [f64; 3] = [0.1, 0.3, 1.0];
/// ALI-G's only hyper-parameter, the largest step size.
const ALIG_MAX_LR: f32 = 1.0;
/// Untimed steps with each optimizer before the timed runs.
const WARM_UP_BATCHES: usize = 3;

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    activation: Relu,
    output: Linear,
}

impl Mlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.output
            .forward(self.activation.forward(self.hidden.forward(x)))
    }
}

/// A copy of the parameters in buffers of their own, so that each optimizer starts from the
/// same values (clones share buffers, and ALI-G's steps write them in place).
struct DeepCopy;

impl ModuleMapper for DeepCopy {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| Tensor::from_data(t.to_data(), &t.device()).require_grad())
    }
}

/// The data on the device, and the batches of every epoch (the same for every optimizer).
struct Data {
    train_x: Tensor<2>,
    train_y: Tensor<1, Int>,
    test_x: Tensor<2>,
    test_y: Tensor<1, Int>,
    batches: Vec<Vec<Tensor<1, Int>>>,
}

enum Optimizer {
    Alig(AligOptimizer),
    Sgd(burn::optim::ModuleOptimizer, f64),
}

fn sgd(lr: f64) -> Optimizer {
    Optimizer::Sgd(SgdConfig::new().init(), lr)
}

/// What a training run ended with.
struct Trained {
    name: String,
    accuracy: f64,
    steps: usize,
    seconds: f64,
    last_step: Option<StepRecord>,
}

fn main() -> ExitCode {
    let epochs = std::env::args()
        .nth(1)
        .map_or(DEFAULT_EPOCHS, |e| e.parse().expect("EPOCHS is a number"));
    match run(epochs) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(epochs: usize) -> Result<bool, Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/digits/digits.csv.gz");
    let digits = Digits::load(&path)?;
    let shared = SharedDevice::open()?;
    let fusion = if wgpu_alig_burn::burn_fusion() {
        "on"
    } else {
        "off"
    };
    println!("adapter: {}; burn's fusion {fusion}", shared.describe());
    let compared = compare(&digits, epochs, &shared);
    // Burn keeps its devices: stop its work on this one before the process exits.
    shared.shutdown()?;
    compared
}

/// Trains the MLP with ALI-G and with burn's SGD at each learning rate; whether ALI-G ends
/// within 2 points of the best SGD.
fn compare(
    digits: &Digits,
    epochs: usize,
    shared: &SharedDevice,
) -> Result<bool, Box<dyn std::error::Error>> {
    let device = shared.burn_device();
    device.seed(2020);
    let data = Data::new(digits, epochs, &device);
    let initial = Mlp {
        hidden: LinearConfig::new(INPUTS, HIDDEN).init(&device),
        activation: Relu::new(),
        output: LinearConfig::new(HIDDEN, CLASSES).init(&device),
    };
    println!(
        "{} train / {} test samples, batch {BATCH}, {epochs} epochs, MLP {INPUTS}-{HIDDEN}-{CLASSES}",
        data.train_y.dims()[0],
        data.test_y.dims()[0]
    );

    // A few untimed steps with each optimizer first: burn compiles its kernels on their first
    // use, and no optimizer's time should include that.
    let warm_up = data.first_batches(WARM_UP_BATCHES);
    let alig = AligOptimizer::new(shared, AligConfig::paper(ALIG_MAX_LR))?;
    train(&initial, &warm_up, Optimizer::Alig(alig), &device)?;
    train(&initial, &warm_up, sgd(SGD_LEARNING_RATES[0]), &device)?;

    let alig = AligOptimizer::new(shared, AligConfig::paper(ALIG_MAX_LR))?;
    let alig_accuracy = report(train(&initial, &data, Optimizer::Alig(alig), &device)?);
    let mut best_sgd = 0.0f64;
    for lr in SGD_LEARNING_RATES {
        best_sgd = best_sgd.max(report(train(&initial, &data, sgd(lr), &device)?));
    }
    println!(
        "test accuracy: ALI-G (max_lr {ALIG_MAX_LR}) {:.1}%, burn's SGD (best of lr {:?}) {:.1}%",
        100.0 * alig_accuracy,
        SGD_LEARNING_RATES,
        100.0 * best_sgd
    );
    let ok = alig_accuracy >= best_sgd - 0.02;
    if !ok {
        eprintln!("ALI-G ends more than 2 points below SGD");
    }
    Ok(ok)
}

impl Data {
    /// The same data with only the first `count` batches of the first epoch.
    fn first_batches(&self, count: usize) -> Self {
        Self {
            train_x: self.train_x.clone(),
            train_y: self.train_y.clone(),
            test_x: self.test_x.clone(),
            test_y: self.test_y.clone(),
            batches: vec![self.batches[0].iter().take(count).cloned().collect()],
        }
    }

    fn new(digits: &Digits, epochs: usize, device: &Device) -> Self {
        let (train, test) = digits.train_test_split(1998);
        let images = |d: &Digits| {
            Tensor::<2>::from_data(TensorData::new(d.images.clone(), [d.len(), INPUTS]), device)
        };
        let labels = |d: &Digits| {
            Tensor::<1, Int>::from_data(TensorData::new(d.labels.clone(), [d.len()]), device)
        };
        let batches = (0..epochs)
            .map(|epoch| {
                let mut order: Vec<usize> = (0..train.len()).collect();
                shuffle(&mut order, epoch as u64);
                order
                    .chunks(BATCH)
                    .map(|chunk| {
                        let indices: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
                        Tensor::<1, Int>::from_data(TensorData::new(indices, [chunk.len()]), device)
                    })
                    .collect()
            })
            .collect();
        Self {
            train_x: images(&train),
            train_y: labels(&train),
            test_x: images(&test),
            test_y: labels(&test),
            batches,
        }
    }
}

/// Trains a copy of `initial` for every epoch of `data`. The time runs until the test
/// accuracy is read back, which waits for the training's work on the device.
fn train(
    initial: &Mlp,
    data: &Data,
    mut optimizer: Optimizer,
    device: &Device,
) -> Result<Trained, Box<dyn std::error::Error>> {
    let mut model = initial.clone().map(&mut DeepCopy);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let started = Instant::now();
    let mut steps = 0;
    for epoch in &data.batches {
        for batch in epoch {
            let x = data.train_x.clone().select(0, batch.clone());
            let y = data.train_y.clone().select(0, batch.clone());
            let loss = loss_fn.forward(model.forward(x), y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = match &mut optimizer {
                Optimizer::Alig(alig) => alig.step(&loss, model, grads)?,
                Optimizer::Sgd(sgd, lr) => sgd.step(*lr, model, grads),
            };
            steps += 1;
        }
    }
    let predictions = model
        .forward(data.test_x.clone())
        .argmax(1)
        .flatten::<1>(0, 1);
    let correct = predictions.equal(data.test_y.clone()).int().sum();
    let correct: i64 = correct.to_data().iter::<i64>().next().unwrap_or(0);
    let accuracy = correct as f64 / data.test_y.dims()[0] as f64;
    let seconds = started.elapsed().as_secs_f64();
    let last_step = match &optimizer {
        Optimizer::Alig(alig) => alig.read_stats()?.and_then(|stats| stats.last().copied()),
        Optimizer::Sgd(..) => None,
    };
    Ok(Trained {
        name: match &optimizer {
            Optimizer::Alig(_) => "ALI-G".to_string(),
            Optimizer::Sgd(_, lr) => format!("SGD lr {lr}"),
        },
        accuracy,
        steps,
        seconds,
        last_step,
    })
}

/// Prints a run's line (and ALI-G's last step) and returns its test accuracy.
fn report(run: Trained) -> f64 {
    println!(
        "{:>12}: test accuracy {:.1}% after {} steps ({:.1} s)",
        run.name,
        100.0 * run.accuracy,
        run.steps,
        run.seconds
    );
    if let Some(last) = run.last_step {
        println!(
            "{:>12}  last step: loss {:.4}, gamma {:.4}",
            "", last.loss, last.gamma
        );
    }
    run.accuracy
}
