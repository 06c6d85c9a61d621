//! The steps read nothing back: burn's runtime stages every read to the host in its staging
//! memory, which stays empty through steps (the loss is read by the GPU from its buffer), and
//! a single read of the loss fills it: the probe sees reads.

mod common;

use burn::optim::GradientsParams;
use wgpu_alig::AligConfig;
use wgpu_alig_burn::{AligOptimizer, staging_pages_peak};

use common::{Mlp, TestDevice, read_loss};

const STEPS: usize = 5;

#[test]
fn steps_make_zero_host_reads_and_one_read_is_counted() {
    let test = TestDevice::open();
    let (shared, device) = (test.shared(), &test.device);
    let (x, y) = test.data(11);
    let mut model = Mlp::new(device);
    let mut alig = AligOptimizer::new(shared, AligConfig::paper(0.5)).unwrap();
    let mut reads_per_step = Vec::new();
    let mut loss = model.loss(&x, &y);
    for _ in 0..STEPS {
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let before = staging_pages_peak(&loss).unwrap();
        model = alig.step(&loss, model, grads).unwrap();
        loss = model.loss(&x, &y);
        reads_per_step.push(staging_pages_peak(&loss).unwrap() - before);
    }
    assert_eq!(reads_per_step, vec![0; STEPS], "host reads per step");
    assert_eq!(
        staging_pages_peak(&loss).unwrap(),
        0,
        "no read since the device opened"
    );

    // The same probe after one read of the loss: it counts.
    let value = read_loss(&loss);
    assert!(value.is_finite());
    assert!(
        staging_pages_peak(&loss).unwrap() >= 1,
        "the probe missed a read"
    );
    // And the steps did train: the loss fell.
    let stats = alig.read_stats().unwrap().unwrap();
    let first = stats.records.first().unwrap().loss;
    assert!(value < first, "loss {first} -> {value}");
}
