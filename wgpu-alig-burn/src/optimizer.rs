//! ALI-G as a burn optimizer: `model = alig.step(&loss, model, grads)?`. The trainable
//! parameters are views of the optimizer's arena, which lies in burn's memory; each step
//! copies the gradients out of burn's pooled buffers into the arena and records the ALI-G
//! step, with the loss read from the loss tensor's own buffer, in one encoder submitted on the
//! queue burn's runtime shares. Parameters that are not the arena's views yet are copied in
//! once and the module is returned with the views in their place.

use std::collections::{HashMap, HashSet};

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use wgpu_alig::{Alig, AligConfig, AligState, Arena, Loss, StatsSnapshot, TensorId};

use crate::adopt::Adopt;
use crate::error::{Error, Result};
use crate::param_map::{ParamMap, trainable_tensors};
use crate::param_region::ParamRegion;
use crate::param_visit::{ParamVisitor, VisitedParam};
use crate::path_groups::{PathGroup, core_groups};
use crate::shared_device::SharedDevice;
use crate::tensor_buffer::TensorBuffer;

/// The ALI-G optimizer for burn modules on burn's wgpu backend.
///
/// The parameters with a gradient at the first step (and, with [`PathGroup`]s, in a group) are
/// the trainable ones, mapped once to an arena; the others are frozen and never written. The
/// optimizer steps `f32` parameters, contiguous in burn's buffers, of the [`SharedDevice`] it
/// was made with.
pub struct AligOptimizer {
    shared: SharedDevice,
    config: AligConfig,
    /// The parameter groups by path; `None`: every trainable parameter in one group with the
    /// config's `max_lr` and momentum.
    groups: Option<Vec<PathGroup>>,
    // Boxed: the core optimizer is large, and the optimizer is moved around as a value.
    run: Option<Box<Run>>,
    /// A loaded state, applied when the first step maps the module.
    restored: Option<Box<AligState>>,
    /// Settings made on a loaded state before its first step, applied after it is restored.
    pending: Vec<GroupSetting>,
    copies: StepCopies,
}

/// The bytes the last step copied from burn's buffers into the optimizer's arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepCopies {
    /// Parameters adopted into the arena: 0 once the module's trainable parameters are the
    /// arena's views (from the second step of a model on).
    pub param_bytes: u64,
    /// Gradients: every trainable parameter's, each step.
    pub grad_bytes: u64,
}

/// A group's setting changed between steps.
#[derive(Clone, Copy, Debug)]
enum GroupSetting {
    MaxLr(usize, Option<f32>),
    Momentum(usize, f32),
}

/// What the first step builds: the region of burn's memory the parameters live in, the arena
/// over it, the core optimizer over that, the parameter map.
struct Run {
    arena: Arena,
    region: ParamRegion,
    alig: Alig,
    params: ParamMap,
}

/// One trainable parameter's copies this step.
struct TensorCopy<'a> {
    param: &'a VisitedParam,
    grad: &'a TensorBuffer,
    tensor: TensorId,
    /// The tensor's offset in the arena's buffers (after the region's start in its own).
    byte_offset: u64,
    /// The parameter's buffer when it is not its view of the region: it is adopted.
    adopt: Option<TensorBuffer>,
}

