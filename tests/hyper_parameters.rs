//! `max_lr` and momentum changed during a run (a warmup, a schedule): `Alig::set_max_lr` and
//! `set_momentum` take effect at the next step of the same optimizer, as the f64 reference's
//! setters do; the records keep the step sizes each group took before and after; a saved
//! state carries the settings. Tolerances as in tests/reference_agreement.rs.

mod common;

use common::{assert_close, assert_rel, gpu, Rng};
use wgpu_alig::reference::{group_gamma, AligReference};
use wgpu_alig::{Alig, AligConfig, Arena, Error, Gpu, Loss, MomentumKind, ParamGroup};

const TENSORS: [(&str, usize); 3] = [("a", 257), ("b", 3), ("c", 4097)];

/// A change applied before step `at`.
enum Change {
    MaxLr(usize, Option<f32>),
    Momentum(usize, f32),
}

struct Setup {
    arena: Arena,
    alig: Alig,
    reference: AligReference,
    rng: Rng,
}

fn setup(gpu: &Gpu, config: AligConfig, groups: &[ParamGroup], seed: u64) -> Setup {
    let arena = Arena::new(&gpu.device, &TENSORS).unwrap();
    let mut rng = Rng::new(seed);
    let init: Vec<Vec<f32>> = TENSORS
        .iter()
        .map(|&(_, n)| rng.vec_f32(n, -1.0, 1.0))
        .collect();
    arena.write_all_params(&gpu.queue, &init.concat()).unwrap();
    let alig = Alig::with_groups(&gpu.device, &arena, config, groups).unwrap();
    let names = TENSORS.map(|(name, _)| name);
    let init = init.iter().map(|v| common::to_f64(v)).collect();
    let reference = AligReference::with_groups(config, &names, init, groups).unwrap();
    Setup {
        arena,
        alig,
        reference,
        rng,
    }
}

/// Runs `steps` steps with `changes` (step index, change) applied to both sides before their
/// step; returns each step's reference gamma_hat and the groups' max_lr it ran with.
fn run(
    gpu: &Gpu,
    s: &mut Setup,
    steps: usize,
    changes: &[(usize, Change)],
) -> Vec<(f64, Vec<Option<f32>>)> {
    let mut expected = Vec::new();
    for step in 0..steps {
        for (_, change) in changes.iter().filter(|(at, _)| *at == step) {
            match *change {
                Change::MaxLr(group, max_lr) => {
                    s.alig.set_max_lr(&gpu.queue, group, max_lr).unwrap();
                    s.reference.set_max_lr(group, max_lr).unwrap();
                }
                Change::Momentum(group, mu) => {
                    s.alig.set_momentum(&gpu.queue, group, mu).unwrap();
                    s.reference.set_momentum(group, mu).unwrap();
                }
            }
        }
        let grads: Vec<Vec<f32>> = TENSORS
            .iter()
            .map(|&(_, n)| s.rng.vec_f32(n, -1.0, 1.0))
            .collect();
        s.arena
            .write_all_grads(&gpu.queue, &grads.concat())
            .unwrap();
        let grads64: Vec<Vec<f64>> = grads.iter().map(|g| common::to_f64(g)).collect();
        let sq_norm: f64 = grads64.iter().flatten().map(|g| g * g).sum();
        // gamma_hat in [0.01, 0.1]: max_lrs of 0.02 and 0.05 clip some steps and not others.
        let loss = (s.rng.uniform(0.01, 0.1) * sq_norm) as f32;
        s.alig
            .step(&gpu.device, &gpu.queue, Loss::Host(loss))
            .unwrap();
        let want = s.reference.step(f64::from(loss), &grads64).unwrap();
        let max_lrs = s.alig.groups().iter().map(|g| g.max_lr).collect();
        expected.push((want.gamma_hat, max_lrs));
    }
    expected
}

