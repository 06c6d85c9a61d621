//! Timing variants in alternation, rotating which goes first, so that the host's drift hits
//! all of them alike.

use std::time::Duration;

use crate::options::Options;
use crate::timer::{median, Sample};

/// The median time of each of `count` variants and the repetitions run; `run(k)` runs
/// variant `k` once. One untimed round first warms up and sizes the repetitions.
pub fn alternating_medians(
    options: &Options,
    count: usize,
    mut run: impl FnMut(usize) -> Sample,
) -> (Vec<Duration>, usize) {
    let round: Duration = (0..count).map(|k| run(k).wall).sum();
    let reps = options.reps_for(round);
    let mut times = vec![Vec::with_capacity(reps); count];
    for rep in 0..reps {
        for i in 0..count {
            let k = (rep + i) % count;
            times[k].push(run(k).time());
        }
    }
    let medians = times.into_iter().map(median).collect();
    (medians, reps)
}
