//! Time buckets: the SQL that labels an event's bucket, and every label of a range in Rust
//! (so buckets without events still appear).

use crate::request::{DateSpan, TimeUnit};
use chrono::{Datelike, Days, Months, NaiveDate};

/// SQL labelling the bucket of the timestamp expression `time` (UTC; weeks start on Monday).
pub(super) fn label_sql(unit: TimeUnit, time: &str) -> String {
    match unit {
        TimeUnit::Minute => format!("to_char({time}, '%Y-%m-%d %H:%M:00')"),
        TimeUnit::Hour => format!("to_char({time}, '%Y-%m-%d %H:00:00')"),
        TimeUnit::Day => format!("to_char({time}, '%Y-%m-%d')"),
        TimeUnit::Week => format!("to_char(date_trunc('week', {time}), '%Y-%m-%d')"),
        TimeUnit::Month => format!("to_char({time}, '%Y-%m-01')"),
    }
}

/// Every bucket label overlapping the span, in time order.
pub(super) fn labels(unit: TimeUnit, span: DateSpan) -> Vec<String> {
    match unit {
        TimeUnit::Minute => days(span)
            .flat_map(|day| {
                (0..24 * 60).map(move |m| format!("{day} {:02}:{:02}:00", m / 60, m % 60))
            })
            .collect(),
        TimeUnit::Hour => {
            days(span).flat_map(|day| (0..24).map(move |h| format!("{day} {h:02}:00:00"))).collect()
        }
        TimeUnit::Day => days(span).map(|day| day.to_string()).collect(),
        TimeUnit::Week | TimeUnit::Month => {
            let mut out = Vec::new();
            let mut start = Some(start_of(unit, span.from));
            while let Some(day) = start.filter(|day| *day <= span.to) {
                out.push(day.to_string());
                start = next_start(unit, day, 1);
            }
            out
        }
    }
}

/// The first day of the day, week (Monday) or month holding `day`.
pub(super) fn start_of(unit: TimeUnit, day: NaiveDate) -> NaiveDate {
    match unit {
        TimeUnit::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
        TimeUnit::Month => day.with_day(1).unwrap_or(day),
        TimeUnit::Minute | TimeUnit::Hour | TimeUnit::Day => day,
    }
}

/// The day `n` units after `start` (day, week or month units); None past the calendar's end.
pub(super) fn next_start(unit: TimeUnit, start: NaiveDate, n: u64) -> Option<NaiveDate> {
    match unit {
        TimeUnit::Week => start.checked_add_days(Days::new(n.checked_mul(7)?)),
        TimeUnit::Month => start.checked_add_months(Months::new(u32::try_from(n).ok()?)),
        TimeUnit::Minute | TimeUnit::Hour | TimeUnit::Day => start.checked_add_days(Days::new(n)),
    }
}

fn days(span: DateSpan) -> impl Iterator<Item = NaiveDate> {
    span.from.iter_days().take_while(move |day| *day <= span.to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(from: &str, to: &str) -> DateSpan {
        DateSpan { from: from.parse().unwrap(), to: to.parse().unwrap() }
    }

    #[test]
    fn weeks_start_on_the_monday_before_the_range() {
        // 2024-03-06 is a Wednesday.
        let weeks = labels(TimeUnit::Week, span("2024-03-06", "2024-03-18"));
        assert_eq!(weeks, ["2024-03-04", "2024-03-11", "2024-03-18"]);
    }

    #[test]
    fn months_days_hours_and_minutes() {
        let range = span("2024-01-31", "2024-03-01");
        assert_eq!(labels(TimeUnit::Month, range), ["2024-01-01", "2024-02-01", "2024-03-01"]);
        assert_eq!(labels(TimeUnit::Day, range).len(), 31);
        let hours = labels(TimeUnit::Hour, span("2024-01-01", "2024-01-02"));
        assert_eq!(hours.len(), 48);
        assert_eq!(hours[47], "2024-01-02 23:00:00");
        let minutes = labels(TimeUnit::Minute, span("2024-01-01", "2024-01-01"));
        assert_eq!(
            (minutes[0].as_str(), minutes[1439].as_str()),
            ("2024-01-01 00:00:00", "2024-01-01 23:59:00")
        );
    }

    #[test]
    fn next_start_moves_by_whole_units() {
        let day: NaiveDate = "2024-01-31".parse().unwrap();
        assert_eq!(
            next_start(TimeUnit::Month, start_of(TimeUnit::Month, day), 1),
            Some("2024-02-01".parse().unwrap())
        );
        assert_eq!(next_start(TimeUnit::Week, day, 2), Some("2024-02-14".parse().unwrap()));
        assert_eq!(next_start(TimeUnit::Day, day, 3), Some("2024-02-03".parse().unwrap()));
    }
}
