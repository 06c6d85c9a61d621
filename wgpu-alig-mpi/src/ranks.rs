//! The ranks of a job and their collectives: each waited for with a deadline, so that a rank
//! that died or hangs ends the job with a message instead of a hang.

use std::time::{Duration, Instant};

use mpi::request::{Request, Scope};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;

use crate::error::{Error, Result};

/// How long a collective waits for the other ranks by default. A step's collective waits for
/// the slowest rank's forward and backward passes too, so this is generous.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

/// The exit status of a job ended because a collective passed its deadline.
pub const DEADLINE_EXIT_CODE: i32 = 3;

/// The ranks of a communicator, with the deadline every collective of this crate keeps.
///
/// MPI's default error handler already ends the job when a peer's connection breaks; the
/// deadline covers a peer that neither answers nor breaks (a hung rank, a lost node). A
/// collective in flight can be neither cancelled nor have its buffers released, so a missed
/// deadline prints which rank waited for what and calls `MPI_Abort` on the communicator,
/// which ends every rank of the job with [`DEADLINE_EXIT_CODE`].
pub struct Ranks {
    comm: SimpleCommunicator,
    deadline: Duration,
}

impl Ranks {
    /// The ranks of `comm` (for instance `universe.world()`), with [`DEFAULT_DEADLINE`].
    pub fn new(comm: SimpleCommunicator) -> Self {
        Self {
            comm,
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// The same ranks with another deadline for each collective.
    pub fn with_deadline(self, deadline: Duration) -> Self {
        Self { deadline, ..self }
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size() as usize
    }

    /// The communicator.
    pub fn comm(&self) -> &SimpleCommunicator {
        &self.comm
    }

    /// Ends the whole job (`MPI_Abort`) with `code`, after `message` on this rank's stderr.
    pub fn abort(&self, code: i32, message: &str) -> ! {
        eprintln!(
            "wgpu-alig-mpi: rank {} of {}: {message}",
            self.rank(),
            self.size()
        );
        self.comm.abort(code)
    }

    /// Every rank's `value`, in rank order.
    pub(crate) fn all_gather<T: Equivalence + Copy + Default>(
        &self,
        value: &[T],
        what: &str,
    ) -> Vec<T> {
        let mut all = vec![T::default(); value.len() * self.size()];
        mpi::request::scope(|scope| {
            let request = self
                .comm
                .immediate_all_gather_into(scope, value, &mut all[..]);
            self.finish(request, what);
        });
        all
    }

    /// Every rank's length; an error on every rank when they differ.
    pub(crate) fn same_length(&self, len: usize, what: &str) -> Result<()> {
        let lengths = self.all_gather(&[len as u64], what);
        if lengths.iter().any(|&other| other != len as u64) {
            return Err(Error::LengthsDiffer { lengths });
        }
        Ok(())
    }

    /// Waits for `request`, driving MPI's progress, until the deadline; past it, ends the job.
    pub(crate) fn finish<'a, D: ?Sized, S: Scope<'a>>(
        &self,
        request: Request<'a, D, S>,
        what: &str,
    ) {
        let started = Instant::now();
        let mut pending = request;
        loop {
            match pending.test() {
                Ok(_) => return,
                Err(request) => pending = request,
            }
            if started.elapsed() > self.deadline {
                self.abort(
                    DEADLINE_EXIT_CODE,
                    &format!(
                        "{what}: no answer from the other ranks in {:.0} s (a rank died or hangs); ending the job",
                        self.deadline.as_secs_f64()
                    ),
                );
            }
            std::thread::yield_now();
        }
    }
}
