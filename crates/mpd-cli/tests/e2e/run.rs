//! Running a case: mock, temporary HOME, the binary, checks, snapshot.

use std::io::Write;
use std::process::{Command, Stdio};

use chrono::NaiveDate;
use mpd_testkit::{MockConfig, MockServer};
use sha2::{Digest, Sha256};

use crate::case::{Case, Step};

/// Credentials the mock accepts (its defaults).
const USERNAME: &str = "mock-user";
const SECRET: &str = "mock-secret";

#[allow(clippy::print_stderr, reason = "a skipped case must say so")]
pub(crate) fn run_case(case: &Case) -> Result<(), String> {
    let store = match case.store.as_deref() {
        None => None,
        Some(kind @ ("s3" | "azure")) => match object_store_url(kind, &case.name) {
            Some(store) => Some(store),
            None => {
                eprintln!(
                    "!!! SKIPPED {}: no S3 server (run the suite with `cargo xtask test`)",
                    case.name
                );
                return Ok(());
            }
        },
        Some(other) => return Err(format!("unknown store {other:?} (expected s3 or azure)")),
    };
    let config = mock_config(case)?;
    let mock = MockServer::spawn(config).map_err(|e| format!("mock: {e}"))?;
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    if let Some(text) = &case.config {
        let dir = home.path().join(".mp");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("config.toml"), text).map_err(|e| e.to_string())?;
    }
    if let Some(spec) = &case.pipelines {
        let options = mpd_testkit::pipelines::PipelinesOptions::new(spec.from, spec.to);
        mpd_testkit::pipelines::PipelinesTree::write(
            mock.project(),
            &home.path().join(&spec.folder),
            &options,
        )
        .map_err(|e| format!("pipelines tree of {}: {e}", case.name))?;
    }
    for dump in &case.dumps {
        write_dump(&mock, home.path(), dump).map_err(|e| format!("dump {}: {e}", dump.file))?;
    }
    let mut transcript = String::new();
    let mut failures = Vec::new();
    for step in &case.steps {
        if let Some(faults) = &step.faults {
            let faults: mpd_testkit::Faults = toml::Value::Table(faults.clone())
                .try_into()
                .map_err(|e| format!("faults of a step of {}: {e}", case.name))?;
            mock.set_faults(faults);
        }
        let seen_before = mock.requests().len();
        let output = run_step(case, step, &mock, home.path(), store.as_deref())?;
        let code = output.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if code != step.exit {
            failures.push(format!(
                "`mpd {}` exited {code}, expected {}\nstderr:\n{stderr}",
                step.args.join(" "),
                step.exit
            ));
        }
        for secret in &step.never_shows {
            if stdout.contains(secret.as_str()) || stderr.contains(secret.as_str()) {
                failures.push(format!("`mpd {}` showed {secret:?}", step.args.join(" ")));
            }
        }
        if let Some([from, to]) = &step.stdout_equals_truth
            && let Err(e) = compare_with_truth(&mock, from, to, &stdout)
        {
            failures.push(format!("`mpd {}`: {e}", step.args.join(" ")));
        }
        if let Some(expected) = &step.export_requests {
            let mut seen: Vec<String> = mock.requests()[seen_before..]
                .iter()
                .filter(|r| r.path.contains("/export"))
                .map(|r| {
                    let param = |name| r.param(name).unwrap_or("?").to_owned();
                    format!("{}..{} {}", param("from_date"), param("to_date"), r.status)
                })
                .collect();
            seen.sort();
            if &seen != expected {
                failures.push(format!("export requests were {seen:?}, expected {expected:?}"));
            }
        }
        for expect in &step.expect {
            if let Err(e) = expect.check(&mock, &stdout) {
                failures.push(format!("`mpd {}`: {e}", step.args.join(" ")));
            }
        }
        if step.stdout_equals_profiles
            && let Err(e) = compare_with_profiles(&mock, &stdout)
        {
            failures.push(format!("`mpd {}`: {e}", step.args.join(" ")));
        }
        transcript.push_str(&format!("$ mpd {}\nexit: {code}\n", step.args.join(" ")));
        transcript.push_str(&section("stdout", &step.stdout, &stdout));
        transcript.push_str(&section("stderr", &step.stderr, &stderr));
    }
    let mut transcript = redact(&transcript, &mock.base_url(), home.path());
    if let Some(store) = &store {
        transcript = transcript.replace(store.as_str(), "[OBJECT STORE]/");
    }
    let snapshot = std::panic::catch_unwind(|| {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_description(case.description.clone());
        settings.bind(|| insta::assert_snapshot!(case.name.clone(), transcript));
    });
    if snapshot.is_err() {
        failures.push(
            "snapshot differs (see above; `cargo xtask e2e --accept` after review)".to_owned(),
        );
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("\n")) }
}

