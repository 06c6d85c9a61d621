//! The per-rank half of the MPI tests: `tests/mpirun.rs` launches this program under
//! `mpirun -np 2`, one process per device, and reads what each rank prints. Each scenario
//! checks itself on every rank; a rank that finds a fault ends the job (`MPI_Abort`) with its
//! message, so that no rank waits for it. On success every rank prints
//! `rank R of P: SCENARIO: ok`.
//!
//! ```text
//! mpirun -np 2 ranks <replicas|sharded|sharded-projection|nan|lengths|dies|hangs> [deadline s]
//! ```

#[path = "../../../examples/common/split_mix.rs"]
mod split_mix;

mod model;
mod scenarios;

use std::time::Duration;

use wgpu_alig::Gpu;
use wgpu_alig_mpi::Ranks;

/// A fault found by a scenario.
type Fault = Box<dyn std::error::Error>;

fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_default();
    let deadline = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let Some(universe) = mpi::initialize() else {
        eprintln!("MPI was initialised already");
        std::process::exit(2);
    };
    let ranks = Ranks::new(universe.world()).with_deadline(Duration::from_secs(deadline));
    let result = Gpu::new()
        .map_err(Fault::from)
        .and_then(|gpu| scenarios::run(&scenario, &ranks, &gpu));
    match result {
        Ok(()) => println!("rank {} of {}: {scenario}: ok", ranks.rank(), ranks.size()),
        Err(fault) => ranks.abort(1, &format!("{scenario}: {fault}")),
    }
}
