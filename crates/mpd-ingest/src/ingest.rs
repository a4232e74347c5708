//! The part of every event load that is the same for `fetch`, `sync` and `import`: fetched
//! batches are filtered (erased users), deduplicated against the store and written, with true
//! duplicates going to the audit table.

use arrow_array::RecordBatch;
use chrono::NaiveDate;
use mpd_store::{Store, TableWriter, WriteMode};

use crate::day_spill::DaySpill;
use crate::dedup::{
    Deduper, KeptRows, KeyKind, date_values, distinct_dates, kept_rows, kept_rows_by_date,
    normalize_strings, rejected_rows,
};
use crate::erased::ErasedIds;
use crate::error::{Error, Result};
use crate::layout::audit_writer;

/// Dates a batch of input in day order touches at most (an export day of a project whose time
/// zone is not UTC spans two UTC dates).
const ORDERED_INPUT_DATES: usize = 2;

/// The audit table that goes with `table`.
pub fn audit_table_name(table: &str) -> String {
    if table == "events" {
        "rejected_duplicates".to_owned()
    } else {
        format!("{table}_rejected_duplicates")
    }
}

/// What an ingest did to the rows it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestCounts {
    /// Rows added to the table.
    pub written: u64,
    /// Rows already stored with the same key and processing time (re-reads).
    pub already_present: u64,
    /// True duplicates written to the audit table.
    pub duplicates_rejected: u64,
    /// True duplicates the audit table already held.
    pub duplicates_already_audited: u64,
    /// Rows of users erased with `mpd gdpr delete`, dropped before dedup.
    pub erased_dropped: u64,
}

impl IngestCounts {
    /// The commit record of `command` with these counts.
    pub fn commit_info(&self, command: &str) -> mpd_store::CommitInfo {
        mpd_store::CommitInfo {
            written: Some(self.written),
            already_present: Some(self.already_present),
            duplicates_rejected: Some(self.duplicates_rejected),
            erased_dropped: Some(self.erased_dropped),
            ..mpd_store::CommitInfo::new(command)
        }
    }

    pub fn add(&mut self, other: IngestCounts) {
        self.written += other.written;
        self.already_present += other.already_present;
        self.duplicates_rejected += other.duplicates_rejected;
        self.duplicates_already_audited += other.duplicates_already_audited;
        self.erased_dropped += other.erased_dropped;
    }
}

/// How an ingest starts.
pub struct IngestOptions<'a> {
    pub store: &'a Store,
    pub table: &'a str,
    pub key_kind: KeyKind,
    pub sync_id: i64,
    /// Whether the table holds rows new ones must be compared with.
    pub compare_with_store: bool,
    /// Whether the audit table is replaced by the first audit commit (fetch --replace).
    pub replace_audit: bool,
    pub erased: ErasedIds,
    /// Keys the deduper may hold before it moves the least recently touched days' keys to a
    /// temporary file (rows of those days then wait in a day spill until
    /// [`Ingest::write_set_aside`]); None holds every key.
    pub held_keys_limit: Option<usize>,
}

/// Deduplicating writes into one events table across one or more commits.
pub struct Ingest<'a> {
    store: &'a Store,
    table: &'a str,
    audit_table: String,
    key_kind: KeyKind,
    sync_id: i64,
    compare_with_store: bool,
    audit_exists: bool,
    replace_audit: bool,
    deduper: Deduper,
    audit_writer: Option<TableWriter>,
    erased: ErasedIds,
    /// What the rows given since the last [`Ingest::take_counts`] became.
    counts: IngestCounts,
    held_keys_limit: Option<usize>,
    /// Rows of days whose keys were evicted.
    set_aside: Option<DaySpill>,
    /// `rejected_at` of the audit rows of the current commit: one instant for all of them,
    /// so the audit says which run rejected a row and its files do not depend on timing.
    rejected_at_us: i64,
}

impl<'a> Ingest<'a> {
    pub async fn new(options: IngestOptions<'a>) -> Result<Self> {
        let audit_table = audit_table_name(options.table);
        Ok(Self {
            audit_exists: options.store.exists(&audit_table).await?,
            store: options.store,
            table: options.table,
            audit_table,
            key_kind: options.key_kind,
            sync_id: options.sync_id,
            compare_with_store: options.compare_with_store,
            replace_audit: options.replace_audit,
            deduper: Deduper::new(options.key_kind, options.sync_id),
            audit_writer: None,
            erased: options.erased,
            counts: IngestCounts::default(),
            held_keys_limit: options.held_keys_limit,
            set_aside: None,
            rejected_at_us: now_us(),
        })
    }

