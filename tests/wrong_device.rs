//! Objects of another device are refused, not cross-wired. Two `Gpu::new()` open two wgpu
//! instances whose devices wgpu compares as equal (their ids collide), so the optimizer and
//! the arena tell them apart themselves; every call that takes a device checks it.

mod common;

use common::{bits, gpu};
use wgpu_alig::{Alig, AligConfig, Arena, Error, Gpu, GpuRequest, Loss, ParamGroup};

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
    let Some(b) = second_device(&a) else { return };
    let (device, queue) = (&b.device, &b.queue);
    let (arena, alig) = trained(&a);
    assert_wrong_device(
        "Alig::new",
        Alig::new(device, &arena, AligConfig::default()).map(|_| ()),
    );
    assert_wrong_device("read_params", arena.read_params(device, queue, "w"));
    assert_wrong_device("read_stats", alig.read_stats_blocking(device, queue));
}

/// A second device of `gpu`'s instance and adapter, or `None` (said on stderr) where the
/// driver opens one device per adapter; the other-instance tests cover those.
fn second_device(gpu: &Gpu) -> Option<Gpu> {
    match pollster::block_on(gpu.another_device(GpuRequest::default())) {
        Ok(second) => Some(second),
        Err(e) => {
            eprintln!("the adapter gave no second device: {e}");
            None
        }
    }
}

/// Within one instance, a loss buffer or norm slot of the other device is refused before
/// anything is recorded; an encoder of the other device (which nothing can check) is a wgpu
/// validation error, and its command buffer runs nothing.
#[test]
fn a_loss_buffer_slot_or_encoder_of_a_sibling_device_changes_nothing() {
    let a = gpu();
    let Some(b) = second_device(&a) else { return };
    let (arena_a, mut alig_a) = trained(&a);
    let (arena_b, alig_b) = trained(&b);
    let before_a = common::state_bits(&a, &arena_a, &alig_a, &["w"]);
    let before_b = common::state_bits(&b, &arena_b, &alig_b, &["w"]);
    let device_mismatch = |error: Option<wgpu::Error>| {
        matches!(&error, Some(wgpu::Error::Validation { description, .. })
            if description.contains("doesn't match Device"))
    };
    let buffer_of_b = |usage| {
        let buffer = b.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("of b"),
            size: 16,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        b.queue
            .write_buffer(&buffer, 0, bytemuck::bytes_of(&[1.0f32; 4]));
        buffer
    };

    // The loss in a buffer of device b, for the step of a: refused, the encoder stays valid.
    let loss_b = buffer_of_b(wgpu::BufferUsages::COPY_SRC);
    let scope = a.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let mut encoder = a.device.create_command_encoder(&Default::default());
    let loss = Loss::Buffer {
        buffer: &loss_b,
        offset: 0,
    };
    assert_wrong_device(
        "record_step",
        alig_a.record_step(&mut encoder, &a.queue, loss),
    );
    assert_wrong_device("step", alig_a.step(&a.device, &a.queue, loss).map(|_| ()));
    a.queue.submit([encoder.finish()]);
    let error = pollster::block_on(scope.pop());
    assert!(error.is_none(), "nothing invalid was recorded: {error:?}");

    // The slots of a sharded step in buffers of device b: each call refused.
    let slot_b = buffer_of_b(wgpu::BufferUsages::COPY_SRC);
    let slot = wgpu_alig::NormSlot {
        buffer: &slot_b,
        offset: 0,
    };
    let mut encoder = a.device.create_command_encoder(&Default::default());
    assert_wrong_device(
        "record_local_grad_norm",
        alig_a.record_local_grad_norm(&mut encoder, slot),
    );
    let slot_a = a.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("slot of a"),
        size: 8,
        usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let good = wgpu_alig::NormSlot {
        buffer: &slot_a,
        offset: 0,
    };
    alig_a.record_local_grad_norm(&mut encoder, good).unwrap();
    assert_wrong_device(
        "record_global_update",
        alig_a.record_global_update(&mut encoder, &a.queue, Loss::Host(1.0), slot),
    );
    // The step ends with good slots, in an encoder never submitted: nothing runs.
    alig_a
        .record_global_update(&mut encoder, &a.queue, Loss::Host(1.0), good)
        .unwrap();
    drop(encoder);

    // The step of a recorded into an encoder of device b.
    let scope = b.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let mut encoder = b.device.create_command_encoder(&Default::default());
    alig_a
        .record_step(&mut encoder, &a.queue, Loss::Host(1.0))
        .unwrap();
    b.queue.submit([encoder.finish()]);
    assert!(device_mismatch(pollster::block_on(scope.pop())));

    assert_eq!(common::state_bits(&a, &arena_a, &alig_a, &["w"]), before_a);
    assert_eq!(common::state_bits(&b, &arena_b, &alig_b, &["w"]), before_b);
}

/// The optimizer's own state buffer (which `loss_scale_binding` hands out) given as the loss
/// buffer is refused with wgpu's reason before anything is recorded, instead of spoiling the
/// engine's whole command buffer at `finish`.
#[test]
fn the_optimizers_own_buffer_as_the_loss_buffer_is_refused() {
    let a = gpu();
    let (arena, mut alig) = trained(&a);
    let before = common::state_bits(&a, &arena, &alig, &["w"]);
    let own = alig.loss_scale_binding().buffer.clone();
    let scope = a.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let mut encoder = a.device.create_command_encoder(&Default::default());
    let loss = Loss::Buffer {
        buffer: &own,
        offset: 0,
    };
    let result = alig.record_step(&mut encoder, &a.queue, loss);
    assert!(
        matches!(result, Err(Error::UnusableBuffer(_))),
        "{result:?}"
    );
    a.queue.submit([encoder.finish()]);
    let error = pollster::block_on(scope.pop());
    assert!(error.is_none(), "nothing invalid was recorded: {error:?}");
    assert_eq!(common::state_bits(&a, &arena, &alig, &["w"]), before);
}
