//! Exactly-once rows (docs/sync.md): the first stored copy of a key wins; a later copy with
//! the same `mp_processing_time` is a re-read, one with another is a true duplicate (audited).
//!
//! `time` is part of every key, so copies of an event share its `date` partition: the deduper
//! loads the keys of a date the first time a batch touches it and never looks at other dates,
//! and holds them in one map per date (`held.rs`), which it lets go of when told that a day is
//! finished. Keys are kept as 128-bit hashes, 24 bytes an entry.

use std::collections::HashSet;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt32Array,
};
use arrow_schema::DataType;

use crate::error::{Error, Result};

mod held;

use held::{HeldKeys, Kept, MapKey};

/// Which columns make an event's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `(insert_id, time)`: survives Mixpanel re-keying `distinct_id` after identity merges.
    InsertIdTime,
    /// Mixpanel's own rule: `(event_name, distinct_id, time, insert_id)`.
    Mixpanel,
}

/// Per batch: which rows to write, which to audit, what was skipped.
#[derive(Debug, Default)]
pub struct Verdicts {
    pub keep: Vec<bool>,
    /// Row index, reason, sync id of the kept copy.
    pub rejected: Vec<(u32, &'static str, i64)>,
    pub already_present: u64,
    pub already_audited: u64,
}

pub const REASON_STORED: &str =
    "true duplicate: a stored row has the same key and another mp_processing_time";
pub const REASON_IN_FETCH: &str =
    "true duplicate: an earlier row of this fetch has the same key and another mp_processing_time";

pub struct Deduper {
    kind: KeyKind,
    sync_id: i64,
    kept: HeldKeys,
    /// The sync ids of kept copies, indexed by [`Kept::sync_index`]; index 0 is this run's.
    sync_ids: Vec<i64>,
    audited: HashSet<(u128, Option<i64>)>,
    loaded_dates: HashSet<i32>,
}

/// The key columns of an `events`-shaped batch, with the synthetic key for rows without
/// `$insert_id`.
pub struct KeyColumns<'a> {
    event_name: &'a StringArray,
    distinct_id: &'a StringArray,
    device_id: Option<&'a StringArray>,
    insert_id: &'a StringArray,
    time: &'a TimestampMicrosecondArray,
    properties: Option<&'a StringArray>,
}

impl<'a> KeyColumns<'a> {
    /// Reads the key columns of `batch` (already cast to Utf8 where needed).
    pub fn of(batch: &'a RecordBatch) -> Result<Self> {
        Ok(Self {
            event_name: string_column(batch, "event_name")?,
            distinct_id: string_column(batch, "distinct_id")?,
            device_id: string_column(batch, "device_id").ok(),
            insert_id: string_column(batch, "insert_id")?,
            time: typed(batch, "time", "a microsecond timestamp", |c| {
                c.as_primitive_opt::<TimestampMicrosecondType>()
            })?,
            properties: string_column(batch, "properties").ok(),
        })
    }

    /// Whether the row's key can be computed from these columns (rows without `$insert_id`
    /// need their properties, which bulk key reads leave out).
    fn has_key(&self, row: usize) -> bool {
        self.insert_id.is_valid(row) || self.properties.is_some()
    }

    fn key(&self, kind: KeyKind, row: usize) -> Result<u128> {
        let time = self.time.value(row);
        let synthetic;
        let insert_id = if self.insert_id.is_valid(row) {
            self.insert_id.value(row)
        } else {
            let properties = self.properties.ok_or_else(|| {
                Error::Internal("a row without insert_id needs its properties".to_owned())
            })?;
            // $device_id survives Mixpanel re-keying distinct_id after an identity merge.
            let identity = match self.device_id {
                Some(devices) if devices.is_valid(row) && !devices.value(row).is_empty() => {
                    devices.value(row)
                }
                _ => self.distinct_id.value(row),
            };
            synthetic = mpd_decode::synthetic_insert_id(
                self.event_name.value(row),
                identity,
                time,
                properties.value(row),
            );
            &synthetic
        };
        Ok(match kind {
            KeyKind::InsertIdTime => hash128(&[insert_id.as_bytes()], time),
            KeyKind::Mixpanel => hash128(
                &[
                    self.event_name.value(row).as_bytes(),
                    self.distinct_id.value(row).as_bytes(),
                    insert_id.as_bytes(),
                ],
                time,
            ),
        })
    }
}

