//! The study's SVG figures: training loss, test accuracy per epoch and step size of the final
//! runs; and the final validation accuracy of every tuning run against its one
//! hyper-parameter, a panel per method (how sensitive each is to its setting).

use std::path::Path;

use plotters::prelude::*;

use super::engine::common::plot::{step_panel, COLORS};
use super::engine::common::tuning::GridPoint;
use super::engine::training::TrainingReport;
use super::engine::Result;

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

pub fn write_training_svg(path: &Path, reports: &[TrainingReport]) -> Result<()> {
    let steps = reports
        .iter()
        .map(|r| r.log.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let root = SVGBackend::new(path, (960, 1080)).into_drawing_area();
    root.fill(&WHITE)?;
    let (loss, rest) = root.split_vertically(380);
    let (accuracy, step_size) = rest.split_vertically(340);
    step_panel(&loss, reports, steps, "mini-batch training loss", |s| {
        s.loss
    })?;
    accuracy_panel(&accuracy, reports)?;
    step_panel(
        &step_size,
        reports,
        steps,
        "step size (ALI-G: gamma; SGD: lr; Adam: none)",
        |s| s.step_size,
    )?;
    root.present()?;
    Ok(())
}

/// Test accuracy after each epoch, a curve per run.
fn accuracy_panel(area: &Area<'_>, reports: &[TrainingReport]) -> Result<()> {
    let epochs = reports
        .iter()
        .map(|r| r.epoch_held_out.len())
        .max()
        .unwrap_or(1);
    let accuracies = || {
        reports
            .iter()
            .flat_map(|r| {
                r.epoch_held_out
                    .iter()
                    .map(|s| 100.0 * f64::from(s.accuracy))
            })
            .filter(|a| a.is_finite())
    };
    let low = accuracies().fold(100.0f64, f64::min);
    let high = accuracies().fold(0.0f64, f64::max);
    let (low, high) = if low < high {
        ((low - 1.0).floor(), (high + 1.0).ceil().min(100.0))
    } else {
        (0.0, 100.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption("test accuracy after each epoch (%)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(1..epochs.max(2), low..high)?;
    chart.configure_mesh().x_desc("epoch").draw()?;
    for (report, &color) in reports.iter().zip(COLORS.iter().cycle()) {
        let points: Vec<(usize, f64)> = report
            .epoch_held_out
            .iter()
            .enumerate()
            .map(|(epoch, s)| (epoch + 1, 100.0 * f64::from(s.accuracy)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(report.optimizer.to_string())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Validation accuracy against the hyper-parameter (log axis), one panel per method, with
/// the picked value marked.
pub fn write_sensitivity_svg(path: &Path, grid: &[GridPoint]) -> Result<()> {
    let mut methods: Vec<String> = Vec::new();
    for point in grid {
        let method = point.optimizer.method();
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    let accuracies = grid
        .iter()
        .map(|p| 100.0 * f64::from(p.validation_accuracy))
        .filter(|a| a.is_finite());
    let low = accuracies.clone().fold(100.0f64, f64::min);
    let high = accuracies.fold(0.0f64, f64::max);
    let (low, high) = if low < high {
        ((low - 2.0).floor().max(0.0), (high + 1.0).ceil().min(100.0))
    } else {
        (0.0, 100.0)
    };
    let width = 320 * methods.len().max(1) as u32;
    let root = SVGBackend::new(path, (width, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, methods.len().max(1)));
    for ((method, area), &color) in methods.iter().zip(&panels).zip(COLORS.iter().cycle()) {
        let points: Vec<(f64, f64, bool)> = grid
            .iter()
            .filter(|p| &p.optimizer.method() == method)
            .map(|p| {
                let value = f64::from(p.optimizer.hyper_parameter());
                (value, 100.0 * f64::from(p.validation_accuracy), p.selected)
            })
            .collect();
        let lo = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(|p| p.0).fold(0.0f64, f64::max);
        let (lo, hi) = if lo < hi {
            (lo / 1.5, hi * 1.5)
        } else {
            (lo / 2.0, lo * 2.0)
        };
        let axis = match method.as_str() {
            "ALI-G" => "max_lr",
            _ => "learning rate",
        };
        let mut chart = ChartBuilder::on(area)
            .caption(method, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d((lo..hi).log_scale(), low..high)?;
        chart
            .configure_mesh()
            .x_desc(axis)
            .y_desc("validation accuracy (%)")
            .x_label_formatter(&|v| log_tick_label(*v))
            .draw()?;
        let finite: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|p| (p.0, p.1))
            .collect();
        chart.draw_series(LineSeries::new(finite.clone(), color.stroke_width(2)))?;
        chart.draw_series(finite.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        chart.draw_series(
            points
                .iter()
                .filter(|p| p.2)
                .map(|p| Circle::new((p.0, p.1), 7, BLACK.stroke_width(2))),
        )?;
    }
    root.present()?;
    Ok(())
}

/// A log axis tick with two significant digits where it needs them ("1e0", "1.5e0", "3e-2"):
/// one digit would print ticks 1.0 and 1.2 both as "1e0".
fn log_tick_label(value: f64) -> String {
    format!("{value:.1e}").replace(".0e", "e")
}