/// Parameters, momentum and every group's step size of every step against the reference.
fn assert_matches(gpu: &Gpu, s: &Setup, expected: &[(f64, Vec<Option<f32>>)], what: &str) {
    let stats = s.alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(stats.records.len(), expected.len(), "{what}: records");
    for (record, (gamma_hat, max_lrs)) in stats.records.iter().zip(expected) {
        assert_eq!(
            stats.group_max_lrs(record),
            Some(&max_lrs[..]),
            "{what}: step {}",
            record.step
        );
        for (k, (gamma, max_lr)) in stats.group_gammas(record).iter().zip(max_lrs).enumerate() {
            let want = group_gamma(*gamma_hat, *max_lr);
            assert_rel(
                &format!("{what}: step {}, gamma of group {k}", record.step),
                *gamma,
                want,
                1e-6,
            );
        }
    }
    for (k, (name, _)) in TENSORS.iter().enumerate() {
        let params = s.arena.read_params(&gpu.device, &gpu.queue, name).unwrap();
        assert_close(
            &format!("{what}: params of {name}"),
            &params,
            &s.reference.params()[k],
            1e-5,
            1.0,
        );
        let momentum = s.alig.read_momentum(&gpu.device, &gpu.queue, name).unwrap();
        assert_close(
            &format!("{what}: momentum of {name}"),
            &momentum,
            &s.reference.momentum()[k],
            1e-5,
            1.0,
        );
    }
}

#[test]
fn a_changed_max_lr_and_momentum_take_effect_at_the_next_step() {
    let gpu = gpu();
    for kind in [MomentumKind::Nesterov, MomentumKind::Adjusted] {
        let config = AligConfig {
            momentum_kind: kind,
            ..AligConfig::default()
        };
        let groups = [
            ParamGroup::new(&["a", "b"], Some(0.05), 0.9),
            ParamGroup::new(&["c"], None, 0.5),
        ];
        let mut s = setup(&gpu, config, &groups, 41);
        let changes = [
            (3, Change::MaxLr(0, Some(0.02))),
            (5, Change::MaxLr(1, Some(0.03))),
            (7, Change::Momentum(1, 0.0)),
            (8, Change::MaxLr(0, None)),
            (8, Change::MaxLr(1, None)),
            (10, Change::Momentum(1, 0.7)),
            (11, Change::Momentum(0, 0.0)),
        ];
        let expected = run(&gpu, &mut s, 14, &changes);
        assert_matches(&gpu, &s, &expected, &format!("{kind:?}"));
        // One source of truth: the config reports the first group's settings as they are now.
        assert_eq!(s.alig.config().max_lr, None);
        assert_eq!(s.alig.config().momentum, 0.0);
    }
}

#[test]
fn a_warmup_of_one_group_matches_the_reference_and_survives_a_restore() {
    let gpu = gpu();
    let config = AligConfig::paper(0.01);
    let tensors: Vec<&str> = TENSORS.iter().map(|t| t.0).collect();
    let groups = [ParamGroup::new(&tensors, config.max_lr, config.momentum)];
    let mut s = setup(&gpu, config, &groups, 42);
    // max_lr from 0.01 up to 0.1 over the first steps.
    let changes: Vec<(usize, Change)> = (1..6)
        .map(|step| (step, Change::MaxLr(0, Some(0.01 + 0.018 * step as f32))))
        .collect();
    let mut expected = run(&gpu, &mut s, 8, &changes);
    assert_matches(&gpu, &s, &expected, "warmup");
    assert_eq!(s.alig.config().max_lr, Some(0.01 + 0.018 * 5.0));

    // A restored optimizer still tells the steps' sizes apart and continues the schedule.
    let state = s.alig.save_state(&gpu.device, &gpu.queue).unwrap();
    let state = wgpu_alig::AligState::from_bytes(&state.to_bytes()).unwrap();
    s.alig = Alig::from_state(&gpu.device, &gpu.queue, &s.arena, &state).unwrap();
    expected.extend(run(&gpu, &mut s, 4, &[(2, Change::MaxLr(0, Some(0.2)))]));
    assert_matches(&gpu, &s, &expected, "warmup, restored");

    // The groups hold max_lr: a state whose config says otherwise is refused, not ignored.
    let mut edited = state.clone();
    edited.config.max_lr = Some(1.0);
    assert!(matches!(
        Alig::from_state(&gpu.device, &gpu.queue, &s.arena, &edited),
        Err(Error::InvalidState(_))
    ));
    let mut edited = state;
    edited.groups[0].max_lr = Some(1.0);
    edited.config.max_lr = Some(1.0);
    assert!(
        matches!(
            Alig::from_state(&gpu.device, &gpu.queue, &s.arena, &edited),
            Err(Error::InvalidState(_))
        ),
        "an edited group must not contradict the settings the records name"
    );
}

