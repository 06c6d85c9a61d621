//! Step statistics: what the GPU records for every step, the snapshot a read gives, and the
//! history of the groups' `max_lr` settings that the records name.

mod max_lr_history;
mod records;
mod snapshot;

pub(crate) use max_lr_history::{MaxLrHistory, MaxLrSetting};
pub use records::{StepFlags, StepRecord};
pub use snapshot::StatsSnapshot;
