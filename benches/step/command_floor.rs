//! The host cost of a step's commands without the crate: what wgpu and the driver charge for
//! the same work shape (an 8-byte `write_buffer`, the host loss's three copies of 8, 4 and 4
//! bytes (value and sequence number, and the number expected), one compute pass with two
//! dispatches whose bind groups have as many buffers as the step's two passes, finish,
//! submit). The crate's step cannot cost the host less than this.

use crate::cpu_time::HostTimes;
use crate::kernel::{Access, Kernel};
use crate::timer::wait_idle;

/// Buffers bound by the step's pass 1 and pass 2 (`src/pipelines.rs`).
const PASS_BINDINGS: [u32; 2] = [4, 8];

/// A one-thread kernel that reads and writes one word of each of `bindings` buffers.
fn touch_wgsl(bindings: u32) -> String {
    let mut wgsl = String::new();
    for b in 0..bindings {
        wgsl += &format!("@group(0) @binding({b}) var<storage, read_write> b{b}: array<u32>;\n");
    }
    wgsl += "@compute @workgroup_size(1)\nfn touch() {\n";
    for b in 0..bindings {
        wgsl += &format!("    b{b}[0] = b{b}[0] + 1u;\n");
    }
    wgsl + "}\n"
}

pub struct CommandFloor {
    passes: Vec<(Kernel, wgpu::BindGroup)>,
    scalar: wgpu::Buffer,
    storage: Vec<wgpu::Buffer>,
}

impl CommandFloor {
    pub fn new(device: &wgpu::Device) -> Self {
        let buffer = |label, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 256,
                usage,
                mapped_at_creation: false,
            })
        };
        let scalar = buffer(
            "floor scalar",
            wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        );
        let most = PASS_BINDINGS.into_iter().max().unwrap_or(0);
        let storage: Vec<wgpu::Buffer> = (0..most)
            .map(|_| {
                buffer(
                    "floor storage",
                    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                )
            })
            .collect();
        let passes = PASS_BINDINGS
            .into_iter()
            .map(|bindings| {
                let access: Vec<_> = (0..bindings).map(|b| (b, Access::ReadWrite)).collect();
                let kernel = Kernel::new(device, &touch_wgsl(bindings), "touch", &access);
                let ranges: Vec<_> = (0..bindings)
                    .map(|b| (b, &storage[b as usize], 0, 256))
                    .collect();
                let bind_group = kernel.bind_group(device, &ranges);
                (kernel, bind_group)
            })
            .collect();
        Self {
            passes,
            scalar,
            storage,
        }
    }

    /// One step into `times`, waited for outside the timed region.
    pub fn time(&self, device: &wgpu::Device, queue: &wgpu::Queue, times: &mut HostTimes) {
        times.time(|| {
            queue.write_buffer(&self.scalar, 0, &[0; 8]);
            let mut encoder = device.create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(&self.scalar, 0, &self.storage[0], 0, 8);
            encoder.copy_buffer_to_buffer(&self.scalar, 8, &self.storage[0], 8, 4);
            encoder.copy_buffer_to_buffer(&self.scalar, 12, &self.storage[0], 12, 4);
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for (kernel, bind_group) in &self.passes {
                    pass.set_pipeline(&kernel.pipeline);
                    pass.set_bind_group(0, bind_group, &[]);
                    pass.dispatch_workgroups(1, 1, 1);
                }
            }
            queue.submit([encoder.finish()]);
        });
        wait_idle(device);
    }
}
