//! Where each tensor lives in an arena: aligned offsets, padding, windows, and the names and
//! ids that find a tensor (a name is a map look-up, a [`TensorId`] an index: what an engine's
//! per-step path should hold). Plain data, independent of any device.

use std::collections::HashMap;

use crate::error::{Error, Result};

pub(crate) const F32_BYTES: u64 = 4;

/// Where one tensor lives in the arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSlot {
    /// The tensor's name, unique in its arena.
    pub name: String,
    /// Offset of its first element, in elements from the start of the arena.
    pub offset: usize,
    /// Number of elements.
    pub len: usize,
}

impl TensorSlot {
    /// Offset of the tensor in bytes in an f32 buffer (the momentum, the master parameters;
    /// half of it in an f16 one): a multiple of the arena's alignment.
    pub fn byte_offset(&self) -> u64 {
        self.offset as u64 * F32_BYTES
    }

    /// Size of the tensor in bytes in an f32 buffer (without padding).
    pub fn byte_size(&self) -> u64 {
        self.len as u64 * F32_BYTES
    }

    /// Size of the tensor in bytes rounded up to whole `vec4<f32>`s (16 bytes): the padding
    /// after every tensor holds at least that much.
    pub fn vec4_byte_size(&self) -> u64 {
        self.byte_size().next_multiple_of(16)
    }

    /// The element range of the tensor in the arena.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// The placement of tensors in an arena, independent of any device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArenaLayout {
    tensors: Vec<TensorSlot>,
    // Name to position: look-ups stay constant-time with 10^5 tensors.
    ids: HashMap<String, usize>,
    len: usize,
    alignment: u64,
}

impl ArenaLayout {
    /// Places `tensors` (name, number of elements) one after the other, each starting at a
    /// multiple of `alignment` bytes, raised to at least 256: every storage binding offset is
    /// then valid (WebGPU caps the required alignment at 256), and each 64-float chunk belongs
    /// to one tensor, which is what lets the kernels look a chunk's parameter group up. The
    /// total length is a multiple of 4 elements.
    pub fn new(tensors: &[(&str, usize)], alignment: u32) -> Result<Self> {
        if tensors.is_empty() {
            return Err(Error::EmptyArena);
        }
        let alignment = u64::from(alignment).max(256).next_power_of_two();
        let align_elements = (alignment / F32_BYTES) as usize;
        let mut slots: Vec<TensorSlot> = Vec::with_capacity(tensors.len());
        let mut ids = HashMap::with_capacity(tensors.len());
        let mut end = 0usize;
        for &(name, len) in tensors {
            if len == 0 {
                return Err(Error::EmptyTensor(name.to_string()));
            }
            if ids.insert(name.to_string(), slots.len()).is_some() {
                return Err(Error::DuplicateTensor(name.to_string()));
            }
            // Sizes near usize::MAX would wrap: refuse them (no device holds such an arena).
            let too_large = || Error::ArenaTooLarge {
                bytes: tensors.iter().fold(0u64, |bytes, &(_, len)| {
                    bytes.saturating_add((len as u64).saturating_mul(F32_BYTES))
                }),
                limit: isize::MAX as u64,
                what: "address space",
            };
            let offset = end
                .checked_next_multiple_of(align_elements)
                .ok_or_else(too_large)?;
            end = offset
                .checked_add(len)
                .filter(|&end| end <= isize::MAX as usize / F32_BYTES as usize)
                .ok_or_else(too_large)?;
            slots.push(TensorSlot {
                name: name.to_string(),
                offset,
                len,
            });
        }
        Ok(Self {
            tensors: slots,
            ids,
            len: end.next_multiple_of(4),
            alignment,
        })
    }

    /// The tensors, in the order they were declared.
    pub fn tensors(&self) -> &[TensorSlot] {
        &self.tensors
    }

    /// The tensor `key` names (a name or a [`TensorId`]).
    pub fn tensor(&self, key: impl TensorKey) -> Result<&TensorSlot> {
        key.slot_in(self)
    }

    /// The id of the tensor called `name`: hold it for the per-step path.
    pub fn id(&self, name: &str) -> Result<TensorId> {
        self.ids
            .get(name)
            .map(|&index| TensorId(index))
            .ok_or_else(|| Error::UnknownTensor(name.to_string()))
    }

    /// Elements in the arena, padding included (a multiple of 4).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an arena has at least one tensor of at least one element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of one buffer of the arena.
    pub fn byte_size(&self) -> u64 {
        self.len as u64 * F32_BYTES
    }

