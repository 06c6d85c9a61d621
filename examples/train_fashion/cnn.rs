//! The model: a small convolutional network (conv 5x5 -> ReLU -> max-pool 2x2 -> dense ReLU
//! -> dense, softmax cross-entropy) whose six tensors live in one `wgpu_alig::Arena`, with
//! the activation buffers and bind groups of its kernels. It records a training step's
//! forward and backward passes (gradients overwrite the arena's grads, the mean loss lands
//! in the results buffer), evaluations in chunks, and optionally a held-out evaluation at the
//! end of every epoch.

use wgpu_alig::Arena;

use super::batches::{BatchSlot, BatchTable, RESULT_SLOT_BYTES, STEP_SLOT};
use super::common::kernel::{dispatch, whole};
use super::common::training::{evaluate_sets, EpochEval, Evaluation, Model, Set};
use super::dataset::CLASSES;
use super::device_images::DeviceImages;
use super::kernels::Kernels;
use super::split_mix::SplitMix64;
use super::Result;

/// Threads per workgroup of every kernel but `batch_loss` (`@workgroup_size(64)`).
const THREADS: u32 = 64;
/// Rows per workgroup of `dense_forward`, `hidden_backward` and `pooled_backward`.
const ROW_TILE: u32 = 8;
/// Hidden units per workgroup of `dense_grads` (`UNIT_TILE` there).
const UNIT_TILE: u32 = 8;
/// Pooled positions per channel (12 x 12), and taps per filter (5 x 5).
pub const POOLED: usize = 144;
pub const TAPS: usize = 25;
/// Rows per evaluation chunk: bounds the activation buffers on the 60,000 images.
const EVAL_CHUNK: usize = 2000;

/// The arena's tensors, in order.
pub const TENSORS: [&str; 6] = ["conv_w", "conv_b", "w1", "b1", "w2", "b2"];

/// The bind groups of every kernel over one data set.
#[derive(Debug)]
struct DataBindGroups {
    conv_pool_forward: wgpu::BindGroup,
    dense_forward: wgpu::BindGroup,
    output_forward: wgpu::BindGroup,
    batch_loss: wgpu::BindGroup,
    output_grads: wgpu::BindGroup,
    hidden_backward: wgpu::BindGroup,
    dense_grads: wgpu::BindGroup,
    pooled_backward: wgpu::BindGroup,
    conv_grads: wgpu::BindGroup,
}

#[derive(Debug)]
pub struct Cnn<'k> {
    kernels: &'k Kernels,
    pub arena: Arena,
    pub batches: BatchTable,
    results: wgpu::Buffer,
    train: DataBindGroups,
    held_out: DataBindGroups,
    train_sample_index: wgpu::Buffer,
    train_len: usize,
    track_held_out: bool,
}

impl<'k> Cnn<'k> {
    /// The sizes of the arena's tensors, in the order of [`TENSORS`], with their fan-in.
    pub fn tensor_sizes(kernels: &Kernels) -> [(usize, usize); 6] {
        let (channels, hidden) = (kernels.shape.channels, kernels.shape.hidden);
        let features = channels * POOLED;
        [
            (channels * TAPS, TAPS),
            (channels, TAPS),
            (hidden * features, features),
            (hidden, features),
            (CLASSES * hidden, hidden),
            (CLASSES, hidden),
        ]
    }

