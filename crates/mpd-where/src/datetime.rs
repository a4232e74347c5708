//! The text argument of `datetime("..")` as seconds since the Unix epoch, in UTC.
//!
//! It accepts exactly what the callers accepted when they read it with chrono's
//! `NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")`, falling back to a bare date at
//! midnight: each number may follow whitespace; month, day and time fields take one or two
//! digits; the year takes up to four digits, or any number after an explicit `+`/`-`; the
//! proleptic Gregorian calendar within chrono's years; and a leap second `:60` counts as `:59`.

const SECONDS_PER_DAY: i64 = 86_400;

/// The years chrono's `NaiveDate` represents, so that the same dates stay valid.
const YEARS: std::ops::RangeInclusive<i64> = -262_143..=262_142;

/// Seconds since 1970-01-01T00:00:00 UTC, or None when `text` is not such a date and time.
pub(crate) fn datetime_seconds(text: &str) -> Option<i64> {
    let mut fields = Fields { rest: text };
    let year = fields.year()?;
    fields.literal('-')?;
    let month = fields.number(2)?;
    fields.literal('-')?;
    let day = fields.number(2)?;
    let (hour, minute, second) = if fields.rest.is_empty() {
        (0, 0, 0)
    } else {
        fields.literal('T')?;
        let hour = fields.number(2)?;
        fields.literal(':')?;
        let minute = fields.number(2)?;
        fields.literal(':')?;
        (hour, minute, fields.number(2)?)
    };
    let valid = fields.rest.is_empty()
        && YEARS.contains(&year)
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && (0..=23).contains(&hour)
        && (0..=59).contains(&minute)
        && (0..=60).contains(&second);
    if !valid {
        return None;
    }
    // A leap second is the last second of its minute again: Unix time has no room for it.
    let second = second.min(59);
    Some(days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second)
}

/// The unread rest of the text, consumed field by field.
struct Fields<'a> {
    rest: &'a str,
}

impl Fields<'_> {
    fn literal(&mut self, expected: char) -> Option<()> {
        self.rest = self.rest.strip_prefix(expected)?;
        Some(())
    }

    /// A year: up to four digits, or as many as there are after an explicit sign.
    fn year(&mut self) -> Option<i64> {
        self.rest = self.rest.trim_start();
        if let Some(after_sign) = self.rest.strip_prefix('-') {
            self.rest = after_sign;
            return self.digits(usize::MAX).map(|year| -year);
        }
        if let Some(after_sign) = self.rest.strip_prefix('+') {
            self.rest = after_sign;
            return self.digits(usize::MAX);
        }
        self.digits(4)
    }

    /// An unsigned field of at most `max_digits` digits, after any whitespace.
    fn number(&mut self, max_digits: usize) -> Option<i64> {
        self.rest = self.rest.trim_start();
        self.digits(max_digits)
    }

    fn digits(&mut self, max_digits: usize) -> Option<i64> {
        let count = self.rest.bytes().take(max_digits).take_while(u8::is_ascii_digit).count();
        if count == 0 {
            return None;
        }
        // ASCII digits are one byte each, so `count` is a character boundary.
        let (digits, rest) = self.rest.split_at(count);
        let mut value: i64 = 0;
        for digit in digits.bytes() {
            value = value.checked_mul(10)?.checked_add(i64::from(digit - b'0'))?;
        }
        self.rest = rest;
        Some(value)
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's algorithm):
/// counting years from March makes the leap day the last day of its year, and 400-year eras
/// repeat exactly.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 days lie between 0000-03-01, where eras start, and 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(datetime_seconds("1970-01-01T00:00:00"), Some(0));
        assert_eq!(datetime_seconds("2024-01-02"), Some(1_704_153_600));
        assert_eq!(datetime_seconds("2024-01-02T00:00:00"), Some(1_704_153_600));
        assert_eq!(datetime_seconds("2024-02-29T12:34:56"), Some(1_709_210_096));
        assert_eq!(datetime_seconds("1969-12-31T23:59:59"), Some(-1));
        assert_eq!(datetime_seconds("2000-03-01"), Some(951_868_800));
        assert_eq!(datetime_seconds("0000-01-01"), Some(-62_167_219_200));
        assert_eq!(datetime_seconds("-0001-12-31T23:59:59"), Some(-62_167_219_201));
        assert_eq!(datetime_seconds("+10000-01-01"), Some(253_402_300_800));
    }

    #[test]
    fn loose_forms_chrono_accepted() {
        assert_eq!(datetime_seconds("2024-1-2"), datetime_seconds("2024-01-02"));
        assert_eq!(datetime_seconds(" 2024- 1- 2T 0: 0: 0"), datetime_seconds("2024-01-02"));
        assert_eq!(datetime_seconds("70-01-01"), Some(-59_958_144_000));
        // A leap second reads as the second before it.
        assert_eq!(datetime_seconds("2016-12-31T23:59:60"), Some(1_483_228_799));
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "",
            "2024",
            "2024-01",
            "2024-01-02T",
            "2024-01-02T10",
            "2024-01-02T10:00",
            "2024-01-02 10:00:00",
            "2024-01-02T10:00:00 ",
            "2024-01-02T10:00:00Z",
            "2024-01-02T10:00:00.5",
            "20240-01-02",
            "2024-001-02",
            "2024-13-01",
            "2024-00-01",
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-01-00",
            "2024-01-02T24:00:00",
            "2024-01-02T23:60:00",
            "2024-01-02T23:59:61",
            "+262143-01-01",
            "-262144-12-31",
            "+99999999999999999999-01-01",
            "2024/01/02",
            "2024-01-02t00:00:00",
        ] {
            assert_eq!(datetime_seconds(bad), None, "{bad:?}");
        }
        assert!(datetime_seconds("+262142-12-31T23:59:59").is_some());
        assert!(datetime_seconds("-262143-01-01").is_some());
    }

    /// Days since 1970 counted a year at a time, the slow and obvious way.
    fn reference_days(year: i64, month: i64, day: i64) -> i64 {
        let year_days = |y: i64| if is_leap_year(y) { 366 } else { 365 };
        let whole_years: i64 = if year >= 1970 {
            (1970..year).map(year_days).sum()
        } else {
            -(year..1970).map(year_days).sum::<i64>()
        };
        let whole_months: i64 = (1..month).map(|m| days_in_month(year, m)).sum();
        whole_years + whole_months + day - 1
    }

    proptest! {
        #[test]
        fn matches_counting_day_by_day(
            year in -3000_i64..3000,
            month in 1_i64..=12,
            day_seed in 0_i64..31,
            hour in 0_i64..24,
            minute in 0_i64..60,
            second in 0_i64..60,
        ) {
            let day = day_seed % days_in_month(year, month) + 1;
            let sign = if year < 0 { "-" } else { "" };
            let text = format!(
                "{sign}{:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}",
                year.abs()
            );
            let expected =
                reference_days(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
            prop_assert_eq!(datetime_seconds(&text), Some(expected));
        }
    }
}