impl Deduper {
    pub fn new(kind: KeyKind, sync_id: i64) -> Self {
        Self {
            kind,
            sync_id,
            kept: HeldKeys::default(),
            sync_ids: vec![sync_id],
            audited: HashSet::new(),
            loaded_dates: HashSet::new(),
        }
    }

    /// How many keys are held.
    pub fn held_keys(&self) -> usize {
        self.kept.len()
    }

    /// Brings back the keys of an evicted `date`, with room for `rows` more.
    pub fn restore_day(&mut self, date: i32, rows: usize) -> Result<()> {
        self.kept.restore(date, rows)
    }

    /// Lets go of the keys of `date` (days since the epoch): no more rows of it will come.
    pub fn finish_day(&mut self, date: i32) {
        self.kept.finish(date);
    }

    /// Lets go of the keys of every held date (the evicted ones wait for [`Self::restore_day`]).
    pub fn finish_held(&mut self) {
        self.kept.finish_held();
    }

    /// Notes that a batch touched `dates`.
    pub fn touch(&mut self, dates: &[i32]) {
        self.kept.touch(dates);
    }

    /// Moves the keys of the least recently touched dates but those of `keep` to a temporary
    /// file until at most `target` keys are held; rows of those dates must then wait for
    /// [`Self::restore_day`].
    pub fn evict_down_to(&mut self, target: usize, keep: &[i32]) -> Result<()> {
        self.kept.evict_down_to(target, keep)
    }

    /// Whether the keys of `date` were moved to the temporary file.
    pub fn is_evicted(&self, date: i32) -> bool {
        self.kept.is_evicted(date)
    }

    /// The index of `sync_id` in [`Deduper::sync_ids`], added when new. Past 65,535 distinct
    /// sync ids (never seen: they number the runs that wrote the days at hand), the last index
    /// stands for all the rest.
    fn sync_index(&mut self, sync_id: i64) -> u16 {
        // Stored rows come in files of one run: the last id is usually the one.
        if self.sync_ids.last() == Some(&sync_id) {
            return u16::try_from(self.sync_ids.len() - 1).unwrap_or(u16::MAX);
        }
        if let Some(index) = self.sync_ids.iter().position(|s| *s == sync_id) {
            return u16::try_from(index).unwrap_or(u16::MAX);
        }
        if self.sync_ids.len() <= usize::from(u16::MAX) {
            self.sync_ids.push(sync_id);
        }
        u16::try_from(self.sync_ids.len() - 1).unwrap_or(u16::MAX)
    }

    /// Which of `dates` (days since the epoch) have their stored keys not loaded yet.
    pub fn unloaded_dates(&self, dates: &[i32]) -> Vec<i32> {
        dates.iter().copied().filter(|d| !self.loaded_dates.contains(d)).collect()
    }

    /// Marks dates as loaded (after their stored keys were given to [`Deduper::remember`], or
    /// when there is nothing stored to compare with).
    pub fn mark_loaded(&mut self, dates: &[i32]) {
        self.loaded_dates.extend(dates);
    }

    /// Remembers stored rows (key columns + `mp_processing_time` + `_sync_id`). Rows without
    /// `$insert_id` are skipped unless `properties` is among the columns.
    /// Returns how many rows were skipped for lack of properties.
    pub fn remember(&mut self, stored: &RecordBatch) -> Result<usize> {
        let keys = KeyColumns::of(stored)?;
        let skipped = (0..stored.num_rows()).filter(|row| !keys.has_key(*row)).count();
        let mpt = optional_timestamps(stored, "mp_processing_time")?;
        let sync = typed(stored, "_sync_id", "Int64", |c| c.as_primitive_opt::<Int64Type>())?;
        let dates = date_values(stored)?;
        for row in (0..stored.num_rows()).filter(|row| keys.has_key(*row)) {
            let sync_id = sync.value(row);
            let kept = Kept::new(mpt(row), self.sync_index(sync_id));
            // The first stored copy wins: keep the lowest sync id if the store ever has two.
            let sync_ids = &self.sync_ids;
            self.kept
                .day(dates[row])?
                .entry(MapKey::from(keys.key(self.kind, row)?))
                .and_modify(|k| {
                    if sync_id < sync_ids[usize::from(k.sync_index())] {
                        *k = kept;
                    }
                })
                .or_insert(kept);
        }
        Ok(skipped)
    }

