//! Each trainable parameter of the module mapped once, at the first step, to a tensor of the
//! optimizer's arena; parameters without a gradient then are frozen and never in it.

use std::collections::{HashMap, HashSet};

use burn::module::ParamId;
use wgpu_alig::{Arena, TensorId};

use crate::error::{Error, Result};
use crate::param_visit::VisitedParam;

/// Where a trainable parameter lives in the arena.
#[derive(Clone, Debug)]
pub(crate) struct MappedParam {
    pub(crate) path: String,
    pub(crate) tensor: TensorId,
    pub(crate) elements: usize,
}

/// The trainable parameters, by id, and the frozen ones.
#[derive(Debug)]
pub(crate) struct ParamMap {
    trainable: HashMap<ParamId, MappedParam>,
    /// Without a gradient at the first step: they must stay without one.
    frozen: HashMap<ParamId, String>,
    /// In no parameter group: never read or written, with or without a gradient.
    ungrouped: HashSet<ParamId>,
}

/// The arena's tensors of a module's first step, (path, elements) in visiting order: its
/// parameters with a gradient that are in a group (`grouped`, by path).
pub(crate) fn trainable_tensors(
    params: &[VisitedParam],
    grouped: impl Fn(&str) -> bool,
) -> Vec<(String, usize)> {
    params
        .iter()
        .filter(|param| param.grad.is_some() && grouped(&param.path))
        .map(|param| (param.path.clone(), param.elements))
        .collect()
}

impl ParamMap {
    /// The map of a module's first step over `arena`, made from [`trainable_tensors`] with the
    /// same `grouped`: parameters in a group with a gradient are trainable, in a group without
    /// one frozen, in no group left out.
    pub(crate) fn new(
        params: &[VisitedParam],
        arena: &Arena,
        grouped: impl Fn(&str) -> bool,
    ) -> Result<Self> {
        let mut trainable = HashMap::new();
        let mut frozen = HashMap::new();
        let mut ungrouped = HashSet::new();
        for param in params {
            if !grouped(&param.path) {
                ungrouped.insert(param.id);
            } else if param.grad.is_some() {
                let mapped = MappedParam {
                    path: param.path.clone(),
                    tensor: arena.tensor_id(&param.path)?,
                    elements: param.elements,
                };
                trainable.insert(param.id, mapped);
            } else {
                frozen.insert(param.id, param.path.clone());
            }
        }
        Ok(Self {
            trainable,
            frozen,
            ungrouped,
        })
    }

    /// The arena tensor of `param`, or `None` when it is frozen; an error when it gained or
    /// lost its gradient (or its size) since the map was made.
    pub(crate) fn lookup(&self, param: &VisitedParam) -> Result<Option<&MappedParam>> {
        let changed = || Error::TrainableSetChanged(param.path.clone());
        match (self.trainable.get(&param.id), &param.grad) {
            (Some(mapped), Some(grad))
                if mapped.elements == param.elements && grad.elements() == mapped.elements =>
            {
                Ok(Some(mapped))
            }
            (None, _) if self.ungrouped.contains(&param.id) => Ok(None),
            (None, None) if self.frozen.contains_key(&param.id) => Ok(None),
            _ => Err(changed()),
        }
    }

    /// Number of trainable parameters.
    pub(crate) fn trainable_count(&self) -> usize {
        self.trainable.len()
    }
}

impl ParamMap {
    /// The path of a trainable parameter that `params` lacks (for the error of a module that
    /// lost one); empty when none is missing.
    pub(crate) fn missing_path(&self, params: &[VisitedParam]) -> String {
        self.trainable
            .iter()
            .find(|(id, _)| !params.iter().any(|param| param.id == **id))
            .map(|(_, mapped)| mapped.path.clone())
            .unwrap_or_default()
    }
}
