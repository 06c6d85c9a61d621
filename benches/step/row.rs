//! Runs one row: builds the four variants on the same buffers, warms them up, then times
//! them in interleaved rounds (rotating which goes first) so that drift in the background
//! load hits all of them alike, and keeps the medians.

use std::time::Duration;

use crate::copy::CopyBandwidth;
use crate::fused_step;
use crate::naive::Naive;
use crate::options::Options;
use crate::streaming::Streaming;
use crate::timer::{median, Sample, Timer};
use crate::workload::{RowSpec, Workload};

const WARMUP_ROUNDS: usize = 2;

/// Medians over the repetitions of one variant.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// GPU time where the adapter has timestamps, else wall time.
    pub time: Duration,
    pub wall: Duration,
    pub gpu: Option<Duration>,
}

/// A variant's medians, or why it did not run.
pub type Outcome = Result<Measured, String>;

pub struct RowResult {
    pub spec: RowSpec,
    /// Arena elements (padding included) over trainable elements.
    pub arena_ratio: f64,
    pub reps: usize,
    pub step: Outcome,
    pub roofline: Outcome,
    pub copy: Outcome,
    pub naive: Outcome,
    /// Steps the GPU skipped during the row (should be 0).
    pub skipped: u32,
}

const VARIANTS: usize = 4;

pub fn run(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    timer: &Timer,
    options: &Options,
    spec: RowSpec,
) -> RowResult {
    let mut workload = Workload::new(device, queue, spec);
    let arena_bytes = workload.arena_bytes();
    let no_buffers = || "n/a (no buffer of this size)".to_string();
    let streaming = workload
        .buffers()
        .map(|b| Streaming::new(device, b, arena_bytes))
        .ok_or_else(no_buffers);
    // Half the minimum traffic of the arena's elements, padding included.
    let copy_bytes = workload.layout.len() as u64 * spec.min_bytes_per_param() / 2;
    let copy = CopyBandwidth::new(device, copy_bytes)
        .ok_or_else(|| "n/a (copy larger than one buffer)".to_string());
    let naive = workload
        .buffers()
        .ok_or_else(no_buffers)
        .and_then(|b| Naive::new(device, &workload.layout, b, spec.config()));

    let mut samples: [Vec<Sample>; VARIANTS] = Default::default();
    let mut run_variant = |variant: usize, samples: &mut [Vec<Sample>; VARIANTS]| {
        let sample = match variant {
            0 => workload
                .fused
                .as_mut()
                .ok()
                .map(|fused| fused_step::run(fused, device, queue, timer)),
            1 => streaming.as_ref().ok().map(|s| s.run(device, queue, timer)),
            2 => copy.as_ref().ok().map(|c| c.run(device, queue, timer)),
            _ => naive.as_ref().ok().map(|n| n.run(device, queue, timer)),
        };
        if let Some(sample) = sample {
            samples[variant].push(sample);
        }
    };
    for _ in 0..WARMUP_ROUNDS {
        for variant in 0..VARIANTS {
            run_variant(variant, &mut samples);
        }
    }
    let last_round: Duration = samples
        .iter()
        .filter_map(|s| s.last())
        .map(|s| s.wall)
        .sum();
    let reps = options.reps_for(last_round);
    for list in &mut samples {
        list.clear();
    }
    for rep in 0..reps {
        for k in 0..VARIANTS {
            run_variant((rep + k) % VARIANTS, &mut samples);
        }
    }

    let [step_samples, roofline_samples, copy_samples, naive_samples] = samples;
    let skipped = workload
        .fused
        .as_ref()
        .map_or(0, |fused| fused_step::skipped_steps(fused, device, queue));
    RowResult {
        spec,
        arena_ratio: workload.layout.len() as f64 / spec.n as f64,
        reps,
        step: outcome(&workload.fused, step_samples),
        roofline: outcome(&streaming, roofline_samples),
        copy: outcome(&copy, copy_samples),
        naive: outcome(&naive, naive_samples),
        skipped,
    }
}

/// The medians of a variant that was built, or why it was not.
fn outcome<T>(variant: &Result<T, String>, samples: Vec<Sample>) -> Outcome {
    match variant {
        Ok(_) => Ok(medians(samples)),
        Err(reason) => Err(reason.clone()),
    }
}

fn medians(samples: Vec<Sample>) -> Measured {
    let gpu = samples
        .iter()
        .map(|s| s.gpu)
        .collect::<Option<Vec<_>>>()
        .map(median);
    Measured {
        time: median(samples.iter().map(Sample::time).collect()),
        wall: median(samples.iter().map(|s| s.wall).collect()),
        gpu,
    }
}
