//! The optimizer's record (burnpack) round-trips: an optimizer loaded from it continues the
//! run as the original does, bit for bit, on an identical copy of the model.

mod common;

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use wgpu_alig::AligConfig;
use wgpu_alig_burn::{AligOptimizer, PathGroup, SharedDevice};

use common::{Mlp, TestDevice, read_params};

/// A copy of a module's parameters in buffers of their own: clones of burn modules share
/// buffers, and the steps write them in place.
struct DeepCopy;

impl ModuleMapper for DeepCopy {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| {
            let require_grad = tensor.is_require_grad();
            let copy = Tensor::<D>::from_data(tensor.to_data(), &tensor.device());
            if require_grad {
                copy.require_grad()
            } else {
                copy
            }
        })
    }
}

#[test]
fn a_loaded_record_continues_the_run_bit_for_bit() {
    continues_bit_for_bit(
        "one-group",
        |shared| AligOptimizer::new(shared, AligConfig::paper(0.5)).unwrap(),
        |_| {},
    );
}

#[test]
fn a_loaded_record_continues_a_run_with_groups_and_new_settings_bit_for_bit() {
    // The setting reaches the original's core optimizer at once and the loaded ones' after
    // their first step restores them: the same steps either way.
    continues_bit_for_bit(
        "groups",
        |shared| {
            let groups = vec![
                PathGroup::under("hidden", Some(0.5), 0.9),
                PathGroup::under("output", Some(0.2), 0.5),
            ];
            AligOptimizer::with_groups(shared, AligConfig::paper(0.5), groups).unwrap()
        },
        |alig| {
            alig.set_max_lr(1, Some(0.01)).unwrap();
            alig.set_momentum(0, 0.0).unwrap();
        },
    );
}

/// Three steps with the optimizer `make` builds, a save (to a file named after `name`) and two
/// loads, `change` on all three,
/// then two more steps of each on identical copies of the model.
fn continues_bit_for_bit(
    name: &str,
    make: impl Fn(&SharedDevice) -> AligOptimizer,
    change: impl Fn(&mut AligOptimizer),
) {
    let test = TestDevice::open();
    let (shared, device) = (test.shared(), &test.device);
    let (x, y) = test.data(5);
    let mut model = Mlp::new(device);
    let mut alig = make(shared);
    for _ in 0..3 {
        let loss = model.loss(&x, &y);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = alig.step(&loss, model, grads).unwrap();
    }
    // One file per test: the tests of this binary run in parallel.
    let path = std::env::temp_dir().join(format!(
        "wgpu-alig-burn-record-{}-{}.bpk",
        std::process::id(),
        name
    ));
    alig.save(&path).unwrap();
    let mut restored = AligOptimizer::load(shared, &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let bytes = alig.to_bytes().unwrap();
    let mut from_bytes = AligOptimizer::from_bytes(shared, bytes).unwrap();

    for optimizer in [&mut alig, &mut restored, &mut from_bytes] {
        change(optimizer);
    }

    let mut copy = model.clone().map(&mut DeepCopy);
    let mut copy_from_bytes = model.clone().map(&mut DeepCopy);
    for _ in 0..2 {
        let loss = model.loss(&x, &y);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = alig.step(&loss, model, grads).unwrap();

        let loss = copy.loss(&x, &y);
        let grads = GradientsParams::from_grads(loss.backward(), &copy);
        copy = restored.step(&loss, copy, grads).unwrap();

        let loss = copy_from_bytes.loss(&x, &y);
        let grads = GradientsParams::from_grads(loss.backward(), &copy_from_bytes);
        copy_from_bytes = from_bytes.step(&loss, copy_from_bytes, grads).unwrap();
    }
    let original = read_params(&model, None);
    for continued in [
        read_params(&copy, None),
        read_params(&copy_from_bytes, None),
    ] {
        for (a, b) in original.iter().zip(&continued) {
            assert_eq!(a.path, b.path);
            assert_eq!(a.values, b.values, "{} differs after loading", a.path);
        }
    }
    let steps = |o: &AligOptimizer| o.read_stats().unwrap().unwrap().steps;
    assert_eq!(steps(&restored), 5);
    assert_eq!(steps(&from_bytes), 5);
}
