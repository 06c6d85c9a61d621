//! Mixed precision: f16 gradients (and f16 parameters with an f32 master copy), and the loss
//! scale on the GPU, against the f64 reference with the same f16 rounding of what is stored
//! in f16. Needs `Features::SHADER_F16` (lavapipe has it); where the device lacks it (GL on
//! llvmpipe), the typed error is what is tested.

mod common;

use common::*;
use wgpu_alig::reference::AligReference;
use wgpu_alig::{
    Alig, AligConfig, Arena, Error, Gpu, GpuRequest, Loss, LossScale, Precision, StepFlags,
};

const SIZES: [usize; 4] = [1000, 3, 4097, 257];

fn names() -> Vec<String> {
    (0..SIZES.len()).map(|k| format!("t{k}")).collect()
}

/// A device with f16, or `None` (after checking that f16 arenas are refused there).
fn f16_gpu() -> Option<Gpu> {
    let gpu = gpu();
    if gpu.device.features().contains(wgpu::Features::SHADER_F16) {
        Some(gpu)
    } else {
        assert!(matches!(
            Arena::with_precision(&gpu.device, &[("w", 4)], Precision::F16),
            Err(Error::MissingFeature(wgpu::Features::SHADER_F16))
        ));
        eprintln!("no SHADER_F16 on this adapter: only the typed error was checked");
        None
    }
}

/// An arena of `precision` with seeded parameters (or zeros), its optimizer and reference.
struct Run {
    gpu: Gpu,
    arena: Arena,
    alig: Alig,
    reference: AligReference,
    precision: Precision,
}

impl Run {
    fn new(gpu: Gpu, precision: Precision, config: AligConfig, init: &[Vec<f32>]) -> Self {
        let names = names();
        let specs: Vec<(&str, usize)> = names.iter().map(String::as_str).zip(SIZES).collect();
        let arena = Arena::with_precision(&gpu.device, &specs, precision).unwrap();
        for (name, values) in names.iter().zip(init) {
            arena
                .write_params(&gpu.queue, name.as_str(), values)
                .unwrap();
        }
        let alig = Alig::new(&gpu.device, &arena, config).unwrap();
        let reference = AligReference::new(config, init.iter().map(|v| to_f64(v)).collect())
            .unwrap()
            .with_precision(precision);
        Self {
            gpu,
            arena,
            alig,
            reference,
            precision,
        }
    }

    /// One step with the engine's (unscaled) gradients `grads`: they are multiplied by the
    /// current loss scale and written in the arena's precision, as an engine's backward pass
    /// would; the reference takes the same.
    fn step(&mut self, loss: f32, grads: &[Vec<f32>]) -> (wgpu_alig::StepRecord, StepFlags) {
        let scale = self.reference.loss_scale() as f32;
        let names = names();
        let scaled: Vec<Vec<f32>> = grads
            .iter()
            .map(|g| g.iter().map(|x| x * scale).collect())
            .collect();
        for (name, values) in names.iter().zip(&scaled) {
            self.arena
                .write_grads(&self.gpu.queue, name.as_str(), values)
                .unwrap();
        }
        self.alig
            .step(&self.gpu.device, &self.gpu.queue, Loss::Host(loss))
            .unwrap();
        let scaled64: Vec<Vec<f64>> = scaled.iter().map(|g| to_f64(g)).collect();
        let want = self.reference.step(f64::from(loss), &scaled64).unwrap();
        let stats = self
            .alig
            .read_stats_blocking(&self.gpu.device, &self.gpu.queue)
            .unwrap();
        let record = *stats.last().unwrap();
        assert_eq!(record.flags, want.flags, "step {}: flags", record.step);
        assert_eq!(
            f64::from(record.loss_scale),
            want.loss_scale,
            "step {}: loss scale",
            record.step
        );
        if !want.flags.skipped() {
            assert_rel(
                &format!("step {}: gamma", record.step),
                record.gamma,
                want.gamma,
                1e-6,
            );
        }
        (record, want.flags)
    }

    /// Master (or f32) parameters and momentum within the reference tolerance; the f16 copy
    /// within one f16 rounding of the reference's.
    fn assert_matches_reference(&self, what: &str) {
        let (device, queue) = (&self.gpu.device, &self.gpu.queue);
        let half = self.reference.half_params();
        for (k, name) in names().iter().enumerate() {
            let params = self
                .arena
                .read_params(device, queue, name.as_str())
                .unwrap();
            assert_close(
                &format!("{what}: params of {name}"),
                &params,
                &self.reference.params()[k],
                1e-5,
                1.0,
            );
            let momentum = self
                .alig
                .read_momentum(device, queue, name.as_str())
                .unwrap();
            assert_close(
                &format!("{what}: momentum of {name}"),
                &momentum,
                &self.reference.momentum()[k],
                1e-5,
                1.0,
            );
            if self.precision == Precision::F16 {
                let copy = self
                    .arena
                    .read_half_params(device, queue, name.as_str())
                    .unwrap();
                // The master may sit a hair from the reference's, across an f16 rounding
                // boundary: one f16 step (2^-10 relative, 2^-24 absolute near 0).
                assert_close(
                    &format!("{what}: f16 copy of {name}"),
                    &copy,
                    &half[k],
                    2f64.powi(-10),
                    2f64.powi(-14),
                );
            }
        }
    }
}

