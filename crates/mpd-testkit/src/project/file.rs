//! Serving a real export-shaped JSONL file (benchmarks): lines grouped by the UTC day of
//! `properties.time`, kept byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Deserialize;

use super::day::{DayBuilder, DayData};
use crate::synth::day_of_ms;
use crate::{Error, Result};

/// The file's days and event names.
#[derive(Debug, Default)]
pub(crate) struct FileData {
    pub(crate) days: BTreeMap<NaiveDate, Arc<DayData>>,
    pub(crate) event_names: Vec<String>,
}

#[derive(Deserialize)]
struct LineHead {
    event: Option<String>,
    properties: PropsHead,
}

#[derive(Deserialize)]
struct PropsHead {
    time: Option<f64>,
}

pub(crate) fn load(path: &Path) -> Result<FileData> {
    let text =
        std::fs::read(path).map_err(|source| Error::ReadJsonl { path: path.to_owned(), source })?;
    parse(&text).map_err(|(line, message)| Error::ParseJsonl {
        path: path.to_owned(),
        line,
        message,
    })
}

/// Groups lines by day; the error is (1-based line number, reason).
fn parse(text: &[u8]) -> std::result::Result<FileData, (usize, String)> {
    let mut days: BTreeMap<NaiveDate, DayBuilder> = BTreeMap::new();
    let mut names = BTreeSet::new();
    for (i, raw) in text.split(|b| *b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let head: LineHead = serde_json::from_slice(line).map_err(|e| (i + 1, e.to_string()))?;
        let time =
            head.properties.time.ok_or_else(|| (i + 1, "properties.time is missing".to_owned()))?;
        // Same magnitude rule as the product: above 1e11 the value is already in ms.
        let time_ms = if time.abs() > 1e11 { time } else { time * 1000.0 } as i64;
        let day =
            day_of_ms(time_ms).ok_or_else(|| (i + 1, format!("time {time} is out of range")))?;
        if let Some(name) = head.event {
            names.insert(name);
        }
        days.entry(day).or_default().push(line, time_ms);
    }
    Ok(FileData {
        days: days.into_iter().map(|(day, b)| (day, Arc::new(b.finish()))).collect(),
        event_names: names.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::date;

    #[test]
    fn groups_by_utc_day_and_keeps_bytes() {
        let text = concat!(
            "{\"event\":\"B\",\"properties\":{\"time\":1704153600,\"x\":  1}}\n",
            "\n",
            "{\"event\":\"A\",\"properties\":{\"time\":1704067199000}}\r\n",
            "{\"event\":\"A\",\"properties\":{\"time\":1704067200}}",
        );
        let data = parse(text.as_bytes()).unwrap();
        assert_eq!(data.event_names, ["A", "B"]);
        let days: Vec<NaiveDate> = data.days.keys().copied().collect();
        assert_eq!(days, [date(2023, 12, 31), date(2024, 1, 1), date(2024, 1, 2)]);
        let jan2 = &data.days[&date(2024, 1, 2)];
        assert_eq!(
            jan2.line(0),
            b"{\"event\":\"B\",\"properties\":{\"time\":1704153600,\"x\":  1}}"
        );
        assert_eq!(jan2.lines[0].time_ms, 1_704_153_600_000);
    }

    #[test]
    fn bad_lines_report_their_number() {
        let err = parse(b"{\"event\":\"A\",\"properties\":{\"time\":1}}\nnot json\n").unwrap_err();
        assert_eq!(err.0, 2);
        let err = parse(b"{\"event\":\"A\",\"properties\":{}}\n").unwrap_err();
        assert_eq!(err.0, 1);
    }
}
