//! How an arena stores its tensors: f32, or f16 where the engine reads and writes them, for
//! engines that keep their gradients (and the weights their forward pass reads) in half
//! precision. The update always runs in f32.

/// The element types of an arena's buffers, chosen when it is built
/// ([`Arena::with_precision`](crate::Arena::with_precision)). The f16 kinds need
/// `Features::SHADER_F16`; a device without it is [`Error::MissingFeature`](crate::Error),
/// never a silent f32 fallback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// f32 parameters and gradients.
    #[default]
    F32,
    /// f32 parameters, f16 gradients (the engine's backward writes f16).
    F16Grads,
    /// f16 parameters and gradients for the engine, and f32 master parameters beside them:
    /// the step updates the master in f32 and writes its f16 copy, which the engine binds.
    /// The copy is the master converted by the driver: WGSL lets it round either way to a
    /// neighbouring f16, and gives a value beyond f16's range (|w| > 65504) no defined copy
    /// at all; the master keeps every parameter in f32 whatever the copy holds.
    F16,
}

impl Precision {
    /// Every precision.
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::F16Grads, Precision::F16];

    /// Bytes of one parameter in the buffer the engine binds.
    pub fn param_bytes(self) -> u64 {
        match self {
            Self::F16 => 2,
            Self::F32 | Self::F16Grads => 4,
        }
    }

    /// Bytes of one gradient.
    pub fn grad_bytes(self) -> u64 {
        match self {
            Self::F32 => 4,
            Self::F16Grads | Self::F16 => 2,
        }
    }

    /// Whether an f32 master copy of the parameters is kept beside the buffer the engine
    /// binds.
    pub fn has_master(self) -> bool {
        self == Self::F16
    }

    /// Whether the kernels need `Features::SHADER_F16`.
    pub fn needs_f16(self) -> bool {
        self != Self::F32
    }

    /// Bytes the step reads and writes per parameter: gradients, parameters (the master and
    /// its copy), and `momentum` f32 momentum buffers (0 or 1) read and written.
    pub fn step_bytes_per_param(self, momentum: bool) -> u64 {
        let params = match self {
            Self::F32 | Self::F16Grads => 2 * 4,
            Self::F16 => 2 * 4 + 2,
        };
        // Pass 1 and pass 2 each read the gradients.
        2 * self.grad_bytes() + params + if momentum { 2 * 4 } else { 0 }
    }
}

/// `values` as the bytes of elements of `element_bytes` (4: f32; 2: f16, rounded to nearest).
pub(crate) fn encode(values: &[f32], element_bytes: u64) -> Vec<u8> {
    if element_bytes == 2 {
        let halves: Vec<half::f16> = values.iter().map(|&v| half::f16::from_f32(v)).collect();
        bytemuck::cast_slice(&halves).to_vec()
    } else {
        bytemuck::cast_slice(values).to_vec()
    }
}

/// The inverse of [`encode`]: f32s from elements of `element_bytes`. For the blocking reads,
/// which wasm32 lacks.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) fn decode(bytes: &[u8], element_bytes: u64) -> Vec<f32> {
    if element_bytes == 2 {
        let halves: Vec<half::f16> = bytemuck::pod_collect_to_vec(bytes);
        halves.iter().map(|h| h.to_f32()).collect()
    } else {
        bytemuck::pod_collect_to_vec(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_each_element_type() {
        let values = [0.0f32, 1.0, -2.5, 65504.0, 1e-3];
        assert_eq!(decode(&encode(&values, 4), 4), values);
        let halves = decode(&encode(&values, 2), 2);
        for (h, v) in halves.iter().zip(&values) {
            assert!((h - v).abs() <= v.abs() * 2f32.powi(-11), "{h} vs {v}");
        }
        assert_eq!(halves[3], 65504.0);
    }

    #[test]
    fn byte_counts_follow_the_precision() {
        assert_eq!(Precision::F32.step_bytes_per_param(true), 24);
        assert_eq!(Precision::F16Grads.step_bytes_per_param(true), 20);
        assert_eq!(Precision::F16.step_bytes_per_param(true), 22);
        assert_eq!(Precision::F16.step_bytes_per_param(false), 14);
    }
}
