//! The UCI handwritten digits of the repository's `data/digits/` (1797 images of 8x8 pixels in
//! 0..=16, and their labels), split into seeded train and test parts.

use std::path::Path;

#[path = "../../../examples/common/split_mix.rs"]
mod split_mix;

use split_mix::SplitMix64;

pub const INPUTS: usize = 64;
pub const CLASSES: usize = 10;
const SAMPLES: usize = 1797;
const TEST_SAMPLES: usize = 360;

/// Images (pixels scaled to [0, 1], row-major) and their labels.
pub struct Digits {
    pub images: Vec<f32>,
    pub labels: Vec<i64>,
}

impl Digits {
    /// Reads and checks `digits.csv.gz`: 1797 lines of 64 pixels and a label.
    pub fn load(path: &Path) -> Result<Self, String> {
        let gz = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let text = String::from_utf8(gunzip(&gz)?).map_err(|e| e.to_string())?;
        let mut digits = Self {
            images: Vec::with_capacity(SAMPLES * INPUTS),
            labels: Vec::with_capacity(SAMPLES),
        };
        for (index, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            let values: Vec<u8> = line
                .split(',')
                .map(|v| v.trim().parse::<u8>())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("line {}: {e}", index + 1))?;
            let (pixels, label) = values.split_at(INPUTS);
            if values.len() != INPUTS + 1 || pixels.iter().any(|&p| p > 16) || label[0] > 9 {
                return Err(format!(
                    "line {}: not 64 pixels in 0..=16 and a digit",
                    index + 1
                ));
            }
            digits
                .images
                .extend(pixels.iter().map(|&p| f32::from(p) / 16.0));
            digits.labels.push(i64::from(label[0]));
        }
        if digits.labels.len() != SAMPLES {
            return Err(format!(
                "{} samples, expected {SAMPLES}",
                digits.labels.len()
            ));
        }
        Ok(digits)
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `(train, test)`: a seeded random split with 360 test samples.
    pub fn train_test_split(&self, seed: u64) -> (Self, Self) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        shuffle(&mut order, seed);
        let (test, train) = order.split_at(TEST_SAMPLES);
        (self.select(train), self.select(test))
    }

    fn select(&self, samples: &[usize]) -> Self {
        Self {
            images: samples
                .iter()
                .flat_map(|&s| self.images[s * INPUTS..(s + 1) * INPUTS].iter().copied())
                .collect(),
            labels: samples.iter().map(|&s| self.labels[s]).collect(),
        }
    }
}

/// A seeded Fisher-Yates shuffle with the core crate's generator (by the remainder, as this
/// example has always split the data).
pub fn shuffle(values: &mut [usize], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for i in (1..values.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        values.swap(i, j);
    }
}

/// The contents of a one-member gzip file (RFC 1952): the header skipped, the deflate stream
/// inflated.
fn gunzip(gz: &[u8]) -> Result<Vec<u8>, String> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let bad = || "not a gzip file".to_string();
    if gz.len() < 18 || gz[..3] != [0x1f, 0x8b, 8] {
        return Err(bad());
    }
    let flags = gz[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len = usize::from(u16::from_le_bytes([gz[at], gz[at + 1]]));
        at += 2 + len;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            at += gz
                .get(at..)
                .and_then(|rest| rest.iter().position(|&b| b == 0))
                .ok_or_else(bad)?
                + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    let stream = gz.get(at..gz.len() - 8).ok_or_else(bad)?;
    miniz_oxide::inflate::decompress_to_vec(stream).map_err(|e| format!("inflate: {e:?}"))
}
