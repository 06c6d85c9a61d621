//! The loss scale of mixed-precision training: the engine multiplies its loss gradient by a
//! scale S before its backward pass so that small gradients survive f16, and the step divides
//! `||g||^2` by S^2 and each gradient by S. A dynamic scale follows PyTorch's `GradScaler`,
//! on the GPU: the host never reads it.

use crate::error::{Error, Result};

/// How the gradients are scaled ([`AligConfig::loss_scale`](crate::AligConfig::loss_scale)).
/// The engine reads S where [`Alig::loss_scale_binding`](crate::Alig::loss_scale_binding)
/// says, multiplies its loss gradient by it, and gives the step the unscaled loss.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum LossScale {
    /// No scaling: S = 1.
    #[default]
    None,
    /// A constant S. A step whose gradients overflowed is skipped (flagged
    /// [`StepFlags::SKIPPED_GRAD`](crate::StepFlags::SKIPPED_GRAD)); S stays.
    Fixed(f32),
    /// S starts at `initial`; after a step whose gradients overflowed (a non-finite element,
    /// or a scaled `||g||^2` beyond f32), which is skipped, S is multiplied by
    /// `backoff_factor`; after `growth_interval` steps in a row that ran, by `growth_factor`.
    /// Steps skipped for other reasons (a non-finite loss, say) change neither. S never
    /// becomes 0 or infinite: such a change is not made.
    Dynamic {
        /// S at the first step.
        initial: f32,
        /// Factor after `growth_interval` good steps, `>= 1`.
        growth_factor: f32,
        /// Factor after an overflow, in `(0, 1]`.
        backoff_factor: f32,
        /// Steps that ran in a row before S grows, `>= 1`.
        growth_interval: u32,
    },
}

impl LossScale {
    /// PyTorch's `GradScaler` defaults: S = 2^16, doubled after 2000 good steps, halved
    /// after an overflow.
    pub fn dynamic() -> Self {
        Self::Dynamic {
            initial: 65536.0,
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 2000,
        }
    }

    /// Whether the gradients are scaled at all.
    pub fn is_scaled(&self) -> bool {
        !matches!(self, Self::None)
    }

    /// S at the first step.
    pub fn initial(&self) -> f32 {
        match *self {
            Self::None => 1.0,
            Self::Fixed(scale) => scale,
            Self::Dynamic { initial, .. } => initial,
        }
    }

    /// (backoff factor, growth factor, growth interval); a fixed scale never changes.
    pub(crate) fn factors(&self) -> (f32, f32, u32) {
        match *self {
            Self::None | Self::Fixed(_) => (1.0, 1.0, u32::MAX),
            Self::Dynamic {
                growth_factor,
                backoff_factor,
                growth_interval,
                ..
            } => (backoff_factor, growth_factor, growth_interval),
        }
    }

    /// Checks the scale and its factors.
    pub fn validate(&self) -> Result<()> {
        let initial = self.initial();
        if !(initial.is_finite() && initial > 0.0) {
            return Err(Error::InvalidLossScale(format!(
                "the scale must be finite and > 0, got {initial}"
            )));
        }
        let (backoff, growth, interval) = self.factors();
        if !(growth.is_finite() && growth >= 1.0) {
            return Err(Error::InvalidLossScale(format!(
                "growth_factor must be finite and >= 1, got {growth}"
            )));
        }
        if !(backoff > 0.0 && backoff <= 1.0) {
            return Err(Error::InvalidLossScale(format!(
                "backoff_factor must be in (0, 1], got {backoff}"
            )));
        }
        if interval == 0 {
            return Err(Error::InvalidLossScale(
                "growth_interval must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_and_factors_are_checked() {
        assert!(LossScale::None.validate().is_ok());
        assert!(LossScale::dynamic().validate().is_ok());
        assert!(LossScale::Fixed(1024.0).validate().is_ok());
        for bad in [
            LossScale::Fixed(0.0),
            LossScale::Fixed(f32::NAN),
            LossScale::Fixed(f32::INFINITY),
            LossScale::Dynamic {
                initial: 1.0,
                growth_factor: 0.5,
                backoff_factor: 0.5,
                growth_interval: 10,
            },
            LossScale::Dynamic {
                initial: 1.0,
                growth_factor: 2.0,
                backoff_factor: 0.0,
                growth_interval: 10,
            },
            LossScale::Dynamic {
                initial: 1.0,
                growth_factor: 2.0,
                backoff_factor: 0.5,
                growth_interval: 0,
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::InvalidLossScale(_))),
                "{bad:?}"
            );
        }
    }
}
