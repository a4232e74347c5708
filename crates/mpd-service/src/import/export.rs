//! `mpd import export FILE|DIR|-`: raw export dumps (JSON lines as Mixpanel's export API sends
//! them, what `mpd fetch events --stdout --raw` writes; plain or gzipped) into the events
//! table, with the same dedup, audit and commit semantics as `mpd fetch events --append`.
//!
//! Files of a folder are read in name order. Files already imported (same path and size, the
//! `pipelines_files` ledger under dataset `export`) are skipped, so a folder of dumps can be
//! imported again as it grows. Decoding runs on a blocking thread while the async side
//! deduplicates and writes, so the two overlap on two cores.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_array::RecordBatch;
use mpd_decode::BadLine;
use mpd_ingest::dedup::{Deduper, KeyKind};
use mpd_ingest::erased::ErasedIds;
use mpd_ingest::layout::events_writer;
use mpd_ingest::{Ingest, IngestCounts, IngestOptions};
use mpd_store::CommitInfo;
use mpd_store::WriteMode;

use super::ledger::{self, LedgerEntry};
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::source::{FileChunks, decode_chunks};
use crate::stream::quarantine::Quarantine;
use crate::table::next_sync_id;
use crate::workspace::Workspace;

const EVENTS_TABLE: &str = "events";
/// The ledger's dataset for export dumps.
const DATASET: &str = "export";
/// Rows per decoded batch: each batch is split by day, and the split rows wait for their day's
/// sorted run, so smaller batches hold less. 8 Ki instead of 16 Ki rows: a 1M-event import
/// peaked about 20 MB lower (under the 300 MB it is held to) for about 5% more time (pairs of
/// whole processes, docs/PERFORMANCE.md).
const BATCH_ROWS: usize = 8_192;
/// Decoded batches waiting for the writer (bounds memory when decoding runs ahead).
const QUEUED_BATCHES: usize = 2;
/// Partitions the writer keeps open: dumps are rarely ordered by day.
const OPEN_PARTITIONS: usize = 16;
/// Keys the deduper holds (24 bytes each in its maps, about 40 MB in all) before the least
/// recently touched days' keys go to a temporary file, so that memory stays flat however large
/// the dumps are: dumps in day order never come back to those days; rows of a day that comes
/// back wait on disk and are deduplicated at the end, one day at a time.
const HELD_KEYS_LIMIT: usize = 1 << 20;

/// Where the dumps come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpSource {
    /// A file, or a folder of `.json`, `.jsonl` (optionally `.gz`) files.
    Path(PathBuf),
    /// Standard input.
    Stdin,
}

/// What `mpd import export` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DumpImportReport {
    /// Files read by this run (`-` for standard input).
    pub files: Vec<PathBuf>,
    /// Files skipped because an earlier run imported them.
    pub files_skipped: u64,
    /// Event records read.
    pub fetched: u64,
    /// What became of them.
    #[serde(flatten)]
    pub counts: IngestCounts,
    /// The sync id stamped on the new rows.
    pub sync_id: i64,
    /// The events table's version after the commit; none when nothing was read.
    pub version: Option<i64>,
    /// Days whose rows were sorted in more than one run (a dump mixing many days, or days
    /// larger than a run): their files are sorted in stretches, and `mpd tables compact
    /// events` sorts each of them as a whole, so that queries filtering on `event_name` skip
    /// more.
    pub days_in_several_runs: u64,
    /// Malformed lines quarantined.
    pub quarantined: u64,
    /// The quarantine file, when lines were quarantined.
    pub quarantine_file: Option<PathBuf>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// What the decoding thread sends: a batch's worth of rows of a file, one batch per date with
/// its dedup keys, then the file's end.
enum Decoded {
    Batches(Vec<(RecordBatch, Vec<u128>)>),
    FileDone { index: usize, bad: Vec<BadLine> },
}

/// One input to read.
#[derive(Debug, Clone)]
struct Dump {
    /// `-` for standard input.
    name: PathBuf,
    /// Size and ledger key; none for standard input.
    ledger: Option<LedgerEntry>,
}

