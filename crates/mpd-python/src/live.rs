//! Python arguments to the service's request types: days as `YYYY-MM-DD` strings or
//! `datetime.date`, and the CLI's words for units, count types and retention types.

use chrono::NaiveDate;
use mpd_service::{CountType, DateSpan, LengthUnit, RetentionType, TimeUnit};
use pyo3::prelude::*;

use crate::errors::invalid;

/// A day given as `YYYY-MM-DD` or a `datetime.date`.
pub(crate) fn day(value: &Bound<'_, PyAny>, name: &str) -> PyResult<NaiveDate> {
    if let Ok(text) = value.extract::<String>() {
        return NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map_err(|_| invalid(format!("{name} must be a day like 2024-01-31, not {text:?}")));
    }
    value
        .extract::<NaiveDate>()
        .map_err(|_| invalid(format!("{name} must be a YYYY-MM-DD string or a datetime.date")))
}

/// The days from `from_date` to `to_date`, in order.
pub(crate) fn span(from: &Bound<'_, PyAny>, to: &Bound<'_, PyAny>) -> PyResult<DateSpan> {
    let (from, to) = (day(from, "from_date")?, day(to, "to_date")?);
    if from > to {
        return Err(invalid(format!("from_date {from} is after to_date {to}")));
    }
    Ok(DateSpan { from, to })
}

pub(crate) fn unit(word: &str) -> PyResult<TimeUnit> {
    TimeUnit::from_word(word).ok_or_else(|| {
        invalid(format!("unit must be minute, hour, day, week or month, not {word:?}"))
    })
}

pub(crate) fn count_type(word: &str) -> PyResult<CountType> {
    CountType::from_word(word)
        .ok_or_else(|| invalid(format!("type must be general, unique or average, not {word:?}")))
}

pub(crate) fn retention_type(word: &str) -> PyResult<RetentionType> {
    RetentionType::from_word(word)
        .ok_or_else(|| invalid(format!("retention_type must be birth or compounded, not {word:?}")))
}

pub(crate) fn length_unit(word: &str) -> PyResult<LengthUnit> {
    LengthUnit::from_word(word).ok_or_else(|| {
        invalid(format!("window_unit must be second, minute, hour or day, not {word:?}"))
    })
}
