//! Another Delta Lake reader sees, from the bucket, the table mpd synced there: the Python
//! `deltalake` package (`MPD_TEST_PYTHON`, installed by `cargo xtask test` beside the S3
//! server) counts the same rows, users and days as mpd's own SQL, after a sync and after a
//! GDPR erasure.

use mpd_testkit::MockServer;

use crate::crash::{FIRST_DAY, check, fresh, mpd_at, stderr, succeed};

/// Reads the events table at `sys.argv[1]` with the AWS_* variables of the environment.
const READER: &str = r#"
import os, sys
from deltalake import DeltaTable, QueryBuilder
options = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP")}
table = DeltaTable(sys.argv[1], storage_options=options)
query = "SELECT count(*) AS n, count(DISTINCT distinct_id) AS users, count(DISTINCT date) AS days FROM events"
result = QueryBuilder().register("events", table).execute(query).read_all()
print(",".join(str(result.column(name).to_pylist()[0]) for name in ("n", "users", "days")))
"#;

const COUNTS: &str = "SELECT count(*) AS n, count(DISTINCT distinct_id) AS users, \
                      count(DISTINCT date) AS days FROM events";

#[allow(clippy::print_stderr, reason = "a skipped trial must say so")]
pub(crate) fn python_deltalake_reads_the_bucket() -> Result<(), String> {
    let (Some(store), Ok(python)) =
        (crate::run::s3_store("foreign-reader"), std::env::var("MPD_TEST_PYTHON"))
    else {
        eprintln!(
            "!!! SKIPPED s3-table-read-by-python-deltalake: no S3 server or Python reader (run the suite with `cargo xtask test`)"
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
        .map_err(|e| format!("the Python reader {when}: {e}"))?
        .trim()
        .to_owned();
    check(!ours.is_empty() && ours == theirs, || {
        format!("{when}: mpd counts {ours:?} (rows, users, days) but deltalake {theirs:?}")
    })
}
