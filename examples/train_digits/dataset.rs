//! The UCI optical recognition of handwritten digits set (1797 images of 8x8 pixels with
//! values 0..16, 10 classes) as shipped by scikit-learn: a gzipped CSV of 65 integer columns,
//! 64 pixels then the label. Loading checks the whole file and scales pixels to [0, 1].

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::common::labelled::split_rows;

/// Pixels per image.
pub const INPUTS: usize = 64;
/// Digit classes.
pub const CLASSES: usize = 10;
/// Images in the file.
pub const SAMPLES: usize = 1797;
/// Test images of the fixed split: 1437 train / 360 test, as a 20% split gives.
pub const TEST_SAMPLES: usize = 360;
/// Seed of the fixed train/test split (independent of the training seed).
const SPLIT_SEED: u64 = 1998;
/// Largest pixel value: each pixel counts the set pixels of a 4x4 block.
const MAX_PIXEL: u32 = 16;

/// The data file shipped with the crate.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits/digits.csv.gz")
}

/// Labelled images: `images` holds `INPUTS` pixels in [0, 1] per sample, sample after sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Digits {
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
}

/// Why a data file was refused.
#[derive(Debug)]
pub enum DatasetError {
    /// The file could not be read or decompressed.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A line is not 64 pixels in 0..=16 followed by a label in 0..=9.
    BadLine { line: usize, reason: String },
    /// The file does not hold the 1797 images of the set.
    RowCount { found: usize },
}

impl fmt::Display for DatasetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::BadLine { line, reason } => write!(f, "digits data, line {line}: {reason}"),
            Self::RowCount { found } => {
                write!(f, "digits data: expected {SAMPLES} rows, found {found}")
            }
        }
    }
}

impl std::error::Error for DatasetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Digits {
    /// Reads and checks the gzipped CSV at `path`.
    pub fn load(path: &Path) -> Result<Self, DatasetError> {
        let read_error = |source| DatasetError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        Self::parse_csv(&text)
    }

    /// Parses and checks the CSV text: `SAMPLES` lines of `INPUTS` pixels in 0..=16 and a
    /// label in 0..=9, comma-separated integers.
    pub fn parse_csv(text: &str) -> Result<Self, DatasetError> {
        let mut digits = Self {
            images: Vec::with_capacity(SAMPLES * INPUTS),
            labels: Vec::with_capacity(SAMPLES),
        };
        let lines = text.lines().filter(|line| !line.trim().is_empty());
        for (index, line) in lines.enumerate() {
            let bad = |reason: String| DatasetError::BadLine {
                line: index + 1,
                reason,
            };
            let fields: Vec<&str> = line.trim().split(',').collect();
            if fields.len() != INPUTS + 1 {
                return Err(bad(format!(
                    "{} columns, expected {}",
                    fields.len(),
                    INPUTS + 1
                )));
            }
            for (column, field) in fields.iter().enumerate() {
                let value: u32 = field.trim().parse().map_err(|_| {
                    bad(format!(
                        "column {}: `{field}` is not an integer",
                        column + 1
                    ))
                })?;
                if column < INPUTS {
                    if value > MAX_PIXEL {
                        return Err(bad(format!(
                            "pixel {} is {value}, outside 0..={MAX_PIXEL}",
                            column + 1
                        )));
                    }
                    digits.images.push(value as f32 / MAX_PIXEL as f32);
                } else {
                    if value as usize >= CLASSES {
                        return Err(bad(format!("label {value} is outside 0..={}", CLASSES - 1)));
                    }
                    digits.labels.push(value);
                }
            }
        }
        if digits.len() != SAMPLES {
            return Err(DatasetError::RowCount {
                found: digits.len(),
            });
        }
        Ok(digits)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The fixed train/test split: `(train, test)` with `TEST_SAMPLES` test images.
    pub fn train_test_split(&self) -> (Self, Self) {
        self.split(TEST_SAMPLES, SPLIT_SEED)
    }

    /// A seeded random split: `(kept, held_out)` with `held_out` samples in the second part.
    pub fn split(&self, held_out: usize, seed: u64) -> (Self, Self) {
        let (kept, held) = split_rows(&self.images, &self.labels, INPUTS, held_out, seed);
        let set = |(images, labels)| Self { images, labels };
        (set(kept), set(held))
    }
}