#[test]
fn bad_settings_are_typed_errors() {
    let gpu = gpu();
    let arena = Arena::new(&gpu.device, &TENSORS).unwrap();
    let mut alig = Alig::new(&gpu.device, &arena, AligConfig::default()).unwrap();
    assert!(matches!(
        alig.set_max_lr(&gpu.queue, 1, Some(0.1)),
        Err(Error::UnknownGroup {
            group: 1,
            groups: 1
        })
    ));
    assert!(matches!(
        alig.set_max_lr(&gpu.queue, 0, Some(-1.0)),
        Err(Error::InvalidMaxLr(_))
    ));
    assert!(matches!(
        alig.set_momentum(&gpu.queue, 0, 1.0),
        Err(Error::InvalidMomentum(_))
    ));
    // Built without momentum: no buffer to turn it on with.
    assert!(matches!(
        alig.set_momentum(&gpu.queue, 0, 0.9),
        Err(Error::NoMomentumBuffer)
    ));
    alig.set_momentum(&gpu.queue, 0, 0.0).unwrap();
    assert_eq!(alig.config().max_lr, None);
}

/// A setting stays while a record in the ring can name it, whatever was recorded since:
/// steps recorded but not yet submitted (or never) do not push older records out.
#[test]
fn settings_stay_while_the_ring_names_them() {
    let gpu = gpu();
    let arena = Arena::new(&gpu.device, &[("w", 16)]).unwrap();
    let config = AligConfig {
        stats_capacity: 4,
        ..AligConfig::paper(0.1)
    };
    let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
    for _ in 0..4 {
        alig.step(&gpu.device, &gpu.queue, Loss::Host(1.0)).unwrap();
    }
    alig.set_max_lr(&gpu.queue, 0, Some(0.2)).unwrap();
    // Four steps recorded, not submitted; then two more settings and a read.
    let mut pending = gpu.device.create_command_encoder(&Default::default());
    for _ in 0..4 {
        alig.record_step(&mut pending, &gpu.queue, Loss::Host(1.0))
            .unwrap();
    }
    alig.set_max_lr(&gpu.queue, 0, Some(0.3)).unwrap();
    alig.set_max_lr(&gpu.queue, 0, Some(0.4)).unwrap();
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(stats.records.len(), 4);
    for record in &stats.records {
        assert_eq!(record.max_lr_version, 0);
        assert_eq!(stats.group_max_lrs(record), Some(&[Some(0.1)][..]));
    }
    // Saved and restored, the ring's records still name their setting.
    let state = alig.save_state(&gpu.device, &gpu.queue).unwrap();
    let restored = Alig::from_state(&gpu.device, &gpu.queue, &arena, &state).unwrap();
    let stats = restored
        .read_stats_blocking(&gpu.device, &gpu.queue)
        .unwrap();
    for record in &stats.records {
        assert_eq!(stats.group_max_lrs(record), Some(&[Some(0.1)][..]));
    }
    drop(pending);
}