    /// Allocates the model for mini-batches of `batch_size` samples of `train`, evaluated on
    /// `train` and `held_out` (after every epoch too, when `track_held_out`). The parameters
    /// start at zero: see [`Cnn::init_params`].
    pub fn new(
        device: &wgpu::Device,
        kernels: &'k Kernels,
        train: &DeviceImages,
        held_out: &DeviceImages,
        batch_size: usize,
        track_held_out: bool,
    ) -> Result<Self> {
        if batch_size == 0 || train.is_empty() || held_out.is_empty() {
            return Err("the batch size and both data sets must be non-empty".into());
        }
        let sizes = Self::tensor_sizes(kernels);
        let tensors: Vec<(&str, usize)> = TENSORS
            .iter()
            .zip(sizes)
            .map(|(&name, (len, _))| (name, len))
            .collect();
        let arena = Arena::new(device, &tensors)?;
        let batches = BatchTable::new(device, train.len(), batch_size, held_out.len(), EVAL_CHUNK);
        let rows = u64::from(batches.max_rows());
        let features = (kernels.shape.channels * POOLED) as u64;
        let hidden = kernels.shape.hidden as u64;
        let storage = |label, floats: u64, extra| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: floats * 4,
                usage: wgpu::BufferUsages::STORAGE | extra,
                mapped_at_creation: false,
            })
        };
        let none = wgpu::BufferUsages::empty();
        let pooled = storage("fashion pooled", rows * features, none);
        let pool_choice = storage("fashion pool choice", rows * features, none);
        let dpooled = storage("fashion dpooled", rows * features, none);
        let hidden_activations = storage("fashion hidden", rows * hidden, none);
        let dhidden = storage("fashion dhidden", rows * hidden, none);
        let dlogits = storage("fashion dlogits", rows * CLASSES as u64, none);
        let sample_stats = storage("fashion sample stats", rows * 2, none);
        // COPY_SRC: the optimizer's step copies the loss from here, the epoch log its results.
        let results = storage(
            "fashion results",
            u64::from(batches.result_slots()) * 2,
            wgpu::BufferUsages::COPY_SRC,
        );

        let classifier = &kernels.classifier;
        let data_bind_groups = |data: &DeviceImages| -> Result<DataBindGroups> {
            let batch = batches.binding();
            let param = |name| arena.param_binding(name);
            let grad = |name| arena.grad_binding(name);
            Ok(DataBindGroups {
                conv_pool_forward: kernels.conv_pool_forward.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&data.sample_index),
                        whole(&data.pixels),
                        param("conv_w")?,
                        param("conv_b")?,
                        whole(&pooled),
                        whole(&pool_choice),
                    ],
                ),
                dense_forward: kernels.dense_forward.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&pooled),
                        param("w1")?,
                        param("b1")?,
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
                        param("w2")?,
                        param("b2")?,
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
                        grad("w2")?,
                        grad("b2")?,
                    ],
                ),
                hidden_backward: classifier.hidden_backward.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&hidden_activations),
                        whole(&dlogits),
                        param("w2")?,
                        whole(&dhidden),
                    ],
                ),
                dense_grads: kernels.dense_grads.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&pooled),
                        whole(&dhidden),
                        grad("w1")?,
                        grad("b1")?,
                    ],
                ),
                pooled_backward: kernels.pooled_backward.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&pooled),
                        whole(&dhidden),
                        param("w1")?,
                        whole(&dpooled),
                    ],
                ),
                conv_grads: kernels.conv_grads.bind_group(
                    device,
                    &[
                        batch,
                        whole(&data.sample_index),
                        whole(&data.pixels),
                        whole(&dpooled),
                        whole(&pool_choice),
                        grad("conv_w")?,
                        grad("conv_b")?,
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
            track_held_out,
        })
    }

    /// Writes seeded initial parameters, as PyTorch's `Conv2d` and `Linear` draw them:
    /// weights and biases uniform in `±1/sqrt(fan_in)`.
    pub fn init_params(&self, queue: &wgpu::Queue, seed: u64) -> Result<()> {
        let mut rng = SplitMix64::new(seed);
        for (name, (len, fan_in)) in TENSORS.iter().zip(Self::tensor_sizes(self.kernels)) {
            let bound = 1.0 / (fan_in as f64).sqrt();
            let values: Vec<f32> = (0..len)
                .map(|_| rng.uniform(-bound, bound) as f32)
                .collect();
            self.arena.write_params(queue, name, &values)?;
        }
        Ok(())
    }

    /// Trainable parameters in all.
    pub fn parameters(kernels: &Kernels) -> usize {
        Self::tensor_sizes(kernels).iter().map(|(len, _)| len).sum()
    }

    fn record_forward(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        groups: &DataBindGroups,
        slot: BatchSlot,
    ) {
        let kernels = self.kernels;
        let hidden = kernels.shape.hidden as u32;
        let positions = slot.rows * POOLED as u32;
        dispatch(
            pass,
            &kernels.conv_pool_forward,
            &groups.conv_pool_forward,
            slot,
            [positions.div_ceil(THREADS), 1],
        );
        dispatch(
            pass,
            &kernels.dense_forward,
            &groups.dense_forward,
            slot,
            [hidden.div_ceil(THREADS), slot.rows.div_ceil(ROW_TILE)],
        );
        dispatch(
            pass,
            &kernels.classifier.output_forward,
            &groups.output_forward,
            slot,
            [slot.rows.div_ceil(THREADS), 1],
        );
        dispatch(
            pass,
            &kernels.classifier.batch_loss,
            &groups.batch_loss,
            slot,
            [1, 1],
        );
    }

    fn record_backward(&self, pass: &mut wgpu::ComputePass<'_>, slot: BatchSlot) {
        let kernels = self.kernels;
        let groups = &self.train;
        let hidden = kernels.shape.hidden as u32;
        let features = (kernels.shape.channels * POOLED) as u32;
        let row_tiles = slot.rows.div_ceil(ROW_TILE);
        dispatch(
            pass,
            &kernels.classifier.output_grads,
            &groups.output_grads,
            slot,
            [hidden.div_ceil(THREADS), 1],
        );
        dispatch(
            pass,
            &kernels.classifier.hidden_backward,
            &groups.hidden_backward,
            slot,
            [hidden.div_ceil(THREADS), row_tiles],
        );
        dispatch(
            pass,
            &kernels.dense_grads,
            &groups.dense_grads,
            slot,
            [hidden.div_ceil(UNIT_TILE), features.div_ceil(THREADS)],
        );
        dispatch(
            pass,
            &kernels.pooled_backward,
            &groups.pooled_backward,
            slot,
            [features.div_ceil(THREADS), row_tiles],
        );
        dispatch(
            pass,
            &kernels.conv_grads,
            &groups.conv_grads,
            slot,
            [kernels.shape.channels as u32, 1],
        );
    }

    /// The forward and backward passes of mini-batch `batch` of the current order.
    pub fn record_train_batch(&self, pass: &mut wgpu::ComputePass<'_>, batch: usize) {
        let slot = self.batches.train_batches[batch];
        self.record_forward(pass, &self.train, slot);
        self.record_backward(pass, slot);
    }

    /// The buffer and byte offset where a training step's mean loss is written.
    pub fn step_loss(&self) -> (&wgpu::Buffer, u64) {
        (&self.results, u64::from(STEP_SLOT) * RESULT_SLOT_BYTES)
    }
}

