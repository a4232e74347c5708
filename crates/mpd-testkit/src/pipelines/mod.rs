//! The folder tree Mixpanel's JSON pipelines write to a bucket, built from a [`Project`] so
//! readers of pipeline exports can be tested against the same truth as the raw export:
//!
//! ```text
//! <root>/<project_id>/mp_master_event/<YYYY>/<MM>/<DD>/part-<YYYYMMDD>-0000.json.gz      daily days
//! <root>/<project_id>/mp_master_event/<YYYY>/<MM>/<DD>/<HH>/part-<YYYYMMDDHH>-0000.json.gz hourly days
//! <root>/<project_id>/mp_people_data/part-0000.json.gz
//! <root>/<project_id>/mp_identity_mappings_data/part-0000.json.gz
//! ```
//!
//! Files are gzipped JSONL (plain `.json` for the days in
//! [`PipelinesOptions::uncompressed_days`]). A day's event records are exactly the project's
//! fault-free export lines of that day, true duplicates included, reshaped into pipeline
//! records and never re-keyed: pipelines export events as ingested, whatever
//! [`Project::set_rekey_identified`] says. Days without data get no files.
//!
//! ```
//! use mpd_testkit::pipelines::{PipelinesOptions, PipelinesTree};
//! use mpd_testkit::{MockConfig, Project};
//!
//! let project = Project::new(&MockConfig { events_per_day: 10, ..MockConfig::default() })?;
//! let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
//! let root = tempfile::tempdir().unwrap();
//! let mut tree = PipelinesTree::write(&project, root.path(), &PipelinesOptions::new(day, day))?;
//! assert!(tree.project_dir().ends_with("1234"));
//! let late = tree.add_late_file(&project, day, 2)?;
//! assert!(late[0].starts_with(tree.day_dir(day)));
//! # Ok::<(), mpd_testkit::Error>(())
//! ```

mod files;
mod record;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Timelike};

use crate::project::Project;
use crate::{Error, Result};
use files::Encoding;

/// Folder of event files under the project folder.
pub const EVENTS_DIR: &str = "mp_master_event";
/// Folder of people (profile) files under the project folder.
pub const PEOPLE_DIR: &str = "mp_people_data";
/// Folder of identity-mapping files under the project folder.
pub const IDENTITY_DIR: &str = "mp_identity_mappings_data";

/// People and identity mappings are each split over this many files.
const PROFILE_FILES: usize = 2;

/// What [`PipelinesTree::write`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelinesOptions {
    /// First day with an event folder.
    pub from: NaiveDate,
    /// Last day with an event folder (inclusive).
    pub to: NaiveDate,
    /// Files a daily folder's events are split into (fewer when the day has fewer events).
    pub files_per_day: u32,
    /// Days written as hourly folders: one file per UTC hour that has events, in `<DD>/<HH>/`.
    pub hourly_days: Vec<NaiveDate>,
    /// Days whose event files are plain `.json` instead of `.json.gz` (late files too).
    pub uncompressed_days: Vec<NaiveDate>,
}

impl PipelinesOptions {
    /// Daily gzipped folders from `from` to `to`, three files per day.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        Self { from, to, files_per_day: 3, hourly_days: Vec::new(), uncompressed_days: Vec::new() }
    }

    fn validate(&self) -> Result<()> {
        let invalid = |message: &str| Err(Error::InvalidConfig { message: message.to_owned() });
        if self.from > self.to {
            return invalid("pipelines: from cannot be later than to");
        }
        if self.files_per_day == 0 {
            return invalid("pipelines: files_per_day must be at least 1");
        }
        Ok(())
    }
}

/// A JSON-pipelines folder tree on disk, and the files written into it.
#[derive(Debug, Clone)]
pub struct PipelinesTree {
    project_dir: PathBuf,
    hourly_days: Vec<NaiveDate>,
    uncompressed_days: Vec<NaiveDate>,
    event_files: Vec<PathBuf>,
    people_files: Vec<PathBuf>,
    identity_files: Vec<PathBuf>,
}

impl PipelinesTree {
    /// Writes the tree of `project` under `root/<project_id>/`, creating folders as needed.
    /// Files of an earlier tree in the same place are overwritten or, for late files, kept.
    pub fn write(project: &Project, root: &Path, options: &PipelinesOptions) -> Result<Self> {
        options.validate()?;
        let mut tree = Self {
            project_dir: root.join(project.project_id().to_string()),
            hourly_days: options.hourly_days.clone(),
            uncompressed_days: options.uncompressed_days.clone(),
            event_files: Vec::new(),
            people_files: Vec::new(),
            identity_files: Vec::new(),
        };
        let n_files = usize::try_from(options.files_per_day).unwrap_or(1);
        for day in options.from.iter_days().take_while(|d| *d <= options.to) {
            let data = project.day_as(day, false);
            let events = reshape(day, data.iter_lines().map(|(line, span)| (line, span.time_ms)))?;
            tree.write_events(day, Batch::Initial { n_files }, events)?;
        }
        let people: Vec<String> = project.profiles().iter().map(record::people_record).collect();
        tree.people_files = write_split(&tree.project_dir.join(PEOPLE_DIR), &people)?;
        let identities: Vec<String> = project
            .identity_merges()
            .iter()
            .map(|(id, resolved)| record::identity_record(id, resolved))
            .collect();
        tree.identity_files = write_split(&tree.project_dir.join(IDENTITY_DIR), &identities)?;
        tracing::info!(
            project_dir = %tree.project_dir.display(),
            n_event_files = tree.event_files.len(),
            "pipelines tree written"
        );
        Ok(tree)
    }

