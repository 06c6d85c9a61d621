//! Command-line flags of the example; the defaults run the whole comparison.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use wgpu_alig::Precision;

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

    /// Optimizers to run, comma-separated [default: alig,sgd,sgd-step with f32; alig with the
    /// f16 precisions, whose gradients the SGD kernels cannot read].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub optimizers: Option<Vec<OptimizerKind>>,

    /// Element types of the arena: f32; f16 gradients; or f16 gradients and weights (the
    /// forward pass reads an f16 copy of the f32 master weights that ALI-G updates). The f16
    /// ones need SHADER_F16 and train ALI-G with a dynamic loss scale.
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,

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

impl Args {
    /// The optimizers to run: those asked for, or the default of the precision.
    pub fn optimizers(&self) -> Vec<OptimizerKind> {
        match (&self.optimizers, self.precision) {
            (Some(list), _) => list.clone(),
            (None, PrecisionArg::F32) => {
                vec![
                    OptimizerKind::Alig,
                    OptimizerKind::Sgd,
                    OptimizerKind::SgdStep,
                ]
            }
            (None, _) => vec![OptimizerKind::Alig],
        }
    }
}

/// `--precision`: `wgpu_alig::Precision` by its command-line name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// f32 weights and gradients.
    F32,
    /// f32 weights, f16 gradients.
    F16Grads,
    /// f16 weights and gradients, f32 master weights.
    F16,
}

impl From<PrecisionArg> for Precision {
    fn from(arg: PrecisionArg) -> Self {
        match arg {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::F16Grads => Precision::F16Grads,
            PrecisionArg::F16 => Precision::F16,
        }
    }
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
