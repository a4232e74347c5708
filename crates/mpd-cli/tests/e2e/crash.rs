//! Crash safety: `mpd sync` killed with SIGKILL at random moments, with faults
//! in the mock, never leaves a table whose rows and cursor disagree, and a re-run always ends
//! with exactly the deduplicated truth.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use mpd_testkit::{DaySelector, FaultRule, Faults, MockConfig, MockServer};

pub(crate) const FIRST_DAY: &str = "2024-03-01";
pub(crate) const TODAY: &str = "2024-03-10";
const TRIALS: u64 = 20;

pub(crate) fn sigkill_during_sync() -> Result<(), String> {
    sigkill_trials(TRIALS, |_| None)
}

/// The same trials on a store of the `kind` (`s3`, `azure`) emulator (fewer: each run talks
/// to the server).
#[allow(clippy::print_stderr, reason = "a skipped trial must say so")]
pub(crate) fn sigkill_during_sync_on(kind: &str) -> Result<(), String> {
    if crate::run::object_store_url(kind, "probe").is_none() {
        eprintln!(
            "!!! SKIPPED sync-sigkill-crash-safety-on-{kind}: no emulator (run the suite with `cargo xtask test`)"
        );
        return Ok(());
    }
    sigkill_trials(6, |trial| crate::run::object_store_url(kind, &format!("sigkill-{trial}")))
}

/// Where a trial's `mpd` runs: its mock, its HOME and, for an object store, `MPD_STORE`.
struct Site<'a> {
    mock: &'a MockServer,
    home: &'a Path,
    store: Option<&'a str>,
}

fn sigkill_trials(trials: u64, store_of: impl Fn(u64) -> Option<String>) -> Result<(), String> {
    let days: Vec<NaiveDate> =
        day(FIRST_DAY).iter_days().take_while(|d| *d <= day(TODAY)).collect();
    // Every trial uses a new mock (faults hit the first attempts again) and a new store.
    // How long an uninterrupted run takes, for each commit mode (see `sync`).
    let mut full_run = [Duration::ZERO; 2];
    for (mode, slot) in full_run.iter_mut().enumerate() {
        let (mock, home) = fresh(mode as u64)?;
        let store = store_of(100 + mode as u64);
        let site = Site { mock: &mock, home: home.path(), store: store.as_deref() };
        let started = Instant::now();
        let output = sync(&site, None, mode as u64)?;
        check(output.status.success(), || {
            format!("uninterrupted sync failed: {}", stderr(&output))
        })?;
        *slot = started.elapsed();
    }
    let mut kills = 0;
    for trial in 0..trials {
        let (mock, home) = fresh(trial)?;
        let store = store_of(trial);
        let site = Site { mock: &mock, home: home.path(), store: store.as_deref() };
        let truth = truth_by_day(&mock, &days);
        // Up to three kills per trial at pseudo-random points of a run; a resumed run has less
        // left to do, so later kills come earlier.
        let run = full_run[usize::from(!trial.is_multiple_of(2))];
        for attempt in 0..=(trial % 3) {
            let fraction = spread(trial * 7 + attempt);
            let delay = run.mul_f64((0.03 + 0.7 * fraction) / (attempt + 1) as f64);
            let output = sync(&site, Some(delay), trial)?;
            if output.status.code().is_none() {
                kills += 1;
            }
            consistent(&site, &truth)
                .map_err(|e| format!("trial {trial}, kill {attempt} after {delay:?}: {e}"))?;
        }
        let output = sync(&site, None, trial)?;
        check(output.status.success(), || {
            format!("trial {trial}: re-run failed: {}", stderr(&output))
        })?;
        let stored = stored_by_day(&site)?;
        check(stored == truth, || {
            format!("trial {trial}: final table {stored:?} != truth {truth:?}")
        })?;
        let audited = scalar(&site, "SELECT count(*) FROM rejected_duplicates")?;
        let want = mock.project().true_duplicates(day(FIRST_DAY), day(TODAY)) as u64;
        check(audited == want, || {
            format!("trial {trial}: {audited} audited duplicates, want {want}")
        })?;
        check(cursor(&site)? == Some(day("2024-03-09")), || {
            format!("trial {trial}: cursor not at yesterday after a full run")
        })?;
    }
    // Kills that landed after the run finished prove nothing; most must have hit a live run.
    check(kills >= trials, || format!("only {kills} kills hit a running sync"))
}

