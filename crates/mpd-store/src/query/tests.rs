//! The plan of `read_columns` only lists the requested days' files.

use std::sync::Arc;

use arrow_array::{Date32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use datafusion::physical_plan::displayable;

use super::*;
use crate::{StoreMode, WriteMode};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, d).expect("valid day")
}

/// The test table's columns: a `date` to partition by, a `key` and a `payload` of `payload`'s
/// type.
fn date_key_payload(payload: DataType) -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("key", DataType::Int64, false),
        Field::new("payload", payload, false),
    ]))
}

async fn store_with_days(days: &[u32]) -> Store {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    let schema = date_key_payload(DataType::Int64);
    let mut writer =
        store.writer("t", schema.clone(), &["date"], WriteMode::Create).await.expect("writer");
    let dates: Vec<i32> = days.iter().map(|d| days_since_epoch(day(*d))).collect();
    let keys: Vec<i64> = days.iter().map(|d| i64::from(*d)).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Date32Array::from(dates)),
            Arc::new(Int64Array::from(keys.clone())),
            Arc::new(Int64Array::from(keys)),
        ],
    )
    .expect("batch");
    writer.write(batch).await.expect("write");
    writer.commit(serde_json::Map::new()).await.expect("commit");
    store
}

async fn physical_plan(store: &Store, dates: Option<&[NaiveDate]>) -> String {
    let (frame, _) =
        store.read_columns_frame("t", &["key"], dates).await.expect("plan").expect("files");
    let plan = frame.create_physical_plan().await.expect("physical plan");
    displayable(plan.as_ref()).indent(true).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_touches_only_the_requested_partitions() {
    let store = store_with_days(&[1, 2, 3]).await;
    let all = physical_plan(&store, None).await;
    for d in 1..=3 {
        assert!(all.contains(&format!("date=2024-03-0{d}")), "{all}");
    }
    let pruned = physical_plan(&store, Some(&[day(2)])).await;
    assert!(pruned.contains("date=2024-03-02"), "{pruned}");
    assert!(!pruned.contains("date=2024-03-01") && !pruned.contains("date=2024-03-03"), "{pruned}");
    // Projection: the other data column is not read.
    assert!(!pruned.contains("payload"), "{pruned}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_without_files_plan_nothing() {
    let store = store_with_days(&[1]).await;
    let frame = store.read_columns_frame("t", &["key"], Some(&[day(9)])).await.expect("plan");
    assert!(frame.is_none());
}

#[test]
fn end_position_is_past_the_last_character() {
    assert_eq!(end_position("SELECT"), (1, 7));
    assert_eq!(end_position("SELECT a\nFROM"), (2, 5));
}

#[test]
fn days_count_from_the_epoch() {
    assert_eq!(days_since_epoch(NaiveDate::from_ymd_opt(1970, 1, 2).expect("day")), 1);
}

async fn write_strings(store: &Store, table: &str, columns: &[(&str, Vec<&str>)]) {
    use arrow_array::StringArray;
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, _)| Field::new(*name, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let arrays = columns
        .iter()
        .map(|(_, values)| Arc::new(StringArray::from(values.clone())) as arrow_array::ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).expect("batch");
    let mut writer = store.writer(table, schema, &[], WriteMode::Create).await.expect("writer");
    writer.write(batch).await.expect("write");
    writer.commit(serde_json::Map::new()).await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_resolved_keeps_unmapped_users_when_json_functions_are_used() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_strings(
        &store,
        "events",
        &[
            ("distinct_id", vec!["$device:a", "u_1", "anon_b"]),
            ("properties", vec![r#"{"page":"/"}"#, r#"{"page":"/"}"#, r#"{"page":"/docs"}"#]),
        ],
    )
    .await;
    write_strings(
        &store,
        "identity_mappings",
        &[
            ("distinct_id", vec!["$device:a"]),
            ("resolved_distinct_id", vec!["u_1"]),
            ("source", vec!["derived"]),
        ],
    )
    .await;
    let result = store
        .sql(
            "SELECT json_get_str(properties, 'page') AS page, \
             count(DISTINCT resolved_distinct_id) AS users \
             FROM events_resolved GROUP BY 1 ORDER BY 1",
        )
        .await
        .expect("query");
    let users: Vec<i64> = result
        .batches
        .iter()
        .flat_map(|b| {
            let counts = b.column(1).as_any().downcast_ref::<Int64Array>().expect("counts");
            counts.values().to_vec()
        })
        .collect();
    // "/" is u_1 twice (once through the mapping), "/docs" the unmapped anon_b.
    assert_eq!(users, vec![1, 1]);
    let ids = store
        .sql("SELECT resolved_distinct_id FROM events_resolved WHERE json_get_str(properties, 'page') = '/docs'")
        .await
        .expect("query");
    let text = arrow_cast::pretty::pretty_format_batches(&ids.batches).expect("format").to_string();
    assert!(text.contains("anon_b"), "{text}");
}

/// The tables a plan scans, subqueries included, each time it scans them.
fn scans(plan: &datafusion::logical_expr::LogicalPlan) -> Vec<String> {
    use datafusion::common::tree_node::TreeNodeRecursion;
    let mut found = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let datafusion::logical_expr::LogicalPlan::TableScan(scan) = node {
            found.push(scan.table_name.to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found.sort();
    found
}

const STEPS: &str = "WITH first AS (SELECT key, min(payload) AS at FROM t GROUP BY key), \
     second AS (SELECT t.key FROM t JOIN first f ON t.key = f.key AND t.payload >= f.at) \
     SELECT (SELECT count(*) FROM first) AS a, (SELECT count(*) FROM second) AS b, \
            (SELECT count(*) FROM first JOIN second ON first.key = second.key) AS c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cte_read_several_times_is_computed_once() {
    let store = store_with_days(&[1, 2, 3, 3]).await;
    let context = store.session().await.expect("session");
    let inlined = context.sql(STEPS).await.expect("plan").into_parts().1;
    assert_eq!(scans(&inlined), vec!["t"; 6], "inlined: t read at every reference");
    let (computed, names) = shared_ctes::compute_and_name_shared_ctes(&context, inlined).await;
    assert_eq!(scans(&computed), vec!["first", "first", "second", "second"]);
    // `first f` in `second` names rows already in memory: not computed again.
    assert_eq!(names, vec!["first", "second"]);

    let result = store.sql(STEPS).await.expect("query");
    let row = &result.batches[0];
    let values: Vec<i64> = (0..3)
        .map(|i| row.column(i).as_any().downcast_ref::<Int64Array>().expect("i64").value(0))
        .collect();
    assert_eq!(values, vec![3, 4, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_and_single_references_stay_inlined() {
    let store = store_with_days(&[1, 2]).await;
    let context = store.session().await.expect("session");
    for query in [
        format!("EXPLAIN {STEPS}"),
        "WITH once AS (SELECT key FROM t) SELECT count(*) FROM once".to_owned(),
        // The same table twice is not a computed result to share.
        "SELECT count(*) FROM t a JOIN t b ON a.key = b.key".to_owned(),
    ] {
        let plan = context.sql(&query).await.expect("plan").into_parts().1;
        let before = scans(&plan);
        let after = shared_ctes::compute_shared_ctes(&context, plan).await;
        assert_eq!(scans(&after), before, "{query}");
    }
}

#[tokio::test]
async fn writing_statements_are_refused_as_read_only_sql() {
    let store = store_with_days(&[1]).await;
    for (query, kind) in [
        ("DROP TABLE t", "DDL (DropTable)"),
        ("CREATE TABLE t AS SELECT 1", "DDL (CreateMemoryTable)"),
        ("INSERT INTO t SELECT * FROM t", "DML (Insert)"),
        ("SET datafusion.execution.batch_size = 1", "non-query (SetVariable)"),
    ] {
        let error = store.sql(query).await.expect_err(query);
        let message = error.to_string();
        assert!(matches!(error, Error::Sql { .. }), "{query}: {error:?}");
        assert!(
            message.starts_with(&format!(
                "the store is read through SQL only: {kind} statements are refused"
            )),
            "{query}: {message}"
        );
    }
}

/// The physical plan's text of `query` as `EXPLAIN` shows it.
async fn explained(store: &Store, query: &str) -> String {
    plan_text(store, &format!("EXPLAIN {query}")).await
}

/// The plan column of what an `EXPLAIN` or `EXPLAIN ANALYZE` `statement` returns.
async fn plan_text(store: &Store, statement: &str) -> String {
    let result = store.sql(statement).await.expect("explain");
    let mut text = String::new();
    for batch in &result.batches {
        let plans = batch.column(1).as_any().downcast_ref::<arrow_array::StringArray>();
        for i in 0..batch.num_rows() {
            text.push_str(plans.map_or("", |p| p.value(i)));
            text.push('\n');
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_do_not_filter_the_other_sides_scan_row_by_row() {
    let store = store_with_days(&[1, 2, 3]).await;
    let plan = explained(
        &store,
        "SELECT count(*) FROM t a JOIN t b ON a.key = b.key AND a.payload < b.payload",
    )
    .await;
    assert!(plan.contains("HashJoinExec"), "{plan}");
    assert!(!plan.contains("DynamicFilter"), "{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filters_column_is_decoded_again_rather_than_kept() {
    // One file whose rows the filter splits: what the Parquet reader would keep for a filter.
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    let schema = date_key_payload(DataType::Int64);
    let rows = 100;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Date32Array::from(vec![days_since_epoch(day(1)); rows])),
            Arc::new(Int64Array::from_iter_values(0..rows as i64)),
            Arc::new(Int64Array::from_iter_values((0..rows as i64).map(|i| i % 10))),
        ],
    )
    .expect("batch");
    let mut writer = store.writer("t", schema, &["date"], WriteMode::Create).await.expect("writer");
    writer.write(batch).await.expect("write");
    writer.commit(serde_json::Map::new()).await.expect("commit");

    let text =
        plan_text(&store, "EXPLAIN ANALYZE SELECT key, payload FROM t WHERE payload = 3").await;
    let metric = |name: &str| {
        let value = text.split(&format!("{name}=")).nth(1).unwrap_or_default();
        value.split([',', ']']).next().unwrap_or_default().to_owned()
    };
    assert_eq!(metric("pushdown_rows_matched"), "10", "the filter ran in the scan: {text}");
    assert_eq!(metric("predicate_cache_records"), "0", "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_reaches_the_parquet_scan_once() {
    let store = store_with_days(&[1, 2, 3]).await;
    let query = "SELECT count(*) AS n FROM t WHERE payload = 2";
    let plan = explained(&store, query).await;
    let scan = plan.lines().find(|line| line.contains("DataSourceExec")).expect("scan");
    let predicate = scan.split(", predicate=").nth(1).expect("a predicate in the scan");
    let predicate = predicate.split(", pruning_predicate").next().unwrap_or(predicate);
    assert_eq!(predicate, "payload@0 = 2", "{scan}");
    // The log's statistics still choose the files: only the day holding 2 is read.
    assert!(scan.contains("{1 group: [[") && scan.contains("date=2024-03-02/"), "{scan}");

    let result = store.sql(query).await.expect("query");
    let counts = result.batches[0].column(0).as_any().downcast_ref::<Int64Array>();
    assert_eq!(counts.map(|c| c.value(0)), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_reads_back_sorted_even_past_the_sort_memory() {
    use arrow_array::{Array, StringArray};
    use futures::TryStreamExt as _;

    let store = Store::open(StoreMode::InMemory).await.expect("open");
    let schema = date_key_payload(DataType::Utf8);
    let mut writer =
        store.writer("t", schema.clone(), &["date"], WriteMode::Create).await.expect("writer");
    // Two days; keys of day 1 descending in 4 writes of 20,000 rows with 800-byte payloads:
    // 64 MB of rows, more than the sort memory given below (which keeps 10 MB per sorting
    // partition for the merge).
    for part in 0..4i64 {
        let rows = 20_000i64;
        let keys: Vec<i64> = (0..rows).map(|i| 1_000_000 - (part * rows + i)).collect();
        let dates: Vec<i32> =
            keys.iter().map(|k| days_since_epoch(day(1 + u32::from(k % 50 == 0)))).collect();
        let payload: Vec<String> = keys.iter().map(|k| format!("{k:0>800}")).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Date32Array::from(dates)),
                Arc::new(Int64Array::from(keys)),
                Arc::new(StringArray::from(payload)),
            ],
        )
        .expect("batch");
        writer.write(batch).await.expect("write");
    }
    writer.commit(serde_json::Map::new()).await.expect("commit");

    let stream = store
        .read_day_sorted_within("t", day(1), &["key", "payload"], &["key"], 48 << 20)
        .await
        .expect("plan")
        .expect("files");
    let batches: Vec<RecordBatch> = stream.try_collect().await.expect("sorted rows");
    let mut keys = Vec::new();
    for batch in &batches {
        let column = batch.column(0).as_any().downcast_ref::<Int64Array>().expect("i64");
        keys.extend(column.values().iter().copied());
    }
    assert_eq!(keys.len(), 78_400, "day 1's rows only");
    assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "ascending");
    assert!(keys.iter().all(|k| k % 50 != 0));
    assert!(store.read_day_sorted("t", day(9), &["key"], &["key"]).await.expect("plan").is_none());
}

/// Whether each file the session's metadata cache holds has its page index there too.
fn cached_page_indexes(context: &SessionContext) -> Vec<String> {
    let cache = context.runtime_env().cache_manager.get_file_metadata_cache();
    let mut found: Vec<String> = cache
        .list_entries()
        .into_values()
        .map(|entry| {
            let extra = entry.value.file_metadata.extra_info();
            extra.get("page_index").cloned().unwrap_or_default()
        })
        .collect();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_scan_keeps_each_files_page_index_for_the_next_query() {
    let store = store_with_days(&[1, 2, 3]).await;
    let query = "SELECT count(*) FROM t WHERE payload >= 1";
    let counted = store.sql(query).await.expect("query");
    let count = counted.batches[0].column(0).as_any().downcast_ref::<Int64Array>().expect("i64");
    assert_eq!(count.value(0), 3);
    let context = store.session().await.expect("session");
    // Without the page-index reader the cache holds footers only ("false"), and every query
    // reads each page index again.
    assert_eq!(cached_page_indexes(&context), vec!["true"; 3]);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_stores_scans_read_its_files_themselves() {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::datasource::physical_plan::{FileScanConfig, ParquetSource};
    use datafusion::datasource::source::DataSourceExec;

    let folder = tempfile::tempdir().expect("temp dir");
    let real = folder.path().join("real");
    std::fs::create_dir(&real).expect("mkdir");
    // Opened through a link, the store still knows its files by their canonical paths.
    let linked = folder.path().join("linked");
    std::os::unix::fs::symlink(&real, &linked).expect("symlink");
    let store = Store::open(StoreMode::Persistent(linked)).await.expect("open");
    let schema = Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("payload", DataType::Int64, false),
    ]));
    let mut writer =
        store.writer("t", schema.clone(), &["date"], WriteMode::Create).await.expect("writer");
    let dates: Vec<i32> = (0..3000).map(|i| days_since_epoch(day(1 + i % 3))).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(Date32Array::from(dates)), Arc::new(Int64Array::from_iter_values(0..3000))],
    )
    .expect("batch");
    writer.write(batch).await.expect("write");
    writer.commit(serde_json::Map::new()).await.expect("commit");

    let query = "SELECT sum(payload) FROM t WHERE payload >= 1000";
    let summed = store.sql(query).await.expect("query");
    let sum = summed.batches[0].column(0).as_any().downcast_ref::<Int64Array>().expect("i64");
    assert_eq!(sum.value(0), (1000..3000).sum::<i64>());

    let context = store.session().await.expect("session");
    let plan = context.sql(query).await.expect("plan").create_physical_plan().await.expect("exec");
    let mut readers = Vec::new();
    plan.apply(|node| {
        if let Some(exec) = node.downcast_ref::<DataSourceExec>()
            && let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>()
            && let Some(source) = config.file_source().downcast_ref::<ParquetSource>()
        {
            readers.push(format!("{:?}", source.parquet_file_reader_factory()));
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .expect("walk");
    let root = real.canonicalize().expect("canonical");
    assert_eq!(readers.len(), 1, "{readers:?}");
    assert!(readers[0].contains(&format!("local_root: Some({root:?})")), "{readers:?}");
}
