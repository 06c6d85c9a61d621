//! The adapter's copy bandwidth: `copy_buffer_to_buffer` of half the step's traffic, so that
//! the bytes read plus the bytes written equal the step's.

use crate::timer::{measure, Sample, Timer};

pub struct CopyBandwidth {
    source: wgpu::Buffer,
    destination: wgpu::Buffer,
    bytes: u64,
}

impl CopyBandwidth {
    /// `None` where a buffer of `bytes` is larger than the device allows.
    pub fn new(device: &wgpu::Device, bytes: u64) -> Option<Self> {
        if bytes > device.limits().max_buffer_size {
            return None;
        }
        let create = |label, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        Some(Self {
            source: create("copy source", wgpu::BufferUsages::COPY_SRC),
            destination: create("copy destination", wgpu::BufferUsages::COPY_DST),
            bytes,
        })
    }

    /// The copy, bracketed by two empty compute passes that carry its timestamps.
    pub fn run(&self, device: &wgpu::Device, queue: &wgpu::Queue, timer: &Timer) -> Sample {
        measure(device, queue, timer, 1, |encoder| {
            drop(encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("copy start"),
                timestamp_writes: timer.span_start(0),
            }));
            encoder.copy_buffer_to_buffer(&self.source, 0, &self.destination, 0, self.bytes);
            drop(encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("copy end"),
                timestamp_writes: timer.span_end(0),
            }));
        })
    }
}
