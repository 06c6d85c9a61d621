//! A run saved after 25 steps and restored into a fresh arena and optimizer continues bit
//! for bit as the run that was never interrupted.

mod common;

use common::{gpu, Rng};
use wgpu_alig::{Alig, AligConfig, AligState, Arena, Error, Gpu, Loss, MomentumKind, ParamGroup};

const TENSORS: [(&str, usize); 4] = [("a", 257), ("b", 3), ("c", 4097), ("frozen", 10)];

fn config() -> AligConfig {
    AligConfig {
        momentum_kind: MomentumKind::Adjusted,
        max_norm: Some(30.0),
        ..AligConfig::paper(0.05)
    }
}

fn groups(config: &AligConfig) -> Vec<ParamGroup> {
    vec![
        ParamGroup::new(&["a", "b"], config.max_lr, config.momentum),
        ParamGroup::new(&["c"], Some(0.01), 0.5),
    ]
}

fn fresh(gpu: &Gpu) -> Arena {
    let arena = Arena::new(&gpu.device, &TENSORS).unwrap();
    let mut rng = Rng::new(5);
    for (name, n) in TENSORS {
        arena
            .write_params(&gpu.queue, name, &rng.vec_f32(n, -1.0, 1.0))
            .unwrap();
    }
    arena
}

/// Steps `range` with gradients and losses that depend only on the step index.
fn run(gpu: &Gpu, arena: &Arena, alig: &mut Alig, range: std::ops::Range<u64>) {
    for step in range {
        let mut rng = Rng::new(1000 + step);
        for (name, n) in TENSORS {
            arena
                .write_grads(&gpu.queue, name, &rng.vec_f32(n, -1.0, 1.0))
                .unwrap();
        }
        let loss = rng.uniform(10.0, 200.0) as f32;
        alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))
            .unwrap();
    }
}

/// Parameters and momentum of every tensor, the counters and every record, as bits.
fn bits(gpu: &Gpu, arena: &Arena, alig: &Alig) -> Vec<Vec<u32>> {
    let mut out = common::state_bits(gpu, arena, alig, &TENSORS.map(|(name, _)| name));
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    out.push(vec![stats.steps, stats.skipped]);
    for r in stats.records {
        out.push(bytemuck::cast_slice(&[r]).to_vec());
    }
    out
}

#[test]
fn a_restored_run_continues_bit_for_bit() {
    let gpu = gpu();
    let config = config();

    let whole_arena = fresh(&gpu);
    let mut whole = Alig::with_groups(&gpu.device, &whole_arena, config, &groups(&config)).unwrap();
    run(&gpu, &whole_arena, &mut whole, 0..50);

    let first_arena = fresh(&gpu);
    let mut first = Alig::with_groups(&gpu.device, &first_arena, config, &groups(&config)).unwrap();
    run(&gpu, &first_arena, &mut first, 0..25);
    let saved = first.save_state(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(saved.steps(), 25);
    let path = std::env::temp_dir().join(format!("wgpu-alig-state-{}.bin", std::process::id()));
    saved.save(&path).unwrap();
    let params: Vec<Vec<f32>> = TENSORS
        .iter()
        .map(|(name, _)| {
            first_arena
                .read_params(&gpu.device, &gpu.queue, name)
                .unwrap()
        })
        .collect();
    drop((first, first_arena));

    // A new arena and optimizer, from the file and the saved parameters.
    let loaded = AligState::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded, saved);
    let arena = Arena::new(&gpu.device, &TENSORS).unwrap();
    for ((name, _), values) in TENSORS.iter().zip(&params) {
        arena.write_params(&gpu.queue, name, values).unwrap();
    }
    let mut restored = Alig::from_state(&gpu.device, &gpu.queue, &arena, &loaded).unwrap();
    run(&gpu, &arena, &mut restored, 25..50);

    assert_eq!(
        bits(&gpu, &arena, &restored),
        bits(&gpu, &whole_arena, &whole)
    );
}

#[test]
fn a_state_for_other_tensors_is_refused() {
    let gpu = gpu();
    let arena = fresh(&gpu);
    let alig = Alig::new(&gpu.device, &arena, AligConfig::paper(0.1)).unwrap();
    let state = alig.save_state(&gpu.device, &gpu.queue).unwrap();
    let other = Arena::new(&gpu.device, &[("a", 257), ("b", 4)]).unwrap();
    let result = Alig::from_state(&gpu.device, &gpu.queue, &other, &state);
    assert!(matches!(result, Err(Error::StateMismatch(_))), "{result:?}");
    // A capacity that does not match the saved ring is refused before anything is allocated.
    let mut edited = state.clone();
    edited.config.stats_capacity = u32::MAX;
    let result = Alig::from_state(&gpu.device, &gpu.queue, &arena, &edited);
    assert!(matches!(result, Err(Error::InvalidState(_))), "{result:?}");
    // Any corrupted byte of the encoding is caught by its checksum.
    let mut bytes = state.to_bytes();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    let corrupted = AligState::from_bytes(&bytes);
    assert!(
        matches!(corrupted, Err(Error::InvalidState(_))),
        "{corrupted:?}"
    );
    let garbage = AligState::from_bytes(b"not a state");
    assert!(
        matches!(garbage, Err(Error::InvalidState(_))),
        "{garbage:?}"
    );
}

