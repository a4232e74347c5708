//! `mpd demo`: the main job against the bundled mock Mixpanel. The mock is part of the build
//! only with the `demo` feature (on by default); without it the command says so.

#[cfg(feature = "demo")]
use crate::cli::Format;
use crate::cli::GlobalArgs;
#[cfg(feature = "demo")]
use crate::commands::{print_result, status};
#[cfg(feature = "demo")]
use crate::progress::BarReporter;

#[cfg(feature = "demo")]
mod run;

#[cfg(not(feature = "demo"))]
pub(crate) async fn run(_global: &GlobalArgs) -> anyhow::Result<()> {
    Err(crate::Exit {
        code: crate::EXIT_USAGE,
        message: "this mpd was built without the bundled mock (cargo feature `demo`); \
                  install it with default features to run the demo"
            .to_owned(),
    }
    .into())
}

#[cfg(feature = "demo")]
pub(crate) async fn run(global: &GlobalArgs) -> anyhow::Result<()> {
    status(
        global,
        "starting the bundled mock Mixpanel on 127.0.0.1 (a 500, a 429 and a stream cut short are injected)...",
    );
    let reporter = BarReporter::new(!global.no_progress && !global.quiet);
    let report = run::run_demo(&reporter).await?;
    let first = &report.first_sync;
    status(
        global,
        &format!(
            "sync 1: {}..={} from {} into an ephemeral store in {:.2}s: {} events received, {} rows stored in {} commit(s), {} true duplicate(s) audited, {} request(s) retried; cursor now {}; {} identity mapping(s), {} profile(s)",
            report.from,
            report.to,
            report.mock_url,
            first.elapsed_secs,
            first.fetched,
            first.counts.written,
            first.commits,
            first.counts.duplicates_rejected,
            first.retries,
            first.cursor_after.map_or("none".to_owned(), |c| c.to_string()),
            report.identity_mappings,
            report.profiles,
        ),
    );
    let second = &report.second_sync;
    status(
        global,
        &format!(
            "{} late events arrive in the mock; sync 2 re-reads {}..={} (cursor minus the 5-day lookback): {} new rows, {} already present, {} commit(s)",
            report.late_events,
            second.window.from,
            second.window.to,
            second.counts.written,
            second.counts.already_present,
            second.commits,
        ),
    );
    status(
        global,
        &format!(
            "the mock's deduplicated truth is {} rows with {} injected duplicates: {}",
            report.mock_truth_rows,
            report.mock_true_duplicates,
            if report.matches_truth { "the table matches it exactly" } else { "MISMATCH" }
        ),
    );
    if global.format.is_some() {
        print_result(global, Format::Json, &report)?;
    } else {
        for query in &report.queries {
            status(global, &format!("\n-- {}\n{}", query.title, query.sql));
            print_result(global, Format::Table, &query.rows)?;
        }
    }
    if !report.matches_truth {
        anyhow::bail!("the demo's table differs from what the mock served");
    }
    Ok(())
}
