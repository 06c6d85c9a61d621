//! A sharded step across ranks: each rank's optimizer steps its own shard of the model, and
//! the ranks exchange the step's one global scalar (8 bytes, and with projection 8 more).

use wgpu_alig::{Alig, Loss, NormSlot, ShardNorm};

use crate::error::{Error, Result};
use crate::ranks::Ranks;

/// The two 8-byte slots of one rank's device through which the shard's norm goes out to the
/// ranks and the combined norm comes back, and the step's sequence around the exchange.
pub struct ShardedStep {
    /// The crate's local norm lands here and is read by the host.
    local: wgpu::Buffer,
    /// The host writes the combined norm here for the optimizer to copy in.
    global: wgpu::Buffer,
}

impl ShardedStep {
    /// The slots, on `device` (the device of the optimizer it will step).
    pub fn new(device: &wgpu::Device) -> Self {
        let slot = |label, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: ShardNorm::SIZE,
                usage: usage | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        Self {
            local: slot("wgpu-alig-mpi local norm", wgpu::BufferUsages::MAP_READ),
            global: slot("wgpu-alig-mpi global norm", wgpu::BufferUsages::COPY_SRC),
        }
    }

    /// One step of this rank's shard, every rank calling it together with the same `loss`
    /// (the global one): this shard's `||g||^2` out, the ranks' sum in, the update; with
    /// projection the same for `||w||^2`. Returns the combined gradient norm, the same bits on
    /// every rank, so that every rank computes the same step size (a non-finite gradient on
    /// any rank makes it non-finite and every rank skips the step).
    ///
    /// An error on one rank leaves the others waiting at the next collective: end the job on
    /// any error ([`Ranks::abort`]).
    pub fn step(
        &self,
        ranks: &Ranks,
        gpu: (&wgpu::Device, &wgpu::Queue),
        alig: &mut Alig,
        loss: Loss<'_>,
    ) -> Result<ShardNorm> {
        let queue = gpu.1;
        let local = NormSlot {
            buffer: &self.local,
            offset: 0,
        };
        let global = NormSlot {
            buffer: &self.global,
            offset: 0,
        };
        submit(gpu, |encoder| alig.record_local_grad_norm(encoder, local))?;
        let grad_norm = self.exchange(ranks, gpu, "the exchange of ||g||^2")?;
        let projection = alig.config().max_norm.is_some();
        submit(gpu, |encoder| {
            alig.record_global_update(encoder, queue, loss, global)?;
            if projection {
                alig.record_local_param_norm(encoder, local)?;
            }
            Ok(())
        })?;
        if projection {
            self.exchange(ranks, gpu, "the exchange of ||w||^2")?;
            submit(gpu, |encoder| {
                alig.record_global_projection(encoder, global)
            })?;
        }
        Ok(grad_norm)
    }

    /// Reads this shard's norm, combines every rank's in rank order, and writes the result to
    /// the global slot (the write lands before the next submit).
    fn exchange(
        &self,
        ranks: &Ranks,
        gpu: (&wgpu::Device, &wgpu::Queue),
        what: &str,
    ) -> Result<ShardNorm> {
        let local = read_norm(gpu.0, &self.local)?;
        let all = ranks.all_gather(&[local.sq_sum.to_bits(), local.max_abs_bits], what);
        let combined = ShardNorm::combine(all.chunks_exact(2).map(|pair| ShardNorm {
            sq_sum: f32::from_bits(pair[0]),
            max_abs_bits: pair[1],
        }));
        gpu.1
            .write_buffer(&self.global, 0, bytemuck::bytes_of(&combined));
        Ok(combined)
    }
}

/// Records into a new encoder and submits it.
fn submit(
    (device, queue): (&wgpu::Device, &wgpu::Queue),
    record: impl FnOnce(&mut wgpu::CommandEncoder) -> wgpu_alig::Result<()>,
) -> Result<()> {
    let mut encoder = device.create_command_encoder(&Default::default());
    record(&mut encoder)?;
    queue.submit([encoder.finish()]);
    Ok(())
}

/// The norm in `buffer`, waiting for the device.
fn read_norm(device: &wgpu::Device, buffer: &wgpu::Buffer) -> Result<ShardNorm> {
    let slice = buffer.slice(..);
    let (sender, receiver) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |mapped| {
        let _ = sender.send(mapped);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Readback(e.to_string()))?;
    receiver
        .recv()
        .map_err(|e| Error::Readback(e.to_string()))?
        .map_err(|e| Error::Readback(e.to_string()))?;
    let norm = {
        let mapped = slice
            .get_mapped_range()
            .map_err(|e| Error::Readback(e.to_string()))?;
        bytemuck::pod_read_unaligned(&mapped)
    };
    buffer.unmap();
    Ok(norm)
}
