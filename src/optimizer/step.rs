//! Recording a step: the copies of the loss into the optimizer's state, then one compute pass
//! with one dispatch per kernel and window. Nothing is allocated, mapped or polled.

use super::alig::{Alig, Loss};
use super::host_losses::HostLosses;
use super::resources::WindowBindGroups;
use crate::error::{Error, Result};
use crate::kernels::shader_types::StepStateHeader;

impl Alig {
    /// Records one step into `encoder`: the copies of the loss into the optimizer's state, then
    /// one compute pass: the squared gradient norm, the fused update, and (with projection)
    /// the projection; one dispatch each per window. Nothing is allocated, mapped or polled.
    ///
    /// `encoder` and `queue` must be of the optimizer's device: wgpu offers no way to check
    /// them here. A [`Loss::Buffer`]'s buffer of another device of the same instance is
    /// [`Error::WrongDevice`] (checked once per buffer, by a copy in an encoder of the
    /// optimizer's own that is never submitted); of another instance it cannot be told.
    ///
    /// A [`Loss::Host`] goes through `queue.write_buffer` (which lands at the next submit on
    /// the queue) into one of [`HOST_LOSS_SLOTS`](crate::HOST_LOSS_SLOTS) slots. When more
    /// host-loss steps than that are recorded before the first of them runs, the earlier
    /// ones find their slot rewritten: the GPU skips them and flags
    /// [`StepFlags::SKIPPED_LOSS_OVERWRITTEN`](crate::StepFlags::SKIPPED_LOSS_OVERWRITTEN);
    /// no step ever runs with another step's loss. A [`Loss::Buffer`] has no such limit.
    pub fn record_step(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
    ) -> Result<()> {
        self.record_step_with_timestamps(encoder, queue, loss, None)
    }

