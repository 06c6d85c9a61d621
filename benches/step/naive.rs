//! The baseline a user would write without the crate: one dispatch per tensor for the norm
//! (per-workgroup partials of g*g), the partials read back to the host (map + wait) where
//! the step size is computed, then one dispatch per tensor for the update with the step size
//! in a uniform. Reasonably efficient: vec4 loads, grid-stride loops, the crate's workgroup
//! rule, bind groups built once; it differs from the crate only in its structure.

use std::time::{Duration, Instant};

use wgpu::util::DeviceExt;
use wgpu_alig::{AligConfig, ArenaLayout};

use crate::fused_step::BENCH_LOSS;
use crate::kernel::{grid_stride_workgroups, module, Access, Kernel, HALF_PARAMS_BINDING};
use crate::readback::map_read;
use crate::timer::{wait_idle, Sample, Timer};
use crate::workload::Buffers;

const SQ_NORM_WGSL: &str = include_str!("../shaders/naive_sq_norm.wgsl");
const UPDATE_WGSL: &str = include_str!("../shaders/naive_update.wgsl");

struct Dispatch {
    bind_group: wgpu::BindGroup,
    workgroups: u32,
}

pub struct Naive {
    sq_norm: Kernel,
    update: Kernel,
    norm_dispatches: Vec<Dispatch>,
    update_dispatches: Vec<Dispatch>,
    step_size: wgpu::Buffer,
    partials: wgpu::Buffer,
    staging: wgpu::Buffer,
    partials_bytes: u64,
    config: AligConfig,
}

/// Host time of the naive step's two recordings and submits, the wait between excluded.
pub struct NaiveRecordCost {
    pub norm: Duration,
    pub update: Duration,
}

