//! Which days of a table are not laid out sorted by a column: the days a sorted rewrite
//! (`mpd tables compact` on an events table) has work to do on.
//!
//! Writes sort rows in runs, as memory allows, and every sync adds files of its own, so a day
//! is usually many sorted stretches: a filter on the sort column then reads a piece of every
//! stretch. A day counts as sorted when its files, taken in order of their smallest value,
//! read as one sequence sorted by the column: within a file each page's values start at or
//! after the previous page's largest (by the page index the store writes; by the row groups'
//! statistics in the Parquet footer for a file without one), and each file's start at or
//! after the previous file's largest. The pages, not only the row groups, because a write's
//! sorted runs are shorter than a row group: a day of two runs in one row group reads as
//! sorted by the row group's statistics. A day with more than one file under half the target
//! file size also counts as unsorted, so that the small files of hourly syncs are merged.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use deltalake::logstore::object_store::ObjectStore;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::Statistics;

use crate::query::day_files::{StoreFile, unreadable_file};
use crate::writer::TARGET_FILE_BYTES;
use crate::{Result, Store};

pub(crate) mod layouts;

/// Footers read at the same time.
const CONCURRENT_FILES: usize = 8;

/// The values of the sort column in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileLayout {
    /// No rows.
    Empty,
    /// Pages (or row groups) in order: the smallest and the largest value.
    Sorted { first: Vec<u8>, last: Vec<u8> },
    /// Pages (or row groups) out of order, statistics missing, or rows hidden by a deletion
    /// vector.
    Unsorted,
}

impl Store {
    /// The `date` partitions of `table` (oldest first) whose files do not read as one
    /// sequence sorted by the text column `column` (see the module's docs). Reads the footers
    /// of the live files not read before (the others' layouts are saved, [`layouts`]); a table
    /// not partitioned by `date` has no such days.
    pub async fn unsorted_days(&self, table: &str, column: &str) -> Result<Vec<NaiveDate>> {
        let head = self.head(table).await?;
        let store = head.object_store();
        // A partition value that is not a day is not a day to rewrite.
        let files: Vec<DayFile> = head
            .live_files()
            .into_iter()
            .filter_map(|(path, file)| {
                let day = NaiveDate::parse_from_str(file.date.as_deref()?, "%Y-%m-%d").ok()?;
                Some(DayFile { day, path, size: file.size, deletion_vector: file.deletion_vector })
            })
            .collect();
        let mut known = layouts::read(&self.backend, table, column).await;
        // Files no longer live are let go of, so the index holds as many lines as the table
        // has files; a file whose size changed is read again.
        let before = known.len();
        let live: HashMap<&str, u64> =
            files.iter().map(|file| (file.path.as_str(), file.size)).collect();
        known.retain(|path, (size, _)| live.get(path.as_str()) == Some(size));
        let mut changed = known.len() != before;
        // A file with a deletion vector (another writer's) hides rows its footer still
        // counts: it counts as unsorted, unread.
        let unread: Vec<(&str, u64)> = files
            .iter()
            .filter(|file| !file.deletion_vector && !known.contains_key(&file.path))
            .map(|file| (file.path.as_str(), file.size))
            .collect();
        let read: Vec<(String, (u64, FileLayout))> = futures::stream::iter(unread)
            .map(|(path, size)| {
                let store = store.clone();
                async move {
                    let layout = file_layout(table, store, path, size, column).await?;
                    Ok::<_, crate::Error>((path.to_owned(), (size, layout)))
                }
            })
            .buffer_unordered(CONCURRENT_FILES)
            .try_collect()
            .await?;
        changed |= !read.is_empty();
        known.extend(read);
        if changed {
            layouts::save(&self.backend, table, column, &known).await;
        }
        let mut days: BTreeMap<NaiveDate, Vec<(u64, FileLayout)>> = BTreeMap::new();
        for file in files {
            let layout = match known.get(&file.path) {
                Some((_, layout)) if !file.deletion_vector => layout.clone(),
                _ => FileLayout::Unsorted,
            };
            days.entry(file.day).or_default().push((file.size, layout));
        }
        Ok(days
            .into_iter()
            .filter(|(_, files)| !day_is_sorted(files))
            .map(|(day, _)| day)
            .collect())
    }
}

/// A live file of a `date` partition.
struct DayFile {
    day: NaiveDate,
    path: String,
    size: u64,
    deletion_vector: bool,
}

