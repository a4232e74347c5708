//! Helpers the unit tests of several use cases share.

use crate::workspace::Workspace;

/// Every row of `table` as `insert_id/time/mp_processing_time/date`, sorted: two tables with
/// the same keys here hold the same rows for dedup's purposes.
pub(crate) async fn row_keys(workspace: &Workspace, table: &str) -> Vec<String> {
    let sql = format!(
        "SELECT coalesce(insert_id, '-') || '/' || CAST(time AS VARCHAR) || '/' || \
         CAST(mp_processing_time AS VARCHAR) || '/' || CAST(date AS VARCHAR) AS k \
         FROM {table} ORDER BY k"
    );
    let result = workspace.sql(&sql).await.unwrap();
    result.rows.iter().map(|r| r["k"].as_str().unwrap().to_owned()).collect()
}
