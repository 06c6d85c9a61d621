//! The device helpers: an optional convenience device ([`Gpu`]), the checks that an argument
//! belongs to the optimizer's device and that the device is alive, and the reads back to the
//! host (asynchronous, or blocking where the platform can wait).

pub(crate) mod check;
mod gpu;
pub(crate) mod readback;

pub use gpu::{Gpu, GpuRequest};
