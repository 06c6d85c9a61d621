//! Parameter groups by module path: each group steps with its own `max_lr` and momentum as
//! the core crate's f64 reference does, settings changed between steps take effect at the
//! next step, parameters in no group (with a gradient or not) are never written, and bad
//! groups are typed errors.

mod common;

use burn::optim::GradientsParams;
use wgpu_alig::reference::AligReference;
use wgpu_alig::{AligConfig, ParamGroup};
use wgpu_alig_burn::{AligOptimizer, Error, PathGroup};

use common::{HostParam, Mlp, TestDevice, read_loss, read_params, step_new_model};

const STEPS: usize = 6;
/// The MLP's trained layers' parameters, in the module's order.
const TRAINED: [&str; 4] = [
    "hidden.weight",
    "hidden.bias",
    "output.weight",
    "output.bias",
];

fn values(params: &[HostParam], path: &str) -> Vec<f64> {
    let param = params.iter().find(|p| p.path == path).unwrap();
    param.values.iter().map(|&v| f64::from(v)).collect()
}

fn grads(params: &[HostParam], path: &str) -> Vec<f64> {
    let param = params.iter().find(|p| p.path == path).unwrap();
    let grad = param.grad.as_ref().expect("a gradient");
    grad.iter().map(|&g| f64::from(g)).collect()
}

/// Trains with `groups` and checks every step against the reference over `trained` (the
/// paths in the groups, in the module's order) with `reference_groups`; `change` runs
/// before step 3 on both. Parameters outside `trained` must never change.
fn follows_the_reference(
    groups: Vec<PathGroup>,
    trained: &[&str],
    reference_groups: &[ParamGroup],
    change: impl Fn(&mut AligOptimizer, &mut AligReference),
) {
    let test = TestDevice::open();
    let (x, y) = test.data(13);
    let mut model = Mlp::new(&test.device);
    let config = AligConfig::paper(0.5);
    let mut alig = AligOptimizer::with_groups(test.shared(), config, groups).unwrap();
    let initial = read_params(&model, None);
    let start = trained.iter().map(|path| values(&initial, path)).collect();
    let mut reference = AligReference::with_groups(config, trained, start, reference_groups)
        .expect("the reference's groups");
    for step in 0..STEPS {
        if step == 3 {
            change(&mut alig, &mut reference);
        }
        let loss = model.loss(&x, &y);
        let grads_params = GradientsParams::from_grads(loss.backward(), &model);
        let before = read_params(&model, Some(&grads_params));
        let reference_grads: Vec<Vec<f64>> =
            trained.iter().map(|path| grads(&before, path)).collect();
        reference
            .step(f64::from(read_loss(&loss)), &reference_grads)
            .unwrap();
        model = alig.step(&loss, model, grads_params).unwrap();

        let after = read_params(&model, None);
        for (k, path) in trained.iter().enumerate() {
            for (i, (g, r)) in values(&after, path)
                .iter()
                .zip(&reference.params()[k])
                .enumerate()
            {
                assert!(
                    (g - r).abs() <= 2e-5 * r.abs().max(1e-2),
                    "step {step}: {path}[{i}] gpu {g:e} vs reference {r:e}"
                );
            }
        }
        for param in initial
            .iter()
            .filter(|p| !trained.contains(&p.path.as_str()))
        {
            let now = after.iter().find(|p| p.path == param.path).unwrap();
            assert_eq!(
                now.values, param.values,
                "step {step}: {} was written",
                param.path
            );
        }
    }
}

#[test]
fn two_groups_step_with_their_own_max_lr_and_momentum() {
    let trained = TRAINED;
    follows_the_reference(
        vec![
            PathGroup::under("hidden", Some(0.5), 0.9),
            PathGroup::matching(|path| path.starts_with("output"), Some(0.05), 0.0),
        ],
        &trained,
        &[
            ParamGroup::new(&trained[..2], Some(0.5), 0.9),
            ParamGroup::new(&trained[2..], Some(0.05), 0.0),
        ],
        |_, _| {},
    );
}

#[test]
fn settings_changed_between_steps_hold_from_the_next_step() {
    let trained = TRAINED;
    follows_the_reference(
        vec![
            PathGroup::under("hidden", Some(0.5), 0.9),
            PathGroup::under("output", Some(0.5), 0.9),
        ],
        &trained,
        &[
            ParamGroup::new(&trained[..2], Some(0.5), 0.9),
            ParamGroup::new(&trained[2..], Some(0.5), 0.9),
        ],
        |alig, reference| {
            alig.set_max_lr(1, Some(0.01)).unwrap();
            alig.set_momentum(0, 0.0).unwrap();
            reference.set_max_lr(1, Some(0.01)).unwrap();
            reference.set_momentum(0, 0.0).unwrap();
        },
    );
}

#[test]
fn parameters_in_no_group_are_never_written() {
    // The output layer has gradients but no group: the norm and the update see the hidden
    // layer only, as the reference over the hidden layer alone.
    let trained = ["hidden.weight", "hidden.bias"];
    follows_the_reference(
        vec![PathGroup::under("hidden", Some(0.5), 0.9)],
        &trained,
        &[ParamGroup::new(&trained, Some(0.5), 0.9)],
        |_, _| {},
    );
}

#[test]
fn bad_groups_are_typed_errors() {
    let test = TestDevice::open();
    let (x, y) = test.data(17);
    let config = AligConfig::paper(0.5);
    let invalid = AligOptimizer::with_groups(
        test.shared(),
        config,
        vec![PathGroup::under("hidden", Some(0.5), 1.5)],
    );
    assert!(matches!(
        invalid.err(),
        Some(Error::Alig(wgpu_alig::Error::InvalidMomentum(_)))
    ));

    let groups = vec![PathGroup::under("hidden", Some(0.5), 0.9)];
    let mut alig = AligOptimizer::with_groups(test.shared(), config, groups).unwrap();
    assert!(matches!(
        alig.set_max_lr(1, Some(0.1)),
        Err(Error::Alig(wgpu_alig::Error::UnknownGroup {
            group: 1,
            groups: 1
        }))
    ));

    let overlapping = vec![
        PathGroup::under("hidden", Some(0.5), 0.9),
        PathGroup::matching(|path| path.ends_with("bias"), Some(0.5), 0.9),
    ];
    let mut alig = AligOptimizer::with_groups(test.shared(), config, overlapping).unwrap();
    let error = step_new_model(&mut alig, &test.device, (&x, &y)).expect_err("refused");
    assert!(
        matches!(error, Error::Alig(wgpu_alig::Error::TensorInTwoGroups(_))),
        "{error:?}"
    );

    let none = vec![PathGroup::under("nothing", Some(0.5), 0.9)];
    let mut alig = AligOptimizer::with_groups(test.shared(), config, none).unwrap();
    let error = step_new_model(&mut alig, &test.device, (&x, &y)).expect_err("refused");
    assert!(
        matches!(error, Error::Alig(wgpu_alig::Error::NothingToTrain)),
        "{error:?}"
    );
}
