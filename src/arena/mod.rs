//! The arena: every trainable tensor of a model in one flat region per buffer kind, each
//! tensor at an offset aligned for storage bindings, zero padding between.

mod io;
mod layout;
mod precision;

pub use layout::{ArenaLayout, TensorId, TensorKey, TensorSlot};
pub use precision::Precision;

use crate::device::check::check_not_lost;
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
/// The arena remembers its device: a call given another device is [`Error::WrongDevice`].
#[derive(Debug)]
pub struct Arena {
    device: wgpu::Device,
    layout: ArenaLayout,
    precision: Precision,
    params: wgpu::Buffer,
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
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST
            | extra;
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
            grads,
            master,
        })
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
    /// else the parameters the engine binds.
    pub fn master_params_buffer(&self) -> &wgpu::Buffer {
        self.master.as_ref().unwrap_or(&self.params)
    }

    /// The tensor `key` names (a name or a [`TensorId`]).
    pub fn tensor(&self, key: impl TensorKey) -> Result<&TensorSlot> {
        self.layout.tensor(key)
    }

    /// The id of the tensor called `name`: an index, for the calls of the per-step path.
    pub fn tensor_id(&self, name: &str) -> Result<TensorId> {
        self.layout.id(name)
    }

    /// The buffer of all parameters the engine binds (f16 with [`Precision::F16`]).
    pub fn params_buffer(&self) -> &wgpu::Buffer {
        &self.params
    }

    /// The buffer of all gradients (f16 with [`Precision::F16Grads`] and [`Precision::F16`]).
    pub fn grads_buffer(&self) -> &wgpu::Buffer {
        &self.grads
    }

    /// The parameters of tensor `key` (a name or a [`TensorId`]) as a storage binding
    /// (buffer, offset, size).
    pub fn param_binding(&self, key: impl TensorKey) -> Result<wgpu::BufferBinding<'_>> {
        self.binding(&self.params, key, self.precision.param_bytes(), false)
    }

    /// The parameters of tensor `key` as a binding of whole `vec4`s: its size rounded up
    /// to 4 elements, the rest lying in the tensor's padding, which the optimizer neither counts
    /// nor writes, whatever an engine leaves there.
    pub fn param_binding_vec4(&self, key: impl TensorKey) -> Result<wgpu::BufferBinding<'_>> {
        self.binding(&self.params, key, self.precision.param_bytes(), true)
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
