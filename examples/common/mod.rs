//! Pieces shared by the examples' training engines: the compute-pipeline helper, the batch
//! table, the optimizers compared (ALI-G from the crate, SGD and Adam as one-dispatch kernels
//! over the arena), the training loop with its once-per-epoch readback, the seeded generator,
//! and the blocking readback for the end of a run.

pub mod adam;
pub mod batches;
pub mod classifier_head;
pub mod kernel;
pub mod labelled;
pub mod optimizers;
pub mod plot;
pub mod progress;
pub mod readback;
pub mod report;
pub mod sgd;
pub mod split_mix;
pub mod training;
pub mod tuning;

/// The engines' error: anything, with a message that says what went wrong.
pub type Error = Box<dyn std::error::Error>;
/// The engines' `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The examples' `main` tail: success, or the error's message on stderr and a failing exit
/// status (a `main` returning `Result` would print the error's `Debug` form instead).
pub fn exit_code(result: Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
