//! The Python-driven suites: the Python module's tests, then `mpd mcp` under the official MCP
//! client. The module's suite: the module built by the same cargo build as the rest of the
//! suite (the workspace's targets, so the dependencies are the artifacts the tests already
//! built: a build of `mpd-python` alone would unify other features and compile DataFusion a
//! second time), laid out as the `mpd` package under the target folder, then pytest against
//! the mock server from a virtualenv with the engines the tests hand results to (Polars,
//! pandas, pyarrow, DuckDB). `pip install ./crates/mpd-python` (maturin) is what users run;
//! the package it builds holds the same files.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{Runner, cargo, project_root};

const PACKAGES: [&str; 6] = [
    "pytest==9.2.0",
    "polars==2.1.0",
    "pandas==3.1.1",
    "pyarrow==26.0.1",
    "duckdb==1.5.5",
    "mcp==2.3.0",
];

pub(crate) fn run(runner: &Runner, target: &Path) -> Result<()> {
    let crate_dir = project_root().join("crates").join("mpd-python");
    let venv = target.join("python-test").join("venv");
    let python = if runner.explain() {
        venv.join("bin").join("python")
    } else {
        crate::venv::python_with(&venv, &PACKAGES).context("cannot make the Python test venv")?
    };
    runner.run(cargo().args(["build", "--quiet", "--workspace", "--lib", "--bins", "--tests"]))?;
    let site = target.join("python-test").join("site");
    if !runner.explain() {
        install_package(&crate_dir, target, &site)?;
    }
    let mut pytest = Command::new(&python);
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(&crate_dir)
        .env("PYTHONPATH", &site)
        .env("MPD_TEST_MOCK", target.join("debug").join("mpd-mock"));
    runner.run(&mut pytest)?;
    // `mpd mcp` driven by the official MCP client (the `mcp` package) over stdio.
    let mut mcp = Command::new(&python);
    mcp.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(project_root().join("crates").join("mpd-mcp"))
        .env("MPD_TEST_BIN", target.join("debug").join("mpd"))
        .env("MPD_TEST_MOCK", target.join("debug").join("mpd-mock"));
    runner.run(&mut mcp)
}

/// `site/mpd/`: the Python sources and the built extension as `_mpd.abi3.so`.
fn install_package(crate_dir: &Path, target: &Path, site: &Path) -> Result<()> {
    let package = site.join("mpd");
    let _ = std::fs::remove_dir_all(&package);
    std::fs::create_dir_all(&package)?;
    for entry in std::fs::read_dir(crate_dir.join("python").join("mpd"))? {
        let path = entry?.path();
        let keep = path.extension().is_some_and(|e| e == "py" || e == "pyi" || e == "typed");
        if keep && let Some(name) = path.file_name() {
            std::fs::copy(&path, package.join(name))?;
        }
    }
    let built = target.join("debug").join("lib_mpd.so");
    std::fs::copy(&built, package.join("_mpd.abi3.so"))
        .with_context(|| format!("cannot copy the built module {}", built.display()))?;
    Ok(())
}
