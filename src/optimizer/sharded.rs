//! The step split for a model sharded over devices: each device's optimizer steps its own
//! tensors, and ALI-G's one global quantity, the squared gradient norm over every shard (and
//! with projection `||w||^2`), is combined by the engine between the passes, with whatever
//! collective it has. The crate only copies a [`ShardNorm`] out and the combined one in.
//!
//! The combined value goes into the first of the partials the next pass sums, the others
//! cleared: adding zeros is exact, so that pass computes the step size (or the projection)
//! from exactly the combined value, with its kernels unchanged. Given its own value back, a
//! single shard steps bit for bit as [`Alig::record_step`] does.

use super::{entry, Alig, Loss};
use crate::arena::buffer_slice;
use crate::error::{catch_gpu_errors, Error, Result};
use crate::pipelines::{shard_norms_binding, KernelPipeline, ShardPipelines};
use crate::shader_types::AligUniforms;
use crate::shard_norm::{NormSlot, ShardNorm};

/// Which call of a sharded step comes next; between steps, the first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum ShardCall {
    #[default]
    LocalGradNorm,
    GlobalUpdate,
    LocalParamNorm,
    GlobalProjection,
}

impl ShardCall {
    fn name(self) -> &'static str {
        match self {
            Self::LocalGradNorm => "record_local_grad_norm",
            Self::GlobalUpdate => "record_global_update",
            Self::LocalParamNorm => "record_local_param_norm",
            Self::GlobalProjection => "record_global_projection",
        }
    }

    fn expect(self, called: Self) -> Result<()> {
        if self == called {
            Ok(())
        } else {
            Err(Error::ShardedStepOrder {
                called: called.name(),
                expected: self.name(),
            })
        }
    }

    /// A plain step may not fall inside a sharded one: it would overwrite its partials.
    pub(super) fn expect_plain_step(self) -> Result<()> {
        if self == Self::LocalGradNorm {
            Ok(())
        } else {
            Err(Error::ShardedStepOrder {
                called: "record_step",
                expected: self.name(),
            })
        }
    }
}

/// The sharded step's kernels and the buffer their sums land in.
#[derive(Debug)]
pub(super) struct ShardExchange {
    pipelines: ShardPipelines,
    grad_norm: wgpu::BindGroup,
    param_norm: Option<wgpu::BindGroup>,
    /// This shard's sums: the gradients' `ShardNorm`, then the parameters'.
    local_norms: wgpu::Buffer,
}

impl ShardExchange {
    fn new(alig: &Alig) -> Result<Self> {
        let device = &alig.device;
        let pipelines = ShardPipelines::new(device, &alig.pipelines)?;
        catch_gpu_errors(device, || {
            let local_norms = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgpu-alig shard norms"),
                size: 2 * ShardNorm::SIZE,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            // The first window's block: its num_partials counts every window's.
            let uniforms = buffer_slice(
                &alig.uniform_buffer,
                0,
                std::mem::size_of::<AligUniforms>() as u64,
            );
            let bind_group = |kernel: &KernelPipeline| {
                use shard_norms_binding::*;
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("wgpu-alig shard norms"),
                    layout: &kernel.bind_group_layout,
                    entries: &[
                        entry(UNIFORMS, uniforms.clone()),
                        entry(PARTIALS, alig.partials.as_entire_buffer_binding()),
                        entry(LOCAL_NORMS, local_norms.as_entire_buffer_binding()),
                    ],
                })
            };
            Self {
                grad_norm: bind_group(&pipelines.grad_norm),
                param_norm: pipelines.param_norm.as_ref().map(bind_group),
                pipelines,
                local_norms,
            }
        })
    }
}

/// Which set of partials a combined norm replaces.
#[derive(Clone, Copy)]
enum PartialSet {
    Grads = 0,
    Params = 1,
}

