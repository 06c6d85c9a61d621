//! Command-line flags of the example; the defaults run the whole comparison.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use super::engine::dataset;

/// Trains a 64 -> hidden -> 10 perceptron on the UCI handwritten digits entirely on the GPU,
/// and compares ALI-G with SGD (constant learning rate, and step decay), both tuned on a grid.
#[derive(Debug, Parser)]
#[command(about, long_about = None)]
pub struct Args {
    /// Passes over the training set.
    #[arg(long, default_value_t = 60)]
    pub epochs: usize,

    /// Samples per mini-batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,

    /// Hidden units.
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,

    /// ALI-G's only hyper-parameter: the largest step size.
    #[arg(long, default_value_t = 1.0)]
    pub max_lr: f32,

    /// Optimizers to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [OptimizerKind::Alig, OptimizerKind::Sgd, OptimizerKind::SgdStep])]
    pub optimizers: Vec<OptimizerKind>,

    /// Learning rates tried for each SGD variant (picked by validation accuracy on a part of
    /// the training set held out for it).
    #[arg(long, value_delimiter = ',', default_values_t = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0])]
    pub sgd_grid: Vec<f32>,

    /// Use this SGD learning rate and skip the tuning.
    #[arg(long)]
    pub sgd_lr: Option<f32>,

    /// Seed of the initial parameters and of the shuffles (the train/test split is fixed).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Where the CSV files, the summary and the plot go.
    #[arg(long, default_value = "target/train_digits")]
    pub out_dir: PathBuf,

    /// The gzipped CSV of the digits set.
    #[arg(long, default_value_os_t = dataset::default_path())]
    pub data: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerKind {
    /// ALI-G with momentum 0.9 (`AligConfig::paper(max_lr)`).
    Alig,
    /// SGD, Nesterov momentum 0.9, tuned constant learning rate.
    Sgd,
    /// SGD, Nesterov momentum 0.9, tuned learning rate divided by 10 at 50% and 75% of the epochs.
    SgdStep,
}
