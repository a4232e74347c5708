//! The layouts of data files already read, saved as `_mpd/layouts/<table>` under the store's
//! root, so that a compaction reads the footers of new files only: a data file never
//! changes once written (a rewrite makes a file of another name), so a layout read once holds
//! for as long as the file is live. The file's size is kept beside its layout: a file of the
//! same name with another size (bytes replaced by a tool outside Delta) is read again. Without
//! the index every `mpd tables compact` read the footer of every file of the table, a cost (one
//! or two requests per file on an object store) that grew with the table's history.
//!
//! Text: a format line naming the column the layouts are by, then one file a line: `path TAB
//! size TAB layout`, the layout `empty`, `unsorted`, or `sorted TAB first TAB last` with the
//! values in hex. Only live files are kept. A damaged index, or one by another column, is not
//! used (every footer is read again and the index written anew).

use std::collections::HashMap;
use std::fmt::Write as _;

use super::FileLayout;
use crate::backend::Backend;
use crate::location::MPD_DIR;

/// Each file's size and layout, by path.
pub(super) type Layouts = HashMap<String, (u64, FileLayout)>;

/// Format 2: layouts read by the pages' statistics. An index of format 1 (row groups' only,
/// which took a file of several runs in one row group for sorted) is read again.
const FORMAT: &str = "mpd-layouts 2";

fn index_path(table: &str) -> String {
    format!("{MPD_DIR}/layouts/{table}")
}

/// The saved layouts of `table`'s files by `column`, by path; empty when there are none or
/// the index cannot be read.
pub(super) async fn read(backend: &Backend, table: &str, column: &str) -> Layouts {
    match backend.read(&index_path(table)).await {
        Ok(Some(bytes)) => parse(&bytes, column).unwrap_or_else(|| {
            tracing::debug!(
                table,
                column,
                "the saved file layouts are unreadable; reading footers"
            );
            Layouts::new()
        }),
        Ok(None) => Layouts::new(),
        Err(error) => {
            tracing::debug!(table, %error, "cannot read the saved file layouts");
            Layouts::new()
        }
    }
}

/// Saves `layouts` (the live files') as the index of `table` by `column`. Best effort: a
/// failure costs the next compaction the footers again, so it is logged, not returned.
pub(super) async fn save(backend: &Backend, table: &str, column: &str, layouts: &Layouts) {
    let text = render(layouts, column);
    if let Err(error) = backend.write(&index_path(table), text.into()).await {
        tracing::debug!(table, %error, "cannot save the file layouts");
    }
}

/// Deletes the saved layouts of a dropped table. Best effort, as [`save`].
pub(crate) async fn forget(backend: &Backend, table: &str) {
    if let Err(error) = backend.delete(&index_path(table)).await {
        tracing::debug!(table, %error, "cannot delete the saved file layouts");
    }
}

fn render(layouts: &Layouts, column: &str) -> String {
    let mut paths: Vec<&String> = layouts.keys().collect();
    paths.sort();
    let mut text = format!("{FORMAT} {column}\n");
    for path in paths {
        let (size, layout) = &layouts[path];
        let _ = match layout {
            FileLayout::Empty => writeln!(text, "{path}\t{size}\tempty"),
            FileLayout::Unsorted => writeln!(text, "{path}\t{size}\tunsorted"),
            FileLayout::Sorted { first, last } => {
                writeln!(text, "{path}\t{size}\tsorted\t{}\t{}", hex(first), hex(last))
            }
        };
    }
    text
}

fn parse(bytes: &[u8], column: &str) -> Option<Layouts> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    if lines.next()?.strip_prefix(FORMAT)?.strip_prefix(' ')? != column {
        return None;
    }
    lines
        .map(|line| {
            let mut fields = line.split('\t');
            let path = fields.next().filter(|p| !p.is_empty())?.to_owned();
            let size: u64 = fields.next()?.parse().ok()?;
            let layout = match fields.next()? {
                "empty" => FileLayout::Empty,
                "unsorted" => FileLayout::Unsorted,
                "sorted" => FileLayout::Sorted {
                    first: unhex(fields.next()?)?,
                    last: unhex(fields.next()?)?,
                },
                _ => return None,
            };
            fields.next().is_none().then_some((path, (size, layout)))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_read_back_as_saved() {
        let layouts: Layouts = [
            ("date=2025-01-01/a.parquet", FileLayout::Empty),
            ("date=2025-01-01/b.parquet", FileLayout::Unsorted),
            (
                "date=2025-01-02/c.parquet",
                FileLayout::Sorted { first: b"Add To Cart".to_vec(), last: "Z\t\u{e9}".into() },
            ),
            (
                "date=2025-01-03/d.parquet",
                FileLayout::Sorted { first: Vec::new(), last: vec![0xff] },
            ),
        ]
        .into_iter()
        .zip(1000..)
        .map(|((path, layout), size)| (path.to_owned(), (size, layout)))
        .collect();
        let text = render(&layouts, "event_name");
        assert!(text.starts_with("mpd-layouts 2 event_name\n"), "{text}");
        assert_eq!(parse(text.as_bytes(), "event_name"), Some(layouts));
        // Layouts by another column are not these.
        assert_eq!(parse(text.as_bytes(), "time"), None);
    }

    #[test]
    fn a_damaged_index_is_not_used() {
        for damaged in [
            "",
            "mpd-layouts 0 event_name\n",
            "mpd-layouts 2\n",
            // Format 1, whose layouts were read by row groups only.
            "mpd-layouts 1 event_name\na.parquet\t7\tempty\n",
            "mpd-layouts 2 event_name\na.parquet\n",
            "mpd-layouts 2 event_name\na.parquet\tempty\n",
            "mpd-layouts 2 event_name\na.parquet\t-1\tempty\n",
            "mpd-layouts 2 event_name\na.parquet\t7\tsorted\t41\n",
            "mpd-layouts 2 event_name\na.parquet\t7\tsorted\t4\t42\n",
            "mpd-layouts 2 event_name\na.parquet\t7\tsorted\tzz\t42\n",
            "mpd-layouts 2 event_name\na.parquet\t7\tsideways\n",
            "mpd-layouts 2 event_name\na.parquet\t7\tempty\textra\n",
            "mpd-layouts 2 event_name\n\t7\tempty\n",
        ] {
            assert_eq!(parse(damaged.as_bytes(), "event_name"), None, "{damaged:?}");
        }
        assert_eq!(parse(b"mpd-layouts 2 event_name\n", "event_name"), Some(Layouts::new()));
    }
}
