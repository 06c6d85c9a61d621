//! The optimizer: its configuration and parameter groups, the step plan computed from them
//! and the resources made from the plan, then what an optimizer does: record a step, change
//! its settings, read its state back, and take a step split over shards.

mod alig;
pub(crate) mod config;
mod groups;
pub(crate) mod host_losses;
pub(crate) mod loss_scale;
mod plan;
mod projection;
mod reads;
mod resources;
mod setters;
mod shard_exchange;
mod sharded;
mod step;

pub use alig::{Alig, Loss};
pub use config::{AligConfig, MomentumKind};
pub(crate) use groups::assign_groups;
pub use groups::ParamGroup;
pub use host_losses::HOST_LOSS_SLOTS;
pub use loss_scale::LossScale;
pub(crate) use plan::state_byte_size;
pub use projection::project_params;
