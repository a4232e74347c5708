//! The quarantine file: malformed lines kept with their day and line number, one JSON per line.

use std::io::Write;
use std::path::PathBuf;

use chrono::NaiveDate;
use mpd_decode::BadLine;

use crate::error::{Error, Result};

/// Appends bad lines to a JSONL file, created on the first bad line only.
#[derive(Debug)]
pub(crate) struct Quarantine {
    path: PathBuf,
    file: Option<std::fs::File>,
    count: u64,
    /// Append to the file (a later phase of a run) instead of starting it.
    append: bool,
}

impl Quarantine {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, file: None, count: 0, append: false }
    }

    /// The quarantine of a later phase of the same run: appends to `path`, and counts the
    /// `earlier` lines set aside already, so the allowance applies to the whole run.
    pub(crate) fn continuing(path: PathBuf, earlier: u64) -> Self {
        Self { path, file: None, count: earlier, append: true }
    }

    /// Records the bad lines of the export of `[from, to]`; line numbers count in that body.
    /// Ends the run: how many lines were set aside and where, or an error when more than
    /// `allowed` were.
    pub(crate) fn finish(&self, allowed: u64) -> Result<(u64, Option<PathBuf>)> {
        if self.count == 0 {
            return Ok((0, None));
        }
        if self.count > allowed {
            return Err(crate::error::Error::BadLines {
                count: self.count,
                allowed,
                path: self.path.clone(),
            });
        }
        Ok((self.count, Some(self.path.clone())))
    }

    pub(crate) fn record(
        &mut self,
        from: NaiveDate,
        to: NaiveDate,
        lines: &[BadLine],
    ) -> Result<()> {
        for bad in lines {
            tracing::warn!(%from, %to, line = bad.line, reason = %bad.reason, "malformed line quarantined");
        }
        self.write(lines, |entry| {
            entry.insert("from".to_owned(), from.to_string().into());
            entry.insert("to".to_owned(), to.to_string().into());
        })
    }

    /// Records the bad lines of a file; line numbers count in that file.
    pub(crate) fn record_file(&mut self, file: &str, lines: &[BadLine]) -> Result<()> {
        for bad in lines {
            tracing::warn!(file = %file, line = bad.line, reason = %bad.reason, "malformed line quarantined");
        }
        self.write(lines, |entry| {
            entry.insert("file".to_owned(), file.into());
        })
    }

    /// Appends one JSON object per line: where (`place`), then line, offset, reason, text.
    fn write(
        &mut self,
        lines: &[BadLine],
        place: impl Fn(&mut serde_json::Map<String, serde_json::Value>),
    ) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let shown = self.path.display().to_string();
        let write_error =
            |source| Error::Write { what: format!("quarantine file {shown}"), source };
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).map_err(write_error)?;
            }
            // A sync's later phase appends to its first phase's file (`sync/events.rs`).
            let mut options = std::fs::OpenOptions::new();
            options.create(true);
            if self.append {
                options.append(true)
            } else {
                options.write(true).truncate(true)
            };
            self.file = Some(options.open(&self.path).map_err(write_error)?);
        }
        let mut text = Vec::new();
        for bad in lines {
            let mut entry = serde_json::Map::new();
            place(&mut entry);
            entry.insert("line".to_owned(), bad.line.into());
            entry.insert("offset".to_owned(), bad.byte_offset.into());
            entry.insert("reason".to_owned(), bad.reason.clone().into());
            entry.insert("text".to_owned(), String::from_utf8_lossy(&bad.text).into_owned().into());
            serde_json::to_writer(&mut text, &entry).map_err(|e| write_error(e.into()))?;
            text.push(b'\n');
        }
        if let Some(file) = &mut self.file {
            file.write_all(&text).map_err(write_error)?;
        }
        self.count += lines.len() as u64;
        Ok(())
    }
}
