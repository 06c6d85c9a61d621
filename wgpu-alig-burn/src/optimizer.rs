//! ALI-G as a burn optimizer: `model = alig.step(&loss, model, grads)?`. Each step copies the
//! gradients (and parameters) out of burn's pooled buffers into the optimizer's arena, records
//! the ALI-G step with the loss read from the loss tensor's own buffer, and copies the
//! parameters back, all in one encoder submitted on the queue burn's runtime shares.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use wgpu_alig::{Alig, AligConfig, AligState, Arena, Loss, StatsSnapshot};

use crate::error::{Error, Result};
use crate::param_map::{ParamMap, trainable_tensors};
use crate::param_visit::{ParamVisitor, VisitedParam};
use crate::shared_device::SharedDevice;
use crate::tensor_buffer::TensorBuffer;

/// The ALI-G optimizer for burn modules on burn's wgpu backend.
///
/// The parameters with a gradient at the first step are the trainable ones, mapped once to
/// an arena; those without are frozen and never written. The optimizer steps `f32`
/// parameters, contiguous in burn's buffers, of the [`SharedDevice`] it was made with.
pub struct AligOptimizer {
    shared: SharedDevice,
    config: AligConfig,
    // Boxed: the core optimizer is large, and the optimizer is moved around as a value.
    run: Option<Box<Run>>,
    /// A loaded state, applied when the first step maps the module.
    restored: Option<Box<AligState>>,
}

/// What the first step builds: the arena, the core optimizer over it, the parameter map.
struct Run {
    arena: Arena,
    alig: Alig,
    params: ParamMap,
}

/// One trainable parameter's copies this step.
struct TensorCopy<'a> {
    param: &'a TensorBuffer,
    grad: &'a TensorBuffer,
    arena_offset: u64,
}

