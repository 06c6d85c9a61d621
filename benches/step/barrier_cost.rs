//! What one workgroup barrier costs on this adapter: the roofline kernels as they are, and
//! with one `workgroupBarrier()` added to the update kernel and nothing else changed. Each
//! pass of the crate needs one barrier (to combine a workgroup's threads), so on an adapter
//! where this ratio is large, the step cannot come near its roofline.

use std::time::Duration;

use crate::options::Options;
use crate::streaming::Streaming;
use crate::timer::Timer;
use crate::workload::{RowSpec, Workload};

/// Times both on the largest size of the run up to 1.6e7 (momentum on, one tensor).
pub fn run_section(device: &wgpu::Device, queue: &wgpu::Queue, timer: &Timer, options: &Options) {
    let Some(n) = options
        .sizes
        .iter()
        .copied()
        .filter(|&n| n <= 16_000_000)
        .max()
    else {
        return;
    };
    let spec = RowSpec {
        n,
        tensors: 1,
        momentum: true,
    };
    let workload = Workload::new(device, queue, spec);
    let Some(buffers) = workload.buffers() else {
        return;
    };
    let variants = [
        Streaming::new(device, buffers, workload.arena_bytes()),
        Streaming::with_barrier(device, buffers, workload.arena_bytes()),
    ];
    let mut round = Duration::ZERO;
    for variant in &variants {
        round += variant.run(device, queue, timer).wall;
    }
    let reps = options.reps_for(round);
    let mut times: [Vec<Duration>; 2] = Default::default();
    for rep in 0..reps {
        for k in 0..2 {
            let v = (rep + k) % 2;
            times[v].push(variants[v].run(device, queue, timer).time());
        }
    }
    let [plain, barrier] = times.map(|mut t| {
        t.sort();
        t[t.len() / 2]
    });
    println!();
    println!("What one workgroup barrier costs (N = {n}, momentum on, {reps} reps, medians):");
    println!(
        "  roofline {:.0} us; the same with one workgroupBarrier() in its update kernel {:.0} us: {:.2}x",
        plain.as_secs_f64() * 1e6,
        barrier.as_secs_f64() * 1e6,
        barrier.as_secs_f64() / plain.as_secs_f64()
    );
}
