//! The stats ring as read back, parsed from the bytes of the optimizer's step state.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::max_lr_history::MaxLrHistory;
use super::records::StepRecord;
use crate::kernels::shader_types::StepStateHeader;

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
    /// longer in the ring because it wrapped before this read. The step counter wraps at
    /// 2^32, so `previous_steps` counts as earlier when it is less than 2^31 steps behind;
    /// one ahead of this snapshot (a later snapshot's `steps`, say) leaves nothing dropped: 0.
    pub fn dropped_since(&self, previous_steps: u32) -> u32 {
        let new_steps = self.steps.wrapping_sub(previous_steps);
        if new_steps > u32::MAX / 2 {
            return 0;
        }
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

    /// Parses the bytes of the GPU state buffer: a header then `capacity` records. A read
    /// of the whole ring: it tells `history` (the read's copy) which settings no record will
    /// name again.
    pub(crate) fn from_state_bytes(bytes: &[u8], history: &MaxLrHistory) -> Self {
        let (header, ring) = split_state(bytes);
        let capacity = ring.len() as u32;
        let kept = header.steps.min(capacity);
        let first = header.steps.wrapping_sub(kept);
        let records: Vec<StepRecord> = (0..kept)
            .map(|k| ring[(first.wrapping_add(k) % capacity) as usize])
            .collect();
        history.observe_ring(&records);
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
