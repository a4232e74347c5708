//! The Azure Blob server the object-store tests run against: Azurite (npm), installed under the
//! target folder and started on a free port of 127.0.0.1 for the duration of a test run, with
//! its well-known development account (public, documented by Microsoft: not a secret).
//!
//! The tests find it through the variables a user's mpd reads too (`AZURE_STORAGE_*`,
//! `AZURITE_BLOB_STORAGE_URL`) plus `MPD_TEST_AZURE_CONTAINER`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

const CONTAINER: &str = "mpd-test";
const PACKAGE: &str = "azurite@3.35.0";
const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's fixed development key.
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite; stopped (the process this started, by its id) when dropped.
pub(crate) struct AzureEmulator {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl AzureEmulator {
    /// Installs (once) and starts Azurite, and creates the test container with `python` (a
    /// Python with the `azure-storage-blob` package).
    pub(crate) fn start(target: &Path, python: &Path) -> Result<Self> {
        let dir = target.join("azure-emulator");
        let binary = install(&dir)?;
        let port = crate::s3_emulator::free_port()?;
        let data = tempfile::tempdir()?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let child = Command::new(binary)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--skipApiVersionCheck",
            ])
            .arg("--location")
            .arg(data.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start azurite-blob")?;
        let emulator = Self { child, url: format!("http://127.0.0.1:{port}"), _data: data };
        crate::s3_emulator::wait_for(port)?;
        let create = format!(
            "from azure.storage.blob import BlobServiceClient as C; C.from_connection_string(\
             'DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};\
             BlobEndpoint={}/{ACCOUNT};').create_container('{CONTAINER}')",
            emulator.url
        );
        let status = Command::new(python).args(["-c", &create]).status()?;
        if !status.success() {
            bail!("cannot create the test container on {}", emulator.url);
        }
        Ok(emulator)
    }

    /// The variables the tests (and mpd) read.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT.to_owned()),
            ("AZURE_STORAGE_ACCOUNT_KEY", KEY.to_owned()),
            ("AZURE_STORAGE_USE_EMULATOR", "true".to_owned()),
            ("AZURITE_BLOB_STORAGE_URL", self.url.clone()),
            ("MPD_TEST_AZURE_CONTAINER", CONTAINER.to_owned()),
        ]
    }
}

impl Drop for AzureEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn install(dir: &Path) -> Result<PathBuf> {
    let binary = dir.join("node_modules").join(".bin").join("azurite-blob");
    let marker = dir.join(".installed");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(PACKAGE) && binary.exists() {
        return Ok(binary);
    }
    std::fs::create_dir_all(dir)?;
    let status = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .arg(PACKAGE)
        .status()
        .context("cannot run npm")?;
    if !status.success() {
        bail!("npm install {PACKAGE} failed");
    }
    std::fs::write(&marker, PACKAGE)?;
    Ok(binary)
}
