//! A module, gradient or loss of another device is refused with the core crate's typed error,
//! before anything is recorded.

mod common;

use wgpu_alig::AligConfig;
use wgpu_alig_burn::{AligOptimizer, Error};

use common::{TestDevice, step_new_model};

#[test]
fn a_model_of_another_device_is_wrong_device() {
    let test = TestDevice::open();
    let other = TestDevice::open();
    let (x, y) = test.data(3);
    let mut alig = AligOptimizer::new(other.shared(), AligConfig::paper(0.5)).unwrap();
    let error = step_new_model(&mut alig, &test.device, (&x, &y)).expect_err("refused");
    assert!(
        matches!(error, Error::Alig(wgpu_alig::Error::WrongDevice)),
        "{error:?}"
    );
    assert!(alig.alig().is_none(), "nothing was mapped");
}
