//! Changing a group's `max_lr` or momentum between steps: a write into the groups' parameters
//! and the uniform blocks the plan holds, nothing rebuilt, nothing waited for.

use super::alig::Alig;
use super::config::{validate_max_lr, validate_momentum};
use super::plan::group_params;
use crate::error::{Error, Result};
use crate::kernels::shader_types::GroupParams;
use crate::stats::MaxLrHistory;

impl Alig {
    /// Sets the `max_lr` of group `group` (the index in the groups given at construction; 0 for
    /// [`Alig::new`]) from the next submit on `queue` on: a `queue.write_buffer` into the groups'
    /// parameters and the uniforms, nothing rebuilt, nothing waited for. Like any such write it
    /// lands before the next submitted command buffer, so steps recorded earlier and submitted
    /// after this call run with the new value too. Each record names the setting it ran with
    /// ([`StepRecord::max_lr_version`](crate::StepRecord::max_lr_version)), so
    /// [`StatsSnapshot::group_gammas`](crate::StatsSnapshot::group_gammas) stays true for earlier
    /// steps; the optimizer keeps every setting (one `Option<f32>` per group per change) in memory
    /// and in its saved state. Setting the value a group already has changes nothing.
    pub fn set_max_lr(
        &mut self,
        queue: &wgpu::Queue,
        group: usize,
        max_lr: Option<f32>,
    ) -> Result<()> {
        self.check_group(group)?;
        validate_max_lr(max_lr)?;
        if self.plan.groups[group].max_lr == max_lr {
            return Ok(());
        }
        let mut max_lrs = self.max_lr_history.current().to_vec();
        max_lrs[group] = max_lr;
        let version = self
            .max_lr_history
            .push(max_lrs)
            .ok_or(Error::TooManySettings)?;
        self.plan.set_max_lr(group, max_lr, version);
        self.write_group(queue, group);
        self.write_uniforms(queue);
        Ok(())
    }

    /// Sets the momentum of group `group` from the next submit on `queue` on, as
    /// [`Alig::set_max_lr`] does (a write, nothing rebuilt). Setting it to 0 leaves the
    /// group's momentum buffer as it is, and setting it back resumes from there. An
    /// optimizer built with no momentum in any group has no momentum buffer (nor the kernels
    /// for it): a momentum above 0 is then [`Error::NoMomentumBuffer`]. To turn momentum on
    /// during a run, build the group with its momentum and set it to 0 before the first step.
    pub fn set_momentum(&mut self, queue: &wgpu::Queue, group: usize, momentum: f32) -> Result<()> {
        self.check_group(group)?;
        validate_momentum(momentum)?;
        if momentum > 0.0 && self.buffers.momentum.is_none() {
            return Err(Error::NoMomentumBuffer);
        }
        self.plan.set_momentum(group, momentum);
        self.write_group(queue, group);
        Ok(())
    }

    /// Continues a saved run's versions of max_lr, so that its records stay readable.
    pub(crate) fn restore_max_lr_history(&mut self, queue: &wgpu::Queue, history: MaxLrHistory) {
        self.plan.set_max_lr_version(history.current_version());
        self.max_lr_history = history;
        self.write_uniforms(queue);
    }

    fn check_group(&self, group: usize) -> Result<()> {
        let groups = self.plan.groups.len();
        if group < groups {
            Ok(())
        } else {
            Err(Error::UnknownGroup { group, groups })
        }
    }

    fn write_group(&self, queue: &wgpu::Queue, group: usize) {
        let params = group_params(&self.plan.groups[group]);
        let offset = (group * std::mem::size_of::<GroupParams>()) as u64;
        queue.write_buffer(&self.buffers.groups, offset, bytemuck::bytes_of(&params));
    }

    fn write_uniforms(&self, queue: &wgpu::Queue) {
        queue.write_buffer(&self.buffers.uniforms, 0, &self.plan.uniform_bytes());
    }
}