impl AligOptimizer {
    /// An optimizer for modules on `shared`'s device, with `config` for every trainable
    /// parameter (one group).
    pub fn new(shared: &SharedDevice, config: AligConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            shared: shared.clone(),
            config,
            groups: None,
            run: None,
            restored: None,
            pending: Vec::new(),
            copies: StepCopies::default(),
        })
    }

    /// An optimizer with parameter groups chosen by module path, each with its own `max_lr`
    /// and momentum; the config's other fields hold for every group (its own `max_lr` and
    /// momentum are not used). Trainable parameters in no group are frozen. The groups are
    /// matched against the module at the first step: a parameter in two groups is then
    /// [`wgpu_alig::Error::TensorInTwoGroups`], and a module with nothing to train
    /// [`wgpu_alig::Error::NothingToTrain`].
    pub fn with_groups(
        shared: &SharedDevice,
        config: AligConfig,
        groups: Vec<PathGroup>,
    ) -> Result<Self> {
        for group in &groups {
            group_config(config, group.max_lr, group.momentum).validate()?;
        }
        let mut optimizer = Self::new(shared, group_config(config, None, 0.0))?;
        optimizer.groups = Some(groups);
        Ok(optimizer)
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
    /// buffer. Nothing is read back or waited for. The parameters are updated in place, in
    /// the arena their tensors are views of; the module is returned with the parameters that
    /// were not views yet (a new module, a loaded record, a parameter replaced since the last
    /// step) replaced by their views, under the same ids, after one copy of their values.
    pub fn step<M: Module>(
        &mut self,
        loss: &Tensor<1>,
        module: M,
        grads: GradientsParams,
    ) -> Result<M> {
        if !self.shared.is(&loss.device()) {
            return Err(wgpu_alig::Error::WrongDevice.into());
        }
        let loss = TensorBuffer::of(loss.clone(), "loss")?;
        if loss.elements() != 1 {
            return Err(Error::LossNotScalar(loss.elements()));
        }
        let mut visitor = ParamVisitor::new(&grads, &self.shared);
        module.visit(&mut visitor);
        let params = visitor.finish()?;
        if self.run.is_none() {
            self.run = Some(Box::new(self.start(&params)?));
        }
        let run = self.run.as_mut().expect("started above");
        let copies = run.copies(&params)?;
        let mut encoder =
            self.shared
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wgpu-alig-burn step"),
                });
        let step_copies = run.record(&mut encoder, &self.shared.queue, &copies, &loss)?;
        // Burn's runtime batches its commands: its backward pass (the gradients, the loss)
        // must reach the queue before the step that reads them. With fusion, the device's
        // flush also submits what the fusion thread launched.
        self.shared
            .burn_device()
            .flush()
            .map_err(|e| Error::Runtime(format!("{e:?}")))?;
        self.shared.queue.submit([encoder.finish()]);
        self.copies = step_copies;
        let module = run.adopt(module, &copies);
        // The buffers stay pinned until the commands that use them are submitted.
        drop(copies);
        drop(params);
        Ok(module)
    }

    /// The mapping of the module's first step, and the core optimizer (new, or restored).
    fn start(&mut self, params: &[VisitedParam]) -> Result<Run> {
        // A loaded state's groups name their tensors: a set, so that many tensors map in
        // linear time.
        let saved: Option<HashSet<&str>> = self.restored.as_ref().map(|state| {
            let names = state.groups.iter().flat_map(|group| &group.tensors);
            names.map(String::as_str).collect()
        });
        let grouped = |path: &str| match (&saved, &self.groups) {
            (Some(saved), _) => saved.contains(path),
            (None, Some(groups)) => groups.iter().any(|group| group.holds(path)),
            (None, None) => true,
        };
        let tensors = trainable_tensors(params, grouped);
        if tensors.is_empty() {
            return Err(wgpu_alig::Error::NothingToTrain.into());
        }
        let names: Vec<(&str, usize)> = tensors.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        let (device, queue) = (&self.shared.device, &self.shared.queue);
        let bytes = Arena::layout_for(device, &names)?.byte_size();
        let region = ParamRegion::allocate(&self.shared, bytes)?;
        let arena = Arena::over_params(device, &names, region.buffer(), region.offset())?;
        let params = ParamMap::new(params, &arena, grouped)?;
        drop(saved);
        let mut alig = match (self.restored.take(), &self.groups) {
            (Some(state), _) => Alig::from_state(device, queue, &arena, &state)?,
            (None, Some(groups)) => {
                let groups = core_groups(groups, names.iter().map(|(name, _)| *name));
                Alig::with_groups(device, &arena, self.config, &groups)?
            }
            (None, None) => Alig::new(device, &arena, self.config)?,
        };
        for setting in self.pending.drain(..) {
            apply(&mut alig, queue, setting)?;
        }
        Ok(Run {
            arena,
            region,
            alig,
            params,
        })
    }

    /// Sets the `max_lr` of group `group` (the index in [`AligOptimizer::with_groups`]'s
    /// groups; 0 for [`AligOptimizer::new`]) from the next step on, as
    /// [`Alig::set_max_lr`] does: nothing rebuilt, nothing waited for.
    pub fn set_max_lr(&mut self, group: usize, max_lr: Option<f32>) -> Result<()> {
        self.set(GroupSetting::MaxLr(group, max_lr))
    }

    /// Sets the momentum of group `group` from the next step on, as [`Alig::set_momentum`]
    /// does. Before the first step any momentum can be set; after it, a momentum above 0 needs
    /// a group that was built with momentum ([`wgpu_alig::Error::NoMomentumBuffer`]).
    pub fn set_momentum(&mut self, group: usize, momentum: f32) -> Result<()> {
        self.set(GroupSetting::Momentum(group, momentum))
    }

    fn set(&mut self, setting: GroupSetting) -> Result<()> {
        if let Some(run) = &mut self.run {
            return apply(&mut run.alig, &self.shared.queue, setting);
        }
        let (group, max_lr, momentum) = match setting {
            GroupSetting::MaxLr(group, max_lr) => (group, max_lr, 0.0),
            GroupSetting::Momentum(group, momentum) => (group, None, momentum),
        };
        group_config(self.config, max_lr, momentum).validate()?;
        let groups = match (&self.restored, &self.groups) {
            (Some(state), _) => state.groups.len(),
            (None, Some(groups)) => groups.len(),
            (None, None) => 1,
        };
        if group >= groups {
            return Err(wgpu_alig::Error::UnknownGroup { group, groups }.into());
        }
        match (&mut self.restored, &mut self.groups, setting) {
            (Some(_), _, setting) => self.pending.push(setting),
            (None, Some(groups), GroupSetting::MaxLr(_, max_lr)) => groups[group].max_lr = max_lr,
            (None, Some(groups), GroupSetting::Momentum(_, mu)) => groups[group].momentum = mu,
            (None, None, GroupSetting::MaxLr(_, max_lr)) => self.config.max_lr = max_lr,
            (None, None, GroupSetting::Momentum(_, mu)) => self.config.momentum = mu,
        }
        Ok(())
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

    /// The bytes the last step copied into the arena (none before the first step).
    pub fn last_step_copies(&self) -> StepCopies {
        self.copies
    }

    /// The arena the parameters live in and the gradients are copied into, once the first
    /// step has mapped the module: its parameters lie in burn's memory
    /// ([`Arena::params_offset`] of [`Arena::params_buffer`]), the module's views of them.
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

/// `config` with a group's `max_lr` and momentum, to validate them as the core crate does.
fn group_config(config: AligConfig, max_lr: Option<f32>, momentum: f32) -> AligConfig {
    AligConfig {
        max_lr,
        momentum,
        ..config
    }
}

fn apply(alig: &mut Alig, queue: &wgpu::Queue, setting: GroupSetting) -> Result<()> {
    match setting {
        GroupSetting::MaxLr(group, max_lr) => alig.set_max_lr(queue, group, max_lr)?,
        GroupSetting::Momentum(group, momentum) => alig.set_momentum(queue, group, momentum)?,
    }
    Ok(())
}

impl Run {
    /// Records the gradients' copies into the arena (and the parameters' of an adoption), then
    /// the ALI-G step with the loss read from its tensor's buffer; the bytes copied.
    fn record(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        copies: &[TensorCopy],
        loss: &TensorBuffer,
    ) -> Result<StepCopies> {
        let (arena_params, arena_grads) = (self.arena.params_buffer(), self.arena.grads_buffer());
        let mut copied = StepCopies::default();
        // Adopted parameters go through their tensors' gradient slots: a parameter may lie in
        // the region's own buffer (burn's pool page), where a copy within one buffer is
        // refused, and may be another tensor's view, whose values must all be read before any
        // is written (two parameters swapped, say).
        let adopted = copies
            .iter()
            .filter_map(|c| Some((c.adopt.as_ref()?, c.byte_offset)));
        for (param, offset) in adopted.clone() {
            param.copy_to(encoder, arena_grads, offset);
        }
        for (param, offset) in adopted {
            let to = self.arena.params_offset() + offset;
            encoder.copy_buffer_to_buffer(arena_grads, offset, arena_params, to, param.bytes());
            copied.param_bytes += param.bytes();
        }
        for copy in copies {
            copy.grad.copy_to(encoder, arena_grads, copy.byte_offset);
            copied.grad_bytes += copy.grad.bytes();
        }
        let loss = Loss::Buffer {
            buffer: loss.buffer(),
            offset: loss.offset(),
        };
        self.alig.record_step(encoder, queue, loss)?;
        Ok(copied)
    }

    /// `module` with every parameter `copies` adopted replaced by its view of the region.
    fn adopt<M: Module>(&mut self, module: M, copies: &[TensorCopy]) -> M {
        let tensors: HashMap<_, _> = copies
            .iter()
            .filter(|copy| copy.adopt.is_some())
            .map(|copy| (copy.param.id, copy.tensor))
            .collect();
        if tensors.is_empty() {
            return module;
        }
        module.map(&mut Adopt {
            region: &mut self.region,
            arena: &self.arena,
            tensors,
        })
    }

    /// The copies of this step, in the module's order: every trainable parameter exactly once.
    fn copies<'a>(&self, params: &'a [VisitedParam]) -> Result<Vec<TensorCopy<'a>>> {
        let mut copies = Vec::with_capacity(self.params.trainable_count());
        for param in params {
            let (Some(mapped), Some(grad)) = (self.params.lookup(param)?, &param.grad) else {
                continue;
            };
            let adopt = match self.region.holds(mapped.tensor, param.identity) {
                true => None,
                false => Some(TensorBuffer::of_primitive(
                    param.value.clone(),
                    &param.path,
                )?),
            };
            copies.push(TensorCopy {
                param,
                grad,
                tensor: mapped.tensor,
                byte_offset: self.arena.tensor(mapped.tensor)?.byte_offset(),
                adopt,
            });
        }
        if copies.len() != self.params.trainable_count() {
            let missing = self.params.missing_path(params);
            return Err(Error::TrainableSetChanged(missing));
        }
        Ok(copies)
    }
}
