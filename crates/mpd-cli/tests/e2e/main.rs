//! End-to-end cases: the real `mpd` binary against the mock Mixpanel over TCP.
//!
//! Each folder `fixtures/e2e/<case>/` holds a `case.toml` (arguments, environment, mock
//! scenario, extra checks); the exit code, stdout and stderr of every step are snapshotted with
//! insta in `snapshots/` beside this file. A new case needs no Rust. `cargo xtask e2e --accept`
//! updates snapshots after review.

mod case;
mod concurrent;
mod crash;
mod disk_full;
mod foreign_reader;
mod pipelines_bucket;
mod run;
mod truth;

use std::path::PathBuf;

fn main() {
    let arguments = libtest_mimic::Arguments::from_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/e2e");
    let cases = match case::discover(&root) {
        Ok(cases) => cases,
        Err(error) => panic!("cannot read e2e cases in {}: {error}", root.display()),
    };
    let mut trials: Vec<libtest_mimic::Trial> = cases
        .into_iter()
        .map(|case| {
            let name = case.name.clone();
            libtest_mimic::Trial::test(name, move || run::run_case(&case).map_err(Into::into))
        })
        .collect();
    trials.push(libtest_mimic::Trial::test("sync-sigkill-crash-safety", || {
        crash::sigkill_during_sync().map_err(Into::into)
    }));
    for kind in ["s3", "azure"] {
        trials.push(libtest_mimic::Trial::test(
            format!("sync-sigkill-crash-safety-on-{kind}"),
            move || crash::sigkill_during_sync_on(kind).map_err(Into::into),
        ));
        trials
            .push(libtest_mimic::Trial::test(format!("sync-twice-at-once-on-{kind}"), move || {
                concurrent::two_syncs_at_once_on(kind).map_err(Into::into)
            }));
    }
    trials.push(libtest_mimic::Trial::test("s3-table-read-by-deltalake-polars-duckdb", || {
        foreign_reader::other_engines_read_the_bucket().map_err(Into::into)
    }));
    trials.push(libtest_mimic::Trial::test("import-pipelines-from-a-bucket", || {
        pipelines_bucket::import_pipelines_from_a_bucket().map_err(Into::into)
    }));
    trials.push(libtest_mimic::Trial::test("sync-onto-a-full-disk", || {
        disk_full::sync_into_a_full_disk().map_err(Into::into)
    }));
    libtest_mimic::run(&arguments, trials).exit();
}
