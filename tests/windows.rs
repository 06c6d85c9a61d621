//! Arenas larger than one storage binding run in windows: a device whose binding limit is
//! capped at 1 MiB, tensors that straddle windows, and the same results as one window.

mod common;

use common::{
    assert_close, assert_run_matches_reference, gpu, gpu_with, run_against_reference, to_f64,
};
use wgpu_alig::{AligConfig, GpuRequest, MomentumKind};

const BINDING_CAP: u64 = 1 << 20;

#[test]
fn windowed_steps_match_the_reference_and_the_unwindowed_run() {
    // 3.3 MiB of tensors in a 1 MiB binding: 4 windows, with tensors across their edges.
    let sizes = [100_000, 262_147, 3, 500_001];
    let windowed_gpu = gpu_with(GpuRequest {
        max_storage_binding: Some(BINDING_CAP),
        ..GpuRequest::default()
    });
    let whole_gpu = gpu();
    for config in [
        AligConfig::paper(0.05),
        AligConfig {
            momentum: 0.9,
            momentum_kind: MomentumKind::Adjusted,
            ..AligConfig::default()
        },
        AligConfig::default(),
    ] {
        let windowed = run_against_reference(&windowed_gpu, &sizes, config, 10, 11);
        let whole = run_against_reference(&whole_gpu, &sizes, config, 10, 11);
        assert_eq!(windowed.dispatches_per_step, 8, "two dispatches per window");
        assert_eq!(whole.dispatches_per_step, 2);
        assert_run_matches_reference(&format!("windowed {config:?}"), &windowed);
        for (k, (a, b)) in windowed.params.iter().zip(&whole.params).enumerate() {
            assert_close(
                &format!("windowed vs whole, {config:?}, t{k}"),
                a,
                &to_f64(b),
                1e-5,
                1.0,
            );
        }
    }
}

#[test]
fn window_count_grows_with_bytes_not_with_tensors() {
    let gpu = gpu_with(GpuRequest {
        max_storage_binding: Some(BINDING_CAP),
        ..GpuRequest::default()
    });
    // The same 2 MB as 1 tensor and as 1000 tensors (512 floats each, so no padding on any
    // alignment up to 2 KiB): the same dispatch count.
    let one = run_against_reference(&gpu, &[512 * 1000], AligConfig::default(), 1, 1);
    let many = run_against_reference(&gpu, &[512; 1000], AligConfig::default(), 1, 1);
    assert_eq!(one.dispatches_per_step, 4);
    assert_eq!(many.dispatches_per_step, 4);
}
