//! The JSON-pipelines tree, in a folder or in a bucket (`s3://bucket/<project_id>/…`, where
//! Mixpanel delivers it): which files there are, which are new, and their bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use mpd_store::Bucket;

use super::ledger::{Ledger, LedgerEntry};
use crate::error::{Error, Result};

pub(crate) const EVENTS_DIR: &str = "mp_master_event";
pub(crate) const PEOPLE_DIR: &str = "mp_people_data";
pub(crate) const IDENTITY_DIR: &str = "mp_identity_mappings_data";

/// One data file of the tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PipelineFile {
    /// Path relative to the project folder, with `/` separators (the ledger key).
    pub(crate) relative: String,
    /// Where its bytes are: a local path, or a key of the tree's bucket.
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    /// The object's entity tag, for a file in a bucket.
    pub(crate) etag: Option<String>,
}

/// Where a pipelines tree lives.
pub(crate) enum Tree {
    /// A project folder.
    Folder(PathBuf),
    /// A project prefix of a bucket (without the surrounding `/`).
    Bucket { bucket: Bucket, prefix: String },
}

impl PipelineFile {
    /// How the ledger records the file.
    pub(crate) fn ledger_entry(&self) -> LedgerEntry {
        LedgerEntry { path: self.relative.clone(), size: self.size, etag: self.etag.clone() }
    }
}

