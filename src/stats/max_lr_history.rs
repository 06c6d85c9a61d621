//! Every setting of the groups' `max_lr` an optimizer has run with. Each step's record names
//! the setting it ran with (`StepRecord::max_lr_version`), so a group's step size at any
//! recorded step can be told on the host after `max_lr` has changed.

use std::collections::BTreeMap;
use std::sync::Arc;

/// The groups' `max_lr` (in group order) at each version: version `v` is entry `v`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MaxLrHistory(Arc<Vec<Arc<[Option<f32>]>>>);

impl MaxLrHistory {
    /// A history whose version 0 is `initial`.
    pub fn new(initial: Vec<Option<f32>>) -> Self {
        Self(Arc::new(vec![initial.into()]))
    }

    /// A history of saved `versions`; `None` when there is none.
    pub fn from_versions(versions: Vec<Vec<Option<f32>>>) -> Option<Self> {
        (!versions.is_empty())
            .then(|| Self(Arc::new(versions.into_iter().map(Into::into).collect())))
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = &[Option<f32>]> {
        self.0.iter().map(|v| &v[..])
    }

    /// The latest version's number.
    pub fn current_version(&self) -> u32 {
        // Versions are pushed only while they fit in a u32 (see `push`).
        (self.0.len() - 1) as u32
    }

    /// The latest version's settings.
    pub fn current(&self) -> &[Option<f32>] {
        self.0.last().map_or(&[], |v| &v[..])
    }

    /// Adds `max_lrs` as the next version and returns its number; `None` when the version
    /// numbers (a `u32` in each record) are spent.
    pub fn push(&mut self, max_lrs: Vec<Option<f32>>) -> Option<u32> {
        if self.0.len() > u32::MAX as usize {
            return None;
        }
        // Copies the list of versions (not their settings) only while a read holds it.
        Arc::make_mut(&mut self.0).push(max_lrs.into());
        Some(self.current_version())
    }

    /// The settings of the `versions` asked for, and only those: what a snapshot keeps.
    pub fn select(
        &self,
        versions: impl IntoIterator<Item = u32>,
    ) -> BTreeMap<u32, Arc<[Option<f32>]>> {
        versions
            .into_iter()
            .filter_map(|v| Some((v, self.0.get(v as usize)?.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_from_zero_and_select_keeps_what_is_asked() {
        let mut history = MaxLrHistory::new(vec![Some(1.0), None]);
        assert_eq!(history.current_version(), 0);
        assert_eq!(history.push(vec![Some(0.5), None]), Some(1));
        assert_eq!(history.current(), &[Some(0.5), None]);
        let selected = history.select([1, 7]);
        assert_eq!(selected.len(), 1);
        assert_eq!(&selected[&1][..], &[Some(0.5), None]);
        let saved: Vec<Vec<Option<f32>>> = history.versions().map(<[_]>::to_vec).collect();
        assert_eq!(MaxLrHistory::from_versions(saved), Some(history));
        assert_eq!(MaxLrHistory::from_versions(Vec::new()), None);
    }
}
