//! Reading an optimizer's state back: the stats ring (asynchronously, or waiting for the
//! device) and the momentum of a tensor.

use std::future::Future;

use super::alig::Alig;
use crate::device::readback::{read_buffer, read_ranges};
#[cfg(not(target_arch = "wasm32"))]
use crate::device::readback::{read_buffer_blocking, read_f32s_blocking};
use crate::error::Result;
use crate::kernels::shader_types::StepStateHeader;
use crate::stats::{StatsSnapshot, StepRecord};

impl Alig {
    /// Starts reading the stats ring back and returns a future of it. The read is queued
    /// after the steps already submitted and does not hold up later ones.
    ///
    /// The future completes only once the device is polled after the read has run: on a
    /// native backend, **awaiting it while nothing polls the device hangs forever**. Poll
    /// before awaiting (below), from the engine's loop (`wgpu::PollType::Poll`) or from
    /// another thread, or call [`Alig::read_stats_blocking`] (not on wasm32), which waits
    /// for the device itself. In a browser the device is polled for you and awaiting is
    /// enough. The future is `Send` except on wasm32.
    ///
    /// ```no_run
    /// # use wgpu_alig::{Alig, AligConfig, Arena, Error, Gpu};
    /// # fn main() -> wgpu_alig::Result<()> {
    /// # let gpu = Gpu::new()?;
    /// # let arena = Arena::new(&gpu.device, &[("w", 10)])?;
    /// # let alig = Alig::new(&gpu.device, &arena, AligConfig::default())?;
    /// let stats = alig.read_stats(&gpu.device, &gpu.queue);
    /// // Runs the read (and every step before it) and calls its map callback.
    /// gpu.device
    ///     .poll(wgpu::PollType::wait_indefinitely())
    ///     .map_err(|e| Error::Gpu(e.to_string()))?;
    /// let stats = pollster::block_on(stats)?; // ready now: this cannot hang
    /// println!("{} steps, last gamma {:?}", stats.steps, stats.last().map(|r| r.gamma));
    /// # Ok(()) }
    /// ```
    pub fn read_stats(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> impl Future<Output = Result<StatsSnapshot>> + wgpu::WasmNotSend + 'static {
        let state = &self.buffers.state;
        let bytes = self
            .check_device(device)
            .and_then(|()| read_buffer(&self.device, queue, state, 0, state.size()));
        let history = self.max_lr_history.clone();
        async move { Ok(StatsSnapshot::from_state_bytes(&bytes?.await?, &history)) }
    }

    /// Starts reading the records of the steps from `since` on (the `steps` of an earlier
    /// snapshot, say) and the counters: a copy of those records only, not of the whole ring.
    /// Returns the index of the copy's submit (for `wgpu::PollType::WaitForSubmissionIndex`)
    /// and a future of the snapshot, which completes as [`Alig::read_stats`]'s does. The
    /// snapshot holds the records of the steps from `since` on that the ring still keeps and
    /// that had run when the copy ran; [`StatsSnapshot::dropped_since`]`(since)` counts those
    /// it no longer keeps. Which slots to copy comes from the steps recorded so far; steps
    /// recorded and not yet submitted are not in it, nor are they counted.
    #[allow(clippy::type_complexity)]
    pub fn read_stats_since(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        since: u32,
    ) -> Result<(
        wgpu::SubmissionIndex,
        impl Future<Output = Result<StatsSnapshot>> + wgpu::WasmNotSend + 'static,
    )> {
        self.check_device(device)?;
        let capacity = self.plan.config.stats_capacity;
        // Steps from `since` to the last recorded one, at most a ring's worth (wrapping).
        let wanted = self.recorded_steps.wrapping_sub(since);
        let wanted = if wanted > u32::MAX / 2 { 0 } else { wanted };
        let count = wanted.min(capacity);
        let first = self.recorded_steps.wrapping_sub(count);
        let header = std::mem::size_of::<StepStateHeader>() as u64;
        let record = std::mem::size_of::<StepRecord>() as u64;
        let slot = |s: u32| header + u64::from(s) * record;
        let start = first % capacity;
        let head = count.min(capacity - start);
        let mut ranges = Vec::with_capacity(3);
        ranges.push(0..header);
        if head > 0 {
            ranges.push(slot(start)..slot(start + head));
        }
        if count > head {
            ranges.push(slot(0)..slot(count - head));
        }
        let (submission, bytes) = read_ranges(&self.device, queue, &self.buffers.state, &ranges)?;
        let history = self.max_lr_history.clone();
        Ok((submission, async move {
            Ok(StatsSnapshot::from_records_since(
                &bytes.await?,
                first,
                &history,
            ))
        }))
    }

    /// [`Alig::read_stats`], waiting for the device.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_stats_blocking(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<StatsSnapshot> {
        self.check_device(device)?;
        let state = &self.buffers.state;
        let bytes = read_buffer_blocking(&self.device, queue, state, 0, state.size())?;
        Ok(StatsSnapshot::from_state_bytes(
            &bytes,
            &self.max_lr_history,
        ))
    }

    /// Reads the momentum of tensor `key` (a name or a [`TensorId`](crate::TensorId)) back,
    /// waiting for the device (zeros when no group uses momentum).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_momentum(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        key: impl crate::TensorKey,
    ) -> Result<Vec<f32>> {
        let slot = self.plan.layout.tensor(key)?;
        self.check_device(device)?;
        let Some(momentum) = &self.buffers.momentum else {
            return Ok(vec![0.0; slot.len]);
        };
        read_f32s_blocking(
            &self.device,
            queue,
            momentum,
            slot.byte_offset(),
            slot.byte_size(),
        )
    }
}