impl Workspace {
    /// [`Workspace::import_export`] with the deduper holding at most `held_keys_limit` keys.
    async fn import_export_holding(
        &self,
        source: &DumpSource,
        allow_bad_lines: u64,
        reporter: &dyn Reporter,
        held_keys_limit: usize,
    ) -> Result<DumpImportReport> {
        let started = Instant::now();
        let dumps = list_dumps(source)?;
        let store = self.store().await?;
        let _lock = store.lock_for_writing("import export")?;
        let imported = ledger::ingested(store).await?;
        let (new, skipped): (Vec<Dump>, Vec<Dump>) = dumps
            .into_iter()
            .partition(|d| d.ledger.as_ref().is_none_or(|e| !imported.has_read(e)));
        let sync_id = next_sync_id(store, EVENTS_TABLE).await?;
        let mut report = DumpImportReport {
            files: new.iter().map(|d| d.name.clone()).collect(),
            files_skipped: skipped.len() as u64,
            sync_id,
            ..DumpImportReport::default()
        };
        if new.is_empty() {
            report.elapsed_secs = started.elapsed().as_secs_f64();
            return Ok(report);
        }
        let mut quarantine = Quarantine::new(self.quarantine_file_named("export")?);
        let exists = store.exists(EVENTS_TABLE).await?;
        let mut ingest = Ingest::new(IngestOptions {
            store,
            table: EVENTS_TABLE,
            key_kind: self.key_kind(),
            sync_id,
            compare_with_store: exists,
            replace_audit: false,
            erased: ErasedIds::load(store).await?,
            held_keys_limit: Some(held_keys_limit),
        })
        .await?;
        let typed =
            crate::table::typed::typed_for(self, store, EVENTS_TABLE, WriteMode::Append).await?;
        let mut writer = events_writer(store, EVENTS_TABLE, WriteMode::Append, &typed)
            .await?
            .with_open_partitions(OPEN_PARTITIONS);
        reporter.started("export files", new.len() as u64);
        let read =
            read_dumps(&new, sync_id, &mut ingest, &mut writer, &mut quarantine, reporter).await;
        let outcome = match read {
            Ok(fetched) => quarantine.finish(allow_bad_lines).map(|q| (fetched, q)),
            Err(error) => Err(error),
        };
        reporter.finished();
        let (fetched, (quarantined, quarantine_file)) = match outcome {
            Ok(done) => done,
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(%abort, "could not remove the files of the failed import");
                }
                ingest.abort().await;
                return Err(error);
            }
        };
        report.fetched = fetched;
        report.counts = ingest.take_counts();
        (report.quarantined, report.quarantine_file) = (quarantined, quarantine_file);
        let metadata = CommitInfo {
            files: Some(report.files.len() as u64),
            sync_id: Some(sync_id),
            fetched: Some(fetched),
            quarantined: Some(report.quarantined),
            ..report.counts.commit_info("import export")
        }
        .to_metadata();
        let summary = writer.commit(metadata.clone()).await?;
        report.version = Some(summary.version);
        report.days_in_several_runs = summary.partitions_in_several_runs as u64;
        ingest.commit_audit(metadata).await?;
        let entries: Vec<LedgerEntry> = new.into_iter().filter_map(|d| d.ledger).collect();
        ledger::record(store, DATASET, &entries, "import export").await?;
        report.elapsed_secs = started.elapsed().as_secs_f64();
        Ok(report)
    }
}

/// Imports export dumps (see the module docs); `allow_bad_lines` malformed lines are set
/// aside before the run stops.
pub(crate) async fn import_export(
    ws: &Workspace,
    source: &DumpSource,
    allow_bad_lines: u64,
    reporter: &dyn Reporter,
) -> Result<DumpImportReport> {
    ws.import_export_holding(source, allow_bad_lines, reporter, HELD_KEYS_LIMIT).await
}

/// Decodes the dumps on a blocking thread and writes their batches through the dedup here;
/// returns the records read.
async fn read_dumps(
    dumps: &[Dump],
    sync_id: i64,
    ingest: &mut Ingest<'_>,
    writer: &mut mpd_store::TableWriter,
    quarantine: &mut Quarantine,
    reporter: &dyn Reporter,
) -> Result<u64> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Decoded>>(QUEUED_BATCHES);
    let names: Vec<PathBuf> = dumps.iter().map(|d| d.name.clone()).collect();
    let kind = ingest.key_kind();
    let typed = mpd_decode::TypedProperties::from_schema(writer.schema());
    let decoding =
        tokio::task::spawn_blocking(move || decode_dumps(&names, sync_id, typed, kind, &sender));
    let mut fetched = 0;
    let today = chrono::Utc::now().date_naive();
    let mut result = Ok(());
    while let Some(message) = receiver.recv().await {
        let step = match message {
            Ok(Decoded::Batches(dated)) => {
                async {
                    for (batch, keys) in dated {
                        fetched += batch.num_rows() as u64;
                        reporter.records_written(batch.num_rows() as u64);
                        ingest.write_keyed(batch, Some(keys), writer).await?;
                    }
                    Ok(())
                }
                .await
            }
            Ok(Decoded::FileDone { index, bad }) => {
                reporter.days_finished(today, 1, 0);
                quarantine.record_file(&dumps[index].name.display().to_string(), &bad)
            }
            Err(error) => Err(error),
        };
        if let Err(error) = step {
            result = Err(error);
            break;
        }
    }
    // Dropping the receiver stops the decoding thread at its next batch.
    drop(receiver);
    let joined = decoding.await;
    result?;
    joined.map_err(|e| Error::Internal(format!("the decoding thread failed: {e}")))?;
    ingest.write_set_aside(writer).await?;
    Ok(fetched)
}

