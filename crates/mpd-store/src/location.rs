//! Where a project's store lives on disk and how its side folders are laid out.

use std::path::{Path, PathBuf};

/// Name of the folder, inside the store root, that keeps malformed input lines.
pub const QUARANTINE_DIR: &str = "_quarantine";
/// Name of the folder, inside the store root, holding the store's own files (the write lock).
pub const MPD_DIR: &str = "_mpd";

/// Where a project's store lives on disk.
///
/// ```
/// use std::path::Path;
/// use mpd_store::StoreLocation;
///
/// let location = StoreLocation::default_for_project(Path::new("/home/ana"), 1234);
/// assert_eq!(location.root(), Path::new("/home/ana/.mp/lake/1234"));
/// assert_eq!(location.quarantine_dir(), Path::new("/home/ana/.mp/lake/1234/_quarantine"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    root: PathBuf,
}

impl StoreLocation {
    /// A store rooted at an explicit folder (`--store`, `MPD_STORE`, or `[mpd] store`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The default store of a project: `<home>/.mp/lake/<project_id>/`.
    pub fn default_for_project(home: &Path, project_id: u64) -> Self {
        Self::at(home.join(".mp").join("lake").join(project_id.to_string()))
    }

    /// The store's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder holding quarantine files of malformed lines.
    pub fn quarantine_dir(&self) -> PathBuf {
        self.root.join(QUARANTINE_DIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_dir_is_inside_the_root() {
        let location = StoreLocation::at("/data/lake");
        assert_eq!(location.quarantine_dir(), Path::new("/data/lake").join(QUARANTINE_DIR));
    }
}
