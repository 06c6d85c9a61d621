//! Saving and restoring the optimizer: config, parameter groups, the arena layout it was
//! built for, the step counters, the stats ring and the momentum, to bytes and back. The
//! parameters themselves live in the arena and are saved with the model.
//!
//! The format is little-endian binary: a magic and a version, then each field in order, then
//! the CRC-32 of everything before it.

mod checksum;
mod format;
mod restore;

use std::path::Path;

use crate::error::Result;
use crate::kernels::shader_types::StepStateHeader;
use crate::optimizer::config::AligConfig;
use crate::optimizer::ParamGroup;
use crate::stats::MaxLrSetting;
use checksum::crc32;
use format::{invalid, Reader, Writer};

const MAGIC: &[u8; 8] = b"ALIGSTAT";
// 2: the step state's header grew the host-loss tags.
// 3: the groups' max_lr at every setting, which the records name.
// 4: a CRC-32 at the end.
// 5: the loss scale (config, and the scale and its count first in the step state's header);
//    records name the scale their step ran with.
// 6: only the max_lr settings the records can name (or later ones), each with its version.
//    Version 5 states still load.
const VERSION: u32 = 6;
const OLDEST_VERSION: u32 = 5;

/// A snapshot of an optimizer, from [`Alig::save_state`](crate::Alig::save_state); an
/// optimizer built from it with [`Alig::from_state`](crate::Alig::from_state) continues the
/// run bit for bit.
#[derive(Clone, Debug, PartialEq)]
pub struct AligState {
    /// The configuration. Its `max_lr` and `momentum` are the first group's: edit the groups
    /// to change them ([`Alig::from_state`](crate::Alig::from_state) refuses a state where
    /// the two differ), or restore and call [`Alig::set_max_lr`](crate::Alig::set_max_lr).
    pub config: AligConfig,
    /// The parameter groups, with the `max_lr` and momentum they run with.
    pub groups: Vec<ParamGroup>,
    /// The arena's tensors (name, number of elements) the state belongs to.
    pub tensors: Vec<(String, usize)>,
    /// The GPU step state: counters and stats ring, as the kernels lay them out.
    pub(crate) step_state: Vec<u8>,
    /// The momentum buffer in the arena's layout (empty when no group uses momentum).
    pub(crate) momentum: Vec<f32>,
    /// The groups' max_lr at the settings its records can name, oldest first; the last is
    /// the groups'.
    pub(crate) max_lr_history: Vec<MaxLrSetting>,
}

impl AligState {
    /// Steps recorded before the snapshot.
    pub fn steps(&self) -> u32 {
        Self::steps_of(&self.step_state)
    }

    fn steps_of(step_state: &[u8]) -> u32 {
        step_state
            .get(..std::mem::size_of::<StepStateHeader>())
            .map_or(0, |header| {
                bytemuck::pod_read_unaligned::<StepStateHeader>(header).steps
            })
    }

    /// Encodes the state.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Writer(Vec::with_capacity(
            64 + self.step_state.len() + 4 * self.momentum.len(),
        ));
        out.0.extend_from_slice(MAGIC);
        out.u32(VERSION);
        out.config(&self.config);
        out.groups(&self.groups);
        out.tensors(&self.tensors);
        out.bytes(&self.step_state);
        out.len(self.momentum.len());
        out.0
            .extend_from_slice(bytemuck::cast_slice(&self.momentum));
        out.history(&self.max_lr_history);
        let checksum = crc32(&out.0);
        out.u32(checksum);
        out.0
    }

    /// Decodes a state written by [`AligState::to_bytes`]; anything else (a corrupted byte
    /// included, by its checksum) is [`Error::InvalidState`](crate::Error::InvalidState).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (mut input, version) = Reader::checked(bytes, MAGIC, OLDEST_VERSION..=VERSION)?;
        let config = input.config()?;
        let groups = input.groups()?;
        let tensors = input.tensors()?;
        let step_state = input.bytes()?.to_vec();
        let momentum_len = input.len()?;
        let momentum = bytemuck::pod_collect_to_vec(input.take(momentum_len.saturating_mul(4))?);
        let max_lr_history = if version == OLDEST_VERSION {
            input.history_v5()?
        } else {
            input.history()?
        };
        if !input.0.is_empty() {
            return Err(invalid("trailing bytes"));
        }
        config.validate()?;
        Ok(Self {
            config,
            groups,
            tensors,
            step_state,
            momentum,
            max_lr_history,
        })
    }

    /// Writes the state to a file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(std::fs::write(path, self.to_bytes())?)
    }

    /// Reads a state from a file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_bytes(&std::fs::read(path)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::optimizer::config::MomentumKind;
    use crate::optimizer::loss_scale::LossScale;

    fn sample() -> AligState {
        let config = AligConfig {
            max_norm: Some(50.0),
            momentum_kind: MomentumKind::Adjusted,
            loss_scale: LossScale::dynamic(),
            ..AligConfig::paper(0.1)
        };
        AligState {
            config,
            groups: vec![ParamGroup::new(&["w"], None, config.momentum)],
            tensors: vec![("w".into(), 3), ("frozen".into(), 1)],
            // A header (loss scale and its count, loss, host-loss tags, steps, skipped) and
            // no records.
            step_state: (1..=32).collect(),
            momentum: vec![0.5, -1.0, 2.0],
            max_lr_history: vec![
                MaxLrSetting {
                    version: 7,
                    max_lrs: vec![Some(0.1)].into(),
                },
                MaxLrSetting {
                    version: 8,
                    max_lrs: vec![None].into(),
                },
            ],
        }
    }

    #[test]
    fn bytes_round_trip() {
        let state = sample();
        assert_eq!(AligState::from_bytes(&state.to_bytes()).unwrap(), state);
        assert_eq!(state.steps(), u32::from_le_bytes([25, 26, 27, 28]));
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error() {
        let bytes = sample().to_bytes();
        for n in 0..bytes.len() {
            assert!(
                AligState::from_bytes(&bytes[..n]).is_err(),
                "truncated at {n}"
            );
        }
        let mut bad_magic = bytes.clone();
        bad_magic[0] = b'X';
        assert!(matches!(
            AligState::from_bytes(&bad_magic),
            Err(Error::InvalidState(_))
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            AligState::from_bytes(&trailing),
            Err(Error::InvalidState(_))
        ));
        // Every single corrupted byte, whatever the corruption.
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut corrupted = bytes.clone();
                corrupted[at] ^= flip;
                assert!(
                    matches!(
                        AligState::from_bytes(&corrupted),
                        Err(Error::InvalidState(_))
                    ),
                    "byte {at} ^ {flip:#x} loaded"
                );
            }
        }
    }
}
