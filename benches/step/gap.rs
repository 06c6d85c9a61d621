//! What the step's gap to its roofline is made of, on this adapter: the roofline kernels, the
//! same with one workgroup barrier in each (each pass of the step needs one: pass 1 combines
//! its threads' sums, pass 2 shares the sum of pass 1's partials before its update), with the
//! step's per-element arithmetic instead (compensated sum of squares and non-finite check;
//! the momentum update), with both, and the step itself, timed in alternation.

use std::time::Duration;

use wgpu_alig::Precision;

use crate::alternate::alternating_medians;
use crate::fused_step;
use crate::options::Options;
use crate::streaming::{Streaming, Variant};
use crate::timer::Timer;
use crate::workload::{RowSpec, Workload};

const VARIANTS: [(Variant, &str); 4] = [
    (Variant::Plain, "roofline"),
    (Variant::Barriers, "roofline + one barrier per kernel"),
    (Variant::Arithmetic, "roofline + the step's arithmetic"),
    (Variant::ArithmeticBarriers, "roofline + both"),
];

/// Medians on the largest size of the run up to 1.6e7 (momentum on, one tensor).
pub struct Gap {
    pub n: usize,
    /// In the order of `VARIANTS`, then the step.
    pub times: [Duration; 5],
}

impl Gap {
    /// The fraction of the roofline that kernels doing the step's per-element work with one
    /// barrier per pass reach: about the most a two-pass step can reach here.
    pub fn ceiling(&self) -> f64 {
        self.times[0].as_secs_f64() / self.times[3].as_secs_f64()
    }
}

pub fn run_section(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    timer: &Timer,
    options: &Options,
) -> Option<Gap> {
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
        precision: Precision::F32,
    };
    let mut workload = Workload::new(device, queue, spec);
    let bytes = workload.arena_bytes();
    let buffers = workload.buffers()?;
    let kernels: Vec<Streaming> = VARIANTS
        .iter()
        .map(|&(variant, _)| Streaming::variant(device, buffers, bytes, variant))
        .collect();
    let fused = workload.fused.as_mut().ok()?;
    let (medians, reps) =
        alternating_medians(options, VARIANTS.len() + 1, |k| match kernels.get(k) {
            Some(kernel) => kernel.run(device, queue, timer),
            None => fused_step::run(fused, device, queue, timer),
        });
    let gap = Gap {
        n,
        times: medians.try_into().ok()?,
    };
    let roofline = gap.times[0].as_secs_f64();
    println!();
    println!(
        "What the step's gap to its roofline is made of (N = {n}, momentum on, one tensor, {reps} reps, medians):"
    );
    let names = VARIANTS.iter().map(|v| v.1).chain(["the step"]);
    for (name, time) in names.zip(gap.times) {
        println!(
            "  {name:<36} {:>9.0} us  {:.2} x the roofline's time",
            time.as_secs_f64() * 1e6,
            time.as_secs_f64() / roofline
        );
    }
    println!(
        "  so a two-pass step doing this work reaches at most about {:.2} of the roofline here",
        gap.ceiling()
    );
    Some(gap)
}
