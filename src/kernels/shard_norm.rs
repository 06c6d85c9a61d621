//! The one value a sharded step exchanges between devices, and where it is exchanged.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};

/// A squared norm over one shard of a model (its gradients, or with projection its
/// parameters), as the GPU leaves it: 8 bytes, the `f32` sum of squares then the largest bit
/// pattern of `|x|` over the shard's elements (`0x7f800000` and above: some element is
/// infinite or NaN, and the step is skipped). Shards combine by summing `sq_sum` and taking
/// the largest `max_abs_bits` ([`ShardNorm::combine`]); an engine's own collective can do
/// the same on the raw bytes (an f32 sum and a u32 max).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ShardNorm {
    /// The sum of the squares.
    pub sq_sum: f32,
    /// The largest bit pattern of `|x|`: detects non-finite elements.
    pub max_abs_bits: u32,
}

impl ShardNorm {
    /// Bytes of one value in a buffer.
    pub const SIZE: u64 = std::mem::size_of::<Self>() as u64;

    /// The norm of the union of the shards: the sums added in `f64` and rounded once (to
    /// infinity when the total overflows `f32`, which skips the step), the largest bit
    /// pattern kept. Every device must be given the same combined value, bit for bit, for
    /// all of them to compute the same step size.
    pub fn combine(shards: impl IntoIterator<Item = ShardNorm>) -> ShardNorm {
        let mut sum = 0.0f64;
        let mut max_abs_bits = 0u32;
        for shard in shards {
            sum += f64::from(shard.sq_sum);
            max_abs_bits = max_abs_bits.max(shard.max_abs_bits);
        }
        ShardNorm {
            sq_sum: sum as f32,
            max_abs_bits,
        }
    }

    /// Whether every element of the shards was finite.
    pub fn is_finite(&self) -> bool {
        self.max_abs_bits < 0x7f80_0000
    }
}

/// Where a [`ShardNorm`] is exchanged: [`ShardNorm::SIZE`] bytes of a buffer of the
/// optimizer's device at a 4-byte aligned `offset`. The crate copies its value there
/// (`BufferUsages::COPY_DST`) or the combined value from there (`BufferUsages::COPY_SRC`)
/// inside the step's encoder.
#[derive(Clone, Copy, Debug)]
pub struct NormSlot<'a> {
    /// The buffer holding the value.
    pub buffer: &'a wgpu::Buffer,
    /// Byte offset of the value in `buffer`.
    pub offset: u64,
}

impl NormSlot<'_> {
    /// The slot's bytes lie in its buffer, which has `usage`.
    pub(crate) fn check(&self, usage: wgpu::BufferUsages) -> Result<()> {
        let size = self.buffer.size();
        let fits = self
            .offset
            .checked_add(ShardNorm::SIZE)
            .is_some_and(|end| end <= size);
        if !self.offset.is_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT) || !fits {
            return Err(Error::NormSlotOffset {
                offset: self.offset,
                size,
            });
        }
        if !self.buffer.usage().contains(usage) {
            return Err(Error::NormSlotUsage(usage));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_combine_to_the_sum_and_the_largest_bits() {
        let a = ShardNorm {
            sq_sum: 1.5,
            max_abs_bits: 3,
        };
        let b = ShardNorm {
            sq_sum: 2.25,
            max_abs_bits: 9,
        };
        assert_eq!(
            ShardNorm::combine([a, b]),
            ShardNorm {
                sq_sum: 3.75,
                max_abs_bits: 9
            }
        );
        assert_eq!(ShardNorm::combine([]), ShardNorm::default());
    }

    #[test]
    fn a_non_finite_shard_makes_the_union_non_finite() {
        let finite = ShardNorm {
            sq_sum: 1.0,
            max_abs_bits: 1.0f32.to_bits(),
        };
        let nan = ShardNorm {
            sq_sum: f32::NAN,
            max_abs_bits: f32::NAN.to_bits(),
        };
        assert!(finite.is_finite());
        assert!(!ShardNorm::combine([finite, nan]).is_finite());
    }

    #[test]
    fn a_sum_beyond_f32_becomes_infinite() {
        let big = ShardNorm {
            sq_sum: f32::MAX,
            max_abs_bits: 1.0f32.to_bits(),
        };
        assert_eq!(ShardNorm::combine([big, big]).sq_sum, f32::INFINITY);
    }
}
