//! One training run of any model of the examples: epochs of shuffled mini-batches, each
//! epoch recorded into one encoder and submitted at once. Per step the host records
//! dispatches and nothing else; per epoch it writes the new sample order (and SGD's learning
//! rate), records the model's held-out evaluation if it tracks one, and starts an
//! asynchronous read of ALI-G's stats ring, which it collects one epoch later, so that the GPU
//! can have the next epoch queued while the host waits (a driver may still run one submit at
//! a time, as lavapipe does).

use std::time::{Duration, Instant};

use wgpu_alig::Arena;

use super::batches::{combine_chunks, BatchSlot, BatchTable, RESULT_SLOT_BYTES, STEP_SLOT};
use super::classifier_head::ClassifierHead;
use super::kernel::ClassifierKernels;
use super::optimizers::{Optimizer, OptimizerSpec, StatsFuture};
use super::readback::read_f32s;
use super::split_mix::SplitMix64;
use super::Result;

/// Keeps the shuffles' random stream apart from the initialisation's (same seed).
const SHUFFLE_STREAM: u64 = 0x5348_5546_464c_4521;

/// Loss and accuracy over a whole set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Score {
    pub loss: f32,
    pub accuracy: f32,
}

/// The model on the training set and on the held-out set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Evaluation {
    pub train: Score,
    pub held_out: Score,
}

/// Which set an evaluation chunk belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    Train,
    HeldOut,
}

/// Evaluates on both sets of `batches`: `record_forward` records the forward pass of one
/// chunk, whose (mean loss, correct) lands in its slot of `results`; waits for the device.
pub fn evaluate_sets(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    results: &wgpu::Buffer,
    batches: &BatchTable,
    record_forward: &dyn Fn(&mut wgpu::ComputePass<'_>, Set, BatchSlot),
) -> Result<Evaluation> {
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        for &slot in &batches.train_eval {
            record_forward(&mut pass, Set::Train, slot);
        }
        for &slot in &batches.held_out_eval {
            record_forward(&mut pass, Set::HeldOut, slot);
        }
    }
    queue.submit([encoder.finish()]);
    // The evaluation slots follow the step's, the training set's first.
    let chunks = batches.train_eval.len() + batches.held_out_eval.len();
    let offset = u64::from(STEP_SLOT + 1) * RESULT_SLOT_BYTES;
    let values = read_f32s(device, queue, results, offset, 2 * chunks)?;
    let (train_values, held_out_values) = values.split_at(2 * batches.train_eval.len());
    let score = |values: &[f32], chunks: &[BatchSlot]| {
        let (loss, accuracy) = combine_chunks(values, chunks);
        Score { loss, accuracy }
    };
    Ok(Evaluation {
        train: score(train_values, &batches.train_eval),
        held_out: score(held_out_values, &batches.held_out_eval),
    })
}

/// Where a recorded held-out evaluation leaves its results: one (mean loss, correct) slot per
/// chunk, consecutive from `offset`.
pub struct EpochEval<'a> {
    pub results: &'a wgpu::Buffer,
    pub offset: u64,
    pub chunks: &'a [BatchSlot],
}