/// Whether a day of these files (size, layout) reads as one sorted sequence.
fn day_is_sorted(files: &[(u64, FileLayout)]) -> bool {
    let small = files.iter().filter(|(size, _)| *size < TARGET_FILE_BYTES / 2).count();
    if small > 1 {
        return false;
    }
    let mut ranges = Vec::with_capacity(files.len());
    for (_, layout) in files {
        match layout {
            FileLayout::Empty => {}
            FileLayout::Sorted { first, last } => ranges.push((first, last)),
            FileLayout::Unsorted => return false,
        }
    }
    ranges.sort();
    ranges.windows(2).all(|pair| pair[0].1 <= pair[1].0)
}

/// The layout of one file, from its footer and page index.
async fn file_layout(
    table: &str,
    store: Arc<dyn ObjectStore>,
    path: &str,
    size: u64,
    column: &str,
) -> Result<FileLayout> {
    let mut reader = StoreFile::new(store, path, size);
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    let metadata = reader
        .get_metadata(Some(&options))
        .await
        .map_err(|error| unreadable_file(table, path, error.to_string()))?;
    let Some(index) =
        metadata.file_metadata().schema_descr().columns().iter().position(|c| c.name() == column)
    else {
        return Ok(FileLayout::Unsorted);
    };
    let mut layout = FileLayout::Empty;
    for group in 0..metadata.num_row_groups() {
        let Some(ranges) = value_ranges(&metadata, group, index) else {
            return Ok(FileLayout::Unsorted);
        };
        for (min, max) in ranges {
            layout = match layout {
                FileLayout::Empty => FileLayout::Sorted { first: min.to_vec(), last: max.to_vec() },
                FileLayout::Sorted { first, last } if last.as_slice() <= min => {
                    FileLayout::Sorted { first, last: max.to_vec() }
                }
                _ => return Ok(FileLayout::Unsorted),
            };
        }
    }
    Ok(layout)
}

