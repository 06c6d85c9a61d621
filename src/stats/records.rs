//! What the GPU records for every step: its flags and its record in the stats ring.

use bytemuck::{Pod, Zeroable};

/// Why a step took the step size it did (`FLAG_*` in `shaders/common.wgsl`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(transparent)]
pub struct StepFlags(pub u32);

impl StepFlags {
    /// `gamma_hat` exceeded the first group's `max_lr`, so its `gamma = max_lr`.
    pub const CLIPPED: Self = Self(1);
    /// The loss was at or below `f_star`, so `gamma = 0` (momentum still applies).
    pub const FLOOR_REACHED: Self = Self(2);
    /// Skipped: the loss was NaN or infinite.
    pub const SKIPPED_LOSS: Self = Self(4);
    /// Skipped: a gradient element of a trainable tensor was NaN or infinite.
    pub const SKIPPED_GRAD: Self = Self(8);
    /// Skipped: every gradient element was finite, but `||g||^2` overflowed f32.
    pub const SKIPPED_NORM_OVERFLOW: Self = Self(16);
    /// Skipped: `gamma_hat` overflowed f32 and some group has no `max_lr` to bound it.
    pub const SKIPPED_STEP_OVERFLOW: Self = Self(32);
    /// Skipped: a [`Loss::Host`](crate::Loss::Host) waited for its submit while later steps
    /// reused all [`HOST_LOSS_SLOTS`](crate::HOST_LOSS_SLOTS) slots, so its value was
    /// overwritten; the record's loss is NaN (so `SKIPPED_LOSS` is set too).
    pub const SKIPPED_LOSS_OVERWRITTEN: Self = Self(64);
    /// With a dynamic loss scale: the scale was lowered after this step (a non-finite
    /// gradient, or a scaled `||g||^2` beyond f32), for the next one.
    pub const LOSS_SCALE_LOWERED: Self = Self(128);
    /// With a dynamic loss scale: the scale was raised after this step (its growth interval
    /// of steps that ran without a non-finite gradient was complete).
    pub const LOSS_SCALE_RAISED: Self = Self(256);
    /// With projection: `||w||` could not be computed, so the parameters were not projected
    /// (the step's update itself ran). A parameter is NaN or infinite, or, in a sharded step,
    /// some shard holds parameters of `2^40` or more, whose scaled part of `||w||^2` the
    /// exchange's one sum cannot carry. The plain step projects any finite parameters.
    pub const PROJECTION_SKIPPED: Self = Self(512);
    /// Any of the reasons that skip a step, leaving parameters and momentum untouched.
    pub const SKIPPED: Self = Self(4 | 8 | 16 | 32 | 64);

    /// Whether any flag of `other` is set.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the step was skipped.
    pub fn skipped(self) -> bool {
        self.intersects(Self::SKIPPED)
    }

    /// Whether `gamma` was clipped to `max_lr`.
    pub fn clipped(self) -> bool {
        self.intersects(Self::CLIPPED)
    }
}

/// One step as the GPU saw it. Mirrors `StepRecord` in `shaders/common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct StepRecord {
    /// Index of the step, from 0 (wraps at 2^32).
    pub step: u32,
    /// Why the step took the size it did.
    pub flags: StepFlags,
    /// The loss the step was given.
    pub loss: f32,
    /// `||g||^2` over every trainable tensor.
    pub grad_sq_norm: f32,
    /// The unclipped step size `max(0, loss - f_star) / (c ||g||^2 + eps)`.
    pub gamma_hat: f32,
    /// The step size applied to the first parameter group (0 for a skipped step).
    pub gamma: f32,
    /// With projection on: `||w||^2` of the trainable parameters after the update, before
    /// the projection (which applies when it exceeds `max_norm^2`); `+inf` where it is beyond
    /// f32, though the projection still uses its exact value (summed in two ranges, see
    /// [`StepFlags::PROJECTION_SKIPPED`] for the cases it cannot). Otherwise 0.
    pub param_sq_norm: f32,
    /// Which setting of the groups' `max_lr` the step ran with: 0 at construction, one more at each
    /// change ([`Alig::set_max_lr`](crate::Alig::set_max_lr)). What
    /// [`StatsSnapshot::group_gammas`](crate::StatsSnapshot::group_gammas) looks the groups'
    /// `max_lr` up by.
    pub max_lr_version: u32,
    /// The loss scale the step's gradients were divided by
    /// ([`AligConfig::loss_scale`](crate::AligConfig::loss_scale); 1 without one).
    pub loss_scale: f32,
}
