//! The part every classifier engine shares: the batch table, the results buffer, the last
//! hidden layer's activations and their gradient, and the output layer with its softmax
//! cross-entropy (`w2`, `b2` in the arena), bound over a training and a held-out set. A model
//! puts its own trunk in front: it writes `hidden` in its forward pass and reads `dhidden`
//! in its backward pass. The loss gradient is multiplied by a loss scale, 1 unless the
//! optimizer's scale is bound ([`ClassifierHead::bind_loss_scale`]).

use std::cell::OnceCell;

use wgpu::util::DeviceExt;
use wgpu_alig::Arena;

use super::batches::{BatchSlot, BatchTable, RESULT_SLOT_BYTES, STEP_SLOT};
use super::kernel::{dispatch, whole, ClassifierKernels};
use super::split_mix::SplitMix64;
use super::training::Set;
use super::Result;

/// Threads per workgroup of the head's kernels but `batch_loss` (`@workgroup_size(64)`).
const THREADS: u32 = 64;
/// Rows per workgroup of `hidden_backward` (`ROW_TILE` there).
const ROW_TILE: u32 = 8;
/// Classes of both data sets of the examples.
pub const CLASSES: usize = 10;

/// The buffers of a data set that the head reads: its sample order and its labels.
#[derive(Clone, Copy)]
pub struct SetBuffers<'a> {
    pub sample_index: &'a wgpu::Buffer,
    pub labels: &'a wgpu::Buffer,
    pub len: usize,
}

/// The bind groups of the head's kernels over one data set.
#[derive(Debug)]
struct HeadBindGroups {
    output_forward: wgpu::BindGroup,
    batch_loss: wgpu::BindGroup,
    output_grads: wgpu::BindGroup,
    hidden_backward: wgpu::BindGroup,
}

#[derive(Debug)]
pub struct ClassifierHead<'k> {
    kernels: &'k ClassifierKernels,
    hidden_units: u32,
    pub batches: BatchTable,
    /// (mean loss, correct) per slot of the batch table.
    pub results: wgpu::Buffer,
    /// rows x hidden units, after the ReLU: written by the model's forward pass.
    pub hidden: wgpu::Buffer,
    /// rows x hidden units: d(loss)/d(hidden), read by the model's backward pass.
    pub dhidden: wgpu::Buffer,
    train: HeadBindGroups,
    held_out: HeadBindGroups,
    /// The training set's `output_forward` with the optimizer's loss scale, once bound.
    scaled_output_forward: OnceCell<wgpu::BindGroup>,
    dlogits: wgpu::Buffer,
    sample_stats: wgpu::Buffer,
    train_sample_index: wgpu::Buffer,
    train_labels: wgpu::Buffer,
    train_len: usize,
}

/// The arena's tensor `name` as a binding of whole `vec4`s: in an f16 arena a tensor of odd
/// length would otherwise be a binding whose size is not a multiple of 4 bytes. The kernels
/// never touch the padding it takes along.
pub fn param_binding<'a>(arena: &'a Arena, name: &str) -> Result<wgpu::BufferBinding<'a>> {
    Ok(arena.param_binding_vec4(name)?)
}

/// The gradients of tensor `name`, as [`param_binding`] binds its parameters.
pub fn grad_binding<'a>(arena: &'a Arena, name: &str) -> Result<wgpu::BufferBinding<'a>> {
    Ok(arena.grad_binding_vec4(name)?)
}

