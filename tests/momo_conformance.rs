//! The f64 ports of MoMo and MoMo-Adam (`wgpu_alig::reference`) against their official code:
//! the fixtures of `scripts/gen_momo_fixtures.py` (`momo-opt` 0.1.0 in float64), replayed.
//! Each case's problem is regenerated from its seed as the generator made it; the parameters
//! and the lower bound at each checkpoint must agree within 1e-12 relative to max(|x|, 1): the
//! two sides sum in different orders, so the last bits differ (the worst seen, 2026-12-07:
//! 1.7e-15 after 30 steps; a setting off by its f32 rounding gave 2e-8). On the CPU: no GPU
//! runs these methods yet.

mod common;

use serde::Deserialize;
use wgpu_alig::reference::{
    MomoAdamConfig, MomoAdamReference, MomoConfig, MomoReference, MomoStep,
};

use common::Rng;

const FIXTURE: &str = include_str!("fixtures/momo.json");
const RTOL: f64 = 1e-12;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    method: String,
    settings: Settings,
    seed: u64,
    tensors: usize,
    steps: usize,
    sizes: Vec<usize>,
    expected: Vec<Checkpoint>,
}

/// The settings a case changed from momo-opt's defaults, by its names.
#[derive(Deserialize)]
struct Settings {
    lr: Option<f32>,
    beta: Option<f32>,
    betas: Option<(f32, f32)>,
    eps: Option<f32>,
    lb: Option<f32>,
    weight_decay: Option<f32>,
    bias_correction: Option<bool>,
    divide: Option<bool>,
    use_fstar: Option<bool>,
}

#[derive(Deserialize)]
struct Checkpoint {
    step: usize,
    params: Vec<Vec<f64>>,
    lb: f64,
}

/// The quadratic of the generator: `a`, `b`, the initial `x`, and each step's loss offset and
/// gradient scale, drawn in its order.
struct Problem {
    a: Vec<Vec<f64>>,
    b: Vec<Vec<f64>>,
    x0: Vec<Vec<f64>>,
    offsets: Vec<f64>,
    scales: Vec<f64>,
}

impl Problem {
    fn new(case: &Case) -> Self {
        let mut rng = Rng::new(case.seed);
        let sizes: Vec<usize> = (0..case.tensors).map(|_| rng.int(1, 70)).collect();
        assert_eq!(sizes, case.sizes, "{}: the generator's sizes", case.name);
        let mut draw = |lo, hi| -> Vec<Vec<f64>> {
            sizes
                .iter()
                .map(|&n| (0..n).map(|_| rng.uniform(lo, hi)).collect())
                .collect()
        };
        let (a, b, x0) = (draw(0.1, 2.0), draw(-1.0, 1.0), draw(-1.0, 1.0));
        let mut per_step = Rng::new(case.seed + 1);
        let (mut offsets, mut scales) = (Vec::new(), Vec::new());
        for _ in 0..case.steps {
            offsets.push(per_step.uniform(0.0, 0.5));
            scales.push(per_step.uniform(0.5, 1.5));
        }
        Self {
            a,
            b,
            x0,
            offsets,
            scales,
        }
    }

    /// Step `k`'s loss and gradients at `params`.
    fn loss_and_grads(&self, k: usize, params: &[Vec<f64>]) -> (f64, Vec<Vec<f64>>) {
        let n: usize = params.iter().map(Vec::len).sum();
        let n = n as f64;
        let mut total = 0.0;
        let mut grads = Vec::with_capacity(params.len());
        for ((x, a), b) in params.iter().zip(&self.a).zip(&self.b) {
            total += x
                .iter()
                .zip(a)
                .zip(b)
                .map(|((x, a), b)| a * ((x - b) * (x - b)))
                .sum::<f64>();
            let g = x.iter().zip(a).zip(b);
            grads.push(
                g.map(|((x, a), b)| self.scales[k] * a * (x - b) / n)
                    .collect(),
            );
        }
        (0.5 * total / n + self.offsets[k], grads)
    }
}

/// Either reference, stepped the same way.
enum Reference {
    Momo(MomoReference),
    MomoAdam(MomoAdamReference),
}

impl Reference {
    fn new(case: &Case, x0: Vec<Vec<f64>>) -> Self {
        let s = &case.settings;
        match case.method.as_str() {
            "momo" => {
                let d = MomoConfig::default();
                let config = MomoConfig {
                    lr: s.lr.unwrap_or(d.lr),
                    beta: s.beta.unwrap_or(d.beta),
                    lb: s.lb.unwrap_or(d.lb),
                    weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
                    bias_correction: s.bias_correction.unwrap_or(d.bias_correction),
                    use_fstar: s.use_fstar.unwrap_or(d.use_fstar),
                };
                Self::Momo(MomoReference::new(config, x0).unwrap())
            }
            "momo_adam" => {
                let d = MomoAdamConfig::default();
                let config = MomoAdamConfig {
                    lr: s.lr.unwrap_or(d.lr),
                    betas: s.betas.unwrap_or(d.betas),
                    eps: s.eps.unwrap_or(d.eps),
                    lb: s.lb.unwrap_or(d.lb),
                    weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
                    divide: s.divide.unwrap_or(d.divide),
                    use_fstar: s.use_fstar.unwrap_or(d.use_fstar),
                };
                Self::MomoAdam(MomoAdamReference::new(config, x0).unwrap())
            }
            other => panic!("{}: unknown method {other}", case.name),
        }
    }

    fn step(&mut self, loss: f64, grads: &[Vec<f64>]) -> MomoStep {
        match self {
            Self::Momo(r) => r.step(loss, grads).unwrap(),
            Self::MomoAdam(r) => r.step(loss, grads).unwrap(),
        }
    }