/// A state in the format before the `max_lr` history was bounded (version 5), saved by the
/// golden scenario's run with windows (`tests/golden.rs`) after 5 steps, a `max_lr` change
/// after its third: it still loads, and its records still name their settings.
#[test]
fn a_version_5_state_still_loads() {
    let bytes = include_bytes!("fixtures/state-v5.bin");
    assert_eq!(
        &bytes[8..12],
        &5u32.to_le_bytes(),
        "the fixture is a version 5 state"
    );
    let state = AligState::from_bytes(bytes).unwrap();
    assert_eq!(state.steps(), 5);
    let gpu = gpu();
    let tensors = [
        ("a", 1000),
        ("b", 3),
        ("c", 257),
        ("frozen", 300),
        ("d", 1500),
    ];
    let arena = Arena::new(&gpu.device, &tensors).unwrap();
    let mut alig = Alig::from_state(&gpu.device, &gpu.queue, &arena, &state).unwrap();
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    let versions: Vec<u32> = stats.records.iter().map(|r| r.max_lr_version).collect();
    assert_eq!(versions, [0, 0, 0, 1, 1]);
    for record in &stats.records {
        let max_lrs = stats
            .group_max_lrs(record)
            .expect("the record's setting is kept");
        let expected = if record.max_lr_version == 0 {
            0.05
        } else {
            0.02
        };
        assert_eq!(max_lrs, [Some(expected), None]);
    }
    // It saves in the current format, which loads again.
    alig.step(&gpu.device, &gpu.queue, Loss::Host(1.0)).unwrap();
    let saved = alig.save_state(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(AligState::from_bytes(&saved.to_bytes()).unwrap(), saved);
}

/// A per-step `max_lr` schedule over a long run keeps only the settings that the ring's
/// records can name: the saved state stays the size it has after one ring's worth of steps,
/// and every record still in the ring gives its group step sizes.
#[test]
fn a_per_step_schedule_keeps_a_saved_state_flat() {
    const GROUPS: usize = 10;
    const CAPACITY: u32 = 64;
    const STEPS: u32 = 10_000;
    let gpu = gpu();
    let names: Vec<String> = (0..GROUPS).map(|g| format!("t{g}")).collect();
    let tensors: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 64)).collect();
    let arena = Arena::new(&gpu.device, &tensors).unwrap();
    let groups: Vec<ParamGroup> = names
        .iter()
        .map(|n| ParamGroup::new(&[n.as_str()], Some(0.1), 0.0))
        .collect();
    let config = AligConfig {
        stats_capacity: CAPACITY,
        ..AligConfig::paper(0.1)
    };
    let mut alig = Alig::with_groups(&gpu.device, &arena, config, &groups).unwrap();
    let mut sizes = Vec::new();
    let mut setting = 0u32;
    for step in 0..STEPS {
        // Every group's max_lr decays each step: 10^5 setter calls in all.
        for group in 0..GROUPS {
            setting += 1;
            let lr = 0.1 / (1.0 + setting as f32 * 1e-4);
            alig.set_max_lr(&gpu.queue, group, Some(lr)).unwrap();
        }
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        alig.record_step(&mut encoder, &gpu.queue, Loss::Host(1.0))
            .unwrap();
        gpu.queue.submit([encoder.finish()]);
        if step + 1 == CAPACITY || step + 1 == STEPS {
            let state = alig.save_state(&gpu.device, &gpu.queue).unwrap();
            sizes.push(state.to_bytes().len());
        }
    }
    assert_eq!(setting, 100_000);
    // The settings kept: those made since the oldest step in the ring was recorded, and
    // the one it ran with. The size after the ring has turned many times is no larger.
    assert!(
        sizes[1] <= sizes[0],
        "saved state grew from {} to {} bytes",
        sizes[0],
        sizes[1]
    );
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(stats.records.len(), CAPACITY as usize);
    for record in &stats.records {
        assert_eq!(stats.group_gammas(record).len(), GROUPS, "{record:?}");
    }
}