impl<'k> ClassifierHead<'k> {
    /// Allocates the head of `hidden_units` over mini-batches of `batch_size` of `train`, and
    /// evaluations of both sets in chunks of at most `eval_chunk` rows.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        device: &wgpu::Device,
        kernels: &'k ClassifierKernels,
        arena: &Arena,
        hidden_units: usize,
        train: SetBuffers<'_>,
        held_out: SetBuffers<'_>,
        batch_size: usize,
        eval_chunk: usize,
    ) -> Result<Self> {
        if batch_size == 0 || train.len == 0 || held_out.len == 0 {
            return Err("the batch size and both data sets must be non-empty".into());
        }
        let batches = BatchTable::new(device, train.len, batch_size, held_out.len, eval_chunk);
        let rows = u64::from(batches.max_rows());
        let none = wgpu::BufferUsages::empty();
        let hidden = storage(device, "hidden", rows * hidden_units as u64, none);
        let dhidden = storage(device, "dhidden", rows * hidden_units as u64, none);
        let dlogits = storage(device, "dlogits", rows * CLASSES as u64, none);
        let sample_stats = storage(device, "sample stats", rows * 2, none);
        // COPY_SRC: the optimizer's step copies the loss from here, the epoch log its results.
        let results = storage(
            device,
            "results",
            u64::from(batches.result_slots()) * 2,
            wgpu::BufferUsages::COPY_SRC,
        );
        // S = 1 until the optimizer's scale is bound.
        let unit_scale = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("unit loss scale"),
            contents: bytemuck::bytes_of(&1.0f32),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let bind_groups = |data: SetBuffers<'_>| -> Result<HeadBindGroups> {
            let batch = batches.binding();
            Ok(HeadBindGroups {
                output_forward: output_forward_group(
                    device,
                    kernels,
                    arena,
                    &batches,
                    data,
                    [&hidden, &dlogits, &sample_stats],
                    whole(&unit_scale),
                )?,
                batch_loss: kernels.batch_loss.bind_group(
                    device,
                    &[batch.clone(), whole(&sample_stats), whole(&results)],
                ),
                output_grads: kernels.output_grads.bind_group(
                    device,
                    &[
                        batch.clone(),
                        whole(&hidden),
                        whole(&dlogits),
                        grad_binding(arena, "w2")?,
                        grad_binding(arena, "b2")?,
                    ],
                ),
                hidden_backward: kernels.hidden_backward.bind_group(
                    device,
                    &[
                        batch,
                        whole(&hidden),
                        whole(&dlogits),
                        param_binding(arena, "w2")?,
                        whole(&dhidden),
                    ],
                ),
            })
        };
        let train_groups = bind_groups(train)?;
        let held_out_groups = bind_groups(held_out)?;
        Ok(Self {
            kernels,
            hidden_units: hidden_units as u32,
            batches,
            results,
            hidden,
            dhidden,
            train: train_groups,
            held_out: held_out_groups,
            scaled_output_forward: OnceCell::new(),
            dlogits,
            sample_stats,
            train_sample_index: train.sample_index.clone(),
            train_labels: train.labels.clone(),
            train_len: train.len,
        })
    }

    /// From now on the training batches' loss gradient is multiplied by the loss scale at
    /// `scale` (`Alig::loss_scale_binding`: `var<storage, read> loss_scale: f32`), which the
    /// optimizer updates on the GPU after each step. A head takes one scale in its life: a
    /// second call is an error.
    pub fn bind_loss_scale(
        &self,
        device: &wgpu::Device,
        arena: &Arena,
        scale: wgpu::BufferBinding<'_>,
    ) -> Result<()> {
        let train = SetBuffers {
            sample_index: &self.train_sample_index,
            labels: &self.train_labels,
            len: self.train_len,
        };
        let group = output_forward_group(
            device,
            self.kernels,
            arena,
            &self.batches,
            train,
            [&self.hidden, &self.dlogits, &self.sample_stats],
            scale,
        )?;
        self.scaled_output_forward
            .set(group)
            .map_err(|_| "the head's loss scale is bound already".into())
    }

    /// Records the output layer, the loss and the batch loss of `slot` of `set`, after the
    /// model's trunk has written `hidden`.
    pub fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>, set: Set, slot: BatchSlot) {
        let groups = self.groups(set);
        let kernels = self.kernels;
        let output_forward = match (set, self.scaled_output_forward.get()) {
            (Set::Train, Some(scaled)) => scaled,
            _ => &groups.output_forward,
        };
        dispatch(
            pass,
            &kernels.output_forward,
            output_forward,
            slot,
            [slot.rows.div_ceil(THREADS), 1],
        );
        dispatch(pass, &kernels.batch_loss, &groups.batch_loss, slot, [1, 1]);
    }

    /// Records the output layer's gradients and `dhidden` for training batch `slot`.
    pub fn record_backward(&self, pass: &mut wgpu::ComputePass<'_>, slot: BatchSlot) {
        let kernels = self.kernels;
        let unit_groups = self.hidden_units.div_ceil(THREADS);
        dispatch(
            pass,
            &kernels.output_grads,
            &self.train.output_grads,
            slot,
            [unit_groups, 1],
        );
        dispatch(
            pass,
            &kernels.hidden_backward,
            &self.train.hidden_backward,
            slot,
            [unit_groups, slot.rows.div_ceil(ROW_TILE)],
        );
    }

    /// The buffer and byte offset where a training step's mean loss is written.
    pub fn step_loss(&self) -> (&wgpu::Buffer, u64) {
        (&self.results, u64::from(STEP_SLOT) * RESULT_SLOT_BYTES)
    }

    pub fn train_len(&self) -> usize {
        self.train_len
    }

    /// Queues the training set's sample order of the next epoch (a permutation).
    pub fn write_train_order(&self, queue: &wgpu::Queue, order: &[u32]) {
        debug_assert_eq!(order.len(), self.train_len);
        queue.write_buffer(&self.train_sample_index, 0, bytemuck::cast_slice(order));
    }

    fn groups(&self, set: Set) -> &HeadBindGroups {
        match set {
            Set::Train => &self.train,
            Set::HeldOut => &self.held_out,
        }
    }
}

