//! Objects of another device are refused, not cross-wired. Two `Gpu::new()` open two wgpu
//! instances whose devices wgpu compares as equal (their ids collide), so the optimizer and
//! the arena tell them apart themselves; every call that takes a device checks it.

mod common;

use common::{bits, gpu};
use wgpu_alig::{Alig, AligConfig, Arena, Error, Gpu, Loss, ParamGroup};

const TENSORS: [(&str, usize); 1] = [("w", 300)];

/// An arena with parameters 1 and gradients 1, and a momentum optimizer that took one step.
fn trained(gpu: &Gpu) -> (Arena, Alig) {
    let arena = Arena::new(&gpu.device, &TENSORS).unwrap();
    arena.write_params(&gpu.queue, "w", &[1.0; 300]).unwrap();
    arena.write_grads(&gpu.queue, "w", &[1.0; 300]).unwrap();
    let mut alig = Alig::new(&gpu.device, &arena, AligConfig::paper(0.1)).unwrap();
    alig.step(&gpu.device, &gpu.queue, Loss::Host(1.0)).unwrap();
    (arena, alig)
}

fn assert_wrong_device<T: std::fmt::Debug>(what: &str, result: wgpu_alig::Result<T>) {
    assert!(
        matches!(result, Err(Error::WrongDevice)),
        "{what}: {result:?}"
    );
}

#[test]
fn an_optimizer_is_not_built_on_another_instance_device() {
    let (a, b) = (gpu(), gpu());
    let (arena_a, alig_a) = trained(&a);
    let config = AligConfig::paper(0.1);
    assert_wrong_device(
        "Alig::new",
        Alig::new(&b.device, &arena_a, config).map(|_| ()),
    );
    let group = ParamGroup::new(&["w"], config.max_lr, config.momentum);
    assert_wrong_device(
        "Alig::with_groups",
        Alig::with_groups(&b.device, &arena_a, config, &[group]).map(|_| ()),
    );
    let state = alig_a.save_state(&a.device, &a.queue).unwrap();
    assert_wrong_device(
        "Alig::from_state",
        Alig::from_state(&b.device, &b.queue, &arena_a, &state).map(|_| ()),
    );
}

#[test]
fn calls_given_another_instance_device_change_and_read_nothing() {
    let (a, b) = (gpu(), gpu());
    let (arena_a, mut alig_a) = trained(&a);
    let (arena_b, alig_b) = trained(&b);
    let before_a = common::state_bits(&a, &arena_a, &alig_a, &["w"]);
    let before_b = common::state_bits(&b, &arena_b, &alig_b, &["w"]);

    assert_wrong_device("step", alig_a.step(&b.device, &b.queue, Loss::Host(1.0)));
    assert_wrong_device("read_params", arena_a.read_params(&b.device, &b.queue, "w"));
    assert_wrong_device("read_grads", arena_a.read_grads(&b.device, &b.queue, "w"));
    assert_wrong_device(
        "read_momentum",
        alig_a.read_momentum(&b.device, &b.queue, "w"),
    );
    assert_wrong_device(
        "read_stats_blocking",
        alig_a.read_stats_blocking(&b.device, &b.queue),
    );
    assert_wrong_device(
        "read_stats",
        pollster::block_on(alig_a.read_stats(&b.device, &b.queue)),
    );
    assert_wrong_device("save_state", alig_a.save_state(&b.device, &b.queue));

    // Neither optimizer stepped, neither arena moved.
    assert_eq!(common::state_bits(&a, &arena_a, &alig_a, &["w"]), before_a);
    assert_eq!(common::state_bits(&b, &arena_b, &alig_b, &["w"]), before_b);
    let steps = |gpu: &Gpu, alig: &Alig| {
        alig.read_stats_blocking(&gpu.device, &gpu.queue)
            .unwrap()
            .steps
    };
    assert_eq!((steps(&a, &alig_a), steps(&b, &alig_b)), (1, 1));

    // The right device still works.
    alig_a.step(&a.device, &a.queue, Loss::Host(1.0)).unwrap();
    assert_ne!(
        bits(&arena_a.read_params(&a.device, &a.queue, "w").unwrap()),
        before_a[0]
    );
}

#[test]
fn a_second_device_of_the_same_instance_is_refused() {
    let a = gpu();
    let second = pollster::block_on(a.adapter.request_device(&wgpu::DeviceDescriptor {
        required_limits: a.adapter.limits(),
        ..Default::default()
    }));
    let Ok((device, queue)) = second else {
        // Some drivers open one device per adapter; the other-instance tests cover them.
        eprintln!("the adapter gave no second device: {second:?}");
        return;
    };
    let (arena, alig) = trained(&a);
    assert_wrong_device(
        "Alig::new",
        Alig::new(&device, &arena, AligConfig::default()).map(|_| ()),
    );
    assert_wrong_device("read_params", arena.read_params(&device, &queue, "w"));
    assert_wrong_device("read_stats", alig.read_stats_blocking(&device, &queue));
}
