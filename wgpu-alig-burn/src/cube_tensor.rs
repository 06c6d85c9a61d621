//! A float tensor of burn's cubecl backend as the `CubeTensor` that holds its buffer, and back,
//! with burn's fusion on or off. Burn's `Cube` backend is `CubeBackend` without fusion and
//! `Fusion<CubeBackend>` with it (whichever crate of the program turns the feature on), so the
//! adapter converts through traits implemented for both primitives and compiles either way.

use burn::backend::CubeDevice;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use std::any::TypeId;

use burn::backend::{BackendTypes, Cube};
use burn::tensor::Tensor;
use burn_fusion::stream::StreamId;
use burn_fusion::{FusionBackend, FusionRuntime, FusionTensor, NoOp, get_client};
use burn_ir::{InitOperationIr, OperationIr};

/// A float primitive of the `Cube` backend, resolved to the `CubeTensor` of backend `B`
/// (`CubeBackend`; generic so that the bound below is not checked where fusion is off and
/// `CubeBackend` is no fusion backend).
trait IntoCube<B> {
    fn into_cube(self) -> CubeTensor;
}

impl<B> IntoCube<B> for CubeTensor {
    fn into_cube(self) -> CubeTensor {
        self
    }
}

impl<R: FusionRuntime, B> IntoCube<B> for FusionTensor<R>
where
    B: FusionBackend<FusionRuntime = R, FloatTensorPrimitive = CubeTensor>,
{
    /// Runs the fused operations pending on the tensor's stream (launched, not waited for;
    /// nothing is read back) and takes the tensor's handle.
    fn into_cube(self) -> CubeTensor {
        let client = self.client.clone();
        client.resolve_tensor_float::<B>(self)
    }
}

/// A `CubeTensor` as a float primitive of the `Cube` backend (generic in `B` as
/// [`IntoCube`] is).
trait FromCube<B> {
    fn from_cube(tensor: CubeTensor) -> Self;
}

impl<B> FromCube<B> for CubeTensor {
    fn from_cube(tensor: CubeTensor) -> Self {
        tensor
    }
}

impl<R: FusionRuntime<FusionDevice = CubeDevice>, B> FromCube<B> for FusionTensor<R>
where
    B: FusionBackend<FusionRuntime = R, FloatTensorPrimitive = CubeTensor>,
{
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
}

/// A float tensor (without autodiff) of a `CubeTensor`.
pub(crate) fn burn_tensor<const D: usize>(tensor: CubeTensor) -> Tensor<D> {
    let primitive =
        <<Cube as BackendTypes>::FloatTensorPrimitive as FromCube<CubeBackend>>::from_cube(tensor);
    Tensor::from_primitive::<Cube>(primitive)
}

/// The `CubeTensor` of a float tensor (with or without autodiff), or `None` when it is not a
/// tensor of burn's cubecl backend.
pub(crate) fn cube_tensor<const D: usize>(tensor: Tensor<D>) -> Option<CubeTensor> {
    let primitive = tensor.inner().try_into_primitive::<Cube>().ok()?;
    Some(IntoCube::<CubeBackend>::into_cube(primitive))
}

/// Whether burn's fusion is on in this program (its `Cube` backend fused): whichever crate
/// turned burn's `fusion` feature on, the adapter's own included.
pub fn burn_fusion() -> bool {
    TypeId::of::<<Cube as BackendTypes>::FloatTensorPrimitive>() != TypeId::of::<CubeTensor>()
}
