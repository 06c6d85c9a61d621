//! The scenarios' model: tensors of awkward sizes, their initial values and every rank's
//! gradients at every step, drawn from seeds, so that any rank can regenerate any other's.

use wgpu_alig::Arena;

use crate::split_mix::SplitMix64;
use crate::Fault;

/// The tensors' sizes: one element, sizes around the workgroup's, one past a power of two.
pub const SIZES: [usize; 6] = [1, 63, 1000, 4097, 33, 300];

/// The name of tensor `k`.
pub fn name(k: usize) -> String {
    format!("t{k}")
}

/// The initial parameters of tensor `k`, the same on every rank.
pub fn init(k: usize) -> Vec<f32> {
    SplitMix64::new(0x1417 + k as u64).vec_f32(SIZES[k], -1.0, 1.0)
}

/// Rank `rank`'s gradients of every tensor at `step`, and its loss (putting ALI-G's step
/// size `loss / ||g||^2` between 0.01 and 0.1).
pub fn grads(step: usize, rank: usize) -> (Vec<Vec<f32>>, f32) {
    let mut rng = SplitMix64::new(((step as u64) << 16) ^ (rank as u64) ^ 0x6772_6164);
    let grads: Vec<Vec<f32>> = SIZES.iter().map(|&n| rng.vec_f32(n, -1.0, 1.0)).collect();
    let sq_norm: f64 = grads.iter().flatten().map(|&g| f64::from(g).powi(2)).sum();
    (grads, (rng.uniform(0.01, 0.1) * sq_norm) as f32)
}

/// An arena of `tensors` on `device`, with their initial parameters.
pub fn arena(gpu: &wgpu_alig::Gpu, tensors: &[usize]) -> Result<Arena, Fault> {
    let names: Vec<String> = tensors.iter().map(|&k| name(k)).collect();
    let specs: Vec<(&str, usize)> = tensors
        .iter()
        .zip(&names)
        .map(|(&k, n)| (n.as_str(), SIZES[k]))
        .collect();
    let arena = Arena::new(&gpu.device, &specs)?;
    for (&k, n) in tensors.iter().zip(&names) {
        arena.write_params(&gpu.queue, n, &init(k))?;
    }
    Ok(arena)
}

/// The gradients of `tensors` out of every tensor's, one after the other (the layout of
/// `Arena::write_all_grads`).
pub fn concat(grads: &[Vec<f32>], tensors: &[usize]) -> Vec<f32> {
    tensors
        .iter()
        .flat_map(|&k| grads[k].iter().copied())
        .collect()
}

/// The bit patterns of `values`.
pub fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}
