//! Step statistics: what the GPU records for every step, and their readback.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::max_lr_history::MaxLrHistory;
use crate::shader_types::StepStateHeader;

/// Why a step took the step size it did (`FLAG_*` in `shaders/common.wgsl`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(transparent)]
pub struct StepFlags(pub u32);

impl StepFlags {
    /// `gamma_hat` exceeded the first group's `max_lr`, so its `gamma = max_lr`.
    pub const CLIPPED: Self = Self(1);
    /// The loss was at or below `f_star`, so `gamma = 0` (momentum still applies).
    pub const FLOOR_REACHED: Self = Self(2);
    /// Skipped: the loss was NaN or infinite.
    pub const SKIPPED_LOSS: Self = Self(4);
    /// Skipped: a gradient element of a trainable tensor was NaN or infinite.
    pub const SKIPPED_GRAD: Self = Self(8);
    /// Skipped: every gradient element was finite, but `||g||^2` overflowed f32.
    pub const SKIPPED_NORM_OVERFLOW: Self = Self(16);
    /// Skipped: `gamma_hat` overflowed f32 and some group has no `max_lr` to bound it.
    pub const SKIPPED_STEP_OVERFLOW: Self = Self(32);
    /// Skipped: a [`Loss::Host`](crate::Loss::Host) waited for its submit while later steps
    /// reused all [`HOST_LOSS_SLOTS`](crate::HOST_LOSS_SLOTS) slots, so its value was
    /// overwritten; the record's loss is NaN (so `SKIPPED_LOSS` is set too).
    pub const SKIPPED_LOSS_OVERWRITTEN: Self = Self(64);
    /// With a dynamic loss scale: the scale was lowered after this step (a non-finite
    /// gradient, or a scaled `||g||^2` beyond f32), for the next one.
    pub const LOSS_SCALE_LOWERED: Self = Self(128);
    /// With a dynamic loss scale: the scale was raised after this step (its growth interval
    /// of steps that ran without a non-finite gradient was complete).
    pub const LOSS_SCALE_RAISED: Self = Self(256);
    /// Any of the reasons that skip a step, leaving parameters and momentum untouched.
    pub const SKIPPED: Self = Self(4 | 8 | 16 | 32 | 64);

    /// Whether any flag of `other` is set.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the step was skipped.
    pub fn skipped(self) -> bool {
        self.intersects(Self::SKIPPED)
    }

    /// Whether `gamma` was clipped to `max_lr`.
    pub fn clipped(self) -> bool {
        self.intersects(Self::CLIPPED)
    }
}

/// One step as the GPU saw it. Mirrors `StepRecord` in `shaders/common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct StepRecord {
    /// Index of the step, from 0 (wraps at 2^32).
    pub step: u32,
    /// Why the step took the size it did.
    pub flags: StepFlags,
    /// The loss the step was given.
    pub loss: f32,
    /// `||g||^2` over every trainable tensor.
    pub grad_sq_norm: f32,
    /// The unclipped step size `max(0, loss - f_star) / (c ||g||^2 + eps)`.
    pub gamma_hat: f32,
    /// The step size applied to the first parameter group (0 for a skipped step).
    pub gamma: f32,
    /// With projection on: `||w||^2` of the trainable parameters after the update, before
    /// the projection (which applies when it exceeds `max_norm^2`). Otherwise 0.
    pub param_sq_norm: f32,
    /// Which setting of the groups' `max_lr` the step ran with: 0 at construction, one more
    /// at each change ([`Alig::set_max_lr`](crate::Alig::set_max_lr)). What
    /// [`StatsSnapshot::group_gammas`] looks the groups' `max_lr` up by.
    pub max_lr_version: u32,
    /// The loss scale the step's gradients were divided by
    /// ([`AligConfig::loss_scale`](crate::AligConfig::loss_scale); 1 without one).
    pub loss_scale: f32,
}

/// The stats ring as read back: counters, and the last records, oldest first.
///
/// The ring keeps the last `stats_capacity` records. When more steps than that run between
/// two reads, the older ones are overwritten: `records` then starts after a gap, which
/// [`StatsSnapshot::dropped_since`] measures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsSnapshot {
    /// Steps recorded since the optimizer was created (or its state loaded).
    pub steps: u32,
    /// Steps skipped among them.
    pub skipped: u32,
    /// The last `min(steps, capacity)` records, oldest first.
    pub records: Vec<StepRecord>,
    /// The groups' `max_lr` of each version the records name.
    pub(crate) max_lrs: BTreeMap<u32, Arc<[Option<f32>]>>,
}

