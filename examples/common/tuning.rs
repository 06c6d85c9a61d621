//! Tuning one hyper-parameter on a grid: every value trained on the fit part of the training
//! set with the same budget and scored on its validation part; the best validation accuracy
//! is picked (ties: the lower validation loss).

use super::optimizers::OptimizerSpec;
use super::progress::progress_bar;
use super::training::TrainingReport;
use super::Result;

/// One value of a grid, trained on the fit part and scored on the validation part.
#[derive(Clone, Copy, Debug)]
pub struct GridPoint {
    pub optimizer: OptimizerSpec,
    pub fit_loss: f32,
    pub validation_loss: f32,
    pub validation_accuracy: f32,
    pub selected: bool,
}

/// Trains each of `grid` with `train` (fit set, scored on the validation set as its held-out
/// set) and marks the pick; `None` as the pick when every value diverged.
pub fn tune(
    name: &str,
    grid: &[OptimizerSpec],
    train: &mut dyn FnMut(OptimizerSpec) -> Result<TrainingReport>,
) -> Result<(Vec<GridPoint>, Option<OptimizerSpec>)> {
    let bar = progress_bar(name);
    bar.set_length(grid.len() as u64);
    let mut points = Vec::new();
    for &optimizer in grid {
        bar.set_message(optimizer.to_string());
        let run = train(optimizer)?;
        bar.inc(1);
        points.push(GridPoint {
            optimizer,
            fit_loss: run.evaluation.train.loss,
            validation_loss: run.evaluation.held_out.loss,
            validation_accuracy: run.evaluation.held_out.accuracy,
            selected: false,
        });
    }
    bar.finish_and_clear();
    let best = points
        .iter_mut()
        .filter(|p| p.validation_loss.is_finite())
        .max_by(|a, b| {
            a.validation_accuracy
                .total_cmp(&b.validation_accuracy)
                .then(b.validation_loss.total_cmp(&a.validation_loss))
        });
    let picked = best.map(|best| {
        best.selected = true;
        best.optimizer
    });
    Ok((points, picked))
}
