//! Engage profiles of the synthetic users and groups, consistent with their events.

use serde_json::{Value, json};

use super::{CITIES, DAY_MS, Identify, PLANS, Synth, day_start_ms, profile_time};
use crate::prng::hash;

const SALT_PROFILE: u64 = 20;
const SALT_COHORT: u64 = 21;

const FIRST_NAMES: [&str; 8] = ["Ana", "José", "Zoë", "Li", "Søren", "Amara", "Chloé", "Kenji"];
const LAST_NAMES: [&str; 8] =
    ["Silva", "Álvarez", "Müller", "王", "Nowak", "O'Brien", "Dubois", "Tanaka"];
const INDUSTRIES: [&str; 4] = ["retail", "fintech", "média", "health"];

/// A user's engage record and the index it was derived from (for cohort membership).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UserProfile {
    pub(crate) user: u32,
    /// `{"$distinct_id": .., "$properties": {..}}`
    pub(crate) value: Value,
}

impl Synth {
    /// Profiles of every user who is ever identified, in user order.
    pub(crate) fn profiles(&self) -> Vec<UserProfile> {
        let (range_start, range_end) = self.range_ms();
        (0..self.n_users)
            .filter_map(|user| {
                let h = hash(&[self.seed, u64::from(user), SALT_PROFILE]);
                let created = match self.identify(user) {
                    Identify::Never => return None,
                    Identify::At(t) => t,
                    Identify::Before => {
                        let days_before = 1 + i64::try_from(h % 400).unwrap_or(0);
                        range_start - days_before * DAY_MS + 36_000_000
                    }
                };
                let span = u64::try_from(range_end - created).unwrap_or(1).max(1);
                let last_seen = created + i64::try_from((h >> 16) % span).unwrap_or(0);
                let id = Self::user_id(user);
                let first = FIRST_NAMES[self.attr(user, 10, FIRST_NAMES.len())];
                let last = LAST_NAMES[self.attr(user, 11, LAST_NAMES.len())];
                let (city, country) = CITIES[self.attr(user, 0, CITIES.len())];
                let value = json!({
                    "$distinct_id": id,
                    "$properties": {
                        "$email": format!("{}@example.com", id.replace('_', ".")),
                        "$name": format!("{first} {last}"),
                        "$city": city,
                        "$country_code": country,
                        "$created": profile_time(created),
                        "$last_seen": profile_time(last_seen),
                        "plan": PLANS[self.attr(user, 12, PLANS.len())],
                        "lifetime_value": (h >> 40) % 100_000,
                    }
                });
                Some(UserProfile { user, value })
            })
            .collect()
    }

    /// Group profiles (companies) served for any `data_group_id`.
    pub(crate) fn group_profiles(&self) -> Vec<Value> {
        let n = (self.n_users / 20).max(1);
        let created = profile_time(day_start_ms(self.first_day));
        (0..n)
            .map(|k| {
                let h = hash(&[self.seed, u64::from(k), SALT_PROFILE, 1]);
                json!({
                    "$distinct_id": format!("company_{k:04}"),
                    "$properties": {
                        "$name": format!("Company {k}"),
                        "$created": created,
                        "industry": INDUSTRIES[usize::try_from(h % 4).unwrap_or(0)],
                        "seats": 1 + h % 500,
                    }
                })
            })
            .collect()
    }

    /// Whether `user` belongs to cohort `cohort_id`: about a third of users per cohort.
    pub(crate) fn in_cohort(&self, user: u32, cohort_id: i64) -> bool {
        hash(&[self.seed, u64::from(user), SALT_COHORT, cohort_id as u64]).is_multiple_of(3)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::MockConfig;
    use crate::synth::Synth;

    #[test]
    fn profiles_have_unique_ids_and_the_engage_shape() {
        let s = Synth::new(&MockConfig::default());
        let profiles = s.profiles();
        assert!(profiles.len() > 300 && profiles.len() < 500);
        let mut ids: Vec<&str> =
            profiles.iter().map(|p| p.value["$distinct_id"].as_str().unwrap()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), profiles.len());
        let props = &profiles[0].value["$properties"];
        for key in ["$email", "$name", "$city", "$created", "$last_seen", "plan"] {
            assert!(props[key].is_string(), "{key}");
        }
        assert!(props["$last_seen"].as_str() >= props["$created"].as_str());
    }

    #[test]
    fn cohorts_are_deterministic_subsets() {
        let s = Synth::new(&MockConfig::default());
        let members: Vec<u32> = (0..500).filter(|u| s.in_cohort(*u, 7)).collect();
        assert!(members.len() > 100 && members.len() < 250);
        assert_eq!(members, (0..500).filter(|u| s.in_cohort(*u, 7)).collect::<Vec<_>>());
        assert_ne!(members, (0..500).filter(|u| s.in_cohort(*u, 8)).collect::<Vec<_>>());
        assert!(!s.group_profiles().is_empty());
    }
}
