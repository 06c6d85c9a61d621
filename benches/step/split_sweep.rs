//! The work-split sweep (`ALIG_BENCH_SPLIT_SWEEP=1`): how the streaming kernels run when a
//! window is spread over other workgroup counts than the crate's `WorkSplit` gives. The
//! crate's optimizer takes no split from outside (it picks `WorkSplit::for_device`), so the
//! sweep times the roofline kernels, plain and with the step's per-element arithmetic and one
//! barrier per pass (the step's shape without its reductions), under each split, next to the
//! step itself under the crate's split, all in alternation on the same buffers (momentum on,
//! one tensor).

use std::time::Duration;

use wgpu_alig::Precision;

use crate::alternate::alternating_medians;
use crate::csv::{self, CsvFile};
use crate::fused_step;
use crate::kernel::Split;
use crate::options::Options;
use crate::streaming::{Streaming, Variant};
use crate::timer::Timer;
use crate::workload::{RowSpec, Workload};

/// Splits tried: every pair, the crate's own added; pairs that give the same workgroup count
/// at a size are timed once. Workgroup caps in multiples of 132 (the SM count of an H100 or
/// H200) and powers of two, up to the 65535 a dispatch dimension allows.
const VEC4_PER_THREAD: [u32; 4] = [1, 4, 16, 64];
const MAX_WORKGROUPS: [u32; 10] = [132, 264, 528, 1024, 2112, 4096, 4224, 8448, 16896, 65535];

const VARIANTS: [(Variant, &str); 2] = [
    (Variant::Plain, "roofline"),
    (
        Variant::ArithmeticBarriers,
        "roofline + arithmetic + barriers",
    ),
];

pub const CSV_HEADER: [&str; 12] = [
    "n",
    "kernel",
    "vec4_per_thread",
    "max_workgroups",
    "workgroups",
    "windows",
    "effective_vec4_per_thread",
    "time_us",
    "gbps",
    "speedup_vs_crate_split",
    "crate_split",
    "reps",
];

/// One timed split: the first pair (in sweep order) that gives its workgroup count.
struct Point {
    split: Split,
    workgroups: u32,
}

pub fn run_section(device: &wgpu::Device, queue: &wgpu::Queue, timer: &Timer, options: &Options) {
    let crate_split = Split::for_device(device);
    let mut csv = options
        .csv
        .as_deref()
        .and_then(|path| CsvFile::create(path, &CSV_HEADER));
    println!("Work-split sweep: the streaming kernels of the roofline under other splits than the");
    println!(
        "crate's ({} vec4s per thread, at most {} workgroups per window), momentum on, one tensor,",
        crate_split.vec4_per_thread, crate_split.max_workgroups
    );
    println!(
        "timed in alternation with the crate's step (medians). `vec4/thr` is the split's setting,"
    );
    println!(
        "`eff` the vec4s each thread streams at that workgroup count; `x crate` = the time under"
    );
    println!("the crate's split / this time, same kernels (> 1: this split is faster).");
    for &n in &options.sizes {
        sweep_size(device, queue, timer, options, n, crate_split, csv.as_mut());
    }
}