    pub fn audit_table(&self) -> &str {
        &self.audit_table
    }

    /// The counts since the last call.
    pub fn take_counts(&mut self) -> IngestCounts {
        std::mem::take(&mut self.counts)
    }

    /// Deduplicates one fetched batch and writes what survives (and the audit rows).
    pub async fn write(&mut self, batch: RecordBatch, writer: &mut TableWriter) -> Result<()> {
        self.write_keyed(batch, None, writer).await
    }

    /// Deduplicates and writes the rows set aside while their days' keys were evicted, one day
    /// at a time (rows of a day in the order they came). Every other day's keys are let go of
    /// first: the input is over, so memory holds one day's keys. Call before the commit.
    pub async fn write_set_aside(&mut self, writer: &mut TableWriter) -> Result<()> {
        let Some(spill) = self.set_aside.take() else {
            return Ok(());
        };
        self.deduper.finish_held();
        let limit = self.held_keys_limit.take();
        let mut days = spill.into_days()?;
        let mut outcome = Ok(());
        while let Some(mut day) = days.next_day() {
            outcome = self.deduper.restore_day(day.date, day.rows);
            while outcome.is_ok() {
                match day.next_batch() {
                    Ok(Some(batch)) => outcome = self.write_keyed(batch, None, writer).await,
                    Ok(None) => break,
                    Err(error) => outcome = Err(error),
                }
            }
            self.deduper.finish_day(day.date);
            if outcome.is_err() {
                break;
            }
        }
        self.held_keys_limit = limit;
        outcome
    }

    /// The key kind rows are compared by (to compute keys elsewhere, see `write_keyed`).
    pub fn key_kind(&self) -> KeyKind {
        self.deduper.kind()
    }

    /// [`Ingest::write`] of a batch whose keys were computed beforehand
    /// (`Deduper::keys`), where the rows were decoded.
    pub async fn write_keyed(
        &mut self,
        batch: RecordBatch,
        keys: Option<Vec<u128>>,
        writer: &mut TableWriter,
    ) -> Result<()> {
        let (batch, dropped) = self.erased.drop_erased(batch)?;
        self.counts.erased_dropped += dropped;
        // Rows dropped for erased users shift the rest: their keys are computed again.
        let keys = keys.filter(|_| dropped == 0);
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let dates = distinct_dates(&batch)?;
        let evicted = dates.iter().any(|d| self.deduper.is_evicted(*d));
        let (batch, keys) =
            if evicted { self.set_evicted_days_aside(batch, keys)? } else { (batch, keys) };
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let unloaded = self.deduper.unloaded_dates(&dates);
        if !unloaded.is_empty() {
            if self.compare_with_store {
                self.load_stored_keys(&unloaded).await?;
            }
            self.deduper.mark_loaded(&unloaded);
        }
        let verdicts = self.deduper.judge(&batch, keys.as_deref())?;
        self.deduper.touch(&dates);
        if let Some(limit) = self.held_keys_limit
            && self.deduper.held_keys() > limit
        {
            // Down to three quarters, so that eviction does not come back at every batch. Input
            // in day order (a fetch: an export day is one or two UTC dates) keeps the dates it
            // is at, even when one day has more keys than the limit: setting them aside would
            // set aside every later batch of that day. A batch of many dates (a shuffled dump)
            // keeps none.
            let current: &[i32] = if dates.len() <= ORDERED_INPUT_DATES { &dates } else { &[] };
            self.deduper.evict_down_to(limit - limit / 4, current)?;
        }
        self.counts.already_present += verdicts.already_present;
        self.counts.duplicates_already_audited += verdicts.already_audited;
        if !verdicts.rejected.is_empty() {
            let audit = rejected_rows(&batch, &verdicts.rejected, self.rejected_at_us)?;
            self.counts.duplicates_rejected += audit.num_rows() as u64;
            self.open_audit_writer().await?.write(audit).await?;
        }
        for kept in kept_rows_by_date(&batch, &verdicts.keep)? {
            match kept {
                KeptRows::Whole(rows) => {
                    self.counts.written += rows.num_rows() as u64;
                    writer.write(rows).await?;
                }
                KeptRows::Numbered(batch, rows) => {
                    self.counts.written += rows.len() as u64;
                    writer.write_rows(batch, rows).await?;
                }
            }
        }
        Ok(())
    }

