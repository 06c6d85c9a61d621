//! The examples' outputs: the results table, the tuning grid, and the per-step CSV.

use std::fmt::Write as _;
use std::path::Path;

use super::training::TrainingReport;
use super::tuning::GridPoint;
use super::Result;

/// The results as a Markdown table.
pub fn results_table(reports: &[TrainingReport]) -> String {
    let mut out = String::from(
        "| optimizer | final train loss | train accuracy | test accuracy | steps | wall time |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for report in reports {
        let eval = report.evaluation;
        let _ = writeln!(
            out,
            "| {} | {:.2e} | {:.2}% | {:.2}% | {} | {:.1} s |",
            report.optimizer,
            eval.train.loss,
            100.0 * eval.train.accuracy,
            100.0 * eval.held_out.accuracy,
            report.steps,
            report.wall.as_secs_f64()
        );
    }
    out
}

/// The tuning grid as a Markdown table.
pub fn grid_table(grid: &[GridPoint]) -> String {
    let mut out = String::from(
        "| method | hyper-parameter | fit train loss | validation loss | validation accuracy | picked |\n\
         |---|---:|---:|---:|---:|:---:|\n",
    );
    for point in grid {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2e} | {:.4} | {:.2}% | {} |",
            point.optimizer.method(),
            point.optimizer.hyper_parameter(),
            point.fit_loss,
            point.validation_loss,
            100.0 * point.validation_accuracy,
            if point.selected { "yes" } else { "" }
        );
    }
    out
}

/// `optimizer,step,epoch,batch_loss,step_size`, one line per step of every run.
pub fn write_steps_csv(path: &Path, reports: &[TrainingReport]) -> Result<()> {
    let mut out = String::from("optimizer,step,epoch,batch_loss,step_size\n");
    for report in reports {
        let name = report.optimizer.to_string();
        for step in &report.log {
            let _ = writeln!(
                out,
                "\"{name}\",{},{},{:e},{:e}",
                step.step, step.epoch, step.loss, step.step_size
            );
        }
    }
    std::fs::write(path, out)?;
    Ok(())
}

/// The grid as CSV: `method,hyper_parameter,fit_train_loss,validation_loss,validation_accuracy,picked`.
pub fn write_grid_csv(path: &Path, grid: &[GridPoint]) -> Result<()> {
    let mut out = String::from(
        "method,hyper_parameter,fit_train_loss,validation_loss,validation_accuracy,picked\n",
    );
    for point in grid {
        let _ = writeln!(
            out,
            "{},{},{:e},{:e},{},{}",
            point.optimizer.method(),
            point.optimizer.hyper_parameter(),
            point.fit_loss,
            point.validation_loss,
            point.validation_accuracy,
            point.selected
        );
    }
    std::fs::write(path, out)?;
    Ok(())
}