impl Model for Cnn<'_> {
    fn arena(&self) -> &Arena {
        &self.arena
    }

    fn steps_per_epoch(&self) -> usize {
        self.batches.train_batches.len()
    }

    fn train_len(&self) -> usize {
        self.train_len
    }

    fn write_train_order(&self, queue: &wgpu::Queue, order: &[u32]) {
        debug_assert_eq!(order.len(), self.train_len);
        queue.write_buffer(&self.train_sample_index, 0, bytemuck::cast_slice(order));
    }

    fn record_train_batch(&self, pass: &mut wgpu::ComputePass<'_>, batch: usize) {
        Cnn::record_train_batch(self, pass, batch);
    }

    fn step_loss(&self) -> (&wgpu::Buffer, u64) {
        Cnn::step_loss(self)
    }

    fn record_epoch_eval(&self, pass: &mut wgpu::ComputePass<'_>) -> Option<EpochEval<'_>> {
        if !self.track_held_out {
            return None;
        }
        let chunks = &self.batches.held_out_eval;
        for &slot in chunks {
            self.record_forward(pass, &self.held_out, slot);
        }
        Some(EpochEval {
            results: &self.results,
            offset: u64::from(chunks[0].out_slot) * RESULT_SLOT_BYTES,
            chunks,
        })
    }

    fn evaluate(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<Evaluation> {
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
