//! The kernels' table of 64-float chunks: for each chunk of the arena, the group of the tensor
//! it belongs to and how many of its floats are trainable. Padding and frozen tensors are
//! masked through it, so what an engine leaves there never counts and is never written.

use crate::arena::ArenaLayout;
use crate::error::{Error, Result};
use crate::kernels::shader_types::{CHUNK_FLOATS, CHUNK_GROUP_BITS};

/// Most groups an entry can name.
pub(crate) const MAX_GROUPS: usize = 1 << CHUNK_GROUP_BITS;

/// One entry per chunk (`chunk_table` in `shaders/common.wgsl`): the group in the low
/// [`CHUNK_GROUP_BITS`] bits, the number of trainable floats (0 to 64, from the chunk's start)
/// above them. Each tensor starts at a chunk boundary (the arena aligns to 256 bytes), so a
/// chunk holds one tensor's floats and then padding.
pub(crate) fn chunk_table(
    layout: &ArenaLayout,
    tensor_groups: &[Option<usize>],
    groups: usize,
) -> Result<Vec<u32>> {
    if groups > MAX_GROUPS {
        return Err(Error::TooManyGroups {
            groups,
            limit: MAX_GROUPS,
        });
    }
    let mut chunks = vec![0u32; layout.len().div_ceil(CHUNK_FLOATS)];
    for (tensor, group) in layout.tensors().iter().zip(tensor_groups) {
        let Some(group) = group else { continue };
        let first = tensor.offset / CHUNK_FLOATS;
        let end = (tensor.offset + tensor.len).div_ceil(CHUNK_FLOATS);
        for (chunk, entry) in chunks[first..end].iter_mut().enumerate() {
            let trainable = (tensor.len - chunk * CHUNK_FLOATS).min(CHUNK_FLOATS);
            *entry = ((trainable as u32) << CHUNK_GROUP_BITS) | *group as u32;
        }
    }
    Ok(chunks)
}

/// Whether some chunk has a float that is not trainable (padding or a frozen tensor): only
/// then do the kernels need to mask.
pub(crate) fn has_masked_floats(table: &[u32]) -> bool {
    table
        .iter()
        .any(|&entry| (entry >> CHUNK_GROUP_BITS) as usize != CHUNK_FLOATS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trainable(entry: u32) -> u32 {
        entry >> CHUNK_GROUP_BITS
    }

    #[test]
    fn entries_count_trainable_floats_and_name_groups() {
        let layout = ArenaLayout::new(&[("a", 130), ("b", 3), ("c", 64)], 256).unwrap();
        let table = chunk_table(&layout, &[Some(1), None, Some(0)], 2).unwrap();
        // a: chunks 0..3 (64, 64, 2); b: chunk 3 (frozen); c: chunk 4 (64).
        assert_eq!(
            table.iter().map(|&e| trainable(e)).collect::<Vec<_>>(),
            [64, 64, 2, 0, 64]
        );
        assert_eq!(table[0] & (MAX_GROUPS as u32 - 1), 1);
        assert_eq!(table[4] & (MAX_GROUPS as u32 - 1), 0);
        assert!(has_masked_floats(&table));
    }

    #[test]
    fn whole_chunks_need_no_mask() {
        let layout = ArenaLayout::new(&[("a", 128), ("b", 64)], 256).unwrap();
        let table = chunk_table(&layout, &[Some(0), Some(0)], 1).unwrap();
        assert!(!has_masked_floats(&table));
        // A wider alignment leaves whole chunks of padding.
        let layout = ArenaLayout::new(&[("a", 64), ("b", 64)], 512).unwrap();
        let table = chunk_table(&layout, &[Some(0), Some(0)], 1).unwrap();
        assert!(has_masked_floats(&table));
    }

    #[test]
    fn too_many_groups_is_an_error() {
        let layout = ArenaLayout::new(&[("a", 1)], 256).unwrap();
        assert!(matches!(
            chunk_table(&layout, &[Some(0)], MAX_GROUPS + 1),
            Err(Error::TooManyGroups { .. })
        ));
    }
}