/// The smallest and largest value of the text column `index` in each page of a row group, in
/// order (the row group's own when the file has no page index); none when a page or the
/// row group has no statistics.
fn value_ranges(
    metadata: &ParquetMetaData,
    group: usize,
    index: usize,
) -> Option<Vec<(&[u8], &[u8])>> {
    let pages = metadata.column_index().and_then(|groups| groups.get(group)?.get(index));
    if let Some(ColumnIndexMetaData::BYTE_ARRAY(pages)) = pages {
        let n = usize::try_from(pages.num_pages()).ok()?;
        return (0..n)
            .filter(|page| !pages.is_null_page(*page))
            .map(|page| Some((pages.min_value(page)?, pages.max_value(page)?)))
            .collect();
    }
    let Some(Statistics::ByteArray(stats)) = metadata.row_group(group).column(index).statistics()
    else {
        return None;
    };
    Some(vec![(stats.min_opt()?.data(), stats.max_opt()?.data())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(first: &str, last: &str, size: u64) -> (u64, FileLayout) {
        (size, FileLayout::Sorted { first: first.into(), last: last.into() })
    }

    const LARGE: u64 = TARGET_FILE_BYTES;

    #[test]
    fn one_sorted_file_is_a_sorted_day() {
        assert!(day_is_sorted(&[sorted("Login", "Search", 1000)]));
        assert!(day_is_sorted(&[(10, FileLayout::Empty)]));
    }

    #[test]
    fn files_that_follow_each_other_are_a_sorted_day_in_any_order() {
        let day = [sorted("Page View", "Search", 1000), sorted("Add To Cart", "Page View", LARGE)];
        assert!(day_is_sorted(&day));
    }

    #[test]
    fn overlapping_files_or_an_unsorted_file_are_not() {
        let overlapping = [sorted("A", "M", LARGE), sorted("K", "Z", LARGE)];
        assert!(!day_is_sorted(&overlapping));
        let unsorted = [sorted("A", "M", LARGE), (LARGE, FileLayout::Unsorted)];
        assert!(!day_is_sorted(&unsorted));
        assert!(!day_is_sorted(&[(LARGE, FileLayout::Unsorted)]));
    }

    #[test]
    fn two_small_files_are_merged_even_when_they_follow_each_other() {
        assert!(!day_is_sorted(&[sorted("A", "B", 1000), sorted("C", "D", 1000)]));
    }

    /// The layout of a file of `names` written with `properties` in row groups of two rows,
    /// read from an object store.
    async fn layout_written_with(
        names: &[&str],
        properties: parquet::file::properties::WriterPropertiesBuilder,
    ) -> FileLayout {
        layout_in_row_groups_of(2, names, properties).await
    }

    /// The layout of a file of `names` written with `properties` in row groups of `rows`.
    async fn layout_in_row_groups_of(
        rows: usize,
        names: &[&str],
        properties: parquet::file::properties::WriterPropertiesBuilder,
    ) -> FileLayout {
        use arrow_array::{ArrayRef, RecordBatch, StringArray};
        use deltalake::logstore::object_store::memory::InMemory;
        use deltalake::logstore::object_store::{ObjectStoreExt as _, path::Path};
        use parquet::arrow::ArrowWriter;

        let column: ArrayRef = Arc::new(StringArray::from(names.to_vec()));
        let batch = RecordBatch::try_from_iter([("event_name", column)]).expect("batch");
        let properties = properties.set_max_row_group_row_count(Some(rows)).build();
        let mut bytes = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties)).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let size = bytes.len() as u64;
        store.put(&Path::from("f.parquet"), bytes.into()).await.expect("put");
        file_layout("events", store, "f.parquet", size, "event_name").await.expect("layout")
    }

    /// With the Parquet crate's default settings.
    async fn layout_of(names: &[&str]) -> FileLayout {
        layout_written_with(names, parquet::file::properties::WriterProperties::builder()).await
    }

    /// With the settings of the store's writer.
    async fn layout_as_the_store_writes(names: &[&str]) -> FileLayout {
        use arrow_schema::{DataType, Field, Schema};
        let schema = Schema::new(vec![Field::new("event_name", DataType::Utf8, true)]);
        layout_written_with(names, crate::writer::parquet_properties(&schema).into_builder()).await
    }

    #[tokio::test]
    async fn a_long_name_across_row_groups_keeps_a_file_sorted() {
        // Longer than the 64 bytes Parquet writers cut statistics to by default: a cut maximum
        // is rounded up and would read as past the next row group's minimum.
        let long =
            format!("Checkout Completed {}", "with a very long descriptive suffix ".repeat(3));
        let layout = layout_as_the_store_writes(&["Add To Cart", &long, &long, "Search"]).await;
        assert_eq!(
            layout,
            FileLayout::Sorted { first: b"Add To Cart".to_vec(), last: b"Search".to_vec() }
        );
    }

    #[tokio::test]
    async fn row_groups_in_order_make_a_sorted_file_and_runs_do_not() {
        let sorted_file = layout_of(&["A", "B", "B", "B", "C"]).await;
        assert_eq!(sorted_file, FileLayout::Sorted { first: b"A".to_vec(), last: b"C".to_vec() });
        // Two sorted runs, as a write with little memory leaves them.
        assert_eq!(layout_of(&["A", "C", "A", "C"]).await, FileLayout::Unsorted);
        assert_eq!(layout_of(&[]).await, FileLayout::Empty);
    }

    #[tokio::test]
    async fn runs_inside_one_row_group_are_told_by_the_page_index() {
        use parquet::file::properties::{EnabledStatistics, WriterProperties};
        // Pages of two rows, as the store's pages of 1024 rows within row groups of up to
        // 128 Ki: a write's runs are shorter than a row group.
        let pages_of_two =
            || WriterProperties::builder().set_write_batch_size(2).set_data_page_row_count_limit(2);
        let runs = ["A", "C", "A", "C"];
        assert_eq!(layout_in_row_groups_of(4, &runs, pages_of_two()).await, FileLayout::Unsorted);
        let sorted = layout_in_row_groups_of(4, &["A", "B", "B", "C"], pages_of_two()).await;
        assert_eq!(sorted, FileLayout::Sorted { first: b"A".to_vec(), last: b"C".to_vec() });
        // Without a page index only the row group's statistics are there, and they cannot
        // tell the runs apart.
        let chunk_statistics = pages_of_two().set_statistics_enabled(EnabledStatistics::Chunk);
        let without_index = layout_in_row_groups_of(4, &runs, chunk_statistics).await;
        assert_eq!(without_index, FileLayout::Sorted { first: b"A".to_vec(), last: b"C".to_vec() });
    }
}
