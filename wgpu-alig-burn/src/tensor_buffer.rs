//! The wgpu buffer range behind a tensor of burn's wgpu backend, found through burn's runtime
//! without reading anything back.

use burn::tensor::{DType, Tensor};
use cubecl_runtime::storage::ManagedResource;
use cubecl_wgpu::{AutoCompiler, WgpuResource, WgpuServer};

use crate::cube_tensor::{FloatPrimitive, float_primitive, into_cube};
use crate::error::{Error, Result};

const F32_BYTES: u64 = 4;

/// Where a contiguous `f32` tensor lives: a range of one of burn's pooled buffers.
pub(crate) struct TensorBuffer {
    // Holding it keeps the allocation in place (burn's pool neither frees nor moves it)
    // until the commands that copy it are submitted.
    resource: ManagedResource<WgpuResource>,
    elements: usize,
}

impl TensorBuffer {
    /// Looks `tensor` (with or without autodiff) up; `name` is for errors.
    pub(crate) fn of<const D: usize>(tensor: Tensor<D>, name: &str) -> Result<Self> {
        let primitive = float_primitive(tensor).ok_or_else(|| Error::NotOnWgpu(name.into()))?;
        Self::of_primitive(primitive, name)
    }

    /// Looks a tensor's primitive up: a round trip to burn's runtime (two with fusion).
    pub(crate) fn of_primitive(primitive: FloatPrimitive, name: &str) -> Result<Self> {
        let cube = into_cube(primitive);
        if cube.dtype != DType::F32 {
            return Err(Error::NotF32 {
                name: name.to_string(),
                dtype: format!("{:?}", cube.dtype),
            });
        }
        if !cube.is_contiguous() {
            return Err(Error::NotContiguous(name.to_string()));
        }
        let elements = cube.meta.num_elements();
        let resource = cube
            .client
            .get_resource::<WgpuServer<AutoCompiler>>(cube.handle.clone())
            .map_err(|e| Error::Runtime(format!("{e:?}")))?;
        Ok(Self { resource, elements })
    }

    /// The buffer holding the tensor.
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        &self.resource.resource().buffer
    }

    /// The byte offset of the tensor's first element in [`TensorBuffer::buffer`].
    pub(crate) fn offset(&self) -> u64 {
        self.resource.resource().offset
    }

    /// The tensor's number of elements.
    pub(crate) fn elements(&self) -> usize {
        self.elements
    }

    /// The tensor's bytes (without any padding of the allocation).
    pub(crate) fn bytes(&self) -> u64 {
        self.elements as u64 * F32_BYTES
    }

    /// Records a copy of the tensor to `offset` in `to`.
    pub(crate) fn copy_to(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        to: &wgpu::Buffer,
        offset: u64,
    ) {
        encoder.copy_buffer_to_buffer(self.buffer(), self.offset(), to, offset, self.bytes());
    }
}
