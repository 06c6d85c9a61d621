//! The main table: one line per row, printed as soon as the row is done.

use std::io::Write;
use std::time::Duration;

use wgpu_alig::Precision;

use crate::csv;
use crate::row::{Measured, Outcome, RowResult};

/// The CSV columns of a row (`ALIG_BENCH_CSV`): times in microseconds, empty where the
/// variant did not run; `time` is GPU time where the adapter has timestamps, else wall time.
/// `precision` is `f32`, `f16-grads` or `f16`; `step_bytes_per_param` the bytes per parameter
/// that the step and its roofline move.
pub const CSV_HEADER: [&str; 17] = [
    "n",
    "tensors",
    "momentum",
    "precision",
    "arena_ratio",
    "min_traffic_bytes",
    "step_bytes_per_param",
    "step_us",
    "roof_us",
    "copy_us",
    "step_wall_us",
    "naive_wall_us",
    "naive_gpu_us",
    "clock",
    "reps",
    "skipped",
    "notes",
];

/// A row's CSV fields, in the order of [`CSV_HEADER`].
pub fn csv_fields(row: &RowResult) -> Vec<String> {
    let time = |o: &Outcome| o.as_ref().ok().map(|m| m.time);
    let wall = |o: &Outcome| o.as_ref().ok().map(|m| m.wall);
    let clock = match row.step.as_ref().or(row.roofline.as_ref()) {
        Ok(m) if m.gpu.is_some() => "gpu",
        Ok(_) => "wall",
        Err(_) => "",
    };
    vec![
        row.spec.n.to_string(),
        row.spec.tensors.to_string(),
        if row.spec.momentum { "on" } else { "off" }.to_string(),
        precision_name(row.spec.precision).to_string(),
        format!("{:.4}", row.arena_ratio),
        row.spec.min_traffic_bytes().to_string(),
        row.spec.step_bytes_per_param().to_string(),
        csv::micros(time(&row.step)),
        csv::micros(time(&row.roofline)),
        csv::micros(time(&row.copy)),
        csv::micros(wall(&row.step)),
        csv::micros(wall(&row.naive)),
        csv::micros(row.naive.as_ref().ok().and_then(|m| m.gpu)),
        clock.to_string(),
        row.reps.to_string(),
        row.skipped.to_string(),
        notes(row),
    ]
}

/// The name of a precision in the table and the CSV (and in `ALIG_BENCH_PRECISION`).
pub fn precision_name(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "f32",
        Precision::F16Grads => "f16-grads",
        Precision::F16 => "f16",
    }
}

pub fn print_header() {
    println!(
        "{:>10} {:>7} {:>3} {:>9} {:>5} {:>3} | {:>9} {:>6} | {:>9} {:>6} {:>5} | {:>9} {:>6} | {:>10} {:>10} {:>6} {:>9} | {:>4}  note",
        "N", "tensors", "mom", "prec", "arena", "B/p", "step us", "GB/s", "roof us", "GB/s", "frac", "copy us", "GB/s",
        "step wall", "naive wall", "n/s", "naive gpu", "reps",
    );
    println!("{}", "-".repeat(154));
}

pub fn print_row(row: &RowResult) {
    let traffic = row.spec.min_traffic_bytes() as f64;
    let time = |o: &Outcome| o.as_ref().ok().map(|m| m.time);
    let wall = |o: &Outcome| o.as_ref().ok().map(|m| m.wall);
    let fraction = ratio(time(&row.roofline), time(&row.step));
    let naive_over_step = ratio(wall(&row.naive), wall(&row.step));
    let naive_gpu = row.naive.as_ref().ok().and_then(|m: &Measured| m.gpu);
    println!(
        "{:>10} {:>7} {:>3} {:>9} {:>4.2}x {:>3} | {:>9} {:>6} | {:>9} {:>6} {:>5} | {:>9} {:>6} | {:>10} {:>10} {:>6} {:>9} | {:>4}  {}",
        row.spec.n,
        row.spec.tensors,
        if row.spec.momentum { "on" } else { "off" },
        precision_name(row.spec.precision),
        row.arena_ratio,
        row.spec.step_bytes_per_param(),
        micros(time(&row.step)),
        gigabytes_per_second(traffic, time(&row.step)),
        micros(time(&row.roofline)),
        gigabytes_per_second(traffic, time(&row.roofline)),
        fixed2(fraction),
        micros(time(&row.copy)),
        gigabytes_per_second(traffic, time(&row.copy)),
        micros(wall(&row.step)),
        micros(wall(&row.naive)),
        fixed2(naive_over_step),
        micros(naive_gpu),
        row.reps,
        notes(row),
    );
    let _ = std::io::stdout().flush();
}

/// Why cells are empty, once per reason, and any skipped step.
fn notes(row: &RowResult) -> String {
    let mut notes: Vec<String> = Vec::new();
    for (name, outcome) in [
        ("step", &row.step),
        ("roofline", &row.roofline),
        ("copy", &row.copy),
        ("naive", &row.naive),
    ] {
        if let Err(reason) = outcome {
            notes.push(format!("{name}: {reason}"));
        }
    }
    if row.skipped > 0 {
        notes.push(format!("WARNING: the GPU skipped {} steps", row.skipped));
    }
    notes.join("; ")
}

pub fn ratio(numerator: Option<Duration>, denominator: Option<Duration>) -> Option<f64> {
    Some(numerator?.as_secs_f64() / denominator?.as_secs_f64())
}

pub fn micros(d: Option<Duration>) -> String {
    match d {
        None => "n/a".into(),
        Some(d) => {
            let us = d.as_secs_f64() * 1e6;
            if us < 100.0 {
                format!("{us:.1}")
            } else {
                format!("{us:.0}")
            }
        }
    }
}

fn gigabytes_per_second(bytes: f64, d: Option<Duration>) -> String {
    d.map_or("n/a".into(), |d| {
        format!("{:.2}", bytes / d.as_secs_f64() / 1e9)
    })
}

pub fn fixed2(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.2}"))
}