impl AligOptimizer {
    /// An optimizer for modules on `shared`'s device, with `config` for every trainable
    /// parameter (one group).
    pub fn new(shared: &SharedDevice, config: AligConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            shared: shared.clone(),
            config,
            run: None,
            restored: None,
        })
    }

    /// An optimizer that continues a saved run: `state` is applied at the first step, whose
    /// module must have the trainable parameters (paths and sizes) of the saved one.
    pub(crate) fn restored(shared: &SharedDevice, state: AligState) -> Result<Self> {
        let mut optimizer = Self::new(shared, state.config)?;
        optimizer.restored = Some(Box::new(state));
        Ok(optimizer)
    }

    /// One ALI-G step of `module` with `grads` (from `GradientsParams::from_grads`) and the
    /// `loss` they are the gradients of, which stays on the GPU: the step reads it from its
    /// buffer. Nothing is read back or waited for; the parameters are updated in burn's own
    /// buffers, in place, and the module is returned.
    pub fn step<M: Module>(
        &mut self,
        loss: &Tensor<1>,
        module: M,
        grads: GradientsParams,
    ) -> Result<M> {
        if !self.shared.is(&loss.device()) {
            return Err(wgpu_alig::Error::WrongDevice.into());
        }
        let (loss, client) = TensorBuffer::of(loss.clone(), "loss")?;
        if loss.elements() != 1 {
            return Err(Error::LossNotScalar(loss.elements()));
        }
        let mut visitor = ParamVisitor::new(&grads, &self.shared);
        module.visit(&mut visitor);
        let (params, _) = visitor.finish()?;
        if self.run.is_none() {
            self.run = Some(Box::new(self.start(&params)?));
        }
        let run = self.run.as_mut().expect("started above");
        let copies = run.copies(&params)?;

        let device = &self.shared.device;
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("wgpu-alig-burn step"),
        });
        // Gather: the parameters too, so that whatever changed them since the last step
        // (a load, a user's edit) is what the step updates.
        let (arena_params, arena_grads) = (run.arena.params_buffer(), run.arena.grads_buffer());
        for copy in &copies {
            copy.param
                .copy_to(&mut encoder, arena_params, copy.arena_offset);
            copy.grad
                .copy_to(&mut encoder, arena_grads, copy.arena_offset);
        }
        run.alig.record_step(
            &mut encoder,
            &self.shared.queue,
            Loss::Buffer {
                buffer: loss.buffer(),
                offset: loss.offset(),
            },
        )?;
        // Scatter the updated parameters back into burn's buffers.
        for copy in &copies {
            copy.param
                .copy_from(&mut encoder, arena_params, copy.arena_offset);
        }
        // Burn's runtime batches its commands: its backward pass (the gradients, the loss)
        // must reach the queue before the step that reads them.
        client
            .flush()
            .map_err(|e| Error::Runtime(format!("{e:?}")))?;
        self.shared.queue.submit([encoder.finish()]);
        // The buffers stay pinned until the commands that use them are submitted.
        drop(copies);
        drop(params);
        Ok(module)
    }

    /// The mapping of the module's first step, and the core optimizer (new, or restored).
    fn start(&mut self, params: &[VisitedParam]) -> Result<Run> {
        let tensors = trainable_tensors(params);
        if tensors.is_empty() {
            return Err(wgpu_alig::Error::NothingToTrain.into());
        }
        let names: Vec<(&str, usize)> = tensors.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        let (device, queue) = (&self.shared.device, &self.shared.queue);
        let arena = Arena::new(device, &names)?;
        let alig = match self.restored.take() {
            Some(state) => Alig::from_state(device, queue, &arena, &state)?,
            None => Alig::new(device, &arena, self.config)?,
        };
        let params = ParamMap::new(params, &arena)?;
        Ok(Run {
            arena,
            alig,
            params,
        })
    }

    /// The configuration the optimizer runs with.
    pub fn config(&self) -> &AligConfig {
        self.run
            .as_ref()
            .map_or(&self.config, |run| run.alig.config())
    }

    /// The shared device.
    pub fn shared_device(&self) -> &SharedDevice {
        &self.shared
    }

    /// The core optimizer, once the first step has mapped the module.
    pub fn alig(&self) -> Option<&Alig> {
        self.run.as_ref().map(|run| &run.alig)
    }

    /// The arena the steps gather into, once the first step has mapped the module.
    pub fn arena(&self) -> Option<&Arena> {
        self.run.as_ref().map(|run| &run.arena)
    }

    /// The step records so far (loss, `||g||^2`, step sizes), waiting for the device: for
    /// plots and logs, not for the training loop. Empty before the first step.
    pub fn read_stats(&self) -> Result<Option<StatsSnapshot>> {
        match &self.run {
            Some(run) => Ok(Some(
                run.alig
                    .read_stats_blocking(&self.shared.device, &self.shared.queue)?,
            )),
            None => Ok(None),
        }
    }

    /// A snapshot of the optimizer (config, momentum, counters, step records), waiting for the
    /// device; `None` before the first step (there is nothing to save yet, unless a loaded
    /// state waits for it, which is returned).
    pub fn state(&self) -> Result<Option<AligState>> {
        match (&self.run, &self.restored) {
            (Some(run), _) => Ok(Some(
                run.alig
                    .save_state(&self.shared.device, &self.shared.queue)?,
            )),
            (None, restored) => Ok(restored.as_deref().cloned()),
        }
    }
}

impl Run {
    /// The copies of this step, in the module's order: every trainable parameter exactly once.
    fn copies<'a>(&self, params: &'a [VisitedParam]) -> Result<Vec<TensorCopy<'a>>> {
        let mut copies = Vec::with_capacity(self.params.trainable_count());
        for param in params {
            let (Some(mapped), Some(grad)) = (self.params.lookup(param)?, &param.grad) else {
                continue;
            };
            copies.push(TensorCopy {
                param: &param.value,
                grad,
                arena_offset: self.arena.tensor(mapped.tensor)?.byte_offset(),
            });
        }
        if copies.len() != self.params.trainable_count() {
            let missing = self.params.missing_path(params);
            return Err(Error::TrainableSetChanged(missing));
        }
        Ok(copies)
    }
}
