//! The arena: every trainable tensor of a model in one flat region per buffer kind, each
//! tensor at an offset aligned for storage bindings, zero padding between.

use std::collections::HashMap;

use crate::device_check::{check_device, check_not_lost};
use crate::error::{catch_gpu_errors, Error, Result};
use crate::precision::{encode, Precision};
use crate::readback::read_values_blocking;
use crate::tensor_id::{TensorId, TensorKey};

const F32_BYTES: u64 = 4;

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
        if precision.needs_f16() && !device.features().contains(wgpu::Features::SHADER_F16) {
            return Err(Error::MissingFeature(wgpu::Features::SHADER_F16));
        }
        let mappable = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::MAP_WRITE;
        if extra.intersects(mappable)
            && !device
                .features()
                .contains(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS)
        {
            return Err(Error::ArenaUsage(extra));
        }
        let limits = device.limits();
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
        // A lost device would hand out invalid buffers without a word.
        check_not_lost(device)?;
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST
            | extra;
        let create = |label, element_bytes: u64| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes / F32_BYTES * element_bytes,
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

    /// Writes the parameters of tensor `key` (a name or a [`TensorId`]) through
    /// `queue.write_buffer`, so the write lands before the next submitted command buffer.
    /// With [`Precision::F16`] both the master and its f16 copy (rounded to nearest).
    /// `queue` must be the arena's device's: wgpu offers no way to check it.
    pub fn write_params(
        &self,
        queue: &wgpu::Queue,
        key: impl TensorKey,
        values: &[f32],
    ) -> Result<()> {
        let slot = self.checked_slot(key, values.len())?;
        if let Some(master) = &self.master {
            write_slot(queue, master, slot, values, F32_BYTES);
        }
        write_slot(
            queue,
            &self.params,
            slot,
            values,
            self.precision.param_bytes(),
        );
        Ok(())
    }

    /// Writes the gradients of tensor `key`, as [`Arena::write_params`] does.
    /// f16 gradients are rounded to nearest.
    pub fn write_grads(
        &self,
        queue: &wgpu::Queue,
        key: impl TensorKey,
        values: &[f32],
    ) -> Result<()> {
        let slot = self.checked_slot(key, values.len())?;
        write_slot(
            queue,
            &self.grads,
            slot,
            values,
            self.precision.grad_bytes(),
        );
        Ok(())
    }

    /// Writes the parameters of every tensor in one call: `values` holds the tensors one after
    /// the other in declaration order ([`ArenaLayout::num_elements`] floats, no padding). One
    /// staging write of the whole buffer, padding written as zeros.
    pub fn write_all_params(&self, queue: &wgpu::Queue, values: &[f32]) -> Result<()> {
        if let Some(master) = &self.master {
            self.write_all(queue, master, values, F32_BYTES)?;
        }
        self.write_all(queue, &self.params, values, self.precision.param_bytes())
    }

    /// Writes the gradients of every tensor in one call, as [`Arena::write_all_params`] does.
    pub fn write_all_grads(&self, queue: &wgpu::Queue, values: &[f32]) -> Result<()> {
        self.write_all(queue, &self.grads, values, self.precision.grad_bytes())
    }

    fn write_all(
        &self,
        queue: &wgpu::Queue,
        buffer: &wgpu::Buffer,
        values: &[f32],
        element_bytes: u64,
    ) -> Result<()> {
        let expected = self.layout.num_elements();
        if values.len() != expected {
            return Err(Error::LengthMismatch {
                tensor: "(all tensors)".into(),
                expected,
                actual: values.len(),
            });
        }
        // The buffer is never empty: an arena has at least one element.
        let size = wgpu::BufferSize::new(self.layout.len() as u64 * element_bytes)
            .ok_or(Error::EmptyArena)?;
        let values = encode(values, element_bytes);
        let eb = element_bytes as usize;
        // Written straight into wgpu's staging memory: no host copy of the whole arena.
        let mut view = queue
            .write_buffer_with(buffer, 0, size)
            .ok_or_else(|| Error::Gpu("the queue refused the arena's write".into()))?;
        let mut staging = view.slice(..);
        let (mut written, mut taken) = (0usize, 0usize);
        for slot in self.layout.tensors() {
            let (start, end) = (slot.offset * eb, (slot.offset + slot.len) * eb);
            staging.slice(written..start).fill(0);
            staging
                .slice(start..end)
                .copy_from_slice(&values[taken * eb..(taken + slot.len) * eb]);
            written = end;
            taken += slot.len;
        }
        staging.slice(written..).fill(0);
        Ok(())
    }

    /// Reads the parameters of tensor `key` back, waiting for the device: the f32 ones the
    /// optimizer updates (with [`Precision::F16`], the master). For tests, checkpoints and
    /// tools: it stalls the queue, so keep it off the training loop. `device` must be the
    /// arena's ([`Error::WrongDevice`]), and `queue` its queue (which wgpu offers no way to
    /// check).
    pub fn read_params(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        key: impl TensorKey,
    ) -> Result<Vec<f32>> {
        let slot = self.tensor(key)?;
        check_device(&self.device, device)?;
        read_slot(
            &self.device,
            queue,
            self.master_params_buffer(),
            slot,
            F32_BYTES,
        )
    }

    /// Reads back the f16 copy of tensor `key`'s parameters that the engine binds
    /// ([`Precision::F16`] only: [`Error::NoHalfParams`] otherwise), as f32s.
    pub fn read_half_params(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        key: impl TensorKey,
    ) -> Result<Vec<f32>> {
        let slot = self.tensor(key)?;
        if !self.precision.has_master() {
            return Err(Error::NoHalfParams(self.precision));
        }
        check_device(&self.device, device)?;
        read_slot(&self.device, queue, &self.params, slot, 2)
    }

    /// Reads the gradients of tensor `key` back, as [`Arena::read_params`] does.
    pub fn read_grads(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        key: impl TensorKey,
    ) -> Result<Vec<f32>> {
        let slot = self.tensor(key)?;
        check_device(&self.device, device)?;
        read_slot(
            &self.device,
            queue,
            &self.grads,
            slot,
            self.precision.grad_bytes(),
        )
    }

    /// Reads the parameters of every tensor back in one copy, waiting for the device: the
    /// tensors one after the other in declaration order, without padding (the layout of
    /// [`Arena::write_all_params`]).
    pub fn read_all_params(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<Vec<f32>> {
        check_device(&self.device, device)?;
        let all = read_values_blocking(
            &self.device,
            queue,
            self.master_params_buffer(),
            0..self.layout.byte_size(),
            F32_BYTES,
        )?;
        Ok(self.layout.gather(&all))
    }

    /// Reads the gradients of every tensor back in one copy, as [`Arena::read_all_params`]
    /// does.
    pub fn read_all_grads(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<Vec<f32>> {
        check_device(&self.device, device)?;
        let bytes = self.precision.grad_bytes();
        let all = read_values_blocking(
            &self.device,
            queue,
            &self.grads,
            0..self.layout.len() as u64 * bytes,
            bytes,
        )?;
        Ok(self.layout.gather(&all))
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

fn write_slot(
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    slot: &TensorSlot,
    values: &[f32],
    element_bytes: u64,
) {
    // write_buffer wants a multiple of 4 bytes: an odd f16 tensor takes its padding's next
    // element along, as zero.
    let mut bytes = encode(values, element_bytes);
    bytes.resize(bytes.len().next_multiple_of(4), 0);
    queue.write_buffer(buffer, slot.offset as u64 * element_bytes, &bytes);
}

fn read_slot(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    slot: &TensorSlot,
    element_bytes: u64,
) -> Result<Vec<f32>> {
    // Copies move multiples of 4 bytes: an odd f16 tensor reads one element more.
    let start = slot.offset as u64 * element_bytes;
    let end = start + (slot.len as u64 * element_bytes).next_multiple_of(4);
    let mut values = read_values_blocking(device, queue, buffer, start..end, element_bytes)?;
    values.truncate(slot.len);
    Ok(values)
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
