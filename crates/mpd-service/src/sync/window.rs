//! Which days a sync reads: from the cursor (the last fully synced day, kept in the Delta log
//! as an application-transaction version) back by the lookback, up to today in the project's
//! time zone.

use chrono::{Datelike, NaiveDate};

use crate::error::{Error, Result};

/// Why a sync reads the days it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// No cursor yet: from `--from` to today.
    FirstRun,
    /// From the cursor minus the lookback to today.
    Incremental,
    /// `--backfill FROM TO`: the range given, the cursor unchanged.
    Backfill,
}

impl std::fmt::Display for SyncMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SyncMode::FirstRun => "first run",
            SyncMode::Incremental => "incremental",
            SyncMode::Backfill => "backfill",
        })
    }
}

/// The days of one sync, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SyncWindow {
    /// Why these days.
    pub mode: SyncMode,
    /// First day read.
    pub from: NaiveDate,
    /// Last day read.
    pub to: NaiveDate,
    /// Today in the project's time zone (the last day Mixpanel can export; never complete).
    pub today: NaiveDate,
}

impl SyncWindow {
    /// Works out the days to read.
    pub(crate) fn new(
        cursor: Option<NaiveDate>,
        today: NaiveDate,
        lookback_days: u32,
        first_from: Option<NaiveDate>,
        backfill: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<Self> {
        if let Some((from, to)) = backfill {
            if from > to {
                return Err(Error::InvalidArgument(format!(
                    "--backfill {from} {to}: the range must start on or before its end"
                )));
            }
            if to > today {
                return Err(Error::InvalidArgument(format!(
                    "--backfill ends on {to}, after today ({today} in the project's time zone); \
                     Mixpanel cannot export future days"
                )));
            }
            return Ok(Self { mode: SyncMode::Backfill, from, to, today });
        }
        if let Some(cursor) = cursor {
            // A cron line keeps its --from: the lookback then never reaches before it.
            let lookback = cursor
                .checked_sub_days(chrono::Days::new(u64::from(lookback_days)))
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "a lookback of {lookback_days} days before {cursor} is before any date"
                    ))
                })?;
            let from = first_from.map_or(lookback, |first| lookback.max(first));
            return Ok(Self {
                mode: SyncMode::Incremental,
                from: from.min(today),
                to: today,
                today,
            });
        }
        let Some(from) = first_from else {
            return Err(Error::InvalidArgument(
                "this is the first sync of the table: give --from YYYY-MM-DD, the first day to \
                 read (later syncs continue from where the last one stopped)"
                    .to_owned(),
            ));
        };
        if from > today {
            return Err(Error::InvalidArgument(format!(
                "--from {from} is after today ({today} in the project's time zone)"
            )));
        }
        Ok(Self { mode: SyncMode::FirstRun, from, to: today, today })
    }

    /// Days in the window.
    pub fn n_days(&self) -> u64 {
        crate::stream::range::DayRange { from: self.from, to: self.to }.n_days()
    }

    /// The cursor after the days up to `last` are committed: the last complete day read, never
    /// today (still receiving events), never moved by a backfill, never moved backwards.
    pub(crate) fn cursor_after(
        &self,
        cursor: Option<NaiveDate>,
        last: NaiveDate,
    ) -> Option<NaiveDate> {
        if self.mode == SyncMode::Backfill {
            return cursor;
        }
        let complete = last.min(self.today.pred_opt().unwrap_or(self.today));
        if complete < self.from {
            return cursor;
        }
        Some(cursor.map_or(complete, |c| c.max(complete)))
    }
}

/// The events table's sync cursor for `project_id`, as its log holds it (None before a first
/// sync, or when there is no events table).
pub(crate) async fn events_cursor(
    store: &mpd_store::Store,
    project_id: u64,
) -> Result<Option<NaiveDate>> {
    let table = super::EVENTS_TABLE;
    if !store.exists(table).await? {
        return Ok(None);
    }
    let app_id = cursor_app_id(project_id, table);
    Ok(store.app_transaction_version(table, &app_id).await?.and_then(version_to_day))
}

/// The Delta application-transaction id of a table's sync cursor.
pub(crate) fn cursor_app_id(project_id: u64, table: &str) -> String {
    format!("mpd-sync:{project_id}:{table}")
}

