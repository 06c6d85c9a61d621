//! How far the kernels' sums of squares (`||g||^2`, and `||w||^2` for projection) can be from
//! the exact sum of the squares of the `f32` values: the bound that `shaders/common.wgsl`
//! builds its sums to keep, computed from the shape of the sums alone.
//!
//! Every term is `>= 0`, so if no term goes through more than `D` roundings on its way to the
//! total, the total is within `D * u / (1 - D * u)` of the exact sum, relative (`u = 2^-24`;
//! Higham, *Accuracy and Stability of Numerical Algorithms*, §4.2). The roundings a term can
//! meet, one level of the sum after another:
//!
//! - its square: 1;
//! - its thread's sum over `n` terms per lane: four interleaved accumulators for `||g||^2`
//!   (see [`interleaved_sum_roundings`]), a blocked sum for `||w||^2` (see
//!   [`blocked_sum_roundings`]); the bound takes the larger, so that it holds for both;
//! - the thread's four lanes, pairwise: 2;
//! - the workgroup's 256 threads, pairwise: 8;
//! - the partials' slice sums in passes 2 and 3, blocked over `ceil(P / 32)` partials;
//! - the 32 slices, pairwise: 5.
//!
//! Nothing here depends on a compiler keeping an algebraic identity: only the order of the
//! additions matters, and it is fixed by the kernels' code.

use crate::kernels::shader_types::{BLOCK_TERMS, PARTIAL_SLICES, WORKGROUP_SIZE};

/// The unit roundoff of `f32`.
const UNIT_ROUNDOFF: f64 = 1.0 / (1u64 << 24) as f64;

/// The most roundings a term meets in a blocked sum of `terms` terms (`blocked_add` and
/// `blocked_total` in `shaders/common.wgsl`): at most `BLOCK_TERMS - 1` inside its block
/// (the first addition to a fresh block is exact), one per later block added into the total
/// (the first such addition is exact too), and one when the last, partial block joins the
/// total.
pub(crate) fn blocked_sum_roundings(terms: u64) -> u32 {
    if terms == 0 {
        return 0;
    }
    let block = u64::from(BLOCK_TERMS);
    let full_blocks = terms / block;
    let in_block = terms.min(block) - 1;
    let into_total = full_blocks.saturating_sub(1);
    let last_block = u64::from(full_blocks > 0 && !terms.is_multiple_of(block));
    u32::try_from(in_block + into_total + last_block).unwrap_or(u32::MAX)
}

/// Accumulators of pass 1's interleaved sum (`a0` to `a3` in `shaders/grad_sq_norm.wgsl`).
const INTERLEAVED_ACCUMULATORS: u64 = 4;

/// The most roundings a term meets in pass 1's sum of `terms` terms per lane: the terms go
/// round the four accumulators, the 0 to 3 left over after the last full round into the
/// first, so the first holds the most, `terms / 4 + terms % 4`, and its first addition (to
/// zero) is exact; then the four are summed pairwise (2).
pub(crate) fn interleaved_sum_roundings(terms: u64) -> u32 {
    if terms == 0 {
        return 0;
    }
    let rounds = terms / INTERLEAVED_ACCUMULATORS;
    let first = rounds + terms % INTERLEAVED_ACCUMULATORS;
    u32::try_from(first - 1 + INTERLEAVED_ACCUMULATORS.ilog2() as u64).unwrap_or(u32::MAX)
}

/// One window's pass: `len_vec4` vec4s over `workgroups` workgroups.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WindowPass {
    pub len_vec4: u32,
    pub workgroups: u32,
}

/// The most roundings any term of a squared norm meets, over the given windows.
pub(crate) fn sq_norm_roundings(windows: &[WindowPass]) -> u32 {
    let terms_per_lane = windows
        .iter()
        .map(|w| {
            let threads = u64::from(w.workgroups) * u64::from(WORKGROUP_SIZE);
            u64::from(w.len_vec4).div_ceil(threads.max(1))
        })
        .max()
        .unwrap_or(0);
    let partials: u64 = windows.iter().map(|w| u64::from(w.workgroups)).sum();
    let per_slice = partials.div_ceil(u64::from(PARTIAL_SLICES));
    let square = 1;
    let lanes = 2;
    let workgroup = WORKGROUP_SIZE.ilog2();
    let slices = PARTIAL_SLICES.ilog2();
    square
        + interleaved_sum_roundings(terms_per_lane).max(blocked_sum_roundings(terms_per_lane))
        + lanes
        + workgroup
        + blocked_sum_roundings(per_slice)
        + slices
}

