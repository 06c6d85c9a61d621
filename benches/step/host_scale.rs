//! What the number of tensors costs the host: building the arena and the optimizer, a bulk
//! write of every gradient, binding every tensor by name, and one step (encoder to submit, the
//! thread's CPU time), at 10^3, 10^4 and 10^5 one-element tensors. Each tensor pads to 64
//! floats, so 10^5 of them make a 25.6 MB arena.

use std::time::{Duration, Instant};

use wgpu_alig::{Alig, AligConfig, Arena, Loss, TensorId};

use crate::cpu_time::HostTimes;
use crate::fused_step::BENCH_LOSS;
use crate::table::micros;
use crate::timer::{median, wait_idle};

const TENSOR_COUNTS: [usize; 3] = [1_000, 10_000, 100_000];

/// Steps timed per count (each on an idle device, so that the GPU's work is not host cost).
fn steps(quick: bool) -> usize {
    if quick {
        5
    } else {
        31
    }
}

pub fn run_section(device: &wgpu::Device, queue: &wgpu::Queue, quick: bool) {
    println!();
    println!("Host cost of many tensors (one element each): wall time of each call, ms; a step:");
    println!("encoder, record_step, finish, submit on an idle device, median CPU time of the thread, us.");
    println!(
        "| tensors | Arena::new | Alig::new | write_all_grads | write_grads (each, by id) | param_binding (all, by name) | step (CPU) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for count in TENSOR_COUNTS {
        let names: Vec<String> = (0..count).map(|k| format!("t{k}")).collect();
        let tensors: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 1)).collect();
        let (arena, arena_time) = timed(|| Arena::new(device, &tensors).expect("the arena"));
        let (mut alig, alig_time) =
            timed(|| Alig::new(device, &arena, AligConfig::paper(0.1)).expect("the optimizer"));
        let grads = vec![0.5f32; count];
        let ((), write_time) = timed(|| {
            arena
                .write_all_grads(queue, &grads)
                .expect("write the gradients")
        });
        let ids: Vec<TensorId> = names
            .iter()
            .map(|name| arena.tensor_id(name).expect("an id"))
            .collect();
        let ((), write_each_time) = timed(|| {
            for &id in &ids {
                arena
                    .write_grads(queue, id, &grads[..1])
                    .expect("write a gradient");
            }
        });
        let ((), bind_time) = timed(|| {
            for name in &names {
                std::hint::black_box(arena.param_binding(name).expect("a binding"));
            }
        });
        wait_idle(device);
        let mut times = HostTimes::default();
        for _ in 0..steps(quick) {
            times.time(|| {
                let mut encoder = device.create_command_encoder(&Default::default());
                alig.record_step(&mut encoder, queue, Loss::Host(BENCH_LOSS))
                    .expect("record the step");
                queue.submit([encoder.finish()]);
            });
            wait_idle(device);
        }
        let step = if times.cpu.is_empty() {
            times.wall
        } else {
            times.cpu
        };
        println!(
            "| {count} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            millis(arena_time),
            millis(alig_time),
            millis(write_time),
            millis(write_each_time),
            millis(bind_time),
            micros(Some(median(step))),
        );
    }
}

/// A stats read after one new step from a ring of 2^20 records: the whole ring
/// (`read_stats_blocking`) against the records since a step (`read_stats_since`).
pub fn stats_read_section(device: &wgpu::Device, queue: &wgpu::Queue) {
    let arena = Arena::new(device, &[("w", 1000)]).expect("the arena");
    let config = AligConfig {
        stats_capacity: 1 << 20,
        ..AligConfig::paper(0.1)
    };
    let mut alig = Alig::new(device, &arena, config).expect("the optimizer");
    alig.step(device, queue, Loss::Host(BENCH_LOSS))
        .expect("a step");
    wait_idle(device);
    let (whole, whole_time) = timed(|| alig.read_stats_blocking(device, queue).expect("a read"));
    let (since, since_time) = timed(|| {
        let (submission, stats) = alig
            .read_stats_since(device, queue, whole.steps - 1)
            .expect("a read");
        device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .expect("the poll");
        pollster::block_on(stats).expect("the snapshot")
    });
    assert_eq!(
        since.records, whole.records,
        "both reads see the one record"
    );
    println!();
    println!(
        "Stats read of one new record, ring of 2^20 records: the whole ring {:.1} ms, since the last read {:.2} ms (wall).",
        millis(whole_time),
        millis(since_time)
    );
}

fn timed<R>(work: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let out = work();
    (out, start.elapsed())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
