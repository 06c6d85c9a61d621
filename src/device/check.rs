//! Which device an argument belongs to, and whether the device is lost. wgpu compares
//! devices by an id that two `Instance`s hand out alike, and drops every error of a lost
//! device; both are told apart here by which error scope catches a probe error. A buffer
//! given to a step is checked by a copy recorded in an encoder of the crate's own.

use crate::error::{Error, Result};

/// `Ok` when `given` is `own` and `own` is not lost; [`Error::WrongDevice`] or
/// [`Error::DeviceLost`] otherwise. Not for the per-step path: it creates an (invalid) buffer.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn check_device(own: &wgpu::Device, given: &wgpu::Device) -> Result<()> {
    // Different ids are different devices; equal ids may still be two instances' devices.
    if own != given {
        return Err(Error::WrongDevice);
    }
    // Each device has its own scope stack: the probe error raised on `own` lands in the scope
    // pushed on `given` only when both are the same device. A lost device raises none.
    let on_own = own.push_error_scope(wgpu::ErrorFilter::Validation);
    let on_given = given.push_error_scope(wgpu::ErrorFilter::Validation);
    raise_probe_error(own);
    let caught_by_given = pollster::block_on(on_given.pop()).is_some();
    let caught_by_own = pollster::block_on(on_own.pop()).is_some();
    match (caught_by_given, caught_by_own) {
        (true, _) => Ok(()),
        (false, true) => Err(Error::WrongDevice),
        (false, false) => Err(Error::DeviceLost),
    }
}

/// The buffers given to an optimizer's steps (loss buffers, norm slots) that a probe found
/// usable by its device, most recent first: an engine gives the same few every step, and
/// the probe runs once for each. Holding them keeps those buffers alive, a few at most.
#[derive(Debug, Default)]
pub(crate) struct CheckedBuffers {
    // Unused on the web, where nothing is probed.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    recent: Vec<wgpu::Buffer>,
}

impl CheckedBuffers {
    /// How many buffers are remembered: a loss buffer and the slots of a sharded step.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    const REMEMBERED: usize = 4;

    /// `Ok` when `own` can copy between `buffer` and `scratch` (a buffer of `own` with both
    /// copy usages): [`Error::WrongDevice`] for a buffer of another device of the same
    /// instance, [`Error::UnusableBuffer`] for any other reason wgpu gives when an encoder
    /// is finished (`buffer` is `scratch` itself, say). wgpu would otherwise report it only
    /// when the engine finishes its encoder, and its whole command buffer would run nothing.
    /// Whether `buffer` is mapped or destroyed is checked on every call
    /// ([`check_unmapped`]). Not seen here: a map still pending (wgpu reports it at
    /// submit), and a buffer of another instance (wgpu resolves it by an id of that
    /// instance).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn check(
        &mut self,
        own: &wgpu::Device,
        buffer: &wgpu::Buffer,
        scratch: &wgpu::Buffer,
    ) -> Result<()> {
        check_unmapped(buffer)?;
        if self.recent.contains(buffer) {
            return Ok(());
        }
        let scope = own.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = own.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("wgpu-alig buffer probe"),
        });
        // The direction the buffer's usage allows; the callers checked that it holds 4 bytes.
        if buffer.usage().contains(wgpu::BufferUsages::COPY_SRC) {
            encoder.copy_buffer_to_buffer(buffer, 0, scratch, 0, 4);
        } else {
            encoder.copy_buffer_to_buffer(scratch, 0, buffer, 0, 4);
        }
        // Finished to be validated, never submitted: nothing runs.
        drop(encoder.finish());
        match pollster::block_on(scope.pop()) {
            None => {
                self.recent.truncate(Self::REMEMBERED - 1);
                self.recent.insert(0, buffer.clone());
                Ok(())
            }
            // wgpu 30 says "... doesn't match Device ..." and has no typed way to tell.
            Some(error) if error.to_string().contains("doesn't match Device") => {
                Err(Error::WrongDevice)
            }
            Some(error) => Err(Error::UnusableBuffer(error.to_string())),
        }
    }

    /// On the web the probe cannot be awaited (see the wasm32 [`check_device`]).
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn check(
        &mut self,
        _own: &wgpu::Device,
        _buffer: &wgpu::Buffer,
        _scratch: &wgpu::Buffer,
    ) -> Result<()> {
        Ok(())
    }
}

