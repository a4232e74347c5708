//! `mpd import pipelines SOURCE`: Mixpanel's JSON-pipelines folder tree into the same tables as
//! `mpd sync`, with the same dedup, remembering which files it has read (the
//! `pipelines_files` table) so a late file added to an old day folder is read by the next run
//! and no file is read twice.
//!
//! Event files are committed one day folder at a time (rows, then the files as ingested); a run
//! stopped in between re-reads that day's files next time and the dedup finds the rows stored.
//! People and identity datasets are full snapshots: when any of their files is new, the whole
//! dataset replaces the table (identity keeps the mappings derived from events beside it).

pub(crate) mod export;
mod fetch_ahead;
mod files;
mod ledger;

pub use export::{DumpImportReport, DumpSource};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use mpd_store::{Store, TableWriter, WriteMode};

use self::fetch_ahead::FileReader;
use self::files::{EVENTS_DIR, IDENTITY_DIR, PEOPLE_DIR, PipelineFile};
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::stream::quarantine::Quarantine;
use crate::table::next_sync_id;
use crate::workspace::Workspace;
use mpd_ingest::dedup::{kept_rows, normalize_strings};
use mpd_ingest::erased::ErasedIds;
use mpd_ingest::layout::{events_writer, identity_writer, profiles_writer};
use mpd_ingest::{Ingest, IngestCounts, IngestOptions};
use mpd_store::CommitInfo;

const EVENTS_TABLE: &str = "events";
const PROFILES_TABLE: &str = "profiles";
const IDENTITY_TABLE: &str = "identity_mappings";
const BATCH_ROWS: usize = 32_768;

/// What `mpd import pipelines` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    /// The project folder read.
    pub project_dir: PathBuf,
    /// Event files read by this run.
    pub event_files_read: u64,
    /// Event files skipped because an earlier run read them.
    pub event_files_skipped: u64,
    /// Day folders committed.
    pub days: u64,
    /// Event records read.
    pub fetched: u64,
    /// What became of them.
    #[serde(flatten)]
    pub counts: IngestCounts,
    /// Profiles in the new snapshot, when the people dataset had new files.
    pub profiles: Option<u64>,
    /// Identity mappings from the files, when that dataset had new files.
    pub identity_mappings: Option<u64>,
    /// Malformed lines quarantined.
    pub quarantined: u64,
    /// The quarantine file, when lines were quarantined.
    pub quarantine_file: Option<PathBuf>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// Imports a JSON-pipelines tree (see the module docs); `allow_bad_lines` malformed lines
