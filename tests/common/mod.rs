//! Helpers shared by the GPU tests: a real adapter (or a failure that says how to get one),
//! seeded random data, and float comparisons that report where they fail.
#![allow(dead_code)]

mod compare;
/// The examples' reads of raw buffers. (The examples' integration tests load it a second
/// time, in the engine they test.)
#[allow(clippy::duplicate_mod)]
#[path = "../../examples/common/readback.rs"]
pub mod readback;

pub use compare::*;
use wgpu_alig::{Alig, Arena, Gpu, GpuRequest};

/// A device on a real adapter. No adapter is a test failure, never a silent pass.
pub fn gpu() -> Gpu {
    gpu_with(GpuRequest::default())
}

/// A device with the given request. Names its adapter on stderr, which a failing test shows.
pub fn gpu_with(request: GpuRequest) -> Gpu {
    match pollster::block_on(Gpu::request(request)) {
        Ok(gpu) => {
            eprintln!("adapter: {}", gpu.describe());
            gpu
        }
        Err(e) => panic!("these tests need a real GPU adapter: {e}"),
    }
}

/// The bit patterns of `values`, for comparisons that must be exact: unlike `==` on floats,
/// NaN equals itself and -0.0 differs from 0.0.
pub fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Parameters then momentum of each tensor of `names`, as bits, read back from the GPU.
pub fn state_bits(gpu: &Gpu, arena: &Arena, alig: &Alig, names: &[&str]) -> Vec<Vec<u32>> {
    let mut state = Vec::new();
    for name in names {
        let params = arena.read_params(&gpu.device, &gpu.queue, name).unwrap();
        let momentum = alig.read_momentum(&gpu.device, &gpu.queue, name).unwrap();
        state.push(bits(&params));
        state.push(bits(&momentum));
    }
    state
}

/// What a run of [`run_against_reference`] leaves: the GPU's state and the reference's.
pub struct Run {
    /// The parameters written before the first step.
    pub init: Vec<Vec<f32>>,
    pub params: Vec<Vec<f32>>,
    pub momentum: Vec<Vec<f32>>,
    pub stats: wgpu_alig::StatsSnapshot,
    pub expected: Vec<wgpu_alig::reference::StepSize>,
    pub reference: wgpu_alig::reference::AligReference,
    pub dispatches_per_step: usize,
}

/// Runs `steps` steps on the GPU and on the f64 reference with the same seeded parameters,
/// gradients (uniform in [-1, 1)) and losses, every tensor (named `t0`, `t1`, ...) in one
/// group. Each loss is chosen so that gamma_hat lands in [0.01, 0.1]: clipped by a max_lr of
/// 0.05 about half of the time, and large enough that the parameters move.
pub fn run_against_reference(
    gpu: &Gpu,
    sizes: &[usize],
    config: wgpu_alig::AligConfig,
    steps: usize,
    seed: u64,
) -> Run {
    run_groups_against_reference(gpu, sizes, config, None, steps, seed)
}

