//! The progress bars of the examples: one per run, moved once per epoch.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::training::Progress;

pub fn progress_bar(name: &str) -> ProgressBar {
    let bar = ProgressBar::new(0).with_prefix(name.to_string());
    let style =
        ProgressStyle::with_template("{prefix:26} [{bar:30}] {pos:>5}/{len:5} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Moves `bar` to what a run reported.
pub fn show(bar: &ProgressBar, progress: &Progress) {
    bar.set_length(progress.total_steps as u64);
    bar.set_position(progress.steps_done as u64);
    let mut message = String::new();
    if let Some(loss) = progress.loss {
        message += &format!("loss {loss:.2e} ");
    }
    if let Some(step_size) = progress.step_size {
        message += &format!("step size {step_size:.2e}");
    }
    bar.set_message(message);
}
