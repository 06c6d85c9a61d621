//! The SGD baseline over the whole arena in one dispatch (`sgd_momentum.wgsl`), with its own
//! velocity buffer laid out like the arena. The learning rate is a uniform that the host
//! rewrites between submits (once per epoch for a schedule).

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;
use wgpu_alig::Arena;

use super::kernel::Kernel;

/// Mirrors `SgdUniforms` in sgd_momentum.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct SgdUniforms {
    lr: f32,
    momentum: f32,
    len_vec4: u32,
    _pad: u32,
}

/// Threads per workgroup of `sgd_momentum` (one `vec4` each).
const THREADS: u32 = 256;

#[derive(Debug)]
pub struct SgdMomentum<'k> {
    kernel: &'k Kernel,
    uniforms: SgdUniforms,
    uniform_buffer: wgpu::Buffer,
    _velocity: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

impl<'k> SgdMomentum<'k> {
    pub fn new(
        device: &wgpu::Device,
        kernel: &'k Kernel,
        arena: &Arena,
        lr: f32,
        momentum: f32,
    ) -> Self {
        let uniforms = SgdUniforms {
            lr,
            momentum,
            len_vec4: (arena.layout().len() / 4) as u32,
            _pad: 0,
        };
        let uniform_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("sgd uniforms"),
            contents: bytemuck::bytes_of(&uniforms),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        // Zeroed at creation, like the momentum of a fresh optimizer.
        let velocity = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("sgd velocity"),
            size: arena.layout().byte_size(),
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let bind_group = kernel.bind_group(
            device,
            &[
                uniform_buffer.as_entire_buffer_binding(),
                arena.params_buffer().as_entire_buffer_binding(),
                arena.grads_buffer().as_entire_buffer_binding(),
                velocity.as_entire_buffer_binding(),
            ],
        );
        Self {
            kernel,
            uniforms,
            uniform_buffer,
            _velocity: velocity,
            bind_group,
        }
    }

    /// Sets the learning rate of the steps in the next submit.
    pub fn set_lr(&mut self, queue: &wgpu::Queue, lr: f32) {
        self.uniforms.lr = lr;
        queue.write_buffer(&self.uniform_buffer, 0, bytemuck::bytes_of(&self.uniforms));
    }

    /// Records one update of every parameter.
    pub fn record_step(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("sgd step"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.kernel.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.uniforms.len_vec4.div_ceil(THREADS), 1, 1);
    }
}
