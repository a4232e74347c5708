//! The JSON-pipelines tree: read back from disk and compared with the project's export truth.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Timelike};
use mpd_testkit::pipelines::{PipelinesOptions, PipelinesTree};
use mpd_testkit::{MockConfig, Project};
use serde_json::Value;

use crate::client::day;
use crate::small_config;

const EVENT_KEYS: [&str; 7] =
    ["event_name", "time", "distinct_id", "device_id", "user_id", "insert_id", "properties"];

/// Every `.json`/`.json.gz` file under `dir`, sorted.
fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path.file_name().unwrap().to_string_lossy();
                assert!(name.ends_with(".json") || name.ends_with(".json.gz"), "stray {name}");
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A file's records, gunzipped when its name says so.
fn records(path: &Path) -> Vec<Value> {
    let raw = std::fs::read(path).unwrap();
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_string(&mut text).unwrap();
        text
    } else {
        assert_ne!(raw.get(..2), Some(&[0x1f, 0x8b][..]), "plain file is not gzip");
        String::from_utf8(raw).unwrap()
    };
    assert!(text.is_empty() || text.ends_with('\n'));
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn all_records(files: &[PathBuf]) -> Vec<Value> {
    files.iter().flat_map(|f| records(f)).collect()
}

/// The pipeline record an export line should become, built independently of the crate.
fn expected_record(line: &str) -> Value {
    let v: Value = serde_json::from_str(line).unwrap();
    let p = &v["properties"];
    let or_null = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    serde_json::json!({
        "event_name": v["event"],
        "time": p["time"],
        "distinct_id": or_null("distinct_id"),
        "device_id": or_null("$device_id"),
        "user_id": or_null("$user_id"),
        "insert_id": or_null("$insert_id"),
        "properties": p,
    })
}

/// Sorts records so two multisets compare with `assert_eq!`.
fn sorted(mut records: Vec<Value>) -> Vec<Value> {
    records.sort_by_cached_key(|r| r.to_string());
    records
}

fn expected(lines: &[String]) -> Vec<Value> {
    sorted(lines.iter().map(|l| expected_record(l)).collect())
}

fn options(from: NaiveDate, to: NaiveDate) -> PipelinesOptions {
    PipelinesOptions {
        hourly_days: vec![day(2024, 1, 3)],
        uncompressed_days: vec![day(2024, 1, 4)],
        ..PipelinesOptions::new(from, to)
    }
}

fn hour_of(record: &Value) -> u32 {
    let secs = record["time"].as_i64().unwrap();
    chrono::DateTime::from_timestamp(secs, 0).unwrap().hour()
}

#[test]
fn tree_events_are_the_export_truth_reshaped() {
    let project = Project::new(&small_config()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let (from, to) = (day(2024, 1, 2), day(2024, 1, 4));
    let tree = PipelinesTree::write(&project, root.path(), &options(from, to)).unwrap();
    assert_eq!(tree.project_dir(), root.path().join("1234"));

    let events_dir = tree.project_dir().join("mp_master_event");
    let files = data_files(&events_dir);
    let mut listed = tree.event_files().to_vec();
    listed.sort();
    assert_eq!(files, listed);

    let got = all_records(&files);
    for record in &got {
        let keys: Vec<&str> = record.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, EVENT_KEYS);
    }
    let truth = project.export_lines_range(from, to);
    assert!(truth.iter().any(|l| !l.contains("\"$insert_id\"")), "some lines lack $insert_id");
    let n_without_id = truth.iter().filter(|l| !l.contains("\"$insert_id\"")).count();
    assert_eq!(got.iter().filter(|r| r["insert_id"].is_null()).count(), n_without_id);
    assert_eq!(sorted(got), expected(&truth));

    // A daily folder: three gzipped parts holding that day's lines.
    let daily = data_files(&tree.day_dir(from));
    let names: Vec<String> =
        daily.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        names,
        ["part-20240102-0000.json.gz", "part-20240102-0001.json.gz", "part-20240102-0002.json.gz"]
    );
    assert_eq!(sorted(all_records(&daily)), expected(&project.export_lines(from)));

    // The uncompressed day is plain JSON.
    let plain = data_files(&tree.day_dir(to));
    assert!(!plain.is_empty());
    assert!(plain.iter().all(|p| p.extension().is_some_and(|e| e == "json")));
    assert_eq!(sorted(all_records(&plain)), expected(&project.export_lines(to)));
}