impl Alig {
    /// A sharded step, 1st call: pass 1 over this optimizer's tensors (its shard of the
    /// model), then the sum of its partials, copied as a [`ShardNorm`] into `out` (a buffer
    /// with `COPY_DST`). The engine combines the shards' values ([`ShardNorm::combine`], or
    /// its own collective: an f32 sum and a u32 max) and gives every device the same result
    /// in [`Alig::record_global_update`]. One dispatch per window, one small one and a copy.
    ///
    /// The calls of a sharded step come in order: this one, `record_global_update`, and
    /// with projection `record_local_param_norm` and `record_global_projection`; any other
    /// order, or [`Alig::record_step`] in between, is [`Error::ShardedStepOrder`]. The first
    /// call builds the step's two small kernels. A slot in a buffer of another device of the
    /// same instance is [`Error::WrongDevice`], as in [`Alig::record_step`].
    pub fn record_local_grad_norm(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        out: NormSlot<'_>,
    ) -> Result<()> {
        self.shard_next.expect(ShardCall::LocalGradNorm)?;
        self.check_norm_slot(out, wgpu::BufferUsages::COPY_DST)?;
        let exchange = self.take_shard_exchange()?;
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wgpu-alig shard gradient norm"),
                timestamp_writes: None,
            });
            self.dispatch_grad_sq_norm(&mut pass);
            pass.set_pipeline(&exchange.pipelines.grad_norm.pipeline);
            pass.set_bind_group(0, &exchange.grad_norm, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
        copy_local_norm(encoder, &exchange, PartialSet::Grads, out);
        self.shard_exchange = Some(exchange);
        self.shard_next = ShardCall::GlobalUpdate;
        Ok(())
    }

    /// A sharded step, 2nd call: the loss (global, as the engine knows it; as in
    /// [`Alig::record_step`]) and the combined gradient norm of every shard from `global`
    /// (a buffer with `COPY_SRC`), then pass 2 over this shard: the step size from the
    /// combined norm, the update, the step record. Every device given the same bytes
    /// computes the same step size. One dispatch per window, the loss's copies, a copy and a
    /// clear of the partials.
    pub fn record_global_update(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        loss: Loss<'_>,
        global: NormSlot<'_>,
    ) -> Result<()> {
        self.shard_next.expect(ShardCall::GlobalUpdate)?;
        self.check_norm_slot(global, wgpu::BufferUsages::COPY_SRC)?;
        self.record_loss(encoder, queue, loss)?;
        self.load_global_norm(encoder, PartialSet::Grads, global);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wgpu-alig shard update"),
                timestamp_writes: None,
            });
            self.dispatch_alig_update(&mut pass);
        }
        self.record_next_loss_scale(encoder);
        self.shard_next = if self.pipelines.project_params.is_some() {
            ShardCall::LocalParamNorm
        } else {
            ShardCall::LocalGradNorm
        };
        Ok(())
    }

    /// A sharded step with projection, 3rd call: this shard's `||w||^2` after the update
    /// (summed from pass 2's partials), copied as a [`ShardNorm`] into `out`. One dispatch.
    pub fn record_local_param_norm(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        out: NormSlot<'_>,
    ) -> Result<()> {
        self.shard_next.expect(ShardCall::LocalParamNorm)?;
        self.check_norm_slot(out, wgpu::BufferUsages::COPY_DST)?;
        let exchange = self.take_shard_exchange()?;
        if let (Some(pipeline), Some(bind_group)) =
            (&exchange.pipelines.param_norm, &exchange.param_norm)
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wgpu-alig shard parameter norm"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
        copy_local_norm(encoder, &exchange, PartialSet::Params, out);
        self.shard_exchange = Some(exchange);
        self.shard_next = ShardCall::GlobalProjection;
        Ok(())
    }

    /// A sharded step with projection, 4th call: the combined `||w||^2` of every shard from
    /// `global`, then pass 3 over this shard: every device scales its parameters by the same
    /// factor when the whole model lies outside the ball. One dispatch.
    pub fn record_global_projection(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        global: NormSlot<'_>,
    ) -> Result<()> {
        self.shard_next.expect(ShardCall::GlobalProjection)?;
        self.check_norm_slot(global, wgpu::BufferUsages::COPY_SRC)?;
        self.load_global_norm(encoder, PartialSet::Params, global);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wgpu-alig shard projection"),
                timestamp_writes: None,
            });
            self.dispatch_project_params(&mut pass);
        }
        self.shard_next = ShardCall::LocalGradNorm;
        Ok(())
    }

    /// The slot's bytes lie in its buffer, which has `usage` and is of this device.
    fn check_norm_slot(&mut self, slot: NormSlot<'_>, usage: wgpu::BufferUsages) -> Result<()> {
        slot.check(usage)?;
        self.checked_buffers
            .check(&self.device, slot.buffer, &self.state)
    }

    /// The sharded step's kernels, built on the first call; put back by the caller.
    fn take_shard_exchange(&mut self) -> Result<ShardExchange> {
        match self.shard_exchange.take() {
            Some(exchange) => Ok(exchange),
            None => ShardExchange::new(self),
        }
    }

    /// Puts the combined norm in the first partial of `set` and zeros in the others.
    fn load_global_norm(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        set: PartialSet,
        global: NormSlot<'_>,
    ) {
        let first = set as u64 * u64::from(self.num_partials) * ShardNorm::SIZE;
        encoder.copy_buffer_to_buffer(
            global.buffer,
            global.offset,
            &self.partials,
            first,
            ShardNorm::SIZE,
        );
        let rest = u64::from(self.num_partials - 1) * ShardNorm::SIZE;
        if rest > 0 {
            encoder.clear_buffer(&self.partials, first + ShardNorm::SIZE, Some(rest));
        }
    }
}

fn copy_local_norm(
    encoder: &mut wgpu::CommandEncoder,
    exchange: &ShardExchange,
    set: PartialSet,
    out: NormSlot<'_>,
) {
    encoder.copy_buffer_to_buffer(
        &exchange.local_norms,
        set as u64 * ShardNorm::SIZE,
        out.buffer,
        out.offset,
        ShardNorm::SIZE,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calls_of_a_sharded_step_come_in_order() {
        assert!(ShardCall::LocalGradNorm
            .expect(ShardCall::LocalGradNorm)
            .is_ok());
        assert!(matches!(
            ShardCall::LocalGradNorm.expect(ShardCall::GlobalUpdate),
            Err(Error::ShardedStepOrder {
                called: "record_global_update",
                expected: "record_local_grad_norm"
            })
        ));
        assert!(ShardCall::LocalGradNorm.expect_plain_step().is_ok());
        assert!(matches!(
            ShardCall::GlobalUpdate.expect_plain_step(),
            Err(Error::ShardedStepOrder {
                called: "record_step",
                expected: "record_global_update"
            })
        ));
    }
}
