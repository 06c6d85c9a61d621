//! A labelled image set uploaded to the GPU once, with the sample index buffer through which
//! every kernel reads it: the training loop writes a new shuffled order there once per epoch
//! (through the model), and a batch is then a contiguous range of that buffer.

use wgpu::util::DeviceExt;

use super::common::classifier_head::SetBuffers;
use super::dataset::Digits;

#[derive(Debug)]
pub struct DeviceDigits {
    pub images: wgpu::Buffer,
    pub labels: wgpu::Buffer,
    pub sample_index: wgpu::Buffer,
    len: usize,
}

impl DeviceDigits {
    /// Uploads `digits`, with the samples in their stored order.
    pub fn upload(device: &wgpu::Device, digits: &Digits) -> Self {
        let storage = |label, contents: &[u8], extra| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE | extra,
            })
        };
        let order: Vec<u32> = (0..digits.len() as u32).collect();
        Self {
            images: storage(
                "digits images",
                bytemuck::cast_slice(&digits.images),
                wgpu::BufferUsages::empty(),
            ),
            labels: storage(
                "digits labels",
                bytemuck::cast_slice(&digits.labels),
                wgpu::BufferUsages::empty(),
            ),
            sample_index: storage(
                "digits sample index",
                bytemuck::cast_slice(&order),
                wgpu::BufferUsages::COPY_DST,
            ),
            len: digits.len(),
        }
    }

    /// What the classifier head reads of the set.
    pub fn head_buffers(&self) -> SetBuffers<'_> {
        SetBuffers {
            sample_index: &self.sample_index,
            labels: &self.labels,
            len: self.len,
        }
    }
}
