//! The parameters live in the optimizer's arena: after a step the module's trainable
//! parameters are views of it (burn reads what the step wrote, and only the gradients are
//! copied per step), a parameter
//! replaced by the user is adopted at the next step, burn never writes a view in place, and a
//! module of other parameters is a typed error.

mod common;

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::TensorData;
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

/// The trainable parameters' bytes: hidden 6x12 + 12, output 12x3 + 3 floats.
const BYTES: u64 = 4 * (6 * 12 + 12 + 12 * 3 + 3);

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
    let bytes = BYTES;
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

    // The user replaces every parameter: the arena keeps the step's values. Burn runs its
    // queued work first (an in-place write would happen there).
    let model = model.map(&mut Double);
    device.sync().unwrap();
    assert_eq!(arena_values(&alig), stepped, "a view was written in place");
    let doubled = read_params(&model, None);
    for (k, path) in TRAINABLE.iter().enumerate() {
        let twice: Vec<f32> = stepped[k].iter().map(|v| 2.0 * v).collect();
        assert_eq!(values(&doubled, path), twice, "{path}");
    }

    // The next step adopts the doubled parameters and steps them as the reference does.
    step_as_the_reference(&mut alig, model, &x, &y);
    assert_eq!(alig.last_step_copies().param_bytes, BYTES, "all adopted");
}

/// One step of `alig` on `model`, checked against the f64 reference started from the model's
/// parameters (the config has no momentum: a step depends on nothing else); afterwards the
/// module's trainable parameters are the arena's.
fn step_as_the_reference(
    alig: &mut AligOptimizer,
    model: Mlp,
    x: &Tensor<2>,
    y: &Tensor<2>,
) -> Mlp {
    let loss = model.loss(x, y);
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
        let expected = &reference.params()[k];
        for (i, (&g, &r)) in values(&after, path).iter().zip(expected).enumerate() {
            let diff = (f64::from(g) - r).abs();
            assert!(
                diff <= 2e-5 * r.abs().max(1e-2),
                "{path}[{i}] {g:e} vs {r:e}"
            );
        }
    }
    let arena: Vec<Vec<f32>> = TRAINABLE
        .iter()
        .map(|p| values(&after, p).to_vec())
        .collect();
    assert_eq!(
        arena_values(alig),
        arena,
        "the module's parameters are the arena's"
    );
    model
}

/// Two parameters of one shape, for a swap.
#[derive(Module, Debug)]
struct Twins {
    a: Param<Tensor<1>>,
    b: Param<Tensor<1>>,
}

impl Twins {
    fn loss(&self, target: &Tensor<1>) -> Tensor<1> {
        let da = self.a.val() - target.clone();
        let db = self.b.val().mul_scalar(3.0) - target.clone();
        (da.clone() * da).sum() + (db.clone() * db).sum()
    }
}

#[test]
fn swapped_parameters_are_adopted_each_with_the_others_values() {
    let test = TestDevice::open();
    let (shared, device) = (test.shared(), &test.device);
    let (x, _) = test.data(11);
    let target = x.flatten::<1>(0, 1).narrow(0, 0, 40);
    let param = |offset: f32| {
        let values: Vec<f32> = (0..40).map(|i| offset + 0.01 * i as f32).collect();
        Param::from_tensor(Tensor::<1>::from_data(
            TensorData::from(&values[..]),
            device,
        ))
    };
    let model = Twins {
        a: param(0.5),
        b: param(-0.25),
    };
    let mut alig = AligOptimizer::new(shared, config()).unwrap();
    let loss = model.loss(&target);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = alig.step(&loss, model, grads).unwrap();

    // Each parameter takes the other's tensor under its own id: each is now the view of the
    // other's slot, which the adoption must read before it writes either.
    let Twins { a, b } = model;
    let model = Twins {
        a: Param::initialized(a.id, b.val()),
        b: Param::initialized(b.id, a.val()),
    };
    drop((a, b));
    let loss = model.loss(&target);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let before = read_params(&model, Some(&grads));
    let to_f64 = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
    let start = before.iter().map(|p| to_f64(&p.values)).collect();
    let reference_grads: Vec<Vec<f64>> = before
        .iter()
        .map(|p| to_f64(p.grad.as_ref().unwrap()))
        .collect();
    let mut reference = AligReference::new(config(), start).unwrap();
    reference
        .step(f64::from(read_loss(&loss)), &reference_grads)
        .unwrap();
    let model = alig.step(&loss, model, grads).unwrap();
    assert_eq!(
        alig.last_step_copies().param_bytes,
        2 * 40 * 4,
        "both adopted"
    );
    let after = read_params(&model, None);
    for (k, param) in after.iter().enumerate() {
        for (i, (&g, &r)) in param.values.iter().zip(&reference.params()[k]).enumerate() {
            let diff = (f64::from(g) - r).abs();
            assert!(
                diff <= 2e-5 * r.abs().max(1e-2),
                "{}[{i}] {g:e} vs {r:e}",
                param.path
            );
        }
    }
}

#[test]
fn a_module_loaded_from_a_record_is_adopted_and_steps_on() {
    let test = TestDevice::open();
    let (shared, device) = (test.shared(), &test.device);
    let (x, y) = test.data(13);
    let model = Mlp::new(device);
    let mut alig = AligOptimizer::new(shared, config()).unwrap();
    let model = step_as_the_reference(&mut alig, model, &x, &y);
    // The record keeps the parameters' ids; the loaded tensors are new buffers.
    let loaded = Mlp::new(device).load_record(model.clone().into_record());
    drop(model);
    let loaded = step_as_the_reference(&mut alig, loaded, &x, &y);
    assert_eq!(alig.last_step_copies().param_bytes, BYTES, "all adopted");
    step_as_the_reference(&mut alig, loaded, &x, &y);
    assert_eq!(alig.last_step_copies().param_bytes, 0, "in place again");
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
