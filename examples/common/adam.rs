//! The Adam baseline over the whole arena (`adam.wgsl`, after `adam_tick.wgsl` advances the
//! bias corrections), with its two moment buffers laid out like the arena. The learning
//! rate is a uniform written once; the step's bias corrections live on the GPU.

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;
use wgpu_alig::Arena;

use super::kernel::ClassifierKernels;

/// `torch.optim.Adam`'s defaults.
pub const BETA1: f32 = 0.9;
pub const BETA2: f32 = 0.999;
pub const EPS: f32 = 1e-8;

/// Mirrors `AdamUniforms` in adam_uniforms.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct AdamUniforms {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    len_vec4: u32,
    _pad: [u32; 3],
}

/// Threads per workgroup of `adam` (one `vec4` each).
const THREADS: u32 = 256;

#[derive(Debug)]
pub struct Adam<'k> {
    kernels: &'k ClassifierKernels,
    len_vec4: u32,
    update: wgpu::BindGroup,
    tick: wgpu::BindGroup,
    // Held for the bind groups.
    _buffers: [wgpu::Buffer; 4],
}

impl<'k> Adam<'k> {
    pub fn new(
        device: &wgpu::Device,
        kernels: &'k ClassifierKernels,
        arena: &Arena,
        lr: f32,
    ) -> Self {
        let len_vec4 = (arena.layout().len() / 4) as u32;
        let uniforms = AdamUniforms {
            lr,
            beta1: BETA1,
            beta2: BETA2,
            eps: EPS,
            len_vec4,
            _pad: [0; 3],
        };
        let uniform_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("adam uniforms"),
            contents: bytemuck::bytes_of(&uniforms),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        // Zeroed at creation: a fresh optimizer's moments, and the corrections of step 0.
        let zeroed = |label, size| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        };
        let first_moment = zeroed("adam first moment", arena.layout().byte_size());
        let second_moment = zeroed("adam second moment", arena.layout().byte_size());
        let corrections = zeroed("adam bias corrections", 8);
        let update = kernels.adam.bind_group(
            device,
            &[
                uniform_buffer.as_entire_buffer_binding(),
                arena.params_buffer().as_entire_buffer_binding(),
                arena.grads_buffer().as_entire_buffer_binding(),
                first_moment.as_entire_buffer_binding(),
                second_moment.as_entire_buffer_binding(),
                corrections.as_entire_buffer_binding(),
            ],
        );
        let tick = kernels.adam_tick.bind_group(
            device,
            &[
                uniform_buffer.as_entire_buffer_binding(),
                corrections.as_entire_buffer_binding(),
            ],
        );
        Self {
            kernels,
            len_vec4,
            update,
            tick,
            _buffers: [uniform_buffer, first_moment, second_moment, corrections],
        }
    }

    /// Records one update of every parameter.
    pub fn record_step(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("adam step"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.kernels.adam_tick.pipeline);
        pass.set_bind_group(0, &self.tick, &[]);
        pass.dispatch_workgroups(1, 1, 1);
        pass.set_pipeline(&self.kernels.adam.pipeline);
        pass.set_bind_group(0, &self.update, &[]);
        pass.dispatch_workgroups(self.len_vec4.div_ceil(THREADS), 1, 1);
    }
}
