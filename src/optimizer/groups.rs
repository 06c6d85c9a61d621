//! Parameter groups: sets of tensors with their own `max_lr` and momentum. As in the official
//! code, the loss, the gradient norm and so `gamma_hat` stay global; tensors in no group are
//! frozen: in neither the norm nor the update, and never written.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::optimizer::config::{validate_max_lr, validate_momentum};

/// A set of tensors of the arena with its own `max_lr` and `momentum`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGroup {
    /// Names of the group's tensors.
    pub tensors: Vec<String>,
    /// Upper bound of this group's step size; `None` leaves it unbounded.
    pub max_lr: Option<f32>,
    /// This group's momentum in `[0, 1)`; 0 turns momentum off for it.
    pub momentum: f32,
}

impl ParamGroup {
    /// A group of `tensors` with its own `max_lr` (`None`: unbounded) and `momentum`.
    pub fn new(tensors: &[&str], max_lr: Option<f32>, momentum: f32) -> Self {
        Self {
            tensors: tensors.iter().map(|name| name.to_string()).collect(),
            max_lr,
            momentum,
        }
    }

    /// Sets this group's `max_lr`.
    pub fn with_max_lr(mut self, max_lr: Option<f32>) -> Self {
        self.max_lr = max_lr;
        self
    }

    /// Sets this group's momentum.
    pub fn with_momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        validate_max_lr(self.max_lr)?;
        validate_momentum(self.momentum)
    }
}

/// The group of each of `tensors` (`None`: frozen), checking that every group is valid,
/// names only known tensors, shares none with another group, and that something trains.
pub(crate) fn assign_groups<'a>(
    tensors: impl ExactSizeIterator<Item = &'a str>,
    groups: &[ParamGroup],
) -> Result<Vec<Option<usize>>> {
    // A map, so that 10^5 tensors assign in linear time.
    let count = tensors.len();
    let positions: HashMap<&str, usize> = tensors.enumerate().map(|(k, n)| (n, k)).collect();
    let mut assignment = vec![None; count];
    for (group_index, group) in groups.iter().enumerate() {
        group.validate()?;
        for name in &group.tensors {
            let tensor = *positions
                .get(name.as_str())
                .ok_or_else(|| Error::UnknownTensor(name.clone()))?;
            match assignment[tensor].replace(group_index) {
                None => {}
                Some(earlier) if earlier == group_index => {
                    return Err(Error::TensorTwiceInGroup {
                        tensor: name.clone(),
                        group: group_index,
                    })
                }
                Some(_) => return Err(Error::TensorInTwoGroups(name.clone())),
            }
        }
    }
    if assignment.iter().all(Option::is_none) {
        return Err(Error::NothingToTrain);
    }
    Ok(assignment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_in_no_group_are_frozen() {
        let groups = [
            ParamGroup::new(&["c"], None, 0.0),
            ParamGroup::new(&["a"], Some(0.1), 0.0),
        ];
        let assignment = assign_groups(["a", "b", "c"].into_iter(), &groups).unwrap();
        assert_eq!(assignment, [Some(1), None, Some(0)]);
    }

    #[test]
    fn bad_groups_are_typed_errors() {
        let names = || ["a", "b"].into_iter();
        let group = |t: &[&str]| ParamGroup::new(t, None, 0.0);
        assert!(matches!(
            assign_groups(names(), &[group(&["x"])]),
            Err(Error::UnknownTensor(_))
        ));
        assert!(matches!(
            assign_groups(names(), &[group(&["a"]), group(&["a"])]),
            Err(Error::TensorInTwoGroups(_))
        ));
        assert!(matches!(
            assign_groups(names(), &[group(&["b"]), group(&["a", "a"])]),
            Err(Error::TensorTwiceInGroup { group: 1, .. })
        ));
        assert!(matches!(
            assign_groups(names(), &[]),
            Err(Error::NothingToTrain)
        ));
        assert!(matches!(
            assign_groups(names(), &[group(&["a"]).with_momentum(1.5)]),
            Err(Error::InvalidMomentum(_))
        ));
        assert!(matches!(
            assign_groups(names(), &[group(&["a"]).with_max_lr(Some(-1.0))]),
            Err(Error::InvalidMaxLr(_))
        ));
    }
}
