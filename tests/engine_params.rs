//! An arena over parameters the engine allocated (`Arena::over_params`): the steps give the
//! bits an arena of its own gives, and no byte of the engine's buffer outside the tensors moves.

mod common;

use common::{bits, gpu, Rng};
use wgpu_alig::{Alig, AligConfig, Arena, Error, Gpu, GpuRequest, Loss};

/// Awkward sizes: tails of 1 to 3 floats, a tensor under one vec4, one over several chunks.
const TENSORS: [(&str, usize); 4] = [("a", 257), ("b", 3), ("c", 1030), ("d", 6)];
/// Where the arena's region starts in the engine's buffer: a multiple of every device's
/// storage offset alignment (WebGPU caps it at 256), not of the arena's own padding.
const OFFSET: u64 = 768;
/// What the engine keeps around the region, which the steps must leave alone.
const SENTINEL: f32 = -7.25;
const TAIL_BYTES: u64 = 1024;

/// A buffer the engine allocated, the arena's region at [`OFFSET`], sentinels everywhere.
fn engine_buffer(gpu: &Gpu, region_bytes: u64) -> wgpu::Buffer {
    let size = OFFSET + region_bytes + TAIL_BYTES;
    let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("engine pool page"),
        size,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let sentinels = vec![SENTINEL; (size / 4) as usize];
    gpu.queue
        .write_buffer(&buffer, 0, bytemuck::cast_slice(&sentinels));
    buffer
}

/// `steps` ALI-G steps of `arena` with seeded parameters, gradients and losses; the
/// parameters and momentum of every tensor after them, as bits.
fn train(gpu: &Gpu, arena: &Arena, config: AligConfig, steps: usize) -> Vec<Vec<u32>> {
    let mut rng = Rng::new(7);
    for (name, len) in TENSORS {
        let values = rng.vec_f32(len, -1.0, 1.0);
        arena.write_params(&gpu.queue, name, &values).unwrap();
    }
    let mut alig = Alig::new(&gpu.device, arena, config).unwrap();
    // With projection, a read and a write of every parameter at once.
    alig.project_params(&gpu.device, &gpu.queue, arena).unwrap();
    for _ in 0..steps {
        for (name, len) in TENSORS {
            let grads = rng.vec_f32(len, -1.0, 1.0);
            arena.write_grads(&gpu.queue, name, &grads).unwrap();
        }
        let loss = rng.uniform(1.0, 50.0) as f32;
        alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))
            .unwrap();
    }
    let mut state = Vec::new();
    for (name, _) in TENSORS {
        let params = arena.read_params(&gpu.device, &gpu.queue, name).unwrap();
        let momentum = alig.read_momentum(&gpu.device, &gpu.queue, name).unwrap();
        state.extend([bits(&params), bits(&momentum)]);
    }
    state
}

/// The whole engine buffer read back, as floats.
fn read_buffer(gpu: &Gpu, buffer: &wgpu::Buffer) -> Vec<f32> {
    let len = (buffer.size() / 4) as usize;
    common::readback::read_f32s(&gpu.device, &gpu.queue, buffer, 0, len).unwrap()
}