fn seeded(rng: &mut Rng, lo: f64, hi: f64) -> Vec<Vec<f32>> {
    SIZES.iter().map(|&n| rng.vec_f32(n, lo, hi)).collect()
}

/// A loss that puts gamma_hat in [0.01, 0.1] for these (unscaled) gradients.
fn loss_for(rng: &mut Rng, grads: &[Vec<f32>]) -> f32 {
    let sq: f64 = grads.iter().flatten().map(|&g| f64::from(g).powi(2)).sum();
    (rng.uniform(0.01, 0.1) * sq) as f32
}

#[test]
fn every_precision_agrees_with_the_reference_over_60_steps() {
    if f16_gpu().is_none() {
        return;
    }
    let scales = [
        LossScale::None,
        // Small enough an interval to see the scale grow during the run.
        LossScale::Dynamic {
            initial: 256.0,
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 20,
        },
    ];
    for precision in Precision::ALL {
        for momentum in [0.0, 0.9] {
            for loss_scale in scales {
                let what = format!("{precision:?}, momentum {momentum}, {loss_scale:?}");
                let config = AligConfig {
                    max_lr: Some(0.05),
                    momentum,
                    loss_scale,
                    ..AligConfig::default()
                };
                let mut rng = Rng::new(5);
                let init = seeded(&mut rng, -1.0, 1.0);
                let mut run = Run::new(gpu_with(GpuRequest::default()), precision, config, &init);
                assert_eq!(run.alig.dispatches_per_step(), 2, "{what}");
                let mut raised = 0;
                for step in 0..60 {
                    let grads = seeded(&mut rng, -1.0, 1.0);
                    let loss = loss_for(&mut rng, &grads);
                    let (_, flags) = run.step(loss, &grads);
                    assert!(!flags.skipped(), "{what}: step {step} skipped");
                    raised += usize::from(flags.intersects(StepFlags::LOSS_SCALE_RAISED));
                }
                if loss_scale.is_scaled() {
                    assert_eq!(raised, 3, "{what}: the scale grows every 20 steps");
                    assert_eq!(run.reference.loss_scale(), 2048.0, "{what}");
                }
                run.assert_matches_reference(&what);
            }
        }
    }
}

/// Gradients that overflow f16 at the initial scale: those steps are skipped with nothing
/// written, the scale halves until they fit, and training goes on. A fixed scale would skip
/// every step.
#[test]
fn gradients_that_overflow_f16_lower_the_scale_and_training_continues() {
    let Some(gpu) = f16_gpu() else { return };
    let config = AligConfig {
        loss_scale: LossScale::dynamic(),
        ..AligConfig::paper(0.05)
    };
    let mut rng = Rng::new(9);
    let init = seeded(&mut rng, -1.0, 1.0);
    let mut run = Run::new(gpu, Precision::F16, config, &init);
    let mut skipped = 0;
    for step in 0..12 {
        // |g| up to 2: times 2^16 and 2^15 beyond f16's 65504, times 2^14 inside.
        let mut grads = seeded(&mut rng, -1.0, 1.0);
        grads[2][7] = 2.0;
        let loss = loss_for(&mut rng, &grads);
        let before = run
            .arena
            .read_all_params(&run.gpu.device, &run.gpu.queue)
            .unwrap();
        let (record, flags) = run.step(loss, &grads);
        if step < 2 {
            assert!(flags.intersects(StepFlags::SKIPPED_GRAD), "step {step}");
            assert!(
                flags.intersects(StepFlags::LOSS_SCALE_LOWERED),
                "step {step}"
            );
            assert_eq!(record.loss_scale, 65536.0 / (1 << step) as f32);
            let after = run
                .arena
                .read_all_params(&run.gpu.device, &run.gpu.queue)
                .unwrap();
            assert_eq!(bits(&before), bits(&after), "step {step}: nothing written");
            skipped += 1;
        } else {
            assert!(!flags.skipped(), "step {step}: trains again");
            assert_eq!(record.loss_scale, 16384.0);
        }
    }
    assert_eq!(skipped, 2);
    run.assert_matches_reference("after the overflow");
}

