//! Where a project's store lives on disk and how its side folders are laid out.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Name of the folder, inside the store root, that keeps malformed input lines.
pub const QUARANTINE_DIR: &str = "_quarantine";

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

    /// Creates the quarantine folder if needed and returns it.
    pub fn ensure_quarantine_dir(&self) -> Result<PathBuf> {
        let dir = self.quarantine_dir();
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_dir_is_created_inside_the_root() {
        let temp = std::env::temp_dir().join(format!("mpd-store-test-{}", std::process::id()));
        let location = StoreLocation::at(&temp);
        let dir = location.ensure_quarantine_dir().expect("create");
        assert!(dir.is_dir());
        assert!(dir.starts_with(&temp));
        std::fs::remove_dir_all(&temp).expect("cleanup");
    }

    #[test]
    fn io_error_names_the_path() {
        let file = std::env::temp_dir().join(format!("mpd-store-file-{}", std::process::id()));
        std::fs::write(&file, b"not a folder").expect("write");
        let err =
            StoreLocation::at(&file).ensure_quarantine_dir().expect_err("a file is in the way");
        assert!(err.to_string().contains(&file.display().to_string()), "{err}");
        std::fs::remove_file(&file).expect("cleanup");
    }
}