/// The bind group of `output_forward` over `data`, its loss gradient multiplied by the scale
/// at `scale`; `buffers`: the head's hidden, dlogits and sample stats.
fn output_forward_group(
    device: &wgpu::Device,
    kernels: &ClassifierKernels,
    arena: &Arena,
    batches: &BatchTable,
    data: SetBuffers<'_>,
    buffers: [&wgpu::Buffer; 3],
    scale: wgpu::BufferBinding<'_>,
) -> Result<wgpu::BindGroup> {
    let [hidden, dlogits, sample_stats] = buffers;
    Ok(kernels.output_forward.bind_group(
        device,
        &[
            batches.binding(),
            whole(data.sample_index),
            whole(data.labels),
            whole(hidden),
            param_binding(arena, "w2")?,
            param_binding(arena, "b2")?,
            whole(dlogits),
            whole(sample_stats),
            scale,
        ],
    ))
}

fn storage(
    device: &wgpu::Device,
    label: &str,
    floats: u64,
    extra: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: floats * 4,
        usage: wgpu::BufferUsages::STORAGE | extra,
        mapped_at_creation: false,
    })
}

/// A storage buffer of `floats` f32 (or u32) values, for a model's own activations.
pub fn activation_buffer(device: &wgpu::Device, label: &str, floats: u64) -> wgpu::Buffer {
    storage(device, label, floats, wgpu::BufferUsages::empty())
}

/// Writes seeded initial parameters as PyTorch's `Linear` and `Conv2d` draw them: each
/// `(name, len, fan_in)` tensor uniform in `±1/sqrt(fan_in)`, in the order given.
pub fn init_uniform(
    arena: &Arena,
    queue: &wgpu::Queue,
    seed: u64,
    tensors: &[(&str, usize, usize)],
) -> Result<()> {
    let mut rng = SplitMix64::new(seed);
    for &(name, len, fan_in) in tensors {
        let bound = 1.0 / (fan_in as f64).sqrt();
        let values: Vec<f32> = (0..len)
            .map(|_| rng.uniform(-bound, bound) as f32)
            .collect();
        arena.write_params(queue, name, &values)?;
    }
    Ok(())
}
