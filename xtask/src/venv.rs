//! Python virtualenvs under the target folder, for the tools the benchmarks and tests run
//! (DuckDB, the S3 server, the Delta Lake and Azure clients).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

/// The Python of a virtualenv at `venv` holding `packages`, made (or remade when the list
/// changed) with pip.
pub(crate) fn python_with(venv: &Path, packages: &[&str]) -> Result<PathBuf> {
    let python = venv.join("bin").join("python");
    let marker = venv.join(".installed");
    let wanted = packages.join(" ");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    let status = Command::new("python3").args(["-m", "venv"]).arg(venv).status()?;
    if !status.success() {
        bail!("python3 -m venv failed");
    }
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(packages)
        .status()?;
    if !status.success() {
        bail!("pip install {wanted} failed");
    }
    std::fs::write(&marker, wanted)?;
    Ok(python)
}
