//! The step split for a model sharded over devices: each device's optimizer steps its own
//! tensors, and ALI-G's one global quantity, the squared gradient norm over every shard (and
//! with projection `||w||^2`), is combined by the engine between the passes, with whatever
//! collective it has. The crate only copies a [`ShardNorm`] out and the combined one in.
//!
//! The combined value goes into the first of the partials the next pass sums, the others
//! cleared: adding zeros is exact, so that pass computes the step size (or the projection)
//! from exactly the combined value, with its kernels unchanged. Given its own value back, a
//! single shard steps bit for bit as [`Alig::record_step`] does.

use super::alig::{Alig, Loss};
use super::shard_exchange::{ShardCall, ShardExchange};
use crate::error::Result;
use crate::kernels::shard_norm::{NormSlot, ShardNorm};

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
    /// The calls of a sharded step come in order: this one, `record_global_update`, and with
    /// projection `record_local_param_norm` and `record_global_projection`; any other order, or
    /// [`Alig::record_step`] in between, is
    /// [`Error::ShardedStepOrder`](crate::Error::ShardedStepOrder). The first call builds the
    /// step's two small kernels. A slot in a buffer of another device of the same instance is
    /// [`Error::WrongDevice`](crate::Error::WrongDevice), as in [`Alig::record_step`].
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
            .check(&self.device, slot.buffer, &self.buffers.state)
    }

    /// The sharded step's kernels, built on the first call; put back by the caller.
    fn take_shard_exchange(&mut self) -> Result<ShardExchange> {
        match self.shard_exchange.take() {
            Some(exchange) => Ok(exchange),
            None => ShardExchange::new(&self.device, &self.plan, &self.pipelines, &self.buffers),
        }
    }

    /// Puts the combined norm in the first partial of `set` and zeros in the others (and,
    /// for the parameters, in every partial of the scaled range, which the exchange does not
    /// carry: a shard with huge parameters marked the combined norm instead).
    fn load_global_norm(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        set: PartialSet,
        global: NormSlot<'_>,
    ) {
        let first = set as u64 * u64::from(self.plan.num_partials) * ShardNorm::SIZE;
        encoder.copy_buffer_to_buffer(
            global.buffer,
            global.offset,
            &self.buffers.partials,
            first,
            ShardNorm::SIZE,
        );
        let rest = u64::from(self.plan.num_partials - 1) * ShardNorm::SIZE;
        if rest > 0 {
            encoder.clear_buffer(&self.buffers.partials, first + ShardNorm::SIZE, Some(rest));
        }
        if let PartialSet::Params = set {
            encoder.clear_buffer(
                &self.buffers.partials,
                self.plan.param_big_partials_offset(),
                Some(self.plan.partials_set_bytes()),
            );
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
