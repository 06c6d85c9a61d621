//! How a step's loss reaches the optimizer's state without being lost on the way.
//!
//! A [`Loss::Host`](crate::Loss::Host) goes through `queue.write_buffer`, which lands at the
//! next submit on the queue, not where the step was recorded; so the values wait in a ring of
//! [`HOST_LOSS_SLOTS`] slots, and a slot can be rewritten by a later step before the step that
//! wrote it runs. Each slot therefore holds the value with the step's sequence number, and the
//! step's commands carry the number they expect: two 4-byte copies out of a constant table
//! (its low and high 16 bits), since recorded commands cannot carry data of their own. The
//! update kernel compares the two and skips a step whose slot was reused, with
//! `StepFlags::SKIPPED_LOSS_OVERWRITTEN`. Nothing is allocated or polled per step.

use crate::device::check::create_buffer_with;
use crate::error::Result;
use crate::kernels::shader_types::{StepStateHeader, HOST_LOSS_TAG_HALF_BITS};

/// Host losses that can wait for their submit at once (see
/// [`Alig::record_step`](crate::Alig::record_step)).
pub const HOST_LOSS_SLOTS: u32 = 256;

const SLOT_BYTES: u64 = 8;
const TAG_HALVES: u32 = 1 << HOST_LOSS_TAG_HALF_BITS;

/// The ring of host-loss slots and the table the expected sequence numbers are copied from.
#[derive(Debug)]
pub(crate) struct HostLosses {
    /// `HOST_LOSS_SLOTS` slots of (loss, sequence number).
    slots: wgpu::Buffer,
    /// `u32` k at index k, for every 16-bit k.
    tag_halves: wgpu::Buffer,
    /// The sequence number of the next host loss (wraps at 2^32).
    next: u32,
}

impl HostLosses {
    pub fn new(device: &wgpu::Device) -> Result<Self> {
        let copy = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        let slots = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgpu-alig host losses"),
            size: u64::from(HOST_LOSS_SLOTS) * SLOT_BYTES,
            usage: copy,
            mapped_at_creation: false,
        });
        let halves: Vec<u32> = (0..TAG_HALVES).collect();
        let tag_halves = create_buffer_with(
            device,
            "wgpu-alig host loss tags",
            bytemuck::cast_slice(&halves),
            wgpu::BufferUsages::COPY_SRC,
        )?;
        Ok(Self {
            slots,
            tag_halves,
            next: 0,
        })
    }

    /// Writes `loss` to the next slot and records its copy, with the sequence number this
    /// step expects, into the head of `state`.
    pub fn record_host(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        loss: f32,
        state: &wgpu::Buffer,
    ) {
        let tag = self.next;
        self.next = self.next.wrapping_add(1);
        let slot = u64::from(tag % HOST_LOSS_SLOTS) * SLOT_BYTES;
        queue.write_buffer(
            &self.slots,
            slot,
            bytemuck::cast_slice(&[loss.to_bits(), tag]),
        );
        // (loss, tag) lands on (loss, loss_tag): adjacent in the header.
        encoder.copy_buffer_to_buffer(&self.slots, slot, state, LOSS, SLOT_BYTES);
        let half = |bits: u32| u64::from(bits & (TAG_HALVES - 1)) * 4;
        encoder.copy_buffer_to_buffer(&self.tag_halves, half(tag), state, EXPECTED_LO, 4);
        encoder.copy_buffer_to_buffer(
            &self.tag_halves,
            half(tag >> HOST_LOSS_TAG_HALF_BITS),
            state,
            EXPECTED_HI,
            4,
        );
    }

    /// Records the copy of a GPU loss into the head of `state`, and zero tags: nothing to
    /// check for a loss that never waits in a slot.
    pub fn record_buffer(
        encoder: &mut wgpu::CommandEncoder,
        buffer: &wgpu::Buffer,
        offset: u64,
        state: &wgpu::Buffer,
    ) {
        encoder.copy_buffer_to_buffer(buffer, offset, state, LOSS, 4);
        encoder.clear_buffer(state, LOSS_TAG, Some(EXPECTED_HI + 4 - LOSS_TAG));
    }
}

const LOSS: u64 = std::mem::offset_of!(StepStateHeader, loss) as u64;
const LOSS_TAG: u64 = std::mem::offset_of!(StepStateHeader, loss_tag) as u64;
const EXPECTED_LO: u64 = std::mem::offset_of!(StepStateHeader, expected_tag_lo) as u64;
const EXPECTED_HI: u64 = std::mem::offset_of!(StepStateHeader, expected_tag_hi) as u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_fields_the_copies_write_are_contiguous() {
        assert_eq!(LOSS_TAG, LOSS + 4);
        assert_eq!(EXPECTED_LO, LOSS_TAG + 4);
        assert_eq!(EXPECTED_HI, EXPECTED_LO + 4);
        assert_eq!(2 * HOST_LOSS_TAG_HALF_BITS, 32);
    }
}
