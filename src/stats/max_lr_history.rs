//! The settings of the groups' `max_lr` that an optimizer's step records can still name. Each
//! record names the setting its step ran with (`StepRecord::max_lr_version`), so a group's
//! step size at any recorded step can be told on the host after `max_lr` has changed.
//!
//! Only the settings a record in the ring can name are kept: a step runs with the setting
//! current when it was recorded or a later one (a setter's write lands before the next
//! submit), and the ring keeps the last `stats_capacity` steps, so a setting that a newer one
//! replaced `stats_capacity` recorded steps ago is named by no record the ring can still
//! hold. A per-step schedule then keeps about `stats_capacity` settings, however long it runs.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// One setting of the groups' `max_lr` (in group order): its version, the number of steps
/// recorded when it was made, and the values.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MaxLrSetting {
    pub version: u32,
    pub since_step: u32,
    pub max_lrs: Arc<[Option<f32>]>,
}

/// The settings still needed, oldest first, with consecutive versions; never empty.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MaxLrHistory(Arc<VecDeque<MaxLrSetting>>);

impl MaxLrHistory {
    /// A history whose version 0 is `initial`.
    pub fn new(initial: Vec<Option<f32>>) -> Self {
        Self(Arc::new(VecDeque::from([MaxLrSetting {
            version: 0,
            since_step: 0,
            max_lrs: initial.into(),
        }])))
    }

    /// A history of saved `settings`; `None` when there is none or their versions are not
    /// consecutive.
    pub fn from_settings(settings: Vec<MaxLrSetting>) -> Option<Self> {
        let consecutive = settings
            .windows(2)
            .all(|w| w[0].version.checked_add(1) == Some(w[1].version));
        (!settings.is_empty() && consecutive).then(|| Self(Arc::new(settings.into())))
    }

    /// Every setting kept, oldest first.
    pub fn settings(&self) -> impl Iterator<Item = &MaxLrSetting> {
        self.0.iter()
    }

    fn latest(&self) -> &MaxLrSetting {
        // Never empty: built with one setting, and `push` removes only ones it replaced.
        &self.0[self.0.len() - 1]
    }

    /// The latest version's number.
    pub fn current_version(&self) -> u32 {
        self.latest().version
    }

    /// The latest version's settings.
    pub fn current(&self) -> &[Option<f32>] {
        &self.latest().max_lrs
    }

    /// Adds `max_lrs` as the next version, made after `recorded_steps` steps, and drops the
    /// settings no record of a ring of `capacity` can name any more. Returns the new version;
    /// `None` when the version numbers (a `u32` in each record) are spent.
    pub fn push(
        &mut self,
        max_lrs: Vec<Option<f32>>,
        recorded_steps: u32,
        capacity: u32,
    ) -> Option<u32> {
        let version = self.current_version().checked_add(1)?;
        // Copies the list (not the settings' values) only while a read holds it.
        let settings = Arc::make_mut(&mut self.0);
        settings.push_back(MaxLrSetting {
            version,
            since_step: recorded_steps,
            max_lrs: max_lrs.into(),
        });
        // The oldest setting goes once its successor was made at least `capacity` recorded
        // steps ago: every step the ring can still hold ran with the successor or later.
        while settings.len() > 1 && recorded_steps.wrapping_sub(settings[1].since_step) >= capacity
        {
            settings.pop_front();
        }
        Some(version)
    }

    /// The settings of the `versions` asked for that are kept, and only those: what a
    /// snapshot keeps.
    pub fn select(
        &self,
        versions: impl IntoIterator<Item = u32>,
    ) -> BTreeMap<u32, Arc<[Option<f32>]>> {
        let first = self.0[0].version;
        versions
            .into_iter()
            .filter_map(|v| {
                let index = v.checked_sub(first)? as usize;
                Some((v, self.0.get(index)?.max_lrs.clone()))
            })
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
        assert_eq!(history.push(vec![Some(0.5), None], 0, 10), Some(1));
        assert_eq!(history.current(), &[Some(0.5), None]);
        let selected = history.select([1, 7]);
        assert_eq!(selected.len(), 1);
        assert_eq!(&selected[&1][..], &[Some(0.5), None]);
        let saved: Vec<MaxLrSetting> = history.settings().cloned().collect();
        assert_eq!(MaxLrHistory::from_settings(saved), Some(history));
        assert_eq!(MaxLrHistory::from_settings(Vec::new()), None);
    }

    #[test]
    fn a_setting_goes_once_no_record_in_the_ring_can_name_it() {
        let capacity = 4;
        let mut history = MaxLrHistory::new(vec![Some(1.0)]);
        // A new setting before every step: steps 0.. run with versions 1..
        for step in 0..100u32 {
            history.push(vec![Some(step as f32)], step, capacity);
            // `step` steps are recorded: the ring holds at most the last `capacity` of them,
            // and the one recorded as step `s` runs with version s + 1. Those versions and
            // the new one stay selectable.
            let oldest = step.saturating_sub(capacity);
            let needed: Vec<u32> = (oldest + 1..=step + 1).collect();
            assert_eq!(
                history.select(needed.clone()).len(),
                needed.len(),
                "step {step}"
            );
            assert!(history.settings().count() <= capacity as usize + 1);
        }
    }

    #[test]
    fn saved_settings_must_have_consecutive_versions() {
        let setting = |version| MaxLrSetting {
            version,
            since_step: 0,
            max_lrs: vec![None].into(),
        };
        assert!(MaxLrHistory::from_settings(vec![setting(3), setting(4)]).is_some());
        assert!(MaxLrHistory::from_settings(vec![setting(3), setting(5)]).is_none());
    }
}
