//! No float atomics and fixed reduction orders: the same 50 steps on the same adapter give
//! the same parameters, momentum and step records, bit for bit.

mod common;

use common::{gpu, gpu_with, run_against_reference, Run};
use wgpu_alig::{AligConfig, Gpu, GpuRequest};

const SIZES: [usize; 3] = [300_000, 4097, 3];

/// ||w|| starts near sqrt(304_100 / 3) ~ 318: a radius of 100 projects from the first step.
const MAX_NORM: f32 = 100.0;

fn configs() -> [AligConfig; 2] {
    [
        AligConfig::paper(0.05),
        AligConfig {
            max_norm: Some(MAX_NORM),
            ..AligConfig::paper(0.05)
        },
    ]
}

/// Parameters, momentum, counters and every byte of every step record.
fn bits(run: &Run) -> (Vec<Vec<u32>>, u32, u32, Vec<u8>) {
    (
        run.state_bits(),
        run.stats.steps,
        run.stats.skipped,
        bytemuck::cast_slice(&run.stats.records).to_vec(),
    )
}

/// Runs each config twice with the same seed and compares the runs bit for bit.
fn assert_runs_repeat(gpu: &Gpu, seed: u64, windowed: bool) {
    for config in configs() {
        let first = run_against_reference(gpu, &SIZES, config, 50, seed);
        let second = run_against_reference(gpu, &SIZES, config, 50, seed);
        assert_eq!(first.stats.records.len(), 50, "{config:?}");
        // One dispatch per pass and window: two passes, three with projection.
        let passes = if config.max_norm.is_some() { 3 } else { 2 };
        assert_eq!(
            first.dispatches_per_step > passes,
            windowed,
            "{config:?}: {} dispatches per step",
            first.dispatches_per_step
        );
        if config.max_norm.is_some() {
            assert!(
                first.stats.records[0].param_sq_norm > MAX_NORM * MAX_NORM,
                "{config:?}: the first step does not project"
            );
        }
        assert_eq!(bits(&first), bits(&second), "{config:?}");
    }
}

#[test]
fn fifty_steps_twice_are_bit_identical() {
    assert_runs_repeat(&gpu(), 21, false);
}

#[test]
fn windowed_runs_are_bit_identical_too() {
    let gpu = gpu_with(GpuRequest {
        max_storage_binding: Some(256 << 10),
        ..GpuRequest::default()
    });
    assert_runs_repeat(&gpu, 22, true);
}

/// The profiling variant of the step (a compute pass per pass, each timestamped where the
/// adapter can) gives the bits of the plain step, projection included.
#[test]
fn a_step_recorded_pass_by_pass_gives_the_same_bits() {
    use wgpu_alig::{Alig, Arena, Loss};
    let gpu = gpu_with(GpuRequest {
        timestamps: true,
        ..GpuRequest::default()
    });
    let timestamps = gpu
        .device
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY)
        .then(|| {
            gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: None,
                ty: wgpu::QueryType::Timestamp,
                count: 6,
            })
        });
    for config in configs() {
        let run = |by_pass: bool| {
            let mut rng = common::Rng::new(4);
            let tensors: Vec<(String, usize)> = SIZES
                .iter()
                .enumerate()
                .map(|(k, &n)| (format!("t{k}"), n))
                .collect();
            let specs: Vec<(&str, usize)> = tensors.iter().map(|(n, l)| (n.as_str(), *l)).collect();
            let arena = Arena::new(&gpu.device, &specs).unwrap();
            let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
            for &(name, n) in &specs {
                arena
                    .write_params(&gpu.queue, name, &rng.vec_f32(n, -1.0, 1.0))
                    .unwrap();
            }
            for _ in 0..5 {
                for &(name, n) in &specs {
                    arena
                        .write_grads(&gpu.queue, name, &rng.vec_f32(n, -1.0, 1.0))
                        .unwrap();
                }
                let loss = Loss::Host(rng.uniform(100.0, 1000.0) as f32);
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                if by_pass {
                    let writes = |k: usize| {
                        timestamps
                            .as_ref()
                            .map(|set| wgpu::ComputePassTimestampWrites {
                                query_set: set,
                                beginning_of_pass_write_index: Some(2 * k as u32),
                                end_of_pass_write_index: Some(2 * k as u32 + 1),
                            })
                    };
                    alig.record_step_with_pass_timestamps(&mut encoder, &gpu.queue, loss, writes)
                        .unwrap();
                } else {
                    alig.record_step(&mut encoder, &gpu.queue, loss).unwrap();
                }
                gpu.queue.submit([encoder.finish()]);
            }
            let names: Vec<&str> = specs.iter().map(|(n, _)| *n).collect();
            let mut out = common::state_bits(&gpu, &arena, &alig, &names);
            let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
            out.push(bytemuck::cast_slice(&stats.records).to_vec());
            out
        };
        assert_eq!(run(true), run(false), "{config:?}");
    }
}
