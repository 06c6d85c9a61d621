//! What the number of tensors costs: the step over N parameters in one tensor and in 1000,
//! both built up front and timed in alternating steps, so that the host's drift between the
//! table's rows (which run minutes apart) does not enter the ratio.

use std::time::Duration;

use wgpu_alig::Precision;

use crate::alternate::alternating_medians;
use crate::fused_step;
use crate::options::Options;
use crate::timer::Timer;
use crate::workload::{RowSpec, Workload};

/// Tensor counts compared.
const FEW: usize = 1;
const MANY: usize = 1000;
/// Arenas padded by more than this are not "the same total size" as one tensor.
const SAME_SIZE_PADDING: f64 = 1.05;

pub struct TensorCountCost {
    pub n: usize,
    pub one: Duration,
    pub many: Duration,
}

impl TensorCountCost {
    pub fn ratio(&self) -> f64 {
        self.many.as_secs_f64() / self.one.as_secs_f64()
    }
}

/// Times both for each size of the run where 1000 tensors pad the arena by at most 5%
/// (momentum on).
pub fn run_section(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    timer: &Timer,
    options: &Options,
) -> Vec<TensorCountCost> {
    println!();
    println!("What the tensor count costs: the step with {FEW} and {MANY} tensors of the same total size,");
    println!("momentum on, timed in alternating steps (medians):");
    let mut costs = Vec::new();
    for &n in &options.sizes {
        let spec = |tensors| RowSpec {
            n,
            tensors,
            momentum: true,
            precision: Precision::F32,
        };
        let mut one = Workload::new(device, queue, spec(FEW));
        let mut many = Workload::new(device, queue, spec(MANY));
        let padding = many.arena_bytes() as f64 / (4.0 * n as f64);
        if padding > SAME_SIZE_PADDING {
            println!("  N = {n}: skipped, 256-byte alignment makes the {MANY}-tensor arena {padding:.2} x N");
            continue;
        }
        let (Ok(one), Ok(many)) = (one.fused.as_mut(), many.fused.as_mut()) else {
            println!("  N = {n}: n/a (the crate refused the arena)");
            continue;
        };
        let (medians, reps) = alternating_medians(options, 2, |k| {
            let fused = if k == 0 { &mut *one } else { &mut *many };
            fused_step::run(fused, device, queue, timer)
        });
        let (one, many) = (medians[0], medians[1]);
        let cost = TensorCountCost { n, one, many };
        println!(
            "  N = {n}: {FEW} tensor {:.0} us, {MANY} tensors {:.0} us: {:.2}x ({reps} reps)",
            one.as_secs_f64() * 1e6,
            many.as_secs_f64() * 1e6,
            cost.ratio()
        );
        costs.push(cost);
    }
    costs
}
