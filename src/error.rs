//! The crate's error type.

/// Everything that can go wrong in this crate. Every variant is returned, never panicked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `max_lr` must be finite and greater than zero.
    #[error("max_lr must be finite and > 0, got {0}")]
    InvalidMaxLr(f32),
    /// `momentum` must lie in `[0, 1)`.
    #[error("momentum must be in [0, 1), got {0}")]
    InvalidMomentum(f32),
    /// A setting of MoMo or MoMo-Adam out of its range (or not finite).
    #[error("{name} = {value} is out of range")]
    InvalidSetting {
        /// The setting, as the official code names it.
        name: &'static str,
        /// The value given.
        value: f32,
    },
    /// `eps` must be finite and `>= 0`.
    #[error("eps must be finite and >= 0, got {0}")]
    InvalidEps(f32),
    /// `f_star` (the loss floor) must be finite.
    #[error("f_star must be finite, got {0}")]
    InvalidFStar(f32),
    /// `c` (the scale of the squared norm) must be finite and greater than zero.
    #[error("c must be finite and > 0, got {0}")]
    InvalidC(f32),
    /// The stats ring must hold at least one record.
    #[error("stats_capacity must be at least 1")]
    InvalidStatsCapacity,
    /// `stats_capacity` is more than the device holds in one storage binding.
    #[error("stats_capacity = {capacity} records, but this device's max_storage_buffer_binding_size (or max_buffer_size) holds at most {max}")]
    StatsCapacityTooLarge {
        /// The capacity asked for.
        capacity: u32,
        /// The most this device holds
        /// ([`AligConfig::max_stats_capacity`](crate::AligConfig::max_stats_capacity)).
        max: u32,
    },
    /// The projection radius `max_norm` must be finite and greater than zero.
    #[error("max_norm must be finite and > 0, got {0}")]
    InvalidMaxNorm(f32),
    /// A tensor is listed in two parameter groups.
    #[error("tensor `{0}` is in two parameter groups")]
    TensorInTwoGroups(String),
    /// A parameter group names the same tensor twice.
    #[error("tensor `{tensor}` is named twice in parameter group {group}")]
    TensorTwiceInGroup {
        /// The tensor's name.
        tensor: String,
        /// The group's index.
        group: usize,
    },
    /// The arena passed is not laid out as the one the optimizer was built for.
    #[error("the arena's layout differs from the one the optimizer was built for")]
    ArenaMismatch,
    /// More parameter groups than the kernels' chunk table can name.
    #[error("{groups} parameter groups, but at most {limit} are supported")]
    TooManyGroups {
        /// Groups passed.
        groups: usize,
        /// Most groups an optimizer can have.
        limit: usize,
    },
    /// No parameter group has that index.
    #[error("no parameter group {group}: the optimizer has {groups}")]
    UnknownGroup {
        /// The index passed.
        group: usize,
        /// Groups of the optimizer.
        groups: usize,
    },
    /// A momentum above 0 for an optimizer built without momentum in any group, which has no
    /// momentum buffer.
    #[error("the optimizer was built without momentum in any group, so it has no momentum buffer; build a group with momentum (it may be set to 0 until needed)")]
    NoMomentumBuffer,
    /// `max_lr` was changed 2^32 times: the records' version numbers are spent.
    #[error("max_lr was changed too many times (2^32) for the records to tell the settings apart")]
    TooManySettings,
    /// Every tensor is frozen (in no parameter group).
    #[error("no tensor is in a parameter group: nothing to train")]
    NothingToTrain,
    /// An arena needs at least one tensor.
    #[error("the arena has no tensors")]
    EmptyArena,
    /// Tensors need at least one element.
    #[error("tensor `{0}` has no elements")]
    EmptyTensor(String),
    /// Two tensors of one arena share a name.
    #[error("tensor `{0}` is declared twice")]
    DuplicateTensor(String),
    /// No tensor of that name is in the arena.
    #[error("no tensor named `{0}` in the arena")]
    UnknownTensor(String),
    /// A [`TensorId`](crate::TensorId) past the arena's tensors.
    #[error("tensor id {index} names no tensor: the arena has {tensors}")]
    UnknownTensorId {
        /// The id's index.
        index: usize,
        /// Tensors in the arena.
        tensors: usize,
    },
    /// Data for a tensor has the wrong number of elements.
    #[error("tensor `{tensor}` has {expected} elements, got {actual}")]
    LengthMismatch {
        /// The tensor's name.
        tensor: String,
        /// Its number of elements.
        expected: usize,
        /// The number of elements passed.
        actual: usize,
    },
    /// The arena is larger than a limit: of the device's buffers, of the host's address
    /// space, or of what the kernels index.
    #[error("the arena needs {bytes} bytes but the {what} limit is {limit} bytes")]
    ArenaTooLarge {
        /// Bytes the arena needs per buffer.
        bytes: u64,
        /// The limit, in bytes.
        limit: u64,
        /// Which limit: "buffer" (`max_buffer_size`), "address space", or "chunk index of
        /// the kernels".
        what: &'static str,
    },
    /// Extra arena usages the device cannot give a storage buffer (mapping, without
    /// `Features::MAPPABLE_PRIMARY_BUFFERS`).
    #[error("the arena's buffers cannot have the usages {0:?} on this device")]
    ArenaUsage(wgpu::BufferUsages),
    /// The region given to [`Arena::over_params`](crate::Arena::over_params) is misaligned
    /// or too small for the tensors.
    #[error("the parameters' region at byte {offset} of a {size}-byte buffer must start at a multiple of {alignment} and hold {needed} bytes")]
    ParamsRegion {
        /// The offset passed.
        offset: u64,
        /// The buffer's size.
        size: u64,
        /// The bytes the arena's parameters take (padding included).
        needed: u64,
        /// The device's `min_storage_buffer_offset_alignment`.
        alignment: u64,
    },
    /// The buffer given to [`Arena::over_params`](crate::Arena::over_params) lacks usages the
    /// step needs.
    #[error("the parameters' buffer lacks BufferUsages::{0:?}")]
    ParamsRegionUsage(wgpu::BufferUsages),
    /// A GPU loss must be read from a 4-byte aligned offset inside the buffer.
    #[error(
        "loss offset {offset} is not 4-byte aligned or lies past the end of a {size}-byte buffer"
    )]
    LossOffset {
        /// The offset passed.
        offset: u64,
        /// The buffer's size.
        size: u64,
    },
    /// A GPU loss buffer must have `BufferUsages::COPY_SRC`.
    #[error("the loss buffer lacks BufferUsages::COPY_SRC")]
    LossBufferUsage,
    /// A [`NormSlot`](crate::NormSlot) must be 4-byte aligned and its 8 bytes inside the
    /// buffer.
    #[error("norm slot offset {offset} is not 4-byte aligned or its 8 bytes lie past the end of a {size}-byte buffer")]
    NormSlotOffset {
        /// The offset passed.
        offset: u64,
        /// The buffer's size.
        size: u64,
    },
    /// A [`NormSlot`](crate::NormSlot)'s buffer lacks the usage its copy needs.
    #[error("the norm slot's buffer lacks BufferUsages::{0:?}")]
    NormSlotUsage(wgpu::BufferUsages),
    /// The calls of a sharded step were made out of order (or a plain step was recorded in
    /// the middle of one).
    #[error("{called} was called where the sharded step expects {expected}")]
    ShardedStepOrder {
        /// The call made.
        called: &'static str,
        /// The call the step expects next.
        expected: &'static str,
    },
    /// A [`LossScale`](crate::LossScale) with a scale or factor out of range.
    #[error("invalid loss scale: {0}")]
    InvalidLossScale(String),
    /// The device lacks a feature the arena's precision needs.
    #[error("this needs {0:?}, which the device was not created with (a device without it cannot run f16 kernels)")]
    MissingFeature(wgpu::Features),
    /// A call that needs f16 parameters on an arena of another precision.
    #[error("the arena's precision is {0:?}: it has no f16 copy of the parameters")]
    NoHalfParams(crate::Precision),
    /// No adapter (GPU driver) was found; the message says how to get one.
    #[error("no adapter found: {0}")]
    NoAdapter(String),
    /// The adapter refused the device request.
    #[error("requesting the device failed: {0}")]
    RequestDevice(#[from] wgpu::RequestDeviceError),
    /// wgpu reported a validation or out-of-memory error, caught in an error scope.
    #[error("the GPU reported an error: {0}")]
    Gpu(String),
    /// Saved state could not be decoded.
    #[error("invalid saved state: {0}")]
    InvalidState(String),
    /// Saved state belongs to an arena with other tensors.
    #[error("the saved state was made for other tensors: {0}")]
    StateMismatch(String),
    /// Reading or writing a state file failed.
    #[error("state file: {0}")]
    Io(#[from] std::io::Error),
    /// Mapping a buffer for reading failed.
    #[error("reading a buffer back failed: {0}")]
    Readback(String),
    /// A device passed in is not the one the arena or optimizer was created on.
    #[error("the device passed is not the one the arena or optimizer was created on")]
    WrongDevice,
    /// A buffer given to a step (a loss buffer, a norm slot) cannot be used by the
    /// optimizer's device for another reason than its device: it is mapped or destroyed,
    /// or it is the optimizer's own state buffer, say. Nothing was recorded; from
    /// [`Alig::step`](crate::Alig::step), a submit wgpu refused (a map still pending):
    /// nothing ran.
    #[error("the buffer given to the step cannot be used: {0}")]
    UnusableBuffer(String),
    /// The device is lost (destroyed, or lost by the driver): nothing more runs on it.
    #[error("the device is lost")]
    DeviceLost,
}

/// The crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs `create` inside validation and out-of-memory error scopes, so that a failure to create
/// a buffer or pipeline comes back as [`Error::Gpu`] instead of reaching the device's
/// uncaptured-error handler (which panics by default).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn catch_gpu_errors<T>(device: &wgpu::Device, create: impl FnOnce() -> T) -> Result<T> {
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let out_of_memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let value = create();
    // Scopes pop in reverse order of pushing.
    let oom = pollster::block_on(out_of_memory.pop());
    let invalid = pollster::block_on(validation.pop());
    match oom.or(invalid) {
        Some(error) => Err(Error::Gpu(error.to_string())),
        None => Ok(value),
    }
}

/// On wasm32 the scopes' results arrive only once control returns to the browser, so they
/// cannot be awaited inside a synchronous call: creation errors go to the device's
/// uncaptured-error handler (the browser console by default) instead of coming back as `Err`.
#[cfg(target_arch = "wasm32")]
pub(crate) fn catch_gpu_errors<T>(_device: &wgpu::Device, create: impl FnOnce() -> T) -> Result<T> {
    Ok(create())
}
