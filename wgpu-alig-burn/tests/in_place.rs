//! The parameters live in the optimizer's arena: after a step the module's trainable
//! parameters are views of it (burn reads what the step wrote, and only the gradients are
//! copied per step), a parameter
//! replaced by the user is adopted at the next step, burn never writes a view in place, and a
//! module of other parameters is a typed error.

mod common;

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use wgpu_alig::AligConfig;
use wgpu_alig::reference::AligReference;
use wgpu_alig_burn::{AligOptimizer, Error};

use common::{HostParam, Mlp, TestDevice, read_loss, read_params};

const TRAINABLE: [&str; 4] = [
    "hidden.weight",
    "hidden.bias",
    "output.weight",
    "output.bias",
];

/// ALI-G without momentum: a step depends on the parameters, gradients and loss alone.
fn config() -> AligConfig {
    AligConfig {
        max_lr: Some(0.5),
        ..AligConfig::default()
    }
}

/// Doubles every float parameter, consuming its tensor: where burn may reuse a buffer
/// nothing else holds, it writes the result in place.
struct Double;

impl ModuleMapper for Double {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| {
            let require_grad = tensor.is_require_grad();
            tensor
                .mul_scalar(2.0)
                .detach()
                .set_require_grad(require_grad)
        })
    }
}

fn values<'a>(params: &'a [HostParam], path: &str) -> &'a [f32] {
    &params.iter().find(|p| p.path == path).unwrap().values
}

/// The trainable parameters as the arena holds them.
fn arena_values(alig: &AligOptimizer) -> Vec<Vec<f32>> {
    let (shared, arena) = (alig.shared_device(), alig.arena().unwrap());
    TRAINABLE
        .iter()
        .map(|path| {
            arena
                .read_params(&shared.device, &shared.queue, *path)
                .unwrap()
        })
        .collect()
}

#[test]
fn the_module_reads_the_arena_in_place_after_a_step() {
    let test = TestDevice::open();
    let (shared, device) = (test.shared(), &test.device);
    let (x, y) = test.data(3);
    let mut model = Mlp::new(device);
    let mut alig = AligOptimizer::new(shared, config()).unwrap();
    let frozen = read_params(&model, None);
    // hidden 6x12 + 12, output 12x3 + 3 floats: adopted at the first step, then in place.
    let bytes = 4 * (6 * 12 + 12 + 12 * 3 + 3);
    for (step, param_bytes) in [(0, bytes), (1, 0), (2, 0)] {
        let loss = model.loss(&x, &y);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = alig.step(&loss, model, grads).unwrap();
        let copied = alig.last_step_copies();
        assert_eq!(
            copied.param_bytes, param_bytes,
            "step {step}: parameters copied"
        );
        assert_eq!(copied.grad_bytes, bytes, "step {step}: gradients copied");
    }
    // Values written into the arena are what the module's parameters hold: they are views.
    let arena = alig.arena().unwrap();
    for (k, path) in TRAINABLE.iter().enumerate() {
        let len = arena.tensor(*path).unwrap().len;
        let marked: Vec<f32> = (0..len).map(|i| (100 * k + i) as f32).collect();
        arena.write_params(&shared.queue, *path, &marked).unwrap();
        assert_eq!(values(&read_params(&model, None), path), marked, "{path}");
    }
    let now = read_params(&model, None);
    for path in ["frozen.weight", "frozen.bias"] {
        assert_eq!(values(&now, path), values(&frozen, path), "{path}");
    }
}

#[test]
fn a_replaced_parameter_is_adopted_and_burn_never_writes_a_view_in_place() {
    let test = TestDevice::open();
    let (shared, device) = (test.shared(), &test.device);
    let (x, y) = test.data(5);
    let mut model = Mlp::new(device);
    let mut alig = AligOptimizer::new(shared, config()).unwrap();
    let loss = model.loss(&x, &y);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    model = alig.step(&loss, model, grads).unwrap();
    let stepped = arena_values(&alig);

    // The user replaces every parameter: the arena keeps the step's values.
    let model = model.map(&mut Double);
    assert_eq!(arena_values(&alig), stepped, "a view was written in place");
    let doubled = read_params(&model, None);
    for (k, path) in TRAINABLE.iter().enumerate() {
        let twice: Vec<f32> = stepped[k].iter().map(|v| 2.0 * v).collect();
        assert_eq!(values(&doubled, path), twice, "{path}");
    }

    // The next step adopts the doubled parameters and steps them as the reference does.
    let loss = model.loss(&x, &y);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let before = read_params(&model, Some(&grads));
    let to_f64 = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
    let start = TRAINABLE
        .iter()
        .map(|p| to_f64(values(&before, p)))
        .collect();
    let reference_grads: Vec<Vec<f64>> = TRAINABLE
        .iter()
        .map(|path| {
            let param = before.iter().find(|p| p.path == *path).unwrap();
            to_f64(param.grad.as_ref().unwrap())
        })
        .collect();
    let mut reference = AligReference::new(config(), start).unwrap();
    reference
        .step(f64::from(read_loss(&loss)), &reference_grads)
        .unwrap();
    let model = alig.step(&loss, model, grads).unwrap();
    let after = read_params(&model, None);
    for (k, path) in TRAINABLE.iter().enumerate() {
        for (i, (&g, &r)) in values(&after, path)
            .iter()
            .zip(&reference.params()[k])
            .enumerate()
        {
            let diff = (f64::from(g) - r).abs();
            assert!(
                diff <= 2e-5 * r.abs().max(1e-2),
                "{path}[{i}] {g:e} vs {r:e}"
            );
        }
    }
    // Adopted: the module's parameters are the arena's again.
    let arena: Vec<Vec<f32>> = TRAINABLE
        .iter()
        .map(|p| values(&after, p).to_vec())
        .collect();
    assert_eq!(arena_values(&alig), arena);
}

#[test]
fn a_module_of_other_parameters_is_a_typed_error_and_changes_nothing() {
    let test = TestDevice::open();
    let (shared, device) = (test.shared(), &test.device);
    let (x, y) = test.data(9);
    let model = Mlp::new(device);
    let mut alig = AligOptimizer::new(shared, config()).unwrap();
    let loss = model.loss(&x, &y);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = alig.step(&loss, model, grads).unwrap();
    let stepped = arena_values(&alig);

    // Another module: its parameters have other ids than those the arena was made for.
    let other = Mlp::new(device);
    let loss = other.loss(&x, &y);
    let grads = GradientsParams::from_grads(loss.backward(), &other);
    let result = alig.step(&loss, other, grads);
    assert!(
        matches!(result, Err(Error::TrainableSetChanged(_))),
        "{:?}",
        result.err()
    );
    assert_eq!(arena_values(&alig), stepped);
    drop(model);
}
