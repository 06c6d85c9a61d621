//! The projection of any finite parameters: `||w||^2` is summed in two ranges (parameters of
//! 2^40 or more scaled by 2^-100 before they are squared), so that it cannot overflow f32, and
//! huge parameters are projected as the f64 reference projects them. A `||w||` that cannot be
//! computed (a non-finite parameter; huge parameters in a sharded step) leaves the parameters
//! be and flags the step, never silently.

mod common;

use common::{bits, gpu, Rng};
use wgpu_alig::{reference, Alig, AligConfig, Arena, Gpu, Loss, NormSlot, ShardNorm, StepFlags};

/// The same relative bound as the other reference comparisons of the projection: a few
/// roundings of the sums and one of the scale and of each product.
const TOLERANCE: f64 = 1e-6;

/// An optimizer with projection onto the ball of radius `max_norm`, whose update leaves the
/// parameters as they are (zero gradients, no momentum): a step is then the projection alone.
fn projecting(gpu: &Gpu, params: &[f32], max_norm: f32) -> (Arena, Alig) {
    let arena = Arena::new(&gpu.device, &[("w", params.len())]).unwrap();
    arena.write_params(&gpu.queue, "w", params).unwrap();
    arena
        .write_grads(&gpu.queue, "w", &vec![0.0; params.len()])
        .unwrap();
    let config = AligConfig {
        max_norm: Some(max_norm),
        momentum: 0.0,
        ..AligConfig::paper(0.1)
    };
    let alig = Alig::new(&gpu.device, &arena, config).unwrap();
    (arena, alig)
}

/// What the f64 reference's projection gives for `params`.
fn reference_projection(params: &[f32], max_norm: f32) -> (Vec<f64>, f64) {
    let mut values: Vec<f64> = params.iter().map(|&w| f64::from(w)).collect();
    let sq_norm = reference::project_params(&mut [&mut values], f64::from(max_norm));
    (values, sq_norm)
}

/// One step, then the parameters against the reference's projection, relative to the
/// largest projected value (elements far below it round at its scale in f32 too).
fn assert_projected_as_reference(what: &str, params: &[f32], max_norm: f32) {
    let gpu = gpu();
    let (arena, mut alig) = projecting(&gpu, params, max_norm);
    alig.step(&gpu.device, &gpu.queue, Loss::Host(1.0)).unwrap();
    let got = arena.read_params(&gpu.device, &gpu.queue, "w").unwrap();
    let (expected, sq_norm) = reference_projection(params, max_norm);
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (k, (&g, &e)) in got.iter().zip(&expected).enumerate() {
        assert!(
            (f64::from(g) - e).abs() <= TOLERANCE * scale,
            "{what}: element {k}: {g} against the reference's {e}"
        );
    }
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    let record = stats.last().unwrap();
    assert!(
        !record.flags.intersects(StepFlags::PROJECTION_SKIPPED),
        "{what}: {record:?}"
    );
    // The record's ||w||^2: the value where f32 holds it, +infinity past it.
    if sq_norm < f64::from(f32::MAX) {
        let relative = (f64::from(record.param_sq_norm) - sq_norm).abs() / sq_norm;
        assert!(
            relative <= TOLERANCE,
            "{what}: {record:?} against {sq_norm}"
        );
    } else {
        assert_eq!(record.param_sq_norm, f32::INFINITY, "{what}");
    }
}

/// One step of parameters inside the ball: they keep their bits.
fn assert_left_as_they_are(params: &[f32], max_norm: f32) {
    let gpu = gpu();
    let (arena, mut alig) = projecting(&gpu, params, max_norm);
    alig.step(&gpu.device, &gpu.queue, Loss::Host(1.0)).unwrap();
    let got = arena.read_params(&gpu.device, &gpu.queue, "w").unwrap();
    assert_eq!(bits(&got), bits(params));
}

#[test]
fn four_parameters_of_1e20_are_projected_onto_the_unit_ball() {
    // ||w||^2 = 4e40 overflows f32: the case that once went unprojected.
    assert_projected_as_reference("four of 1e20", &[1e20; 4], 1.0);
}

