//! One day of a table read back sorted, in bounded memory: what a sorted rewrite of the day
//! (`mpd tables compact`, `mpd tables evolve`) writes. The sort runs in a session of its own
//! whose memory pool makes it spill sorted runs to temporary files past [`SORT_MEMORY`] and
//! merge them, so a day of any size is rewritten without holding all of it.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{DataFrame, SessionConfig, ident};

use crate::{Error, Result, Store};

/// Memory of the sort of one day; past it, sorted runs go to temporary files.
const SORT_MEMORY: usize = 512 << 20;
/// Rows of a batch read for the sort. The sort must hold a batch at least, and events with
/// large `properties` make large batches: a quarter of DataFusion's default.
const SORT_BATCH_ROWS: usize = 2048;

impl Store {
    /// `columns` of the `date` partition `day` of `table`, sorted by `sort_by` (ascending,
    /// nulls last), as a stream; None when the table has no file of that day. Strings may
    /// come as views: [`crate::TableWriter::write`] takes them as they are.
    pub async fn read_day_sorted(
        &self,
        table: &str,
        day: NaiveDate,
        columns: &[&str],
        sort_by: &[&str],
    ) -> Result<Option<SendableRecordBatchStream>> {
        self.read_day_sorted_within(table, day, columns, sort_by, SORT_MEMORY).await
    }

    pub(crate) async fn read_day_sorted_within(
        &self,
        table: &str,
        day: NaiveDate,
        columns: &[&str],
        sort_by: &[&str],
        memory: usize,
    ) -> Result<Option<SendableRecordBatchStream>> {
        let Some((frame, _)) = self.read_columns_frame(table, columns, Some(&[day])).await? else {
            return Ok(None);
        };
        let order = sort_by.iter().map(|column| ident(*column).sort(true, false)).collect();
        let (_, plan) = frame.sort(order).map_err(Error::from_datafusion)?.into_parts();
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(memory)))
            .build_arc()
            .map_err(Error::from_datafusion)?;
        let state = SessionStateBuilder::new()
            // One sorter with the whole pool: several would split it, each keeping room for
            // its merge, and their sorted outputs would be merged once more anyway.
            .with_config(
                SessionConfig::new().with_batch_size(SORT_BATCH_ROWS).with_target_partitions(1),
            )
            .with_runtime_env(runtime)
            .with_default_features()
            .build();
        let stream = DataFrame::new(state, plan).execute_stream().await;
        stream.map(Some).map_err(Error::from_datafusion)
    }
}
