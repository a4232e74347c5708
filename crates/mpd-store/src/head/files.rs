//! A head's live files: the saved index's lines, read only where a lookup needs them, plus
//! the changes of the commits replayed since.
//!
//! Parsing ten years of daily files (3,671 lines) into a map took 2.8 ms a run; a day's read
//! needs a few of them, found by the date field of each line (docs/PERFORMANCE.md).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::LiveFile;

/// One line of a saved index: `path TAB size TAB date TAB deletion-vector TAB first TAB last`.
struct Line<'a> {
    path: &'a str,
    size: u64,
    date: &'a str,
    deletion_vector: bool,
    first: &'a str,
    last: &'a str,
}

impl<'a> Line<'a> {
    fn split(line: &'a str) -> Option<Line<'a>> {
        let mut fields = line.split('\t');
        let line = Line {
            path: fields.next()?,
            size: fields.next()?.parse().ok()?,
            date: fields.next()?,
            deletion_vector: fields.next()? == "1",
            first: fields.next()?,
            last: fields.next()?,
        };
        fields.next().is_none().then_some(line)
    }

    fn may_hold(&self, days: &HashSet<String>) -> bool {
        super::may_hold(self.date, self.first, self.last, days)
    }

    fn live(&self) -> LiveFile {
        let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        LiveFile {
            size: self.size,
            date: text(self.date),
            deletion_vector: self.deletion_vector,
            date_range: text(self.first).zip(text(self.last)),
        }
    }
}

/// The line of `file` at `path` in a saved index; None for a path the format cannot hold.
pub(super) fn render_line(path: &str, file: &LiveFile) -> Option<String> {
    if path.contains(['\t', '\n']) {
        return None;
    }
    let date = file.date.as_deref().unwrap_or_default();
    let dv = u8::from(file.deletion_vector);
    let (first, last) = file.date_range.clone().unwrap_or_default();
    Some(format!("{path}\t{}\t{date}\t{dv}\t{first}\t{last}\n", file.size))
}

/// The live files of one version.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveFiles {
    /// File lines of the saved index (checked whole when read).
    saved: Arc<str>,
    /// Paths of saved lines no longer live (or replaced by an entry of `added`).
    removed: HashSet<String>,
    /// Files added since the saved index, by path.
    added: HashMap<String, LiveFile>,
}

impl LiveFiles {
    /// The files of a saved index's file lines; None when a line is damaged.
    pub(super) fn from_saved(lines: &str) -> Option<LiveFiles> {
        lines
            .lines()
            .all(|line| Line::split(line).is_some())
            .then(|| LiveFiles { saved: Arc::from(lines), ..LiveFiles::default() })
    }

    pub(super) fn insert(&mut self, path: String, file: LiveFile) {
        // Hides a saved line of the same path (a deletion vector update); nothing to hide
        // when the files were not read from an index.
        if !self.saved.is_empty() {
            self.removed.insert(path.clone());
        }
        self.added.insert(path, file);
    }

    pub(super) fn remove(&mut self, path: &str) {
        self.added.remove(path);
        self.removed.insert(path.to_owned());
    }

    /// Every live file, (path, file).
    pub(super) fn iter(&self) -> impl Iterator<Item = (String, LiveFile)> + '_ {
        let saved = self
            .saved
            .lines()
            .filter_map(Line::split)
            .filter(|line| !self.removed.contains(line.path))
            .map(|line| (line.path.to_owned(), line.live()));
        saved.chain(self.added.iter().map(|(path, file)| (path.clone(), file.clone())))
    }

    pub(super) fn len(&self) -> usize {
        self.iter().count()
    }

    /// The files that may hold rows of `days` (`YYYY-MM-DD`): in a table partitioned by
    /// `date`, the days' files; otherwise those whose `date` statistics cover a day.
    pub(super) fn of_days(&self, days: &HashSet<String>) -> Vec<(String, LiveFile)> {
        let saved = self
            .saved
            .lines()
            .filter_map(Line::split)
            .filter(|line| line.may_hold(days) && !self.removed.contains(line.path))
            .map(|line| (line.path.to_owned(), line.live()));
        let added = self
            .added
            .iter()
            .filter(|(_, file)| file.may_hold(days))
            .map(|(path, file)| (path.clone(), file.clone()));
        saved.chain(added).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(date: Option<&str>, range: Option<(&str, &str)>) -> LiveFile {
        LiveFile {
            size: 10,
            date: date.map(str::to_owned),
            deletion_vector: false,
            date_range: range.map(|(a, b)| (a.to_owned(), b.to_owned())),
        }
    }

    #[test]
    fn saved_lines_and_later_changes_make_one_list() {
        let mut saved = String::new();
        for (path, f) in [
            ("date=2024-01-01/a.parquet", file(Some("2024-01-01"), None)),
            ("date=2024-01-02/b.parquet", file(Some("2024-01-02"), None)),
        ] {
            saved.push_str(&render_line(path, &f).expect("renders"));
        }
        let mut files = LiveFiles::from_saved(&saved).expect("well formed");
        files.remove("date=2024-01-01/a.parquet");
        files.insert("date=2024-01-01/c.parquet".into(), file(Some("2024-01-01"), None));
        // A deletion vector update: removed and added under the same path.
        files.remove("date=2024-01-02/b.parquet");
        files.insert("date=2024-01-02/b.parquet".into(), file(Some("2024-01-02"), None));
        let days: HashSet<String> = ["2024-01-01".to_owned()].into();
        let paths: Vec<String> = files.of_days(&days).into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["date=2024-01-01/c.parquet"]);
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn files_of_a_table_in_one_folder_are_picked_by_their_date_range() {
        let saved = render_line("a.parquet", &file(None, Some(("2024-01-01", "2024-01-03"))))
            .expect("renders")
            + &render_line("b.parquet", &file(None, None)).expect("renders");
        let files = LiveFiles::from_saved(&saved).expect("well formed");
        let pick = |day: &str| -> Vec<String> {
            let days: HashSet<String> = [day.to_owned()].into();
            files.of_days(&days).into_iter().map(|(p, _)| p).collect()
        };
        // A file without statistics may hold any day.
        assert_eq!(pick("2024-01-02"), ["a.parquet", "b.parquet"]);
        assert_eq!(pick("2024-01-04"), ["b.parquet"]);
    }

    #[test]
    fn damaged_lines_are_refused() {
        for lines in ["a\t10\n", "a\tten\t\t0\t\t\n", "a\t10\t\t0\t\t\textra\n"] {
            assert!(LiveFiles::from_saved(lines).is_none(), "{lines:?}");
        }
    }
}
