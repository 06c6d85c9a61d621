//! What can go wrong across ranks, as one typed error.

/// The companion crate's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The optimizer, arena or device refused (see [`wgpu_alig::Error`]).
    #[error(transparent)]
    Alig(#[from] wgpu_alig::Error),
    /// The ranks passed vectors of different lengths to one collective: every rank gets this
    /// error, with every rank's length, and nothing was exchanged.
    #[error("the ranks passed different lengths to one all-reduce: {lengths:?} (rank by rank)")]
    LengthsDiffer {
        /// Each rank's length, in rank order.
        lengths: Vec<u64>,
    },
    /// One rank's share of a vector does not fit MPI's `int` counts.
    #[error("{len} values over {ranks} ranks: a rank's share exceeds MPI's int count")]
    TooLong {
        /// The vector's length.
        len: usize,
        /// The number of ranks.
        ranks: usize,
    },
    /// Reading a norm back from the device failed.
    #[error("reading the shard's norm back failed: {0}")]
    Readback(String),
}

/// The companion crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