fn sweep_size(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    timer: &Timer,
    options: &Options,
    n: usize,
    crate_split: Split,
    mut csv: Option<&mut CsvFile>,
) {
    let spec = RowSpec {
        n,
        tensors: 1,
        momentum: true,
        precision: Precision::F32,
    };
    let mut workload = Workload::new(device, queue, spec);
    let bytes = workload.arena_bytes();
    let Some(buffers) = workload.buffers() else {
        println!("  N = {n}: n/a (no buffer of this size)");
        return;
    };
    let points = points(crate_split, window_vec4(device, bytes));
    let kernels: Vec<(usize, usize, Streaming)> = points
        .iter()
        .enumerate()
        .flat_map(|(p, point)| {
            VARIANTS.iter().enumerate().map(move |(v, &(variant, _))| {
                let split = point.split;
                let kernel = Streaming::with_split(device, buffers, bytes, variant, |len| {
                    split.workgroups(len)
                });
                (p, v, kernel)
            })
        })
        .collect();
    let Ok(fused) = workload.fused.as_mut() else {
        println!("  N = {n}: n/a (the crate refused the arena)");
        return;
    };
    let (medians, reps) =
        alternating_medians(options, kernels.len() + 1, |k| match kernels.get(k) {
            Some((_, _, kernel)) => kernel.run(device, queue, timer),
            None => fused_step::run(fused, device, queue, timer),
        });
    let step_time = medians[kernels.len()];
    let traffic = spec.min_traffic_bytes() as f64;
    let gbps = |t: Duration| traffic / t.as_secs_f64() / 1e9;
    let window_len = window_vec4(device, bytes) as f64;

    println!();
    println!(
        "N = {n}: {} window(s), {reps} reps; the step under the crate's split: {:.0} us, {:.1} GB/s",
        kernels.first().map_or(0, |k| k.2.window_count()),
        step_time.as_secs_f64() * 1e6,
        gbps(step_time)
    );
    println!(
        "  {:<34} {:>9} {:>8} {:>10} {:>8} {:>10} {:>8} {:>8}",
        "kernels", "vec4/thr", "max wg", "workgroups", "eff", "time us", "GB/s", "x crate"
    );
    for (v, &(_, name)) in VARIANTS.iter().enumerate() {
        let of_variant: Vec<(&Point, &Streaming, Duration)> = kernels
            .iter()
            .zip(&medians)
            .filter(|((_, kv, _), _)| *kv == v)
            .map(|((p, _, kernel), &time)| (&points[*p], kernel, time))
            .collect();
        let crate_time = of_variant
            .iter()
            .find(|(point, _, _)| point.workgroups == crate_split.workgroups(window_len as u64))
            .map(|&(_, _, time)| time);
        let mut best: Option<(&Point, Duration)> = None;
        for &(point, kernel, time) in &of_variant {
            let effective = window_len / (f64::from(point.workgroups) * 256.0);
            let speedup = crate_time.map(|c| c.as_secs_f64() / time.as_secs_f64());
            let is_crate = point.workgroups == crate_split.workgroups(window_len as u64);
            println!(
                "  {:<34} {:>9} {:>8} {:>10} {:>8.1} {:>10.0} {:>8.1} {:>8}{}",
                name,
                point.split.vec4_per_thread,
                point.split.max_workgroups,
                kernel.workgroups(),
                effective,
                time.as_secs_f64() * 1e6,
                gbps(time),
                speedup.map_or("n/a".into(), |s| format!("{s:.2}")),
                if is_crate { "  <- crate's split" } else { "" },
            );
            if let Some(csv) = csv.as_deref_mut() {
                csv.line([
                    n.to_string(),
                    name.to_string(),
                    point.split.vec4_per_thread.to_string(),
                    point.split.max_workgroups.to_string(),
                    kernel.workgroups().to_string(),
                    kernel.window_count().to_string(),
                    format!("{effective:.2}"),
                    csv::micros(Some(time)),
                    format!("{:.2}", gbps(time)),
                    speedup.map_or(String::new(), |s| format!("{s:.4}")),
                    is_crate.to_string(),
                    reps.to_string(),
                ]);
            }
            if best.is_none_or(|(_, t)| time < t) {
                best = Some((point, time));
            }
        }
        if let (Some((point, time)), Some(crate_time)) = (best, crate_time) {
            println!(
                "  best for {name}: {} workgroups per window (split: {} vec4 per thread, at most {} workgroups): {:.2} x the crate's split",
                point.workgroups,
                point.split.vec4_per_thread,
                point.split.max_workgroups,
                crate_time.as_secs_f64() / time.as_secs_f64()
            );
        }
    }
    if let Some(csv) = csv {
        csv.line([
            n.to_string(),
            "step".to_string(),
            crate_split.vec4_per_thread.to_string(),
            crate_split.max_workgroups.to_string(),
            crate_split.workgroups(window_len as u64).to_string(),
            String::new(),
            String::new(),
            csv::micros(Some(step_time)),
            format!("{:.2}", gbps(step_time)),
            String::new(),
            "true".to_string(),
            reps.to_string(),
        ]);
    }
}

/// Vec4s of the first window the streaming kernels cover (they window at the binding size).
fn window_vec4(device: &wgpu::Device, bytes: u64) -> u64 {
    let limits = device.limits();
    let alignment = u64::from(limits.min_storage_buffer_offset_alignment);
    let max_window = limits.max_storage_buffer_binding_size / alignment * alignment;
    bytes.min(max_window) / 16
}

/// The distinct workgroup counts of the sweep's splits (and the crate's) at a window of
/// `window_vec4` vec4s, in increasing order.
fn points(crate_split: Split, window_vec4: u64) -> Vec<Point> {
    let mut splits: Vec<Split> = VEC4_PER_THREAD
        .iter()
        .flat_map(|&vec4_per_thread| {
            MAX_WORKGROUPS.iter().map(move |&max_workgroups| Split {
                vec4_per_thread,
                max_workgroups,
            })
        })
        .collect();
    // The crate's split first, so that its workgroup count is shown with its own setting.
    splits.insert(0, crate_split);
    let mut points: Vec<Point> = Vec::new();
    for split in splits {
        let workgroups = split.workgroups(window_vec4);
        if points.iter().all(|p| p.workgroups != workgroups) {
            points.push(Point { split, workgroups });
        }
    }
    points.sort_by_key(|p| p.workgroups);
    points
}
