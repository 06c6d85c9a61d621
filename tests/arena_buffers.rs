//! The arena's buffers as an engine binds them: extra usages at creation, and a tensor bound
//! as whole `vec4<f32>`s, its last one reaching into the tensor's padding and no further.

mod common;

use common::{bits, gpu};
use wgpu_alig::{Arena, Error};

/// Doubles every vec4 of the binding: what an engine's kernel over a padded tensor does.
const DOUBLE: &str = "
@group(0) @binding(0) var<storage, read_write> w: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < arrayLength(&w) {
        w[id.x] = 2.0 * w[id.x];
    }
}
";

#[test]
fn extra_usages_and_vec4_bindings() {
    let gpu = gpu();
    let tensors = [("a", 257), ("b", 3), ("c", 6)];
    let extra = wgpu::BufferUsages::VERTEX;
    let arena = Arena::with_usages(&gpu.device, &tensors, extra).unwrap();
    for buffer in [arena.params_buffer(), arena.grads_buffer()] {
        assert!(buffer.usage().contains(extra | wgpu::BufferUsages::STORAGE));
    }
    let sizes: Vec<u64> = ["a", "b", "c"]
        .iter()
        .map(|name| arena.param_binding_vec4(name).unwrap().size.unwrap().get())
        .collect();
    assert_eq!(sizes, [1040, 16, 32]);
    assert_eq!(
        arena.grad_binding_vec4("b").unwrap().offset,
        arena.grad_binding("b").unwrap().offset
    );

    let values: Vec<f32> = (0..266).map(|k| k as f32).collect();
    arena.write_all_params(&gpu.queue, &values).unwrap();
    let module = gpu
        .device
        .create_shader_module(wgpu::ShaderModuleDescriptor {
            label: None,
            source: wgpu::ShaderSource::Wgsl(DOUBLE.into()),
        });
    let pipeline = gpu
        .device
        .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: None,
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
    let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(arena.param_binding_vec4("a").unwrap()),
        }],
    });
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(2, 1, 1);
    }
    gpu.queue.submit([encoder.finish()]);
    let all = arena.read_all_params(&gpu.device, &gpu.queue).unwrap();
    let doubled: Vec<f32> = values[..257].iter().map(|v| 2.0 * v).collect();
    assert_eq!(bits(&all[..257]), bits(&doubled), "the tensor, doubled");
    assert_eq!(
        bits(&all[257..]),
        bits(&values[257..]),
        "the next tensors, untouched"
    );
}

#[test]
fn mapping_usages_without_the_feature_are_a_typed_error() {
    let gpu = gpu();
    // Gpu::request never asks for the feature that would allow it.
    assert!(!gpu
        .device
        .features()
        .contains(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS));
    let result = Arena::with_usages(&gpu.device, &[("a", 4)], wgpu::BufferUsages::MAP_READ);
    assert!(matches!(result, Err(Error::ArenaUsage(_))), "{result:?}");
}
