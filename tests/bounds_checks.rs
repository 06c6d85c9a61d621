//! The kernels' modules are built without bounds checks (src/kernels/runtime_checks.rs):
//! every index is in range by construction. With `WGPU_ALIG_SHADER_CHECKS=1` naga's checks
//! come back, and an index out of range would read zeros or drop a write where without them
//! it touches other memory, so the two builds agree bit for bit only while no index leaves
//! its range. Here they run side by side on awkward sizes, in windows, with padding and
//! frozen tensors, every momentum kind and projection. One test in this binary: it sets the
//! variable for its own process.
//!
//! What it can see depends on the driver. On lavapipe an index past a workgroup array (one
//! put into `slice_quad` by hand) fails it at once. A read past a storage binding (one put
//! into pass 1's loop by hand) it cannot see: wgpu enables Vulkan's `robustBufferAccess2`
//! there, and the driver returns zeros with or without naga's checks. On llvmpipe (GL) neither
//! injected error changed a bit. The argument beside each access in `shaders/*.wgsl` is what
//! keeps the indices in range; this test keeps the two builds honest where a driver can tell.

mod common;

use common::{gpu, gpu_with, run_against_reference, run_groups_against_reference, Run};
use wgpu_alig::{AligConfig, Gpu, GpuRequest, MomentumKind, ParamGroup, SHADER_CHECKS_VAR};

/// `run` once with bounds checks and once without.
fn both(run: impl Fn() -> Run) -> (Run, Run) {
    std::env::set_var(SHADER_CHECKS_VAR, "1");
    let checked = run();
    std::env::remove_var(SHADER_CHECKS_VAR);
    (checked, run())
}

fn assert_same_bits(what: &str, (checked, unchecked): (Run, Run)) {
    assert_eq!(checked.state_bits(), unchecked.state_bits(), "{what}");
    let records = |run: &Run| -> Vec<u8> { bytemuck::cast_slice(&run.stats.records).to_vec() };
    assert_eq!(records(&checked), records(&unchecked), "{what}: records");
}

fn configs() -> Vec<AligConfig> {
    vec![
        AligConfig::paper(0.05),
        AligConfig {
            momentum: 0.9,
            momentum_kind: MomentumKind::Adjusted,
            max_norm: Some(40.0),
            ..AligConfig::default()
        },
        AligConfig {
            momentum: 0.0,
            max_norm: Some(3.0),
            ..AligConfig::paper(0.1)
        },
    ]
}

#[test]
fn checked_and_unchecked_kernels_agree_bit_for_bit() {
    let whole = gpu();
    // A 1 MiB binding: 4 windows, tensors across their edges.
    let windowed = gpu_with(GpuRequest {
        max_storage_binding: Some(1 << 20),
        ..GpuRequest::default()
    });
    let cases: [(&str, &Gpu, &[usize]); 4] = [
        ("one float", &whole, &[1]),
        ("awkward sizes", &whole, &[3, 255, 257, 4097, 1, 100_003]),
        ("many small tensors", &whole, &[5; 300]),
        ("windows", &windowed, &[100_000, 262_147, 3, 500_001]),
    ];
    for config in configs() {
        for (what, gpu, sizes) in cases {
            let what = format!("{what}, {config:?}");
            assert_same_bits(
                &what,
                both(|| run_against_reference(gpu, sizes, config, 6, 21)),
            );
        }
        // Groups, one unbounded, and a frozen tensor whose gradients are NaN.
        let groups = [
            ParamGroup::new(&["t0", "t2"], Some(0.02), 0.5),
            ParamGroup::new(&["t3"], None, 0.0),
        ];
        let sizes = [257, 1000, 3, 64];
        let run = || run_groups_against_reference(&whole, &sizes, config, Some(&groups), 6, 22);
        assert_same_bits(&format!("groups, {config:?}"), both(run));
    }
}
