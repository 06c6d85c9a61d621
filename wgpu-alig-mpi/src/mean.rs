//! The mean of a vector over the ranks, every element summed in rank order: the same bits on
//! every rank and in every run, whatever algorithm the MPI library picks.
//!
//! `MPI_Allreduce` may add in any order, and its result may differ between ranks in the last
//! bit; replicas that must stay identical need one order. So the vector is split into one
//! contiguous share per rank; each rank receives its share of every rank's vector
//! (`MPI_Alltoallv`), sums them in rank order from `0.0`, scales by `1 / ranks`, and every rank
//! gathers the means (`MPI_Allgatherv`). The bytes moved per rank are those of a ring
//! all-reduce: `2 (p - 1) / p` of the vector.

use std::ops::Range;

use mpi::datatype::{Partition, PartitionMut};
use mpi::traits::*;
use mpi::Count;

use crate::error::{Error, Result};
use crate::ranks::Ranks;

/// Which contiguous share of a vector of `len` values each of `ranks` ranks reduces: plain
/// data, the same on every rank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shares {
    starts: Vec<usize>,
}

impl Shares {
    /// Shares as even as can be (they differ by at most one value); an error when a share's
    /// length or start does not fit MPI's `int` counts.
    pub fn new(len: usize, ranks: usize) -> Result<Self> {
        let starts: Vec<usize> = (0..=ranks).map(|r| len * r / ranks.max(1)).collect();
        let shares = Self { starts };
        let fits = |n: usize| Count::try_from(n).is_ok();
        if !(0..ranks).all(|r| fits(shares.starts[r]) && fits(shares.range(r).len())) {
            return Err(Error::TooLong { len, ranks });
        }
        Ok(shares)
    }

    /// The values rank `rank` reduces.
    pub fn range(&self, rank: usize) -> Range<usize> {
        self.starts[rank]..self.starts[rank + 1]
    }

    /// Each share's length, as MPI counts them.
    fn counts(&self) -> Vec<Count> {
        self.starts
            .windows(2)
            .map(|w| (w[1] - w[0]) as Count)
            .collect()
    }

    /// Each share's first value, as MPI counts them (`Shares::new` checked that they fit).
    fn displs(&self) -> Vec<Count> {
        self.starts[..self.starts.len() - 1]
            .iter()
            .map(|&s| s as Count)
            .collect()
    }
}

/// `Σ_r values_r` in rank order from `0.0`, times `scale`: `received` holds each rank's share
/// one after the other.
pub fn sum_in_rank_order(received: &[f32], share: usize, scale: f32) -> Vec<f32> {
    let mut sum = vec![0.0f32; share];
    if share > 0 {
        for from_rank in received.chunks_exact(share) {
            for (s, v) in sum.iter_mut().zip(from_rank) {
                *s += v;
            }
        }
    }
    for s in &mut sum {
        *s *= scale;
    }
    sum
}

impl Ranks {
    /// Replaces `values` with their mean over the ranks, each element summed in rank order:
    /// every rank gets the same bits. Every rank must call it with the same length; if one
    /// does not, every rank gets [`Error::LengthsDiffer`] and nothing is exchanged.
    pub fn mean_in_rank_order(&self, values: &mut [f32]) -> Result<()> {
        self.same_length(values.len(), "the lengths of a mean")?;
        let shares = Shares::new(values.len(), self.size())?;
        let (counts, displs) = (shares.counts(), shares.displs());
        let mine = shares.range(self.rank()).len();

        let mut received = vec![0.0f32; mine * self.size()];
        {
            let send = Partition::new(&values[..], &counts[..], &displs[..]);
            let mine_counts = vec![mine as Count; self.size()];
            let mine_displs: Vec<Count> = (0..self.size()).map(|r| (r * mine) as Count).collect();
            let mut receive = PartitionMut::new(&mut received[..], mine_counts, mine_displs);
            mpi::request::scope(|scope| {
                let request =
                    self.comm()
                        .immediate_all_to_all_varcount_into(scope, &send, &mut receive);
                self.finish(request, "the exchange of a mean's shares");
            });
        }
        let mean = sum_in_rank_order(&received, mine, 1.0 / self.size() as f32);
        let mut gathered = PartitionMut::new(values, &counts[..], &displs[..]);
        mpi::request::scope(|scope| {
            let request =
                self.comm()
                    .immediate_all_gather_varcount_into(scope, &mean[..], &mut gathered);
            self.finish(request, "the gathering of a mean");
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_the_vector_evenly_in_order() {
        for (len, ranks) in [(0, 1), (0, 3), (1, 2), (10, 3), (1_000_003, 7), (5, 8)] {
            let shares = Shares::new(len, ranks).unwrap();
            let mut next = 0;
            for r in 0..ranks {
                let range = shares.range(r);
                assert_eq!(range.start, next, "{len} over {ranks}: rank {r}");
                assert!(range.len() == len / ranks || range.len() == len / ranks + 1);
                next = range.end;
            }
            assert_eq!(next, len);
            assert_eq!(
                shares.counts().iter().map(|&c| c as usize).sum::<usize>(),
                len
            );
        }
    }

    #[test]
    fn a_share_past_an_int_is_an_error() {
        let len = Count::MAX as usize + 1;
        assert!(matches!(Shares::new(len, 1), Err(Error::TooLong { .. })));
        assert!(Shares::new(len, 2).is_ok());
        // Shares that fit, but the last one starts past an int.
        assert!(matches!(
            Shares::new(3 * len, 4),
            Err(Error::TooLong { .. })
        ));
    }

    #[test]
    fn the_sum_runs_in_rank_order_from_zero() {
        // 1e8 + 1 - 1e8: in rank order 0 + 1e8 + 1 rounds to 1e8, then - 1e8 gives 0; any
        // other order that adds 1 last gives 1.
        let received = [1e8f32, 1.0, -1e8];
        assert_eq!(sum_in_rank_order(&received, 1, 1.0), vec![0.0]);
        let received = [1.0f32, 2.0, 3.0, 4.0];
        assert_eq!(sum_in_rank_order(&received, 2, 0.5), vec![2.0, 3.0]);
        assert_eq!(sum_in_rank_order(&[], 0, 0.5), Vec::<f32>::new());
    }
}
