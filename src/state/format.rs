//! The encoding of a saved state: little-endian fields, lengths as u64, an optional f32 as a
//! tag and a value, and the CRC-32 of everything before it at the end.

use std::ops::RangeInclusive;

use super::checksum::crc32;
use crate::error::{Error, Result};
use crate::optimizer::config::{AligConfig, MomentumKind};
use crate::optimizer::loss_scale::LossScale;
use crate::optimizer::ParamGroup;
use crate::stats::MaxLrSetting;

const CHECKSUM_BYTES: usize = 4;

pub(super) fn invalid(why: &str) -> Error {
    Error::InvalidState(why.to_string())
}

pub(super) struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn len(&mut self, v: usize) {
        self.0.extend_from_slice(&(v as u64).to_le_bytes());
    }
    pub fn opt_f32(&mut self, v: Option<f32>) {
        self.u32(u32::from(v.is_some()));
        self.f32(v.unwrap_or(0.0));
    }
    pub fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
}

pub(super) struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.0.len() {
            return Err(invalid("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_bits(self.u32()?))
    }
    pub fn len(&mut self) -> Result<usize> {
        let b = self.take(8)?;
        let v = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        usize::try_from(v).map_err(|_| invalid("length out of range"))
    }
    pub fn opt_f32(&mut self) -> Result<Option<f32>> {
        let present = self.u32()?;
        let value = self.f32()?;
        match present {
            0 => Ok(None),
            1 => Ok(Some(value)),
            _ => Err(invalid("bad option tag")),
        }
    }
    pub fn str(&mut self) -> Result<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| invalid("a name is not UTF-8"))
    }
}

impl Writer {
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.0.extend_from_slice(bytes);
    }

    pub fn config(&mut self, c: &AligConfig) {
        self.opt_f32(c.max_lr);
        self.f32(c.momentum);
        self.u32(match c.momentum_kind {
            MomentumKind::Nesterov => 0,
            MomentumKind::Adjusted => 1,
        });
        self.f32(c.eps);
        self.f32(c.f_star);
        self.f32(c.c);
        self.opt_f32(c.max_norm);
        self.u32(c.stats_capacity);
        self.loss_scale(&c.loss_scale);
    }

    fn loss_scale(&mut self, loss_scale: &LossScale) {
        let (kind, initial) = match *loss_scale {
            LossScale::None => (0, 1.0),
            LossScale::Fixed(scale) => (1, scale),
            LossScale::Dynamic { initial, .. } => (2, initial),
        };
        let (backoff, growth, interval) = loss_scale.factors();
        self.u32(kind);
        self.f32(initial);
        self.f32(growth);
        self.f32(backoff);
        self.u32(interval);
    }

    pub fn groups(&mut self, groups: &[ParamGroup]) {
        self.len(groups.len());
        for group in groups {
            self.len(group.tensors.len());
            for name in &group.tensors {
                self.str(name);
            }
            self.opt_f32(group.max_lr);
            self.f32(group.momentum);
        }
    }

    pub fn tensors(&mut self, tensors: &[(String, usize)]) {
        self.len(tensors.len());
        for (name, len) in tensors {
            self.str(name);
            self.len(*len);
        }
    }

    pub fn history(&mut self, history: &[MaxLrSetting]) {
        self.len(history.len());
        for setting in history {
            self.u32(setting.version);
            self.len(setting.max_lrs.len());
            for &max_lr in setting.max_lrs.iter() {
                self.opt_f32(max_lr);
            }
        }
    }
}

impl<'a> Reader<'a> {
    /// The body of `bytes` after its magic and version (one of `versions`, returned too),
    /// its checksum checked.
    pub fn checked(
        bytes: &'a [u8],
        magic: &[u8; 8],
        versions: RangeInclusive<u32>,
    ) -> Result<(Self, u32)> {
        let mut input = Reader(bytes);
        if input.take(8)? != magic {
            return Err(invalid("not an ALI-G state (bad magic)"));
        }
        let found = input.u32()?;
        if !versions.contains(&found) {
            return Err(invalid(&format!("unsupported version {found}")));
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
        Ok((input, found))
    }

    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.len()?;
        self.take(len)
    }

    pub fn config(&mut self) -> Result<AligConfig> {
        Ok(AligConfig {
            max_lr: self.opt_f32()?,
            momentum: self.f32()?,
            momentum_kind: match self.u32()? {
                0 => MomentumKind::Nesterov,
                1 => MomentumKind::Adjusted,
                other => return Err(invalid(&format!("unknown momentum kind {other}"))),
            },
            eps: self.f32()?,
            f_star: self.f32()?,
            c: self.f32()?,
            max_norm: self.opt_f32()?,
            stats_capacity: self.u32()?,
            loss_scale: self.loss_scale()?,
        })
    }

    fn loss_scale(&mut self) -> Result<LossScale> {
        let (kind, initial) = (self.u32()?, self.f32()?);
        let (growth_factor, backoff_factor) = (self.f32()?, self.f32()?);
        let growth_interval = self.u32()?;
        match kind {
            0 => Ok(LossScale::None),
            1 => Ok(LossScale::Fixed(initial)),
            2 => Ok(LossScale::Dynamic {
                initial,
                growth_factor,
                backoff_factor,
                growth_interval,
            }),
            other => Err(invalid(&format!("unknown loss scale kind {other}"))),
        }
    }

    pub fn groups(&mut self) -> Result<Vec<ParamGroup>> {
        let mut groups = Vec::new();
        for _ in 0..self.len()? {
            let tensors = (0..self.len()?)
                .map(|_| self.str())
                .collect::<Result<_>>()?;
            groups.push(ParamGroup {
                tensors,
                max_lr: self.opt_f32()?,
                momentum: self.f32()?,
            });
        }
        Ok(groups)
    }

    pub fn tensors(&mut self) -> Result<Vec<(String, usize)>> {
        (0..self.len()?)
            .map(|_| Ok((self.str()?, self.len()?)))
            .collect()
    }

    pub fn history(&mut self) -> Result<Vec<MaxLrSetting>> {
        (0..self.len()?)
            .map(|_| {
                let version = self.u32()?;
                let max_lrs = self.max_lrs()?.into();
                Ok(MaxLrSetting { version, max_lrs })
            })
            .collect()
    }

    /// A version 5 history: every setting, numbered from version 0.
    pub fn history_v5(&mut self) -> Result<Vec<MaxLrSetting>> {
        (0..self.len()?)
            .map(|version| {
                let version = u32::try_from(version).map_err(|_| invalid("history too long"))?;
                Ok(MaxLrSetting {
                    version,
                    max_lrs: self.max_lrs()?.into(),
                })
            })
            .collect()
    }

    fn max_lrs(&mut self) -> Result<Vec<Option<f32>>> {
        (0..self.len()?).map(|_| self.opt_f32()).collect()
    }
}
