//! The in-process discovery cache: schema answers change rarely, and every discovery call
//! spends one of the project's 60 queries an hour.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::result::{CohortInfo, FunnelInfo, PropertyCount};

/// Discovery answers, kept as long as their owner keeps the cache (a workspace: its life).
#[derive(Debug)]
pub struct DiscoveryCache {
    enabled: bool,
    entries: Mutex<Entries>,
}

/// Key of a property-values answer: property, event, limit.
pub(super) type ValuesKey = (String, Option<String>, u32);

#[derive(Debug, Default)]
pub(super) struct Entries {
    pub(super) events: Option<Vec<String>>,
    pub(super) properties: HashMap<String, Vec<PropertyCount>>,
    pub(super) values: HashMap<ValuesKey, Vec<String>>,
    pub(super) funnels: Option<Vec<FunnelInfo>>,
    pub(super) cohorts: Option<Vec<CohortInfo>>,
}

impl Default for DiscoveryCache {
    fn default() -> Self {
        Self { enabled: true, entries: Mutex::default() }
    }
}

impl DiscoveryCache {
    /// Switches caching on or off; off also forgets what was cached.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
        if !on {
            self.clear();
        }
    }

    /// A cached answer, or `None` on a miss or when caching is off.
    pub(super) fn get<T: Clone>(&self, pick: impl FnOnce(&Entries) -> Option<&T>) -> Option<T> {
        if !self.enabled {
            return None;
        }
        pick(&self.lock()).cloned()
    }

    /// Stores an answer (nothing when caching is off).
    pub(super) fn put(&self, store: impl FnOnce(&mut Entries)) {
        if self.enabled {
            store(&mut self.lock());
        }
    }

    /// Forgets every cached answer.
    pub fn clear(&self) {
        *self.lock() = Entries::default();
    }

    /// The name of a saved funnel, if the funnel list is already cached.
    pub(crate) fn funnel_name(&self, funnel_id: u64) -> Option<String> {
        let entries = self.lock();
        let funnels = entries.funnels.as_ref()?;
        funnels.iter().find(|f| f.funnel_id == funnel_id).map(|f| f.name.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // The entries are plain data: a panic elsewhere while holding the lock leaves them
        // valid, so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_after_put_and_misses_after_clear() {
        let cache = DiscoveryCache::default();
        assert_eq!(cache.get(|e| e.events.as_ref()), None);
        cache.put(|e| e.events = Some(vec!["Login".to_owned()]));
        assert_eq!(cache.get(|e| e.events.as_ref()), Some(vec!["Login".to_owned()]));
        cache.clear();
        assert_eq!(cache.get(|e| e.events.as_ref()), None);
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let mut cache = DiscoveryCache::default();
        cache.put(|e| e.funnels = Some(vec![FunnelInfo { funnel_id: 7, name: "F".into() }]));
        assert_eq!(cache.funnel_name(7).as_deref(), Some("F"));
        cache.set_enabled(false);
        assert_eq!(cache.funnel_name(7), None);
        cache.put(|e| e.events = Some(Vec::new()));
        assert_eq!(cache.get(|e| e.events.as_ref()), None);
    }
}