    /// Adds `n` late events to `day` in `project` ([`Project::add_late_events`], so the raw
    /// export's truth has them too) and writes exactly those events, as ingested, to a new
    /// file `late-<YYYYMMDD>-NNNN` in the day's folder; for an hourly day, one new file
    /// `late-<YYYYMMDDHH>-NNNN` per hour folder the events fall in. Returns the files written
    /// (none when `n` is 0).
    pub fn add_late_file(
        &mut self,
        project: &Project,
        day: NaiveDate,
        n: u32,
    ) -> Result<Vec<PathBuf>> {
        let added = project.add_late_events_ingested(day, n);
        let events = reshape(day, added.iter().map(|l| (l.text.as_bytes(), l.time_ms)))?;
        self.write_events(day, Batch::Late, events)
    }

    /// `<root>/<project_id>`.
    pub fn project_dir(&self) -> &Path {
        &self.project_dir
    }

    /// `<root>/<project_id>/mp_master_event/<YYYY>/<MM>/<DD>`.
    pub fn day_dir(&self, day: NaiveDate) -> PathBuf {
        self.project_dir.join(EVENTS_DIR).join(day.format("%Y/%m/%d").to_string())
    }

    /// Every event file written so far (late files included), in the order written.
    pub fn event_files(&self) -> &[PathBuf] {
        &self.event_files
    }

    /// The people files.
    pub fn people_files(&self) -> &[PathBuf] {
        &self.people_files
    }

    /// The identity-mapping files.
    pub fn identity_files(&self) -> &[PathBuf] {
        &self.identity_files
    }

    /// Writes one day's records (with their event times in ms) and returns the new files.
    fn write_events(
        &mut self,
        day: NaiveDate,
        batch: Batch,
        events: Vec<(String, i64)>,
    ) -> Result<Vec<PathBuf>> {
        let encoding =
            if self.uncompressed_days.contains(&day) { Encoding::Plain } else { Encoding::Gzip };
        let day_dir = self.day_dir(day);
        let stamp = day.format("%Y%m%d").to_string();
        let mut written = Vec::new();
        if self.hourly_days.contains(&day) {
            let mut hours: BTreeMap<u32, Vec<String>> = BTreeMap::new();
            for (line, (record, time_ms)) in events.into_iter().enumerate() {
                let hour = DateTime::from_timestamp_millis(time_ms).map(|t| t.hour()).ok_or_else(
                    || Error::PipelineEvent {
                        day,
                        line: line + 1,
                        message: format!("time {time_ms} ms is out of range"),
                    },
                )?;
                hours.entry(hour).or_default().push(record);
            }
            for (hour, records) in hours {
                let dir = day_dir.join(format!("{hour:02}"));
                let stem = batch.stem(&dir, &format!("{stamp}{hour:02}"), 0);
                written.push(files::write_records(&dir, &stem, encoding, &records)?);
            }
        } else if !events.is_empty() {
            let records: Vec<String> = events.into_iter().map(|(record, _)| record).collect();
            let per_file = match batch {
                Batch::Initial { n_files } => records.len().div_ceil(n_files.max(1)),
                Batch::Late => records.len(),
            };
            for (i, chunk) in records.chunks(per_file.max(1)).enumerate() {
                let stem = batch.stem(&day_dir, &stamp, i);
                written.push(files::write_records(&day_dir, &stem, encoding, chunk)?);
            }
        }
        self.event_files.extend(written.iter().cloned());
        Ok(written)
    }
}

/// Whether files come from the first export of a day or arrive late.
#[derive(Debug, Clone, Copy)]
enum Batch {
    Initial { n_files: usize },
    Late,
}

impl Batch {
    /// File stem for the `index`-th file of a batch in `dir`; late files take the first free
    /// number so repeated batches never overwrite each other.
    fn stem(self, dir: &Path, stamp: &str, index: usize) -> String {
        match self {
            Self::Initial { .. } => format!("part-{stamp}-{index:04}"),
            Self::Late => files::free_stem(dir, &format!("late-{stamp}")),
        }
    }
}

/// Reshapes export lines (with their times) into event records, keeping the times.
fn reshape<'a>(
    day: NaiveDate,
    lines: impl Iterator<Item = (&'a [u8], i64)>,
) -> Result<Vec<(String, i64)>> {
    lines
        .enumerate()
        .map(|(i, (line, time_ms))| {
            record::event_record(line)
                .map(|record| (record, time_ms))
                .map_err(|message| Error::PipelineEvent { day, line: i + 1, message })
        })
        .collect()
}

/// Writes `records` split over [`PROFILE_FILES`] gzipped files (some may be empty).
fn write_split(dir: &Path, records: &[String]) -> Result<Vec<PathBuf>> {
    let per_file = records.len().div_ceil(PROFILE_FILES).max(1);
    (0..PROFILE_FILES)
        .map(|i| {
            let chunk = records.get(i * per_file..).unwrap_or_default();
            let chunk = &chunk[..per_file.min(chunk.len())];
            files::write_records(dir, &format!("part-{i:04}"), Encoding::Gzip, chunk)
        })
        .collect()
}
