//! Naming a tensor of an arena: by its name (a map look-up) or by a [`TensorId`] (an index),
//! which is what the per-step path of an engine should hold.

use crate::arena::{ArenaLayout, TensorSlot};
use crate::error::{Error, Result};

/// A tensor of an arena by its position in the order the tensors were declared: a look-up
/// with no hashing, for the per-step path. From [`Arena::tensor_id`](crate::Arena::tensor_id).
///
/// An id names the tensor at that position in any arena of the same layout (an arena rebuilt
/// for a restored run, say); in an arena with fewer tensors it is
/// [`Error::UnknownTensorId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub(crate) usize);

impl TensorId {
    /// The tensor's position in the arena's declaration order.
    pub fn index(self) -> usize {
        self.0
    }
}

/// What names a tensor in the arena's calls: a name (`&str`, `&String`, ...) or a
/// [`TensorId`].
pub trait TensorKey {
    /// The slot this key names in `layout`.
    fn slot_in<'a>(&self, layout: &'a ArenaLayout) -> Result<&'a TensorSlot>;
}

impl TensorKey for TensorId {
    fn slot_in<'a>(&self, layout: &'a ArenaLayout) -> Result<&'a TensorSlot> {
        layout.tensors().get(self.0).ok_or(Error::UnknownTensorId {
            index: self.0,
            tensors: layout.tensors().len(),
        })
    }
}

impl<T: AsRef<str> + ?Sized> TensorKey for &T {
    fn slot_in<'a>(&self, layout: &'a ArenaLayout) -> Result<&'a TensorSlot> {
        let name = (*self).as_ref();
        let id = layout.id(name)?;
        id.slot_in(layout)
    }
}
