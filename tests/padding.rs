//! An engine may write whole buffers of the arena, padding included (one `write_buffer` of
//! everything, or its own clear to a non-zero value). What lies in the padding between
//! tensors, or in a frozen tensor, counts in no norm and is never written: the kernels mask
//! it through their chunk table.

mod common;

use common::readback::read_f32s;
use common::{bits, gpu, Rng};
use wgpu_alig::{reference::AligReference, Alig, AligConfig, Arena, Gpu, Loss, ParamGroup};

/// Two trainable tensors whose ends leave padding in their last chunk, and a frozen one.
const TENSORS: [(&str, usize); 3] = [("a", 3), ("b", 130), ("frozen", 5)];

/// The whole of `buffer`, read back.
fn read_whole(gpu: &Gpu, buffer: &wgpu::Buffer) -> Vec<f32> {
    let len = (buffer.size() / 4) as usize;
    read_f32s(&gpu.device, &gpu.queue, buffer, 0, len).unwrap()
}

/// A whole-buffer image of the arena: `tensor_values` at each tensor's place, `fill`
/// everywhere else.
fn whole_buffer(arena: &Arena, tensor_values: &[Vec<f32>], fill: f32) -> Vec<f32> {
    let mut whole = vec![fill; arena.layout().len()];
    for (slot, values) in arena.layout().tensors().iter().zip(tensor_values) {
        whole[slot.range()].copy_from_slice(values);
    }
    whole
}

/// Whether element `i` of the arena belongs to a trainable tensor.
fn trainable(arena: &Arena, i: usize) -> bool {
    arena.layout().tensors()[..2]
        .iter()
        .any(|slot| slot.range().contains(&i))
}

#[test]
fn padding_and_frozen_tensors_written_by_the_engine_count_nowhere_and_stay_as_they_are() {
    let gpu = gpu();
    let arena = Arena::new(&gpu.device, &TENSORS).unwrap();
    let config = AligConfig {
        max_norm: Some(2.0),
        ..AligConfig::paper(0.5)
    };
    let group = ParamGroup::new(&["a", "b"], config.max_lr, config.momentum);
    let groups = [group];
    let mut alig = Alig::with_groups(&gpu.device, &arena, config, &groups).unwrap();

    let mut rng = Rng::new(5);
    let init: Vec<Vec<f32>> = TENSORS
        .iter()
        .map(|&(_, n)| rng.vec_f32(n, -1.0, 1.0))
        .collect();
    // The parameters' padding holds NaN: a norm that included it would be NaN.
    let params_image = whole_buffer(&arena, &init, f32::NAN);
    gpu.queue.write_buffer(
        arena.params_buffer(),
        0,
        bytemuck::cast_slice(&params_image),
    );
    let mut reference = AligReference::with_groups(
        config,
        &["a", "b"],
        init[..2].iter().map(|v| common::to_f64(v)).collect(),
        &groups,
    )
    .unwrap();

    for (step, fill) in [1.0, f32::NAN, f32::INFINITY, 7.0].into_iter().enumerate() {
        let grads: Vec<Vec<f32>> = TENSORS
            .iter()
            .map(|&(_, n)| rng.vec_f32(n, -1.0, 1.0))
            .collect();
        gpu.queue.write_buffer(
            arena.grads_buffer(),
            0,
            bytemuck::cast_slice(&whole_buffer(&arena, &grads, fill)),
        );
        let sq_norm: f64 = grads[..2]
            .iter()
            .flatten()
            .map(|&g| f64::from(g) * f64::from(g))
            .sum();
        let loss = (0.05 * sq_norm) as f32;
        alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))
            .unwrap();
        let want = reference
            .step(
                f64::from(loss),
                &grads[..2]
                    .iter()
                    .map(|g| common::to_f64(g))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
        let record = stats.last().unwrap();
        assert_eq!(
            record.flags, want.flags,
            "step {step} (padding {fill}): flags"
        );
        common::assert_rel(
            &format!("step {step} (padding {fill}): ||g||^2"),
            record.grad_sq_norm,
            sq_norm,
            1e-6,
        );
        common::assert_rel(
            &format!("step {step} (padding {fill}): ||w||^2"),
            record.param_sq_norm,
            want.param_sq_norm,
            1e-6,
        );
    }

    let params = read_whole(&gpu, arena.params_buffer());
    let momentum = read_whole(&gpu, alig.momentum_buffer().unwrap());
    for i in 0..params.len() {
        if !trainable(&arena, i) {
            assert_eq!(
                params[i].to_bits(),
                params_image[i].to_bits(),
                "params[{i}] (padding or frozen) was written"
            );
            assert_eq!(
                momentum[i].to_bits(),
                0,
                "momentum[{i}] (padding or frozen) was written"
            );
        }
    }
    for (k, slot) in arena.layout().tensors()[..2].iter().enumerate() {
        common::assert_close(
            &format!("params of {}", slot.name),
            &params[slot.range()],
            &reference.params()[k],
            1e-5,
            1.0,
        );
    }
    assert_eq!(
        bits(&params[arena.layout().tensors()[2].range()]),
        bits(&init[2])
    );
}
