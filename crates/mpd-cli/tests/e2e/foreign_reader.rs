//! Other Delta Lake readers see, from the bucket, the table mpd synced there: the Python
//! `deltalake` package, Polars and DuckDB (its `delta` and `httpfs` extensions from PyPI; all
//! in `MPD_TEST_PYTHON`, installed by `cargo xtask test` beside the S3 server) each count the
//! same rows, users and days as mpd's own SQL, after a sync and after a GDPR erasure (so each
//! honours the Delta log's removes rather than globbing Parquet files).

use mpd_testkit::MockServer;

use crate::crash::{FIRST_DAY, check, fresh, mpd_at, stderr, succeed};

/// Reads the events table at `sys.argv[1]` with the AWS_* variables of the environment and
/// prints `engine:rows,users,days` for each engine.
const READER: &str = r#"
import os, sys, importlib.resources
import duckdb, polars as pl
from deltalake import DeltaTable, QueryBuilder
url = sys.argv[1]
options = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP")}
query = "SELECT count(*) AS n, count(DISTINCT distinct_id) AS users, count(DISTINCT date) AS days FROM events"

result = QueryBuilder().register("events", DeltaTable(url, storage_options=options)).execute(query).read_all()
print("deltalake:" + ",".join(str(result.column(name).to_pylist()[0]) for name in ("n", "users", "days")))

frame = pl.scan_delta(url, storage_options=options).select(
    pl.len(), pl.col("distinct_id").n_unique(), pl.col("date").n_unique()).collect()
print("polars:" + ",".join(str(v) for v in frame.row(0)))

con = duckdb.connect()
# A scan slower than two seconds (a loaded machine) would draw a progress bar into stdout.
con.sql("SET autoinstall_known_extensions=false; SET autoload_known_extensions=false; SET enable_progress_bar=false")
for name in ("httpfs", "delta"):  # delta reads data files through httpfs
    wheel = importlib.resources.files("duckdb_extension_" + name)
    con.sql(f"LOAD '{wheel}/extensions/v{duckdb.__version__}/{name}.duckdb_extension'")
endpoint = options["AWS_ENDPOINT_URL"].split("://", 1)[1]
con.sql(f"""CREATE SECRET (TYPE S3, KEY_ID '{options["AWS_ACCESS_KEY_ID"]}',
    SECRET '{options["AWS_SECRET_ACCESS_KEY"]}', REGION '{options["AWS_REGION"]}',
    ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false)""")
row = con.sql(query.replace("FROM events", f"FROM delta_scan('{url}')")).fetchone()
print("duckdb:" + ",".join(str(v) for v in row))
"#;

const COUNTS: &str = "SELECT count(*) AS n, count(DISTINCT distinct_id) AS users, \
                      count(DISTINCT date) AS days FROM events";

#[allow(clippy::print_stderr, reason = "a skipped trial must say so")]
pub(crate) fn other_engines_read_the_bucket() -> Result<(), String> {
    let (Some(store), Ok(python)) =
        (crate::run::s3_store("foreign-reader"), std::env::var("MPD_TEST_PYTHON"))
    else {
        eprintln!(
            "!!! SKIPPED s3-table-read-by-deltalake-polars-duckdb: no S3 server or Python readers (run the suite with `cargo xtask test`)"
        );
        return Ok(());
    };
    let (mock, home) = fresh(1)?;
    let run = |args: &[&str]| succeed(mpd_at(&mock, home.path(), Some(&store)), args);
    run(&["sync", "events", "--from", FIRST_DAY, "--no-progress", "-q"])?;
    same_counts(&mock, home.path(), &store, &python, "after the sync")?;
    run(&["gdpr", "delete", "--distinct-id", "u_000003", "-q"])?;
    same_counts(&mock, home.path(), &store, &python, "after the erasure")
}

fn same_counts(
    mock: &MockServer,
    home: &std::path::Path,
    store: &str,
    python: &str,
    when: &str,
) -> Result<(), String> {
    let output = mpd_at(mock, home, Some(store))
        .args(["query", "sql", COUNTS, "-f", "csv"])
        .output()
        .map_err(|e| e.to_string())?;
    check(output.status.success(), || format!("mpd's count {when}: {}", stderr(&output)))?;
    let ours = String::from_utf8_lossy(&output.stdout).lines().nth(1).unwrap_or("").to_owned();
    let table = format!("{store}events");
    let theirs = crate::run::run_python(python, READER, &[table.as_ref()])
        .map_err(|e| format!("the Python readers {when}: {e}"))?;
    let engines: Vec<(&str, &str)> = theirs.lines().filter_map(|l| l.split_once(':')).collect();
    check(engines.len() == 3, || {
        format!("{when}: expected three engines' counts, got {theirs:?}")
    })?;
    for (engine, counts) in engines {
        check(!ours.is_empty() && ours == counts.trim(), || {
            format!("{when}: mpd counts {ours:?} (rows, users, days) but {engine} {counts:?}")
        })?;
    }
    Ok(())
}
