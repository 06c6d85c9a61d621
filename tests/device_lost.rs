//! A lost device is a typed error, never a panic or a hang: every call that reads, builds
//! or steps returns `Error::DeviceLost`, and a read pending when the device is lost
//! completes with it.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::gpu;
use wgpu_alig::{Alig, AligConfig, Arena, Error, Loss};

fn assert_lost<T: std::fmt::Debug>(what: &str, result: wgpu_alig::Result<T>) {
    assert!(
        matches!(result, Err(Error::DeviceLost)),
        "{what}: {result:?}"
    );
}

#[test]
fn every_call_on_a_destroyed_device_is_device_lost() {
    let gpu = gpu();
    let (device, queue) = (&gpu.device, &gpu.queue);
    let arena = Arena::new(device, &[("w", 100)]).unwrap();
    let mut alig = Alig::new(device, &arena, AligConfig::paper(0.1)).unwrap();
    alig.step(device, queue, Loss::Host(1.0)).unwrap();
    let state = alig.save_state(device, queue).unwrap();
    device.destroy();

    assert_lost("Arena::new", Arena::new(device, &[("w", 100)]).map(|_| ()));
    assert_lost(
        "Alig::new",
        Alig::new(device, &arena, AligConfig::default()).map(|_| ()),
    );
    assert_lost(
        "Alig::from_state",
        Alig::from_state(device, queue, &arena, &state).map(|_| ()),
    );
    assert_lost("step", alig.step(device, queue, Loss::Host(1.0)));
    assert_lost(
        "read_stats_blocking",
        alig.read_stats_blocking(device, queue),
    );
    assert_lost(
        "read_stats",
        pollster::block_on(alig.read_stats(device, queue)),
    );
    assert_lost("read_momentum", alig.read_momentum(device, queue, "w"));
    assert_lost("save_state", alig.save_state(device, queue));
    assert_lost("read_params", arena.read_params(device, queue, "w"));
    assert_lost("read_grads", arena.read_grads(device, queue, "w"));
    // One staging write of the whole buffer, which a lost device's queue refuses.
    assert_lost("write_all_grads", arena.write_all_grads(queue, &[0.0; 100]));
    assert_lost(
        "write_all_params",
        arena.write_all_params(queue, &[0.0; 100]),
    );

    // Recording and writing reach no GPU work and must not panic either.
    arena.write_params(queue, "w", &[0.0; 100]).unwrap();
    let mut encoder = device.create_command_encoder(&Default::default());
    arena.zero_grads(&mut encoder);
    alig.record_step(&mut encoder, queue, Loss::Host(1.0))
        .unwrap();
    queue.submit([encoder.finish()]);
}

#[test]
fn a_read_pending_when_the_device_is_lost_completes_with_device_lost() {
    let gpu = gpu();
    let arena = Arena::new(&gpu.device, &[("w", 100)]).unwrap();
    let mut alig = Alig::new(&gpu.device, &arena, AligConfig::default()).unwrap();
    alig.step(&gpu.device, &gpu.queue, Loss::Host(1.0)).unwrap();
    let pending = alig.read_stats(&gpu.device, &gpu.queue);
    gpu.device.destroy();
    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());

    // On another thread, so that a future that never completes fails the test instead of
    // hanging it.
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(pollster::block_on(pending));
    });
    let result = result
        .recv_timeout(Duration::from_secs(20))
        .expect("the pending read never completed");
    assert_lost("pending read_stats", result);
}
