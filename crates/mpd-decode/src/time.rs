//! Epoch numbers and timestamps: seconds-or-milliseconds detection, UTC days, RFC 3339 text.

use std::io::Write as _;

use chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, Timelike as _};

use crate::parse::Number;

/// Epoch values above this magnitude are milliseconds: as seconds they would lie past the year
/// 5000, as milliseconds below it they would lie before March 1973, and Mixpanel has neither.
const MS_THRESHOLD: i64 = 100_000_000_000;

/// Microseconds since the epoch for an epoch number in seconds or milliseconds (by magnitude),
/// or `None` when it does not fit.
pub(crate) fn epoch_to_us(n: Number) -> Option<i64> {
    match n {
        Number::Int(t) => int_epoch_to_us(t),
        Number::UInt(t) => int_epoch_to_us(i64::try_from(t).ok()?),
        Number::Float(t) => {
            let us = if t.abs() > MS_THRESHOLD as f64 { t * 1e3 } else { t * 1e6 };
            f64_to_i64(us)
        }
    }
}

fn int_epoch_to_us(t: i64) -> Option<i64> {
    if t.unsigned_abs() > MS_THRESHOLD.unsigned_abs() {
        t.checked_mul(1_000)
    } else {
        t.checked_mul(1_000_000)
    }
}

/// Rounds to the nearest integer, `None` outside the `i64` range (and for NaN or infinities).
pub(crate) fn f64_to_i64(f: f64) -> Option<i64> {
    let r = f.round();
    // `i64::MAX as f64` rounds up to 2^63, which itself does not fit: hence the strict bound.
    (r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64).then_some(r as i64)
}

/// A whole number of milliseconds (`mp_processing_time_ms`), or `None`.
pub(crate) fn number_to_ms(n: Number) -> Option<i64> {
    let ms = match n {
        Number::Int(t) => t,
        Number::UInt(t) => i64::try_from(t).ok()?,
        Number::Float(t) => f64_to_i64(t)?,
    };
    let us = ms.checked_mul(1_000)?;
    utc_day(us).map(|_| ms)
}

const US_PER_DAY: i64 = 86_400_000_000;
/// 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in microseconds since the epoch.
const FIRST_US: i64 = -62_167_219_200_000_000;
const END_US: i64 = 253_402_300_800_000_000;
/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The UTC day of a timestamp in microseconds, as days since 1970-01-01; `None` outside the
/// years 0000 to 9999. Only timestamps that RFC 3339 and the `date=YYYY-MM-DD` partitions
/// can hold are kept: a year 10000 (or -1) is a corrupt value, not an event to store under a
/// five-digit path. Plain arithmetic: every decoded row needs its day, and going through
/// chrono's calendar for it cost an import 2.5% of its CPU (docs/PERFORMANCE.md).
pub(crate) fn utc_day(us: i64) -> Option<i32> {
    if !(FIRST_US..END_US).contains(&us) {
        return None;
    }
    i32::try_from(us.div_euclid(US_PER_DAY)).ok()
}

/// The calendar date of [`utc_day`]'s day number (those are all in chrono's range; a day
/// set by hand outside it gives chrono's first date).
pub(crate) fn day_date(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day.saturating_add(UNIX_EPOCH_DAYS_FROM_CE))
        .unwrap_or(NaiveDate::MIN)
}

/// `$last_seen` and similar profile dates: ISO-like text without a zone is UTC.
pub(crate) fn parse_datetime_us(s: &str) -> Option<i64> {
    const NAIVE: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"];
    let s = s.trim();
    let utc = NAIVE
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc())
        .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc()))
        .or_else(|| {
            let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            Some(day.and_hms_opt(0, 0, 0)?.and_utc())
        })?;
    Some(utc.timestamp_micros())
}

/// Digits after the decimal point in written timestamps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fraction {
    Millis,
    Micros,
}

/// Writes `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` (quoted); `null` if out of chrono's range.
pub(crate) fn write_timestamp(out: &mut Vec<u8>, us: i64, fraction: Fraction) {
    let Some(t) = DateTime::from_timestamp_micros(us) else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'"');
    write_date_digits(out, t.date_naive());
    out.push(b'T');
    push_digits(out, t.hour(), 2);
    out.push(b':');
    push_digits(out, t.minute(), 2);
    out.push(b':');
    push_digits(out, t.second(), 2);
    out.push(b'.');
    let micros = t.nanosecond() / 1_000;
    match fraction {
        Fraction::Millis => push_digits(out, micros / 1_000, 3),
        Fraction::Micros => push_digits(out, micros, 6),
    }
    out.extend_from_slice(b"Z\"");
}

/// Writes `"YYYY-MM-DD"` (quoted).
pub(crate) fn write_date(out: &mut Vec<u8>, date: NaiveDate) {
    out.push(b'"');
    write_date_digits(out, date);
    out.push(b'"');
}

fn write_date_digits(out: &mut Vec<u8>, date: NaiveDate) {
    match u32::try_from(date.year()) {
        Ok(year) if year <= 9999 => {
            push_digits(out, year, 4);
            out.push(b'-');
            push_digits(out, date.month(), 2);
            out.push(b'-');
            push_digits(out, date.day(), 2);
        }
        // Years outside 0..=9999 need a sign or a fifth digit; chrono knows the ISO 8601 form.
        // Writing into a Vec cannot fail.
        _ => {
            let _ = write!(out, "{}", date.format("%Y-%m-%d"));
        }
    }
}

