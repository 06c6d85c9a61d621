//! 10^8 parameters: the squared norm within the bound the optimizer states of the f64 sum,
//! with one element as large as all the others together (which a plain running f32 sum
//! would round most of the others against), and the step correct. On lavapipe this arena is 400 MB per buffer, larger than one storage binding, so
//! it runs in windows. Slow in debug builds: the suite is meant to run with `--release`.

mod common;

use common::{assert_rel, gpu, step_and_record, Rng};
use wgpu_alig::{Alig, AligConfig, Arena, Loss};

const N: usize = 100_000_000;

#[test]
fn a_hundred_million_parameters() {
    let gpu = gpu();
    let arena = Arena::new(&gpu.device, &[("w", N)]).unwrap();
    let mut rng = Rng::new(8);
    let mut grads: Vec<f32> = (0..N).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
    // About N / 3: the square of the first element is half of the norm.
    grads[0] = (N as f32 / 3.0).sqrt();
    let params: Vec<f32> = (0..N).map(|i| (i % 1000) as f32 * 1e-3).collect();
    arena.write_grads(&gpu.queue, "w", &grads).unwrap();
    arena.write_params(&gpu.queue, "w", &params).unwrap();
    let sq_norm: f64 = grads.iter().map(|&g| f64::from(g) * f64::from(g)).sum();

    let mut alig = Alig::new(&gpu.device, &arena, AligConfig::default()).unwrap();
    let loss = (1e-3 * sq_norm) as f32; // gamma ~ 1e-3
    let record = step_and_record(&gpu, &mut alig, Loss::Host(loss));

    let relative = (f64::from(record.grad_sq_norm) - sq_norm).abs() / sq_norm;
    let bound = alig.sq_norm_error_bound();
    println!("||g||^2 of 1e8 elements: relative error {relative:e}, bound {bound:e}");
    assert_rel(
        &format!(
            "||g||^2 ({} dispatches per step)",
            alig.dispatches_per_step()
        ),
        record.grad_sq_norm,
        sq_norm,
        bound,
    );
    let gamma = f64::from(loss) / (sq_norm + 1e-5);
    // Two more roundings: the sum with eps and the division.
    let unit_roundoff = f64::from(f32::EPSILON) / 2.0;
    assert_rel("gamma", record.gamma, gamma, bound + 2.0 * unit_roundoff);

    // w <- w - gamma*g with the GPU's gamma, element by element; an error of one rounding
    // at the scale of w (<= 1, about 6 for the first element) is allowed.
    let updated = arena.read_params(&gpu.device, &gpu.queue, "w").unwrap();
    let gamma = f64::from(record.gamma);
    for (i, ((&w, &g), &got)) in params.iter().zip(&grads).zip(&updated).enumerate() {
        let want = f64::from(w) - gamma * f64::from(g);
        assert!(
            (f64::from(got) - want).abs() <= 2e-7 * want.abs().max(1.0),
            "w[{i}]: gpu {got} vs {want}"
        );
    }
}
