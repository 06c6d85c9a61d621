//! The stats ring: records come back oldest first; when more steps run between two reads
//! than the ring holds, the oldest are overwritten and the snapshot says how many were lost;
//! a pending read does not hold up later steps.

mod common;

use common::gpu;
use wgpu_alig::{Alig, AligConfig, Arena, Gpu, Loss};

fn losses(stats: &wgpu_alig::StatsSnapshot) -> Vec<(u32, f32)> {
    stats.records.iter().map(|r| (r.step, r.loss)).collect()
}

/// An optimizer over one 10-element tensor (gradients 1) whose stats ring holds 8 records.
fn ring_of_eight(gpu: &Gpu) -> (Arena, Alig) {
    let arena = Arena::new(&gpu.device, &[("w", 10)]).unwrap();
    arena.write_grads(&gpu.queue, "w", &[1.0; 10]).unwrap();
    let config = AligConfig {
        stats_capacity: 8,
        ..AligConfig::default()
    };
    let alig = Alig::new(&gpu.device, &arena, config).unwrap();
    (arena, alig)
}

#[test]
fn the_ring_keeps_the_last_capacity_records() {
    let gpu = gpu();
    let (_arena, mut alig) = ring_of_eight(&gpu);
    let step = |alig: &mut Alig, k: u32| {
        alig.step(&gpu.device, &gpu.queue, Loss::Host(k as f32))
            .unwrap();
    };

    for k in 0..5 {
        step(&mut alig, k);
    }
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(
        losses(&stats),
        (0..5).map(|k| (k, k as f32)).collect::<Vec<_>>()
    );
    assert_eq!(stats.dropped_since(0), 0);

    for k in 5..20 {
        step(&mut alig, k);
    }
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(stats.steps, 20);
    assert_eq!(
        losses(&stats),
        (12..20).map(|k| (k, k as f32)).collect::<Vec<_>>()
    );
    assert_eq!(
        stats.dropped_since(5),
        7,
        "steps 5..12 were overwritten before this read"
    );

    for k in 20..23 {
        step(&mut alig, k);
    }
    let later = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(later.dropped_since(stats.steps), 0);
    assert_eq!(
        losses(&later),
        (15..23).map(|k| (k, k as f32)).collect::<Vec<_>>()
    );
}

#[test]
fn an_async_read_sees_the_steps_submitted_before_it_and_blocks_nothing() {
    let gpu = gpu();
    let arena = Arena::new(&gpu.device, &[("w", 10)]).unwrap();
    arena.write_grads(&gpu.queue, "w", &[1.0; 10]).unwrap();
    let mut alig = Alig::new(&gpu.device, &arena, AligConfig::default()).unwrap();
    for k in 0..3 {
        alig.step(&gpu.device, &gpu.queue, Loss::Host(k as f32))
            .unwrap();
    }
    let pending = alig.read_stats(&gpu.device, &gpu.queue);
    // Training goes on while the read is in flight.
    for k in 3..6 {
        alig.step(&gpu.device, &gpu.queue, Loss::Host(k as f32))
            .unwrap();
    }
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
    let stats = pollster::block_on(pending).unwrap();
    assert_eq!(stats.steps, 3);
    let now = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(now.steps, 6);
}

/// On a native backend the read's future is `Send`: another thread may await it while this
/// one polls the device.
#[test]
fn an_async_read_can_be_awaited_on_another_thread() {
    let gpu = gpu();
    let arena = Arena::new(&gpu.device, &[("w", 10)]).unwrap();
    arena.write_grads(&gpu.queue, "w", &[1.0; 10]).unwrap();
    let mut alig = Alig::new(&gpu.device, &arena, AligConfig::default()).unwrap();
    for k in 0..2 {
        alig.step(&gpu.device, &gpu.queue, Loss::Host(k as f32))
            .unwrap();
    }
    let pending = alig.read_stats(&gpu.device, &gpu.queue);
    let waiter = std::thread::spawn(move || pollster::block_on(pending));
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
    let stats = waiter.join().expect("the waiting thread").unwrap();
    assert_eq!(stats.steps, 2);
}

/// Reads the records since `since`, waiting on the read's own submission index.
fn read_since(gpu: &wgpu_alig::Gpu, alig: &Alig, since: u32) -> wgpu_alig::StatsSnapshot {
    let (submission, stats) = alig
        .read_stats_since(&gpu.device, &gpu.queue, since)
        .unwrap();
    gpu.device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(submission),
            timeout: None,
        })
        .unwrap();
    pollster::block_on(stats).unwrap()
}

#[test]
fn a_read_since_a_step_returns_only_the_newer_records() {
    let gpu = gpu();
    let (_arena, mut alig) = ring_of_eight(&gpu);
    let step = |alig: &mut Alig, k: u32| {
        alig.step(&gpu.device, &gpu.queue, Loss::Host(k as f32))
            .unwrap();
    };
    let steps = |range: std::ops::Range<u32>| range.map(|k| (k, k as f32)).collect::<Vec<_>>();

    for k in 0..5 {
        step(&mut alig, k);
    }
    let all = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(read_since(&gpu, &alig, 0), all);
    let newer = read_since(&gpu, &alig, 3);
    assert_eq!((newer.steps, losses(&newer)), (5, steps(3..5)));
    assert_eq!(losses(&read_since(&gpu, &alig, 5)), []);
    // A `since` past the last step returns nothing, and nothing counts as dropped.
    let ahead = read_since(&gpu, &alig, 6);
    assert_eq!((ahead.steps, losses(&ahead)), (5, vec![]));
    for since in [6, 1000, u32::MAX / 2] {
        assert_eq!(ahead.dropped_since(since), 0, "since {since}");
        assert_eq!(all.dropped_since(since), 0, "since {since}");
    }
    // The counter wraps at 2^32: from u32::MAX, 5 is 6 steps on, one of them gone.
    assert_eq!(all.dropped_since(u32::MAX), 1);

    // Past the ring's end, and around its wrap: the newest 8, the rest counted as dropped.
    for k in 5..27 {
        step(&mut alig, k);
    }
    let newer = read_since(&gpu, &alig, 5);
    assert_eq!(losses(&newer), steps(19..27));
    assert_eq!(newer.dropped_since(5), 14);
    assert_eq!(losses(&read_since(&gpu, &alig, 22)), steps(22..27));

    // A step recorded but not yet submitted is neither returned nor counted.
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    alig.record_step(&mut encoder, &gpu.queue, Loss::Host(27.0))
        .unwrap();
    let before = read_since(&gpu, &alig, 25);
    assert_eq!((before.steps, losses(&before)), (27, steps(25..27)));
    gpu.queue.submit([encoder.finish()]);
    let after = read_since(&gpu, &alig, 25);
    assert_eq!((after.steps, losses(&after)), (28, steps(25..28)));
}
