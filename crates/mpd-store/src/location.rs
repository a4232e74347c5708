//! Where a project's store lives (a folder, or an object store URL) and where its side folders
//! go.

use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use crate::StoreMode;

/// Name of the folder, inside the store root, that keeps malformed input lines.
pub const QUARANTINE_DIR: &str = "_quarantine";
/// Name of the folder, inside the store root, holding the store's own files (the write lock).
pub const MPD_DIR: &str = "_mpd";

/// Where a project's store lives: a folder, or an object store (`s3://bucket/prefix`).
///
/// ```
/// use std::path::Path;
/// use mpd_store::StoreLocation;
///
/// let location = StoreLocation::default_for_project(Path::new("/home/ana"), 1234);
/// assert_eq!(location.root(), Some(Path::new("/home/ana/.mp/lake/1234")));
/// assert_eq!(
///     location.quarantine_dir(Path::new("/home/ana")),
///     Path::new("/home/ana/.mp/lake/1234/_quarantine")
/// );
///
/// let bucket = StoreLocation::at("s3://team-lake/mixpanel");
/// assert_eq!(bucket.root(), None);
/// assert_eq!(bucket.to_string(), "s3://team-lake/mixpanel");
/// assert_eq!(bucket.quarantine_dir(Path::new("/home/ana")), Path::new("/home/ana/.mp/quarantine"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    root: Root,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    Folder(PathBuf),
    Url(Url),
}

impl StoreLocation {
    /// A store at an explicit place (`--store`, `MPD_STORE`, or `[mpd] store`): a folder, a
    /// `file://` URL (a folder too) or an object store URL (`s3://bucket/prefix`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let url = root.to_str().filter(|text| has_scheme(text)).and_then(|t| Url::parse(t).ok());
        match url {
            Some(url) if url.scheme() == "file" => match url.to_file_path() {
                Ok(path) => Self { root: Root::Folder(path) },
                Err(()) => Self { root: Root::Url(url) },
            },
            Some(url) => Self { root: Root::Url(url) },
            None => Self { root: Root::Folder(root) },
        }
    }

    /// The default store of a project: `<home>/.mp/lake/<project_id>/`.
    pub fn default_for_project(home: &Path, project_id: u64) -> Self {
        Self::at(home.join(".mp").join("lake").join(project_id.to_string()))
    }

    /// The store's folder; `None` for an object store.
    pub fn root(&self) -> Option<&Path> {
        match &self.root {
            Root::Folder(path) => Some(path),
            Root::Url(_) => None,
        }
    }

    /// How to open it.
    pub fn mode(&self) -> StoreMode {
        match &self.root {
            Root::Folder(path) => StoreMode::Persistent(path.clone()),
            Root::Url(url) => StoreMode::Url(url.clone()),
        }
    }

    /// The folder holding quarantine files of malformed lines: inside a folder store, and
    /// `<home>/.mp/quarantine` for an object store (the lines are the user's to read, locally).
    pub fn quarantine_dir(&self, home: &Path) -> PathBuf {
        match &self.root {
            Root::Folder(path) => path.join(QUARANTINE_DIR),
            Root::Url(_) => home.join(".mp").join("quarantine"),
        }
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            Root::Folder(path) => write!(f, "{}", path.display()),
            Root::Url(url) => f.write_str(url.as_str()),
        }
    }
}

/// `scheme://…` with a scheme of two letters or more (one letter is a Windows drive).
fn has_scheme(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        scheme.len() >= 2
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_dir_is_inside_a_folder_root() {
        let location = StoreLocation::at("/data/lake");
        assert_eq!(
            location.quarantine_dir(Path::new("/home/x")),
            Path::new("/data/lake").join(QUARANTINE_DIR)
        );
        assert_eq!(location.mode(), StoreMode::Persistent(PathBuf::from("/data/lake")));
    }

    #[test]
    fn urls_are_told_from_paths() {
        assert_eq!(StoreLocation::at("file:///data/lake").root(), Some(Path::new("/data/lake")));
        let s3 = StoreLocation::at("s3://bucket/some/prefix");
        assert_eq!(s3.root(), None);
        assert_eq!(s3.mode(), StoreMode::Url(Url::parse("s3://bucket/some/prefix").unwrap()));
        assert_eq!(StoreLocation::at("relative/dir").root(), Some(Path::new("relative/dir")));
        assert_eq!(StoreLocation::at("C://odd").root(), Some(Path::new("C://odd")));
    }
}
