//! Mixpanel data-residency regions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Mixpanel data-residency region; it selects the API hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// United States (the Mixpanel default).
    Us,
    /// European Union.
    Eu,
    /// India.
    In,
}

impl Region {
    /// Every region, in display order.
    pub const ALL: [Region; 3] = [Region::Us, Region::Eu, Region::In];

    /// The lower-case name used in the config file and `MP_REGION`.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::In => "in",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returned when a string names no region.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region '{0}'; expected one of: us, eu, in")]
pub struct ParseRegionError(String);

impl FromStr for Region {
    type Err = ParseRegionError;

    /// Case-insensitive, surrounding whitespace ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Region::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ParseRegionError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively() {
        assert_eq!("us".parse::<Region>(), Ok(Region::Us));
        assert_eq!("EU".parse::<Region>(), Ok(Region::Eu));
        assert_eq!(" In ".parse::<Region>(), Ok(Region::In));
    }

    #[test]
    fn rejects_unknown_with_the_choices() {
        let err = "asia".parse::<Region>().unwrap_err();
        assert_eq!(err.to_string(), "unknown region 'asia'; expected one of: us, eu, in");
    }

    #[test]
    fn display_round_trips() {
        for r in Region::ALL {
            assert_eq!(r.to_string().parse::<Region>(), Ok(r));
        }
    }
}
