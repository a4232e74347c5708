//! Calendar days as plain day numbers: the bench only adds days and prints them, which does not
//! justify a date library in xtask.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A proleptic Gregorian day, counted from 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Day(i64);

impl Day {
    pub(crate) fn from_ymd(year: i64, month: i64, day: i64) -> Self {
        // Counting years from March puts the leap day last, so month lengths follow a formula.
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Self(era * 146_097 + day_of_era - 719_468)
    }

    /// Today in UTC, for the "measured on" line.
    pub(crate) fn today_utc() -> Self {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self(i64::try_from(secs / 86_400).unwrap_or(0))
    }

    pub(crate) fn plus(self, days: i64) -> Self {
        Self(self.0 + days)
    }

    fn ymd(self) -> (i64, i64, i64) {
        let shifted = self.0 + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let march_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * march_month + 2) / 5 + 1;
        let month = if march_month < 10 { march_month + 3 } else { march_month - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.ymd();
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days_print_as_iso_dates() {
        assert_eq!(Day::from_ymd(1970, 1, 1), Day(0));
        assert_eq!(Day::from_ymd(2024, 6, 1).to_string(), "2024-06-01");
        assert_eq!(Day::from_ymd(2000, 3, 1).to_string(), "2000-03-01");
    }

    #[test]
    fn adding_days_crosses_months_years_and_leap_days() {
        let first = Day::from_ymd(2024, 6, 1);
        assert_eq!(first.plus(-364).to_string(), "2023-06-03");
        assert_eq!(first.plus(-6).to_string(), "2024-05-26");
        assert_eq!(Day::from_ymd(2024, 2, 28).plus(1).to_string(), "2024-02-29");
        assert_eq!(Day::from_ymd(2023, 2, 28).plus(1).to_string(), "2023-03-01");
        assert_eq!(Day::from_ymd(2024, 12, 31).plus(1).to_string(), "2025-01-01");
        assert_eq!(Day::from_ymd(1900, 2, 28).plus(1).to_string(), "1900-03-01");
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let start = Day::from_ymd(1900, 1, 1);
        for offset in 0..146_097 {
            let day = start.plus(offset);
            let (y, m, d) = day.ymd();
            assert_eq!(Day::from_ymd(y, m, d), day, "{day}");
        }
    }
}
