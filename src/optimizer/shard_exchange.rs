//! The sharded step's bookkeeping: which of its calls comes next, and the kernels and buffer
//! through which a shard's sums leave the device (built on the first sharded call).

use super::plan::StepPlan;
use super::resources::{entry, Buffers};
use crate::error::{catch_gpu_errors, Error, Result};
use crate::kernels::pipelines::{shard_norms_binding, KernelPipeline, Pipelines, ShardPipelines};
use crate::kernels::shard_norm::ShardNorm;

/// Which call of a sharded step comes next; between steps, the first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ShardCall {
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

    pub(crate) fn expect(self, called: Self) -> Result<()> {
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
    pub(crate) fn expect_plain_step(self) -> Result<()> {
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
pub(crate) struct ShardExchange {
    pub(crate) pipelines: ShardPipelines,
    pub(crate) grad_norm: wgpu::BindGroup,
    pub(crate) param_norm: Option<wgpu::BindGroup>,
    /// This shard's sums: the gradients' `ShardNorm`, then the parameters'.
    pub(crate) local_norms: wgpu::Buffer,
}

impl ShardExchange {
    pub(crate) fn new(
        device: &wgpu::Device,
        plan: &StepPlan,
        pipelines: &Pipelines,
        buffers: &Buffers,
    ) -> Result<Self> {
        let pipelines = ShardPipelines::new(device, pipelines)?;
        catch_gpu_errors(device, || {
            let local_norms = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgpu-alig shard norms"),
                size: 2 * ShardNorm::SIZE,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            // The first window's block: its num_partials counts every window's.
            let uniforms = buffers.window_uniforms(plan, 0);
            let bind_group = |kernel: &KernelPipeline| {
                use shard_norms_binding::*;
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("wgpu-alig shard norms"),
                    layout: &kernel.bind_group_layout,
                    entries: &[
                        entry(UNIFORMS, uniforms.clone()),
                        entry(PARTIALS, buffers.partials.as_entire_buffer_binding()),
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