impl StatsSnapshot {
    /// The latest record, if any step ran.
    pub fn last(&self) -> Option<&StepRecord> {
        self.records.last()
    }

    /// How many steps after `previous_steps` (the `steps` of an earlier snapshot) are no
    /// longer in the ring because it wrapped before this read.
    pub fn dropped_since(&self, previous_steps: u32) -> u32 {
        let new_steps = self.steps.wrapping_sub(previous_steps);
        new_steps.saturating_sub(self.records.len() as u32)
    }

    /// Each parameter group's `max_lr` (in group order) when the step of `record` (one of
    /// this snapshot's) ran: the setting its `max_lr_version` names. `None` for a record
    /// of no snapshot of this optimizer.
    pub fn group_max_lrs(&self, record: &StepRecord) -> Option<&[Option<f32>]> {
        self.max_lrs.get(&record.max_lr_version).map(|v| &v[..])
    }

    /// The step size each parameter group took at `record`, in group order: 0 for a skipped
    /// step, else `gamma_hat` clipped to the group's `max_lr` of that step
    /// ([`StatsSnapshot::group_max_lrs`]) as the kernel clips it. That is a comparison and no
    /// arithmetic, so these are the bits the kernel applied (the first is `record.gamma`).
    /// Empty for a record of no snapshot of this optimizer.
    pub fn group_gammas(&self, record: &StepRecord) -> Vec<f32> {
        self.group_max_lrs(record)
            .unwrap_or(&[])
            .iter()
            .map(|&max_lr| {
                if record.flags.skipped() {
                    return 0.0;
                }
                match max_lr {
                    Some(max_lr) if !record.gamma_hat.is_finite() || record.gamma_hat > max_lr => {
                        max_lr
                    }
                    _ => record.gamma_hat,
                }
            })
            .collect()
    }

    /// Parses a header then the records of the slots of steps `first`, `first + 1`, ... (as
    /// copied by a read since a step), keeping those that hold the step their slot was read
    /// for and that ran: a slot read before its step ran still holds an older record.
    pub(crate) fn from_records_since(bytes: &[u8], first: u32, history: &MaxLrHistory) -> Self {
        let (header, slots) = split_state(bytes);
        // Steps that ran from `first` on; none when the GPU has not reached `first`.
        let ran = header.steps.wrapping_sub(first);
        let ran = if ran > u32::MAX / 2 { 0 } else { ran };
        let records: Vec<StepRecord> = slots
            .into_iter()
            .enumerate()
            .filter(|(k, r)| r.step == first.wrapping_add(*k as u32) && (*k as u32) < ran)
            .map(|(_, r)| r)
            .collect();
        Self {
            steps: header.steps,
            skipped: header.skipped,
            max_lrs: history.select(records.iter().map(|r| r.max_lr_version)),
            records,
        }
    }

    /// Parses the bytes of the GPU state buffer: a header then `capacity` records.
    pub(crate) fn from_state_bytes(bytes: &[u8], history: &MaxLrHistory) -> Self {
        let (header, ring) = split_state(bytes);
        let capacity = ring.len() as u32;
        let kept = header.steps.min(capacity);
        let first = header.steps.wrapping_sub(kept);
        let records: Vec<StepRecord> = (0..kept)
            .map(|k| ring[(first.wrapping_add(k) % capacity) as usize])
            .collect();
        Self {
            steps: header.steps,
            skipped: header.skipped,
            max_lrs: history.select(records.iter().map(|r| r.max_lr_version)),
            records,
        }
    }
}

/// The header of the GPU state bytes and the records that follow it.
fn split_state(bytes: &[u8]) -> (StepStateHeader, Vec<StepRecord>) {
    let header_size = std::mem::size_of::<StepStateHeader>();
    let header = bytemuck::pod_read_unaligned(&bytes[..header_size]);
    (header, bytemuck::pod_collect_to_vec(&bytes[header_size..]))
}