#[test]
fn hourly_days_put_each_event_in_its_utc_hour_folder() {
    let project = Project::new(&small_config()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let d = day(2024, 1, 3);
    let tree = PipelinesTree::write(&project, root.path(), &options(d, d)).unwrap();
    let files = data_files(&tree.day_dir(d));
    assert!(files.len() > 12, "120 events spread over most hours");
    for file in &files {
        let hour_dir = file.parent().unwrap();
        assert_eq!(hour_dir.parent().unwrap(), tree.day_dir(d));
        let hour: u32 = hour_dir.file_name().unwrap().to_str().unwrap().parse().unwrap();
        let recs = records(file);
        assert!(!recs.is_empty());
        assert!(recs.iter().all(|r| hour_of(r) == hour), "{}", file.display());
    }
    assert_eq!(sorted(all_records(&files)), expected(&project.export_lines(d)));
}

#[test]
fn late_files_land_in_old_day_folders_and_in_the_export_truth() {
    let project = Project::new(&small_config()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let (from, to) = (day(2024, 1, 2), day(2024, 1, 4));
    let mut tree = PipelinesTree::write(&project, root.path(), &options(from, to)).unwrap();
    let n_before = tree.event_files().len();

    let before = project.export_lines(from);
    let first = tree.add_late_file(&project, from, 4).unwrap();
    assert_eq!(first, [tree.day_dir(from).join("late-20240102-0000.json.gz")]);
    let after = project.export_lines(from);
    assert_eq!(after.len(), before.len() + 4);
    assert_eq!(sorted(records(&first[0])), expected(&after[before.len()..]));
    let second = tree.add_late_file(&project, from, 2).unwrap();
    assert_eq!(second, [tree.day_dir(from).join("late-20240102-0001.json.gz")]);
    assert_eq!(records(&second[0]).len(), 2);
    assert_eq!(
        sorted(all_records(&data_files(&tree.day_dir(from)))),
        expected(&project.export_lines(from))
    );

    // Hourly day: one late file per hour folder the events fall in.
    let hourly = day(2024, 1, 3);
    let before = project.export_lines(hourly).len();
    let late = tree.add_late_file(&project, hourly, 30).unwrap();
    assert!(late.len() > 1);
    let mut n_late = 0;
    for file in &late {
        let name = file.file_name().unwrap().to_string_lossy();
        let hour: u32 =
            file.parent().unwrap().file_name().unwrap().to_str().unwrap().parse().unwrap();
        assert_eq!(name, format!("late-20240103{hour:02}-0000.json.gz"));
        let recs = records(file);
        assert!(recs.iter().all(|r| hour_of(r) == hour));
        n_late += recs.len();
    }
    assert_eq!(n_late, 30);
    assert_eq!(project.export_lines(hourly).len(), before + 30);
    assert_eq!(
        sorted(all_records(&data_files(&tree.day_dir(hourly)))),
        expected(&project.export_lines(hourly))
    );
    assert_eq!(tree.event_files().len(), n_before + 2 + late.len());
    assert!(tree.add_late_file(&project, from, 0).unwrap().is_empty());
}

#[test]
fn people_and_identity_files_hold_every_profile_and_merge() {
    let project = Project::new(&small_config()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let d = day(2024, 1, 2);
    let tree = PipelinesTree::write(&project, root.path(), &PipelinesOptions::new(d, d)).unwrap();

    let people_files = data_files(&tree.project_dir().join("mp_people_data"));
    assert!(people_files.len() >= 2);
    assert_eq!(people_files, tree.people_files());
    let people = all_records(&people_files);
    let profiles = project.profiles();
    assert_eq!(people.len(), profiles.len());
    for (record, profile) in people.iter().zip(&profiles) {
        assert_eq!(record["distinct_id"], profile["$distinct_id"]);
        assert_eq!(record["properties"], profile["$properties"]);
    }

    let identity_files = data_files(&tree.project_dir().join("mp_identity_mappings_data"));
    assert_eq!(identity_files, tree.identity_files());
    let identities = all_records(&identity_files);
    let merges = project.identity_merges();
    assert!(!merges.is_empty());
    assert_eq!(identities.len(), merges.len());
    for (record, (anonymous, user)) in identities.iter().zip(&merges) {
        assert_eq!(record["distinct_id"], anonymous.as_str());
        assert_eq!(record["resolved_distinct_id"], user.as_str());
    }
}

#[test]
fn rekeying_never_changes_pipeline_events() {
    let project = Project::new(&small_config()).unwrap();
    let (from, to) = (day(2024, 1, 2), day(2024, 1, 4));
    let plain_root = tempfile::tempdir().unwrap();
    let plain = PipelinesTree::write(&project, plain_root.path(), &options(from, to)).unwrap();
    let ingested = project.export_lines_range(from, to);

    project.set_rekey_identified(true);
    assert_ne!(project.export_lines_range(from, to), ingested, "re-keying changes the export");
    let rekey_root = tempfile::tempdir().unwrap();
    let mut rekeyed =
        PipelinesTree::write(&project, rekey_root.path(), &options(from, to)).unwrap();
    let relative = |tree: &PipelinesTree| -> Vec<PathBuf> {
        tree.event_files()
            .iter()
            .map(|f| f.strip_prefix(tree.project_dir()).unwrap().to_owned())
            .collect()
    };
    assert_eq!(relative(&plain), relative(&rekeyed));
    for (a, b) in plain.event_files().iter().zip(rekeyed.event_files()) {
        assert_eq!(records(a), records(b), "{}", b.display());
    }

    // Late events are written as ingested too, while the export re-keys them.
    let late = rekeyed.add_late_file(&project, from, 40).unwrap();
    let served = project.export_lines(from);
    project.set_rekey_identified(false);
    let as_ingested = project.export_lines(from);
    assert_ne!(served, as_ingested);
    let n = as_ingested.len();
    assert_eq!(sorted(records(&late[0])), expected(&as_ingested[n - 40..]));
}

#[test]
fn mock_binary_writes_a_tree_and_prints_its_folder() {
    let root = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mpd-mock"))
        .arg("pipelines")
        .arg("--out")
        .arg(root.path())
        .args(["--from", "2024-02-01", "--to", "2024-02-02", "--hourly-day", "2024-02-02"])
        .args(["--events-per-day", "30", "--files-per-day", "2", "--late", "2024-02-01=3"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(printed.trim_end(), root.path().join("1234").display().to_string());

    let project =
        Project::new(&MockConfig { events_per_day: 30, ..MockConfig::default() }).unwrap();
    project.add_late_events(day(2024, 2, 1), 3);
    let truth = project.export_lines_range(day(2024, 2, 1), day(2024, 2, 2));
    let files = data_files(&root.path().join("1234/mp_master_event"));
    assert_eq!(sorted(all_records(&files)), expected(&truth));
    assert!(
        root.path().join("1234/mp_master_event/2024/02/01/late-20240201-0000.json.gz").is_file()
    );

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_mpd-mock"))
        .args(["pipelines", "--from", "2024-02-01", "--to", "2024-02-02"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--out"));
}