/// Rows and cursor agree: committed days are a prefix of the window, each complete, and the
/// cursor is the last complete day of that prefix (never today), whether days are committed
/// one by one or in groups.
fn consistent(site: &Site<'_>, truth: &BTreeMap<NaiveDate, u64>) -> Result<(), String> {
    let stored = stored_by_day(site)?;
    let mut last_full = None;
    let mut gap = false;
    for (day, want) in truth {
        let got = stored.get(day).copied().unwrap_or(0);
        match got {
            0 if *want > 0 => gap = true,
            n if n == *want && !gap => last_full = Some(*day),
            n => {
                return Err(format!(
                    "{day} holds {n} rows, want 0 or {want} after every committed day before it"
                ));
            }
        }
    }
    let distinct = scalar(
        site,
        "SELECT count(DISTINCT coalesce(insert_id, properties) || CAST(time AS VARCHAR)) FROM events",
    )
    .unwrap_or(0);
    let rows: u64 = stored.values().sum();
    check(distinct == rows, || format!("{rows} rows but {distinct} distinct keys"))?;
    let want_cursor = last_full.map(|d| d.min(day(TODAY).pred_opt().unwrap_or(d)));
    let got_cursor = cursor(site)?;
    check(got_cursor == want_cursor, || {
        format!("cursor {got_cursor:?} but complete days end at {last_full:?}")
    })
}

pub(crate) fn fresh(trial: u64) -> Result<(MockServer, tempfile::TempDir), String> {
    let n = |k: u64| u32::try_from(k % 3).unwrap_or(0) + 2;
    let faults = Faults {
        server_error: Some(FaultRule { days: DaySelector::EveryNth(n(trial)), attempts: 1 }),
        terminated_early: Some(FaultRule {
            days: DaySelector::EveryNth(n(trial + 1)),
            attempts: 1,
        }),
        disconnect: Some(FaultRule { days: DaySelector::EveryNth(n(trial + 2)), attempts: 1 }),
        ..Faults::default()
    };
    let config = MockConfig {
        events_per_day: 400,
        n_users: 80,
        first_day: day(FIRST_DAY),
        today: Some(day(TODAY)),
        faults,
        ..MockConfig::default()
    };
    let mock = MockServer::spawn(config).map_err(|e| format!("mock: {e}"))?;
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    Ok((mock, home))
}

