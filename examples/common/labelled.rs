//! The seeded random split that both examples use for their test and validation parts, over
//! labelled samples stored row after row (`width` values per sample).

use super::split_mix::SplitMix64;

/// The values and labels of some samples.
pub type Rows<T> = (Vec<T>, Vec<u32>);

/// A seeded random split of `labels.len()` samples: `(kept, held_out)` with `held_out`
/// samples in the second part.
pub fn split_rows<T: Copy>(
    values: &[T],
    labels: &[u32],
    width: usize,
    held_out: usize,
    seed: u64,
) -> (Rows<T>, Rows<T>) {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    SplitMix64::new(seed).shuffle(&mut order);
    let (held, kept) = order.split_at(held_out.min(labels.len()));
    let select = |samples: &[usize]| {
        let mut rows = Vec::with_capacity(samples.len() * width);
        for &sample in samples {
            rows.extend_from_slice(&values[sample * width..(sample + 1) * width]);
        }
        let row_labels = samples.iter().map(|&sample| labels[sample]).collect();
        (rows, row_labels)
    };
    (select(kept), select(held))
}
