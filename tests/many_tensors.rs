//! What an engine with many tensors needs from the host side: ids for the per-step path,
//! one-call writes and reads of every tensor, and 10^5 tensors that construct and step
//! (checked for correctness here; their host times are in the benchmark).

mod common;

use common::{assert_close, bits, gpu, Rng};
use wgpu_alig::{reference::AligReference, Alig, AligConfig, Arena, Error, Loss};

#[test]
fn bulk_writes_and_reads_match_per_tensor_ones() {
    let gpu = gpu();
    let tensors = [("a", 1), ("b", 3), ("c", 255), ("d", 257), ("e", 4097)];
    let arena = Arena::new(&gpu.device, &tensors).unwrap();
    let total: usize = tensors.iter().map(|t| t.1).sum();
    let mut rng = Rng::new(3);
    let params = rng.vec_f32(total, -1.0, 1.0);
    let grads = rng.vec_f32(total, -1.0, 1.0);
    arena.write_all_params(&gpu.queue, &params).unwrap();
    arena.write_all_grads(&gpu.queue, &grads).unwrap();

    // Each tensor, read by name and by id, is its slice of the bulk data.
    let mut at = 0;
    for (name, len) in tensors {
        let id = arena.tensor_id(name).unwrap();
        assert_eq!(arena.tensor(id).unwrap().name, name);
        let by_name = arena.read_params(&gpu.device, &gpu.queue, name).unwrap();
        let by_id = arena.read_grads(&gpu.device, &gpu.queue, id).unwrap();
        assert_eq!(
            bits(&by_name),
            bits(&params[at..at + len]),
            "params of {name}"
        );
        assert_eq!(bits(&by_id), bits(&grads[at..at + len]), "grads of {name}");
        assert_eq!(
            arena.param_binding(id).unwrap().offset,
            arena.param_binding(name).unwrap().offset
        );
        at += len;
    }
    let all_params = arena.read_all_params(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(bits(&all_params), bits(&params));
    let all_grads = arena.read_all_grads(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(bits(&all_grads), bits(&grads));

    // A write by id lands where the name's does.
    let c = arena.tensor_id("c").unwrap();
    arena.write_params(&gpu.queue, c, &vec![7.0; 255]).unwrap();
    let read = arena.read_params(&gpu.device, &gpu.queue, "c").unwrap();
    assert_eq!(read, vec![7.0; 255]);
}

#[test]
fn bad_bulk_data_and_ids_are_typed_errors() {
    let gpu = gpu();
    let arena = Arena::new(&gpu.device, &[("a", 3), ("b", 5)]).unwrap();
    let other = Arena::new(&gpu.device, &[("a", 3), ("b", 5), ("c", 1)]).unwrap();
    assert!(matches!(
        arena.write_all_params(&gpu.queue, &[0.0; 7]),
        Err(Error::LengthMismatch {
            expected: 8,
            actual: 7,
            ..
        })
    ));
    let c = other.tensor_id("c").unwrap();
    assert!(matches!(
        arena.param_binding(c),
        Err(Error::UnknownTensorId {
            index: 2,
            tensors: 2
        })
    ));
    assert!(matches!(arena.tensor_id("c"), Err(Error::UnknownTensor(_))));
    // An id names the same position in an arena of the same layout.
    let b = other.tensor_id("b").unwrap();
    assert_eq!(arena.tensor(b).unwrap().name, "b");
    assert!(matches!(
        arena.write_grads(&gpu.queue, b, &[1.0; 4]),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn a_hundred_thousand_tensors_construct_and_step_as_the_reference() {
    let gpu = gpu();
    let count = 100_000;
    let names: Vec<String> = (0..count).map(|k| format!("t{k}")).collect();
    let tensors: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 1)).collect();
    let arena = Arena::new(&gpu.device, &tensors).unwrap();
    let config = AligConfig::paper(0.05);
    let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
    let mut rng = Rng::new(8);
    let params = rng.vec_f32(count, -1.0, 1.0);
    arena.write_all_params(&gpu.queue, &params).unwrap();
    let init = params.iter().map(|&w| vec![f64::from(w)]).collect();
    let mut reference = AligReference::new(config, init).unwrap();
    for _ in 0..3 {
        let grads = rng.vec_f32(count, -1.0, 1.0);
        arena.write_all_grads(&gpu.queue, &grads).unwrap();
        let loss = (0.03 * grads.iter().map(|&g| f64::from(g).powi(2)).sum::<f64>()) as f32;
        alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))
            .unwrap();
        let grads = grads
            .iter()
            .map(|&g| vec![f64::from(g)])
            .collect::<Vec<_>>();
        reference.step(f64::from(loss), &grads).unwrap();
    }
    let got = arena.read_all_params(&gpu.device, &gpu.queue).unwrap();
    let want: Vec<f64> = reference.params().iter().map(|p| p[0]).collect();
    // Tolerance of tests/reference_agreement.rs.
    assert_close("params after 3 steps", &got, &want, 1e-5, 1.0);
    let last = arena.tensor_id(&names[count - 1]).unwrap();
    let momentum = alig.read_momentum(&gpu.device, &gpu.queue, last).unwrap();
    assert_close(
        "momentum of the last tensor",
        &momentum,
        &reference.momentum()[count - 1],
        1e-5,
        1.0,
    );
}