/// are set aside before the run stops.
pub(crate) async fn import_pipelines(
    ws: &Workspace,
    source: &Path,
    allow_bad_lines: u64,
    reporter: &dyn Reporter,
) -> Result<ImportReport> {
    let started = Instant::now();
    let tree = files::Tree::open(source, &ws.settings().storage).await?;
    let store = ws.store_for_project(tree.project_id()).await?;
    let _lock = store.lock_for_writing("import pipelines")?;
    let ingested = ledger::ingested(store).await?;
    let erased = ErasedIds::load(store).await?;
    let mut report = ImportReport { project_dir: tree.display(), ..ImportReport::default() };
    let mut quarantine = Quarantine::new(ws.quarantine_file_named("pipelines")?);

    let all_events = tree.data_files(EVENTS_DIR).await?;
    let total = all_events.len() as u64;
    let new_events = files::new_files(all_events, &ingested);
    report.event_files_read = new_events.len() as u64;
    report.event_files_skipped = total - report.event_files_read;
    let groups = files::by_day(new_events);
    // Objects of the next days are fetched while a day is decoded and committed.
    let mut reader = FileReader::new(&tree, groups.values().flatten().cloned().collect());
    reporter.started("pipelines files", groups.len() as u64);
    let exists = store.exists(EVENTS_TABLE).await?;
    let sync_id = next_sync_id(store, EVENTS_TABLE).await?;
    let mut ingest = Ingest::new(IngestOptions {
        store,
        table: EVENTS_TABLE,
        key_kind: ws.key_kind(),
        sync_id,
        compare_with_store: exists,
        replace_audit: false,
        erased: erased.clone(),
        held_keys_limit: None,
    })
    .await?;
    let typed = crate::table::typed::typed_for(ws, store, EVENTS_TABLE, WriteMode::Append).await?;
    // Each day's commit must land right after the version this run last read or wrote.
    let mut read_version = if exists { Some(store.version(EVENTS_TABLE).await?) } else { None };
    for (day, group) in groups {
        let mut writer = events_writer(store, EVENTS_TABLE, WriteMode::Append, &typed)
            .await?
            .expect_version(read_version);
        let read =
            read_events(&mut reader, &group, sync_id, &mut ingest, &mut writer, &mut quarantine)
                .await;
        let records = match read {
            Ok(records) => records,
            Err(error) => {
                let _ = writer.abort().await;
                ingest.abort().await;
                return Err(error);
            }
        };
        if let Err(error) = quarantine.finish(allow_bad_lines) {
            let _ = writer.abort().await;
            ingest.abort().await;
            return Err(error);
        }
        let counts = ingest.take_counts();
        let metadata = CommitInfo {
            day,
            files: Some(group.len() as u64),
            sync_id: Some(sync_id),
            fetched: Some(records),
            ..counts.commit_info("import pipelines")
        }
        .to_metadata();
        read_version = Some(writer.commit(metadata.clone()).await?.version);
        ingest.commit_audit(metadata).await?;
        ingest.start_next_commit();
        ledger::record(store, EVENTS_DIR, &ledger_entries(&group), "import pipelines").await?;
        report.days += 1;
        report.fetched += records;
        report.counts.add(counts);
        if let Some(day) = day {
            reporter.days_finished(day, 1, records);
        }
    }
    reporter.finished();

    let people = tree.data_files(PEOPLE_DIR).await?;
    if !files::new_files(people.clone(), &ingested).is_empty() {
        report.profiles =
            Some(import_people(store, &tree, &people, &erased, &mut quarantine).await?);
        ledger::record(store, PEOPLE_DIR, &ledger_entries(&people), "import pipelines").await?;
    }
    let identity = tree.data_files(IDENTITY_DIR).await?;
    if !files::new_files(identity.clone(), &ingested).is_empty() {
        report.identity_mappings =
            Some(import_identity(store, &tree, &identity, &erased, &mut quarantine).await?);
        ledger::record(store, IDENTITY_DIR, &ledger_entries(&identity), "import pipelines").await?;
    }
    (report.quarantined, report.quarantine_file) = quarantine.finish(allow_bad_lines)?;
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Reads a day folder's event files into the writer through the dedup; returns the records.
async fn read_events(
    reader: &mut FileReader,
    group: &[PipelineFile],
    sync_id: i64,
    ingest: &mut Ingest<'_>,
    writer: &mut TableWriter,
    quarantine: &mut Quarantine,
) -> Result<u64> {
    let builder = mpd_decode::EventBatchBuilder::with_typed(
        mpd_decode::LineFormat::Pipelines,
        mpd_decode::TimeCorrection::None,
        sync_id,
        BATCH_ROWS,
        mpd_decode::TypedProperties::from_schema(writer.schema()),
    );
    let mut decoder = mpd_decode::StreamDecoder::with_builder(builder);
    let mut records = 0;
    for file in group {
        let mut batches = Vec::new();
        let chunks = reader.chunks(file).await?;
        let bad = crate::source::decode_chunks(chunks, &mut decoder, |b| batches.push(b))?;
        records += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        for batch in batches {
            ingest.write(batch, writer).await?;
        }
        record_bad(quarantine, file, &bad)?;
    }
    Ok(records)
}

/// Replaces `profiles` with the people dataset (minus erased users).
async fn import_people(
    store: &Store,
    tree: &files::Tree,
    people: &[PipelineFile],
    erased: &ErasedIds,
    quarantine: &mut Quarantine,
) -> Result<u64> {
    let sync_id = next_sync_id(store, PROFILES_TABLE).await?;
    let builder = mpd_decode::ProfileBatchBuilder::new(sync_id, BATCH_ROWS);
    let batches = read_snapshot(tree, people, builder, quarantine).await?;
    let mut writer = profiles_writer(store, PROFILES_TABLE, WriteMode::Replace).await?;
    let written = write_snapshot(&mut writer, batches, erased).await?;
    writer
        .commit(
            CommitInfo {
                dataset: Some(PEOPLE_DIR.to_owned()),
                sync_id: Some(sync_id),
                written: Some(written),
                ..CommitInfo::new("import pipelines")
            }
            .to_metadata(),
        )
        .await?;
    Ok(written)
}

/// Replaces the `pipelines` mappings of `identity_mappings`, keeping the derived ones.
async fn import_identity(
    store: &Store,
    tree: &files::Tree,
    identity: &[PipelineFile],
    erased: &ErasedIds,
    quarantine: &mut Quarantine,
) -> Result<u64> {
    let sync_id = next_sync_id(store, IDENTITY_TABLE).await?;
    let mut derived = Vec::new();
    if store.exists(IDENTITY_TABLE).await? {
        let query = format!(
            "SELECT distinct_id, resolved_distinct_id, source, _sync_id FROM {IDENTITY_TABLE} WHERE source = 'derived'"
        );
        for batch in store.sql(&query).await?.batches {
            derived.push(normalize_strings(batch)?);
        }
    }
    let builder = mpd_decode::IdentityBatchBuilder::new(
        mpd_decode::IdentitySource::Pipelines,
        sync_id,
        BATCH_ROWS,
    );
    let batches = read_snapshot(tree, identity, builder, quarantine).await?;
    let mut writer = identity_writer(store, IDENTITY_TABLE, WriteMode::Replace).await?;
    let written = write_snapshot(&mut writer, batches, erased).await?;
    for batch in derived {
        writer.write(batch).await?;
    }
    writer
        .commit(
            CommitInfo {
                dataset: Some(IDENTITY_DIR.to_owned()),
                sync_id: Some(sync_id),
                written: Some(written),
                ..CommitInfo::new("import pipelines")
            }
            .to_metadata(),
        )
        .await?;
    Ok(written)
}

/// Every line of a snapshot dataset's files as batches; malformed lines are quarantined.
async fn read_snapshot<B>(
    tree: &files::Tree,
    files: &[PipelineFile],
    builder: B,
    quarantine: &mut Quarantine,
) -> Result<Vec<RecordBatch>>
where
    B: mpd_decode::LineBatchBuilder<Batch = RecordBatch>,
{
    let mut decoder = mpd_decode::StreamDecoder::with_builder(builder);
    let mut batches = Vec::new();
    let mut reader = FileReader::new(tree, files.to_vec());
    for file in files {
        let chunks = reader.chunks(file).await?;
        let bad = crate::source::decode_chunks(chunks, &mut decoder, |b| batches.push(b))?;
        record_bad(quarantine, file, &bad)?;
    }
    Ok(batches)
}

/// Writes the first row of each `distinct_id` that is not erased; returns the rows written.
async fn write_snapshot(
    writer: &mut TableWriter,
    batches: Vec<RecordBatch>,
    erased: &ErasedIds,
) -> Result<u64> {
    let mut seen = HashSet::new();
    let mut written = 0;
    for batch in batches {
        let keep = keep_first_unerased(&batch, "distinct_id", erased, &mut seen)?;
        let kept = kept_rows(&batch, keep)?;
        written += kept.num_rows() as u64;
        writer.write(kept).await?;
    }
    Ok(written)
}

/// First row per id, and none of an erased user.
fn keep_first_unerased(
    batch: &RecordBatch,
    column: &str,
    erased: &ErasedIds,
    seen: &mut HashSet<String>,
) -> Result<Vec<bool>> {
    let ids = batch
        .column_by_name(column)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| Error::Internal(format!("{column} is not a string column")))?;
    Ok(ids
        .iter()
        .map(|id| {
            let id = id.unwrap_or_default();
            !erased.contains(id) && seen.insert(id.to_owned())
        })
        .collect())
}

fn ledger_entries(files: &[PipelineFile]) -> Vec<ledger::LedgerEntry> {
    files.iter().map(PipelineFile::ledger_entry).collect()
}

fn record_bad(
    quarantine: &mut Quarantine,
    file: &PipelineFile,
    bad: &[mpd_decode::BadLine],
) -> Result<()> {
    quarantine.record_file(&file.relative, bad)
}
