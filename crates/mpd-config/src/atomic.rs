//! Writing the config file so that it is never half-written and never world-readable.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Replaces `path` with `contents`: a temp file in the same directory (so the rename
/// cannot cross file systems) is written, synced, given mode 0600 and renamed over the
/// target. A symlinked config file (dotfile managers) is followed, not replaced.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let target = follow_symlink(path);
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir)?;

    let mut tmp = tempfile::Builder::new()
        .prefix(".config.toml.")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    restrict(tmp.as_file(), tmp.path())?;
    tmp.write_all(contents).map_err(|e| Error::io(tmp.path(), e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(&target).map_err(|e| Error::io(&target, e.error))?;
    tracing::debug!(path = %target.display(), "config file written");
    Ok(())
}

fn follow_symlink(path: &Path) -> PathBuf {
    let is_link = fs::symlink_metadata(path).map(|m| m.file_type().is_symlink()).unwrap_or(false);
    if is_link {
        // A dangling link cannot be canonicalized; writing through its path then replaces
        // the link itself, which is the best we can do.
        fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Error::io(dir, e))
}

#[cfg(unix)]
fn restrict(file: &fs::File, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
fn restrict(_file: &fs::File, _path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("exists").permissions().mode() & 0o777
    }

    #[test]
    fn creates_private_dir_and_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("a/b/config.toml");
        write_private(&path, b"x = 1\n").expect("write");
        assert_eq!(fs::read_to_string(&path).expect("read"), "x = 1\n");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            mode(&tmp.path().join("a/b")) & 0o077,
            0,
            "dir must not be group/world accessible"
        );
        let leftovers = fs::read_dir(tmp.path().join("a/b")).expect("ls").count();
        assert_eq!(leftovers, 1, "the temp file must be renamed away");
    }

    #[test]
    fn tightens_existing_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("config.toml");
        fs::write(&path, "old").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private(&path, b"new").expect("write");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(fs::read_to_string(&path).expect("read"), "new");
    }

    #[test]
    fn writes_through_symlink() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let real = tmp.path().join("real.toml");
        let link = tmp.path().join("link.toml");
        fs::write(&real, "old").expect("write");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        write_private(&link, b"new").expect("write");
        assert!(fs::symlink_metadata(&link).expect("stat").file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real).expect("read"), "new");
    }
}
