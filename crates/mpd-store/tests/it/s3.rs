//! A store on an S3 server (the emulator `cargo xtask test` starts; the AWS_* variables point
//! at it): tables written, read back, listed and dropped, and two writers racing for one
//! version. Without `MPD_TEST_S3_BUCKET` each test says loudly that it skipped.

use futures::TryStreamExt as _;
use mpd_store::{Error, Store, StoreMode, WriteMode, WriterOptions};
use object_store::{ObjectStore as _, ObjectStoreExt as _};

use crate::support::*;

/// A store under a prefix of its own in the test bucket, or `None` (said on stderr) when no
/// S3 server was started.
#[allow(clippy::print_stderr, reason = "a skipped test must say so")]
async fn s3_store(test: &str) -> Option<(Store, url::Url)> {
    let Ok(bucket) = std::env::var("MPD_TEST_S3_BUCKET") else {
        eprintln!("!!! SKIPPED {test}: no S3 server (run the suite with `cargo xtask test`)");
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let url = url::Url::parse(&format!("s3://{bucket}/{test}-{}-{nanos}/", std::process::id()))
        .expect("url");
    let store = Store::open(StoreMode::Url(url.clone())).await.expect("open the S3 store");
    Some((store, url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_on_s3_are_written_read_listed_and_dropped() {
    let Some((store, url)) = s3_store("roundtrip").await else { return };
    assert!(store.mode_label().starts_with("object store s3://"), "{}", store.mode_label());
    assert_eq!(store.root(), None);
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    write_events(&store, "events", &sample_rows(), WriteMode::Append).await;
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 8);
    assert_eq!(store.table_names().await.expect("names"), vec!["events"]);
    assert_eq!(store.history("events", None).await.expect("history").len(), 2);

    // Another process's view of the same prefix sees the same table.
    let again = Store::open(StoreMode::Url(url)).await.expect("open again");
    assert_eq!(scalar_i64(&again, "SELECT count(DISTINCT date) FROM events").await, 3);

    store.drop_table("events").await.expect("drop");
    assert!(!again.exists("events").await.expect("exists"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_writers_racing_on_s3_one_commits_and_the_other_is_told() {
    let Some((store, _)) = s3_store("race").await else { return };
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let rows = sample_rows();
    let mut first =
        store.writer("events", events_schema(), &["date"], WriteMode::Append).await.expect("w");
    let mut second =
        store.writer("events", events_schema(), &["date"], WriteMode::Append).await.expect("w");
    first.write(events_batch(&rows, 2)).await.expect("write");
    second.write(events_batch(&rows, 3)).await.expect("write");
    let (a, b) = tokio::join!(first.commit(metadata("a")), second.commit(metadata("b")));
    let (won, lost) = match (a, b) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("exactly one commit must win: {other:?}"),
    };
    assert_eq!(won.version, 1);
    assert!(matches!(lost, Error::ConcurrentCommit { read: Some(0), .. }), "{lost}");
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 8);
}

/// Objects under `url` whose bytes contain `needle`.
async fn objects_containing(url: &url::Url, needle: &str) -> Vec<String> {
    let bucket = object_store::aws::AmazonS3Builder::from_env()
        .with_url(url.as_str())
        .build()
        .expect("the S3 client");
    let prefix = object_store::path::Path::from(url.path().trim_matches('/'));
    let listed: Vec<_> = bucket.list(Some(&prefix)).try_collect().await.expect("list");
    assert!(!listed.is_empty(), "nothing under {url}");
    let mut found = Vec::new();
    for meta in listed {
        let bytes = bucket.get(&meta.location).await.expect("get").bytes().await.expect("bytes");
        if bytes.windows(needle.len()).any(|window| window == needle.as_bytes()) {
            found.push(meta.location.to_string());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_id_leaves_no_object_in_the_bucket() {
    use crate::privacy::{VICTIM, erase, hashed_predicate, write};
    let Some((store, url)) = s3_store("erasure").await else { return };
    let options = WriterOptions {
        stats_columns: Some(vec!["time".into(), "_sync_id".into()]),
        ..WriterOptions::default()
    };
    write(&store, &options).await;
    // The Parquet footers' statistics hold the id in plain text before the erasure.
    assert!(!objects_containing(&url, VICTIM).await.is_empty(), "a positive control");
    erase(&store, &hashed_predicate(&store).await, 2).await;
    let leaks = objects_containing(&url, VICTIM).await;
    assert!(leaks.is_empty(), "objects still holding the erased id: {leaks:?}");
}
