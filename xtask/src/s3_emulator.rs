//! The S3 server the object-store tests run against: moto's standalone server (PyPI), which
//! honours conditional puts, installed in a virtualenv under the target folder and started on
//! a free port of 127.0.0.1 for the duration of a test run.
//!
//! The tests find it through the standard AWS variables (what a user's mpd reads too) plus
//! `MPD_TEST_S3_BUCKET`; without that variable they say loudly that they skipped. The same
//! virtualenv has the Python `deltalake` package, Polars and DuckDB (`MPD_TEST_PYTHON`), other
//! readers of the tables mpd writes to the bucket.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The bucket the tests use (each test writes under a prefix of its own).
const BUCKET: &str = "mpd-test";
/// The server; the Delta Lake readers the tests check mpd's tables with from the bucket
/// (`deltalake`, Polars, and DuckDB with its `delta` and `httpfs` extensions from PyPI, whose
/// versions must equal DuckDB's); and the Azure client that creates the Azure emulator's test
/// container.
const PACKAGES: [&str; 7] = [
    "moto[server]==5.2.6",
    "deltalake==1.6.6",
    "polars==2.1.0",
    "duckdb==1.5.5",
    "duckdb-extension-httpfs==1.5.5",
    "duckdb-extension-delta==1.5.5",
    "azure-storage-blob==12.31.1",
];

/// A running S3 server; stopped (the process this started, by its id) when dropped.
pub(crate) struct S3Emulator {
    child: Child,
    endpoint: String,
    /// The virtualenv's Python, which has the `deltalake` package.
    python: PathBuf,
}

impl S3Emulator {
    /// Installs (once) and starts the server, and creates the test bucket.
    pub(crate) fn start(target: &Path) -> Result<Self> {
        let venv = target.join("s3-emulator").join("venv");
        let python = crate::venv::python_with(&venv, &PACKAGES)?;
        let port = free_port()?;
        let log = std::fs::File::create(target.join("s3-emulator").join("server.log"))?;
        let child = Command::new(venv.join("bin").join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start moto_server")?;
        let emulator = Self { child, endpoint: format!("http://127.0.0.1:{port}"), python };
        wait_for(port)?;
        let create = format!(
            "import urllib.request as r; r.urlopen(r.Request('{}/{BUCKET}', method='PUT'))",
            emulator.endpoint
        );
        let status = Command::new(&emulator.python).args(["-c", &create]).status()?;
        if !status.success() {
            bail!("cannot create the test bucket on {}", emulator.endpoint);
        }
        Ok(emulator)
    }

    /// The virtualenv's Python.
    pub(crate) fn python(&self) -> &Path {
        &self.python
    }

    /// The variables the tests (and mpd) read.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "mpd-test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "mpd-test-secret".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("MPD_TEST_S3_BUCKET", BUCKET.to_owned()),
            ("MPD_TEST_PYTHON", self.python.display().to_string()),
        ]
    }
}

impl Drop for S3Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) fn wait_for(port: u16) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("moto_server did not listen on port {port} within 30 s")
}
