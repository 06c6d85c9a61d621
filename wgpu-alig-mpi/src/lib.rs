//! ALI-G ([`wgpu_alig`]) across the ranks of an MPI job, one process per device: the glue
//! between the optimizer's step and the collectives of an existing MPI library (OpenMPI,
//! MPICH, through the [`mpi`] crate). The core crate depends on no distributed runtime.
//!
//! - **Data parallel**: every rank holds the whole model. After the backward pass,
//!   [`average_gradients`] replaces each rank's gradients and loss with their mean over the
//!   ranks, staged through the host; every rank then takes the plain [`wgpu_alig::Alig::step`].
//!   The mean is summed in rank order ([`Ranks::mean_in_rank_order`]), so every rank gets the
//!   same bits and the replicas stay identical.
//! - **Sharded**: each rank's optimizer steps its own shard of the model.
//!   [`ShardedStep::step`] runs the sharded step of the core crate
//!   (`record_local_grad_norm`, `record_global_update`, and with projection
//!   `record_local_param_norm`, `record_global_projection`) and all-gathers the 8-byte
//!   [`wgpu_alig::ShardNorm`] between them, combined in rank order on every rank.
//!
//! Every collective waits with a deadline ([`Ranks::with_deadline`]): a rank that died or
//! hangs ends the job with a message naming the rank that waited and for what, instead of a
//! hang. A non-finite gradient on any rank skips the step on every rank, nothing written.
//!
//! ```no_run
//! use wgpu_alig::{Alig, AligConfig, Arena, Gpu, Loss};
//! use wgpu_alig_mpi::{average_gradients, Ranks};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let universe = mpi::initialize().ok_or("MPI was initialised already")?;
//! let ranks = Ranks::new(universe.world());
//! let gpu = Gpu::new()?;
//! let arena = Arena::new(&gpu.device, &[("w", 1000), ("b", 10)])?;
//! let mut alig = Alig::new(&gpu.device, &arena, AligConfig::paper(0.1))?;
//! for _step in 0..100 {
//!     // ... this rank's forward and backward passes write the gradients into `arena` ...
//!     let local_loss = 1.0;
//!     let loss = average_gradients(&ranks, (&gpu.device, &gpu.queue), &arena, local_loss)?;
//!     alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))?;
//! }
//! # Ok(())
//! # }
//! ```

mod data_parallel;
mod error;
mod mean;
mod ranks;
mod sharded;

pub use data_parallel::average_gradients;
pub use error::{Error, Result};
pub use mean::{sum_in_rank_order, Shares};
pub use ranks::{Ranks, DEADLINE_EXIT_CODE, DEFAULT_DEADLINE};
pub use sharded::ShardedStep;
