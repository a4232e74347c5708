//! `mpd fetch profiles [TABLE]`: engage pages → `profiles` batches → one Delta commit.

use std::collections::HashSet;
use std::time::Instant;

use arrow_array::cast::AsArray;
use mpd_ingest::dedup::{kept_rows, normalize_strings};
use mpd_ingest::erased::ErasedIds;
use mpd_ingest::layout::profiles_writer;
use mpd_store::CommitInfo;
use mpd_store::WriteMode;

use super::fetch_events::TableMode;
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::stream::StreamProfilesRequest;
use crate::table::mode_name;
use crate::workspace::Workspace;

const BATCH_ROWS: usize = 16_384;

/// What a fetch of profiles into a table did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProfileFetchSummary {
    /// The table written.
    pub table: String,
    /// Profiles received.
    pub fetched: u64,
    /// Rows added.
    pub written: u64,
    /// Profiles skipped because the table already had their distinct_id (append).
    pub already_present: u64,
    /// Profiles of erased users (`mpd gdpr delete`) dropped.
    pub erased_dropped: u64,
    /// The sync id stamped on the new rows.
    pub sync_id: i64,
    /// The table's Delta version after the commit.
    pub version: i64,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

impl Workspace {
    /// [`Workspace::fetch_profiles`] for a caller that holds the store's write lock.
    pub(crate) async fn fetch_profiles_locked(
        &self,
        table: &str,
        mode: TableMode,
        request: &StreamProfilesRequest,
        reporter: &dyn Reporter,
    ) -> Result<ProfileFetchSummary> {
        let started = Instant::now();
        let store = self.store().await?;
        let exists = store.exists(table).await?;
        if exists && mode == TableMode::Create {
            return Err(mpd_store::Error::TableExists { table: table.to_owned() }.into());
        }
        let sync_id = super::next_sync_id(store, table).await?;
        let mut known: HashSet<String> = HashSet::new();
        if exists && mode == TableMode::Append {
            for batch in store.read_columns(table, &["distinct_id"], None).await? {
                let batch = normalize_strings(batch)?;
                if let Some(ids) = batch.column(0).as_string_opt::<i32>() {
                    known.extend(ids.iter().flatten().map(str::to_owned));
                }
            }
        }
        let write_mode =
            if mode == TableMode::Replace { WriteMode::Replace } else { WriteMode::Append };
        let mut writer = profiles_writer(store, table, write_mode).await?;
        let mut summary = ProfileFetchSummary {
            table: table.to_owned(),
            sync_id,
            ..ProfileFetchSummary::default()
        };
        let mut filter = ProfileFilter { known, erased: ErasedIds::load(store).await? };
        let outcome =
            self.write_profiles(request, reporter, &mut filter, &mut writer, &mut summary).await;
        if let Err(error) = outcome {
            let _ = writer.abort().await;
            return Err(error);
        }
        let metadata = CommitInfo {
            mode: mode_name(&mode),
            where_expr: request.where_expr.clone(),
            cohort: request.cohort_id,
            sync_id: Some(sync_id),
            fetched: Some(summary.fetched),
            written: Some(summary.written),
            ..CommitInfo::new("fetch profiles")
        }
        .to_metadata();
        summary.version = writer.commit(metadata).await?.version;
        summary.elapsed_secs = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    async fn write_profiles(
        &self,
        request: &StreamProfilesRequest,
        reporter: &dyn Reporter,
        filter: &mut ProfileFilter,
        writer: &mut mpd_store::TableWriter,
        summary: &mut ProfileFetchSummary,
    ) -> Result<()> {
        let engage = request.engage_request();
        reporter.started("profiles", 0);
        let mut pager = self.client()?.engage(&engage).await.map_err(|e| self.api_error(e))?;
        let mut builder = mpd_decode::ProfileBatchBuilder::new(summary.sync_id, BATCH_ROWS);
        let mut line = Vec::new();
        while let Some(page) = pager.next_page().await.map_err(|e| self.api_error(e))? {
            for result in &page.results {
                line.clear();
                serde_json::to_writer(&mut line, result).map_err(|e| {
                    Error::Unreadable(format!("a profile on page {}: {e}", page.page))
                })?;
                builder.push_line(&line).map_err(|e| {
                    Error::Unreadable(format!(
                        "Mixpanel returned a profile mpd cannot read on page {}: {e}",
                        page.page
                    ))
                })?;
            }
            summary.fetched += page.results.len() as u64;
            reporter.records_written(page.results.len() as u64);
            if builder.is_full()
                && let Some(batch) = builder.finish()
            {
                self.write_new_profiles(batch, filter, writer, summary).await?;
            }
        }
        if let Some(batch) = builder.finish() {
            self.write_new_profiles(batch, filter, writer, summary).await?;
        }
        reporter.finished();
        Ok(())
    }

    async fn write_new_profiles(
        &self,
        batch: arrow_array::RecordBatch,
        filter: &mut ProfileFilter,
        writer: &mut mpd_store::TableWriter,
        summary: &mut ProfileFetchSummary,
    ) -> Result<()> {
        let ids = batch
            .column(0)
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::Internal("distinct_id is not Utf8".to_owned()))?;
        let mut keep = Vec::with_capacity(batch.num_rows());
        for id in ids.iter().map(Option::unwrap_or_default) {
            if filter.erased.contains(id) {
                summary.erased_dropped += 1;
                keep.push(false);
            } else if filter.known.insert(id.to_owned()) {
                keep.push(true);
            } else {
                summary.already_present += 1;
                keep.push(false);
            }
        }
        let kept = kept_rows(&batch, keep)?;
        summary.written += kept.num_rows() as u64;
        if kept.num_rows() > 0 {
            writer.write(kept).await?;
        }
        Ok(())
    }
}

/// Fetches profiles into a table: create (refused if it exists), append (profiles whose
/// distinct_id is stored are skipped) or replace (a new snapshot in one commit).
pub(crate) async fn fetch_profiles(
    ws: &Workspace,
    table: &str,
    mode: TableMode,
    request: &StreamProfilesRequest,
    reporter: &dyn Reporter,
) -> Result<ProfileFetchSummary> {
    ws.credentials()?;
    let _lock = ws.store().await?.lock_for_writing("fetch profiles")?;
    ws.fetch_profiles_locked(table, mode, request, reporter).await
}

/// Which profiles of a fetch are written: not stored yet (append) and not erased.
struct ProfileFilter {
    known: HashSet<String>,
    erased: ErasedIds,
}