    /// Remembers audited rows, so a re-read of a known true duplicate is not audited twice.
    pub fn remember_audited(&mut self, audited: &RecordBatch) -> Result<usize> {
        let keys = KeyColumns::of(audited)?;
        let skipped = (0..audited.num_rows()).filter(|row| !keys.has_key(*row)).count();
        let mpt = optional_timestamps(audited, "mp_processing_time")?;
        for row in (0..audited.num_rows()).filter(|row| keys.has_key(*row)) {
            self.audited.insert((keys.key(self.kind, row)?, mpt(row)));
        }
        Ok(skipped)
    }

    /// The keys of a batch's rows, in order (see [`Deduper::judge`]).
    pub fn keys(kind: KeyKind, batch: &RecordBatch) -> Result<Vec<u128>> {
        let keys = KeyColumns::of(batch)?;
        (0..batch.num_rows()).map(|row| keys.key(kind, row)).collect()
    }

    /// The kind of key this deduper compares.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Judges every row of a fetched batch, in order; accepted rows become known keys.
    /// `precomputed` are the rows' keys from [`Deduper::keys`] when the caller has them
    /// (computed where the rows were decoded, while they were still in that core's cache).
    pub fn judge(&mut self, batch: &RecordBatch, precomputed: Option<&[u128]>) -> Result<Verdicts> {
        let computed;
        let keys = match precomputed {
            Some(keys) if keys.len() == batch.num_rows() => keys,
            _ => {
                computed = Self::keys(self.kind, batch)?;
                &computed
            }
        };
        let mpt = optional_timestamps(batch, "mp_processing_time")?;
        let dates = date_values(batch)?;
        let mut verdicts =
            Verdicts { keep: Vec::with_capacity(batch.num_rows()), ..Verdicts::default() };
        // The day's keys are looked up once per run of rows of one date (a batch is mostly
        // one date), not once per row.
        let mut start = 0;
        while start < keys.len() {
            let date = dates[start];
            let end = start + dates[start..].iter().take_while(|d| **d == date).count();
            let day = self.kept.day(date)?;
            for (row, &key) in keys.iter().enumerate().take(end).skip(start) {
                let mp_processing_time = mpt(row);
                let copy = Kept::new(mp_processing_time, 0);
                match day.entry(MapKey::from(key)) {
                    Entry::Vacant(slot) => {
                        slot.insert(copy);
                        verdicts.keep.push(true);
                    }
                    Entry::Occupied(slot) => {
                        verdicts.keep.push(false);
                        let kept = *slot.get();
                        if kept.same_time(copy) {
                            verdicts.already_present += 1;
                        } else if !self.audited.insert((key, mp_processing_time)) {
                            verdicts.already_audited += 1;
                        } else {
                            let sync_id = self.sync_ids[usize::from(kept.sync_index())];
                            let reason = if sync_id == self.sync_id {
                                REASON_IN_FETCH
                            } else {
                                REASON_STORED
                            };
                            verdicts.rejected.push((row as u32, reason, sync_id));
                        }
                    }
                }
            }
            start = end;
        }
        Ok(verdicts)
    }
}

