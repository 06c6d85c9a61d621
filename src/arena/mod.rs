//! The arena: every trainable tensor of a model in one flat region per buffer kind, each
//! tensor at an offset aligned for storage bindings, zero padding between.

mod io;
mod layout;
mod precision;

pub use layout::{ArenaLayout, TensorId, TensorKey, TensorSlot};
pub use precision::Precision;

use crate::device::check::{check_not_lost, CheckedBuffers};
use crate::error::{catch_gpu_errors, Error, Result};
use layout::F32_BYTES;

/// The GPU buffers of an arena: parameters and gradients, one flat buffer each, laid out by
/// an [`ArenaLayout`] (in elements: an f16 buffer's byte offsets are half an f32 one's). The
/// optimizer keeps the momentum buffer, with the same layout. With [`Precision::F16`], an f32
/// master copy of the parameters lies beside the f16 ones the engine binds.
///
/// An engine binds a tensor with [`Arena::param_binding`] / [`Arena::grad_binding`], writes
/// its gradients there in its backward pass, and hands the arena to
/// [`Alig::new`](crate::Alig::new).
///
/// An engine that allocates its tensors itself (a framework's memory pool) can keep the
/// parameters where they are: [`Arena::over_params`] lays the arena's parameters over a region
/// of a buffer it allocated, which its own kernels read in place.
///
/// The arena remembers its device: a call given another device is [`Error::WrongDevice`].
#[derive(Debug)]
pub struct Arena {
    device: wgpu::Device,
    layout: ArenaLayout,
    precision: Precision,
    params: wgpu::Buffer,
    /// Where the parameters start in `params`: 0, unless the engine allocated the buffer.
    params_offset: u64,
    grads: wgpu::Buffer,
    master: Option<wgpu::Buffer>,
}

impl Arena {
    /// Creates zeroed parameter and gradient buffers for `tensors` (name, number of elements)
    /// on `device`, each tensor aligned to the device's `min_storage_buffer_offset_alignment`.
    /// Their usages are `STORAGE | COPY_SRC | COPY_DST`.
    pub fn new(device: &wgpu::Device, tensors: &[(&str, usize)]) -> Result<Self> {
        Self::with_usages(device, tensors, wgpu::BufferUsages::empty())
    }

    /// [`Arena::new`], with `extra` usages on both buffers besides `STORAGE | COPY_SRC |
    /// COPY_DST` (`VERTEX` to draw from the parameters, say). Mapping usages need
    /// `Features::MAPPABLE_PRIMARY_BUFFERS`: without it they are [`Error::ArenaUsage`].
    pub fn with_usages(
        device: &wgpu::Device,
        tensors: &[(&str, usize)],
        extra: wgpu::BufferUsages,
    ) -> Result<Self> {
        Self::with_precision_and_usages(device, tensors, Precision::F32, extra)
    }

    /// [`Arena::new`] with the element types of `precision`: f16 gradients
    /// ([`Precision::F16Grads`]), or f16 gradients and parameters with an f32 master copy
    /// ([`Precision::F16`]). Those need `Features::SHADER_F16` on `device`
    /// ([`Error::MissingFeature`] otherwise), and place every tensor at a multiple of twice
    /// the device's alignment, so that both element sizes bind at valid offsets.
    pub fn with_precision(
        device: &wgpu::Device,
        tensors: &[(&str, usize)],
        precision: Precision,
    ) -> Result<Self> {
        Self::with_precision_and_usages(device, tensors, precision, wgpu::BufferUsages::empty())
    }

    /// [`Arena::with_precision`] with [`Arena::with_usages`]'s `extra` usages.
    pub fn with_precision_and_usages(
        device: &wgpu::Device,
        tensors: &[(&str, usize)],
        precision: Precision,
        extra: wgpu::BufferUsages,
    ) -> Result<Self> {
        check_request(device, precision, extra)?;
        let layout = plan_layout(&device.limits(), tensors, precision)?;
        // A lost device would hand out invalid buffers without a word.
        check_not_lost(device)?;
        let usage = REGION_USAGE | extra;
        let create = |label, element_bytes: u64| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: layout.byte_size() / F32_BYTES * element_bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        let (params, grads, master) = catch_gpu_errors(device, || {
            (
                create("wgpu-alig params", precision.param_bytes()),
                create("wgpu-alig grads", precision.grad_bytes()),
                precision
                    .has_master()
                    .then(|| create("wgpu-alig master params", F32_BYTES)),
            )
        })?;
        Ok(Self {
            device: device.clone(),
            layout,
            precision,
            params,
            params_offset: 0,
            grads,
            master,
        })
    }

