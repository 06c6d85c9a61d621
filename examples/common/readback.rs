//! Reading raw buffers back to the host: the one copy of it that the examples (the end of a
//! run: the final evaluation, the per-step loss log; never the per-step path), the tests and
//! the step benchmark use. The crate's own reads (`Arena::read_params`,
//! `Alig::read_stats_blocking`, ...) cover its buffers; these are for the others.
#![allow(dead_code)]

use std::ops::RangeBounds;

use futures_intrusive::channel::shared::oneshot_channel;

/// Anything, with a message that says what went wrong (the examples' `Result`).
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// `len` f32s of `buffer` at byte `offset`: [`copy_to_staging`] then [`map_read`].
pub fn read_f32s(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    offset: u64,
    len: usize,
) -> Result<Vec<f32>> {
    let staging = copy_to_staging(device, queue, buffer, offset, (len * 4) as u64);
    map_read(device, &staging, .., bytemuck::pod_collect_to_vec)
}

/// A new `MAP_READ` buffer of `size` bytes, with a copy of `buffer`'s bytes at `offset`
/// recorded and submitted.
pub fn copy_to_staging(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> wgpu::Buffer {
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback staging"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
    queue.submit([encoder.finish()]);
    staging
}

/// Maps `bounds` of `buffer` (a `MAP_READ` buffer, its writes submitted), waits for the
/// device, hands the mapped bytes to `read` and unmaps. Blocks: native only.
pub fn map_read<B, R>(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bounds: B,
    read: impl FnOnce(&[u8]) -> R,
) -> Result<R>
where
    B: RangeBounds<wgpu::BufferAddress> + Clone,
{
    let (sender, receiver) = std::sync::mpsc::channel();
    buffer.map_async(wgpu::MapMode::Read, bounds.clone(), move |result| {
        // The receiver lives until the poll below returns.
        let _ = sender.send(result);
    });
    device.poll(wgpu::PollType::wait_indefinitely())?;
    receiver.recv()??;
    let value = read(&buffer.get_mapped_range(bounds)?);
    buffer.unmap();
    Ok(value)
}

/// [`map_read`] that awaits the map instead of polling the device: in a browser (wasm32),
/// which completes the map once control returns to its event loop, where nothing can block.
pub async fn map_read_async<B, R>(
    buffer: &wgpu::Buffer,
    bounds: B,
    read: impl FnOnce(&[u8]) -> R,
) -> Result<R>
where
    B: RangeBounds<wgpu::BufferAddress> + Clone,
{
    let (sender, receiver) = oneshot_channel();
    buffer.map_async(wgpu::MapMode::Read, bounds.clone(), move |result| {
        let _ = sender.send(result);
    });
    receiver
        .receive()
        .await
        .ok_or("the map callback was dropped")??;
    let value = read(&buffer.get_mapped_range(bounds)?);
    buffer.unmap();
    Ok(value)
}
