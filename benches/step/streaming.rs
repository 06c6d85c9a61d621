//! The roofline: a kernel pair that moves exactly the bytes of the step (pass 1 reads g;
//! pass 2 reads w, g (and z) and writes w (and z), and with `Precision::F16` the f16 copy of
//! w) with no arithmetic to speak of, in one compute pass of two dispatches like the step.
//! Each kernel's module starts with the crate's own precision prelude, so that it reads and
//! writes the element types the step does. Arenas larger than one storage binding are
//! streamed in windows, one dispatch per window and pass.

use crate::kernel::{grid_stride_workgroups, module, Access, Kernel, HALF_PARAMS_BINDING};
use std::time::Duration;

use crate::timer::{measure, measure_each_span, Sample, Timer};
use crate::workload::Buffers;

const READ_WGSL: &str = include_str!("../shaders/streaming_read.wgsl");
const UPDATE_WGSL: &str = include_str!("../shaders/streaming_update.wgsl");

struct Window {
    read: wgpu::BindGroup,
    update: wgpu::BindGroup,
    workgroups: u32,
}

pub struct Streaming {
    read: Kernel,
    update: Kernel,
    windows: Vec<Window>,
    _sink: wgpu::Buffer,
}

/// The roofline, or the roofline with some of the step's work added (the benchmark's
/// decomposition of the step's gap to its roofline).
#[derive(Clone, Copy, Debug)]
pub enum Variant {
    /// The roofline: the step's bytes, no arithmetic, no barrier.
    Plain,
    /// One workgroup barrier in each kernel, as each pass of the step has.
    Barriers,
    /// The step's per-element arithmetic (with momentum), no barrier.
    Arithmetic,
    /// Both.
    ArithmeticBarriers,
}

impl Variant {
    /// The entry points of the read and the update (with momentum) kernels.
    fn entry_points(self) -> (&'static str, &'static str) {
        match self {
            Self::Plain => ("streaming_read", "streaming_update_momentum"),
            Self::Barriers => (
                "streaming_read_barrier",
                "streaming_update_momentum_barrier",
            ),
            Self::Arithmetic => (
                "streaming_read_arithmetic",
                "streaming_update_momentum_arithmetic",
            ),
            Self::ArithmeticBarriers => (
                "streaming_read_arithmetic_barrier",
                "streaming_update_momentum_arithmetic_barrier",
            ),
        }
    }
}

impl Streaming {
    /// Streams the first `bytes` of `buffers` (bytes of the f32 buffers; the f16 ones stream
    /// as many elements), windows and workgroups per window as the crate picks them.
    pub fn new(device: &wgpu::Device, buffers: Buffers<'_>, bytes: u64) -> Self {
        Self::variant(device, buffers, bytes, Variant::Plain)
    }

    /// [`Streaming::new`] with some of the step's work added; the variants other than
    /// [`Variant::Plain`] exist with momentum only.
    pub fn variant(
        device: &wgpu::Device,
        buffers: Buffers<'_>,
        bytes: u64,
        variant: Variant,
    ) -> Self {
        let split = |len_vec4| grid_stride_workgroups(device, len_vec4);
        Self::with_split(device, buffers, bytes, variant, split)
    }