#[test]
fn huge_and_ordinary_parameters_together_are_projected_as_the_reference_does() {
    let mut rng = Rng::new(7);
    // Parameters up to f32::MAX (||w|| far beyond f32), with ordinary ones among them.
    let mut params = rng.vec_f32(5000, -1.0, 1.0);
    for k in (0..params.len()).step_by(7) {
        params[k] = rng.uniform(0.5, 1.0) as f32 * f32::MAX * if k % 2 == 0 { 1.0 } else { -1.0 };
    }
    assert_projected_as_reference("up to f32::MAX", &params, 3.0);
    // Just above the 2^40 split, where ||w||^2 still fits in f32 and both ranges count.
    let params: Vec<f32> = (0..3000)
        .map(|k| match k % 3 {
            0 => 1.2e12,
            1 => -1.0e12,
            _ => rng.uniform(-5e11, 5e11) as f32,
        })
        .collect();
    assert_projected_as_reference("around 2^40", &params, 10.0);
    // A factor max_norm / ||w|| far below f32's normal range (1e-30 / 2e38): the parameters
    // still land on the ball.
    assert_projected_as_reference("a tiny factor", &[1e38, -1e38, 1e38, 1e38, 3.0], 1e-30);
    // Huge radius: parameters of 1e30 inside a ball of 1e36 are left as they are.
    assert_left_as_they_are(&[1e30; 100], 1e36);
}

#[test]
fn ordinary_parameters_are_projected_as_before() {
    // No parameter reaches 2^40: the plain sum, unchanged (the golden test holds its bits).
    let mut rng = Rng::new(8);
    let params = rng.vec_f32(4097, -3.0, 3.0);
    assert_projected_as_reference("ordinary", &params, 5.0);
    // Tiny parameters inside the ball are left as they are.
    assert_left_as_they_are(&[1e-40; 64], 1.0);
}

#[test]
fn a_non_finite_parameter_is_not_projected_and_the_step_says_so() {
    let gpu = gpu();
    let mut params = vec![2.0f32; 100];
    params[40] = f32::INFINITY;
    let (arena, mut alig) = projecting(&gpu, &params, 1.0);
    alig.step(&gpu.device, &gpu.queue, Loss::Host(1.0)).unwrap();
    assert_left_and_flagged(&gpu, &arena, &alig, &params);
}

#[test]
fn a_sharded_step_with_huge_parameters_flags_instead_of_projecting() {
    let gpu = gpu();
    let params = [1e20f32; 4];
    let (arena, mut alig) = projecting(&gpu, &params, 1.0);
    let norms = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("norms"),
        size: 2 * ShardNorm::SIZE,
        usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let grad_slot = NormSlot {
        buffer: &norms,
        offset: 0,
    };
    let param_slot = NormSlot {
        buffer: &norms,
        offset: ShardNorm::SIZE,
    };
    // One shard: its local norms go out and straight back in.
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    alig.record_local_grad_norm(&mut encoder, grad_slot)
        .unwrap();
    alig.record_global_update(&mut encoder, &gpu.queue, Loss::Host(1.0), grad_slot)
        .unwrap();
    alig.record_local_param_norm(&mut encoder, param_slot)
        .unwrap();
    alig.record_global_projection(&mut encoder, param_slot)
        .unwrap();
    gpu.queue.submit([encoder.finish()]);
    assert_left_and_flagged(&gpu, &arena, &alig, &params);
}

/// After a step whose `||w||` could not be computed: the parameters keep their bits, and the
/// record says the projection was skipped while the update ran.
fn assert_left_and_flagged(gpu: &Gpu, arena: &Arena, alig: &Alig, params: &[f32]) {
    let got = arena.read_params(&gpu.device, &gpu.queue, "w").unwrap();
    assert_eq!(bits(&got), bits(params));
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    let record = stats.last().unwrap();
    assert!(
        record.flags.intersects(StepFlags::PROJECTION_SKIPPED),
        "{record:?}"
    );
    assert!(!record.flags.skipped(), "the update ran: {record:?}");
}