#[test]
fn steps_over_the_engines_buffer_match_an_own_arena_and_touch_nothing_else() {
    let gpu = gpu();
    let own = Arena::new(&gpu.device, &TENSORS).unwrap();
    let region_bytes = own.layout().byte_size();
    let buffer = engine_buffer(&gpu, region_bytes);
    let over = Arena::over_params(&gpu.device, &TENSORS, &buffer, OFFSET).unwrap();
    assert_eq!(over.params_offset(), OFFSET);
    let slot = over.tensor("c").unwrap().clone();
    let binding = over.param_binding("c").unwrap();
    assert_eq!(binding.offset, OFFSET + slot.byte_offset());

    for (what, config) in [
        (
            "momentum",
            AligConfig {
                max_lr: Some(0.05),
                momentum: 0.9,
                ..Default::default()
            },
        ),
        (
            "projection",
            AligConfig {
                max_lr: Some(0.05),
                max_norm: Some(3.0),
                ..Default::default()
            },
        ),
    ] {
        let want = train(&gpu, &own, config, 6);
        let got = train(&gpu, &over, config, 6);
        assert_eq!(
            got, want,
            "{what}: the engine's buffer steps as an own arena"
        );
    }

    // The projection wrote the whole region (write_all_params): its padding is zeroed, the
    // tensors are where the arena says, and around the region the engine's sentinels stand.
    let all = read_buffer(&gpu, &buffer);
    let region = (OFFSET / 4) as usize..((OFFSET + region_bytes) / 4) as usize;
    let is_sentinel = |v: &f32| v.to_bits() == SENTINEL.to_bits();
    assert!(
        all[..region.start].iter().all(is_sentinel),
        "before the region"
    );
    assert!(
        all[region.end..].iter().all(is_sentinel),
        "after the region"
    );
    let params = over.read_all_params(&gpu.device, &gpu.queue).unwrap();
    let mut in_region = Vec::new();
    for (k, slot) in over.layout().tensors().iter().enumerate() {
        let end = over
            .layout()
            .tensors()
            .get(k + 1)
            .map_or(region.len(), |next| next.offset);
        let tensor = &all[region.start + slot.offset..];
        in_region.extend_from_slice(&tensor[..slot.len]);
        let padding = &all[region.start + slot.offset + slot.len..region.start + end];
        assert!(
            padding.iter().all(|v| v.to_bits() == 0),
            "padding after {}",
            slot.name
        );
    }
    assert_eq!(
        bits(&in_region),
        bits(&params),
        "the tensors where the arena says"
    );
}

#[test]
fn a_buffer_of_another_device_or_mapped_is_a_typed_error() {
    let gpu = gpu();
    let bytes = Arena::layout_for(&gpu.device, &TENSORS)
        .unwrap()
        .byte_size();
    // A sibling device of the same instance (another instance's buffer wgpu cannot resolve).
    match pollster::block_on(gpu.another_device(GpuRequest::default())) {
        Ok(other) => {
            let foreign = engine_buffer(&other, bytes);
            let result = Arena::over_params(&gpu.device, &TENSORS, &foreign, OFFSET);
            assert!(matches!(result, Err(Error::WrongDevice)), "{result:?}");
        }
        Err(e) => eprintln!("the adapter gave no second device: {e}"),
    }
    let mapped = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: OFFSET + bytes,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: true,
    });
    let result = Arena::over_params(&gpu.device, &TENSORS, &mapped, OFFSET);
    assert!(
        matches!(result, Err(Error::UnusableBuffer(_))),
        "{result:?}"
    );
    // Unmapped, the same buffer is taken.
    mapped.unmap();
    assert!(Arena::over_params(&gpu.device, &TENSORS, &mapped, OFFSET).is_ok());
}

#[test]
fn a_region_that_cannot_hold_the_arena_is_a_typed_error() {
    let gpu = gpu();
    let bytes = Arena::new(&gpu.device, &TENSORS)
        .unwrap()
        .layout()
        .byte_size();
    let buffer = engine_buffer(&gpu, bytes);
    let misaligned = Arena::over_params(&gpu.device, &TENSORS, &buffer, OFFSET + 4);
    assert!(
        matches!(misaligned, Err(Error::ParamsRegion { offset, .. }) if offset == OFFSET + 4),
        "{misaligned:?}"
    );
    let past_the_end =
        Arena::over_params(&gpu.device, &TENSORS, &buffer, OFFSET + TAIL_BYTES + 256);
    assert!(
        matches!(past_the_end, Err(Error::ParamsRegion { needed, .. }) if needed == bytes),
        "{past_the_end:?}"
    );
    let huge = Arena::over_params(&gpu.device, &TENSORS, &buffer, u64::MAX - 255);
    assert!(matches!(huge, Err(Error::ParamsRegion { .. })), "{huge:?}");

    let storage_only = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let unusable = Arena::over_params(&gpu.device, &TENSORS, &storage_only, 0);
    assert!(
        matches!(unusable, Err(Error::ParamsRegionUsage(missing)) if missing == wgpu::BufferUsages::COPY_SRC),
        "{unusable:?}"
    );
}
