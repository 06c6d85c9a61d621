//! A module, gradient or loss of another device is refused with the core crate's typed error,
//! before anything is recorded.

mod common;

use burn::optim::GradientsParams;
use wgpu_alig::AligConfig;
use wgpu_alig_burn::{AligOptimizer, Error};

use common::{Mlp, TestDevice};

#[test]
fn a_model_of_another_device_is_wrong_device() {
    let test = TestDevice::open();
    let other = TestDevice::open();
    let (x, y) = test.data(3);
    let mut alig = AligOptimizer::new(other.shared(), AligConfig::paper(0.5)).unwrap();
    let model = Mlp::new(&test.device);
    let loss = model.loss(&x, &y);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let error = alig.step(&loss, model, grads).expect_err("refused");
    assert!(
        matches!(error, Error::Alig(wgpu_alig::Error::WrongDevice)),
        "{error:?}"
    );
    assert!(alig.alig().is_none(), "nothing was mapped");
}