    /// An f32 arena whose parameters lie in `params` from byte `offset` on, a buffer the
    /// engine allocated (a region of a framework's memory pool, say), so that its kernels and
    /// the optimizer read and write the same memory: nothing is copied between them. The
    /// gradients get a zeroed buffer of their own, as with [`Arena::new`].
    ///
    /// `offset` must be a multiple of the device's `min_storage_buffer_offset_alignment`, the
    /// region ([`ArenaLayout::byte_size`] bytes) must lie inside the buffer, and the buffer
    /// must have `STORAGE | COPY_SRC | COPY_DST`: else [`Error::ParamsRegion`] or
    /// [`Error::ParamsRegionUsage`]; a buffer of another device of the instance is
    /// [`Error::WrongDevice`], a mapped or destroyed one [`Error::UnusableBuffer`] (natively;
    /// not on the web, where the probe cannot be awaited; a buffer of another instance is not
    /// seen, as for loss buffers); nothing is made then. The step writes no byte
    /// of the buffer outside the tensors; [`Arena::write_all_params`] zeroes the region's
    /// padding. [`Arena::layout_for`] gives the region's size before the buffer exists.
    pub fn over_params(
        device: &wgpu::Device,
        tensors: &[(&str, usize)],
        params: &wgpu::Buffer,
        offset: u64,
    ) -> Result<Self> {
        let limits = device.limits();
        let layout = plan_layout(&limits, tensors, Precision::F32)?;
        check_region(&limits, &layout, params, offset)?;
        check_not_lost(device)?;
        let grads = catch_gpu_errors(device, || {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgpu-alig grads"),
                size: layout.byte_size(),
                usage: REGION_USAGE,
                mapped_at_creation: false,
            })
        })?;
        // The probe the steps give a loss buffer: a copy into the arena's own gradients,
        // validated, never submitted.
        CheckedBuffers::default().check(device, params, &grads)?;
        Ok(Self {
            device: device.clone(),
            layout,
            precision: Precision::F32,
            params: params.clone(),
            params_offset: offset,
            grads,
            master: None,
        })
    }

    /// The layout [`Arena::new`] and [`Arena::over_params`] give `tensors` on `device` (f32),
    /// with the device's buffer size checked: its [`ArenaLayout::byte_size`] is the region
    /// an engine allocates for [`Arena::over_params`].
    pub fn layout_for(device: &wgpu::Device, tensors: &[(&str, usize)]) -> Result<ArenaLayout> {
        plan_layout(&device.limits(), tensors, Precision::F32)
    }

    /// The device the arena's buffers live on.
    pub(crate) fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The placement of the tensors.
    pub fn layout(&self) -> &ArenaLayout {
        &self.layout
    }

    /// The element types of the buffers.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The f32 parameters the optimizer updates: the master copy with [`Precision::F16`],
    /// else the parameters the engine binds (from [`Arena::params_offset`] on).
    pub fn master_params_buffer(&self) -> &wgpu::Buffer {
        self.master.as_ref().unwrap_or(&self.params)
    }

    /// Where the arena's region starts in [`Arena::master_params_buffer`], in bytes.
    pub(crate) fn master_params_offset(&self) -> u64 {
        match self.master {
            Some(_) => 0,
            None => self.params_offset,
        }
    }

    /// The tensor `key` names (a name or a [`TensorId`]).
    pub fn tensor(&self, key: impl TensorKey) -> Result<&TensorSlot> {
        self.layout.tensor(key)
    }

    /// The id of the tensor called `name`: an index, for the calls of the per-step path.
    pub fn tensor_id(&self, name: &str) -> Result<TensorId> {
        self.layout.id(name)
    }

    /// The buffer of all parameters the engine binds (f16 with [`Precision::F16`]); the
    /// arena's region of it starts at [`Arena::params_offset`].
    pub fn params_buffer(&self) -> &wgpu::Buffer {
        &self.params
    }

    /// The byte offset of the arena's parameters in [`Arena::params_buffer`]: 0, unless the
    /// arena lies over an engine's buffer ([`Arena::over_params`]). A tensor's parameters
    /// start at this plus its [`TensorSlot::byte_offset`].
    pub fn params_offset(&self) -> u64 {
        self.params_offset
    }

    /// The buffer of all gradients (f16 with [`Precision::F16Grads`] and [`Precision::F16`]).
    pub fn grads_buffer(&self) -> &wgpu::Buffer {
        &self.grads
    }

    /// The parameters of tensor `key` (a name or a [`TensorId`]) as a storage binding
    /// (buffer, offset, size).
    pub fn param_binding(&self, key: impl TensorKey) -> Result<wgpu::BufferBinding<'_>> {
        self.param_slice(key, false)
    }

    /// The parameters of tensor `key` as a binding of whole `vec4`s: its size rounded up
    /// to 4 elements, the rest lying in the tensor's padding, which the optimizer neither counts
    /// nor writes, whatever an engine leaves there.
    pub fn param_binding_vec4(&self, key: impl TensorKey) -> Result<wgpu::BufferBinding<'_>> {
        self.param_slice(key, true)
    }

    /// The gradients of tensor `key` as a binding of whole `vec4`s, as
    /// [`Arena::param_binding_vec4`] gives the parameters.
    pub fn grad_binding_vec4(&self, key: impl TensorKey) -> Result<wgpu::BufferBinding<'_>> {
        self.binding(&self.grads, key, self.precision.grad_bytes(), true)
    }

    /// The gradients of tensor `key` as a storage binding (buffer, offset, size).
    pub fn grad_binding(&self, key: impl TensorKey) -> Result<wgpu::BufferBinding<'_>> {
        self.binding(&self.grads, key, self.precision.grad_bytes(), false)
    }

    fn param_slice(&self, key: impl TensorKey, vec4: bool) -> Result<wgpu::BufferBinding<'_>> {
        let mut binding = self.binding(&self.params, key, self.precision.param_bytes(), vec4)?;
        binding.offset += self.params_offset;
        Ok(binding)
    }

    /// Tensor `key` of `buffer`, of elements of `element_bytes`, as a binding.
    fn binding<'a>(
        &self,
        buffer: &'a wgpu::Buffer,
        key: impl TensorKey,
        element_bytes: u64,
        vec4: bool,
    ) -> Result<wgpu::BufferBinding<'a>> {
        Ok(element_slice(
            buffer,
            self.tensor(key)?,
            element_bytes,
            vec4,
        ))
    }

    /// Records a clear of every gradient to zero into `encoder`, which must be of the
    /// arena's device (wgpu offers no way to check it).
    pub fn zero_grads(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.clear_buffer(&self.grads, 0, None);
    }

    fn checked_slot(&self, key: impl TensorKey, len: usize) -> Result<&TensorSlot> {
        let slot = self.tensor(key)?;
        if slot.len != len {
            return Err(Error::LengthMismatch {
                tensor: slot.name.clone(),
                expected: slot.len,
                actual: len,
            });
        }
        Ok(slot)
    }
}

