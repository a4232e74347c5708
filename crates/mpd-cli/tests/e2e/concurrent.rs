//! Two `mpd sync` runs at once against one store on an object store (no lock there): each commit lands right
//! after the version its run last read, or the run stops with "another writer committed";
//! rows are never doubled, and a later run ends at exactly the deduplicated truth.

use chrono::NaiveDate;
use mpd_testkit::MockServer;

use crate::crash::{FIRST_DAY, TODAY, check, day, fresh, mpd_at, stderr, truth_by_day};

const ROUNDS: u64 = 4;

#[allow(clippy::print_stderr, reason = "a skipped trial must say so")]
pub(crate) fn two_syncs_at_once_on(kind: &str) -> Result<(), String> {
    let days: Vec<NaiveDate> =
        day(FIRST_DAY).iter_days().take_while(|d| *d <= day(TODAY)).collect();
    let mut conflicts = 0;
    for round in 0..ROUNDS {
        let Some(store) = crate::run::object_store_url(kind, &format!("concurrent-{round}")) else {
            eprintln!(
                "!!! SKIPPED sync-twice-at-once-on-{kind}: no emulator (run the suite with `cargo xtask test`)"
            );
            return Ok(());
        };
        let (mock, home) = fresh(round)?;
        let start = || {
            mpd_at(&mock, home.path(), Some(&store))
                // One commit per day: many chances to interleave.
                .env("MPD_SYNC_COMMIT_ROWS", "1")
                .args(["sync", "events", "--from", FIRST_DAY, "--no-progress", "-q"])
                .spawn()
                .map_err(|e| e.to_string())
        };
        let (first, second) = (start()?, start()?);
        for child in [first, second] {
            let output = child.wait_with_output().map_err(|e| e.to_string())?;
            if output.status.success() {
                continue;
            }
            let message = stderr(&output);
            check(message.contains("another writer committed"), || {
                format!("round {round}: a run failed otherwise: {message}")
            })?;
            conflicts += 1;
        }
        no_doubled_rows(&mock, home.path(), &store)
            .map_err(|e| format!("round {round}, after the two runs: {e}"))?;
        let output = mpd_at(&mock, home.path(), Some(&store))
            .args(["sync", "events", "--from", FIRST_DAY, "--no-progress", "-q"])
            .output()
            .map_err(|e| e.to_string())?;
        check(output.status.success(), || format!("round {round}: re-run: {}", stderr(&output)))?;
        let truth: u64 = truth_by_day(&mock, &days).values().sum();
        let rows = no_doubled_rows(&mock, home.path(), &store)?;
        check(rows == truth, || format!("round {round}: {rows} rows, the truth is {truth}"))?;
    }
    // Runs that never overlapped prove nothing: some commits must have met another's.
    check(conflicts >= 1, || "the two runs never met: no commit was refused".to_owned())
}

/// The row count, checked to hold each event once.
fn no_doubled_rows(mock: &MockServer, home: &std::path::Path, store: &str) -> Result<u64, String> {
    let sql = "SELECT count(*) AS n, count(DISTINCT coalesce(insert_id, properties) || \
               CAST(time AS VARCHAR)) AS keys FROM events";
    let output = mpd_at(mock, home, Some(store))
        .args(["query", "sql", sql, "-f", "json"])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() && stderr(&output).contains("does not exist") {
        return Ok(0);
    }
    check(output.status.success(), || format!("count failed: {}", stderr(&output)))?;
    let rows: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let (n, keys) = (rows[0]["n"].as_u64().unwrap_or(0), rows[0]["keys"].as_u64().unwrap_or(0));
    check(n == keys, || format!("{n} rows hold only {keys} distinct events"))?;
    Ok(n)
}