/// Gradients below f16's smallest subnormal are lost without a scale (the parameters never
/// move) and train with one, close to an exact f32 run.
#[test]
fn gradients_that_underflow_f16_train_only_with_the_loss_scale() {
    if f16_gpu().is_none() {
        return;
    }
    let zeros: Vec<Vec<f32>> = SIZES.iter().map(|&n| vec![0.0; n]).collect();
    let mut runs = Vec::new();
    for (precision, loss_scale) in [
        (Precision::F16Grads, LossScale::None),
        (Precision::F16Grads, LossScale::Fixed(65536.0)),
        (Precision::F32, LossScale::None),
    ] {
        let config = AligConfig {
            loss_scale,
            ..AligConfig::paper(0.05)
        };
        runs.push(Run::new(gpu(), precision, config, &zeros));
    }
    let mut rng = Rng::new(13);
    for _ in 0..10 {
        // |g| in [1e-8, 2e-8]: below f16's smallest subnormal (6e-8) until scaled.
        let grads: Vec<Vec<f32>> = SIZES
            .iter()
            .map(|&n| {
                (0..n)
                    .map(|i| {
                        let g = rng.uniform(1e-8, 2e-8) as f32;
                        if i % 2 == 0 {
                            g
                        } else {
                            -g
                        }
                    })
                    .collect()
            })
            .collect();
        for run in runs.iter_mut() {
            run.step(1.0, &grads);
        }
    }
    let read = |run: &Run| {
        run.arena
            .read_all_params(&run.gpu.device, &run.gpu.queue)
            .unwrap()
    };
    let (unscaled, scaled, exact) = (read(&runs[0]), read(&runs[1]), read(&runs[2]));
    assert!(
        unscaled.iter().all(|&w| w == 0.0),
        "unscaled f16 gradients flush to zero"
    );
    assert!(exact.iter().all(|&w| w != 0.0));
    for (i, (s, e)) in scaled.iter().zip(&exact).enumerate() {
        // f16 keeps 11 bits of each scaled gradient.
        assert!(
            (s - e).abs() <= 1e-3 * e.abs(),
            "element {i}: scaled f16 run {s:e} vs exact f32 run {e:e}"
        );
    }
    for run in &runs {
        run.assert_matches_reference("underflow");
    }
}

/// A saved state carries the loss scale and its count; the master parameters travel with
/// the arena's (f32) parameters. The restored run continues bit for bit.
#[test]
fn save_and_restore_carry_the_scale_and_the_master_weights() {
    if f16_gpu().is_none() {
        return;
    }
    let config = AligConfig {
        loss_scale: LossScale::Dynamic {
            initial: 1024.0,
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 7,
        },
        ..AligConfig::paper(0.05)
    };
    let mut rng = Rng::new(17);
    let init = seeded(&mut rng, -1.0, 1.0);
    let mut first = Run::new(gpu(), Precision::F16, config, &init);
    for _ in 0..10 {
        let grads = seeded(&mut rng, -1.0, 1.0);
        let loss = loss_for(&mut rng, &grads);
        first.step(loss, &grads);
    }
    let (device, queue) = (&first.gpu.device, &first.gpu.queue);
    let state = first.alig.save_state(device, queue).unwrap();
    let master = first.arena.read_all_params(device, queue).unwrap();
    let state = wgpu_alig::AligState::from_bytes(&state.to_bytes()).unwrap();

    let gpu = gpu();
    let names = names();
    let specs: Vec<(&str, usize)> = names.iter().map(String::as_str).zip(SIZES).collect();
    let arena = Arena::with_precision(&gpu.device, &specs, Precision::F16).unwrap();
    arena.write_all_params(&gpu.queue, &master).unwrap();
    let mut restored = Run {
        alig: Alig::from_state(&gpu.device, &gpu.queue, &arena, &state).unwrap(),
        arena,
        gpu,
        reference: first.reference.clone(),
        precision: Precision::F16,
    };
    for _ in 0..10 {
        let grads = seeded(&mut rng, -1.0, 1.0);
        let loss = loss_for(&mut rng, &grads);
        let (a, _) = first.step(loss, &grads);
        let (b, _) = restored.step(loss, &grads);
        assert_eq!(a, b, "records");
    }
    let all = |run: &Run| {
        let (d, q) = (&run.gpu.device, &run.gpu.queue);
        let mut out = bits(&run.arena.read_all_params(d, q).unwrap());
        for name in &names {
            out.extend(bits(
                &run.arena.read_half_params(d, q, name.as_str()).unwrap(),
            ));
            out.extend(bits(&run.alig.read_momentum(d, q, name.as_str()).unwrap()));
        }
        out
    };
    assert_eq!(all(&first), all(&restored));
}

/// A device created without `SHADER_F16` refuses f16 arenas with a typed error, on every
/// backend; f32 arenas are unchanged there.
#[test]
fn a_device_without_f16_refuses_f16_arenas() {
    let gpu = gpu_with(GpuRequest {
        f16: false,
        ..GpuRequest::default()
    });
    for precision in [Precision::F16Grads, Precision::F16] {
        assert!(matches!(
            Arena::with_precision(&gpu.device, &[("w", 4)], precision),
            Err(Error::MissingFeature(wgpu::Features::SHADER_F16))
        ));
    }
    assert!(Arena::with_precision(&gpu.device, &[("w", 4)], Precision::F32).is_ok());
}
