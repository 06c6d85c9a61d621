//! No float atomics and fixed reduction orders: the same 50 steps on the same adapter give
//! the same parameters, momentum and step records, bit for bit.

mod common;

use common::{gpu, gpu_with, run_against_reference, Run};
use wgpu_alig::{AligConfig, GpuRequest};

fn bits(run: &Run) -> (Vec<Vec<u32>>, Vec<[u32; 6]>) {
    let state = run
        .params
        .iter()
        .chain(&run.momentum)
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect();
    let records = run
        .stats
        .records
        .iter()
        .map(|r| {
            [
                r.step,
                r.flags.0,
                r.loss.to_bits(),
                r.grad_sq_norm.to_bits(),
                r.gamma_hat.to_bits(),
                r.gamma.to_bits(),
            ]
        })
        .collect();
    (state, records)
}

#[test]
fn fifty_steps_twice_are_bit_identical() {
    let sizes = [300_000, 4097, 3];
    let gpu = gpu();
    let first = run_against_reference(&gpu, &sizes, AligConfig::paper(0.05), 50, 21);
    let second = run_against_reference(&gpu, &sizes, AligConfig::paper(0.05), 50, 21);
    assert_eq!(bits(&first), bits(&second));
}

#[test]
fn windowed_runs_are_bit_identical_too() {
    let sizes = [300_000, 4097, 3];
    let gpu = gpu_with(GpuRequest {
        max_storage_binding: Some(256 << 10),
        ..GpuRequest::default()
    });
    let first = run_against_reference(&gpu, &sizes, AligConfig::paper(0.05), 50, 22);
    let second = run_against_reference(&gpu, &sizes, AligConfig::paper(0.05), 50, 22);
    assert!(first.dispatches_per_step > 2);
    assert_eq!(bits(&first), bits(&second));
}