/// [`run_against_reference`] with parameter groups (`None`: one group of every tensor). The
/// gradients of frozen tensors are NaN on the GPU: they must count nowhere.
pub fn run_groups_against_reference(
    gpu: &Gpu,
    sizes: &[usize],
    config: wgpu_alig::AligConfig,
    groups: Option<&[wgpu_alig::ParamGroup]>,
    steps: usize,
    seed: u64,
) -> Run {
    use wgpu_alig::{reference::AligReference, Alig, Arena, Loss, ParamGroup};
    let mut rng = Rng::new(seed);
    let names: Vec<String> = (0..sizes.len()).map(|k| format!("t{k}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let tensors: Vec<(&str, usize)> = names.iter().copied().zip(sizes.iter().copied()).collect();
    let groups = match groups {
        Some(groups) => groups.to_vec(),
        None => vec![ParamGroup::new(&names, config.max_lr, config.momentum)],
    };
    let trainable: Vec<bool> = names
        .iter()
        .map(|n| groups.iter().any(|g| g.tensors.iter().any(|t| t == n)))
        .collect();
    let arena = Arena::new(&gpu.device, &tensors).unwrap();
    let init: Vec<Vec<f32>> = sizes.iter().map(|&n| rng.vec_f32(n, -1.0, 1.0)).collect();
    for (name, values) in names.iter().zip(&init) {
        arena.write_params(&gpu.queue, name, values).unwrap();
    }
    let mut alig = Alig::with_groups(&gpu.device, &arena, config, &groups).unwrap();
    let init64 = init.iter().map(|v| to_f64(v)).collect();
    let mut reference = AligReference::with_groups(config, &names, init64, &groups).unwrap();
    let mut expected = Vec::new();
    for _ in 0..steps {
        let grads: Vec<Vec<f32>> = sizes.iter().map(|&n| rng.vec_f32(n, -1.0, 1.0)).collect();
        for ((name, values), &trains) in names.iter().zip(&grads).zip(&trainable) {
            let values = if trains {
                values.clone()
            } else {
                vec![f32::NAN; values.len()]
            };
            arena.write_grads(&gpu.queue, name, &values).unwrap();
        }
        let grads64: Vec<Vec<f64>> = grads.iter().map(|g| to_f64(g)).collect();
        let sq_norm: f64 = grads64
            .iter()
            .zip(&trainable)
            .filter(|(_, &trains)| trains)
            .flat_map(|(g, _)| g)
            .map(|g| g * g)
            .sum();
        let loss = (rng.uniform(0.01, 0.1) * sq_norm) as f32;
        alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))
            .unwrap();
        expected.push(reference.step(f64::from(loss), &grads64).unwrap());
    }
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    let params = names
        .iter()
        .map(|n| arena.read_params(&gpu.device, &gpu.queue, n).unwrap())
        .collect();
    let momentum = names
        .iter()
        .map(|n| alig.read_momentum(&gpu.device, &gpu.queue, n).unwrap())
        .collect();
    Run {
        init,
        params,
        momentum,
        stats,
        expected,
        reference,
        dispatches_per_step: alig.dispatches_per_step(),
    }
}

impl Run {
    /// Parameters then momentum of each tensor, as bits, in the order of [`state_bits`].
    pub fn state_bits(&self) -> Vec<Vec<u32>> {
        self.params
            .iter()
            .zip(&self.momentum)
            .flat_map(|(params, momentum)| [bits(params), bits(momentum)])
            .collect()
    }
}

/// Checks a [`Run`] against its reference: flags and step sizes within 1e-6 relative, every
/// parameter and momentum within 1e-5 relative to max(|value|, 1) (see
/// tests/reference_agreement.rs for why these tolerances).
pub fn assert_run_matches_reference(what: &str, run: &Run) {
    assert_eq!(
        run.stats.steps as usize,
        run.expected.len(),
        "{what}: steps"
    );
    assert_eq!(
        run.stats.records.len(),
        run.expected.len(),
        "{what}: records"
    );
    for (record, want) in run.stats.records.iter().zip(&run.expected) {
        let what = format!("{what}: step {}", record.step);
        assert_eq!(record.flags, want.flags, "{what}: flags");
        assert_rel(&format!("{what}: gamma"), record.gamma, want.gamma, 1e-6);
        assert_rel(
            &format!("{what}: gamma_hat"),
            record.gamma_hat,
            want.gamma_hat,
            1e-6,
        );
        // ||w||^2 is 0 on both sides without projection.
        let what = format!("{what}: ||w||^2");
        if want.param_sq_norm == 0.0 {
            assert_eq!(record.param_sq_norm, 0.0, "{what}");
        } else {
            assert_rel(&what, record.param_sq_norm, want.param_sq_norm, 1e-6);
        }
    }
    for (k, (params, momentum)) in run.params.iter().zip(&run.momentum).enumerate() {
        assert_close(
            &format!("{what}: params of t{k}"),
            params,
            &run.reference.params()[k],
            1e-5,
            1.0,
        );
        assert_close(
            &format!("{what}: momentum of t{k}"),
            momentum,
            &run.reference.momentum()[k],
            1e-5,
            1.0,
        );
    }
}

/// Runs one step and returns its record, read back from the stats ring.
pub fn step_and_record(
    gpu: &Gpu,
    alig: &mut wgpu_alig::Alig,
    loss: wgpu_alig::Loss<'_>,
) -> wgpu_alig::StepRecord {
    alig.step(&gpu.device, &gpu.queue, loss).unwrap();
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    *stats.last().expect("a step was recorded")
}
