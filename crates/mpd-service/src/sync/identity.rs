//! `mpd sync identity`: `identity_mappings` derived from events, as Mixpanel's simplified ID
//! merge does it — a `$device_id` seen together with a `$user_id` maps that device's anonymous
//! ids to the user, and the first mapping of an id wins (later ones are ignored).
//!
//! Only event rows added since the last identity sync are read: their `_sync_id` is above the
//! events version the last run covered (kept as this table's application transaction), and
//! file statistics on `_sync_id` let the scan skip older files.

use std::collections::HashSet;
use std::time::Instant;

use arrow_array::cast::AsArray;
use mpd_ingest::dedup::normalize_strings;
use mpd_ingest::layout::identity_writer;
use mpd_store::CommitInfo;
use mpd_store::WriteMode;

use super::window::cursor_app_id;
use super::{EVENTS_TABLE, IDENTITY_TABLE};
use crate::error::{Error, Result, column_mismatch};
use crate::workspace::Workspace;

const BATCH_ROWS: usize = 16_384;

/// What `mpd sync identity` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IdentitySync {
    /// The table written.
    pub table: String,
    /// Events rows with a `_sync_id` above this were read (None: all of them).
    pub events_after_sync_id: Option<i64>,
    /// The events version covered now.
    pub events_version: i64,
    /// Devices seen with a user id in those rows.
    pub devices_seen: u64,
    /// Mappings added.
    pub written: u64,
    /// Ids that were already mapped (the first mapping wins).
    pub already_mapped: u64,
    /// The table's Delta version after the run (None when nothing was committed).
    pub version: Option<i64>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

impl Workspace {
    /// Derives identity mappings from the events added since the last identity sync.
    pub(crate) async fn sync_identity(&self) -> Result<IdentitySync> {
        let started = Instant::now();
        let app_id = cursor_app_id(self.credentials()?.project_id, IDENTITY_TABLE);
        let store = self.store().await?;
        if !store.exists(EVENTS_TABLE).await? {
            return Err(Error::InvalidArgument(
                "there is no events table to derive identity mappings from: run `mpd sync events` first"
                    .to_owned(),
            ));
        }
        let mapped_exists = store.exists(IDENTITY_TABLE).await?;
        let covered = if mapped_exists {
            store.app_transaction_version(IDENTITY_TABLE, &app_id).await?
        } else {
            None
        };
        let events_version = store.version(EVENTS_TABLE).await?;
        let mut summary = IdentitySync {
            table: IDENTITY_TABLE.to_owned(),
            events_after_sync_id: covered,
            events_version,
            ..IdentitySync::default()
        };
        if covered == Some(events_version) {
            summary.elapsed_secs = started.elapsed().as_secs_f64();
            return Ok(summary);
        }
        let mut known: HashSet<String> = HashSet::new();
        if mapped_exists {
            for batch in store.read_columns(IDENTITY_TABLE, &["distinct_id"], None).await? {
                let batch = normalize_strings(batch)?;
                if let Some(ids) = batch.column(0).as_string_opt::<i32>() {
                    known.extend(ids.iter().flatten().map(str::to_owned));
                }
            }
        }
        let since = covered.map(|v| format!("AND _sync_id > {v}")).unwrap_or_default();
        let query = format!(
            "SELECT device_id, first_value(user_id ORDER BY time, user_id) AS user_id \
             FROM {EVENTS_TABLE} \
             WHERE device_id IS NOT NULL AND device_id <> '' AND user_id IS NOT NULL AND user_id <> '' {since} \
             GROUP BY device_id ORDER BY device_id"
        );
        let sync_id = crate::table::next_sync_id(store, IDENTITY_TABLE).await?;
        let mut builder = mpd_decode::IdentityBatchBuilder::new(
            mpd_decode::IdentitySource::Derived,
            sync_id,
            BATCH_ROWS,
        );
        let mut writer = identity_writer(store, IDENTITY_TABLE, WriteMode::Append).await?;
        for batch in store.sql(&query).await?.batches {
            let batch = normalize_strings(batch)?;
            let devices = batch.column(0).as_string_opt::<i32>().ok_or_else(|| {
                column_mismatch(EVENTS_TABLE, "device_id", "Utf8", batch.column(0).data_type())
            })?;
            let users = batch.column(1).as_string_opt::<i32>().ok_or_else(|| {
                column_mismatch(EVENTS_TABLE, "user_id", "Utf8", batch.column(1).data_type())
            })?;
            for (device, user) in devices.iter().zip(users.iter()) {
                let (Some(device), Some(user)) = (device, user) else { continue };
                summary.devices_seen += 1;
                // SDKs use `$device:<id>` (simplified ID merge) or the bare device id as the
                // anonymous distinct_id.
                for anonymous in [format!("$device:{device}"), device.to_owned()] {
                    if anonymous == user {
                        continue;
                    }
                    if known.insert(anonymous.clone()) {
                        builder.push_pair(&anonymous, user);
                        summary.written += 1;
                    } else {
                        summary.already_mapped += 1;
                    }
                }
            }
            if builder.is_full()
                && let Some(rows) = builder.finish()
            {
                writer.write(rows).await?;
            }
        }
        if let Some(rows) = builder.finish() {
            writer.write(rows).await?;
        }
        let metadata = CommitInfo {
            source: Some("derived".to_owned()),
            sync_id: Some(sync_id),
            events_after_sync_id: covered,
            events_version: Some(events_version),
            written: Some(summary.written),
            already_mapped: Some(summary.already_mapped),
            ..CommitInfo::new("sync identity")
        }
        .to_metadata();
        let committed = writer.commit_with_txn(metadata, &app_id, events_version).await?;
        summary.version = Some(committed.version);
        summary.elapsed_secs = started.elapsed().as_secs_f64();
        Ok(summary)
    }
}