/// The decoding thread: every dump through one decoder, batches to `sender`.
fn decode_dumps(
    names: &[PathBuf],
    sync_id: i64,
    typed: mpd_decode::TypedProperties,
    kind: KeyKind,
    sender: &tokio::sync::mpsc::Sender<Result<Decoded>>,
) {
    // A dump's dates come mixed: the rows are kept apart by date as they are decoded.
    let builder = mpd_decode::DatedEventBatchBuilder::new(
        mpd_decode::LineFormat::Export,
        mpd_decode::TimeCorrection::None,
        sync_id,
        BATCH_ROWS,
        typed,
    );
    let mut decoder = mpd_decode::StreamDecoder::with_builder(builder).stop_at_truncation_marker();
    for (index, name) in names.iter().enumerate() {
        let chunks = if name.as_os_str() == "-" {
            FileChunks::from_reader(name.clone(), Box::new(std::io::stdin()))
        } else {
            FileChunks::open(name)
        };
        let mut open = true;
        let result = chunks.and_then(|chunks| {
            decode_chunks(chunks, &mut decoder, |dated| {
                let message = dated
                    .into_iter()
                    .map(|batch| {
                        let keys = Deduper::keys(kind, &batch).map_err(Error::from)?;
                        Ok((batch, keys))
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(Decoded::Batches);
                open = open && sender.blocking_send(message).is_ok();
            })
        });
        let message = result.map(|bad| Decoded::FileDone { index, bad });
        if !open || sender.blocking_send(message).is_err() {
            return;
        }
    }
}

/// The dumps of `source`: a file, a folder's JSON-lines files in name order (recursively,
/// hidden ones left out), or standard input.
fn list_dumps(source: &DumpSource) -> Result<Vec<Dump>> {
    let path = match source {
        DumpSource::Stdin => return Ok(vec![Dump { name: PathBuf::from("-"), ledger: None }]),
        DumpSource::Path(path) => path,
    };
    let metadata = std::fs::metadata(path).map_err(|e| {
        Error::InvalidArgument(format!("cannot read {}: {e}: give an export dump file, a folder of them, or - for standard input", path.display()))
    })?;
    let mut files = Vec::new();
    if metadata.is_dir() {
        collect_dumps(path, &mut files)?;
        if files.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{} holds no export dumps: expected .json, .jsonl, .json.gz or .jsonl.gz files",
                path.display()
            )));
        }
        files.sort();
    } else {
        files.push(path.clone());
    }
    files
        .into_iter()
        .map(|file| {
            let size = std::fs::metadata(&file)
                .map_err(|e| Error::Unreadable(format!("cannot read {}: {e}", file.display())))?
                .len();
            let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            let entry = LedgerEntry { path: key.display().to_string(), size, etag: None };
            Ok(Dump { name: file, ledger: Some(entry) })
        })
        .collect()
}

fn collect_dumps(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::Unreadable(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect_dumps(&path, files)?;
        } else if is_dump_name(&name) {
            files.push(path);
        }
    }
    Ok(())
}