    /// Sets the rows of `batch` whose day's keys are evicted aside; returns the others, with
    /// their keys.
    fn set_evicted_days_aside(
        &mut self,
        batch: RecordBatch,
        keys: Option<Vec<u128>>,
    ) -> Result<(RecordBatch, Option<Vec<u128>>)> {
        let evicted: Vec<bool> =
            date_values(&batch)?.iter().map(|d| self.deduper.is_evicted(*d)).collect();
        let later = kept_rows(&batch, evicted.clone())?;
        self.set_aside.get_or_insert_with(DaySpill::new).push(later)?;
        let now: Vec<bool> = evicted.iter().map(|e| !e).collect();
        let keys = keys.map(|keys| {
            keys.into_iter().zip(&now).filter(|(_, now)| **now).map(|(key, _)| key).collect()
        });
        Ok((kept_rows(&batch, now)?, keys))
    }

    /// Commits the audit rows written since the last commit (after the events commit: a run
    /// stopped in between re-audits them next time, as the key is then known as stored).
    /// Returns whether there was anything to commit.
    pub async fn commit_audit(
        &mut self,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool> {
        let Some(audit) = self.audit_writer.take() else {
            return Ok(false);
        };
        audit.commit(metadata).await?;
        self.audit_exists = true;
        self.replace_audit = false;
        Ok(true)
    }

    /// Forgets what this ingest accepted: the next batches are compared with the store as
    /// committed now. Keeps memory bounded by one commit's days.
    pub fn start_next_commit(&mut self) {
        self.deduper = Deduper::new(self.key_kind, self.sync_id);
        self.compare_with_store = true;
        self.rejected_at_us = now_us();
    }

    /// Removes the uncommitted audit files.
    pub async fn abort(&mut self) {
        if let Some(audit) = self.audit_writer.take()
            && let Err(error) = audit.abort().await
        {
            tracing::warn!(%error, "could not remove the audit files of the failed run");
        }
    }

    /// Loads the stored keys of `dates` (and the audit table's), reading only key columns of
    /// those partitions.
    async fn load_stored_keys(&mut self, dates: &[i32]) -> Result<()> {
        let days: Vec<NaiveDate> = dates.iter().filter_map(|d| date32_to_day(*d)).collect();
        if self.store.exists(self.table).await? {
            let key_columns = [
                "date",
                "event_name",
                "distinct_id",
                "insert_id",
                "time",
                "mp_processing_time",
                "_sync_id",
            ];
            let mut without_insert_id = 0;
            for stored in self.store.read_columns(self.table, &key_columns, Some(&days)).await? {
                without_insert_id += self
                    .deduper
                    .remember(&normalize_strings(stored)?)
                    .map_err(|e| e.in_table(self.table))?;
            }
            // Rows without $insert_id are keyed by their properties too; they are rare, so
            // only they are read again with that column, and only when there are any.
            if without_insert_id > 0 {
                for stored in self.rows_without_insert_id(self.table, &days).await? {
                    self.deduper
                        .remember(&normalize_strings(stored)?)
                        .map_err(|e| e.in_table(self.table))?;
                }
            }
        }
        if self.audit_exists {
            let audit_columns =
                ["event_name", "distinct_id", "insert_id", "time", "mp_processing_time"];
            let mut without_insert_id = 0;
            for audited in
                self.store.read_columns(&self.audit_table, &audit_columns, Some(&days)).await?
            {
                without_insert_id += self
                    .deduper
                    .remember_audited(&normalize_strings(audited)?)
                    .map_err(|e| e.in_table(&self.audit_table))?;
            }
            if without_insert_id > 0 {
                for audited in self.rows_without_insert_id(&self.audit_table, &days).await? {
                    self.deduper
                        .remember_audited(&normalize_strings(audited)?)
                        .map_err(|e| e.in_table(&self.audit_table))?;
                }
            }
        }
        Ok(())
    }

    async fn rows_without_insert_id(
        &self,
        table: &str,
        days: &[NaiveDate],
    ) -> Result<Vec<RecordBatch>> {
        let mut columns = vec![
            "date",
            "event_name",
            "distinct_id",
            "device_id",
            "insert_id",
            "time",
            "mp_processing_time",
            "properties",
        ];
        if table == self.table {
            columns.push("_sync_id");
        }
        let predicate = Some("insert_id IS NULL");
        Ok(self.store.read_columns_where(table, &columns, Some(days), predicate).await?)
    }

    async fn open_audit_writer(&mut self) -> Result<&mut TableWriter> {
        if self.audit_writer.is_none() {
            let mode = if self.replace_audit { WriteMode::Replace } else { WriteMode::Append };
            let writer = audit_writer(self.store, &self.audit_table, mode).await?;
            self.audit_writer = Some(writer);
        }
        self.audit_writer
            .as_mut()
            .ok_or_else(|| Error::Internal("audit writer vanished".to_owned()))
    }
}

pub fn date32_to_day(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(i64::from(days)))
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use mpd_decode::{EventBatchBuilder, LineFormat, TimeCorrection, TypedProperties};
    use mpd_store::{CommitInfo, StoreMode};

