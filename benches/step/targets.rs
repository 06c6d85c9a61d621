//! The project's performance targets, checked against this run's figures.

use std::time::Duration;

use crate::record_cost::{HostCost, RecordCostRow};
use crate::row::RowResult;
use crate::table::ratio;

/// Arenas padded by more than 5% are not "the same total size" as one tensor.
const SAME_SIZE_PADDING: f64 = 1.05;

pub fn print(rows: &[RowResult], record_costs: &[RecordCostRow]) {
    println!();
    println!("Targets");
    roofline_fraction(rows);
    tensor_count_independence(rows);
    naive_speedup(rows);
    record_cost(record_costs);
}

fn verdict(values: &[f64], holds: impl Fn(f64) -> bool) -> &'static str {
    if values.is_empty() {
        "NOT MEASURED"
    } else if values.iter().all(|&v| holds(v)) {
        "HOLDS"
    } else {
        "MISSES"
    }
}

fn row_name(row: &RowResult) -> String {
    format!(
        "N={} x{} mom {}",
        row.spec.n,
        row.spec.tensors,
        if row.spec.momentum { "on" } else { "off" }
    )
}

fn time(outcome: &crate::row::Outcome) -> Option<Duration> {
    outcome.as_ref().ok().map(|m| m.time)
}

fn roofline_fraction(rows: &[RowResult]) {
    let figures: Vec<(String, f64)> = rows
        .iter()
        .filter(|r| r.spec.n >= 16_000_000)
        .filter_map(|r| Some((row_name(r), ratio(time(&r.roofline), time(&r.step))?)))
        .collect();
    let values: Vec<f64> = figures.iter().map(|f| f.1).collect();
    println!(
        "1. step >= 0.90 x same-bytes roofline at N >= 1.6e7: {} (min {})",
        verdict(&values, |v| v >= 0.90),
        min_text(&values)
    );
    for (name, value) in figures {
        println!("     {name}: {value:.2}");
    }
}

/// The rows of one size run minutes apart, and the host's load drifts in between; each row's
/// roofline moves the same bytes whatever the tensor count, so the step over its own row's
/// roofline cancels the drift. The verdict uses that; the raw ratio is shown too.
fn tensor_count_independence(rows: &[RowResult]) {
    let mut values = Vec::new();
    let mut lines = Vec::new();
    for many in rows.iter().filter(|r| r.spec.tensors == 1000) {
        let Some(one) = rows.iter().find(|r| {
            r.spec.tensors == 1 && r.spec.n == many.spec.n && r.spec.momentum == many.spec.momentum
        }) else {
            continue;
        };
        let Some(raw) = ratio(time(&many.step), time(&one.step)) else {
            continue;
        };
        let relative_to_roofline = |row: &RowResult| ratio(time(&row.step), time(&row.roofline));
        let normalized = relative_to_roofline(many)
            .zip(relative_to_roofline(one))
            .map(|(many, one)| many / one);
        let value = normalized.unwrap_or(raw);
        let figures = format!(
            "     {}: {value:.2} x the 1-tensor step (raw time ratio {raw:.2})",
            row_name(many)
        );
        if many.arena_ratio <= SAME_SIZE_PADDING {
            values.push(value);
            lines.push(figures);
        } else {
            lines.push(format!(
                "{figures}; not counted: 256-byte alignment makes its arena {:.2} x N",
                many.arena_ratio
            ));
        }
    }
    println!(
        "2. step with 1000 tensors within 10% of 1 tensor, same size, each relative to its row's \
         roofline: {} (worst {})",
        verdict(&values, |v| (v - 1.0).abs() <= 0.10),
        values
            .iter()
            .copied()
            .max_by(|a, b| (a - 1.0).abs().total_cmp(&(b - 1.0).abs()))
            .map_or("n/a".into(), |v| format!("{v:.2}"))
    );
    lines.iter().for_each(|l| println!("{l}"));
}

fn naive_speedup(rows: &[RowResult]) {
    let figures: Vec<(String, f64)> = rows
        .iter()
        .filter(|r| r.spec.n == 1_000_000 && r.spec.tensors == 100)
        .filter_map(|r| {
            let wall = |o: &crate::row::Outcome| o.as_ref().ok().map(|m| m.wall);
            Some((row_name(r), ratio(wall(&r.naive), wall(&r.step))?))
        })
        .collect();
    let values: Vec<f64> = figures.iter().map(|f| f.1).collect();
    println!(
        "3. >= 3x faster than the naive baseline at 100 tensors, N = 1e6 (wall): {} (min {})",
        verdict(&values, |v| v >= 3.0),
        min_text(&values)
    );
    for (name, value) in figures {
        println!("     {name}: naive / step = {value:.2}");
    }
}

fn record_cost(record_costs: &[RecordCostRow]) {
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let cpu_text = |c: &Option<HostCost>| {
        c.as_ref()
            .map_or("n/a".into(), |c| format!("{:.1} us", micros(c.median)))
    };
    let many: Vec<&RecordCostRow> = record_costs.iter().filter(|r| r.tensors == 1000).collect();
    // CPU time on an idle device where the platform has the clock, else wall time there.
    let values: Vec<f64> = many
        .iter()
        .map(|r| micros(r.idle_cpu.as_ref().map_or(r.idle_wall.median, |c| c.median)))
        .collect();
    println!(
        "4. record + submit <= 30 us of CPU per step at 1000 tensors (idle-device CPU median): {} ({})",
        verdict(&values, |v| v <= 30.0),
        values.first().map_or("n/a".into(), |v| format!("{v:.1} us"))
    );
    for r in many {
        println!(
            "     idle: wall {:.1} us, CPU {}; pipelined: wall {:.1} us, CPU {}; record_step alone {:.1} us",
            micros(r.idle_wall.median),
            cpu_text(&r.idle_cpu),
            micros(r.pipelined_wall.median),
            cpu_text(&r.pipelined_cpu),
            micros(r.record_only.median),
        );
        if let Some(naive) = &r.naive_wall {
            println!(
                "     (the naive baseline's two recordings + submits: wall {:.1} us)",
                micros(naive.median)
            );
        }
    }
}

fn min_text(values: &[f64]) -> String {
    values
        .iter()
        .copied()
        .min_by(f64::total_cmp)
        .map_or("n/a".into(), |v| format!("{v:.2}"))
}
