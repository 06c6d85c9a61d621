//! The trainable parameters where burn and the optimizer both find them: one region allocated
//! through burn's runtime, which the optimizer's arena lies over (`Arena::over_params`), and
//! each parameter of the module a view of it. Burn's forward pass reads the parameters the step
//! writes, in place: no parameter is copied per step.

use std::collections::HashMap;

use burn::backend::wgpu::CubeTensor;
use burn::tensor::{DType, Tensor};
use cubecl_runtime::storage::ManagedResource;
use cubecl_wgpu::{AutoCompiler, WgpuResource, WgpuServer};
use wgpu_alig::{TensorId, TensorSlot};

use crate::cube_tensor::{Identity, burn_tensor, cube_tensor, float_primitive, identity};
use crate::error::{Error, Result};
use crate::shared_device::SharedDevice;

/// A region of burn's memory holding an arena's parameters.
pub(crate) struct ParamRegion {
    /// The whole region. Holding it keeps it in burn's pool and keeps burn from writing any
    /// view in place: burn's kernels reuse a buffer only when nothing else holds it.
    base: CubeTensor,
    // Keeps the region's address until the optimizer is dropped.
    resource: ManagedResource<WgpuResource>,
    /// The view last made of each arena tensor: a parameter that is it is in place.
    views: HashMap<TensorId, Identity>,
}

impl ParamRegion {
    /// `bytes` (a multiple of 4) on `shared`'s device, allocated by burn and not written: the
    /// first step adopts every parameter into it before the update reads any, and what lies
    /// in the padding between tensors counts in no norm and is never written.
    pub(crate) fn allocate(shared: &SharedDevice, bytes: u64) -> Result<Self> {
        let region = Tensor::<1>::empty([(bytes / 4) as usize], &shared.burn_device());
        let base = cube_tensor(region).ok_or_else(|| Error::NotOnWgpu("the region".into()))?;
        let resource = base
            .client
            .get_resource::<WgpuServer<AutoCompiler>>(base.handle.clone())
            .map_err(|e| Error::Runtime(format!("{e:?}")))?;
        Ok(Self {
            base,
            resource,
            views: HashMap::new(),
        })
    }

    /// The buffer the region lies in.
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        &self.resource.resource().buffer
    }

    /// The byte offset of the region in [`ParamRegion::buffer`].
    pub(crate) fn offset(&self) -> u64 {
        self.resource.resource().offset
    }

    /// Whether a parameter of `identity` is the view of arena tensor `tensor`: its values are
    /// where the step writes them.
    pub(crate) fn holds(&self, tensor: TensorId, identity: Option<Identity>) -> bool {
        identity.is_some() && self.views.get(&tensor).copied() == identity
    }

    /// A view of arena tensor `tensor` (at `slot`) as a parameter that replaces `value`: its
    /// shape, and its autodiff and gradient requirement.
    pub(crate) fn view<const D: usize>(
        &mut self,
        tensor: TensorId,
        slot: &TensorSlot,
        value: &Tensor<D>,
    ) -> Tensor<D> {
        let base = &self.base.handle;
        let cut = base.size_in_used() - slot.byte_offset() - slot.byte_size();
        let handle = base
            .clone()
            .offset_start(slot.byte_offset())
            .offset_end(cut);
        let cube = CubeTensor::new_contiguous(
            self.base.client.clone(),
            self.base.device.clone(),
            value.shape(),
            handle,
            DType::F32,
        );
        let view = burn_tensor::<D>(cube);
        if let Some(identity) = float_primitive(view.clone()).and_then(|p| identity(&p)) {
            self.views.insert(tensor, identity);
        }
        let view = if value.is_autodiff() {
            view.autodiff()
        } else {
            view
        };
        view.set_require_grad(value.is_require_grad())
    }
}
