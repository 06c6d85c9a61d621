//! A burn MLP trained with the adapter follows the f64 reference of the core crate step by
//! step: every trainable parameter after every step, and the frozen layer is never written.

mod common;

use burn::optim::GradientsParams;
use wgpu_alig::AligConfig;
use wgpu_alig::reference::AligReference;
use wgpu_alig_burn::AligOptimizer;

use common::{Mlp, TestDevice, read_loss, read_params};

const STEPS: usize = 6;

#[test]
fn every_parameter_follows_the_f64_reference_after_every_step() {
    let test = TestDevice::open();
    let (shared, device) = (test.shared(), &test.device);
    let (x, y) = test.data(7);
    let mut model = Mlp::new(device);
    let config = AligConfig::paper(0.5);
    let mut alig = AligOptimizer::new(shared, config).unwrap();

    let initial = read_params(&model, None);
    let trainable: Vec<&str> = [
        "hidden.weight",
        "hidden.bias",
        "output.weight",
        "output.bias",
    ]
    .to_vec();
    let start: Vec<Vec<f64>> = trainable
        .iter()
        .map(|path| {
            let param = initial.iter().find(|p| p.path == *path).unwrap();
            param.values.iter().map(|&v| f64::from(v)).collect()
        })
        .collect();
    let mut reference = AligReference::new(config, start).unwrap();
    let mut losses = Vec::new();

    for step in 0..STEPS {
        let loss = model.loss(&x, &y);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        // Read outside the step, for the reference only.
        let before = read_params(&model, Some(&grads));
        let loss_value = read_loss(&loss);
        losses.push(loss_value);
        let reference_grads: Vec<Vec<f64>> = trainable
            .iter()
            .map(|path| {
                let param = before.iter().find(|p| p.path == *path).unwrap();
                let grad = param
                    .grad
                    .as_ref()
                    .expect("a trainable parameter has a gradient");
                grad.iter().map(|&g| f64::from(g)).collect()
            })
            .collect();
        for param in before.iter().filter(|p| p.path.starts_with("frozen")) {
            assert!(param.grad.is_none(), "{} is frozen", param.path);
        }
        let size = reference
            .step(f64::from(loss_value), &reference_grads)
            .unwrap();
        assert!(size.gamma > 0.0, "step {step}: a real step, not a skip");

        model = alig.step(&loss, model, grads).unwrap();

        let after = read_params(&model, None);
        for (k, path) in trainable.iter().enumerate() {
            let gpu = &after.iter().find(|p| p.path == *path).unwrap().values;
            let expected = &reference.params()[k];
            for (i, (&g, &r)) in gpu.iter().zip(expected).enumerate() {
                let diff = (f64::from(g) - r).abs();
                assert!(
                    diff <= 2e-5 * r.abs().max(1e-2),
                    "step {step}: {path}[{i}] gpu {g:e} vs reference {r:e}"
                );
            }
        }
        for param in initial.iter().filter(|p| p.path.starts_with("frozen")) {
            let now = after.iter().find(|p| p.path == param.path).unwrap();
            assert_eq!(
                now.values, param.values,
                "step {step}: frozen {} was written",
                param.path
            );
        }
    }

    // The steps read the loss tensor's own buffer: each record holds that loss, bit for bit.
    let stats = alig.read_stats().unwrap().unwrap();
    assert_eq!(stats.steps as usize, STEPS);
    let recorded: Vec<f32> = stats.records.iter().map(|record| record.loss).collect();
    assert_eq!(recorded, losses);
}
