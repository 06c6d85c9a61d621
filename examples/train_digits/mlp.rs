//! The model: a 64 -> hidden (ReLU) -> 10 perceptron whose four tensors live in one
//! `wgpu_alig::Arena`, with the activation buffers and bind groups of its kernels. It records
//! a training step's forward and backward passes (gradients overwrite the arena's grads,
//! the mean loss lands in the results buffer) and full-set evaluations.

use wgpu_alig::Arena;

use super::batches::{BatchSlot, BatchTable, RESULT_SLOT_BYTES, STEP_SLOT};
use super::common::kernel::{dispatch, whole};
use super::common::training::{evaluate_sets, Evaluation, Model, Set};
use super::dataset::{CLASSES, INPUTS};
use super::device_digits::DeviceDigits;
use super::kernels::Kernels;
use super::split_mix::SplitMix64;
use super::Result;

/// Threads per workgroup of every kernel but `batch_loss` (`@workgroup_size(64)`).
const THREADS: u32 = 64;
/// Rows per workgroup of `hidden_forward` and `hidden_backward` (`ROW_TILE` there).
const ROW_TILE: u32 = 8;
/// Hidden units per workgroup of `input_grads` (`UNIT_TILE` there).
const UNIT_TILE: u32 = 8;

/// The bind groups of every kernel over one data set.
#[derive(Debug)]
struct DataBindGroups {
    hidden_forward: wgpu::BindGroup,
    output_forward: wgpu::BindGroup,
    batch_loss: wgpu::BindGroup,
    output_grads: wgpu::BindGroup,
    hidden_backward: wgpu::BindGroup,
    input_grads: wgpu::BindGroup,
}

#[derive(Debug)]
pub struct Mlp<'k> {
    kernels: &'k Kernels,
    pub arena: Arena,
    pub batches: BatchTable,
    results: wgpu::Buffer,
    train: DataBindGroups,
    held_out: DataBindGroups,
    train_sample_index: wgpu::Buffer,
    train_len: usize,
}

