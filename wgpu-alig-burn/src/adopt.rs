//! A module whose trainable parameters are not all views of the optimizer's region (a new
//! model, a loaded record, a parameter the user replaced) is adopted at the step that finds
//! it so: the step copies those parameters into the region once, and the module is returned
//! with each of them replaced by its view, under the same id.

use std::collections::HashMap;

use burn::module::{ModuleMapper, Param, ParamId};
use burn::tensor::Tensor;
use wgpu_alig::{Arena, TensorId};

use crate::param_region::ParamRegion;

/// Maps the parameters of `tensors` to their views of `region` (where `arena` places them);
/// every other parameter stays.
pub(crate) struct Adopt<'a> {
    pub(crate) region: &'a mut ParamRegion,
    pub(crate) arena: &'a Arena,
    pub(crate) tensors: HashMap<ParamId, TensorId>,
}

impl ModuleMapper for Adopt<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(&tensor) = self.tensors.get(&param.id) else {
            return param;
        };
        // The map's tensors are the arena's (the step found their slots): never an error.
        match self.arena.tensor(tensor) {
            Ok(slot) => param.map(|value| self.region.view(tensor, slot, &value)),
            Err(_) => param,
        }
    }
}
