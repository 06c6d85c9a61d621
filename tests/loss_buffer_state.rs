//! A loss buffer that a step cannot use (mapped, or destroyed) is a typed error before
//! anything is recorded: the engine's encoder stays valid, nothing runs, and the same step
//! goes through once the buffer is usable. A map still pending, which wgpu reports only at
//! submit, is a typed error from `Alig::step` (which submits), never a panic.

mod common;

use common::{gpu, Rng};
use wgpu_alig::{Alig, AligConfig, Arena, Error, Gpu, Loss};

const SIZE: usize = 300;

/// An arena with random parameters and gradients and an optimizer with momentum.
fn model(gpu: &Gpu) -> (Arena, Alig) {
    let mut rng = Rng::new(11);
    let arena = Arena::new(&gpu.device, &[("w", SIZE)]).unwrap();
    arena
        .write_params(&gpu.queue, "w", &rng.vec_f32(SIZE, -1.0, 1.0))
        .unwrap();
    arena
        .write_grads(&gpu.queue, "w", &rng.vec_f32(SIZE, -1.0, 1.0))
        .unwrap();
    let alig = Alig::new(&gpu.device, &arena, AligConfig::paper(0.1)).unwrap();
    (arena, alig)
}

/// A loss buffer the host writes by mapping it, as an engine that uploads its loss might.
fn mappable_loss(gpu: &Gpu, mapped: bool) -> wgpu::Buffer {
    let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("loss"),
        size: 256,
        usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: true,
    });
    buffer
        .get_mapped_range_mut(..4)
        .unwrap()
        .copy_from_slice(&0.75f32.to_le_bytes());
    if !mapped {
        buffer.unmap();
    }
    buffer
}

/// `alig.step` with its loss at the start of `buffer`.
fn step_on(gpu: &Gpu, alig: &mut Alig, buffer: &wgpu::Buffer) -> wgpu_alig::Result<()> {
    let loss = Loss::Buffer { buffer, offset: 0 };
    alig.step(&gpu.device, &gpu.queue, loss).map(|_| ())
}

fn params(gpu: &Gpu, arena: &Arena) -> Vec<u32> {
    common::bits(&arena.read_params(&gpu.device, &gpu.queue, "w").unwrap())
}

fn assert_unusable(what: &str, result: wgpu_alig::Result<()>) {
    assert!(
        matches!(result, Err(Error::UnusableBuffer(_))),
        "{what}: {result:?}"
    );
}

#[test]
fn a_mapped_loss_buffer_is_refused_before_anything_is_recorded() {
    let gpu = gpu();
    let (arena, mut alig) = model(&gpu);
    let before = params(&gpu, &arena);
    let loss = mappable_loss(&gpu, true);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    let result = alig.record_step(
        &mut encoder,
        &gpu.queue,
        Loss::Buffer {
            buffer: &loss,
            offset: 0,
        },
    );
    assert_unusable("record_step with a mapped loss buffer", result);
    // The engine's own commands in the same encoder still run: nothing of the step is in it.
    let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
    gpu.queue.submit([encoder.finish()]);
    assert!(pollster::block_on(scope.pop()).is_none());
    assert_eq!(params(&gpu, &arena), before);
    assert_eq!(
        alig.read_stats_blocking(&gpu.device, &gpu.queue)
            .unwrap()
            .steps,
        0
    );

    // A buffer mapped in part only is mapped too.
    let partly = mappable_loss(&gpu, false);
    partly.map_async(wgpu::MapMode::Write, 0..16, |r| r.unwrap());
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
    let result = step_on(&gpu, &mut alig, &partly);
    assert_unusable("step with a loss buffer mapped in part", result);

    // Unmapped, the same buffer steps.
    loss.unmap();
    step_on(&gpu, &mut alig, &loss).unwrap();
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!((stats.steps, stats.last().unwrap().loss), (1, 0.75));
    assert_ne!(params(&gpu, &arena), before);
}

#[test]
fn a_destroyed_loss_buffer_is_refused_before_anything_is_recorded() {
    let gpu = gpu();
    let (arena, mut alig) = model(&gpu);
    let before = params(&gpu, &arena);
    let loss = mappable_loss(&gpu, false);
    // Once checked and remembered as usable, then destroyed: checked again every step.
    step_on(&gpu, &mut alig, &loss).unwrap();
    let after_one = params(&gpu, &arena);
    assert_ne!(after_one, before);
    loss.destroy();
    let result = step_on(&gpu, &mut alig, &loss);
    assert_unusable("step with a destroyed loss buffer", result);
    assert_eq!(params(&gpu, &arena), after_one);
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(stats.steps, 1);
}

#[test]
fn a_map_pending_at_submit_is_a_typed_error_from_step() {
    let gpu = gpu();
    let (arena, mut alig) = model(&gpu);
    let before = params(&gpu, &arena);
    let loss = mappable_loss(&gpu, false);
    // Pending until the device is polled: wgpu refuses a submit that uses the buffer.
    loss.map_async(wgpu::MapMode::Write, .., |_| {});
    let result = step_on(&gpu, &mut alig, &loss);
    assert_unusable("step with a map pending", result);
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
    loss.unmap();
    assert_eq!(params(&gpu, &arena), before);
    // The failed submit ran nothing and counted nothing: the next step is step 0.
    step_on(&gpu, &mut alig, &loss).unwrap();
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!((stats.steps, stats.skipped), (1, 0));
    assert_eq!(stats.records[0].step, 0);
}

/// An unmapped loss buffer of a size that is no whole number of words (legal, and a 4-byte
/// copy from it is too) steps: the map check asks about whole words only.
#[test]
fn a_loss_buffer_of_an_odd_size_steps() {
    let gpu = gpu();
    let (_arena, mut alig) = model(&gpu);
    let loss = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("loss"),
        size: 6,
        usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    gpu.queue.write_buffer(&loss, 0, &0.5f32.to_le_bytes());
    step_on(&gpu, &mut alig, &loss).unwrap();
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!((stats.steps, stats.last().unwrap().loss), (1, 0.5));
}