impl<'k> Mlp<'k> {
    /// Allocates the model for mini-batches of `batch_size` samples of `train`, evaluated on
    /// `train` and `held_out`. The parameters start at zero: see [`Mlp::init_params`].
    pub fn new(
        device: &wgpu::Device,
        kernels: &'k Kernels,
        train: &DeviceDigits,
        held_out: &DeviceDigits,
        batch_size: usize,
    ) -> Result<Self> {
        if batch_size == 0 || train.is_empty() || held_out.is_empty() {
            return Err("the batch size and both data sets must be non-empty".into());
        }
        let hidden = kernels.hidden;
        let classifier = &kernels.classifier;
        let arena = Arena::new(
            device,
            &[
                ("w1", hidden * INPUTS),
                ("b1", hidden),
                ("w2", CLASSES * hidden),
                ("b2", CLASSES),
            ],
        )?;
        // Each evaluation in one chunk: the sets are small.
        let batches = BatchTable::new(device, train.len(), batch_size, held_out.len(), usize::MAX);
        let rows = u64::from(batches.max_rows());
        let storage = |label, floats: u64, extra| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: floats * 4,
                usage: wgpu::BufferUsages::STORAGE | extra,
                mapped_at_creation: false,
            })
        };
        let none = wgpu::BufferUsages::empty();
        let hidden_activations = storage("digits hidden", rows * hidden as u64, none);
        let dhidden = storage("digits dhidden", rows * hidden as u64, none);
        let dlogits = storage("digits dlogits", rows * CLASSES as u64, none);
        let sample_stats = storage("digits sample stats", rows * 2, none);
        // COPY_SRC: the optimizer's step copies the loss from here.
        let results = storage(
            "digits results",
            u64::from(batches.result_slots()) * 2,
            wgpu::BufferUsages::COPY_SRC,
        );

        let data_bind_groups = |data: &DeviceDigits| -> Result<DataBindGroups> {
            let batch = batches.binding();
            Ok(DataBindGroups {
                hidden_forward: kernels.hidden_forward.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&data.sample_index),
                        whole(&data.images),
                        arena.param_binding("w1")?,
                        arena.param_binding("b1")?,
                        whole(&hidden_activations),
                    ],
                ),
                output_forward: classifier.output_forward.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&data.sample_index),
                        whole(&data.labels),
                        whole(&hidden_activations),
                        arena.param_binding("w2")?,
                        arena.param_binding("b2")?,
                        whole(&dlogits),
                        whole(&sample_stats),
                    ],
                ),
                batch_loss: classifier.batch_loss.bind_group(
                    device,
                    &[batch.clone(), whole(&sample_stats), whole(&results)],
                ),
                output_grads: classifier.output_grads.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&hidden_activations),
                        whole(&dlogits),
                        arena.grad_binding("w2")?,
                        arena.grad_binding("b2")?,
                    ],
                ),
                hidden_backward: classifier.hidden_backward.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&hidden_activations),
                        whole(&dlogits),
                        arena.param_binding("w2")?,
                        whole(&dhidden),
                    ],
                ),
                input_grads: kernels.input_grads.bind_group(
                    device,
                    &[
                        batch,
                        whole(&data.sample_index),
                        whole(&data.images),
                        whole(&dhidden),
                        arena.grad_binding("w1")?,
                        arena.grad_binding("b1")?,
                    ],
                ),
            })
        };
        let train_bind_groups = data_bind_groups(train)?;
        let held_out_bind_groups = data_bind_groups(held_out)?;
        Ok(Self {
            kernels,
            arena,
            batches,
            results,
            train: train_bind_groups,
            held_out: held_out_bind_groups,
            train_sample_index: train.sample_index.clone(),
            train_len: train.len(),
        })
    }

    /// Writes seeded initial parameters, as `torch.nn.Linear` draws them: weights and biases
    /// uniform in `±1/sqrt(fan_in)`.
    pub fn init_params(&self, queue: &wgpu::Queue, seed: u64) -> Result<()> {
        let mut rng = SplitMix64::new(seed);
        let hidden = self.kernels.hidden;
        for (name, len, fan_in) in [
            ("w1", hidden * INPUTS, INPUTS),
            ("b1", hidden, INPUTS),
            ("w2", CLASSES * hidden, hidden),
            ("b2", CLASSES, hidden),
        ] {
            let bound = 1.0 / (fan_in as f64).sqrt();
            let values: Vec<f32> = (0..len)
                .map(|_| rng.uniform(-bound, bound) as f32)
                .collect();
            self.arena.write_params(queue, name, &values)?;
        }
        Ok(())
    }

    /// Mini-batches per epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.batches.train_batches.len()
    }

    /// The buffer and byte offset where a training step's mean loss is written.
    pub fn step_loss(&self) -> (&wgpu::Buffer, u64) {
        (&self.results, u64::from(STEP_SLOT) * RESULT_SLOT_BYTES)
    }

    /// Records the forward and backward passes of mini-batch `batch` of the current epoch's
    /// order: afterwards the arena's grads hold the gradient of the batch's mean loss, and
    /// [`Mlp::step_loss`] that loss.
    pub fn record_train_batch(&self, pass: &mut wgpu::ComputePass<'_>, batch: usize) {
        let slot = self.batches.train_batches[batch];
        self.record_forward(pass, &self.train, slot);
        let kernels = self.kernels;
        let groups = &self.train;
        let unit_groups = (kernels.hidden as u32).div_ceil(THREADS);
        let row_tiles = slot.rows.div_ceil(ROW_TILE);
        let unit_tiles = (kernels.hidden as u32).div_ceil(UNIT_TILE);
        dispatch(
            pass,
            &kernels.classifier.output_grads,
            &groups.output_grads,
            slot,
            [unit_groups, 1],
        );
        dispatch(
            pass,
            &kernels.classifier.hidden_backward,
            &groups.hidden_backward,
            slot,
            [unit_groups, row_tiles],
        );
        dispatch(
            pass,
            &kernels.input_grads,
            &groups.input_grads,
            slot,
            [unit_tiles, 1],
        );
    }

    fn record_forward(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        groups: &DataBindGroups,
        slot: BatchSlot,
    ) {
        let kernels = self.kernels;
        let unit_groups = (kernels.hidden as u32).div_ceil(THREADS);
        let row_tiles = slot.rows.div_ceil(ROW_TILE);
        let row_groups = slot.rows.div_ceil(THREADS);
        dispatch(
            pass,
            &kernels.hidden_forward,
            &groups.hidden_forward,
            slot,
            [unit_groups, row_tiles],
        );
        dispatch(
            pass,
            &kernels.classifier.output_forward,
            &groups.output_forward,
            slot,
            [row_groups, 1],
        );
        dispatch(
            pass,
            &kernels.classifier.batch_loss,
            &groups.batch_loss,
            slot,
            [1, 1],
        );
    }

    /// Evaluates the current parameters on the whole training and held-out sets, waiting for
    /// the device: for the end of a run.
    pub fn evaluate(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<Evaluation> {
        evaluate_sets(
            device,
            queue,
            &self.results,
            &self.batches,
            &|pass, set, slot| {
                let groups = match set {
                    Set::Train => &self.train,
                    Set::HeldOut => &self.held_out,
                };
                self.record_forward(pass, groups, slot);
            },
        )
    }
}

impl Model for Mlp<'_> {
    fn arena(&self) -> &wgpu_alig::Arena {
        &self.arena
    }

    fn steps_per_epoch(&self) -> usize {
        Mlp::steps_per_epoch(self)
    }

    fn train_len(&self) -> usize {
        self.train_len
    }

    fn write_train_order(&self, queue: &wgpu::Queue, order: &[u32]) {
        debug_assert_eq!(order.len(), self.train_len);
        queue.write_buffer(&self.train_sample_index, 0, bytemuck::cast_slice(order));
    }

    fn record_train_batch(&self, pass: &mut wgpu::ComputePass<'_>, batch: usize) {
        Mlp::record_train_batch(self, pass, batch);
    }

    fn step_loss(&self) -> (&wgpu::Buffer, u64) {
        Mlp::step_loss(self)
    }

    fn evaluate(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<Evaluation> {
        Mlp::evaluate(self, device, queue)
    }
}