/// Zero-padded decimal digits of `n` (which must have at most `width` digits).
fn push_digits(out: &mut Vec<u8>, n: u32, width: u32) {
    for i in (0..width).rev() {
        let digit = (n / 10u32.pow(i)) % 10;
        out.push(b'0' + digit as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(us: i64, fraction: Fraction) -> String {
        let mut out = Vec::new();
        write_timestamp(&mut out, us, fraction);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn seconds_and_millis_are_told_apart_by_magnitude() {
        assert_eq!(epoch_to_us(Number::Int(1_700_000_000)), Some(1_700_000_000_000_000));
        assert_eq!(epoch_to_us(Number::Int(1_700_000_000_123)), Some(1_700_000_000_123_000));
        assert_eq!(epoch_to_us(Number::UInt(1_700_000_000_123)), Some(1_700_000_000_123_000));
        assert_eq!(epoch_to_us(Number::Int(MS_THRESHOLD)), Some(MS_THRESHOLD * 1_000_000));
        assert_eq!(epoch_to_us(Number::Int(MS_THRESHOLD + 1)), Some((MS_THRESHOLD + 1) * 1_000));
        assert_eq!(epoch_to_us(Number::Int(-86_400)), Some(-86_400_000_000));
    }

    #[test]
    fn float_epochs_keep_sub_second_precision() {
        assert_eq!(epoch_to_us(Number::Float(1_700_000_000.25)), Some(1_700_000_000_250_000));
        assert_eq!(epoch_to_us(Number::Float(1_700_000_000_123.5)), Some(1_700_000_000_123_500));
    }

    #[test]
    fn epochs_that_do_not_fit_are_none() {
        assert_eq!(epoch_to_us(Number::UInt(u64::MAX)), None);
        assert_eq!(epoch_to_us(Number::Int(i64::MAX)), None);
        assert_eq!(epoch_to_us(Number::Float(1e300)), None);
        assert_eq!(number_to_ms(Number::Int(i64::MAX)), None);
        assert_eq!(number_to_ms(Number::Float(1_700_000_002_345.4)), Some(1_700_000_002_345));
    }

    #[test]
    fn timestamps_are_written_as_rfc3339_utc() {
        let us = 1_704_164_645_000_007; // 2024-01-02T03:04:05.000007Z
        assert_eq!(ts(us, Fraction::Micros), r#""2024-01-02T03:04:05.000007Z""#);
        assert_eq!(ts(1_700_000_002_345_000, Fraction::Millis), r#""2023-11-14T22:13:22.345Z""#);
        assert_eq!(ts(-1, Fraction::Micros), r#""1969-12-31T23:59:59.999999Z""#);
        // 10000-01-01T00:00:00Z needs chrono's signed, five-digit year form.
        assert_eq!(
            ts(253_402_300_800_000_000, Fraction::Millis),
            r#""+10000-01-01T00:00:00.000Z""#
        );
        assert_eq!(ts(i64::MAX, Fraction::Micros), "null");
    }

    #[test]
    fn dates_are_utc_days() {
        let mut out = Vec::new();
        write_date(&mut out, day_date(utc_day(1_704_153_599_999_999).unwrap()));
        assert_eq!(out, br#""2024-01-01""#);
        assert_eq!(utc_day(-1).map(day_date), NaiveDate::from_ymd_opt(1969, 12, 31));
        assert_eq!(utc_day(0), Some(0));
        assert_eq!(utc_day(US_PER_DAY - 1), Some(0));
        assert_eq!(utc_day(US_PER_DAY), Some(1));
    }

    /// The day and the year range agree with chrono's calendar, at the edges of the years
    /// 0000 to 9999 and at times spread over them.
    #[test]
    fn days_agree_with_chronos_calendar() {
        let chrono_day = |us: i64| {
            DateTime::from_timestamp_micros(us)
                .filter(|t| (0..=9999).contains(&t.year()))
                .map(|t| t.date_naive())
        };
        let edges = [FIRST_US - 1, FIRST_US, FIRST_US + 1, END_US - 1, END_US, END_US + 1];
        let spread = (0..2_000).map(|i: i64| FIRST_US + i * ((END_US - FIRST_US) / 1_999) - 7);
        for us in edges.into_iter().chain(spread).chain([i64::MIN, i64::MAX, -1, 0]) {
            assert_eq!(utc_day(us).map(day_date), chrono_day(us), "{us}");
        }
        let ms = |ms: i64| number_to_ms(Number::Int(ms));
        assert_eq!(ms(FIRST_US / 1_000), Some(FIRST_US / 1_000));
        assert_eq!(ms(FIRST_US / 1_000 - 1), None);
        assert_eq!(ms(END_US / 1_000 - 1), Some(END_US / 1_000 - 1));
        assert_eq!(ms(END_US / 1_000), None);
        assert_eq!(ms(i64::MAX), None);
    }

    #[test]
    fn profile_datetimes_without_zone_are_utc() {
        let want = Some(1_704_164_645_000_000);
        assert_eq!(parse_datetime_us("2024-01-02T03:04:05"), want);
        assert_eq!(parse_datetime_us("2024-01-02 03:04:05"), want);
        assert_eq!(parse_datetime_us("2024-01-02T04:04:05+01:00"), want);
        assert_eq!(parse_datetime_us("2024-01-02T03:04:05.5"), Some(1_704_164_645_500_000));
        assert_eq!(parse_datetime_us("2024-01-02"), Some(1_704_153_600_000_000));
        assert_eq!(parse_datetime_us("yesterday"), None);
    }
}
