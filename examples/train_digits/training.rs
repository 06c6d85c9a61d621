//! One training run: epochs of shuffled mini-batches, each epoch recorded into one encoder and
//! submitted at once. Per step the host records dispatches and nothing else; per epoch it
//! writes the new sample order (and SGD's learning rate) and starts an asynchronous read of
//! ALI-G's stats ring, which it collects one epoch later, so that the GPU can have the next
//! epoch queued while the host waits (a driver may still run one submit at a time, as
//! lavapipe does).

use std::time::{Duration, Instant};

use super::device_digits::DeviceDigits;
use super::kernels::Kernels;
use super::mlp::{Evaluation, Mlp};
use super::optimizers::{Optimizer, OptimizerSpec, StatsFuture};
use super::readback::read_f32s;
use super::split_mix::SplitMix64;
use super::Result;

/// Keeps the shuffles' random stream apart from the initialisation's (same seed).
const SHUFFLE_STREAM: u64 = 0x5348_5546_464c_4521;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainingConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Seeds the initial parameters and the order of the samples in each epoch.
    pub seed: u64,
    pub optimizer: OptimizerSpec,
}

/// One step as logged: the mini-batch loss and the step size taken (ALI-G's gamma, or SGD's
/// learning rate).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLog {
    pub step: usize,
    pub epoch: usize,
    pub loss: f32,
    pub step_size: f32,
}

/// What the run has confirmed so far, reported once per epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    pub steps_done: usize,
    pub total_steps: usize,
    /// The latest mini-batch loss, where the optimizer reports it (ALI-G).
    pub loss: Option<f32>,
    pub step_size: Option<f32>,
    /// Steps ALI-G skipped (non-finite loss or gradient).
    pub skipped_steps: u32,
}

#[derive(Clone, Debug)]
pub struct TrainingReport {
    pub optimizer: OptimizerSpec,
    pub steps: usize,
    /// From the first submit until the last step is done; evaluation excluded.
    pub wall: Duration,
    pub evaluation: Evaluation,
    pub log: Vec<StepLog>,
    pub skipped_steps: u32,
}

/// A submitted epoch: the empty submit that follows its stats readback, and that readback.
struct EpochInFlight {
    marker: wgpu::SubmissionIndex,
    stats: Option<StatsFuture>,
    steps_done: usize,
}

/// Trains a freshly initialised model on `train` and evaluates it on `train` and `held_out`.
pub fn train(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &Kernels,
    train: &DeviceDigits,
    held_out: &DeviceDigits,
    config: &TrainingConfig,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<TrainingReport> {
    if config.epochs == 0 {
        return Err("train for at least one epoch".into());
    }
    let mlp = Mlp::new(device, kernels, train, held_out, config.batch_size)?;
    mlp.init_params(queue, config.seed)?;
    let steps_per_epoch = mlp.steps_per_epoch();
    let total_steps = config.epochs * steps_per_epoch;
    // The ring is read every epoch; two epochs of records leave no gap between reads.
    let stats_capacity = u32::try_from(2 * steps_per_epoch)?;
    let mut optimizer = Optimizer::new(
        device,
        kernels,
        &mlp.arena,
        config.optimizer,
        stats_capacity,
    )?;
    // Every step's loss, copied on the GPU and read once at the end.
    let loss_log = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("digits loss log"),
        size: total_steps as u64 * 4,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let mut step_sizes = vec![f32::NAN; total_steps];
    let mut progress = Progress {
        total_steps,
        ..Progress::default()
    };
    let mut shuffle = SplitMix64::new(config.seed ^ SHUFFLE_STREAM);
    let mut order: Vec<u32> = (0..train.len() as u32).collect();
    let mut in_flight: Option<EpochInFlight> = None;

    let started = Instant::now();
    for epoch in 0..config.epochs {
        shuffle.shuffle(&mut order);
        train.write_order(queue, &order);
        let epoch_steps = epoch * steps_per_epoch..(epoch + 1) * steps_per_epoch;
        if let Some(lr) = optimizer.start_epoch(queue, epoch, config.epochs) {
            step_sizes[epoch_steps.clone()].fill(lr);
            progress.step_size = Some(lr);
        }
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("digits epoch"),
        });
        for (batch, step) in epoch_steps.enumerate() {
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("digits forward and backward"),
                    timestamp_writes: None,
                });
                mlp.record_train_batch(&mut pass, batch);
            }
            let (loss_buffer, loss_offset) = mlp.step_loss();
            encoder.copy_buffer_to_buffer(loss_buffer, loss_offset, &loss_log, step as u64 * 4, 4);
            optimizer.record_step(&mut encoder, queue, mlp.step_loss())?;
        }
        queue.submit([encoder.finish()]);
        let stats = optimizer.read_stats(device, queue);
        // An empty submit after the readback's: once it is done, so is the readback.
        let marker = queue.submit([]);
        let submitted = EpochInFlight {
            marker,
            stats,
            steps_done: (epoch + 1) * steps_per_epoch,
        };
        if let Some(previous) = in_flight.replace(submitted) {
            settle(device, previous, &mut step_sizes, &mut progress)?;
            on_progress(&progress);
        }
    }
    if let Some(last) = in_flight.take() {
        settle(device, last, &mut step_sizes, &mut progress)?;
        on_progress(&progress);
    }
    let wall = started.elapsed();

    let evaluation = mlp.evaluate(device, queue)?;
    let losses = read_f32s(device, queue, &loss_log, 0, total_steps)?;
    let log = losses
        .iter()
        .zip(&step_sizes)
        .enumerate()
        .map(|(step, (&loss, &step_size))| StepLog {
            step,
            epoch: step / steps_per_epoch,
            loss,
            step_size,
        })
        .collect();
    Ok(TrainingReport {
        optimizer: config.optimizer,
        steps: total_steps,
        wall,
        evaluation,
        log,
        skipped_steps: progress.skipped_steps,
    })
}

/// Waits for a submitted epoch (the GPU meanwhile runs the next one) and takes in its stats.
fn settle(
    device: &wgpu::Device,
    epoch: EpochInFlight,
    step_sizes: &mut [f32],
    progress: &mut Progress,
) -> Result<()> {
    device.poll(wgpu::PollType::Wait {
        submission_index: Some(epoch.marker),
        timeout: None,
    })?;
    progress.steps_done = epoch.steps_done;
    if let Some(stats) = epoch.stats {
        let snapshot = pollster::block_on(stats)?;
        for record in &snapshot.records {
            if let Some(step_size) = step_sizes.get_mut(record.step as usize) {
                *step_size = record.gamma;
            }
        }
        if let Some(last) = snapshot.last() {
            progress.loss = Some(last.loss);
            progress.step_size = Some(last.gamma);
        }
        progress.skipped_steps = snapshot.skipped;
    }
    Ok(())
}