/// Tensor `slot` of a buffer of `element_bytes` elements as a binding, its size rounded up to
/// whole `vec4`s when `vec4`.
fn element_slice<'a>(
    buffer: &'a wgpu::Buffer,
    slot: &TensorSlot,
    element_bytes: u64,
    vec4: bool,
) -> wgpu::BufferBinding<'a> {
    let len = if vec4 {
        slot.len.next_multiple_of(4)
    } else {
        slot.len
    };
    buffer_slice(
        buffer,
        slot.offset as u64 * element_bytes,
        len as u64 * element_bytes,
    )
}

/// `size` bytes of `buffer` from `offset`, as a binding.
pub(crate) fn buffer_slice(
    buffer: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> wgpu::BufferBinding<'_> {
    wgpu::BufferBinding {
        buffer,
        offset,
        size: wgpu::BufferSize::new(size),
    }
}

/// The usages of the arena's buffers, and what a buffer given to [`Arena::over_params`] needs.
const REGION_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// The region of `buffer` from `offset` can hold `layout`'s parameters and be bound.
fn check_region(
    limits: &wgpu::Limits,
    layout: &ArenaLayout,
    buffer: &wgpu::Buffer,
    offset: u64,
) -> Result<()> {
    let missing = REGION_USAGE.difference(buffer.usage());
    if !missing.is_empty() {
        return Err(Error::ParamsRegionUsage(missing));
    }
    let alignment = u64::from(limits.min_storage_buffer_offset_alignment);
    let fits = offset
        .checked_add(layout.byte_size())
        .is_some_and(|end| end <= buffer.size());
    if !offset.is_multiple_of(alignment) || !fits {
        return Err(Error::ParamsRegion {
            offset,
            size: buffer.size(),
            needed: layout.byte_size(),
            alignment,
        });
    }
    Ok(())
}

/// The device has what `precision` and the `extra` usages need.
fn check_request(
    device: &wgpu::Device,
    precision: Precision,
    extra: wgpu::BufferUsages,
) -> Result<()> {
    let features = device.features();
    if precision.needs_f16() && !features.contains(wgpu::Features::SHADER_F16) {
        return Err(Error::MissingFeature(wgpu::Features::SHADER_F16));
    }
    let mappable = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::MAP_WRITE;
    if extra.intersects(mappable) && !features.contains(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS) {
        return Err(Error::ArenaUsage(extra));
    }
    Ok(())
}

/// The tensors' places, aligned for `precision`, within the device's buffer size.
fn plan_layout(
    limits: &wgpu::Limits,
    tensors: &[(&str, usize)],
    precision: Precision,
) -> Result<ArenaLayout> {
    // A tensor's f16 offset is half its f32 one: align the f32 ones twice as much.
    let alignment = limits.min_storage_buffer_offset_alignment;
    let alignment = if precision.needs_f16() {
        alignment.saturating_mul(2)
    } else {
        alignment
    };
    let layout = ArenaLayout::new(tensors, alignment)?;
    // The f32 buffers are the largest.
    let bytes = layout.byte_size();
    if bytes > limits.max_buffer_size {
        return Err(Error::ArenaTooLarge {
            bytes,
            limit: limits.max_buffer_size,
            what: "buffer",
        });
    }
    Ok(layout)
}
