//! A data-parallel step's exchange: every rank holds the whole model, and before the step the
//! gradients and the loss become their mean over the ranks, staged through the host (wgpu has
//! no device-to-device path).

use wgpu_alig::Arena;

use crate::error::Result;
use crate::ranks::Ranks;

/// Replaces the gradients in `arena` with their mean over the ranks and returns the mean of
/// the ranks' `loss`: the gradients read back in one copy, the loss appended, one
/// [`Ranks::mean_in_rank_order`], the means written back. Every rank gets the same bits, so
/// replicas that then take the same step stay identical. Every rank calls it together with
/// an arena of the same layout (else
/// [`Error::LengthsDiffer`](crate::Error::LengthsDiffer) on every rank).
pub fn average_gradients(
    ranks: &Ranks,
    (device, queue): (&wgpu::Device, &wgpu::Queue),
    arena: &Arena,
    loss: f32,
) -> Result<f32> {
    let mut staged = arena.read_all_grads(device, queue)?;
    let grads = staged.len();
    staged.push(loss);
    ranks.mean_in_rank_order(&mut staged)?;
    arena.write_all_grads(queue, &staged[..grads])?;
    Ok(staged[grads])
}
