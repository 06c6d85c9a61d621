//! A host loss is never replaced by another step's: when more `Loss::Host` steps wait for
//! their submit than there are slots, the ones whose slot was reused are skipped on the GPU
//! and flagged, and every other step runs with its own loss.

mod common;

use common::gpu;
use wgpu::util::DeviceExt;
use wgpu_alig::{Alig, AligConfig, Arena, Gpu, Loss, StepFlags, HOST_LOSS_SLOTS};

/// An optimizer whose stats ring holds `steps` records, over gradients of 1.
fn optimizer(gpu: &Gpu, steps: u32) -> (Arena, Alig) {
    let arena = Arena::new(&gpu.device, &[("w", 64)]).unwrap();
    arena.write_grads(&gpu.queue, "w", &[1.0; 64]).unwrap();
    let config = AligConfig {
        stats_capacity: steps,
        ..AligConfig::default()
    };
    let alig = Alig::new(&gpu.device, &arena, config).unwrap();
    (arena, alig)
}

/// Step k was given the loss k + 1: checks that the steps in `overwritten` were skipped with
/// the flag and a NaN loss, and that every other one ran with its own loss.
fn assert_losses(alig: &Alig, gpu: &Gpu, steps: u32, overwritten: std::ops::Range<u32>) {
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(stats.steps, steps);
    assert_eq!(stats.skipped, overwritten.len() as u32);
    for record in &stats.records {
        let k = record.step;
        if overwritten.contains(&k) {
            assert_eq!(
                record.flags,
                StepFlags(StepFlags::SKIPPED_LOSS.0 | StepFlags::SKIPPED_LOSS_OVERWRITTEN.0),
                "step {k}"
            );
            assert!(record.loss.is_nan(), "step {k}: loss {}", record.loss);
            assert_eq!(record.gamma, 0.0, "step {k}");
        } else {
            assert_eq!(record.flags, StepFlags(0), "step {k}");
            assert_eq!(record.loss, (k + 1) as f32, "step {k}");
        }
    }
}

#[test]
fn one_host_loss_more_than_the_slots_in_one_encoder_skips_only_the_first() {
    let gpu = gpu();
    let steps = HOST_LOSS_SLOTS + 1;
    let (_arena, mut alig) = optimizer(&gpu, steps);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    for k in 0..steps {
        alig.record_step(&mut encoder, &gpu.queue, Loss::Host((k + 1) as f32))
            .unwrap();
    }
    gpu.queue.submit([encoder.finish()]);
    assert_losses(&alig, &gpu, steps, 0..1);
}

#[test]
fn an_internal_submit_between_recording_and_submitting_loses_no_loss_silently() {
    // 200 steps, a read (which submits, so their writes land), 100 more steps, then the
    // encoder's submit: no more than 256 steps lie between two submits, yet the last 44
    // reuse the slots of the first 44 before those run.
    let gpu = gpu();
    let (arena, mut alig) = optimizer(&gpu, 300);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    for k in 0..200 {
        alig.record_step(&mut encoder, &gpu.queue, Loss::Host((k + 1) as f32))
            .unwrap();
    }
    arena.read_params(&gpu.device, &gpu.queue, "w").unwrap();
    for k in 200..300 {
        alig.record_step(&mut encoder, &gpu.queue, Loss::Host((k + 1) as f32))
            .unwrap();
    }
    gpu.queue.submit([encoder.finish()]);
    assert_losses(&alig, &gpu, 300, 0..(300 - HOST_LOSS_SLOTS));
}

#[test]
fn host_and_gpu_losses_mixed_in_one_encoder_each_keep_their_value() {
    let gpu = gpu();
    let (_arena, mut alig) = optimizer(&gpu, 8);
    let losses = gpu
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(&[2.0f32, 4.0, 6.0, 8.0]),
            usage: wgpu::BufferUsages::COPY_SRC,
        });
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    for k in 0..8u32 {
        let loss = if k % 2 == 0 {
            Loss::Host((k + 1) as f32)
        } else {
            Loss::Buffer {
                buffer: &losses,
                offset: u64::from(k / 2) * 4,
            }
        };
        alig.record_step(&mut encoder, &gpu.queue, loss).unwrap();
    }
    gpu.queue.submit([encoder.finish()]);
    assert_losses(&alig, &gpu, 8, 0..0);
}

#[test]
fn a_dropped_encoder_does_not_spoil_later_host_losses() {
    // Steps recorded and never submitted take sequence numbers the GPU never sees; the
    // check compares each step with its own slot only, so later steps are unaffected.
    let gpu = gpu();
    let (_arena, mut alig) = optimizer(&gpu, 4);
    let mut dropped = gpu.device.create_command_encoder(&Default::default());
    for _ in 0..10 {
        alig.record_step(&mut dropped, &gpu.queue, Loss::Host(-1.0))
            .unwrap();
    }
    drop(dropped);
    for k in 0..4u32 {
        alig.step(&gpu.device, &gpu.queue, Loss::Host((k + 1) as f32))
            .unwrap();
    }
    assert_losses(&alig, &gpu, 4, 0..0);
}