/// The audit rows for `rejected` rows of `batch`: the event columns plus reason, time, kept id.
pub fn rejected_rows(
    batch: &RecordBatch,
    rejected: &[(u32, &'static str, i64)],
    rejected_at_us: i64,
) -> Result<RecordBatch> {
    let indices = UInt32Array::from_iter_values(rejected.iter().map(|(row, _, _)| *row));
    let taken = arrow_select::take::take_record_batch(batch, &indices)
        .map_err(|e| Error::Internal(format!("cannot select rejected rows: {e}")))?;
    // The event columns only: typed property columns stay in the events table.
    let base = mpd_decode::events_schema().fields().len();
    let mut columns: Vec<ArrayRef> = taken.columns().iter().take(base).cloned().collect();
    columns.push(Arc::new(StringArray::from_iter_values(rejected.iter().map(|(_, r, _)| *r))));
    columns.push(Arc::new(
        TimestampMicrosecondArray::from_iter_values(rejected.iter().map(|_| rejected_at_us))
            .with_timezone("UTC"),
    ));
    columns.push(Arc::new(Int64Array::from_iter_values(rejected.iter().map(|(_, _, id)| *id))));
    RecordBatch::try_new(mpd_decode::rejected_duplicates_schema(), columns)
        .map_err(|e| Error::Internal(format!("cannot build the audit rows: {e}")))
}

/// The kept rows of an events batch, one date at a time.
#[derive(Debug)]
pub enum KeptRows {
    /// Every row of the batch, which is of one date.
    Whole(RecordBatch),
    /// The rows numbered (ascending) of a batch of one date: the writer picks them out when
    /// it sorts them, so they are not copied here.
    Numbered(RecordBatch, Vec<u32>),
}

/// The kept rows of an events batch by `date`, in row order within each. A batch of one date
/// is handed on as it is; a batch of several is copied once, into one batch per date.
pub fn kept_rows_by_date(batch: &RecordBatch, keep: &[bool]) -> Result<Vec<KeptRows>> {
    let values = date_values(batch)?;
    let one_date = values.iter().all(|d| Some(d) == values.first());
    if one_date {
        if batch.num_rows() == 0 || !keep.iter().any(|k| *k) {
            return Ok(Vec::new());
        }
        if keep.iter().all(|k| *k) {
            return Ok(vec![KeptRows::Whole(batch.clone())]);
        }
        let rows: Result<Vec<u32>> = (0..batch.num_rows())
            .filter(|row| keep.get(*row) == Some(&true))
            .map(row_number)
            .collect();
        return Ok(vec![KeptRows::Numbered(batch.clone(), rows?)]);
    }
    let mut groups: Vec<(i32, Vec<u32>)> = Vec::new();
    for (row, (date, kept)) in values.iter().zip(keep).enumerate() {
        if !*kept {
            continue;
        }
        let index = row_number(row)?;
        match groups.iter_mut().find(|(d, _)| d == date) {
            Some((_, rows)) => rows.push(index),
            None => groups.push((*date, vec![index])),
        }
    }
    groups
        .into_iter()
        .map(|(_, rows)| {
            arrow_select::take::take_record_batch(batch, &UInt32Array::from(rows))
                .map(KeptRows::Whole)
                .map_err(|e| Error::Internal(format!("cannot select rows: {e}")))
        })
        .collect()
}

fn row_number(row: usize) -> Result<u32> {
    u32::try_from(row).map_err(|_| Error::Internal("batch too long".to_owned()))
}

/// Keeps the rows whose verdict is `keep`.
pub fn kept_rows(batch: &RecordBatch, keep: Vec<bool>) -> Result<RecordBatch> {
    arrow_select::filter::filter_record_batch(batch, &BooleanArray::from(keep))
        .map_err(|e| Error::Internal(format!("cannot filter rows: {e}")))
}

/// XXH3-128 of the parts (each after its length, so `("ab", "c")` and `("a", "bc")` differ)
/// and the time. Keys live only in memory for one run, so the hash need not be stable.
fn hash128(parts: &[&[u8]], time: i64) -> u128 {
    const STACK: usize = 160;
    let len: usize = parts.iter().map(|p| p.len() + 4).sum::<usize>() + 8;
    let mut stack = [0u8; STACK];
    let mut heap = Vec::new();
    let buffer: &mut [u8] = if len <= STACK {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap
    };
    let mut at = 0;
    for part in parts {
        let n = u32::try_from(part.len()).unwrap_or(u32::MAX);
        buffer[at..at + 4].copy_from_slice(&n.to_le_bytes());
        buffer[at + 4..at + 4 + part.len()].copy_from_slice(part);
        at += 4 + part.len();
    }
    buffer[at..at + 8].copy_from_slice(&time.to_le_bytes());
    twox_hash::XxHash3_128::oneshot(buffer)
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| Error::Column {
        table: None,
        column: name.to_owned(),
        expected: "present".to_owned(),
        found: "missing".to_owned(),
    })
}

/// The column `name` as the array type `cast` picks, or an error saying what it is instead.
fn typed<'a, T: 'a>(
    batch: &'a RecordBatch,
    name: &str,
    expected: &str,
    cast: impl FnOnce(&'a ArrayRef) -> Option<&'a T>,
) -> Result<&'a T> {
    let array = column(batch, name)?;
    cast(array).ok_or_else(|| Error::Column {
        table: None,
        column: name.to_owned(),
        expected: expected.to_owned(),
        found: array.data_type().to_string(),
    })
}

/// The distinct dates of a batch's rows, in order.
pub fn distinct_dates(batch: &RecordBatch) -> Result<Vec<i32>> {
    let values = date_values(batch)?;
    let mut dates: Vec<i32> = Vec::new();
    for date in values {
        // Batches hold few dates, often in runs: a look at the last one found spares a search.
        if dates.last() != Some(date) && !dates.contains(date) {
            dates.push(*date);
        }
    }
    dates.sort_unstable();
    Ok(dates)
}

/// The `date` column's values (days since the epoch).
pub fn date_values(batch: &RecordBatch) -> Result<&[i32]> {
    Ok(typed(batch, "date", "Date32", |c| c.as_primitive_opt::<Date32Type>())?.values())
}

fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    typed(batch, name, "Utf8", |c| c.as_string_opt::<i32>())
}

