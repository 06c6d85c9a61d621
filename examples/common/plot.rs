//! The SVG plots: mini-batch training loss (log scale) and step size against steps, one curve
//! per optimizer: ALI-G's step size is the gamma it computed at each step, SGD's its
//! learning rate. The panels serve the examples' own figures too.

use std::path::Path;

use plotters::prelude::*;

use super::training::{StepLog, TrainingReport};
use super::Result;

/// Values below this are drawn at it, so that a zero loss or step size stays on a log axis.
pub const FLOOR: f64 = 1e-7;

pub const COLORS: [RGBColor; 4] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
];

pub fn write_svg(path: &Path, reports: &[TrainingReport]) -> Result<()> {
    let steps = reports
        .iter()
        .map(|r| r.log.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let root = SVGBackend::new(path, (960, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(400);
    step_panel(&upper, reports, steps, "mini-batch training loss", |s| {
        s.loss
    })?;
    step_panel(
        &lower,
        reports,
        steps,
        "step size (ALI-G: gamma; SGD: lr)",
        |s| s.step_size,
    )?;
    root.present()?;
    Ok(())
}

/// One panel of a per-step value on a log axis, a curve per run.
pub fn step_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    reports: &[TrainingReport],
    steps: usize,
    title: &str,
    value: fn(&StepLog) -> f32,
) -> Result<()> {
    let values = reports
        .iter()
        .flat_map(|r| r.log.iter().map(value))
        .map(f64::from)
        .filter(|v| v.is_finite())
        .map(|v| v.max(FLOOR));
    let (low, high) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (low, high) = if low < high {
        (low / 2.0, high * 2.0)
    } else {
        (FLOOR, 1.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0..steps, (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    // Drawn last to first, half transparent, so that the first run (ALI-G by default) is on
    // top and curves that coincide (SGD with and without decay, before the first decay)
    // stay visible.
    let colored: Vec<_> = reports.iter().zip(COLORS.iter().cycle()).collect();
    for &(report, &color) in colored.iter().rev() {
        let points = report
            .log
            .iter()
            .map(|s| (s.step, f64::from(value(s))))
            .filter(|(_, v)| v.is_finite())
            .map(|(step, v)| (step, v.max(FLOOR)));
        chart
            .draw_series(LineSeries::new(points, color.mix(0.75).stroke_width(1)))?
            .label(report.optimizer.to_string())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
