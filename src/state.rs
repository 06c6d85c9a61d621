//! Saving and restoring the optimizer: config, parameter groups, the arena layout it was
//! built for, the step counters, the stats ring and the momentum, to bytes and back. The
//! parameters themselves live in the arena and are saved with the model.
//!
//! The format is little-endian binary: a magic and a version, then each field in order, then
//! the CRC-32 of everything before it.

use std::path::Path;

use crate::checksum::crc32;
use crate::config::{AligConfig, MomentumKind};
use crate::error::{Error, Result};
use crate::groups::ParamGroup;
use crate::loss_scale::LossScale;
use crate::shader_types::StepStateHeader;

const MAGIC: &[u8; 8] = b"ALIGSTAT";
// 2: the step state's header grew the host-loss tags.
// 3: the groups' max_lr at every setting, which the records name.
// 4: a CRC-32 at the end.
// 5: the loss scale (config, and the scale and its count first in the step state's header);
//    records name the scale their step ran with.
const VERSION: u32 = 5;
const CHECKSUM_BYTES: usize = 4;

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
    /// The groups' max_lr at every setting so far, oldest first; the last is the groups'.
    pub(crate) max_lr_history: Vec<Vec<Option<f32>>>,
}

impl AligState {
    /// Steps recorded before the snapshot.
    pub fn steps(&self) -> u32 {
        self.step_state
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
        let c = &self.config;
        out.opt_f32(c.max_lr);
        out.f32(c.momentum);
        out.u32(match c.momentum_kind {
            MomentumKind::Nesterov => 0,
            MomentumKind::Adjusted => 1,
        });
        out.f32(c.eps);
        out.f32(c.f_star);
        out.f32(c.c);
        out.opt_f32(c.max_norm);
        out.u32(c.stats_capacity);
        let (kind, initial) = match c.loss_scale {
            LossScale::None => (0, 1.0),
            LossScale::Fixed(scale) => (1, scale),
            LossScale::Dynamic { initial, .. } => (2, initial),
        };
        let (backoff, growth, interval) = c.loss_scale.factors();
        out.u32(kind);
        out.f32(initial);
        out.f32(growth);
        out.f32(backoff);
        out.u32(interval);
        out.len(self.groups.len());
        for group in &self.groups {
            out.len(group.tensors.len());
            for name in &group.tensors {
                out.str(name);
            }
            out.opt_f32(group.max_lr);
            out.f32(group.momentum);
        }
        out.len(self.tensors.len());
        for (name, len) in &self.tensors {
            out.str(name);
            out.len(*len);
        }
        out.len(self.step_state.len());
        out.0.extend_from_slice(&self.step_state);
        out.len(self.momentum.len());
        out.0
            .extend_from_slice(bytemuck::cast_slice(&self.momentum));
        out.len(self.max_lr_history.len());
        for version in &self.max_lr_history {
            out.len(version.len());
            for &max_lr in version {
                out.opt_f32(max_lr);
            }
        }
        let checksum = crc32(&out.0);
        out.u32(checksum);
        out.0
    }

    /// Decodes a state written by [`AligState::to_bytes`]; anything else (a corrupted byte
    /// included, by its checksum) is [`Error::InvalidState`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut input = Reader(bytes);
        if input.take(8)? != MAGIC {
            return Err(invalid("not an ALI-G state (bad magic)"));
        }
        let version = input.u32()?;
        if version != VERSION {
            return Err(invalid(&format!("unsupported version {version}")));
        }
        let body = bytes
            .len()
            .checked_sub(CHECKSUM_BYTES)
            .ok_or_else(|| invalid("truncated"))?;
        let (body, checksum) = bytes.split_at(body);
        if crc32(body).to_le_bytes() != checksum {
            return Err(invalid("checksum mismatch: the state is corrupted"));
        }
        input.0 = &input.0[..input.0.len() - CHECKSUM_BYTES];
        let config = AligConfig {
            max_lr: input.opt_f32()?,
            momentum: input.f32()?,
            momentum_kind: match input.u32()? {
                0 => MomentumKind::Nesterov,
                1 => MomentumKind::Adjusted,
                other => return Err(invalid(&format!("unknown momentum kind {other}"))),
            },
            eps: input.f32()?,
            f_star: input.f32()?,
            c: input.f32()?,
            max_norm: input.opt_f32()?,
            stats_capacity: input.u32()?,
            loss_scale: {
                let (kind, initial) = (input.u32()?, input.f32()?);
                let (growth_factor, backoff_factor) = (input.f32()?, input.f32()?);
                let growth_interval = input.u32()?;
                match kind {
                    0 => LossScale::None,
                    1 => LossScale::Fixed(initial),
                    2 => LossScale::Dynamic {
                        initial,
                        growth_factor,
                        backoff_factor,
                        growth_interval,
                    },
                    other => return Err(invalid(&format!("unknown loss scale kind {other}"))),
                }
            },
        };
        let mut groups = Vec::new();
        for _ in 0..input.len()? {
            let tensors = (0..input.len()?)
                .map(|_| input.str())
                .collect::<Result<_>>()?;
            groups.push(ParamGroup {
                tensors,
                max_lr: input.opt_f32()?,
                momentum: input.f32()?,
            });
        }
        let tensors = (0..input.len()?)
            .map(|_| Ok((input.str()?, input.len()?)))
            .collect::<Result<_>>()?;
        let state_len = input.len()?;
        let step_state = input.take(state_len)?.to_vec();
        let momentum_len = input.len()?;
        let momentum = bytemuck::pod_collect_to_vec(input.take(momentum_len.saturating_mul(4))?);
        let mut max_lr_history = Vec::new();
        for _ in 0..input.len()? {
            let version = (0..input.len()?)
                .map(|_| input.opt_f32())
                .collect::<Result<Vec<_>>>()?;
            max_lr_history.push(version);
        }
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

fn invalid(why: &str) -> Error {
    Error::InvalidState(why.to_string())
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, v: usize) {
        self.0.extend_from_slice(&(v as u64).to_le_bytes());
    }
    fn opt_f32(&mut self, v: Option<f32>) {
        self.u32(u32::from(v.is_some()));
        self.f32(v.unwrap_or(0.0));
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.0.len() {
            return Err(invalid("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_bits(self.u32()?))
    }
    fn len(&mut self) -> Result<usize> {
        let b = self.take(8)?;
        let v = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        usize::try_from(v).map_err(|_| invalid("length out of range"))
    }
    fn opt_f32(&mut self) -> Result<Option<f32>> {
        let present = self.u32()?;
        let value = self.f32()?;
        match present {
            0 => Ok(None),
            1 => Ok(Some(value)),
            _ => Err(invalid("bad option tag")),
        }
    }
    fn str(&mut self) -> Result<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| invalid("a name is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            max_lr_history: vec![vec![Some(0.1)], vec![None]],
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