/// The relative error bound that `roundings` roundings of terms `>= 0` give.
pub(crate) fn relative_bound(roundings: u32) -> f64 {
    let du = f64::from(roundings) * UNIT_ROUNDOFF;
    du / (1.0 - du)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_sums_round_a_term_at_most_this_often() {
        // BLOCK_TERMS = 8: one block, then full blocks, then a partial block after them.
        assert_eq!(blocked_sum_roundings(0), 0);
        assert_eq!(blocked_sum_roundings(1), 0);
        assert_eq!(blocked_sum_roundings(8), 7);
        assert_eq!(blocked_sum_roundings(9), 8);
        assert_eq!(blocked_sum_roundings(16), 8);
        assert_eq!(blocked_sum_roundings(96), 18);
        assert_eq!(blocked_sum_roundings(97), 19);
    }

    /// The sum that the bound describes, done in f32 in the kernels' order on adversarial
    /// data: no term may go through more roundings than counted.
    #[test]
    fn a_blocked_sum_in_f32_stays_within_its_bound() {
        for terms in [1usize, 7, 8, 9, 63, 64, 65, 1000] {
            // One large term, then terms that a plain running sum would round away.
            let values: Vec<f32> = (0..terms)
                .map(|i| if i == 0 { 1.0 } else { 2f32.powi(-25) })
                .collect();
            let mut total = 0f32;
            let mut block = 0f32;
            let mut in_block = 0;
            for &v in &values {
                block += v;
                in_block += 1;
                if in_block == BLOCK_TERMS {
                    total += block;
                    block = 0.0;
                    in_block = 0;
                }
            }
            let total = total + block;
            let exact: f64 = values.iter().map(|&v| f64::from(v)).sum();
            let error = (f64::from(total) - exact).abs() / exact;
            let bound = relative_bound(blocked_sum_roundings(terms as u64));
            assert!(error <= bound, "{terms} terms: {error:e} > {bound:e}");
        }
    }

    #[test]
    fn interleaved_sums_round_a_term_at_most_this_often() {
        // Four accumulators: the first takes every fourth term and the 0 to 3 left over.
        assert_eq!(interleaved_sum_roundings(0), 0);
        assert_eq!(interleaved_sum_roundings(1), 2);
        assert_eq!(interleaved_sum_roundings(3), 4);
        assert_eq!(interleaved_sum_roundings(4), 2);
        assert_eq!(interleaved_sum_roundings(16), 5);
        assert_eq!(interleaved_sum_roundings(19), 8);
        assert_eq!(interleaved_sum_roundings(96), 25);
    }

    /// Pass 1's sum, done in f32 in its order on data where the large term sits where it
    /// meets the most roundings: no term may go through more roundings than counted.
    #[test]
    fn an_interleaved_sum_in_f32_stays_within_its_bound() {
        for terms in [1usize, 3, 4, 5, 7, 16, 19, 64, 97, 1000] {
            for large_at in [0, terms - 1] {
                let values: Vec<f32> = (0..terms)
                    .map(|i| if i == large_at { 1.0 } else { 2f32.powi(-25) })
                    .collect();
                let mut accumulators = [0f32; 4];
                let full = terms / 4 * 4;
                for (i, &v) in values[..full].iter().enumerate() {
                    accumulators[i % 4] += v;
                }
                for &v in &values[full..] {
                    accumulators[0] += v;
                }
                let [a0, a1, a2, a3] = accumulators;
                let total = (a0 + a1) + (a2 + a3);
                let exact: f64 = values.iter().map(|&v| f64::from(v)).sum();
                let error = (f64::from(total) - exact).abs() / exact;
                let bound = relative_bound(interleaved_sum_roundings(terms as u64));
                assert!(error <= bound, "{terms} terms: {error:e} > {bound:e}");
            }
        }
    }

    #[test]
    fn a_step_rounds_a_term_this_often() {
        // 10^6 floats on a GPU split (4 vec4s per thread): 4 terms per lane, 245 partials.
        let one = WindowPass {
            len_vec4: 250_000,
            workgroups: 245,
        };
        assert_eq!(sq_norm_roundings(&[one]), 1 + 3 + 2 + 8 + 7 + 5);
        // 10^8 floats in one window of 1024 workgroups: 96 terms per lane (25 roundings in
        // pass 1's interleaved sum, 18 in the blocked one of ||w||^2), 32 per slice.
        let large = WindowPass {
            len_vec4: 25_000_000,
            workgroups: 1024,
        };
        assert_eq!(sq_norm_roundings(&[large]), 1 + 25 + 2 + 8 + 10 + 5);
        // 1.6·10^7 floats on a CPU split (16 vec4s per thread): the blocked sum counts more.
        let cpu = WindowPass {
            len_vec4: 4_000_000,
            workgroups: 977,
        };
        assert_eq!(sq_norm_roundings(&[cpu]), 1 + 8 + 2 + 8 + 10 + 5);
    }
}