impl Tree {
    /// The tree of `source`: a folder, or a bucket URL (`s3://bucket/<project_id>`, or the
    /// bucket root holding one project).
    pub(crate) async fn open(source: &Path, options: &mpd_store::StoreOptions) -> Result<Self> {
        let text = source.to_string_lossy();
        let Some(url) = text.contains("://").then(|| url::Url::parse(&text).ok()).flatten() else {
            return project_dir(source).map(Tree::Folder);
        };
        let bucket = Bucket::open_with_options(&url, options)?;
        let root = bucket.prefix().to_owned();
        let is_project = |folders: &[String]| {
            folders
                .iter()
                .any(|f| [EVENTS_DIR, PEOPLE_DIR, IDENTITY_DIR].contains(&last_segment(f)))
        };
        let folders = bucket.folders(&root).await?;
        if is_project(&folders) {
            return Ok(Tree::Bucket { bucket, prefix: root });
        }
        let mut projects = Vec::new();
        for folder in folders {
            if is_project(&bucket.folders(&folder).await?) {
                projects.push(folder);
            }
        }
        match projects.as_slice() {
            [one] => {
                let prefix = one.trim_matches('/').to_owned();
                Ok(Tree::Bucket { bucket, prefix })
            }
            [] => Err(Error::InvalidArgument(format!(
                "{url} holds no JSON pipelines data: expected {EVENTS_DIR}/, {PEOPLE_DIR}/ or {IDENTITY_DIR}/ in it or in a <project_id>/ prefix"
            ))),
            many => Err(Error::InvalidArgument(format!(
                "{url} holds {} projects ({}); give the prefix of one of them",
                many.len(),
                many.iter().map(|p| last_segment(p)).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// The project folder, or the project's URL, for reports.
    pub(crate) fn display(&self) -> PathBuf {
        match self {
            Tree::Folder(path) => path.clone(),
            Tree::Bucket { bucket, prefix } => PathBuf::from(bucket.url_of(prefix)),
        }
    }

    /// The project id the tree names (`…/<project_id>/mp_master_event/`).
    pub(crate) fn project_id(&self) -> Option<u64> {
        match self {
            Tree::Folder(path) => folder_project_id(path),
            Tree::Bucket { prefix, .. } => last_segment(prefix).parse().ok().filter(|id| *id > 0),
        }
    }

    /// The data files of `dataset`, sorted.
    pub(crate) async fn data_files(&self, dataset: &str) -> Result<Vec<PipelineFile>> {
        let (bucket, prefix) = match self {
            Tree::Folder(path) => return data_files(path, dataset),
            Tree::Bucket { bucket, prefix } => (bucket, prefix),
        };
        let base = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        let mut files: Vec<PipelineFile> = bucket
            .list(&format!("{base}{dataset}"))
            .await?
            .into_iter()
            .filter(|object| {
                let name = last_segment(&object.key);
                !name.starts_with('.') && (name.ends_with(".json") || name.ends_with(".json.gz"))
            })
            .map(|object| PipelineFile {
                relative: object.key.strip_prefix(&base).unwrap_or(&object.key).to_owned(),
                path: PathBuf::from(&object.key),
                size: object.size,
                etag: object.etag,
            })
            .collect();
        files.sort();
        Ok(files)
    }
}

fn last_segment(key: &str) -> &str {
    key.trim_end_matches('/').rsplit('/').next().unwrap_or(key)
}

/// The project folder of `source`: the folder itself when it holds the pipelines' datasets,
/// else its only sub-folder that does (`<bucket>/<project_id>/`).
pub(crate) fn project_dir(source: &Path) -> Result<PathBuf> {
    let is_project = |dir: &Path| {
        [EVENTS_DIR, PEOPLE_DIR, IDENTITY_DIR].iter().any(|name| dir.join(name).is_dir())
    };
    if !source.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "{} is not a folder: give the folder Mixpanel's JSON pipelines write to",
            source.display()
        )));
    }
    if is_project(source) {
        return Ok(source.to_path_buf());
    }
    let read = std::fs::read_dir(source).map_err(|e| read_error(source, e))?;
    let projects: Vec<PathBuf> =
        read.flatten().map(|e| e.path()).filter(|p| p.is_dir() && is_project(p)).collect();
    match projects.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::InvalidArgument(format!(
            "{} holds no JSON pipelines data: expected {EVENTS_DIR}/, {PEOPLE_DIR}/ or {IDENTITY_DIR}/ in it or in a <project_id>/ folder",
            source.display()
        ))),
        many => Err(Error::InvalidArgument(format!(
            "{} holds {} projects ({}); give the folder of one of them",
            source.display(),
            many.len(),
            many.iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The project id a pipelines tree names in its folder (`<bucket>/<project_id>/mp_master_event/`),
/// when the project folder's name is a number.
pub(crate) fn folder_project_id(project: &Path) -> Option<u64> {
    project.file_name()?.to_str()?.parse().ok().filter(|id| *id > 0)
}

/// The `*.json` / `*.json.gz` files under `dataset`, sorted, skipping hidden (in-progress) ones.
pub(crate) fn data_files(project: &Path, dataset: &str) -> Result<Vec<PipelineFile>> {
    let mut files = Vec::new();
    let mut stack = vec![project.join(dataset)];
    while let Some(dir) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else { continue };
        for entry in read.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".json") || name.ends_with(".json.gz") {
                let size = entry.metadata().map_err(|e| read_error(&path, e))?.len();
                let relative = path
                    .strip_prefix(project)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                files.push(PipelineFile { relative, path, size, etag: None });
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Files not in the ledger (a file whose size or entity tag changed is read again; dedup
/// absorbs it).
pub(crate) fn new_files(files: Vec<PipelineFile>, ingested: &Ledger) -> Vec<PipelineFile> {
    files.into_iter().filter(|f| !ingested.has_read(&f.ledger_entry())).collect()
}

/// Event files grouped by their day folder (`YYYY/MM/DD`), days in order.
pub(crate) fn by_day(files: Vec<PipelineFile>) -> BTreeMap<Option<NaiveDate>, Vec<PipelineFile>> {
    let mut groups: BTreeMap<Option<NaiveDate>, Vec<PipelineFile>> = BTreeMap::new();
    for file in files {
        groups.entry(day_of(&file.relative)).or_default().push(file);
    }
    groups
}

/// The day of `mp_master_event/YYYY/MM/DD/...`.
fn day_of(relative: &str) -> Option<NaiveDate> {
    let mut parts = relative.split('/').skip(1);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

fn read_error(path: &Path, source: std::io::Error) -> Error {
    Error::Unreadable(format!("cannot read {}: {source}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_folders_are_read_from_the_path() {
        assert_eq!(
            day_of("mp_master_event/2024/03/05/part-1.json.gz"),
            NaiveDate::from_ymd_opt(2024, 3, 5)
        );
        assert_eq!(
            day_of("mp_master_event/2024/03/05/07/part-1.json.gz"),
            NaiveDate::from_ymd_opt(2024, 3, 5)
        );
        assert_eq!(day_of("mp_master_event/odd/file.json"), None);
    }

    #[test]
    fn the_project_id_comes_from_a_numeric_project_folder() {
        assert_eq!(folder_project_id(Path::new("bucket/2195193")), Some(2195193));
        assert_eq!(folder_project_id(Path::new("s3-mirror")), None);
        assert_eq!(folder_project_id(Path::new("bucket/0")), None);
    }

    fn file(name: &str, size: u64, etag: Option<&str>) -> PipelineFile {
        PipelineFile {
            relative: name.to_owned(),
            path: PathBuf::from(name),
            size,
            etag: etag.map(str::to_owned),
        }
    }

    #[test]
    fn ingested_files_are_skipped_unless_their_size_changed() {
        let ingested: Ledger = [file("a", 10, None).ledger_entry()].into_iter().collect();
        let left = new_files(
            vec![file("a", 10, None), file("a2", 10, None), file("b", 11, None)],
            &ingested,
        );
        assert_eq!(left.iter().map(|f| f.relative.as_str()).collect::<Vec<_>>(), ["a2", "b"]);
        let changed = new_files(vec![file("a", 12, None)], &ingested);
        assert_eq!(changed.len(), 1);
    }

    #[test]
    fn an_object_rewritten_at_the_same_size_is_read_again() {
        let ingested: Ledger =
            [file("a", 10, Some("\"v1\"")).ledger_entry(), file("old", 5, None).ledger_entry()]
                .into_iter()
                .collect();
        let same = new_files(vec![file("a", 10, Some("\"v1\""))], &ingested);
        assert!(same.is_empty());
        let rewritten = new_files(vec![file("a", 10, Some("\"v2\""))], &ingested);
        assert_eq!(rewritten.len(), 1);
        // A row from before tags were kept matches on path and size.
        let untagged_row = new_files(vec![file("old", 5, Some("\"v9\""))], &ingested);
        assert!(untagged_row.is_empty());
    }
}