    /// The byte alignment of every tensor's offset.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Splits the arena's bytes into windows of at most `max_binding` bytes, each starting at
    /// a multiple of the alignment: the ranges the kernels bind when the arena is larger than
    /// one storage binding. Tensors may straddle windows; the kernels are element-wise.
    pub fn windows(&self, max_binding: u64) -> Vec<std::ops::Range<u64>> {
        let window = (max_binding / self.alignment).max(1) * self.alignment;
        let total = self.byte_size();
        (0..total.div_ceil(window))
            .map(|w| w * window..((w + 1) * window).min(total))
            .collect()
    }

    /// The tensors of `arena` (a whole buffer in this layout) one after the other, padding
    /// left out.
    pub(crate) fn gather(&self, arena: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.num_elements());
        for slot in &self.tensors {
            out.extend_from_slice(&arena[slot.range()]);
        }
        out
    }

    /// Number of trainable elements (padding excluded).
    pub fn num_elements(&self) -> usize {
        self.tensors.iter().map(|slot| slot.len).sum()
    }
}

/// A tensor of an arena by its position in the order the tensors were declared: a look-up
/// with no hashing, for the per-step path. From [`Arena::tensor_id`](crate::Arena::tensor_id).
///
/// An id names the tensor at that position in any arena of the same layout (an arena rebuilt
/// for a restored run, say); in an arena with fewer tensors it is
/// [`Error::UnknownTensorId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub(crate) usize);

impl TensorId {
    /// The tensor's position in the arena's declaration order.
    pub fn index(self) -> usize {
        self.0
    }
}

/// What names a tensor in the arena's calls: a name (`&str`, `&String`, ...) or a
/// [`TensorId`].
pub trait TensorKey {
    /// The slot this key names in `layout`.
    fn slot_in<'a>(&self, layout: &'a ArenaLayout) -> Result<&'a TensorSlot>;
}

impl TensorKey for TensorId {
    fn slot_in<'a>(&self, layout: &'a ArenaLayout) -> Result<&'a TensorSlot> {
        layout.tensors().get(self.0).ok_or(Error::UnknownTensorId {
            index: self.0,
            tensors: layout.tensors().len(),
        })
    }
}

impl<T: AsRef<str> + ?Sized> TensorKey for &T {
    fn slot_in<'a>(&self, layout: &'a ArenaLayout) -> Result<&'a TensorSlot> {
        let name = (*self).as_ref();
        let id = layout.id(name)?;
        id.slot_in(layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_start_aligned_and_do_not_overlap() {
        let layout = ArenaLayout::new(&[("a", 1), ("b", 3), ("c", 255), ("d", 257)], 256).unwrap();
        let offsets: Vec<usize> = layout.tensors().iter().map(|t| t.offset).collect();
        assert_eq!(offsets, [0, 64, 128, 384]);
        assert_eq!(layout.len(), 384 + 260);
        assert_eq!(layout.num_elements(), 1 + 3 + 255 + 257);
        for t in layout.tensors() {
            assert_eq!(t.byte_offset() % 256, 0);
        }
    }

    #[test]
    fn windows_cover_the_arena_at_aligned_offsets() {
        let layout = ArenaLayout::new(&[("a", 1000), ("b", 3)], 256).unwrap();
        assert_eq!(layout.windows(1 << 20), vec![0..layout.byte_size()]);
        let windows = layout.windows(1000);
        assert_eq!(windows[0], 0..768);
        assert_eq!(windows.last().unwrap().end, layout.byte_size());
        for pair in windows.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(pair[1].start % 256, 0);
        }
    }

    #[test]
    fn small_alignments_are_raised_to_a_chunk() {
        let layout = ArenaLayout::new(&[("a", 1), ("b", 1)], 4).unwrap();
        assert_eq!(layout.alignment(), 256);
        assert_eq!(layout.tensor("b").unwrap().offset, 64);
    }

    #[test]
    fn bad_layouts_are_typed_errors() {
        assert!(matches!(ArenaLayout::new(&[], 256), Err(Error::EmptyArena)));
        assert!(matches!(
            ArenaLayout::new(&[("a", 0)], 256),
            Err(Error::EmptyTensor(_))
        ));
        assert!(matches!(
            ArenaLayout::new(&[("a", 1), ("a", 2)], 256),
            Err(Error::DuplicateTensor(_))
        ));
        let layout = ArenaLayout::new(&[("a", 1)], 256).unwrap();
        assert!(matches!(layout.tensor("b"), Err(Error::UnknownTensor(_))));
        assert!(matches!(
            ArenaLayout::new(&[("a", 1), ("b", usize::MAX)], 256),
            Err(Error::ArenaTooLarge { .. })
        ));
    }
}
