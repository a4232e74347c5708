//! `mpd import pipelines s3://bucket/<prefix>`: the JSON pipelines tree read from a bucket (as
//! Mixpanel delivers it) gives the same tables as the same tree read from a folder; a second
//! run reads no file again; a third reads exactly a late object and an object rewritten at
//! the same size (told apart by its entity tag), and the tables stay the truth.

use std::path::Path;

use crate::crash::{FIRST_DAY, TODAY, check, day, fresh, mpd_at, succeed};

/// Uploads the folder `sys.argv[1]` under `sys.argv[2]` (`bucket/prefix`) with boto3 (moto's
/// dependency, in the same virtualenv).
const UPLOAD: &str = r#"
import os, sys, boto3
root, target = sys.argv[1], sys.argv[2]
bucket, _, prefix = target.partition("/")
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
for folder, _, names in os.walk(root):
    for name in names:
        path = os.path.join(folder, name)
        key = prefix + "/" + os.path.relpath(path, root).replace(os.sep, "/")
        s3.upload_file(path, bucket, key)
"#;

/// In the bucket `sys.argv[1]` under `sys.argv[2]`: copies the first event object to a late
/// object of the same day folder, and rewrites that first object with the same bytes but
/// another gzip header time (same size and content, another entity tag).
const LATE_AND_REWRITTEN: &str = r#"
import os, sys, boto3
bucket, prefix = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
              if "/mp_master_event/" in o["Key"] and o["Key"].endswith(".json.gz"))
first = keys[0]
body = bytearray(s3.get_object(Bucket=bucket, Key=first)["Body"].read())
s3.put_object(Bucket=bucket, Key=first.rsplit("/", 1)[0] + "/part-late.json.gz", Body=bytes(body))
body[4:8] = (int.from_bytes(body[4:8], "little") ^ 0x5A5A5A5A).to_bytes(4, "little")
s3.put_object(Bucket=bucket, Key=first, Body=bytes(body))
"#;

const TABLES: &str = "SELECT 'events' AS t, event_name AS k, CAST(date AS VARCHAR) AS d, count(*) AS n \
     FROM events GROUP BY 2, 3 \
     UNION ALL SELECT 'profiles', '', '', count(*) FROM profiles \
     UNION ALL SELECT 'identity', source, '', count(*) FROM identity_mappings GROUP BY 2 \
     ORDER BY 1, 2, 3";

#[allow(clippy::print_stderr, reason = "a skipped trial must say so")]
pub(crate) fn import_pipelines_from_a_bucket() -> Result<(), String> {
    let (Some(target), Ok(python), Ok(bucket)) = (
        crate::run::s3_store("pipelines"),
        std::env::var("MPD_TEST_PYTHON"),
        std::env::var("MPD_TEST_S3_BUCKET"),
    ) else {
        eprintln!(
            "!!! SKIPPED import-pipelines-from-a-bucket: no S3 server (run the suite with `cargo xtask test`)"
        );
        return Ok(());
    };
    let (mock, home) = fresh(3)?;
    let tree = home.path().join("tree");
    let options = mpd_testkit::pipelines::PipelinesOptions::new(day(FIRST_DAY), day(TODAY));
    mpd_testkit::pipelines::PipelinesTree::write(mock.project(), &tree, &options)
        .map_err(|e| format!("pipelines tree: {e}"))?;
    let prefix = target.trim_start_matches("s3://").trim_end_matches('/').to_owned();
    crate::run::run_python(&python, UPLOAD, &[tree.as_os_str(), prefix.as_ref()])
        .map_err(|e| format!("upload: {e}"))?;
    check(prefix.starts_with(&bucket), || format!("{prefix} is not in {bucket}"))?;

    let mpd = |store: &Path, args: &[&str]| -> Result<String, String> {
        let mut command = mpd_at(&mock, home.path(), None);
        command
            .env_remove("MP_USERNAME")
            .env_remove("MP_SECRET")
            .env_remove("MP_PROJECT_ID")
            .env_remove("MP_REGION")
            .envs(
                crate::run::OBJECT_STORE_VARIABLES
                    .iter()
                    .filter_map(|k| Some((k, std::env::var_os(k)?))),
            )
            .arg("--store")
            .arg(store);
        succeed(command, args)
    };
    let from_bucket = home.path().join("from-bucket");
    let from_folder = home.path().join("from-folder");
    let report = mpd(&from_bucket, &["import", "pipelines", &target, "-q", "-f", "json"])?;
    let folder = tree.to_string_lossy().into_owned();
    mpd(&from_folder, &["import", "pipelines", &folder, "-q", "-f", "json"])?;
    let report: serde_json::Value = serde_json::from_str(&report).map_err(|e| e.to_string())?;
    check(report["event_files_read"].as_u64().unwrap_or(0) > 0, || format!("{report}"))?;

    let bucket_tables = mpd(&from_bucket, &["query", "sql", TABLES, "-f", "csv"])?;
    let folder_tables = mpd(&from_folder, &["query", "sql", TABLES, "-f", "csv"])?;
    check(bucket_tables.lines().count() > 3 && bucket_tables == folder_tables, || {
        format!("from the bucket:\n{bucket_tables}\nfrom the folder:\n{folder_tables}")
    })?;

    let again = mpd(&from_bucket, &["import", "pipelines", &target, "-q", "-f", "json"])?;
    let again: serde_json::Value = serde_json::from_str(&again).map_err(|e| e.to_string())?;
    check(again["event_files_read"] == 0 && again["days"] == 0, || {
        format!("a second run read files again: {again}")
    })?;

    let (name, key_prefix) = prefix.split_once('/').unwrap_or((prefix.as_str(), ""));
    crate::run::run_python(&python, LATE_AND_REWRITTEN, &[name.as_ref(), key_prefix.as_ref()])
        .map_err(|e| format!("late and rewritten objects: {e}"))?;
    let third = mpd(&from_bucket, &["import", "pipelines", &target, "-q", "-f", "json"])?;
    let third: serde_json::Value = serde_json::from_str(&third).map_err(|e| e.to_string())?;
    check(third["event_files_read"] == 2 && third["days"] == 1, || {
        format!("expected the late and the rewritten object read, in one day: {third}")
    })?;
    let after = mpd(&from_bucket, &["query", "sql", TABLES, "-f", "csv"])?;
    check(after == folder_tables, || {
        format!("after re-reading:\n{after}\nfrom the folder:\n{folder_tables}")
    })
}
