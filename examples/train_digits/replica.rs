//! Data parallelism over devices: one replica of the perceptron per device, each computing
//! the gradient of its share of every mini-batch; the host averages the gradients and the
//! losses (the reference all-reduce) and every replica takes the same ALI-G step. Shared by
//! the `train_digits_data_parallel` example and the MPI companion crate's example, which
//! compares its ranks against this run.

use wgpu_alig::{Alig, AligConfig, Gpu, Loss};

use super::common::readback::read_f32s;
use super::common::split_mix::SplitMix64;
use super::common::training::Model;
use super::dataset::Digits;
use super::device_digits::DeviceDigits;
use super::kernels::Kernels;
use super::mlp::Mlp;
use super::Result;

/// Keeps each replica's shuffles apart from the initialisation's random stream.
const SHUFFLE_STREAM: u64 = 0x4450_5348_5546_4c45;

/// The options of a data-parallel run over two devices or ranks, shared by its examples.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct DataParallelArgs {
    /// Passes over the training set.
    #[arg(long, default_value_t = 60)]
    pub epochs: usize,
    /// Samples per mini-batch over both devices (each computes half).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Hidden units.
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// ALI-G's one hyper-parameter.
    #[arg(long, default_value_t = 1.0)]
    pub max_lr: f32,
    /// Seed of the initial parameters, of the shuffles and of the split into halves.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The devices (or ranks) of a data-parallel run: one per half of the training set.
pub const DEVICES: usize = 2;

impl DataParallelArgs {
    /// What each replica trains with; an error unless each device gets at least one sample
    /// and there is at least one epoch.
    pub fn replica_config(&self) -> Result<ReplicaConfig> {
        if self.batch_size < DEVICES || self.epochs == 0 {
            return Err("the batch size must be at least 2 and the epochs at least 1".into());
        }
        Ok(ReplicaConfig {
            hidden: self.hidden,
            batch_size: self.batch_size / DEVICES,
            max_lr: self.max_lr,
            seed: self.seed,
        })
    }
}

/// What every replica is trained with.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaConfig {
    /// Hidden units.
    pub hidden: usize,
    /// Samples per replica per step.
    pub batch_size: usize,
    /// ALI-G's one hyper-parameter.
    pub max_lr: f32,
    /// Seed of the initial parameters (the same on every replica) and of the shuffles.
    pub seed: u64,
}

/// The training set split in `replicas` parts, as a distributed sampler gives them (two: the
/// halves; the examples split in two).
pub fn halves(train_set: &Digits, seed: u64) -> [Digits; 2] {
    let (first, second) = train_set.split(train_set.len() / 2, seed);
    [first, second]
}

/// One device's replica: its model, its optimizer and its shuffle.
pub struct Replica<'k> {
    /// The model, with its data and its arena.
    pub mlp: Mlp<'k>,
    /// The optimizer over the arena.
    pub alig: Alig,
    shuffle: SplitMix64,
}

impl<'k> Replica<'k> {
    /// Replica `index` on `gpu` with its `kernels` (of `config.hidden` units), training on
    /// `part` and evaluating on `test`.
    pub fn new(
        gpu: &Gpu,
        kernels: &'k Kernels,
        part: &Digits,
        test: &Digits,
        config: ReplicaConfig,
        index: usize,
    ) -> Result<Self> {
        let train_data = DeviceDigits::upload(&gpu.device, part);
        let test_data = DeviceDigits::upload(&gpu.device, test);
        let mlp = Mlp::new(
            &gpu.device,
            kernels,
            &train_data,
            &test_data,
            config.batch_size,
        )?;
        mlp.init_params(&gpu.queue, config.seed)?;
        let alig = Alig::new(&gpu.device, &mlp.arena, AligConfig::paper(config.max_lr))?;
        let shuffle = SplitMix64::new(config.seed ^ SHUFFLE_STREAM ^ index as u64);
        Ok(Self { mlp, alig, shuffle })
    }

    /// Shuffles this replica's part for the next epoch.
    pub fn begin_epoch(&mut self, gpu: &Gpu) {
        let mut order: Vec<u32> = (0..self.mlp.head().train_len() as u32).collect();
        self.shuffle.shuffle(&mut order);
        self.mlp.head().write_train_order(&gpu.queue, &order);
    }

    /// The forward and backward passes of `batch`: the gradients land in the arena; returns
    /// the batch's mean loss, read back.
    pub fn gradients(&self, gpu: &Gpu, batch: usize) -> Result<f32> {
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            self.mlp.record_train_batch(&mut pass, batch);
        }
        gpu.queue.submit([encoder.finish()]);
        let (buffer, offset) = self.mlp.step_loss();
        Ok(read_f32s(&gpu.device, &gpu.queue, buffer, offset, 1)?[0])
    }

    /// The ALI-G step with the (averaged) gradients in the arena and `loss`.
    pub fn step(&mut self, gpu: &Gpu, loss: f32) -> Result<()> {
        self.alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))?;
        Ok(())
    }
}

/// Trains one replica per device of `gpus` (with its `kernels`) on its part for `epochs`, the
/// host averaging the gradients and losses every step ([`host_mean`]); returns the replicas.
pub fn train_in_process<'k>(
    gpus: &[Gpu],
    kernels: &'k [Kernels],
    parts: &[Digits],
    test: &Digits,
    config: ReplicaConfig,
    epochs: usize,
) -> Result<Vec<Replica<'k>>> {
    let mut replicas = Vec::new();
    for (index, ((gpu, kernels), part)) in gpus.iter().zip(kernels).zip(parts).enumerate() {
        replicas.push(Replica::new(gpu, kernels, part, test, config, index)?);
    }
    let steps_per_epoch = same_steps_per_epoch(&replicas)?;
    for _ in 0..epochs {
        for (gpu, replica) in gpus.iter().zip(&mut replicas) {
            replica.begin_epoch(gpu);
        }
        for batch in 0..steps_per_epoch {
            let mut grads = Vec::with_capacity(gpus.len());
            let mut losses = Vec::with_capacity(gpus.len());
            for (gpu, replica) in gpus.iter().zip(&replicas) {
                losses.push(replica.gradients(gpu, batch)?);
                grads.push(replica.mlp.arena.read_all_grads(&gpu.device, &gpu.queue)?);
            }
            let (grad, loss) = host_mean(&grads, &losses);
            for (gpu, replica) in gpus.iter().zip(&mut replicas) {
                replica.mlp.arena.write_all_grads(&gpu.queue, &grad)?;
                replica.step(gpu, loss)?;
            }
        }
    }
    Ok(replicas)
}

/// The number of batches per epoch, the same for every replica (else an error).
pub fn same_steps_per_epoch(replicas: &[Replica<'_>]) -> Result<usize> {
    let steps = replicas.first().map_or(0, |r| r.mlp.steps_per_epoch());
    if replicas.iter().any(|r| r.mlp.steps_per_epoch() != steps) {
        return Err("the parts of the training set give different numbers of batches".into());
    }
    Ok(steps)
}

/// The reference all-reduce: the mean of the devices' gradients and losses, each element
/// summed in device order from zero, computed once so that every device is given the same
/// bits.
pub fn host_mean(grads: &[Vec<f32>], losses: &[f32]) -> (Vec<f32>, f32) {
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
    let loss = losses.iter().fold(0.0f32, |sum, l| sum + l);
    (mean, loss * scale)
}
