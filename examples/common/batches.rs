//! The batch table: one `BatchDesc` per mini-batch of an epoch and one per chunk of each
//! full-set evaluation, in a uniform buffer written once, each at a dynamic offset. A step
//! picks its batch with that offset, so per step the host writes nothing. Each entry writes
//! its (mean loss, correct predictions) to its own slot of the results buffer.

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

/// Mirrors `BatchDesc` in classifier.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BatchDesc {
    pub start: u32,
    pub count: u32,
    pub inv_count: f32,
    pub out_slot: u32,
}

/// The results slot of every training step (`vec2<f32>`: mean loss, correct predictions).
pub const STEP_SLOT: u32 = 0;
/// Bytes of one results slot.
pub const RESULT_SLOT_BYTES: u64 = 8;

/// One entry of the table: the dynamic offset that selects it, its number of rows, and the
/// results slot it writes.
#[derive(Clone, Copy, Debug)]
pub struct BatchSlot {
    pub dynamic_offset: u32,
    pub rows: u32,
    pub out_slot: u32,
}

#[derive(Debug)]
pub struct BatchTable {
    pub buffer: wgpu::Buffer,
    /// The mini-batches of an epoch; the last one is smaller when `batch_size` does not
    /// divide the training set (every sample is seen once per epoch).
    pub train_batches: Vec<BatchSlot>,
    /// The chunks of the whole training set, for its evaluation; consecutive slots.
    pub train_eval: Vec<BatchSlot>,
    /// The chunks of the held-out set; consecutive slots after the training set's.
    pub held_out_eval: Vec<BatchSlot>,
}

impl BatchTable {
    /// Evaluations run in chunks of at most `eval_chunk` rows (so that activation buffers
    /// stay small on large sets).
    pub fn new(
        device: &wgpu::Device,
        train_len: usize,
        batch_size: usize,
        held_out_len: usize,
        eval_chunk: usize,
    ) -> Self {
        let stride = device.limits().min_uniform_buffer_offset_alignment.max(16) as usize;
        let desc = |start: usize, count: usize, out_slot| BatchDesc {
            start: start as u32,
            count: count as u32,
            inv_count: 1.0 / count as f32,
            out_slot,
        };
        let mut descs: Vec<BatchDesc> = (0..train_len)
            .step_by(batch_size)
            .map(|start| desc(start, batch_size.min(train_len - start), STEP_SLOT))
            .collect();
        let train_batches = descs.len();
        let mut next_slot = STEP_SLOT + 1;
        let mut chunks = |descs: &mut Vec<BatchDesc>, len: usize| {
            let first = descs.len();
            for start in (0..len).step_by(eval_chunk) {
                descs.push(desc(start, eval_chunk.min(len - start), next_slot));
                next_slot += 1;
            }
            first..descs.len()
        };
        let train_eval = chunks(&mut descs, train_len);
        let held_out_eval = chunks(&mut descs, held_out_len);

        let mut bytes = vec![0u8; descs.len() * stride];
        let mut slots = Vec::with_capacity(descs.len());
        for (index, desc) in descs.iter().enumerate() {
            let offset = index * stride;
            bytes[offset..offset + std::mem::size_of::<BatchDesc>()]
                .copy_from_slice(bytemuck::bytes_of(desc));
            slots.push(BatchSlot {
                dynamic_offset: offset as u32,
                rows: desc.count,
                out_slot: desc.out_slot,
            });
        }
        let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("batch table"),
            contents: &bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        Self {
            buffer,
            train_batches: slots[..train_batches].to_vec(),
            train_eval: slots[train_eval].to_vec(),
            held_out_eval: slots[held_out_eval].to_vec(),
        }
    }

    /// The binding every kernel reads its `BatchDesc` through (one entry, offset dynamic).
    pub fn binding(&self) -> wgpu::BufferBinding<'_> {
        wgpu::BufferBinding {
            buffer: &self.buffer,
            offset: 0,
            size: wgpu::BufferSize::new(std::mem::size_of::<BatchDesc>() as u64),
        }
    }

    /// Slots of the results buffer: the step's and one per evaluation chunk.
    pub fn result_slots(&self) -> u32 {
        1 + (self.train_eval.len() + self.held_out_eval.len()) as u32
    }

    /// The largest number of rows of any entry: the size of the activation buffers.
    pub fn max_rows(&self) -> u32 {
        self.train_batches
            .iter()
            .chain(&self.train_eval)
            .chain(&self.held_out_eval)
            .map(|slot| slot.rows)
            .max()
            .unwrap_or(1)
    }
}

/// Combines the (mean loss, correct) pairs of an evaluation's consecutive chunks, as read
/// back from the results buffer, into the loss and accuracy over the whole set.
pub fn combine_chunks(values: &[f32], chunks: &[BatchSlot]) -> (f32, f32) {
    let rows: f64 = chunks.iter().map(|c| f64::from(c.rows)).sum();
    let (mut loss, mut correct) = (0.0f64, 0.0f64);
    for (pair, chunk) in values.chunks_exact(2).zip(chunks) {
        loss += f64::from(pair[0]) * f64::from(chunk.rows);
        correct += f64::from(pair[1]);
    }
    ((loss / rows) as f32, (correct / rows) as f32)
}
