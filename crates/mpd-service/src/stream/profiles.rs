//! `mpd fetch profiles --stdout`: engage pages written as they arrive (pages are retried one by
//! one inside the client, so nothing is written twice).

use std::io::Write;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::workspace::Workspace;

/// Which profiles to stream.
#[derive(Debug, Clone, Default)]
pub struct StreamProfilesRequest {
    /// A Mixpanel profile expression.
    pub where_expr: Option<String>,
    /// Only members of this cohort.
    pub cohort_id: Option<u64>,
    /// Only these properties.
    pub output_properties: Vec<String>,
    /// Only these profiles.
    pub distinct_ids: Vec<String>,
    /// Group profiles of this group key instead of user profiles.
    pub group_id: Option<String>,
    /// Emit Mixpanel's objects unchanged instead of normalised records.
    pub raw: bool,
}

/// What a profile streaming run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProfileSummary {
    /// Profiles written.
    pub profiles: u64,
    /// Pages fetched.
    pub pages: u64,
    /// Bytes written to the output.
    pub bytes_written: u64,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

impl StreamProfilesRequest {
    /// The engage request that selects these profiles.
    pub(crate) fn engage_request(&self) -> mpd_api::EngageRequest {
        mpd_api::EngageRequest {
            where_expr: self.where_expr.clone(),
            cohort_id: self.cohort_id,
            output_properties: self.output_properties.clone(),
            distinct_ids: self.distinct_ids.clone(),
            group_id: self.group_id.clone(),
            page_size: None,
        }
    }
}

/// Streams profiles page by page to `out`.
pub(crate) async fn stream_profiles(
    ws: &Workspace,
    request: &StreamProfilesRequest,
    out: &mut dyn Write,
    reporter: &dyn Reporter,
) -> Result<ProfileSummary> {
    let started = Instant::now();
    let engage = request.engage_request();
    reporter.started("profiles", 0);
    let mut pager = ws.client()?.engage(&engage).await.map_err(|e| ws.api_error(e))?;
    let mut summary = ProfileSummary::default();
    let mut raw = Vec::new();
    let mut line = Vec::new();
    while let Some(page) = pager.next_page().await.map_err(|e| ws.api_error(e))? {
        summary.pages += 1;
        line.clear();
        for result in &page.results {
            raw.clear();
            serde_json::to_writer(&mut raw, result)
                .map_err(|e| Error::Write { what: "a profile".to_owned(), source: e.into() })?;
            if request.raw {
                line.extend_from_slice(&raw);
            } else {
                let record = mpd_decode::decode_profile(&raw).map_err(|e| {
                    Error::Unreadable(format!(
                        "Mixpanel returned a profile mpd cannot read on page {}: {e}",
                        page.page
                    ))
                })?;
                mpd_decode::write_profile_json(&record, &mut line);
            }
            line.push(b'\n');
        }
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|source| Error::Write { what: "output".to_owned(), source })?;
        summary.profiles += page.results.len() as u64;
        summary.bytes_written += line.len() as u64;
        reporter.records_written(page.results.len() as u64);
    }
    reporter.finished();
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(summary)
}
