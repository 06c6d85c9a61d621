//! A float tensor of burn's cubecl backend as the `CubeTensor` that holds its buffer, and back,
//! with burn's fusion on or off. Burn's `Cube` backend is `CubeBackend` without fusion and
//! `Fusion<CubeBackend>` with it (whichever crate of the program turns the feature on), so the
//! adapter converts through a trait implemented for both primitives and compiles either way.

use burn::backend::CubeDevice;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use std::any::TypeId;

use burn::backend::{BackendTypes, Cube};
use burn::tensor::Tensor;
use burn_fusion::stream::StreamId;
use burn_fusion::{FusionBackend, FusionRuntime, FusionTensor, NoOp, get_client};
use burn_ir::{InitOperationIr, OperationIr};
use cubecl_runtime::memory_management::ManagedMemoryId;

/// A float primitive of burn's `Cube` backend: a `CubeTensor`, or a `FusionTensor` with fusion.
pub(crate) type FloatPrimitive = <Cube as BackendTypes>::FloatTensorPrimitive;

/// What tells a tensor's memory apart without asking burn's runtime: the fusion client's id of
/// the tensor with fusion (a view of it, transposed say, is another tensor); its allocation and
/// byte offset without, for a contiguous tensor only (a transposed view shares both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Identity {
    Fused(burn_ir::TensorId),
    Memory(ManagedMemoryId, Option<u64>),
}

/// A float primitive of the `Cube` backend and the `CubeTensor` of backend `B` (`CubeBackend`;
/// generic so that the bounds below are not checked where fusion is off and `CubeBackend` is
/// no fusion backend).
trait Primitive<B> {
    /// The `CubeTensor` behind the primitive.
    fn into_cube(self) -> CubeTensor;
    /// A `CubeTensor` as a primitive.
    fn from_cube(tensor: CubeTensor) -> Self;
    /// `None` where the memory cannot be told apart so (a tensor that is not contiguous).
    fn identity(&self) -> Option<Identity>;
}

impl<B> Primitive<B> for CubeTensor {
    fn into_cube(self) -> CubeTensor {
        self
    }

    fn from_cube(tensor: CubeTensor) -> Self {
        tensor
    }

    fn identity(&self) -> Option<Identity> {
        if !self.is_contiguous() {
            return None;
        }
        let binding = self.handle.clone().binding();
        Some(Identity::Memory(binding.memory.id(), binding.offset_start))
    }
}

impl<R: FusionRuntime<FusionDevice = CubeDevice>, B> Primitive<B> for FusionTensor<R>
where
    B: FusionBackend<FusionRuntime = R, FloatTensorPrimitive = CubeTensor>,
{
    /// Runs the fused operations pending on the tensor's stream (launched, not waited for;
    /// nothing is read back) and takes the tensor's handle: a round trip to the fusion thread.
    fn into_cube(self) -> CubeTensor {
        let client = self.client.clone();
        client.resolve_tensor_float::<B>(self)
    }

    /// Registers the tensor's handle with the fusion client, as burn's fusion does for a
    /// tensor made from host data.
    fn from_cube(tensor: CubeTensor) -> Self {
        let client = get_client::<B>(&tensor.device);
        let (shape, dtype) = (tensor.meta.shape().clone(), tensor.dtype);
        let handle = B::float_tensor_handle(tensor);
        let init = InitOperationIr::create(shape, dtype, || client.register_tensor_handle(handle));
        let mut outputs = client.register(
            StreamId::current(),
            OperationIr::Init(init),
            NoOp::<B>::new(),
        );
        outputs.remove(0)
    }

    fn identity(&self) -> Option<Identity> {
        Some(Identity::Fused(self.id))
    }
}

/// The primitive of a float tensor (with or without autodiff), or `None` when it is not a
/// tensor of burn's cubecl backend.
pub(crate) fn float_primitive<const D: usize>(tensor: Tensor<D>) -> Option<FloatPrimitive> {
    tensor.inner().try_into_primitive::<Cube>().ok()
}

/// The `CubeTensor` of a primitive (with fusion, its pending operations launched).
pub(crate) fn into_cube(primitive: FloatPrimitive) -> CubeTensor {
    Primitive::<CubeBackend>::into_cube(primitive)
}

/// The identity of a primitive's memory, where it has one.
pub(crate) fn identity(primitive: &FloatPrimitive) -> Option<Identity> {
    Primitive::<CubeBackend>::identity(primitive)
}

/// The `CubeTensor` of a float tensor (with or without autodiff), or `None` when it is not a
/// tensor of burn's cubecl backend.
pub(crate) fn cube_tensor<const D: usize>(tensor: Tensor<D>) -> Option<CubeTensor> {
    float_primitive(tensor).map(into_cube)
}

/// A float tensor (without autodiff) of a `CubeTensor`.
pub(crate) fn burn_tensor<const D: usize>(tensor: CubeTensor) -> Tensor<D> {
    let primitive = <FloatPrimitive as Primitive<CubeBackend>>::from_cube(tensor);
    Tensor::from_primitive::<Cube>(primitive)
}

/// Whether burn's fusion is on in this program (its `Cube` backend fused): whichever crate
/// turned burn's `fusion` feature on, the adapter's own included.
pub fn burn_fusion() -> bool {
    TypeId::of::<FloatPrimitive>() != TypeId::of::<CubeTensor>()
}
