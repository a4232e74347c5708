//! An independent Delta reader (the Python `deltalake` package, installed here into a private
//! virtual environment) reads the events table with mpd's row count and schema.

use std::path::{Path, PathBuf};
use std::process::Command;

use mpd_service::TableMode;

use crate::support::{fetch, mock, workspace};

/// The Python package version the store contract was checked with (docs/ARCHITECTURE.md).
const DELTALAKE_REQUIREMENT: &str = "deltalake>=1.6,<1.7";

fn python_with_deltalake() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-deltalake");
    let python = venv.join("bin").join("python");
    let ready = venv.join(".installed");
    if !ready.exists() {
        let status =
            Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 runs");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                DELTALAKE_REQUIREMENT,
                "pyarrow",
            ])
            .status()
            .expect("pip runs");
        assert!(status.success(), "pip install {DELTALAKE_REQUIREMENT} failed");
        std::fs::write(&ready, DELTALAKE_REQUIREMENT).expect("marker");
    }
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_deltalake_reads_the_events_table() {
    let mock = mock(60).await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace(&mock, store.path());
    let fetched = fetch(&workspace, "2024-01-01", "2024-01-05", TableMode::Create).await;
    let schema = workspace.table_schema("events").await.expect("schema");

    let python = python_with_deltalake();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check_delta.py");
    let output = Command::new(python)
        .arg(script)
        .arg(store.path().join("events"))
        .output()
        .expect("the check script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "check_delta.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("the script prints JSON");
    assert_eq!(seen["rows"].as_u64(), Some(fetched.written));
    let names: Vec<&str> =
        seen["columns"].as_array().expect("columns").iter().filter_map(|c| c[0].as_str()).collect();
    let ours: Vec<&str> = schema.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ours);
    assert_eq!(seen["partition_columns"], serde_json::json!(["date"]));
}
