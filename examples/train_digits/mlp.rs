//! The model: a 64 -> hidden (ReLU) -> 10 perceptron whose four tensors live in one
//! `wgpu_alig::Arena` of the kernels' precision: its hidden layer's kernels in front of the
//! shared classifier head.
//! It records a training step's forward and backward passes (gradients overwrite the arena's
//! grads, the mean loss lands in the head's results buffer) and full-set evaluations.

use wgpu_alig::Arena;

use super::batches::BatchSlot;
use super::common::classifier_head::{
    grad_binding, init_uniform, param_binding, ClassifierHead, CLASSES,
};
use super::common::kernel::{dispatch, whole};
use super::common::training::{Model, Set};
use super::dataset::INPUTS;
use super::device_digits::DeviceDigits;
use super::kernels::Kernels;
use super::Result;

/// Threads per workgroup of `hidden_forward` (`@workgroup_size(64)`).
const THREADS: u32 = 64;
/// Rows per workgroup of `hidden_forward` (`ROW_TILE` there).
const ROW_TILE: u32 = 8;
/// Hidden units per workgroup of `input_grads` (`UNIT_TILE` there).
const UNIT_TILE: u32 = 8;

/// The bind groups of the hidden layer's kernels over one data set.
#[derive(Debug)]
struct HiddenBindGroups {
    hidden_forward: wgpu::BindGroup,
    input_grads: wgpu::BindGroup,
}

#[derive(Debug)]
pub struct Mlp<'k> {
    kernels: &'k Kernels,
    pub arena: Arena,
    head: ClassifierHead<'k>,
    train: HiddenBindGroups,
    held_out: HiddenBindGroups,
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
        let hidden = kernels.hidden;
        let arena = Arena::with_precision(
            device,
            &[
                ("w1", hidden * INPUTS),
                ("b1", hidden),
                ("w2", CLASSES * hidden),
                ("b2", CLASSES),
            ],
            kernels.precision,
        )?;
        // Each evaluation in one chunk: the sets are small.
        let head = ClassifierHead::new(
            device,
            &kernels.classifier,
            &arena,
            hidden,
            train.head_buffers(),
            held_out.head_buffers(),
            batch_size,
            usize::MAX,
        )?;
        let bind_groups = |data: &DeviceDigits| -> Result<HiddenBindGroups> {
            let batch = head.batches.binding();
            Ok(HiddenBindGroups {
                hidden_forward: kernels.hidden_forward.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&data.sample_index),
                        whole(&data.images),
                        param_binding(&arena, "w1")?,
                        param_binding(&arena, "b1")?,
                        whole(&head.hidden),
                    ],
                ),
                input_grads: kernels.input_grads.bind_group(
                    device,
                    &[
                        batch,
                        whole(&data.sample_index),
                        whole(&data.images),
                        whole(&head.dhidden),
                        grad_binding(&arena, "w1")?,
                        grad_binding(&arena, "b1")?,
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
        })
    }

    /// Writes seeded initial parameters, as `torch.nn.Linear` draws them: weights and biases
    /// uniform in `±1/sqrt(fan_in)`.
    pub fn init_params(&self, queue: &wgpu::Queue, seed: u64) -> Result<()> {
        let hidden = self.kernels.hidden;
        init_uniform(
            &self.arena,
            queue,
            seed,
            &[
                ("w1", hidden * INPUTS, INPUTS),
                ("b1", hidden, INPUTS),
                ("w2", CLASSES * hidden, hidden),
                ("b2", CLASSES, hidden),
            ],
        )
    }

    /// The buffer and byte offset where a training step's mean loss is written (the
    /// integration test reads it; the training loop asks the head).
    #[allow(dead_code)]
    pub fn step_loss(&self) -> (&wgpu::Buffer, u64) {
        self.head.step_loss()
    }

    /// Records the forward and backward passes of mini-batch `batch` of the current epoch's
    /// order: afterwards the arena's grads hold the gradient of the batch's mean loss, and
    /// [`Mlp::step_loss`] that loss.
    pub fn record_train_batch(&self, pass: &mut wgpu::ComputePass<'_>, batch: usize) {
        let slot = self.head.batches.train_batches[batch];
        self.record_forward(pass, Set::Train, slot);
        self.head.record_backward(pass, slot);
        let unit_tiles = (self.kernels.hidden as u32).div_ceil(UNIT_TILE);
        dispatch(
            pass,
            &self.kernels.input_grads,
            &self.train.input_grads,
            slot,
            [unit_tiles, 1],
        );
    }
}

impl Model for Mlp<'_> {
    fn arena(&self) -> &Arena {
        &self.arena
    }

    fn head(&self) -> &ClassifierHead<'_> {
        &self.head
    }

    fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>, set: Set, slot: BatchSlot) {
        let groups = match set {
            Set::Train => &self.train,
            Set::HeldOut => &self.held_out,
        };
        let unit_groups = (self.kernels.hidden as u32).div_ceil(THREADS);
        dispatch(
            pass,
            &self.kernels.hidden_forward,
            &groups.hidden_forward,
            slot,
            [unit_groups, slot.rows.div_ceil(ROW_TILE)],
        );
        self.head.record_forward(pass, set, slot);
    }

    fn record_train_batch(&self, pass: &mut wgpu::ComputePass<'_>, batch: usize) {
        Mlp::record_train_batch(self, pass, batch);
    }
}
