//! What workgroup barriers alone cost on this adapter: the roofline kernels as they are, and
//! with one `workgroupBarrier()` added to each and nothing else changed. Each pass of the
//! step needs one (pass 1 combines its threads' sums, pass 2 shares the sum of pass 1's
//! partials before its update), so the ratio bounds what a two-pass step can reach here.

use std::time::Duration;

use crate::options::Options;
use crate::streaming::Streaming;
use crate::timer::Timer;
use crate::workload::{RowSpec, Workload};

/// Both timings on the largest size of the run up to 1.6e7 (momentum on, one tensor).
pub struct BarrierCost {
    pub n: usize,
    pub plain: Duration,
    pub with_barriers: Duration,
}

impl BarrierCost {
    /// The fraction of the roofline a step with one barrier per pass can reach at best.
    pub fn ceiling(&self) -> f64 {
        self.plain.as_secs_f64() / self.with_barriers.as_secs_f64()
    }
}

pub fn run_section(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    timer: &Timer,
    options: &Options,
) -> Option<BarrierCost> {
    let n = options
        .sizes
        .iter()
        .copied()
        .filter(|&n| n <= 16_000_000)
        .max()?;
    let spec = RowSpec {
        n,
        tensors: 1,
        momentum: true,
    };
    let workload = Workload::new(device, queue, spec);
    let buffers = workload.buffers()?;
    let variants = [
        Streaming::new(device, buffers, workload.arena_bytes()),
        Streaming::with_barriers(device, buffers, workload.arena_bytes()),
    ];
    let mut round = Duration::ZERO;
    for variant in &variants {
        round += variant.run(device, queue, timer).wall;
    }
    let reps = options.reps_for(round);
    let mut times: [Vec<Duration>; 2] = Default::default();
    for rep in 0..reps {
        for k in 0..2 {
            let v = (rep + k) % 2;
            times[v].push(variants[v].run(device, queue, timer).time());
        }
    }
    let [plain, with_barriers] = times.map(|mut t| {
        t.sort();
        t[t.len() / 2]
    });
    let cost = BarrierCost {
        n,
        plain,
        with_barriers,
    };
    println!();
    println!("What workgroup barriers cost (N = {n}, momentum on, {reps} reps, medians):");
    println!(
        "  roofline {:.0} us; the same with one workgroupBarrier() in each kernel {:.0} us: {:.2}x",
        plain.as_secs_f64() * 1e6,
        with_barriers.as_secs_f64() * 1e6,
        1.0 / cost.ceiling()
    );
    println!(
        "  so a step whose two passes each need a barrier reaches at most {:.2} of the roofline here",
        cost.ceiling()
    );
    Some(cost)
}
