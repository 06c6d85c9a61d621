//! The study's CSV files beyond the shared ones: the final results with their seed, and the
//! test score after every epoch.

use std::fmt::Write as _;
use std::path::Path;

use super::engine::training::TrainingReport;
use super::engine::Result;

/// `optimizer,method,hyper_parameter,seed,final_train_loss,train_accuracy,test_loss,test_accuracy,steps,wall_s`.
pub fn write_results_csv(path: &Path, reports: &[TrainingReport], seed: u64) -> Result<()> {
    let mut out = String::from(
        "optimizer,method,hyper_parameter,seed,final_train_loss,train_accuracy,test_loss,\
         test_accuracy,steps,wall_s\n",
    );
    for report in reports {
        let eval = report.evaluation;
        let _ = writeln!(
            out,
            "\"{}\",{},{},{seed},{:e},{},{:e},{},{},{:.3}",
            report.optimizer,
            report.optimizer.method(),
            report.optimizer.hyper_parameter(),
            eval.train.loss,
            eval.train.accuracy,
            eval.held_out.loss,
            eval.held_out.accuracy,
            report.steps,
            report.wall.as_secs_f64()
        );
    }
    std::fs::write(path, out)?;
    Ok(())
}

/// `optimizer,epoch,test_loss,test_accuracy`, one line per epoch of every run.
pub fn write_epochs_csv(path: &Path, reports: &[TrainingReport]) -> Result<()> {
    let mut out = String::from("optimizer,epoch,test_loss,test_accuracy\n");
    for report in reports {
        for (epoch, score) in report.epoch_held_out.iter().enumerate() {
            let _ = writeln!(
                out,
                "\"{}\",{},{:e},{}",
                report.optimizer,
                epoch + 1,
                score.loss,
                score.accuracy
            );
        }
    }
    std::fs::write(path, out)?;
    Ok(())
}
