//! A labelled image set uploaded to the GPU once, pixels packed four bytes to a `u32` (the
//! whole training set is 47 MB so, where f32 pixels would pass the 128 MiB binding limit),
//! with the sample index buffer through which every kernel reads it: the model writes a new
//! shuffled order there once per epoch, and a batch is then a contiguous range of it.

use wgpu::util::DeviceExt;

use super::common::classifier_head::SetBuffers;
use super::dataset::Images;

#[derive(Debug)]
pub struct DeviceImages {
    pub pixels: wgpu::Buffer,
    pub labels: wgpu::Buffer,
    pub sample_index: wgpu::Buffer,
    len: usize,
}

impl DeviceImages {
    /// Uploads `images`, with the samples in their stored order.
    pub fn upload(device: &wgpu::Device, images: &Images) -> Self {
        let storage = |label, contents: &[u8], extra| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE | extra,
            })
        };
        // Little-endian words: byte i of the set is bits 8 (i % 4) of word i / 4.
        let mut packed = images.pixels.clone();
        packed.resize(images.pixels.len().div_ceil(4).max(1) * 4, 0);
        let order: Vec<u32> = (0..images.len() as u32).collect();
        Self {
            pixels: storage("fashion pixels", &packed, wgpu::BufferUsages::empty()),
            labels: storage(
                "fashion labels",
                bytemuck::cast_slice(&images.labels),
                wgpu::BufferUsages::empty(),
            ),
            sample_index: storage(
                "fashion sample index",
                bytemuck::cast_slice(&order),
                wgpu::BufferUsages::COPY_DST,
            ),
            len: images.len(),
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
