//! What to run: the full table by default, a quick smoke run with `ALIG_BENCH_QUICK=1` (or
//! `--quick`), a size filter with `ALIG_BENCH_N=1e6,1.6e7` (or `--n 1e6,1.6e7`), and wall time
//! even where the adapter has timestamp queries with `ALIG_BENCH_WALL_CLOCK=1`;
//! `ALIG_BENCH_SPLIT_SWEEP=1` runs only the work-split sweep, `ALIG_BENCH_PER_PASS=1` only the
//! per-pass times, and `ALIG_BENCH_CSV=FILE` writes
//! the main table's rows (or the sweep's) to FILE as CSV too. `ALIG_BENCH_PRECISION=f32,f16`
//! (or `--precision f32,f16`) picks the main table's precisions (default: `f32`, `f16-grads`
//! and `f16`, the f16 ones where the adapter has `SHADER_F16`).

use std::path::PathBuf;
use std::time::Duration;

use wgpu_alig::Precision;

use crate::table::precision_name;

/// Total parameter counts of the full table.
const FULL_SIZES: [usize; 4] = [10_000, 1_000_000, 16_000_000, 64_000_000];
/// The quick run stops where lavapipe stops being quick.
const QUICK_SIZES: [usize; 2] = [10_000, 1_000_000];
/// Each total size is split into this many tensors of (almost) equal length.
pub const TENSOR_COUNTS: [usize; 3] = [1, 100, 1000];

pub struct Options {
    pub sizes: Vec<usize>,
    /// The precisions of the main table's rows: each (size, tensors, momentum) gets a row of
    /// each, one after the other.
    pub precisions: Vec<Precision>,
    pub quick: bool,
    /// Time everything on the host's wall clock, as on an adapter without timestamp queries.
    pub wall_clock_only: bool,
    /// Time to spend on the measured repetitions of one row (all variants together).
    pub row_budget: Duration,
    pub min_reps: usize,
    pub max_reps: usize,
    /// Steps timed for the CPU cost of recording and submitting.
    pub record_cost_steps: usize,
    /// Only the host cost of many tensors (`ALIG_BENCH_HOST_SCALE=1`).
    pub host_scale_only: bool,
    /// Only the work-split sweep (`ALIG_BENCH_SPLIT_SWEEP=1`).
    pub split_sweep_only: bool,
    /// Only the per-pass times (`ALIG_BENCH_PER_PASS=1`).
    pub per_pass_only: bool,
    /// Where to write the table's rows as CSV as well (`ALIG_BENCH_CSV=FILE`).
    pub csv: Option<PathBuf>,
}

impl Options {
    /// Reads the environment and the command line (`cargo bench` adds `--bench`, ignored).
    pub fn from_env_and_args() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick")
            || std::env::var("ALIG_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let size_filter = args
            .iter()
            .position(|a| a == "--n")
            .and_then(|i| args.get(i + 1).cloned())
            .or_else(|| std::env::var("ALIG_BENCH_N").ok());
        let wall_clock_only =
            std::env::var("ALIG_BENCH_WALL_CLOCK").is_ok_and(|v| !v.is_empty() && v != "0");
        let host_scale_only =
            std::env::var("ALIG_BENCH_HOST_SCALE").is_ok_and(|v| !v.is_empty() && v != "0");
        let split_sweep_only =
            std::env::var("ALIG_BENCH_SPLIT_SWEEP").is_ok_and(|v| !v.is_empty() && v != "0");
        let per_pass_only =
            std::env::var("ALIG_BENCH_PER_PASS").is_ok_and(|v| !v.is_empty() && v != "0");
        let precisions = args
            .iter()
            .position(|a| a == "--precision")
            .and_then(|i| args.get(i + 1).cloned())
            .or_else(|| std::env::var("ALIG_BENCH_PRECISION").ok())
            .filter(|list| !list.trim().is_empty())
            .map_or(Precision::ALL.to_vec(), |list| {
                list.split(',').map(parse_precision).collect()
            });
        let csv = std::env::var_os("ALIG_BENCH_CSV")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let sizes = match size_filter {
            Some(list) => list.split(',').map(parse_count).collect(),
            None if quick => QUICK_SIZES.to_vec(),
            None => FULL_SIZES.to_vec(),
        };
        if quick {
            Self {
                sizes,
                precisions: precisions.clone(),
                quick,
                wall_clock_only,
                row_budget: Duration::from_millis(500),
                min_reps: 3,
                max_reps: 9,
                record_cost_steps: 200,
                host_scale_only,
                split_sweep_only,
                per_pass_only,
                csv,
            }
        } else {
            Self {
                sizes,
                precisions,
                quick,
                wall_clock_only,
                row_budget: Duration::from_secs(15),
                min_reps: 7,
                max_reps: 31,
                record_cost_steps: 2000,
                host_scale_only,
                split_sweep_only,
                per_pass_only,
                csv,
            }
        }
    }

    /// Repetitions for a row whose one round of every variant took `round`.
    pub fn reps_for(&self, round: Duration) -> usize {
        let fit = self.row_budget.as_secs_f64() / round.as_secs_f64().max(1e-9);
        // An odd count makes the median one measured value.
        (fit as usize).clamp(self.min_reps, self.max_reps) | 1
    }
}

/// Parses `f32`, `f16-grads` or `f16`.
fn parse_precision(text: &str) -> Precision {
    let text = text.trim();
    Precision::ALL
        .into_iter()
        .find(|&p| precision_name(p) == text)
        .unwrap_or_else(|| panic!("not a precision: {text:?} (f32, f16-grads or f16)"))
}

/// Parses `10000`, `1e6` or `1.6e7`.
fn parse_count(text: &str) -> usize {
    let value: f64 = text
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a parameter count: {text:?} (try 1e6 or 16000000)"));
    assert!(value >= 1.0, "parameter count must be at least 1: {text:?}");
    value.round() as usize
}