    fn params(&self) -> &[Vec<f64>] {
        match self {
            Self::Momo(r) => r.params(),
            Self::MomoAdam(r) => r.params(),
        }
    }
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= RTOL * want.abs().max(1.0)
}

/// Replays `case`; the steps' sizes, to check that the fixtures exercise every branch.
fn replay(case: &Case) -> Vec<MomoStep> {
    let problem = Problem::new(case);
    let mut reference = Reference::new(case, problem.x0.clone());
    let mut checkpoints = case.expected.iter().peekable();
    let mut steps = Vec::new();
    for k in 0..case.steps {
        let (loss, grads) = problem.loss_and_grads(k, reference.params());
        let step = reference.step(loss, &grads);
        assert!(!step.skipped, "{}: step {} skipped", case.name, k + 1);
        steps.push(step);
        let Some(want) = checkpoints.next_if(|c| c.step == k + 1) else {
            continue;
        };
        let what = format!("{} after step {}", case.name, k + 1);
        assert!(
            close(step.lb, want.lb),
            "{what}: lb {} vs {}",
            step.lb,
            want.lb
        );
        for (t, (got, want)) in reference.params().iter().zip(&want.params).enumerate() {
            assert_eq!(got.len(), want.len(), "{what}: tensor {t}");
            for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
                assert!(close(g, w), "{what}: tensor {t}[{i}] {g:e} vs {w:e}");
            }
        }
    }
    assert!(
        checkpoints.next().is_none(),
        "{}: every checkpoint",
        case.name
    );
    steps
}

#[test]
fn the_references_follow_the_official_code() {
    let fixture: Fixture = serde_json::from_str(FIXTURE).unwrap();
    assert_eq!(fixture.cases.len(), 11);
    let (mut capped, mut modelled, mut lb_moved) = (0, 0, 0);
    for case in &fixture.cases {
        let steps = replay(case);
        capped += steps.iter().filter(|s| s.capped).count();
        modelled += steps.iter().filter(|s| !s.capped && s.tau > 0.0).count();
        let lb = f64::from(case.settings.lb.unwrap_or(0.0));
        lb_moved += steps.iter().filter(|s| s.lb != lb).count();
    }
    // Both branches of tau = min(lr / rho, t1), and the online lower bound, are exercised.
    assert!(
        capped > 0 && modelled > 0,
        "{capped} capped, {modelled} modelled steps"
    );
    assert!(lb_moved > 0, "the lower bound never moved");
}

#[test]
fn a_non_finite_loss_or_gradient_skips_the_step_and_changes_nothing() {
    let params = vec![vec![0.5, -0.25], vec![1.0]];
    let mut momo = MomoReference::new(MomoConfig::default(), params.clone()).unwrap();
    let mut adam = MomoAdamReference::new(MomoAdamConfig::default(), params.clone()).unwrap();
    let grads = vec![vec![0.1, 0.2], vec![0.3]];
    let nan_grads = vec![vec![0.1, f64::NAN], vec![0.3]];
    for (loss, grads) in [
        (f64::NAN, &grads),
        (1.0, &nan_grads),
        (f64::INFINITY, &grads),
    ] {
        assert!(momo.step(loss, grads).unwrap().skipped);
        assert!(adam.step(loss, grads).unwrap().skipped);
    }
    assert_eq!(momo.params(), &params[..]);
    assert_eq!(adam.params(), &params[..]);
    assert_eq!((momo.steps(), adam.steps()), (0, 0));
    // The first real step is then the first step (MoMo's averages start at its values).
    let mut fresh = MomoReference::new(MomoConfig::default(), params).unwrap();
    assert_eq!(
        momo.step(1.0, &grads).unwrap(),
        fresh.step(1.0, &grads).unwrap()
    );
}

#[test]
fn settings_out_of_range_are_typed_errors() {
    use wgpu_alig::Error;
    let bad_momo = [
        MomoConfig {
            lr: -1.0,
            ..MomoConfig::default()
        },
        MomoConfig {
            beta: 1.5,
            ..MomoConfig::default()
        },
        MomoConfig {
            weight_decay: -0.1,
            ..MomoConfig::default()
        },
        MomoConfig {
            lb: f32::NAN,
            ..MomoConfig::default()
        },
    ];
    for config in bad_momo {
        let result = MomoReference::new(config, vec![vec![1.0]]);
        assert!(
            matches!(result, Err(Error::InvalidSetting { .. })),
            "{config:?}"
        );
    }
    let bad_adam = [
        MomoAdamConfig {
            betas: (1.0, 0.999),
            ..MomoAdamConfig::default()
        },
        MomoAdamConfig {
            betas: (0.9, -0.1),
            ..MomoAdamConfig::default()
        },
        MomoAdamConfig {
            eps: -1e-8,
            ..MomoAdamConfig::default()
        },
        MomoAdamConfig {
            lr: f32::INFINITY,
            ..MomoAdamConfig::default()
        },
    ];
    for config in bad_adam {
        let result = MomoAdamReference::new(config, vec![vec![1.0]]);
        assert!(
            matches!(result, Err(Error::InvalidSetting { .. })),
            "{config:?}"
        );
    }
    let mut momo = MomoReference::new(MomoConfig::default(), vec![vec![1.0, 2.0]]).unwrap();
    let wrong = momo.step(1.0, &[vec![1.0]]);
    assert!(
        matches!(wrong, Err(Error::LengthMismatch { .. })),
        "{wrong:?}"
    );
}