/// [`Error::UnusableBuffer`] when `buffer` is mapped (in whole or in part) or destroyed:
/// wgpu would refuse the submit of any command buffer that uses it, the engine's whole
/// encoder with it. wgpu 30 has no map state to ask; a view of the buffer is what tells:
/// granted, or refused as out of the mapped range, while it is mapped; refused as "not
/// mapped" when it is unmapped or its map is still pending; refused as destroyed.
#[cfg(not(target_arch = "wasm32"))]
fn check_unmapped(buffer: &wgpu::Buffer) -> Result<()> {
    // A whole number of words from the start: wgpu checks the range's size before whether the
    // buffer is mapped, and a buffer may be 6 bytes long.
    let error = match buffer.get_mapped_range(..buffer.size() / 4 * 4) {
        Ok(view) => {
            drop(view);
            return Err(Error::UnusableBuffer(
                "it is mapped: unmap it before recording the step".into(),
            ));
        }
        Err(error) => error.to_string(),
    };
    if error.contains("Buffer is not mapped") {
        Ok(())
    } else if error.contains("destroyed") {
        Err(Error::UnusableBuffer("it is destroyed".into()))
    } else {
        Err(Error::UnusableBuffer(format!(
            "it is mapped in part, or else unusable: {error}"
        )))
    }
}

/// On the web the probe cannot be awaited where the crate's calls are synchronous (blocking
/// would stall the browser's event loop, which resolves error scopes): only ids are compared.
#[cfg(target_arch = "wasm32")]
pub(crate) fn check_device(own: &wgpu::Device, given: &wgpu::Device) -> Result<()> {
    if own != given {
        return Err(Error::WrongDevice);
    }
    Ok(())
}

/// On the web, see the wasm32 [`check_device`]: a lost device is not detected here.
#[cfg(target_arch = "wasm32")]
pub(crate) fn check_not_lost(_device: &wgpu::Device) -> Result<()> {
    Ok(())
}

/// [`Error::DeviceLost`] when `device` is lost (destroyed, or lost by the driver).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn check_not_lost(device: &wgpu::Device) -> Result<()> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    raise_probe_error(device);
    match pollster::block_on(scope.pop()) {
        Some(_) => Ok(()),
        None => Err(Error::DeviceLost),
    }
}

/// A buffer without usages is invalid on every device (a validation error, nothing
/// allocated), unless the device is lost: wgpu reports nothing then.
#[cfg(not(target_arch = "wasm32"))]
fn raise_probe_error(device: &wgpu::Device) {
    drop(device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("wgpu-alig device probe"),
        size: 4,
        usage: wgpu::BufferUsages::empty(),
        mapped_at_creation: false,
    }));
}

/// A buffer holding `contents` (padded to 4 bytes), like `DeviceExt::create_buffer_init` but
/// a buffer the device could not create (lost, out of memory) is an `Err`, not a panic.
pub(crate) fn create_buffer_with(
    device: &wgpu::Device,
    label: &str,
    contents: &[u8],
    usage: wgpu::BufferUsages,
) -> Result<wgpu::Buffer> {
    let size = (contents.len() as u64).next_multiple_of(4).max(4);
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size,
        usage,
        mapped_at_creation: true,
    });
    {
        let mut mapped = buffer.get_mapped_range_mut(..).map_err(|e| {
            check_not_lost(device)
                .err()
                .unwrap_or_else(|| Error::Gpu(e.to_string()))
        })?;
        mapped.slice(..contents.len()).copy_from_slice(contents);
    }
    buffer.unmap();
    Ok(buffer)
}
