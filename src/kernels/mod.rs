//! The kernels: the WGSL sources and their specialization ([`shaders`]), the compute
//! pipelines, the host twins of the WGSL structs, the chunk table that masks padding and
//! frozen tensors, the work split of a pass, the error bound of the sums, and whether the
//! modules carry bounds checks ([`runtime_checks`]).

pub(crate) mod chunk_table;
pub(crate) mod pipelines;
pub(crate) mod runtime_checks;
pub(crate) mod shader_types;
pub mod shaders;
pub(crate) mod shard_norm;
pub(crate) mod summation;
pub(crate) mod work_split;
