//! Where the step's time goes, pass by pass: each pass of the crate's step (a compute pass
//! each, timestamped) next to a roofline kernel that moves that pass's own bytes (pass 1
//! reads g; pass 2 reads w, g (and z) and writes w (and z)), and the whole step and the whole
//! roofline next to `copy_buffer_to_buffer` of the same bytes; and the step built with bounds
//! checks (`WGPU_ALIG_SHADER_CHECKS=1`) next to the step without them, on the same data. One
//! tensor, f32, momentum off and on; interleaved rounds and medians, as in the main table.
//! Needs timestamp queries.

use std::time::Duration;

use wgpu_alig::{Loss, Precision};

use crate::copy::CopyBandwidth;
use crate::fused_step::BENCH_LOSS;
use crate::options::Options;
use crate::streaming::Streaming;
use crate::timer::{measure_each_span, median, Timer};
use crate::workload::Fused;
use crate::workload::{RowSpec, Workload};

const ROUNDS: usize = 9;

/// The medians of one size and momentum setting.
struct PassTimes {
    step: [Duration; 2],
    /// The whole step (both passes) built with bounds checks.
    checked_step: Duration,
    roofline: [Duration; 2],
    copy: Duration,
}

pub fn run_section(device: &wgpu::Device, queue: &wgpu::Queue, timer: &Timer, options: &Options) {
    println!();
    println!("Per pass: each pass of the step in a compute pass of its own, against a roofline");
    println!("kernel moving that pass's bytes (roofline time / pass time: 1.00 is the roofline);");
    println!("the whole roofline and the whole step against copy_buffer_to_buffer of the same");
    println!(
        "bytes (copy time / their time); chk/unchk: the step built with bounds checks over the"
    );
    println!("step without them. f32, 1 tensor, medians of {ROUNDS} interleaved rounds.");
    if !device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
        println!("skipped: the adapter has no timestamp queries");
        return;
    }
    println!(
        "{:>12} {:>8} | {:>10} {:>10} | {:>9} {:>9} | {:>10} {:>10} | {:>10} {:>10} | {:>9}",
        "n",
        "momentum",
        "pass 1 us",
        "/ roof",
        "pass 2 us",
        "/ roof",
        "step/roof",
        "roof/copy",
        "step/copy",
        "copy us",
        "chk/unchk"
    );
    for &n in &options.sizes {
        for momentum in [false, true] {
            let spec = RowSpec {
                n,
                tensors: 1,
                momentum,
                precision: Precision::F32,
            };
            match measure_row(device, queue, timer, spec) {
                Some(t) => print_row(n, momentum, &t),
                None => println!("{n:>12} {momentum:>8} | n/a (no buffers of this size)"),
            }
        }
    }
}

fn measure_row(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    timer: &Timer,
    spec: RowSpec,
) -> Option<PassTimes> {
    let mut workload = Workload::new(device, queue, spec);
    let streaming = Streaming::new(device, workload.buffers()?, workload.arena_bytes());
    let copy_bytes = workload.layout.len() as u64 * spec.min_bytes_per_param() / 2;
    let copy = CopyBandwidth::new(device, copy_bytes)?;
    // The same step built with bounds checks, over a copy of the workload's data.
    std::env::set_var(wgpu_alig::SHADER_CHECKS_VAR, "1");
    let mut checked = Workload::new(device, queue, spec);
    std::env::remove_var(wgpu_alig::SHADER_CHECKS_VAR);
    let fused = workload.fused.as_mut().ok()?;
    let checked = checked.fused.as_mut().ok()?;
    let (mut steps, mut rooflines, mut copies, mut checked_steps) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // One warm-up round, then rounds rotating which variant goes first.
    for round in 0..=ROUNDS {
        for k in 0..4 {
            match (round + k) % 4 {
                0 => steps.push(step_by_pass(device, queue, timer, fused)?),
                1 => rooflines.push(streaming.run_by_pass(device, queue, timer)?),
                2 => copies.push(copy.run(device, queue, timer).gpu?),
                _ => checked_steps.push(step_by_pass(device, queue, timer, checked)?),
            }
        }
        if round == 0 {
            steps.clear();
            rooflines.clear();
            copies.clear();
            checked_steps.clear();
        }
    }
    let pass = |runs: &[Vec<Duration>], k: usize| median(runs.iter().map(|r| r[k]).collect());
    let whole = |runs: &[Vec<Duration>]| median(runs.iter().map(|r| r.iter().sum()).collect());
    Some(PassTimes {
        step: [pass(&steps, 0), pass(&steps, 1)],
        checked_step: whole(&checked_steps),
        roofline: [pass(&rooflines, 0), pass(&rooflines, 1)],
        copy: median(copies),
    })
}

/// One step with each pass timed as its own span.
fn step_by_pass(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    timer: &Timer,
    fused: &mut Fused,
) -> Option<Vec<Duration>> {
    measure_each_span(device, queue, timer, 2, |encoder| {
        fused
            .alig
            .record_step_with_pass_timestamps(encoder, queue, Loss::Host(BENCH_LOSS), |k| {
                timer.pass(k as u32)
            })
            .expect("record the step");
    })
}

fn print_row(n: usize, momentum: bool, t: &PassTimes) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let step: Duration = t.step.iter().sum();
    let roofline: Duration = t.roofline.iter().sum();
    println!(
        "{:>12} {:>8} | {:>10.0} {:>10.2} | {:>9.0} {:>9.2} | {:>10.2} {:>10.2} | {:>10.2} {:>10.0} | {:>9.3}",
        n,
        if momentum { "on" } else { "off" },
        us(t.step[0]),
        ratio(t.roofline[0], t.step[0]),
        us(t.step[1]),
        ratio(t.roofline[1], t.step[1]),
        ratio(roofline, step),
        ratio(t.copy, roofline),
        ratio(t.copy, step),
        us(t.copy),
        ratio(t.checked_step, step),
    );
}