fn is_dump_name(name: &str) -> bool {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".ndjson")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SilentReporter;
    use crate::test_support::row_keys;

    #[test]
    fn dump_names() {
        for name in ["a.json", "a.jsonl", "a.jsonl.gz", "a.json.gz", "a.ndjson"] {
            assert!(is_dump_name(name), "{name}");
        }
        for name in ["a.gz", "a.txt", "a.parquet", "json"] {
            assert!(!is_dump_name(name), "{name}");
        }
    }

    #[test]
    fn a_folder_is_read_in_name_order_without_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.jsonl", "a.json.gz", ".partial.jsonl", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("2024")).unwrap();
        std::fs::write(dir.path().join("2024").join("c.json"), b"{}").unwrap();
        let dumps = list_dumps(&DumpSource::Path(dir.path().to_path_buf())).unwrap();
        let names: Vec<String> = dumps
            .iter()
            .map(|d| d.name.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["2024/c.json", "a.json.gz", "b.jsonl"]);
        assert_eq!(dumps[0].ledger.as_ref().unwrap().size, 2);
    }

    #[test]
    fn unusable_sources_say_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let missing = list_dumps(&DumpSource::Path(dir.path().join("nope"))).unwrap_err();
        assert!(
            missing.to_string().contains("give an export dump file, a folder of them, or -"),
            "{missing}"
        );
        let empty = list_dumps(&DumpSource::Path(dir.path().to_path_buf())).unwrap_err();
        assert!(empty.to_string().contains("holds no export dumps"), "{empty}");
        assert_eq!(missing.class(), crate::ErrorClass::Usage);
    }

    /// Export lines over five days in a scrambled order, with re-reads (same processing time),
    /// true duplicates (another processing time) and events without `$insert_id`.
    fn scrambled_dump(first: u64, n: u64) -> String {
        let mut lines = Vec::new();
        for k in first..first + n {
            let time = 1_700_000_000 + (k * 7919 % 5) * 86_400 + k;
            let mut properties = serde_json::json!({
                "time": time,
                "distinct_id": format!("u{}", k % 17),
                "mp_processing_time_ms": time * 1000 + 5,
            });
            let has_insert_id = k % 31 != 0;
            if has_insert_id {
                properties["$insert_id"] = format!("id-{k}").into();
            }
            let line =
                serde_json::json!({"event": format!("E{}", k % 3), "properties": properties});
            lines.push(line.to_string());
            if k % 10 == 0 {
                lines.push(line.to_string());
            }
            // Without `$insert_id` another processing time makes another event (the synthetic
            // key covers the properties), so only events with one are sent again that way.
            if k % 25 == 0 && has_insert_id {
                let mut again = line.clone();
                again["properties"]["mp_processing_time_ms"] = (time * 1000 + 9).into();
                lines.push(again.to_string());
            }
        }
        // A fixed shuffle: the days come mixed, as in a real dump.
        let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ first;
        for i in (1..lines.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            lines.swap(i, usize::try_from(state % (i as u64 + 1)).unwrap());
        }
        lines.join("\n") + "\n"
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn evicting_keys_keeps_the_same_rows_as_holding_every_key() {
        let dumps = tempfile::tempdir().unwrap();
        // Two files of one batch each, the second repeating half of the first. With a limit of
        // 40 keys, four of the five days' keys are evicted after the first file, and the
        // second file's rows of those days wait on disk; with 0, all of them do.
        std::fs::write(dumps.path().join("a.jsonl"), scrambled_dump(0, 600)).unwrap();
        std::fs::write(dumps.path().join("b.jsonl"), scrambled_dump(300, 600)).unwrap();
        // A later run: a dump that overlaps the stored rows.
        let later = tempfile::tempdir().unwrap();
        let late_dump = later.path().join("c.jsonl");
        std::fs::write(&late_dump, scrambled_dump(800, 400)).unwrap();
        let mut tables = Vec::new();
        for held_keys_limit in [usize::MAX, 40, 0] {
            let store = tempfile::tempdir().unwrap();
            let settings = mpd_config::Settings {
                store: Some(store.path().to_path_buf()),
                ..mpd_config::Settings::default()
            };
            let workspace = Workspace::for_store(settings);
            let mut reports = Vec::new();
            for source in [dumps.path(), late_dump.as_path()] {
                let source = DumpSource::Path(source.to_path_buf());
                let report = workspace
                    .import_export_holding(&source, 0, &SilentReporter, held_keys_limit)
                    .await
                    .unwrap();
                reports.push((report.fetched, report.counts));
            }
            let events = row_keys(&workspace, "events").await;
            let audited = row_keys(&workspace, "rejected_duplicates").await;
            tables.push((held_keys_limit, reports, events, audited, store));
        }
        let (_, reports, events, audited, _) = &tables[0];
        // Every 10th event is sent twice, every 25th (with an `$insert_id`) again with another
        // processing time; which copy comes first, and so which one is kept and which audited,
        // depends on the shuffle.
        for ((fetched, counts), written) in reports.iter().zip([900, 300]) {
            assert_eq!(counts.written, written);
            let dropped = counts.already_present
                + counts.duplicates_already_audited
                + counts.duplicates_rejected;
            assert_eq!(fetched - written, dropped, "{counts:?}");
            assert!(counts.duplicates_rejected > 0, "{counts:?}");
        }
        assert_eq!(events.len(), 1200);
        assert!(!audited.is_empty());
        for (limit, other_reports, other_events, other_audited, _) in &tables[1..] {
            assert_eq!(other_reports, reports, "held keys limit {limit}");
            assert_eq!(other_events, events, "held keys limit {limit}");
            assert_eq!(other_audited, audited, "held keys limit {limit}");
        }
    }
}