fn write_dump(
    mock: &MockServer,
    home: &std::path::Path,
    dump: &crate::case::DumpSpec,
) -> std::io::Result<()> {
    let mut text = String::new();
    for line in
        mock.project().export_lines_range(dump.from, dump.to).iter().chain(&dump.extra_lines)
    {
        text.push_str(line);
        text.push('\n');
    }
    let path = home.join(&dump.file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if dump.file.ends_with(".gz") {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes())?;
        std::fs::write(path, gz.finish()?)
    } else {
        std::fs::write(path, text)
    }
}

fn mock_config(case: &Case) -> Result<MockConfig, String> {
    let mut table = toml::Table::new();
    // Small, fixed defaults keep snapshots readable and fast; cases override any field.
    table.insert("events_per_day".into(), toml::Value::Integer(40));
    table.insert("n_users".into(), toml::Value::Integer(25));
    table.insert("today".into(), toml::Value::String("2024-12-31".into()));
    for (key, value) in &case.mock {
        table.insert(key.clone(), value.clone());
    }
    toml::Value::Table(table).try_into().map_err(|e| format!("[mock] of {}: {e}", case.name))
}

fn run_step(
    case: &Case,
    step: &Step,
    mock: &MockServer,
    home: &std::path::Path,
    store: Option<&str>,
) -> Result<std::process::Output, String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpd"));
    command
        .args(&step.args)
        .current_dir(home)
        .env_clear()
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("MP_BASE_URL", mock.base_url())
        .env("MPD_RETRY_BASE_DELAY_SECONDS", "0.02")
        .env("MPD_RETRY_MAX_DELAY_SECONDS", "0.2")
        .env("MPD_EXPORT_PER_SECOND", "1000")
        .stdin(if step.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match case.credentials.as_str() {
        "env" | "wrong-secret" => {
            let secret = if case.credentials == "env" { SECRET } else { "wrong-secret-value" };
            command
                .env("MP_USERNAME", USERNAME)
                .env("MP_SECRET", secret)
                .env("MP_PROJECT_ID", "1234")
                .env("MP_REGION", "us");
        }
        "none" => {}
        other => return Err(format!("unknown credentials {other:?}")),
    }
    if let Some(store) = store {
        command.env("MPD_STORE", store);
        for key in OBJECT_STORE_VARIABLES {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
    }
    command.envs(&step.env);
    let mut child = command.spawn().map_err(|e| format!("cannot start mpd: {e}"))?;
    if let Some(input) = &step.stdin
        && let Some(mut stdin) = child.stdin.take()
    {
        stdin.write_all(input.as_bytes()).map_err(|e| e.to_string())?;
    }
    child.wait_with_output().map_err(|e| e.to_string())
}

/// What a case on an object store passes on to mpd: the emulators' variables.
pub(crate) const OBJECT_STORE_VARIABLES: [&str; 9] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_USE_EMULATOR",
    "AZURITE_BLOB_STORAGE_URL",
];

