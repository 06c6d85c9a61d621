//! The settings of the groups' `max_lr` that an optimizer's step records can still name. Each
//! record names the setting its step ran with (`StepRecord::max_lr_version`), so a group's
//! step size at any recorded step can be told on the host after `max_lr` has changed.
//!
//! The settings a step runs with never go back: a setter's write lands before the next
//! submit, so a step runs with the setting current when it is submitted, and steps run in
//! order. Once a read of the whole ring has seen its oldest record name version `v` (or, with
//! no record yet, the setting current when the read was made), no record the ring holds then
//! or later names a version below `v`: those settings go, at the next setter call and from
//! every saved state. A run that reads its stats or saves now and then keeps about the
//! settings of one ring's worth of steps; one that never reads keeps every setting in memory
//! (a few bytes per group per call), though never in a saved state.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::records::StepRecord;

/// One setting of the groups' `max_lr` (in group order) and its version.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MaxLrSetting {
    pub version: u32,
    pub max_lrs: Arc<[Option<f32>]>,
}

/// The settings still needed, oldest first, with consecutive versions; never empty.
#[derive(Clone, Debug)]
pub(crate) struct MaxLrHistory {
    settings: Arc<VecDeque<MaxLrSetting>>,
    /// No record the ring holds now or later names a version below this (shared with the
    /// reads in flight, which raise it).
    floor: Arc<AtomicU32>,
}

impl PartialEq for MaxLrHistory {
    fn eq(&self, other: &Self) -> bool {
        self.settings == other.settings
    }
}

impl MaxLrHistory {
    /// A history whose version 0 is `initial`.
    pub fn new(initial: Vec<Option<f32>>) -> Self {
        let first = MaxLrSetting {
            version: 0,
            max_lrs: initial.into(),
        };
        Self {
            settings: Arc::new(VecDeque::from([first])),
            floor: Arc::new(AtomicU32::new(0)),
        }
    }

    /// A history of saved `settings`; `None` when there is none or their versions are not
    /// consecutive.
    pub fn from_settings(settings: Vec<MaxLrSetting>) -> Option<Self> {
        let consecutive = settings
            .windows(2)
            .all(|w| w[0].version.checked_add(1) == Some(w[1].version));
        let first = settings.first()?.version;
        consecutive.then(|| Self {
            settings: Arc::new(settings.into()),
            floor: Arc::new(AtomicU32::new(first)),
        })
    }

    /// Every setting kept, oldest first.
    pub fn settings(&self) -> impl Iterator<Item = &MaxLrSetting> {
        self.settings.iter()
    }

    fn latest(&self) -> &MaxLrSetting {
        // Never empty: built with one setting, and `push` keeps the newest.
        &self.settings[self.settings.len() - 1]
    }

    /// The latest version's number.
    pub fn current_version(&self) -> u32 {
        self.latest().version
    }

    /// The latest version's settings.
    pub fn current(&self) -> &[Option<f32>] {
        &self.latest().max_lrs
    }

    /// Adds `max_lrs` as the next version and drops the settings below the floor. Returns
    /// the new version; `None` when the version numbers (a `u32` in each record) are spent.
    pub fn push(&mut self, max_lrs: Vec<Option<f32>>) -> Option<u32> {
        let version = self.current_version().checked_add(1)?;
        let floor = self.floor.load(Ordering::Relaxed);
        // Copies the list (not the settings' values) only while a read holds it.
        let settings = Arc::make_mut(&mut self.settings);
        settings.push_back(MaxLrSetting {
            version,
            max_lrs: max_lrs.into(),
        });
        while settings.len() > 1 && settings[0].version < floor {
            settings.pop_front();
        }
        Some(version)
    }

    /// What a read of the whole ring tells, `ring` its records oldest first: the floor is
    /// the oldest one's version, or with none the version current when the read was made
    /// (this history is the read's copy of it). Raises the shared floor; returns it.
    pub fn observe_ring(&self, ring: &[StepRecord]) -> u32 {
        let seen = ring
            .first()
            .map_or(self.current_version(), |r| r.max_lr_version);
        self.floor.fetch_max(seen, Ordering::Relaxed).max(seen)
    }

    /// The settings from version `floor` on (at least the latest): what a saved state keeps.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub fn settings_from(&self, floor: u32) -> Vec<MaxLrSetting> {
        let latest = self.current_version();
        self.settings
            .iter()
            .filter(|s| s.version >= floor.min(latest))
            .cloned()
            .collect()
    }

    /// The settings of the `versions` asked for that are kept, and only those: what a
    /// snapshot keeps.
    pub fn select(
        &self,
        versions: impl IntoIterator<Item = u32>,
    ) -> BTreeMap<u32, Arc<[Option<f32>]>> {
        let first = self.settings[0].version;
        versions
            .into_iter()
            .filter_map(|v| {
                let index = v.checked_sub(first)? as usize;
                Some((v, self.settings.get(index)?.max_lrs.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(version: u32) -> StepRecord {
        StepRecord {
            max_lr_version: version,
            ..StepRecord::default()
        }
    }

    #[test]
    fn versions_count_from_zero_and_select_keeps_what_is_asked() {
        let mut history = MaxLrHistory::new(vec![Some(1.0), None]);
        assert_eq!(history.current_version(), 0);
        assert_eq!(history.push(vec![Some(0.5), None]), Some(1));
        assert_eq!(history.current(), &[Some(0.5), None]);
        let selected = history.select([1, 7]);
        assert_eq!(selected.len(), 1);
        assert_eq!(&selected[&1][..], &[Some(0.5), None]);
        let saved: Vec<MaxLrSetting> = history.settings().cloned().collect();
        assert_eq!(MaxLrHistory::from_settings(saved), Some(history));
        assert_eq!(MaxLrHistory::from_settings(Vec::new()), None);
    }

    #[test]
    fn settings_go_only_below_what_a_read_of_the_ring_saw() {
        let mut history = MaxLrHistory::new(vec![Some(1.0)]);
        for k in 1..=10 {
            history.push(vec![Some(k as f32)]);
        }
        // Nothing read yet: every setting stays, however many steps were recorded.
        assert_eq!(history.settings().count(), 11);
        // A read whose oldest record ran with version 4 (a copy made at that time).
        let read = history.clone();
        assert_eq!(read.observe_ring(&[record(4), record(5), record(9)]), 4);
        assert_eq!(history.settings_from(4).len(), 7);
        history.push(vec![None]);
        let kept: Vec<u32> = history.settings().map(|s| s.version).collect();
        assert_eq!(kept, (4..=11).collect::<Vec<_>>());
        // A later read of an older copy cannot lower the floor.
        assert_eq!(read.observe_ring(&[record(2)]), 4);
        // An empty ring: the version current when the read was made.
        let empty = history.clone();
        history.push(vec![Some(0.1)]);
        assert_eq!(empty.observe_ring(&[]), 11);
        history.push(vec![Some(0.2)]);
        assert_eq!(history.settings().next().unwrap().version, 11);
    }

    #[test]
    fn saved_settings_must_have_consecutive_versions() {
        let setting = |version| MaxLrSetting {
            version,
            max_lrs: vec![None].into(),
        };
        assert!(MaxLrHistory::from_settings(vec![setting(3), setting(4)]).is_some());
        assert!(MaxLrHistory::from_settings(vec![setting(3), setting(5)]).is_none());
    }
}
