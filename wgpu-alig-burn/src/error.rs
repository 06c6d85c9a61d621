//! The adapter's error type.

/// Everything that can go wrong in the adapter. Every variant is returned, never panicked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The core crate refused (a tensor of another device is [`wgpu_alig::Error::WrongDevice`]).
    #[error(transparent)]
    Alig(#[from] wgpu_alig::Error),
    /// A parameter, gradient or loss is not a tensor of burn's wgpu backend (fused or not).
    #[error("`{0}` is not a tensor of burn's wgpu backend")]
    NotOnWgpu(String),
    /// The optimizer steps `f32` tensors only.
    #[error("`{name}` is {dtype}; the optimizer steps f32 tensors")]
    NotF32 {
        /// The parameter (module path), or `loss`.
        name: String,
        /// Its data type.
        dtype: String,
    },
    /// A parameter or gradient whose elements are not laid out contiguously in its buffer.
    #[error("`{0}` is not contiguous in its buffer")]
    NotContiguous(String),
    /// The loss must be a single element.
    #[error("the loss has {0} elements; the step needs a single one")]
    LossNotScalar(usize),
    /// The parameters with a gradient are fixed at the first step (they make the optimizer's
    /// arena); one gained or lost its gradient since.
    #[error(
        "parameter `{0}` gained or lost its gradient since the first step; build a new optimizer for a new set of trainable parameters"
    )]
    TrainableSetChanged(String),
    /// Burn's runtime refused a request (flush, buffer look-up).
    #[error("burn's wgpu runtime: {0}")]
    Runtime(String),
    /// A saved optimizer record could not be written or read.
    #[error("optimizer record: {0}")]
    Record(String),
}

/// The adapter's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
