//! Projecting the parameters onto the ball on the host, once before training, as the official
//! code does at construction (the steps project on the GPU after each update), with the f64
//! port of pass 3 that the reference uses too.

#[cfg(not(target_arch = "wasm32"))]
use super::alig::Alig;
#[cfg(not(target_arch = "wasm32"))]
use crate::arena::Arena;
#[cfg(not(target_arch = "wasm32"))]
use crate::error::{Error, Result};

#[cfg(not(target_arch = "wasm32"))]
impl Alig {
    /// Projects the trainable parameters of `arena` onto the ball of radius `max_norm` now, as
    /// the official code does once at construction (the steps project after each update).
    /// Does nothing without projection or when they are inside the ball already. It reads the
    /// parameters back, projects them in f64 and writes them, waiting for the device: a call
    /// before training, not for the training loop.
    pub fn project_params(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        arena: &Arena,
    ) -> Result<()> {
        self.check_device(device)?;
        if arena.layout() != &self.plan.layout {
            return Err(Error::ArenaMismatch);
        }
        let Some(max_norm) = self.plan.config.max_norm else {
            return Ok(());
        };
        // One read and one write of the whole arena, whatever the number of tensors.
        let all = arena.read_all_params(device, queue)?;
        let mut params: Vec<Vec<f64>> = Vec::new();
        let mut trained = Vec::new();
        let mut taken = 0;
        let plan = &self.plan;
        for (slot, group) in plan.layout.tensors().iter().zip(&plan.tensor_groups) {
            if group.is_some() {
                let values = &all[taken..taken + slot.len];
                params.push(values.iter().map(|&w| f64::from(w)).collect());
                trained.push(taken);
            }
            taken += slot.len;
        }
        let mut views: Vec<&mut Vec<f64>> = params.iter_mut().collect();
        let sq_norm = project_params(&mut views, f64::from(max_norm));
        if sq_norm.is_finite() && sq_norm > f64::from(max_norm).powi(2) {
            let mut all = all;
            for (start, values) in trained.iter().zip(&params) {
                for (w, &projected) in all[*start..].iter_mut().zip(values) {
                    *w = projected as f32;
                }
            }
            arena.write_all_params(queue, &all)?;
        }
        Ok(())
    }
}

/// Pass 3: if the global norm of `params` exceeds `max_norm`, scales them all onto the ball
/// of that radius. Returns `||w||^2` before the projection.
pub fn project_params(params: &mut [&mut Vec<f64>], max_norm: f64) -> f64 {
    let sq_norm: f64 = params.iter().flat_map(|p| p.iter()).map(|w| w * w).sum();
    if sq_norm.is_finite() && sq_norm > max_norm * max_norm {
        let scale = max_norm / sq_norm.sqrt();
        for w in params.iter_mut().flat_map(|p| p.iter_mut()) {
            *w *= scale;
        }
    }
    sq_norm
}