/// Runs a Python `script` of the test virtualenv's `python` with `args` and the emulators'
/// variables; its standard output, or what it said on failure.
pub(crate) fn run_python(
    python: &str,
    script: &str,
    args: &[&std::ffi::OsStr],
) -> Result<String, String> {
    let output = Command::new(python)
        .args(["-c", script])
        .args(args)
        .envs(OBJECT_STORE_VARIABLES.iter().filter_map(|k| Some((k, std::env::var_os(k)?))))
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A fresh prefix of the S3 test bucket, if `cargo xtask test` started a server.
pub(crate) fn s3_store(case: &str) -> Option<String> {
    object_store_url("s3", case)
}

/// A fresh prefix on the `kind` (`s3` or `azure`) emulator `cargo xtask test` started.
pub(crate) fn object_store_url(kind: &str, case: &str) -> Option<String> {
    let (variable, scheme) = match kind {
        "azure" => ("MPD_TEST_AZURE_CONTAINER", "az"),
        _ => ("MPD_TEST_S3_BUCKET", "s3"),
    };
    let container = std::env::var(variable).ok()?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Some(format!("{scheme}://{container}/{case}-{}-{nanos}/", std::process::id()))
}

fn compare_with_truth(mock: &MockServer, from: &str, to: &str, stdout: &str) -> Result<(), String> {
    let parse = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| e.to_string());
    let truth = mock.project().export_lines_range(parse(from)?, parse(to)?);
    let got: Vec<&str> = stdout.lines().collect();
    if got.len() != truth.len() {
        return Err(format!("stdout has {} lines, the mock's truth {}", got.len(), truth.len()));
    }
    for (i, (g, t)) in got.iter().zip(&truth).enumerate() {
        if *g != t.as_str() {
            return Err(format!("line {} differs:\n  got  {g}\n  want {t}", i + 1));
        }
    }
    Ok(())
}

fn compare_with_profiles(mock: &MockServer, stdout: &str) -> Result<(), String> {
    let truth = mock.project().profiles();
    let got: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).map_err(|e| format!("not JSON: {e}: {line}")))
        .collect::<Result<_, _>>()?;
    if got != truth {
        return Err(format!(
            "{} profiles on stdout, the mock has {}; or they differ",
            got.len(),
            truth.len()
        ));
    }
    Ok(())
}

fn section(name: &str, mode: &str, text: &str) -> String {
    match mode {
        "none" => format!("--- {name}: (not snapshotted)\n"),
        "digest" => {
            let digest = Sha256::digest(text.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("--- {name}: {} lines, sha256 {hex}\n", text.lines().count())
        }
        _ => format!("--- {name}\n{text}"),
    }
}

/// Makes transcripts independent of ports, temp folders, timing and retry jitter.
fn redact(text: &str, base_url: &str, home: &std::path::Path) -> String {
    let mut text = text.replace(base_url, "http://[MOCK]");
    text = text.replace(&home.display().to_string(), "[HOME]");
    let port = base_url.rsplit(':').next().unwrap_or_default();
    text = text.replace(&format!("127.0.0.1:{port}"), "[MOCK]");
    let rules = [
        (r"\d+\.\d+s\b", "[SECS]s"),
        (r"\(\d+ events/s\)", "([RATE] events/s)"),
        (r"delay_ms=\d+", "delay_ms=[MS]"),
        (r"in \d+\.\d+s:", "in [SECS]s:"),
        (r"\d{8}T\d{6}", "[TIMESTAMP]"),
        (r"127\.0\.0\.1:\d+", "[MOCK]"),
        (r#""elapsed_secs": ?[0-9.e-]+"#, r#""elapsed_secs":[SECS]"#),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z? \(rejected_at\)", "[NOW]"),
    ];
    for (pattern, replacement) in rules {
        if let Ok(re) = regex::Regex::new(pattern) {
            text = re.replace_all(&text, replacement).into_owned();
        }
    }
    sort_log_runs(&text)
}

/// Days run concurrently, so the order of their log lines is not part of the contract: each
/// run of consecutive log lines is sorted.
fn sort_log_runs(text: &str) -> String {
    let is_log = |line: &str| {
        [" WARN ", " INFO ", "DEBUG ", "TRACE ", "ERROR "].iter().any(|p| line.starts_with(p))
    };
    let mut out = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for line in text.lines() {
        if is_log(line) {
            run.push(line);
            continue;
        }
        run.sort_unstable();
        out.append(&mut run);
        out.push(line);
    }
    run.sort_unstable();
    out.append(&mut run);
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}
