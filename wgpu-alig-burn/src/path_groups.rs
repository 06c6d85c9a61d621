//! Parameter groups of a burn module chosen by module path (`backbone.conv1.weight`): the core
//! crate's groups, each with its own `max_lr` and momentum, made from the paths of the
//! module's trainable parameters at the first step.

use std::fmt;
use std::sync::Arc;

use wgpu_alig::ParamGroup;

/// Which parameters a [`PathGroup`] holds.
#[derive(Clone)]
enum Select {
    /// The parameters under a module: the path is the prefix or starts with it and a `.`.
    Under(String),
    /// The parameters whose path satisfies a predicate.
    Matching(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

/// A parameter group of a burn module, chosen by module path, with its own `max_lr` and
/// momentum. As in the core crate's groups, `gamma_hat` stays global, a parameter may be in
/// one group only, and parameters in no group are frozen (never written); their gradients are
/// not read.
///
/// ```
/// use wgpu_alig_burn::PathGroup;
/// let head = PathGroup::under("head", Some(1.0), 0.9);
/// let backbone = PathGroup::matching(|path| !path.starts_with("head"), Some(0.1), 0.9);
/// assert!(head.holds("head.weight") && !head.holds("header.weight"));
/// assert!(backbone.holds("conv1.weight") && !backbone.holds("head.bias"));
/// ```
#[derive(Clone)]
pub struct PathGroup {
    select: Select,
    /// Upper bound of this group's step size; `None` leaves it unbounded.
    pub max_lr: Option<f32>,
    /// This group's momentum in `[0, 1)`; 0 turns momentum off for it.
    pub momentum: f32,
}

impl PathGroup {
    /// The parameters of the module at `path` and of its sub-modules (`"encoder"` holds
    /// `encoder.layer1.weight`, not `encoder2.weight`), or the one parameter at `path`.
    pub fn under(path: &str, max_lr: Option<f32>, momentum: f32) -> Self {
        Self {
            select: Select::Under(path.to_string()),
            max_lr,
            momentum,
        }
    }

    /// The parameters whose module path satisfies `predicate`.
    pub fn matching(
        predicate: impl Fn(&str) -> bool + Send + Sync + 'static,
        max_lr: Option<f32>,
        momentum: f32,
    ) -> Self {
        Self {
            select: Select::Matching(Arc::new(predicate)),
            max_lr,
            momentum,
        }
    }

    /// Whether the parameter at module path `path` is in this group.
    pub fn holds(&self, path: &str) -> bool {
        match &self.select {
            Select::Under(prefix) => path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.')),
            Select::Matching(predicate) => predicate(path),
        }
    }
}

impl fmt::Debug for PathGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let select = match &self.select {
            Select::Under(prefix) => format!("under {prefix:?}"),
            Select::Matching(_) => "matching a predicate".to_string(),
        };
        f.debug_struct("PathGroup")
            .field("select", &select)
            .field("max_lr", &self.max_lr)
            .field("momentum", &self.momentum)
            .finish()
    }
}

/// The core crate's groups over `paths` (the trainable parameters in the arena's order): each
/// group with the paths it holds. A path in two groups is in both lists, for the core crate
/// to refuse (`Error::TensorInTwoGroups`).
pub(crate) fn core_groups<'a>(
    groups: &[PathGroup],
    paths: impl Iterator<Item = &'a str> + Clone,
) -> Vec<ParamGroup> {
    groups
        .iter()
        .map(|group| ParamGroup {
            tensors: paths
                .clone()
                .filter(|path| group.holds(path))
                .map(str::to_string)
                .collect(),
            max_lr: group.max_lr,
            momentum: group.momentum,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_holds_whole_path_segments() {
        let group = PathGroup::under("encoder.layer1", None, 0.0);
        assert!(group.holds("encoder.layer1"));
        assert!(group.holds("encoder.layer1.weight"));
        assert!(!group.holds("encoder.layer10.weight"));
        assert!(!group.holds("encoder"));
    }

    #[test]
    fn core_groups_list_each_group_s_paths_in_order() {
        let paths = ["a.w", "a.b", "head.w", "head.b"];
        let groups = [
            PathGroup::under("head", Some(1.0), 0.9),
            PathGroup::matching(|p| p.ends_with(".w"), Some(0.1), 0.0),
        ];
        let core = core_groups(&groups, paths.iter().copied());
        assert_eq!(core[0].tensors, ["head.w", "head.b"]);
        assert_eq!((core[0].max_lr, core[0].momentum), (Some(1.0), 0.9));
        // "head.w" is in both: the core crate refuses that.
        assert_eq!(core[1].tensors, ["a.w", "head.w"]);
    }
}