/// What the training loop needs of a model whose parameters live in an arena, in front of a
/// shared classifier head.
pub trait Model {
    fn arena(&self) -> &Arena;
    fn head(&self) -> &ClassifierHead<'_>;
    /// Records the forward pass of `slot` of `set`, the head's included: afterwards its
    /// (mean loss, correct) is in the head's results.
    fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>, set: Set, slot: BatchSlot);
    /// Records forward and backward of mini-batch `batch` of the current order: afterwards
    /// the arena's grads hold the gradient of its mean loss, and `step_loss` that loss.
    fn record_train_batch(&self, pass: &mut wgpu::ComputePass<'_>, batch: usize);
    /// Multiplies the loss gradient of the training batches by the loss scale at `scale`
    /// from now on (see [`ClassifierHead::bind_loss_scale`]).
    fn bind_loss_scale(&self, device: &wgpu::Device, scale: wgpu::BufferBinding<'_>) -> Result<()> {
        self.head().bind_loss_scale(device, self.arena(), scale)
    }

    /// Whether the loop evaluates the held-out set after every epoch.
    fn tracks_held_out(&self) -> bool {
        false
    }

    /// Mini-batches per epoch.
    fn steps_per_epoch(&self) -> usize {
        self.head().batches.train_batches.len()
    }

    /// Records an evaluation of the held-out set at the end of an epoch, where the model
    /// tracks one; the loop copies its results aside and reads them once, at the end.
    fn record_epoch_eval(&self, pass: &mut wgpu::ComputePass<'_>) -> Option<EpochEval<'_>> {
        if !self.tracks_held_out() {
            return None;
        }
        let head = self.head();
        let chunks = &head.batches.held_out_eval;
        for &slot in chunks {
            self.record_forward(pass, Set::HeldOut, slot);
        }
        Some(EpochEval {
            results: &head.results,
            offset: u64::from(chunks[0].out_slot) * RESULT_SLOT_BYTES,
            chunks,
        })
    }

    /// Evaluates on the whole training and held-out sets, waiting for the device.
    fn evaluate(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<Evaluation> {
        let head = self.head();
        evaluate_sets(
            device,
            queue,
            &head.results,
            &head.batches,
            &|pass, set, slot| self.record_forward(pass, set, slot),
        )
    }
}

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
    /// From the first submit until the last step is done: the held-out evaluations after
    /// each epoch included (where the model tracks them), the final evaluation excluded.
    pub wall: Duration,
    pub evaluation: Evaluation,
    pub log: Vec<StepLog>,
    /// The held-out score after each epoch, where the model tracks it.
    pub epoch_held_out: Vec<Score>,
    pub skipped_steps: u32,
}

/// A submitted epoch: the empty submit that follows its stats readback, and that readback.
struct EpochInFlight {
    marker: wgpu::SubmissionIndex,
    stats: Option<StatsFuture>,
    steps_done: usize,
}

/// Trains `model` (initialised by the caller) and evaluates it on its training and held-out
/// sets.
pub fn train_model(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    model: &dyn Model,
    kernels: &ClassifierKernels,
    config: &TrainingConfig,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<TrainingReport> {
    if config.epochs == 0 {
        return Err("train for at least one epoch".into());
    }
    let steps_per_epoch = model.steps_per_epoch();
    let total_steps = config.epochs * steps_per_epoch;
    // The ring is read every epoch; two epochs of records leave no gap between reads.
    let stats_capacity = u32::try_from(2 * steps_per_epoch)?;
    let mut optimizer = Optimizer::new(
        device,
        kernels,
        model.arena(),
        config.optimizer,
        stats_capacity,
    )?;
    // The backward pass multiplies its loss gradient by the optimizer's loss scale (1 unless
    // the arena is f16, where ALI-G's is dynamic).
    if let Some(scale) = optimizer.loss_scale_binding() {
        model.bind_loss_scale(device, scale)?;
    }
    // Every step's loss, copied on the GPU and read once at the end.
    let loss_log = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("loss log"),
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
    let mut order: Vec<u32> = (0..model.head().train_len() as u32).collect();
    // The held-out results of every epoch, where the model records them; read at the end.
    let mut epoch_log: Option<(wgpu::Buffer, Vec<BatchSlot>)> = None;
    let mut in_flight: Option<EpochInFlight> = None;

    let started = Instant::now();
    for epoch in 0..config.epochs {
        shuffle.shuffle(&mut order);
        model.head().write_train_order(queue, &order);
        let epoch_steps = epoch * steps_per_epoch..(epoch + 1) * steps_per_epoch;
        if let Some(lr) = optimizer.start_epoch(queue, epoch, config.epochs) {
            step_sizes[epoch_steps.clone()].fill(lr);
            progress.step_size = Some(lr);
        }
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("epoch"),
        });
        for (batch, step) in epoch_steps.enumerate() {
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("forward and backward"),
                    timestamp_writes: None,
                });
                model.record_train_batch(&mut pass, batch);
            }
            let (loss_buffer, loss_offset) = model.head().step_loss();
            encoder.copy_buffer_to_buffer(loss_buffer, loss_offset, &loss_log, step as u64 * 4, 4);
            optimizer.record_step(&mut encoder, queue, model.head().step_loss())?;
        }
        record_epoch_eval(
            device,
            model,
            &mut encoder,
            &mut epoch_log,
            epoch,
            config.epochs,
        );
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

    let evaluation = model.evaluate(device, queue)?;
    let epoch_held_out = match &epoch_log {
        Some((buffer, chunks)) => {
            let values = read_f32s(device, queue, buffer, 0, 2 * chunks.len() * config.epochs)?;
            values
                .chunks_exact(2 * chunks.len())
                .map(|epoch| {
                    let (loss, accuracy) = combine_chunks(epoch, chunks);
                    Score { loss, accuracy }
                })
                .collect()
        }
        None => Vec::new(),
    };
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
        epoch_held_out,
        skipped_steps: progress.skipped_steps,
    })
}

/// Records the model's end-of-epoch evaluation, if any, and copies its results to the epoch
/// log (created at the first epoch, sized for all of them).
fn record_epoch_eval(
    device: &wgpu::Device,
    model: &dyn Model,
    encoder: &mut wgpu::CommandEncoder,
    epoch_log: &mut Option<(wgpu::Buffer, Vec<BatchSlot>)>,
    epoch: usize,
    epochs: usize,
) {
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("epoch evaluation"),
        timestamp_writes: None,
    });
    let Some(eval) = model.record_epoch_eval(&mut pass) else {
        return;
    };
    drop(pass);
    let bytes = eval.chunks.len() as u64 * RESULT_SLOT_BYTES;
    let (log, _) = epoch_log.get_or_insert_with(|| {
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("epoch evaluation log"),
            size: bytes * epochs as u64,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        (buffer, eval.chunks.to_vec())
    });
    encoder.copy_buffer_to_buffer(eval.results, eval.offset, log, epoch as u64 * bytes, bytes);
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