/// A day as the cursor's transaction version: `YYYYMMDD`, so the log stays readable.
pub(crate) fn day_to_version(day: NaiveDate) -> i64 {
    i64::from(day.year()) * 10_000 + i64::from(day.month()) * 100 + i64::from(day.day())
}

pub(crate) fn version_to_day(version: i64) -> Option<NaiveDate> {
    let year = i32::try_from(version / 10_000).ok()?;
    let month = u32::try_from(version / 100 % 100).ok()?;
    let day = u32::try_from(version % 100).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_first_sync_needs_a_start_day() {
        let error = SyncWindow::new(None, d("2024-03-10"), 5, None, None).unwrap_err();
        assert!(error.to_string().contains("--from"), "{error}");
        let window =
            SyncWindow::new(None, d("2024-03-10"), 5, Some(d("2024-03-01")), None).unwrap();
        assert_eq!(
            (window.mode, window.from, window.to),
            (SyncMode::FirstRun, d("2024-03-01"), d("2024-03-10"))
        );
        assert_eq!(window.n_days(), 10);
    }

    #[test]
    fn later_syncs_reread_the_lookback_but_not_before_from() {
        let window =
            SyncWindow::new(Some(d("2024-03-09")), d("2024-03-10"), 5, Some(d("2024-03-06")), None)
                .unwrap();
        assert_eq!((window.mode, window.from), (SyncMode::Incremental, d("2024-03-06")));
        let window =
            SyncWindow::new(Some(d("2024-03-09")), d("2024-03-10"), 5, None, None).unwrap();
        assert_eq!((window.from, window.to), (d("2024-03-04"), d("2024-03-10")));
    }

    #[test]
    fn a_lookback_reaching_before_any_date_is_refused() {
        let error = SyncWindow::new(Some(d("2024-03-09")), d("2024-03-10"), u32::MAX, None, None)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "a lookback of 4294967295 days before 2024-03-09 is before any date"
        );
    }

    #[test]
    fn the_cursor_never_covers_today_nor_moves_back() {
        let window =
            SyncWindow::new(None, d("2024-03-10"), 5, Some(d("2024-03-01")), None).unwrap();
        assert_eq!(window.cursor_after(None, d("2024-03-03")), Some(d("2024-03-03")));
        assert_eq!(
            window.cursor_after(Some(d("2024-03-03")), d("2024-03-10")),
            Some(d("2024-03-09"))
        );
        assert_eq!(
            window.cursor_after(Some(d("2024-03-09")), d("2024-03-05")),
            Some(d("2024-03-09"))
        );
        let today_only =
            SyncWindow::new(None, d("2024-03-10"), 5, Some(d("2024-03-10")), None).unwrap();
        assert_eq!(today_only.cursor_after(None, d("2024-03-10")), None);
    }

    #[test]
    fn backfills_keep_the_cursor_and_stay_in_the_past() {
        let window = SyncWindow::new(
            Some(d("2024-03-09")),
            d("2024-03-10"),
            5,
            None,
            Some((d("2024-01-01"), d("2024-01-31"))),
        )
        .unwrap();
        assert_eq!(window.mode, SyncMode::Backfill);
        assert_eq!(
            window.cursor_after(Some(d("2024-03-09")), d("2024-01-31")),
            Some(d("2024-03-09"))
        );
        let future = SyncWindow::new(
            None,
            d("2024-03-10"),
            5,
            None,
            Some((d("2024-03-01"), d("2024-03-11"))),
        );
        assert!(future.unwrap_err().to_string().contains("after today"));
        let reversed = SyncWindow::new(
            None,
            d("2024-03-10"),
            5,
            None,
            Some((d("2024-03-05"), d("2024-03-01"))),
        );
        assert!(reversed.unwrap_err().to_string().contains("start on or before"));
    }

    #[test]
    fn cursor_versions_are_readable_dates() {
        assert_eq!(day_to_version(d("2024-03-09")), 20_240_309);
        assert_eq!(version_to_day(20_240_309), Some(d("2024-03-09")));
        assert_eq!(version_to_day(20_241_399), None);
    }
}
