//! The batch table: one `BatchDesc` per mini-batch of an epoch and one per full-set
//! evaluation, in a uniform buffer written once, each at a dynamic offset. A step picks its
//! batch with that offset, so per step the host writes nothing.

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

/// Mirrors `BatchDesc` in common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BatchDesc {
    pub start: u32,
    pub count: u32,
    pub inv_count: f32,
    pub out_slot: u32,
}

/// Slots of the results buffer (`vec2<f32>`: mean loss, correct predictions).
pub const STEP_SLOT: u32 = 0;
pub const TRAIN_EVAL_SLOT: u32 = 1;
pub const HELD_OUT_EVAL_SLOT: u32 = 2;
pub const RESULT_SLOTS: u32 = 3;

/// One entry of the table: the dynamic offset that selects it, and its number of rows.
#[derive(Clone, Copy, Debug)]
pub struct BatchSlot {
    pub dynamic_offset: u32,
    pub rows: u32,
}

#[derive(Debug)]
pub struct BatchTable {
    pub buffer: wgpu::Buffer,
    /// The mini-batches of an epoch; the last one is smaller when `batch_size` does not
    /// divide the training set (every sample is seen once per epoch).
    pub train_batches: Vec<BatchSlot>,
    pub train_eval: BatchSlot,
    pub held_out_eval: BatchSlot,
}

impl BatchTable {
    pub fn new(
        device: &wgpu::Device,
        train_len: usize,
        batch_size: usize,
        held_out_len: usize,
    ) -> Self {
        let stride = device.limits().min_uniform_buffer_offset_alignment.max(16);
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
        descs.push(desc(0, train_len, TRAIN_EVAL_SLOT));
        descs.push(desc(0, held_out_len, HELD_OUT_EVAL_SLOT));

        let mut bytes = vec![0u8; descs.len() * stride as usize];
        let mut slots = Vec::with_capacity(descs.len());
        for (index, desc) in descs.iter().enumerate() {
            let offset = index * stride as usize;
            bytes[offset..offset + std::mem::size_of::<BatchDesc>()]
                .copy_from_slice(bytemuck::bytes_of(desc));
            slots.push(BatchSlot {
                dynamic_offset: offset as u32,
                rows: desc.count,
            });
        }
        let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("digits batch table"),
            contents: &bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let held_out_eval = slots.pop().expect("two evaluation entries were pushed");
        let train_eval = slots.pop().expect("two evaluation entries were pushed");
        Self {
            buffer,
            train_batches: slots,
            train_eval,
            held_out_eval,
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

    /// The largest number of rows of any entry: the size of the activation buffers.
    pub fn max_rows(&self) -> u32 {
        self.train_batches
            .iter()
            .chain([&self.train_eval, &self.held_out_eval])
            .map(|slot| slot.rows)
            .max()
            .unwrap_or(1)
    }
}
