//! The model: a small convolutional network (conv 5x5 -> ReLU -> max-pool 2x2 -> dense ReLU
//! -> dense, softmax cross-entropy) whose six tensors live in one `wgpu_alig::Arena`: its
//! convolution and hidden dense layer in front of the shared classifier head. It records a
//! training step's forward and backward passes (gradients overwrite the arena's grads, the
//! mean loss lands in the head's results buffer), evaluations in chunks, and optionally a
//! held-out evaluation at the end of every epoch.

use wgpu_alig::Arena;

use super::batches::BatchSlot;
use super::common::classifier_head::{activation_buffer, init_uniform, ClassifierHead, CLASSES};
use super::common::kernel::{dispatch, whole};
use super::common::training::{Model, Set};
use super::device_images::DeviceImages;
use super::kernels::Kernels;
use super::Result;

/// Threads per workgroup of every kernel here (`@workgroup_size(64)`).
const THREADS: u32 = 64;
/// Rows per workgroup of `dense_forward` and `pooled_backward` (`ROW_TILE` there).
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

/// The bind groups of the trunk's kernels over one data set.
#[derive(Debug)]
struct TrunkBindGroups {
    conv_pool_forward: wgpu::BindGroup,
    dense_forward: wgpu::BindGroup,
    dense_grads: wgpu::BindGroup,
    pooled_backward: wgpu::BindGroup,
    conv_grads: wgpu::BindGroup,
}

#[derive(Debug)]
pub struct Cnn<'k> {
    kernels: &'k Kernels,
    pub arena: Arena,
    head: ClassifierHead<'k>,
    train: TrunkBindGroups,
    held_out: TrunkBindGroups,
    track_held_out: bool,
}

impl<'k> Cnn<'k> {
    /// The arena's tensors in the order of [`TENSORS`]: `(name, len, fan_in)`.
    pub fn tensors(kernels: &Kernels) -> [(&'static str, usize, usize); 6] {
        let (channels, hidden) = (kernels.shape.channels, kernels.shape.hidden);
        let features = channels * POOLED;
        let sizes = [
            (channels * TAPS, TAPS),
            (channels, TAPS),
            (hidden * features, features),
            (hidden, features),
            (CLASSES * hidden, hidden),
            (CLASSES, hidden),
        ];
        std::array::from_fn(|i| (TENSORS[i], sizes[i].0, sizes[i].1))
    }

    /// Trainable parameters in all.
    pub fn parameters(kernels: &Kernels) -> usize {
        Self::tensors(kernels).iter().map(|t| t.1).sum()
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
        let tensors: Vec<(&str, usize)> = Self::tensors(kernels)
            .iter()
            .map(|&(name, len, _)| (name, len))
            .collect();
        let arena = Arena::new(device, &tensors)?;
        let head = ClassifierHead::new(
            device,
            &kernels.classifier,
            &arena,
            kernels.shape.hidden,
            train.head_buffers(),
            held_out.head_buffers(),
            batch_size,
            EVAL_CHUNK,
        )?;
        let features = (kernels.shape.channels * POOLED) as u64;
        let rows = u64::from(head.batches.max_rows());
        let pooled = activation_buffer(device, "pooled", rows * features);
        let pool_choice = activation_buffer(device, "pool choice", rows * features);
        let dpooled = activation_buffer(device, "dpooled", rows * features);

        let bind_groups = |data: &DeviceImages| -> Result<TrunkBindGroups> {
            let batch = head.batches.binding();
            let param = |name| arena.param_binding(name);
            let grad = |name| arena.grad_binding(name);
            Ok(TrunkBindGroups {
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
                        whole(&head.hidden),
                    ],
                ),
                dense_grads: kernels.dense_grads.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&pooled),
                        whole(&head.dhidden),
                        grad("w1")?,
                        grad("b1")?,
                    ],
                ),
                pooled_backward: kernels.pooled_backward.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&pooled),
                        whole(&head.dhidden),
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
        let train_groups = bind_groups(train)?;
        let held_out_groups = bind_groups(held_out)?;
        Ok(Self {
            kernels,
            arena,
            head,
            train: train_groups,
            held_out: held_out_groups,
            track_held_out,
        })
    }

    /// Writes seeded initial parameters, as PyTorch's `Conv2d` and `Linear` draw them:
    /// weights and biases uniform in `±1/sqrt(fan_in)`.
    pub fn init_params(&self, queue: &wgpu::Queue, seed: u64) -> Result<()> {
        init_uniform(&self.arena, queue, seed, &Self::tensors(self.kernels))
    }

    /// The buffer and byte offset where a training step's mean loss is written (the
    /// integration test reads it; the training loop asks the head).
    #[allow(dead_code)]
    pub fn step_loss(&self) -> (&wgpu::Buffer, u64) {
        self.head.step_loss()
    }

    /// The forward and backward passes of mini-batch `batch` of the current order.
    pub fn record_train_batch(&self, pass: &mut wgpu::ComputePass<'_>, batch: usize) {
        let slot = self.head.batches.train_batches[batch];
        self.record_forward(pass, Set::Train, slot);
        self.head.record_backward(pass, slot);
        let kernels = self.kernels;
        let groups = &self.train;
        let hidden = kernels.shape.hidden as u32;
        let features = (kernels.shape.channels * POOLED) as u32;
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
            [features.div_ceil(THREADS), slot.rows.div_ceil(ROW_TILE)],
        );
        dispatch(
            pass,
            &kernels.conv_grads,
            &groups.conv_grads,
            slot,
            [kernels.shape.channels as u32, 1],
        );
    }
}

impl Model for Cnn<'_> {
    fn arena(&self) -> &Arena {
        &self.arena
    }

    fn head(&self) -> &ClassifierHead<'_> {
        &self.head
    }

    fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>, set: Set, slot: BatchSlot) {
        let kernels = self.kernels;
        let groups = match set {
            Set::Train => &self.train,
            Set::HeldOut => &self.held_out,
        };
        let positions = slot.rows * POOLED as u32;
        dispatch(
            pass,
            &kernels.conv_pool_forward,
            &groups.conv_pool_forward,
            slot,
            [positions.div_ceil(THREADS), 1],
        );
        let hidden = kernels.shape.hidden as u32;
        dispatch(
            pass,
            &kernels.dense_forward,
            &groups.dense_forward,
            slot,
            [hidden.div_ceil(THREADS), slot.rows.div_ceil(ROW_TILE)],
        );
        self.head.record_forward(pass, set, slot);
    }

    fn record_train_batch(&self, pass: &mut wgpu::ComputePass<'_>, batch: usize) {
        Cnn::record_train_batch(self, pass, batch);
    }

    fn tracks_held_out(&self) -> bool {
        self.track_held_out
    }
}