    /// [`Streaming::variant`] with `workgroups(vec4s of the window)` workgroups per window
    /// instead of the crate's split (the split sweep).
    pub fn with_split(
        device: &wgpu::Device,
        buffers: Buffers<'_>,
        bytes: u64,
        variant: Variant,
        workgroups: impl Fn(u64) -> u32,
    ) -> Self {
        use Access::*;
        let precision = buffers.precision;
        let (read_entry, momentum_entry) = variant.entry_points();
        let read = Kernel::new(
            device,
            &module(precision, READ_WGSL),
            read_entry,
            &[(0, Read), (1, ReadWrite)],
        );
        let mut update_bindings = vec![(0, Read), (1, ReadWrite)];
        let update_entry = match buffers.momentum {
            None => "streaming_update",
            Some(_) => {
                update_bindings.push((2, ReadWrite));
                momentum_entry
            }
        };
        if buffers.half_params.is_some() {
            update_bindings.push((HALF_PARAMS_BINDING, ReadWrite));
        }
        let update = Kernel::new(
            device,
            &module(precision, UPDATE_WGSL),
            update_entry,
            &update_bindings,
        );
        let sink = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("streaming sink"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let limits = device.limits();
        // Windows of the f32 buffers; an f16 buffer's window starts at half the offset, so
        // the f16 kinds align the f32 offsets twice as much (as the crate does).
        let alignment = u64::from(limits.min_storage_buffer_offset_alignment)
            * if precision.needs_f16() { 2 } else { 1 };
        let max_window = limits.max_storage_buffer_binding_size / alignment * alignment;
        // (offset, size) of an f32 window in a buffer of `element_bytes` elements.
        let of = |offset: u64, size: u64, element_bytes: u64| {
            (offset / 4 * element_bytes, size / 4 * element_bytes)
        };
        let grad_bytes = precision.grad_bytes();
        let windows = (0..bytes)
            .step_by(max_window as usize)
            .map(|offset| {
                let size = max_window.min(bytes - offset);
                let (grad_offset, grad_size) = of(offset, size, grad_bytes);
                let mut update_ranges = vec![
                    (0, buffers.grads, grad_offset, grad_size),
                    (1, buffers.params, offset, size),
                ];
                if let Some(momentum) = buffers.momentum {
                    update_ranges.push((2, momentum, offset, size));
                }
                if let Some(half_params) = buffers.half_params {
                    let (half_offset, half_size) = of(offset, size, 2);
                    update_ranges.push((HALF_PARAMS_BINDING, half_params, half_offset, half_size));
                }
                Window {
                    read: read.bind_group(
                        device,
                        &[
                            (0, buffers.grads, grad_offset, grad_size),
                            (1, &sink, 0, 16),
                        ],
                    ),
                    update: update.bind_group(device, &update_ranges),
                    workgroups: workgroups(size / 16),
                }
            })
            .collect();
        Self {
            read,
            update,
            windows,
            _sink: sink,
        }
    }

    /// Windows streamed, each with one dispatch per kernel.
    pub fn window_count(&self) -> usize {
        self.windows.len()
    }

    /// Workgroups of the first (largest) window's dispatches.
    pub fn workgroups(&self) -> u32 {
        self.windows.first().map_or(0, |w| w.workgroups)
    }

    /// The two kernels in a compute pass each, timed as spans 0 (the read, pass 1's bytes)
    /// and 1 (the update, pass 2's bytes).
    pub fn run_by_pass(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        timer: &Timer,
    ) -> Option<Vec<Duration>> {
        measure_each_span(device, queue, timer, 2, |encoder| {
            for (span, kernel) in [&self.read, &self.update].into_iter().enumerate() {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("streaming roofline pass"),
                    timestamp_writes: timer.pass(span as u32),
                });
                pass.set_pipeline(&kernel.pipeline);
                for window in &self.windows {
                    let bind_group = if span == 0 {
                        &window.read
                    } else {
                        &window.update
                    };
                    pass.set_bind_group(0, bind_group, &[]);
                    pass.dispatch_workgroups(window.workgroups, 1, 1);
                }
            }
        })
    }

    pub fn run(&self, device: &wgpu::Device, queue: &wgpu::Queue, timer: &Timer) -> Sample {
        measure(device, queue, timer, 1, |encoder| {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("streaming roofline"),
                timestamp_writes: timer.pass(0),
            });
            pass.set_pipeline(&self.read.pipeline);
            for window in &self.windows {
                pass.set_bind_group(0, &window.read, &[]);
                pass.dispatch_workgroups(window.workgroups, 1, 1);
            }
            pass.set_pipeline(&self.update.pipeline);
            for window in &self.windows {
                pass.set_bind_group(0, &window.update, &[]);
                pass.dispatch_workgroups(window.workgroups, 1, 1);
            }
        })
    }
}
