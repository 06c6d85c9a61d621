//! Evidence that nothing is read back: burn's runtime reads a tensor to the host only through
//! its staging memory, so a device whose staging memory never held a page has had no host
//! read through burn.

use burn::tensor::Tensor;
use cubecl_runtime::memory_management::MemoryScope;

use crate::cube_tensor::cube_tensor;
use crate::error::{Error, Result};

/// The name burn's wgpu runtime gives the memory its reads to the host are staged in.
const STAGING_MEMORY: &str = "Staging CPU Memory";

/// The most staging pages burn's runtime has held at once on `tensor`'s device since it was
/// created: 0 exactly when nothing was ever read to the host through burn there (every read
/// stages its bytes in such a page).
pub fn staging_pages_peak<const D: usize>(tensor: &Tensor<D>) -> Result<u64> {
    let cube = cube_tensor(tensor.clone()).ok_or_else(|| Error::NotOnWgpu("tensor".into()))?;
    let report = cube.client.memory_report(MemoryScope::Device);
    Ok(report
        .streams
        .iter()
        .flat_map(|stream| &stream.auxiliary)
        .filter(|memory| memory.name == STAGING_MEMORY)
        .flat_map(|memory| {
            let pools = &memory.pools;
            pools
                .dynamic
                .iter()
                .chain([&pools.persistent, &pools.dedicated])
        })
        .map(|pool| pool.pages_peak)
        .sum())
}