    use super::*;
    use crate::layout::events_writer;

    fn batch(lines: &[String]) -> RecordBatch {
        let mut builder = EventBatchBuilder::with_typed(
            LineFormat::Export,
            TimeCorrection::None,
            0,
            1024,
            TypedProperties::default(),
        );
        for line in lines {
            builder.push_line(line.as_bytes()).expect("valid line");
        }
        builder.finish().expect("rows")
    }

    /// An export line of event `id`, processed by Mixpanel at `processed` (ms): copies that
    /// differ only there are duplicates Mixpanel sent twice, which the audit keeps.
    fn line(id: &str, processed: u64) -> String {
        format!(
            r#"{{"event":"E","properties":{{"time":1700000000,"$insert_id":"{id}","distinct_id":"u","mp_processing_time_ms":{processed}}}}}"#
        )
    }

    async fn distinct_rejected_at(store: &Store) -> i64 {
        let result = store
            .sql("SELECT count(DISTINCT rejected_at) AS n FROM rejected_duplicates")
            .await
            .expect("query");
        let column = result.batches[0].column(0);
        column.as_any().downcast_ref::<arrow_array::Int64Array>().expect("count").value(0)
    }

    /// Rows rejected in different batches of one commit carry one `rejected_at`; the next
    /// commit's carry another.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_rows_one_commit_rejects_share_their_rejected_at() {
        let store = Store::open(StoreMode::InMemory).await.expect("store");
        let typed = TypedProperties::default();
        let mut writer =
            events_writer(&store, "events", WriteMode::Create, &typed).await.expect("writer");
        let mut ingest = Ingest::new(IngestOptions {
            store: &store,
            table: "events",
            key_kind: KeyKind::InsertIdTime,
            sync_id: 1,
            compare_with_store: false,
            replace_audit: false,
            erased: ErasedIds::default(),
            held_keys_limit: None,
        })
        .await
        .expect("ingest");
        let (a, b) = ("a", "b");
        let first = [line(a, 1_700_000_000_100), line(a, 1_700_000_000_200)];
        ingest.write(batch(&first), &mut writer).await.expect("first batch");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let second =
            [line(a, 1_700_000_000_300), line(b, 1_700_000_000_100), line(b, 1_700_000_000_200)];
        ingest.write(batch(&second), &mut writer).await.expect("second batch");
        let counts = ingest.take_counts();
        assert_eq!((counts.written, counts.duplicates_rejected), (2, 3));
        writer.commit(CommitInfo::new("test").to_metadata()).await.expect("commit");
        ingest.commit_audit(CommitInfo::new("test").to_metadata()).await.expect("audit");
        assert_eq!(distinct_rejected_at(&store).await, 1, "one instant for the commit");

        ingest.start_next_commit();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let mut writer =
            events_writer(&store, "events", WriteMode::Append, &typed).await.expect("writer");
        let next = [line(b, 1_700_000_000_300)];
        ingest.write(batch(&next), &mut writer).await.expect("next commit's batch");
        assert_eq!(ingest.take_counts().duplicates_rejected, 1);
        writer.commit(CommitInfo::new("test").to_metadata()).await.expect("commit");
        ingest.commit_audit(CommitInfo::new("test").to_metadata()).await.expect("audit");
        assert_eq!(distinct_rejected_at(&store).await, 2, "the next commit has its own");
    }
}
