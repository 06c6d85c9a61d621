//! Writing and reading an arena's tensors from the host: `queue.write_buffer` for writes, and
//! blocking reads for tests, checkpoints and tools (never for the training loop).

use super::layout::{TensorKey, TensorSlot, F32_BYTES};
use super::precision::{decode, encode};
use super::Arena;
use crate::device::check::{check_device, check_not_lost};
use crate::device::readback::read_buffer_blocking;
use crate::error::{Error, Result};

impl Arena {
    /// Writes the parameters of tensor `key` (a name or a [`TensorId`](crate::TensorId)) through
    /// `queue.write_buffer`, so the write lands before the next submitted command buffer. With
    /// [`Precision::F16`](crate::Precision::F16) both the master and its f16 copy (rounded to
    /// nearest). `queue` must be the arena's device's: wgpu offers no way to check it.
    pub fn write_params(
        &self,
        queue: &wgpu::Queue,
        key: impl TensorKey,
        values: &[f32],
    ) -> Result<()> {
        let slot = self.checked_slot(key, values.len())?;
        if let Some(master) = &self.master {
            write_slot(queue, (master, 0), slot, values, F32_BYTES);
        }
        let params = (&self.params, self.params_offset);
        write_slot(queue, params, slot, values, self.precision.param_bytes());
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
        let grads = (&self.grads, 0);
        write_slot(queue, grads, slot, values, self.precision.grad_bytes());
        Ok(())
    }

    /// Writes the parameters of every tensor in one call: `values` holds the tensors one after the
    /// other in declaration order ([`ArenaLayout::num_elements`](crate::ArenaLayout::num_elements)
    /// floats, no padding). One staging write of the whole buffer, padding written as zeros.
    pub fn write_all_params(&self, queue: &wgpu::Queue, values: &[f32]) -> Result<()> {
        if let Some(master) = &self.master {
            self.write_all(queue, (master, 0), values, F32_BYTES)?;
        }
        let params = (&self.params, self.params_offset);
        self.write_all(queue, params, values, self.precision.param_bytes())
    }

    /// Writes the gradients of every tensor in one call, as [`Arena::write_all_params`] does.
    pub fn write_all_grads(&self, queue: &wgpu::Queue, values: &[f32]) -> Result<()> {
        self.write_all(queue, (&self.grads, 0), values, self.precision.grad_bytes())
    }

    /// Writes the arena's region of `buffer`, which starts at `region.1`.
    fn write_all(
        &self,
        queue: &wgpu::Queue,
        region: Region,
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
            .write_buffer_with(region.0, region.1, size)
            .ok_or_else(|| refused_write(&self.device))?;
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
    /// optimizer updates (with [`Precision::F16`](crate::Precision::F16), the master). For tests,
    /// checkpoints and tools: it stalls the queue, so keep it off the training loop. `device` must
    /// be the arena's ([`Error::WrongDevice`]), and `queue` its queue (which wgpu offers no way to
    /// check).
    pub fn read_params(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        key: impl TensorKey,
    ) -> Result<Vec<f32>> {
        let slot = self.tensor(key)?;
        let params = (self.master_params_buffer(), self.master_params_offset());
        self.read_tensor(device, queue, slot, params, F32_BYTES)
    }

    /// Reads back the f16 copy of tensor `key`'s parameters that the engine binds
    /// ([`Precision::F16`](crate::Precision::F16) only: [`Error::NoHalfParams`] otherwise), as
    /// f32s.
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
        let params = (&self.params, self.params_offset);
        self.read_tensor(device, queue, slot, params, 2)
    }

    /// Reads the gradients of tensor `key` back, as [`Arena::read_params`] does.
    pub fn read_grads(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        key: impl TensorKey,
    ) -> Result<Vec<f32>> {
        let slot = self.tensor(key)?;
        let grads = (&self.grads, 0);
        self.read_tensor(device, queue, slot, grads, self.precision.grad_bytes())
    }

    /// `slot`'s elements of `buffer` (of `element_bytes` each) as f32s, once `device` is
    /// found to be the arena's.
    fn read_tensor(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        slot: &TensorSlot,
        region: Region,
        element_bytes: u64,
    ) -> Result<Vec<f32>> {
        check_device(&self.device, device)?;
        read_slot(&self.device, queue, region, slot, element_bytes)
    }

    /// Reads the parameters of every tensor back in one copy, waiting for the device: the
    /// tensors one after the other in declaration order, without padding (the layout of
    /// [`Arena::write_all_params`]).
    pub fn read_all_params(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<Vec<f32>> {
        check_device(&self.device, device)?;
        let start = self.master_params_offset();
        let all = read_values_blocking(
            &self.device,
            queue,
            self.master_params_buffer(),
            start..start + self.layout.byte_size(),
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
}

/// Why the queue refused a write: its device is lost ([`Error::DeviceLost`], as every other
/// call says then), or something else wgpu does not tell.
fn refused_write(device: &wgpu::Device) -> Error {
    check_not_lost(device)
        .err()
        .unwrap_or_else(|| Error::Gpu("the queue refused the arena's write".into()))
}

/// A buffer and the byte offset where the arena's region of it starts.
type Region<'a> = (&'a wgpu::Buffer, u64);

fn write_slot(
    queue: &wgpu::Queue,
    (buffer, start): Region,
    slot: &TensorSlot,
    values: &[f32],
    element_bytes: u64,
) {
    // write_buffer wants a multiple of 4 bytes: an odd f16 tensor takes its padding's next
    // element along, as zero.
    let mut bytes = encode(values, element_bytes);
    bytes.resize(bytes.len().next_multiple_of(4), 0);
    queue.write_buffer(buffer, start + slot.offset as u64 * element_bytes, &bytes);
}

fn read_slot(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    (buffer, region_start): Region,
    slot: &TensorSlot,
    element_bytes: u64,
) -> Result<Vec<f32>> {
    // Copies move multiples of 4 bytes: an odd f16 tensor reads one element more.
    let start = region_start + slot.offset as u64 * element_bytes;
    let end = start + (slot.len as u64 * element_bytes).next_multiple_of(4);
    let mut values = read_values_blocking(device, queue, buffer, start..end, element_bytes)?;
    values.truncate(slot.len);
    Ok(values)
}

/// The elements of `range` of `buffer` (of `element_bytes` each: 4 for f32, 2 for f16) as
/// f32s, waiting for the device.
fn read_values_blocking(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    range: std::ops::Range<u64>,
    element_bytes: u64,
) -> Result<Vec<f32>> {
    let bytes = read_buffer_blocking(device, queue, buffer, range.start, range.end - range.start)?;
    Ok(decode(&bytes, element_bytes))
}
