//! `mpd demo`: the main job against the bundled mock Mixpanel.

use crate::cli::{Format, GlobalArgs};
use crate::commands::{print_result, status};
use crate::progress::BarReporter;

pub(crate) async fn run(global: &GlobalArgs) -> anyhow::Result<()> {
    status(
        global,
        "starting the bundled mock Mixpanel on 127.0.0.1 (a 500, a 429 and a stream cut short are injected)...",
    );
    let reporter = BarReporter::new(!global.no_progress && !global.quiet);
    let report = mpd_service::run_demo(&reporter).await?;
    let fetch = &report.fetch;
    status(
        global,
        &format!(
            "fetched {}..={} from {} into an ephemeral store in {:.2}s: {} events received, {} rows stored, {} true duplicate(s) audited, {} request(s) retried",
            report.from,
            report.to,
            report.mock_url,
            fetch.elapsed_secs,
            fetch.fetched,
            fetch.written,
            fetch.duplicates_rejected,
            fetch.retries
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
