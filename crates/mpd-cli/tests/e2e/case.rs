//! The `case.toml` format.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// One end-to-end case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Case {
    #[serde(skip)]
    pub(crate) name: String,
    /// What the case shows (documentation only).
    #[allow(dead_code)]
    pub(crate) description: String,
    /// Steps run in order in the same HOME against the same mock.
    pub(crate) steps: Vec<Step>,
    /// Which credentials the environment carries: "env" (the mock's, default), "none", or
    /// "wrong-secret".
    #[serde(default = "default_credentials")]
    pub(crate) credentials: String,
    /// A config file written to `$HOME/.mp/config.toml` before the first step.
    pub(crate) config: Option<String>,
    /// A JSON-pipelines tree of the mock's project written to `$HOME/<folder>/<project_id>/`
    /// before the first step.
    pub(crate) pipelines: Option<PipelinesSpec>,
    /// Export dumps written to `$HOME` before the first step: the mock's export lines of the
    /// days, as `mpd fetch events --stdout --raw` would save them.
    #[serde(default)]
    pub(crate) dumps: Vec<DumpSpec>,
    /// The mock's scenario (a `MockConfig` table); defaults keep the cases small.
    #[serde(default)]
    pub(crate) mock: toml::Table,
    /// "s3": every step's store (`MPD_STORE`) is a fresh prefix of the S3 test bucket that
    /// `cargo xtask test` provides (the AWS_* variables are passed on); without one the case
    /// skips, saying so.
    pub(crate) store: Option<String>,
}

/// Which days a case's pipelines tree holds, and where it goes under HOME.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PipelinesSpec {
    pub(crate) folder: String,
    pub(crate) from: chrono::NaiveDate,
    pub(crate) to: chrono::NaiveDate,
}

/// An export dump file of a case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DumpSpec {
    /// The file under HOME; a name ending in `.gz` is gzipped.
    pub(crate) file: String,
    pub(crate) from: chrono::NaiveDate,
    pub(crate) to: chrono::NaiveDate,
    /// Lines added after the day's lines (malformed ones, say).
    #[serde(default)]
    pub(crate) extra_lines: Vec<String>,
}

/// One run of the binary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Step {
    pub(crate) args: Vec<String>,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) stdin: Option<String>,
    /// "full" (default), "digest" (line count and sha256) or "none".
    #[serde(default = "default_full")]
    pub(crate) stdout: String,
    /// "full" (default) or "none".
    #[serde(default = "default_full")]
    pub(crate) stderr: String,
    /// Exit code the step must end with.
    #[serde(default)]
    pub(crate) exit: i32,
    /// The raw export lines the mock serves for [from, to] must equal stdout line for line.
    pub(crate) stdout_equals_truth: Option<[String; 2]>,
    /// With `--raw`, stdout must hold exactly the mock's profiles, each once, in order.
    #[serde(default)]
    pub(crate) stdout_equals_profiles: bool,
    /// The export requests the mock must have seen during the step, as sorted
    /// `"FROM..TO status"` strings (requests run concurrently, so their order is not checked).
    pub(crate) export_requests: Option<Vec<String>>,
    /// Strings that must not appear anywhere in stdout or stderr.
    #[serde(default)]
    pub(crate) never_shows: Vec<String>,
    /// The mock's faults from this step on (a `Faults` table; `{}` clears them).
    pub(crate) faults: Option<toml::Table>,
    /// Values stdout's JSON must hold.
    #[serde(default)]
    pub(crate) expect: Vec<crate::truth::Expect>,
}

fn default_credentials() -> String {
    "env".to_owned()
}

fn default_full() -> String {
    "full".to_owned()
}

pub(crate) fn discover(root: &Path) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    let entries = std::fs::read_dir(root).map_err(|e| e.to_string())?;
    for entry in entries {
        let dir = entry.map_err(|e| e.to_string())?.path();
        let file = dir.join("case.toml");
        if !file.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut case: Case =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        case.name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if case.steps.is_empty() {
            return Err(format!("{}: no [[steps]]", file.display()));
        }
        cases.push(case);
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}
