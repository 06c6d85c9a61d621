//! Reading GPU buffers back to the host without stalling the queue: a copy into a fresh
//! staging buffer, then `map_async` whose callback completes a oneshot channel.

use std::future::Future;

use futures_intrusive::channel::shared::oneshot_channel;

use crate::device::check::check_not_lost;
use crate::error::{catch_gpu_errors, Error, Result};

/// Records a copy of `size` bytes of `buffer` at `offset`, submits it, and returns a future of
/// the bytes. The future completes once the device is polled (by the caller, another thread,
/// or a later submit) after the copy has run; nothing here blocks. A staging buffer the
/// device cannot allocate is an `Err`, not a panic; on a lost device, or one lost while the
/// read is pending, the future completes with [`Error::DeviceLost`]. `Send` except on
/// wasm32, where wgpu's WebGPU buffers are not.
pub(crate) fn read_buffer(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> Result<impl Future<Output = Result<Vec<u8>>> + wgpu::WasmNotSend + 'static> {
    Ok(read_ranges(
        device,
        queue,
        buffer,
        std::slice::from_ref(&(offset..offset + size)),
    )?
    .1)
}

/// [`read_buffer`] of several byte ranges of `buffer` (4-byte aligned), one after the other
/// in the bytes returned, in one copy submit whose index comes back with the future.
pub(crate) fn read_ranges(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    ranges: &[std::ops::Range<u64>],
) -> Result<(
    wgpu::SubmissionIndex,
    impl Future<Output = Result<Vec<u8>>> + wgpu::WasmNotSend + 'static,
)> {
    check_not_lost(device)?;
    let size: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    let staging = catch_gpu_errors(device, || {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgpu-alig readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    })?;
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("wgpu-alig readback"),
    });
    let mut at = 0;
    for range in ranges {
        let len = range.end - range.start;
        encoder.copy_buffer_to_buffer(buffer, range.start, &staging, at, len);
        at += len;
    }
    let submission = queue.submit([encoder.finish()]);

    Ok((submission, mapped_bytes(device, staging)))
}

/// Maps `staging` once the copies into it have run, and gives its bytes; a failure is
/// [`Error::DeviceLost`] when the device is lost, else [`Error::Readback`].
fn mapped_bytes(
    device: &wgpu::Device,
    staging: wgpu::Buffer,
) -> impl Future<Output = Result<Vec<u8>>> + wgpu::WasmNotSend + 'static {
    let (sender, receiver) = oneshot_channel();
    // A device lost since the check leaves the staging buffer invalid: mapping it is then a
    // validation error, caught here, and the callback reports the failure.
    let mapped = catch_gpu_errors(device, || {
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            // The receiver may be gone if the caller dropped the future; nothing to do then.
            let _ = sender.send(result);
        })
    });
    let device = device.clone();
    async move {
        let failure = match (mapped, receiver.receive().await) {
            (Ok(()), Some(Ok(()))) => None,
            (Err(e), _) => Some(e.to_string()),
            (_, Some(Err(e))) => Some(e.to_string()),
            (_, None) => Some("the map callback was dropped".into()),
        };
        if let Some(failure) = failure {
            check_not_lost(&device)?;
            return Err(Error::Readback(failure));
        }
        // A device lost after the map completed has destroyed the staging buffer.
        let bytes = match staging.get_mapped_range(..) {
            Ok(view) => view.to_vec(),
            Err(e) => {
                check_not_lost(&device)?;
                return Err(Error::Readback(e.to_string()));
            }
        };
        staging.unmap();
        Ok(bytes)
    }
}

/// [`read_buffer`], waiting for the device: for tests, tools and checkpoints, not the
/// per-step path.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn read_buffer_blocking(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> Result<Vec<u8>> {
    let bytes = read_buffer(device, queue, buffer, offset, size)?;
    wait_for_device(device)?;
    pollster::block_on(bytes)
}

/// On wasm32 a blocking read could never complete: the browser resolves the map only once
/// control returns to its event loop. So it is an `Err` there, not a hang; read with
/// [`read_buffer`] and await it.
#[cfg(target_arch = "wasm32")]
pub(crate) fn read_buffer_blocking(
    _device: &wgpu::Device,
    _queue: &wgpu::Queue,
    _buffer: &wgpu::Buffer,
    _offset: u64,
    _size: u64,
) -> Result<Vec<u8>> {
    Err(Error::Readback(
        "blocking reads cannot complete in a browser (wasm32): await an async read".into(),
    ))
}

/// [`read_buffer_blocking`] of `f32`s.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn read_f32s_blocking(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> Result<Vec<f32>> {
    let bytes = read_buffer_blocking(device, queue, buffer, offset, size)?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}

/// Blocks until the device has finished all submitted work.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn wait_for_device(device: &wgpu::Device) -> Result<()> {
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map(|_| ())
        .map_err(|e| Error::Gpu(e.to_string()))
}
