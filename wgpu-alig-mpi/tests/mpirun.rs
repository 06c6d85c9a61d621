//! The MPI tests: each launches `mpirun -np 2` (3 for the order of the mean) of the
//! per-rank program in `tests/ranks/` on this machine's devices (lavapipe where there is no
//! GPU), and reads what the ranks printed. Needs OpenMPI's `mpirun` on the `PATH` (Debian:
//! `openmpi-bin`); `.ci/run` installs it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longer than any scenario takes here (a few seconds), shorter than a hang.
const JOB_LIMIT: Duration = Duration::from_secs(180);
/// The deadline each rank's collectives keep in the scenarios that end early.
const DEADLINE_S: &str = "10";

/// What one `mpirun` printed and how it ended.
struct Job {
    status: Option<i32>,
    output: String,
    took: Duration,
}

/// Runs `scenario` on `ranks` processes, killing the job past [`JOB_LIMIT`].
fn mpirun(ranks: usize, scenario: &str) -> Job {
    let started = Instant::now();
    let mut child = Command::new("mpirun")
        .args([
            "--allow-run-as-root",
            "--oversubscribe",
            "-np",
            &ranks.to_string(),
        ])
        .arg(env!("CARGO_BIN_EXE_ranks"))
        .args([scenario, DEADLINE_S])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun starts (Debian: apt-get install openmpi-bin)");
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for mpirun") {
            break status;
        }
        if started.elapsed() > JOB_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{scenario}: the job still ran after {JOB_LIMIT:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    for stream in [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read>),
    ]
    .into_iter()
    .flatten()
    {
        let mut stream = stream;
        stream
            .read_to_string(&mut output)
            .expect("the job's output");
    }
    Job {
        status: status.code(),
        output,
        took: started.elapsed(),
    }
}

/// The job ended well and every rank said `ok`.
fn passes(ranks: usize, scenario: &str) {
    let job = mpirun(ranks, scenario);
    for rank in 0..ranks {
        let ok = format!("rank {rank} of {ranks}: {scenario}: ok");
        assert!(
            job.output.contains(&ok),
            "{scenario}: no {ok:?} in:\n{}",
            job.output
        );
    }
    assert_eq!(job.status, Some(0), "{scenario}:\n{}", job.output);
}

#[test]
fn data_parallel_replicas_take_the_in_process_mean_and_stay_bit_identical() {
    passes(2, "replicas");
}

#[test]
fn with_three_ranks_the_mean_is_still_summed_in_rank_order() {
    // With two ranks any order gives the same sum; with three, only rank order gives the
    // in-process example's bits.
    passes(3, "replicas");
}

#[test]
fn shards_across_ranks_step_as_the_whole_model() {
    passes(2, "sharded");
}

#[test]
fn shards_across_ranks_project_as_the_whole_model() {
    passes(2, "sharded-projection");
}

#[test]
fn a_nan_on_one_rank_skips_the_step_on_every_rank() {
    passes(2, "nan");
}

#[test]
fn different_lengths_are_an_error_on_every_rank() {
    passes(2, "lengths");
}

#[test]
fn a_rank_that_dies_ends_the_job_with_an_error() {
    let job = mpirun(2, "dies");
    assert_ne!(job.status, Some(0), "the job ended well:\n{}", job.output);
    // OpenMPI's launcher names the rank that died and ends the others.
    assert!(
        job.output.contains("noticed that process rank 1") && !job.output.contains(": ok"),
        "mpirun did not name the dead rank, or a rank finished:\n{}",
        job.output
    );
}

#[test]
fn a_rank_that_hangs_ends_the_job_at_the_deadline() {
    let job = mpirun(2, "hangs");
    assert_eq!(
        job.status,
        Some(wgpu_alig_mpi::DEADLINE_EXIT_CODE),
        "{}",
        job.output
    );
    assert!(
        job.output.contains("rank 0 of 2")
            && job
                .output
                .contains("no answer from the other ranks in 10 s"),
        "rank 0 said nothing of the deadline:\n{}",
        job.output
    );
    let deadline = Duration::from_secs(DEADLINE_S.parse().unwrap());
    assert!(
        job.took >= deadline,
        "ended after {:?}, before the deadline",
        job.took
    );
}
