//! Stores on object stores: the S3 server and the Azure Blob emulator that `cargo xtask test`
//! starts (their usual environment variables point at them, `MPD_TEST_S3_BUCKET` and
//! `MPD_TEST_AZURE_CONTAINER` name where to write). Tables are written, read back, listed and
//! dropped; two writers race for one version; an erased id leaves no object behind. Without
//! an emulator each test says loudly that it skipped.

use mpd_store::{Bucket, Error, Store, StoreMode, WriteMode, WriterOptions};

use crate::support::*;

/// A store under a prefix of its own on each object store the run provides; says on stderr
/// which are missing.
#[allow(clippy::print_stderr, reason = "a skipped test must say so")]
async fn object_stores(test: &str) -> Vec<(Store, url::Url)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut stores = Vec::new();
    for (variable, scheme) in [("MPD_TEST_S3_BUCKET", "s3"), ("MPD_TEST_AZURE_CONTAINER", "az")] {
        let Ok(container) = std::env::var(variable) else {
            eprintln!(
                "!!! SKIPPED {test} on {scheme}://: no emulator (run the suite with `cargo xtask test`)"
            );
            continue;
        };
        let url = format!("{scheme}://{container}/{test}-{}-{nanos}/", std::process::id());
        let url = url::Url::parse(&url).expect("url");
        let store = Store::open(StoreMode::Url(url.clone())).await.expect("open the store");
        stores.push((store, url));
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_are_written_read_listed_and_dropped() {
    for (store, url) in object_stores("roundtrip").await {
        assert!(store.mode_label().starts_with("object store "), "{}", store.mode_label());
        assert_eq!(store.root(), None);
        write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
        write_events(&store, "events", &sample_rows(), WriteMode::Append).await;
        assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 8, "{url}");
        assert_eq!(store.table_names().await.expect("names"), vec!["events"]);
        assert_eq!(store.history("events", None).await.expect("history").len(), 2);

        // Another process's view of the same prefix sees the same table.
        let again = Store::open(StoreMode::Url(url.clone())).await.expect("open again");
        assert_eq!(scalar_i64(&again, "SELECT count(DISTINCT date) FROM events").await, 3);

        store.drop_table("events").await.expect("drop");
        assert!(!again.exists("events").await.expect("exists"), "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_is_told_unsorted_from_its_footers_and_rewritten_in_place() {
    for (store, _) in object_stores("sorted-days").await {
        crate::maintenance::sort_a_day(&store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_writers_racing_one_commits_and_the_other_is_told() {
    for (store, url) in object_stores("race").await {
        write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
        let rows = sample_rows();
        let schema = events_schema();
        let mut first =
            store.writer("events", schema.clone(), &["date"], WriteMode::Append).await.expect("w");
        let mut second =
            store.writer("events", schema, &["date"], WriteMode::Append).await.expect("w");
        first.write(events_batch(&rows, 2)).await.expect("write");
        second.write(events_batch(&rows, 3)).await.expect("write");
        let (a, b) = tokio::join!(first.commit(metadata("a")), second.commit(metadata("b")));
        let (won, lost) = match (a, b) {
            (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
            other => panic!("{url}: exactly one commit must win: {other:?}"),
        };
        assert_eq!(won.version, 1);
        assert!(matches!(lost, Error::ConcurrentCommit { read: Some(0), .. }), "{url}: {lost}");
        assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 8);
    }
}

/// Objects under `url` whose bytes contain `needle`.
async fn objects_containing(url: &url::Url, needle: &str) -> Vec<String> {
    let bucket = Bucket::open(url).expect("the client");
    let listed = bucket.list(bucket.prefix()).await.expect("list");
    assert!(!listed.is_empty(), "nothing under {url}");
    let mut found = Vec::new();
    for object in listed {
        let bytes = bucket.get(&object.key).await.expect("get");
        if bytes.windows(needle.len()).any(|window| window == needle.as_bytes()) {
            found.push(object.key);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_id_leaves_no_object_behind() {
    use crate::privacy::{VICTIM, erase, hashed_predicate, write};
    for (store, url) in object_stores("erasure").await {
        let options = WriterOptions {
            stats_columns: Some(vec!["time".into(), "_sync_id".into()]),
            ..WriterOptions::default()
        };
        write(&store, &options).await;
        // The Parquet footers' statistics hold the id in plain text before the erasure.
        assert!(!objects_containing(&url, VICTIM).await.is_empty(), "{url}: a positive control");
        erase(&store, &hashed_predicate(&store).await, 2).await;
        let leaks = objects_containing(&url, VICTIM).await;
        assert!(leaks.is_empty(), "{url}: objects still holding the erased id: {leaks:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_options_win_over_the_environment_and_unknown_ones_are_named() {
    let url = url::Url::parse("s3://some-bucket/lake/").expect("url");
    let options = mpd_store::StoreOptions::from([("aws_no_such_thing".to_owned(), "1".to_owned())]);
    let error = Store::open_with_options(StoreMode::Url(url.clone()), &options).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot open the store s3://some-bucket/lake/: unknown option `aws_no_such_thing` for a s3 store"
    );
    // The S3 server answers at the environment's endpoint; an option pointing elsewhere wins.
    // (Azurite's address has no option: object_store reads it from the environment only.)
    for (store, url) in
        object_stores("options").await.into_iter().filter(|(_, u)| u.scheme() == "s3")
    {
        let elsewhere = mpd_store::StoreOptions::from([(
            "aws_endpoint".to_owned(),
            "http://127.0.0.1:9".to_owned(),
        )]);
        write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
        let redirected =
            Store::open_with_options(StoreMode::Url(url.clone()), &elsewhere).await.expect("open");
        assert!(redirected.exists("events").await.is_err(), "{url}: the option was not used");
        assert!(store.exists("events").await.expect("exists"), "{url}");
    }
}
