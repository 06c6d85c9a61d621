//! The crate's step, timed from the start to the end of its one compute pass.

use wgpu_alig::Loss;

use crate::timer::{measure, Sample, Timer};
use crate::workload::Fused;

/// Any positive loss: with the bench's gradients the step is clipped at max_lr, never skipped.
pub const BENCH_LOSS: f32 = 1.0;

pub fn run(fused: &mut Fused, device: &wgpu::Device, queue: &wgpu::Queue, timer: &Timer) -> Sample {
    measure(device, queue, timer, 1, |encoder| {
        fused
            .alig
            .record_step_with_timestamps(encoder, queue, Loss::Host(BENCH_LOSS), timer.pass(0))
            .expect("record the step");
    })
}

/// Steps the GPU skipped (a skipped step does no update, so its time would mean nothing).
pub fn skipped_steps(fused: &Fused, device: &wgpu::Device, queue: &wgpu::Queue) -> u32 {
    fused
        .alig
        .read_stats_blocking(device, queue)
        .expect("read the step stats")
        .skipped
}