impl Naive {
    /// `Err` where one tensor is larger than a storage binding: a per-tensor kernel cannot
    /// bind it whole.
    pub fn new(
        device: &wgpu::Device,
        layout: &ArenaLayout,
        buffers: Buffers<'_>,
        config: AligConfig,
    ) -> Result<Self, String> {
        use Access::*;
        let limits = device.limits();
        // Each tensor bound whole, rounded up to a vec4 (the arena's zero padding is there).
        let tensor_ranges: Vec<(u64, u64)> = layout
            .tensors()
            .iter()
            .map(|slot| (slot.byte_offset(), slot.byte_size().next_multiple_of(16)))
            .collect();
        if tensor_ranges
            .iter()
            .any(|&(_, size)| size > limits.max_storage_buffer_binding_size)
        {
            return Err("n/a (tensor larger than one binding)".to_string());
        }

        let precision = buffers.precision;
        let sq_norm = Kernel::new(
            device,
            &module(precision, SQ_NORM_WGSL),
            "naive_sq_norm",
            &[(0, Uniform), (1, Read), (2, ReadWrite)],
        );
        let mut update_bindings = vec![(0, Uniform), (1, Read), (2, ReadWrite)];
        let update_entry = match buffers.momentum {
            None => "naive_sgd_update",
            Some(_) => {
                update_bindings.push((3, ReadWrite));
                "naive_momentum_update"
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
        // A tensor's range in a buffer of `element_bytes` elements (the ranges are of the
        // f32 ones).
        let of = |(offset, size): (u64, u64), element_bytes: u64| {
            (offset / 4 * element_bytes, size / 4 * element_bytes)
        };
        let grad_bytes = precision.grad_bytes();

        // Each tensor's partials follow the previous tensor's; a tensor finds its first one
        // in its own slot of one uniform buffer.
        let workgroups: Vec<u32> = tensor_ranges
            .iter()
            .map(|&(_, size)| grid_stride_workgroups(device, size / 16))
            .collect();
        let uniform_stride = u64::from(limits.min_uniform_buffer_offset_alignment).max(16);
        let mut first_partials = vec![0u8; uniform_stride as usize * workgroups.len()];
        let mut total_partials = 0u32;
        for (i, &count) in workgroups.iter().enumerate() {
            let at = i * uniform_stride as usize;
            first_partials[at..at + 4].copy_from_slice(&total_partials.to_le_bytes());
            total_partials += count;
        }
        let tensor_partials = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("naive first partial per tensor"),
            contents: &first_partials,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let partials_bytes = u64::from(total_partials) * 4;
        let buffer = |label, size, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        let partials = buffer(
            "naive partials",
            partials_bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let staging = buffer(
            "naive partials readback",
            partials_bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let step_size = buffer(
            "naive step size",
            16,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );

        let norm_dispatches = tensor_ranges
            .iter()
            .zip(&workgroups)
            .enumerate()
            .map(|(i, (&range, &workgroups))| {
                let (grad_offset, grad_size) = of(range, grad_bytes);
                Dispatch {
                    bind_group: sq_norm.bind_group(
                        device,
                        &[
                            (0, &tensor_partials, i as u64 * uniform_stride, 16),
                            (1, buffers.grads, grad_offset, grad_size),
                            (2, &partials, 0, partials_bytes),
                        ],
                    ),
                    workgroups,
                }
            })
            .collect();
        let update_dispatches = tensor_ranges
            .iter()
            .zip(&workgroups)
            .map(|(&range, &workgroups)| {
                let (offset, size) = range;
                let (grad_offset, grad_size) = of(range, grad_bytes);
                let mut ranges = vec![
                    (0, &step_size, 0, 16),
                    (1, buffers.grads, grad_offset, grad_size),
                    (2, buffers.params, offset, size),
                ];
                if let Some(momentum) = buffers.momentum {
                    ranges.push((3, momentum, offset, size));
                }
                if let Some(half_params) = buffers.half_params {
                    let (half_offset, half_size) = of(range, 2);
                    ranges.push((HALF_PARAMS_BINDING, half_params, half_offset, half_size));
                }
                Dispatch {
                    bind_group: update.bind_group(device, &ranges),
                    workgroups,
                }
            })
            .collect();
        Ok(Self {
            sq_norm,
            update,
            norm_dispatches,
            update_dispatches,
            step_size,
            partials,
            staging,
            partials_bytes,
            config,
        })
    }

    /// One naive step from an idle device to an idle device: the norm dispatches and the
    /// copy of the partials, map + wait, the step size on the host, the update dispatches.
    pub fn run(&self, device: &wgpu::Device, queue: &wgpu::Queue, timer: &Timer) -> Sample {
        let start = Instant::now();
        self.submit_norm(device, queue, timer);
        let sq_norm = self.read_sq_norm(device);
        self.submit_update(device, queue, timer, sq_norm);
        wait_idle(device);
        let wall = start.elapsed();
        Sample {
            gpu: timer.read_spans(device, queue, 2),
            wall,
        }
    }

    /// [`Naive::run`] with only the recording and submitting timed.
    pub fn record_cost(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        timer: &Timer,
    ) -> NaiveRecordCost {
        let start = Instant::now();
        self.submit_norm(device, queue, timer);
        let norm = start.elapsed();
        let sq_norm = self.read_sq_norm(device);
        let start = Instant::now();
        self.submit_update(device, queue, timer, sq_norm);
        let update = start.elapsed();
        wait_idle(device);
        NaiveRecordCost { norm, update }
    }

    fn submit_norm(&self, device: &wgpu::Device, queue: &wgpu::Queue, timer: &Timer) {
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("naive norm"),
                timestamp_writes: timer.pass(0),
            });
            pass.set_pipeline(&self.sq_norm.pipeline);
            for dispatch in &self.norm_dispatches {
                pass.set_bind_group(0, &dispatch.bind_group, &[]);
                pass.dispatch_workgroups(dispatch.workgroups, 1, 1);
            }
        }
        encoder.copy_buffer_to_buffer(&self.partials, 0, &self.staging, 0, self.partials_bytes);
        queue.submit([encoder.finish()]);
    }

    /// Maps the partials, waits for the device, and adds them up (in f64, on the host).
    fn read_sq_norm(&self, device: &wgpu::Device) -> f64 {
        map_read(device, &self.staging, .., |bytes| {
            let partials: &[f32] = bytemuck::cast_slice(bytes);
            partials.iter().map(|&p| f64::from(p)).sum()
        })
        .expect("partials mapped")
    }

    /// The ALI-G step size on the host, written to the uniform, then the update dispatches.
    fn submit_update(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        timer: &Timer,
        sq_norm: f64,
    ) {
        let c = &self.config;
        let gamma_hat = f64::from(BENCH_LOSS - c.f_star).max(0.0)
            / (f64::from(c.c) * sq_norm + f64::from(c.eps));
        let gamma = gamma_hat.min(c.max_lr.map_or(f64::INFINITY, f64::from)) as f32;
        let step_size = [gamma, c.momentum, 0.0, 0.0];
        queue.write_buffer(&self.step_size, 0, bytemuck::cast_slice(&step_size));

        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("naive update"),
                timestamp_writes: timer.pass(1),
            });
            pass.set_pipeline(&self.update.pipeline);
            for dispatch in &self.update_dispatches {
                pass.set_bind_group(0, &dispatch.bind_group, &[]);
                pass.dispatch_workgroups(dispatch.workgroups, 1, 1);
            }
        }
        queue.submit([encoder.finish()]);
    }
}
