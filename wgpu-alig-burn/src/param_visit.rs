//! One walk over a module's float parameters, the way burn's own optimizers walk them: each
//! parameter's id, path, tensor and (when it has one this step) its gradient's buffer. The
//! parameter's own buffer is looked up only when the step needs it (an adoption): a look-up is
//! a round trip to burn's runtime.

use burn::module::{ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::cube_tensor::{FloatPrimitive, Identity, float_primitive, identity};
use crate::error::{Error, Result};
use crate::shared_device::SharedDevice;
use crate::tensor_buffer::TensorBuffer;

/// A float parameter of the module as one step sees it.
pub(crate) struct VisitedParam {
    pub(crate) id: ParamId,
    /// The module path (`layer.weight`): the parameter's name in the arena and in records.
    pub(crate) path: String,
    pub(crate) value: FloatPrimitive,
    /// The memory of `value`, told apart without burn's runtime (`None`: not contiguous).
    pub(crate) identity: Option<Identity>,
    pub(crate) elements: usize,
    /// `None` for a frozen parameter (no gradient).
    pub(crate) grad: Option<TensorBuffer>,
}

/// Collects the module's parameters in visiting order; the first error stops the collection.
pub(crate) struct ParamVisitor<'a> {
    grads: &'a GradientsParams,
    shared: &'a SharedDevice,
    path: Vec<String>,
    pub(crate) params: Vec<VisitedParam>,
    pub(crate) error: Option<Error>,
}

impl<'a> ParamVisitor<'a> {
    pub(crate) fn new(grads: &'a GradientsParams, shared: &'a SharedDevice) -> Self {
        Self {
            grads,
            shared,
            path: Vec::new(),
            params: Vec::new(),
            error: None,
        }
    }

    /// The parameters, or the first error met.
    pub(crate) fn finish(self) -> Result<Vec<VisitedParam>> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.params),
        }
    }

    fn visit<const D: usize>(&mut self, param: &Param<Tensor<D>>) -> Result<VisitedParam> {
        let path = self.path.join(".");
        let value = param.val();
        if !self.shared.is(&value.device()) {
            return Err(wgpu_alig::Error::WrongDevice.into());
        }
        let elements = value.shape().num_elements();
        let value = float_primitive(value).ok_or_else(|| Error::NotOnWgpu(path.clone()))?;
        let grad = match self.grads.get::<D>(param.id) {
            Some(grad) => {
                if !self.shared.is(&grad.device()) {
                    return Err(wgpu_alig::Error::WrongDevice.into());
                }
                // Gradients of views may come strided; a flat copy of them is contiguous.
                let grad = match TensorBuffer::of(grad.clone(), &path) {
                    Err(Error::NotContiguous(_)) if D > 0 => {
                        TensorBuffer::of(grad.flatten::<1>(0, D - 1), &path)?
                    }
                    other => other?,
                };
                Some(grad)
            }
            None => None,
        };
        Ok(VisitedParam {
            id: param.id,
            path,
            identity: identity(&value),
            value,
            elements,
            grad,
        })
    }
}

impl ModuleVisitor for ParamVisitor<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.error.is_some() {
            return;
        }
        match self.visit(param) {
            Ok(visited) => self.params.push(visited),
            Err(error) => self.error = Some(error),
        }
    }
}
