//! Command-line flags of the example; the defaults run the whole comparison on a subset that
//! fits a 15-minute budget on a CPU driver, `--full` the whole training set.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use super::engine::dataset;

/// Trains a small convolutional network on Fashion-MNIST entirely on the GPU, and compares
/// ALI-G with SGD (constant rate, and a cosine or step schedule) and Adam, each with its one
/// hyper-parameter picked on a grid by validation accuracy, with the same budget.
#[derive(Debug, Parser)]
#[command(about, long_about = None)]
pub struct Args {
    /// Passes over the training set, for the tuning runs and the final ones alike.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,

    /// Training images used (a seeded random subset of the 60,000); a seeded random sixth of
    /// it is held out for validation while tuning.
    #[arg(long, default_value_t = 6000)]
    pub train_samples: usize,

    /// The whole training set and 15 epochs (overrides --train-samples and --epochs).
    #[arg(long)]
    pub full: bool,

    /// Samples per mini-batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,

    /// Convolution filters.
    #[arg(long, default_value_t = 8)]
    pub channels: usize,

    /// Hidden units of the dense layer.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,

    /// Optimizers to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [OptimizerKind::Alig, OptimizerKind::Sgd, OptimizerKind::SgdCosine, OptimizerKind::Adam])]
    pub optimizers: Vec<OptimizerKind>,

    /// ALI-G's max_lr values tried.
    #[arg(long, value_delimiter = ',', default_values_t = [0.03, 0.1, 0.3, 1.0])]
    pub alig_grid: Vec<f32>,

    /// Learning rates tried for each SGD variant.
    #[arg(long, value_delimiter = ',', default_values_t = [0.01, 0.03, 0.1, 0.3])]
    pub sgd_grid: Vec<f32>,

    /// Learning rates tried for Adam.
    #[arg(long, value_delimiter = ',', default_values_t = [0.001, 0.003, 0.01, 0.03])]
    pub adam_grid: Vec<f32>,

    /// Seed of the subset, the split, the initial parameters and the shuffles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Where the CSV files, the summary and the plots go.
    #[arg(long, default_value = "target/train_fashion")]
    pub out_dir: PathBuf,

    /// The folder of the four gzipped IDX files.
    #[arg(long, default_value_os_t = dataset::default_dir())]
    pub data: PathBuf,
}

impl Args {
    /// `(training images, epochs)` after `--full`.
    pub fn budget(&self) -> (usize, usize) {
        if self.full {
            (dataset::TRAIN_SAMPLES, 15)
        } else {
            (self.train_samples, self.epochs)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerKind {
    /// ALI-G with momentum 0.9 (`AligConfig::paper(max_lr)`), max_lr tuned.
    Alig,
    /// SGD, Nesterov momentum 0.9, tuned constant learning rate.
    Sgd,
    /// SGD, Nesterov momentum 0.9, tuned learning rate on a cosine schedule to zero.
    SgdCosine,
    /// SGD, Nesterov momentum 0.9, tuned learning rate divided by 10 at 50% and 75%.
    SgdStep,
    /// Adam (betas 0.9, 0.999), tuned learning rate.
    Adam,
}