/// `mpd sync events --from FIRST_DAY`, killed with SIGKILL after `kill_after` if still running.
/// Even trials commit every day, odd ones gather about three days per commit.
fn sync(site: &Site<'_>, kill_after: Option<Duration>, trial: u64) -> Result<Output, String> {
    let commit_rows = if trial.is_multiple_of(2) { "1" } else { "1000" };
    let mut child = mpd(site)
        .env("MPD_SYNC_COMMIT_ROWS", commit_rows)
        .args(["sync", "events", "--from", FIRST_DAY, "--no-progress", "-q"])
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(delay) = kill_after {
        let deadline = Instant::now() + delay;
        while Instant::now() < deadline {
            if child.try_wait().map_err(|e| e.to_string())?.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Child::kill sends SIGKILL on Unix: no destructor, no flush, no cleanup runs.
        let _ = child.kill();
    }
    child.wait_with_output().map_err(|e| e.to_string())
}

fn mpd(site: &Site<'_>) -> Command {
    mpd_at(site.mock, site.home, site.store)
}

/// `mpd` against the mock with HOME at `home` and, when given, `MPD_STORE=store` with the
/// AWS variables of the S3 test server passed on.
pub(crate) fn mpd_at(mock: &MockServer, home: &Path, store: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpd"));
    command
        .current_dir(home)
        .env_clear()
        .env("HOME", home)
        .env("MP_BASE_URL", mock.base_url())
        .env("MP_USERNAME", "mock-user")
        .env("MP_SECRET", "mock-secret")
        .env("MP_PROJECT_ID", "1234")
        .env("MP_REGION", "us")
        .env("MPD_TODAY", TODAY)
        .env("MPD_RETRY_BASE_DELAY_SECONDS", "0.01")
        .env("MPD_RETRY_MAX_DELAY_SECONDS", "0.05")
        .env("MPD_EXPORT_PER_SECOND", "1000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(store) = store {
        command.env("MPD_STORE", store);
        for key in crate::run::OBJECT_STORE_VARIABLES {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
    }
    command
}

fn query(site: &Site<'_>, sql: &str) -> Result<serde_json::Value, String> {
    let output =
        mpd(site).args(["query", "sql", sql, "-f", "json"]).output().map_err(|e| e.to_string())?;
    check(output.status.success(), || format!("`{sql}` failed: {}", stderr(&output)))?;
    serde_json::from_slice(&output.stdout).map_err(|e| format!("`{sql}` output: {e}"))
}

fn scalar(site: &Site<'_>, sql: &str) -> Result<u64, String> {
    let output =
        mpd(site).args(["query", "sql", sql, "--scalar"]).output().map_err(|e| e.to_string())?;
    check(output.status.success(), || format!("`{sql}` failed: {}", stderr(&output)))?;
    String::from_utf8_lossy(&output.stdout).trim().parse().map_err(|e| format!("`{sql}`: {e}"))
}

fn stored_by_day(site: &Site<'_>) -> Result<BTreeMap<NaiveDate, u64>, String> {
    if !has_events(site)? {
        return Ok(BTreeMap::new());
    }
    let rows =
        query(site, "SELECT CAST(date AS VARCHAR) AS d, count(*) AS n FROM events GROUP BY date")?;
    let mut out = BTreeMap::new();
    for row in rows.as_array().into_iter().flatten() {
        let d = row["d"].as_str().ok_or("date")?;
        out.insert(day(d), row["n"].as_u64().ok_or("count")?);
    }
    Ok(out)
}

/// The cursor as the sync itself reads it (its dry run).
/// Whether the store has an events table yet.
fn has_events(site: &Site<'_>) -> Result<bool, String> {
    if site.store.is_none() {
        // The table's first commit, not its log folder: a kill during that commit can leave
        // the folder with only the half-written commit's temporary file.
        let log = site.home.join(".mp/lake/1234/events/_delta_log");
        return Ok(
            log.join("00000000000000000000.json").exists() || log.join("_last_checkpoint").exists()
        );
    }
    let output =
        mpd(site).args(["inspect", "tables", "-f", "json"]).output().map_err(|e| e.to_string())?;
    check(output.status.success(), || format!("inspect tables failed: {}", stderr(&output)))?;
    let tables: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    Ok(tables.as_array().into_iter().flatten().any(|t| t["name"] == "events"))
}

fn cursor(site: &Site<'_>) -> Result<Option<NaiveDate>, String> {
    let output = mpd(site)
        .args(["sync", "events", "--from", FIRST_DAY, "--dry-run", "-q", "-f", "json"])
        .output()
        .map_err(|e| e.to_string())?;
    check(output.status.success(), || format!("dry run failed: {}", stderr(&output)))?;
    let plan: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    Ok(plan["plan"]["cursor"].as_str().map(day))
}

pub(crate) fn truth_by_day(mock: &MockServer, days: &[NaiveDate]) -> BTreeMap<NaiveDate, u64> {
    days.iter().map(|d| (*d, mock.project().deduplicated(*d, *d).len() as u64)).collect()
}

/// A fixed, well-spread sequence in [0, 1) (golden-ratio steps), so failures replay exactly.
fn spread(i: u64) -> f64 {
    (i as f64 * 0.618_033_988_749_895).fract()
}

pub(crate) fn day(text: &str) -> NaiveDate {
    text.parse().unwrap_or_default()
}

/// Runs `command` (an `mpd` with `args` added); its standard output if it succeeded.
pub(crate) fn succeed(mut command: Command, args: &[&str]) -> Result<String, String> {
    let output = command.args(args).output().map_err(|e| e.to_string())?;
    check(output.status.success(), || format!("`mpd {}`: {}", args.join(" "), stderr(&output)))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(message()) }
}
