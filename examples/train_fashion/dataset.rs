//! Fashion-MNIST (Xiao, Rasul, Vollgraf 2017; Zalando, MIT licence): 60,000 training and
//! 10,000 test images of 28x28 grey pixels, 10 classes of clothing, in the four gzipped IDX
//! files of the original release, as Debian's `dataset-fashion-mnist` package installs them.
//! Loading checks every header (magic number, dimensions, counts, payload length) and the
//! labels, and keeps the pixels as bytes (the kernels scale them to [0, 1]).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::common::labelled::split_rows;

/// Pixels per side of an image.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// Clothing classes.
pub const CLASSES: usize = 10;
pub const TRAIN_SAMPLES: usize = 60_000;
pub const TEST_SAMPLES: usize = 10_000;

/// IDX magic numbers: unsigned bytes, then the number of dimensions.
const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// How to get the files, said with every error about a missing one.
pub const INSTALL_HINT: &str = "install Debian's dataset-fashion-mnist package \
     (`apt-get install dataset-fashion-mnist`, into /usr/share/datasets/fashion-mnist), or \
     point FASHION_MNIST_DIR (or the example's --data) at a folder holding \
     train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and \
     t10k-labels-idx1-ubyte.gz";

/// The environment variable that names the folder of the four files in place of
/// [`default_dir`]'s default.
pub const DIR_VARIABLE: &str = "FASHION_MNIST_DIR";

/// Where the four files are: `FASHION_MNIST_DIR` when it is set and not empty, else where
/// Debian's package puts them.
pub fn default_dir() -> PathBuf {
    std::env::var_os(DIR_VARIABLE)
        .filter(|dir| !dir.is_empty())
        .map_or_else(
            || PathBuf::from("/usr/share/datasets/fashion-mnist"),
            PathBuf::from,
        )
}

/// Labelled images: `PIXELS` bytes per sample, sample after sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    pub pixels: Vec<u8>,
    pub labels: Vec<u32>,
}

/// Why the data was refused.
#[derive(Debug)]
pub enum DatasetError {
    /// A file is not there.
    Missing { path: PathBuf },
    /// A file could not be read or decompressed.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file's content is not what the IDX format and the data set say it must be.
    Corrupt { path: PathBuf, reason: String },
}

impl fmt::Display for DatasetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { path } => write!(
                f,
                "Fashion-MNIST: {} is missing; {INSTALL_HINT}",
                path.display()
            ),
            Self::Read { path, source } => write!(
                f,
                "Fashion-MNIST: cannot read {}: {source}; {INSTALL_HINT}",
                path.display()
            ),
            Self::Corrupt { path, reason } => write!(
                f,
                "Fashion-MNIST: {} is corrupt: {reason}; reinstall it ({INSTALL_HINT})",
                path.display()
            ),
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

impl Images {
    /// Reads and checks the training and test sets in `dir`: `(train, test)`.
    pub fn load(dir: &Path) -> Result<(Self, Self), DatasetError> {
        let set = |prefix: &str, samples| {
            Self::load_files(
                &dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
                &dir.join(format!("{prefix}-labels-idx1-ubyte.gz")),
                samples,
            )
        };
        Ok((set("train", TRAIN_SAMPLES)?, set("t10k", TEST_SAMPLES)?))
    }

    /// Reads and checks one gzipped IDX pair of exactly `samples` images and labels (the
    /// test suite's subset in `data/fashion-mnist/` is one).
    pub fn load_files(images: &Path, labels: &Path, samples: usize) -> Result<Self, DatasetError> {
        let pixels = parse_idx(images, &read_gz(images)?, IMAGES_MAGIC, samples)?;
        let labels_bytes = parse_idx(labels, &read_gz(labels)?, LABELS_MAGIC, samples)?;
        if let Some(position) = labels_bytes.iter().position(|&l| l as usize >= CLASSES) {
            return Err(DatasetError::Corrupt {
                path: labels.to_path_buf(),
                reason: format!(
                    "label {} of sample {position} is outside 0..={}",
                    labels_bytes[position],
                    CLASSES - 1
                ),
            });
        }
        Ok(Self {
            pixels,
            labels: labels_bytes.into_iter().map(u32::from).collect(),
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// A seeded random split: `(kept, held_out)` with `held_out` samples in the second part.
    pub fn split(&self, held_out: usize, seed: u64) -> (Self, Self) {
        let (kept, held) = split_rows(&self.pixels, &self.labels, PIXELS, held_out, seed);
        let set = |(pixels, labels)| Self { pixels, labels };
        (set(kept), set(held))
    }
}

fn read_gz(path: &Path) -> Result<Vec<u8>, DatasetError> {
    let file = std::fs::File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DatasetError::Missing {
            path: path.to_path_buf(),
        },
        _ => DatasetError::Read {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .map_err(|source| DatasetError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}

/// Checks an IDX file's header against `magic` (images: `samples` x 28 x 28; labels:
/// `samples`) and returns its payload.
pub fn parse_idx(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    samples: usize,
) -> Result<Vec<u8>, DatasetError> {
    let corrupt = |reason: String| DatasetError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let word = |index: usize| {
        bytes
            .get(4 * index..4 * index + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let found = word(0).ok_or_else(|| corrupt(format!("{} bytes, no IDX header", bytes.len())))?;
    if found as u32 != magic {
        return Err(corrupt(format!(
            "magic number {found:#010x}, expected {magic:#010x}"
        )));
    }
    let expected_dims: &[usize] = if magic == IMAGES_MAGIC {
        &[samples, SIDE, SIDE]
    } else {
        &[samples]
    };
    let dims: Vec<usize> = (1..=expected_dims.len())
        .map(|i| word(i).ok_or_else(|| corrupt("the header is cut short".to_string())))
        .collect::<Result<_, _>>()?;
    if dims != expected_dims {
        return Err(corrupt(format!(
            "dimensions {dims:?}, expected {expected_dims:?}"
        )));
    }
    let header = 4 * (1 + dims.len());
    let payload = dims.iter().product::<usize>();
    if bytes.len() != header + payload {
        return Err(corrupt(format!(
            "{} bytes of data after the header, expected {payload}",
            bytes.len() - header
        )));
    }
    Ok(bytes[header..].to_vec())
}
