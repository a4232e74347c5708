//! The JSON-pipelines tree, in a folder or in a bucket (`s3://bucket/<project_id>/…`, where
//! Mixpanel delivers it): which files there are, which are new, and their bytes.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use mpd_store::Bucket;

use crate::error::{Error, Result};
use crate::source::FileChunks;

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
}

/// Where a pipelines tree lives.
pub(crate) enum Tree {
    /// A project folder.
    Folder(PathBuf),
    /// A project prefix of a bucket (without the surrounding `/`).
    Bucket { bucket: Bucket, prefix: String },
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
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// The bytes of `file`, a chunk at a time (an object is fetched whole, into memory).
    pub(crate) async fn chunks(&self, file: &PipelineFile) -> Result<FileChunks> {
        match self {
            Tree::Folder(_) => FileChunks::open(&file.path),
            Tree::Bucket { bucket, .. } => {
                let key = file.path.to_string_lossy();
                let bytes = bucket.get(&key).await?;
                FileChunks::from_reader(
                    PathBuf::from(bucket.url_of(&key)),
                    Box::new(std::io::Cursor::new(bytes)),
                )
            }
        }
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
                files.push(PipelineFile { relative, path, size });
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Files not in the ledger (a file whose size changed is read again; dedup absorbs it).
pub(crate) fn new_files(
    files: Vec<PipelineFile>,
    ingested: &HashSet<(String, u64)>,
) -> Vec<PipelineFile> {
    files.into_iter().filter(|f| !ingested.contains(&(f.relative.clone(), f.size))).collect()
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

    #[test]
    fn ingested_files_are_skipped_unless_their_size_changed() {
        let file = |name: &str, size| PipelineFile {
            relative: name.to_owned(),
            path: PathBuf::from(name),
            size,
        };
        let ingested = HashSet::from([("a".to_owned(), 10)]);
        let left = new_files(vec![file("a", 10), file("a2", 10), file("b", 11)], &ingested);
        assert_eq!(left.iter().map(|f| f.relative.as_str()).collect::<Vec<_>>(), ["a2", "b"]);
        let changed = new_files(vec![file("a", 12)], &ingested);
        assert_eq!(changed.len(), 1);
    }
}
