//! The project's performance targets, checked against this run's figures.

use std::time::Duration;

use crate::gap::Gap;
use crate::record_cost::{HostCost, RecordCostRow};
use crate::row::RowResult;
use crate::table::ratio;
use crate::tensor_count::TensorCountCost;

pub fn print(
    rows: &[RowResult],
    tensor_costs: &[TensorCountCost],
    record_costs: &[RecordCostRow],
    gap: Option<&Gap>,
) {
    println!();
    println!("Targets");
    roofline_fraction(rows, gap);
    tensor_count_independence(tensor_costs);
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
        "N={} x{} mom {} {}",
        row.spec.n,
        row.spec.tensors,
        if row.spec.momentum { "on" } else { "off" },
        crate::table::precision_name(row.spec.precision)
    )
}

fn time(outcome: &crate::row::Outcome) -> Option<Duration> {
    outcome.as_ref().ok().map(|m| m.time)
}

fn roofline_fraction(rows: &[RowResult], gap: Option<&Gap>) {
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
    if let Some(gap) = gap {
        println!(
            "     (on this adapter the roofline kernels with the step's arithmetic and one barrier per \
             pass reach {:.2}, N={})",
            gap.ceiling(),
            gap.n
        );
    }
}

fn tensor_count_independence(costs: &[TensorCountCost]) {
    let values: Vec<f64> = costs.iter().map(TensorCountCost::ratio).collect();
    println!(
        "2. step with 1000 tensors within 10% of 1 tensor, same size (timed side by side): {} (worst {})",
        verdict(&values, |v| (v - 1.0).abs() <= 0.10),
        values
            .iter()
            .copied()
            .max_by(|a, b| (a - 1.0).abs().total_cmp(&(b - 1.0).abs()))
            .map_or("n/a".into(), |v| format!("{v:.2}"))
    );
    for cost in costs {
        println!("     N={}: {:.2}", cost.n, cost.ratio());
    }
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
        println!(
            "     the same commands without the crate (idle): wall {:.1} us, CPU {}",
            micros(r.floor_wall.median),
            cpu_text(&r.floor_cpu),
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