fn optional_timestamps<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<impl Fn(usize) -> Option<i64> + 'a> {
    let array = typed(batch, name, "a microsecond timestamp", |c| {
        c.as_primitive_opt::<TimestampMicrosecondType>()
    })?;
    Ok(move |row| array.is_valid(row).then(|| array.value(row)))
}

/// Casts string-like columns (e.g. `Utf8View` from SQL) to `Utf8` so key code sees one type.
pub fn normalize_strings(batch: RecordBatch) -> Result<RecordBatch> {
    let needs = batch
        .schema()
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Utf8View | DataType::LargeUtf8));
    if !needs {
        return Ok(batch);
    }
    let fields: Vec<arrow_schema::Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8View | DataType::LargeUtf8 => {
                f.as_ref().clone().with_data_type(DataType::Utf8)
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    let columns = batch
        .columns()
        .iter()
        .zip(&fields)
        .map(|(c, f)| arrow_cast::cast(c, f.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Column {
            table: None,
            column: "a text column".to_owned(),
            expected: "castable to Utf8".to_owned(),
            found: e.to_string(),
        })?;
    RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns)
        .map_err(|e| Error::Internal(format!("cannot rebuild a batch: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(rows: &[(&str, Option<&str>, i64, Option<i64>)]) -> RecordBatch {
        let mut builder = mpd_decode::EventBatchBuilder::new(
            mpd_decode::LineFormat::Export,
            mpd_decode::TimeCorrection::None,
            0,
            1024,
        );
        for (name, insert_id, time, mpt) in rows {
            let mut props = serde_json::json!({"time": time, "distinct_id": "u1", "x": 1});
            if let Some(id) = insert_id {
                props["$insert_id"] = serde_json::Value::from(*id);
            }
            if let Some(mpt) = mpt {
                props["mp_processing_time_ms"] = serde_json::Value::from(*mpt);
            }
            let line = serde_json::json!({"event": name, "properties": props}).to_string();
            builder.push_line(line.as_bytes()).unwrap();
        }
        builder.finish().unwrap()
    }

    #[test]
    fn keys_computed_beforehand_give_the_same_verdicts() {
        let batch = events(&[
            ("A", Some("i1"), 1_700_000_000, Some(1)),
            ("A", Some("i1"), 1_700_000_000, Some(5)),
            ("B", None, 1_700_000_001, None),
            ("A", Some("i1"), 1_700_000_000, Some(1)),
        ]);
        for kind in [KeyKind::InsertIdTime, KeyKind::Mixpanel] {
            let keys = Deduper::keys(kind, &batch).unwrap();
            let with = Deduper::new(kind, 1).judge(&batch, Some(&keys)).unwrap();
            let without = Deduper::new(kind, 1).judge(&batch, None).unwrap();
            assert_eq!(with.keep, without.keep);
            assert_eq!(with.keep, [true, false, true, false]);
            assert_eq!((with.already_present, with.rejected.len()), (1, 1));
            // Keys of another length are ignored, not trusted.
            let wrong = Deduper::new(kind, 1).judge(&batch, Some(&keys[..1])).unwrap();
            assert_eq!(wrong.keep, without.keep);
        }
    }

    #[test]
    fn kept_rows_come_out_one_batch_per_date_in_row_order() {
        use arrow_array::Date32Array;
        let schema = std::sync::Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("date", DataType::Date32, false),
            arrow_schema::Field::new("n", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Date32Array::from(vec![1, 2, 1, 2, 1])),
                Arc::new(Int64Array::from(vec![10, 20, 11, 21, 12])),
            ],
        )
        .unwrap();
        let parts = kept_rows_by_date(&batch, &[true, true, false, true, true]).unwrap();
        let numbers = |kept: &KeptRows| -> Vec<i64> {
            let KeptRows::Whole(b) = kept else { panic!("several dates are copied: {kept:?}") };
            b.column(1).as_primitive::<Int64Type>().values().to_vec()
        };
        assert_eq!(parts.iter().map(numbers).collect::<Vec<_>>(), [vec![10, 12], vec![20, 21]]);
        let same_buffer = |a: &RecordBatch, b: &RecordBatch| {
            a.column(1).to_data().buffers()[0].as_ptr()
                == b.column(1).to_data().buffers()[0].as_ptr()
        };
        let one_day = batch.slice(0, 1);
        let whole = kept_rows_by_date(&one_day, &[true]).unwrap();
        assert!(
            matches!(whole.as_slice(), [KeptRows::Whole(b)] if same_buffer(b, &one_day)),
            "no copy: {whole:?}"
        );
        let first_date =
            arrow_select::take::take_record_batch(&batch, &UInt32Array::from(vec![0, 2, 4]))
                .unwrap();
        let some = kept_rows_by_date(&first_date, &[true, false, true]).unwrap();
        let [KeptRows::Numbered(b, rows)] = some.as_slice() else {
            panic!("one date, a row dropped: the rows are numbered, not copied: {some:?}")
        };
        assert!(same_buffer(b, &first_date), "the batch itself, not a copy");
        assert_eq!(rows, &[0, 2]);
        assert!(kept_rows_by_date(&first_date, &[false; 3]).unwrap().is_empty());
        assert!(kept_rows_by_date(&batch, &[false; 5]).unwrap().is_empty());
    }

    #[test]
    fn first_copy_wins_rereads_are_counted_true_duplicates_audited() {
        let mut dedup = Deduper::new(KeyKind::InsertIdTime, 7);
        let batch = events(&[
            ("A", Some("i1"), 1_700_000_000, Some(1)),
            ("A", Some("i1"), 1_700_000_000, Some(1)), // re-read
            ("A", Some("i1"), 1_700_000_000, Some(2)), // ingested twice
            ("A", Some("i1"), 1_700_000_001, Some(1)), // another time: another event
            ("A", Some("i1"), 1_700_000_000, Some(2)), // the same true duplicate again
        ]);
        let verdicts = dedup.judge(&batch, None).unwrap();
        assert_eq!(verdicts.keep, vec![true, false, false, true, false]);
        assert_eq!(verdicts.already_present, 1);
        assert_eq!(verdicts.already_audited, 1);
        assert_eq!(verdicts.rejected, vec![(2, REASON_IN_FETCH, 7)]);
    }

    #[test]
    fn rows_of_dates_taking_turns_are_judged_as_one_row_at_a_time() {
        let (day, next) = (1_700_000_000, 1_700_000_000 + 86_400);
        let rows = [
            ("A", Some("i1"), day, Some(1)),
            ("A", Some("i1"), day, Some(1)),
            ("A", Some("i1"), next, Some(1)),
            ("A", Some("i1"), day, Some(2)),
            ("A", Some("i2"), next, Some(1)),
            ("A", Some("i1"), next, Some(3)),
            ("A", Some("i2"), day, Some(1)),
            ("A", Some("i2"), next, Some(1)),
        ];
        let batch = events(&rows);
        let verdicts = Deduper::new(KeyKind::InsertIdTime, 4).judge(&batch, None).unwrap();
        let mut one_at_a_time = Deduper::new(KeyKind::InsertIdTime, 4);
        let mut keep = Vec::new();
        let mut rejected = Vec::new();
        for row in 0..batch.num_rows() {
            let single = one_at_a_time.judge(&batch.slice(row, 1), None).unwrap();
            keep.extend(single.keep);
            rejected.extend(single.rejected.iter().map(|(_, r, id)| (row as u32, *r, *id)));
        }
        assert_eq!(verdicts.keep, keep);
        assert_eq!(verdicts.keep, [true, false, true, false, true, false, true, false]);
        assert_eq!(verdicts.rejected, rejected);
        assert_eq!(verdicts.rejected, [(3, REASON_IN_FETCH, 4), (5, REASON_IN_FETCH, 4)]);
    }

    #[test]
    fn stored_rows_are_the_first_copy() {
        let stored = events(&[("A", Some("i1"), 1_700_000_000, Some(1))]);
        let mut dedup = Deduper::new(KeyKind::InsertIdTime, 9);
        dedup.remember(&stored).unwrap();
        let verdicts = dedup
            .judge(
                &events(&[
                    ("A", Some("i1"), 1_700_000_000, Some(1)),
                    ("A", Some("i1"), 1_700_000_000, Some(5)),
                ]),
                None,
            )
            .unwrap();
        assert_eq!(verdicts.keep, vec![false, false]);
        assert_eq!(verdicts.already_present, 1);
        assert_eq!(verdicts.rejected, vec![(1, REASON_STORED, 0)]);
    }

    #[test]
    fn rows_without_insert_id_get_a_deterministic_key() {
        let mut dedup = Deduper::new(KeyKind::InsertIdTime, 1);
        let verdicts = dedup
            .judge(
                &events(&[
                    ("A", None, 1_700_000_000, Some(1)),
                    ("A", None, 1_700_000_000, Some(1)),
                    ("B", None, 1_700_000_000, Some(1)),
                ]),
                None,
            )
            .unwrap();
        assert_eq!(verdicts.keep, vec![true, false, true]);
    }

    #[test]
    fn mixpanel_key_separates_event_names() {
        let batch = events(&[
            ("A", Some("i1"), 1_700_000_000, Some(1)),
            ("B", Some("i1"), 1_700_000_000, Some(1)),
        ]);
        assert_eq!(
            Deduper::new(KeyKind::Mixpanel, 1).judge(&batch, None).unwrap().keep,
            vec![true, true]
        );
        assert_eq!(
            Deduper::new(KeyKind::InsertIdTime, 1).judge(&batch, None).unwrap().keep,
            vec![true, false]
        );
    }

    #[test]
    fn audit_rows_match_the_schema() {
        let batch = events(&[
            ("A", Some("i1"), 1_700_000_000, Some(1)),
            ("A", Some("i1"), 1_700_000_000, Some(2)),
        ]);
        let audit = rejected_rows(&batch, &[(1, REASON_IN_FETCH, 3)], 42).unwrap();
        assert_eq!(audit.num_rows(), 1);
        assert_eq!(audit.schema(), mpd_decode::rejected_duplicates_schema());
    }
}
