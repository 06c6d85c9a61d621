//! Saving an optimizer as an [`AligState`] and rebuilding one from it, so that a run goes on
//! bit for bit.

use super::AligState;
use crate::arena::{Arena, ArenaLayout};
#[cfg(not(target_arch = "wasm32"))]
use crate::device::readback::{read_buffer_blocking, read_f32s_blocking};
use crate::error::{Error, Result};
use crate::optimizer::state_byte_size;
use crate::stats::MaxLrHistory;
#[cfg(not(target_arch = "wasm32"))]
use crate::stats::StatsSnapshot;
use crate::Alig;

impl Alig {
    /// Snapshots the optimizer (config, groups, counters, stats ring and momentum), waiting
    /// for the device. Save the arena's parameters with it to continue a run later.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn save_state(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<AligState> {
        self.check_device(device)?;
        let (device, buffers) = (&self.device, &self.buffers);
        let state = &buffers.state;
        let step_state = read_buffer_blocking(device, queue, state, 0, state.size())?;
        // Only the settings the saved ring's records (or later steps) can name.
        let ring = StatsSnapshot::from_state_bytes(&step_state, &self.max_lr_history).records;
        let floor = self.max_lr_history.observe_ring(&ring);
        let momentum = match &buffers.momentum {
            Some(momentum) => read_f32s_blocking(device, queue, momentum, 0, momentum.size())?,
            None => Vec::new(),
        };
        Ok(AligState {
            config: self.plan.config,
            groups: self.plan.groups.clone(),
            tensors: tensor_lens(&self.plan.layout),
            step_state,
            momentum,
            max_lr_history: self.max_lr_history.settings_from(floor),
        })
    }

    /// Rebuilds an optimizer from a [`AligState`] over `arena`, which must hold the same
    /// tensors; the next step continues the saved run bit for bit (given the same parameters
    /// in the arena).
    pub fn from_state(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        arena: &Arena,
        state: &AligState,
    ) -> Result<Self> {
        let history = check_saved_state(arena, state)?;
        let mut alig = Self::with_groups(device, arena, state.config, &state.groups)?;
        alig.restore_max_lr_history(queue, history);
        alig.recorded_steps = state.steps();
        let buffers = &alig.buffers;
        if state.step_state.len() as u64 != buffers.state.size() {
            return Err(Error::InvalidState("step state of the wrong size".into()));
        }
        queue.write_buffer(&buffers.state, 0, &state.step_state);
        match &buffers.momentum {
            Some(momentum) if state.momentum.len() as u64 * 4 == momentum.size() => {
                queue.write_buffer(momentum, 0, bytemuck::cast_slice(&state.momentum));
            }
            None if state.momentum.is_empty() => {}
            _ => return Err(Error::InvalidState("momentum of the wrong size".into())),
        }
        Ok(alig)
    }
}

/// What can be checked of `state` before anything is allocated (a wrong capacity would
/// otherwise reach the device); its `max_lr` history when it holds together.
fn check_saved_state(arena: &Arena, state: &AligState) -> Result<MaxLrHistory> {
    let tensors = tensor_lens(arena.layout());
    if tensors != state.tensors {
        return Err(Error::StateMismatch(format!(
            "saved for {:?}, the arena has {:?}",
            state.tensors, tensors
        )));
    }
    let first = state.groups.first();
    if first.is_some_and(|g| g.max_lr != state.config.max_lr || g.momentum != state.config.momentum)
    {
        return Err(Error::InvalidState(
            "config.max_lr or config.momentum differs from the first group's: the groups hold them, edit those".into(),
        ));
    }
    let history = MaxLrHistory::from_settings(state.max_lr_history.clone())
        .filter(|h| h.settings().all(|s| s.max_lrs.len() == state.groups.len()))
        .filter(|h| {
            h.current()
                .iter()
                .eq(state.groups.iter().map(|g| &g.max_lr))
        })
        .ok_or_else(|| {
            Error::InvalidState("the max_lr history does not end at the groups' max_lr".into())
        })?;
    if state.step_state.len() as u64 != state_byte_size(state.config.stats_capacity) {
        return Err(Error::InvalidState(format!(
            "a step state of {} bytes does not hold stats_capacity = {} records",
            state.step_state.len(),
            state.config.stats_capacity
        )));
    }
    Ok(history)
}

/// (name, number of elements) of each tensor: what a saved state must match.
fn tensor_lens(layout: &ArenaLayout) -> Vec<(String, usize)> {
    layout
        .tensors()
        .iter()
        .map(|t| (t.name.clone(), t.len))
        .collect()
}
