//! `mpd demo`: the main job against the bundled mock Mixpanel.

use crate::cli::{Format, GlobalArgs};
use crate::commands::{print_result, status};
use crate::progress::BarReporter;

pub(crate) async fn run(global: &GlobalArgs) -> anyhow::Result<()> {
    status(
        global,
        "starting the bundled mock Mixpanel on 127.0.0.1 (with a few injected faults)...",
    );
    let reporter = BarReporter::new(!global.no_progress && !global.quiet);
    let report = mpd_service::run_demo(&reporter).await?;
    status(
        global,
        &format!(
            "streamed {} events for {}..={} from {} in {:.2}s ({} day request(s) retried after injected faults)",
            report.events,
            report.from,
            report.to,
            report.mock_url,
            report.elapsed_secs,
            report.retries
        ),
    );
    if global.format.is_some() {
        return print_result(global, Format::Json, &report);
    }
    let rows: Vec<serde_json::Value> = report
        .events_by_name
        .iter()
        .map(|(name, n)| serde_json::json!({"event": name, "count": n}))
        .collect();
    print_result(global, Format::Table, &rows)?;
    status(
        global,
        &format!(
            "received {} events, the mock served {}: {}",
            report.events,
            report.mock_truth_events,
            if report.matches_truth { "identical, line for line" } else { "MISMATCH" }
        ),
    );
    if !report.matches_truth {
        anyhow::bail!("the demo stream differs from what the mock served");
    }
    Ok(())
}
