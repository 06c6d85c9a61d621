//! Parameter groups (each its own max_lr and momentum, gamma_hat global), frozen tensors
//! (NaN gradients on the GPU that must count nowhere; never written) and the projection onto
//! the L2 ball, against the f64 reference. Tolerances as in tests/reference_agreement.rs.

mod common;

use common::{
    assert_run_matches_reference, bits, gpu, gpu_with, run_against_reference,
    run_groups_against_reference, to_f64,
};
use wgpu_alig::{AligConfig, GpuRequest, MomentumKind, ParamGroup};

const SIZES: [usize; 5] = [257, 3, 4097, 1000, 65];

/// Three groups with different max_lr and momentum; t4 is frozen.
fn groups() -> Vec<ParamGroup> {
    vec![
        ParamGroup::new(&["t0", "t1"], Some(0.05), 0.9),
        ParamGroup::new(&["t2"], None, 0.0),
        ParamGroup::new(&["t3"], Some(0.02), 0.5),
    ]
}

/// The frozen tensor t4 still holds its initial values and a zero momentum, bit for bit.
fn assert_frozen_untouched(run: &common::Run) {
    assert_eq!(
        bits(&run.params[4]),
        bits(&run.init[4]),
        "frozen tensor was written"
    );
    assert_eq!(
        bits(&run.momentum[4]),
        vec![0; SIZES[4]],
        "frozen momentum was written"
    );
}

#[test]
fn groups_with_their_own_max_lr_and_momentum_and_a_frozen_tensor() {
    let gpu = gpu();
    for kind in [MomentumKind::Nesterov, MomentumKind::Adjusted] {
        let config = AligConfig {
            momentum_kind: kind,
            ..AligConfig::default()
        };
        let run = run_groups_against_reference(&gpu, &SIZES, config, Some(&groups()), 20, 31);
        assert_run_matches_reference(&format!("groups, {kind:?}"), &run);
        assert_frozen_untouched(&run);
        // gamma_hat stays global: the groups clipped to 0.02 and 0.05 and the unbounded one
        // all followed the same gamma_hat, so the records clip about half the steps.
        assert!(run.stats.records.iter().any(|r| r.flags.clipped()));

        // Every group's step size: the first is the record's, bit for bit, and each is the
        // reference's gamma_hat clipped to its own max_lr.
        for (record, want) in run.stats.records.iter().zip(&run.expected) {
            let gammas = run.stats.group_gammas(record);
            assert_eq!(gammas.len(), 3);
            assert_eq!(gammas[0].to_bits(), record.gamma.to_bits());
            for (k, (gamma, group)) in gammas.iter().zip(groups()).enumerate() {
                let expected = wgpu_alig::reference::group_gamma(want.gamma_hat, group.max_lr);
                common::assert_rel(
                    &format!("step {}: gamma of group {k}", record.step),
                    *gamma,
                    expected,
                    1e-6,
                );
            }
        }
    }
}

#[test]
fn projection_onto_the_ball_matches_the_reference() {
    let gpu = gpu();
    // ||w|| starts near sqrt(5422 / 3) ~ 42.5: a radius of 30 is active from the first step.
    for config in [
        AligConfig {
            max_norm: Some(30.0),
            ..AligConfig::paper(0.05)
        },
        AligConfig {
            max_norm: Some(30.0),
            ..AligConfig::default()
        },
    ] {
        let run = run_against_reference(&gpu, &SIZES, config, 20, 32);
        assert_eq!(run.dispatches_per_step, 3, "projection adds one dispatch");
        assert_run_matches_reference(&format!("projection, {config:?}"), &run);
        let norm: f64 = run
            .params
            .iter()
            .flat_map(|p| to_f64(p))
            .map(|w| w * w)
            .sum::<f64>()
            .sqrt();
        assert!(
            (norm - 30.0).abs() < 1e-3,
            "||w|| = {norm} after projection onto 30"
        );
    }
}

#[test]
fn projection_with_groups_leaves_frozen_tensors_out_of_the_norm() {
    let gpu = gpu();
    let config = AligConfig {
        max_norm: Some(20.0),
        ..AligConfig::default()
    };
    let run = run_groups_against_reference(&gpu, &SIZES, config, Some(&groups()), 20, 33);
    assert_run_matches_reference("projection with groups", &run);
    assert_frozen_untouched(&run);
}

#[test]
fn projection_in_windows_matches_the_reference() {
    let gpu = gpu_with(GpuRequest {
        max_storage_binding: Some(64 << 10),
        ..GpuRequest::default()
    });
    let sizes = [20_000, 13, 30_001];
    let config = AligConfig {
        max_norm: Some(100.0),
        ..AligConfig::paper(0.05)
    };
    let run = run_against_reference(&gpu, &sizes, config, 10, 34);
    assert_eq!(
        run.dispatches_per_step,
        3 * 4,
        "three passes over four windows"
    );
    assert_run_matches_reference("projection in windows", &run);
}

#[test]
fn projection_at_construction_as_the_official_code_does() {
    use wgpu_alig::{Alig, Arena, Error};
    let gpu = gpu();
    let tensors = [("a", 300), ("b", 7), ("frozen", 5)];
    let arena = Arena::new(&gpu.device, &tensors).unwrap();
    let mut rng = common::Rng::new(12);
    let init: Vec<Vec<f32>> = tensors
        .iter()
        .map(|&(_, n)| rng.vec_f32(n, -10.0, 10.0))
        .collect();
    for ((name, _), values) in tensors.iter().zip(&init) {
        arena.write_params(&gpu.queue, name, values).unwrap();
    }
    let config = AligConfig {
        max_norm: Some(20.0),
        ..AligConfig::paper(0.1)
    };
    let group = ParamGroup::new(&["a", "b"], Some(0.1), 0.9);
    let alig = Alig::with_groups(&gpu.device, &arena, config, &[group]).unwrap();
    alig.project_params(&gpu.device, &gpu.queue, &arena)
        .unwrap();

    // The reference's projection of the trainable tensors, and the frozen one untouched.
    let mut want: Vec<Vec<f64>> = init[..2].iter().map(|v| to_f64(v)).collect();
    let mut views: Vec<&mut Vec<f64>> = want.iter_mut().collect();
    let before = wgpu_alig::reference::project_params(&mut views, 20.0);
    assert!(
        before > 400.0,
        "the initial parameters lie outside the ball"
    );
    for (k, (name, _)) in tensors[..2].iter().enumerate() {
        let got = arena.read_params(&gpu.device, &gpu.queue, name).unwrap();
        common::assert_close(&format!("projected {name}"), &got, &want[k], 1e-6, 1.0);
    }
    let frozen = arena
        .read_params(&gpu.device, &gpu.queue, "frozen")
        .unwrap();
    assert_eq!(bits(&frozen), bits(&init[2]), "frozen tensor was projected");

    // Another arena's layout is refused.
    let other = Arena::new(&gpu.device, &[("a", 300)]).unwrap();
    assert!(matches!(
        alig.project_params(&gpu.device, &gpu.queue, &other),
        Err(Error::ArenaMismatch)
    ));
}