    /// [`Alig::record_step`], with timestamps written at the beginning and end of the step's
    /// compute pass (needs `Features::TIMESTAMP_QUERY`): GPU time for benchmarks.
    pub fn record_step_with_timestamps(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
        timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) -> Result<()> {
        self.shard_next.expect_plain_step()?;
        self.record_loss(encoder, queue, loss)?;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("wgpu-alig step"),
            timestamp_writes,
        });
        self.dispatch_grad_sq_norm(&mut pass);
        self.dispatch_alig_update(&mut pass);
        self.dispatch_project_params(&mut pass);
        drop(pass);
        self.record_next_loss_scale(encoder);
        Ok(())
    }

    /// [`Alig::record_step`] for profiling: each pass (`||g||^2`, the update, and with
    /// projection the projection) in a compute pass of its own, which `timestamps` gives the
    /// timestamp writes of (called with 0, 1 and 2; needs `Features::TIMESTAMP_QUERY`). The
    /// same dispatches and results as `record_step`; only the boundaries between the passes
    /// differ (a compute pass each instead of one for all).
    pub fn record_step_with_pass_timestamps<'q>(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
        timestamps: impl Fn(usize) -> Option<wgpu::ComputePassTimestampWrites<'q>>,
    ) -> Result<()> {
        self.shard_next.expect_plain_step()?;
        self.record_loss(encoder, queue, loss)?;
        let passes: [fn(&Self, &mut wgpu::ComputePass<'_>); 3] = [
            Self::dispatch_grad_sq_norm,
            Self::dispatch_alig_update,
            Self::dispatch_project_params,
        ];
        let count = if self.plan.specialization.projection {
            3
        } else {
            2
        };
        for (k, dispatch) in passes.iter().enumerate().take(count) {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wgpu-alig step pass"),
                timestamp_writes: timestamps(k),
            });
            dispatch(self, &mut pass);
        }
        self.record_next_loss_scale(encoder);
        Ok(())
    }

    /// With a loss scale: the copy of the scale pass 2 left after the partials into the
    /// state, where the engine's next backward pass and the next step read it.
    pub(super) fn record_next_loss_scale(&self, encoder: &mut wgpu::CommandEncoder) {
        if self.plan.specialization.loss_scaled {
            let slot = self.plan.next_loss_scale_offset();
            let at = std::mem::offset_of!(StepStateHeader, loss_scale) as u64;
            debug_assert_eq!(
                std::mem::offset_of!(StepStateHeader, good_steps) as u64,
                at + 4
            );
            let buffers = &self.buffers;
            encoder.copy_buffer_to_buffer(&buffers.partials, slot, &buffers.state, at, 8);
        }
    }

    /// Checks `loss`, then records its copies into the optimizer's state: nothing is
    /// recorded when it is invalid. Counts the step, whose update comes next.
    pub(super) fn record_loss(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
    ) -> Result<()> {
        match loss {
            Loss::Host(value) => {
                let buffers = &mut self.buffers;
                buffers
                    .host_losses
                    .record_host(encoder, queue, value, &buffers.state);
            }
            Loss::Buffer { buffer, offset } => {
                if offset % 4 != 0 || offset.checked_add(4).is_none_or(|end| end > buffer.size()) {
                    return Err(Error::LossOffset {
                        offset,
                        size: buffer.size(),
                    });
                }
                if !buffer.usage().contains(wgpu::BufferUsages::COPY_SRC) {
                    return Err(Error::LossBufferUsage);
                }
                self.checked_buffers
                    .check(&self.device, buffer, &self.buffers.state)?;
                HostLosses::record_buffer(encoder, buffer, offset, &self.buffers.state);
            }
        }
        self.recorded_steps = self.recorded_steps.wrapping_add(1);
        Ok(())
    }

    /// Pass 1, one dispatch per window: the partials of `||g||^2`.
    pub(super) fn dispatch_grad_sq_norm(&self, pass: &mut wgpu::ComputePass<'_>) {
        let pipeline = &self.pipelines.grad_sq_norm.pipeline;
        self.dispatch_windows(pass, pipeline, |w| Some(&w.grad_sq_norm));
    }

    /// Pass 2, one dispatch per window: the step size from the partials, the update.
    pub(super) fn dispatch_alig_update(&self, pass: &mut wgpu::ComputePass<'_>) {
        let pipeline = &self.pipelines.alig_update.pipeline;
        self.dispatch_windows(pass, pipeline, |w| Some(&w.alig_update));
    }

    /// Pass 3 (only with projection), one dispatch per window.
    pub(super) fn dispatch_project_params(&self, pass: &mut wgpu::ComputePass<'_>) {
        if let Some(project_params) = &self.pipelines.project_params {
            let pipeline = &project_params.pipeline;
            self.dispatch_windows(pass, pipeline, |w| w.project_params.as_ref());
        }
    }

    /// `pipeline` over every window, with the bind group `bind_group` picks for it.
    fn dispatch_windows(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        pipeline: &wgpu::ComputePipeline,
        bind_group: impl Fn(&WindowBindGroups) -> Option<&wgpu::BindGroup>,
    ) {
        pass.set_pipeline(pipeline);
        for (window, plan) in self.windows.iter().zip(&self.plan.windows) {
            if let Some(bind_group) = bind_group(window) {
                pass.set_bind_group(0, bind_group, &[]);
                pass.dispatch_workgroups(plan.workgroups, 1, 1);
            }
        }
    }

    /// Records one step in a new encoder and submits it. `device` must be the optimizer's,
    /// and `queue` its queue. A submit that wgpu refuses (a loss buffer whose map is still
    /// pending, one destroyed meanwhile) ran nothing: [`Error::UnusableBuffer`], and the step
    /// is not counted. On the web such a refusal reaches the device's error handler instead.
    pub fn step(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
    ) -> Result<wgpu::SubmissionIndex> {
        self.check_device(device)?;
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgpu-alig step"),
            });
        self.record_step(&mut encoder, queue, loss)?;
        self.submit_checked(queue, encoder)
    }

    /// Submits `encoder`'s step; a refused submit un-counts it.
    #[cfg(not(target_arch = "wasm32"))]
    fn submit_checked(
        &mut self,
        queue: &wgpu::Queue,
        encoder: wgpu::CommandEncoder,
    ) -> Result<wgpu::SubmissionIndex> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let submission = queue.submit([encoder.finish()]);
        // Resolved at once on native backends: the submit reported into the scope already.
        match pollster::block_on(scope.pop()) {
            None => Ok(submission),
            Some(error) => {
                self.recorded_steps = self.recorded_steps.wrapping_sub(1);
                Err(Error::UnusableBuffer(error.to_string()))
            }
        }
    }

    /// On the web a scope cannot be awaited here (see `check_device`).
    #[cfg(target_arch = "wasm32")]
    fn submit_checked(
        &mut self,
        queue: &wgpu::Queue,
        encoder: wgpu::CommandEncoder,
    ) -> Result<wgpu::SubmissionIndex> {
        Ok(queue.submit([encoder.finish()]))
    }
}
