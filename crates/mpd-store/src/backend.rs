//! Where a store's bytes live: a local folder, an object store (`s3://bucket/prefix`), or a
//! process-private in-memory object store.
//!
//! Every table is opened through one shared root object store (`with_storage_backend`), so the
//! in-memory mode works: deltalake would otherwise build a fresh, empty memory store per table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use deltalake::logstore::object_store::local::LocalFileSystem;
use deltalake::logstore::object_store::memory::InMemory;
use deltalake::logstore::object_store::path::Path as ObjectPath;
use deltalake::logstore::object_store::{self, ObjectStore, ObjectStoreExt};
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::{StreamExt, TryStreamExt};
use url::Url;

use crate::{Error, Result};

/// The folder name Delta gives a table's log.
pub(crate) const DELTA_LOG: &str = "_delta_log";

/// Where the store keeps its bytes.
pub(crate) enum Location {
    /// A folder that outlives the process.
    Folder(PathBuf),
    /// A temporary folder, removed when the store closes or drops.
    Temp(tempfile::TempDir),
    /// Nothing on disk.
    Memory,
    /// An object store; the URL ends with `/`.
    Object(Url),
}

/// The store's root object store and the URL its tables hang from.
pub(crate) struct Backend {
    pub(crate) location: Location,
    root_store: Arc<dyn ObjectStore>,
    /// Ends with `/`; a table's URL is `root_url/<name>/`.
    root_url: Url,
}

impl Backend {
    pub(crate) fn new(location: Location, options: &StoreOptions) -> Result<Self> {
        let path = match &location {
            Location::Folder(path) => path.clone(),
            Location::Temp(dir) => dir.path().to_path_buf(),
            Location::Memory => return Ok(Self::memory()),
            Location::Object(url) => return Self::object(url.clone(), options),
        };
        std::fs::create_dir_all(&path)
            .map_err(|source| Error::Io { path: path.clone(), source })?;
        let absolute = std::fs::canonicalize(&path)
            .map_err(|source| Error::Io { path: path.clone(), source })?;
        let root_url = Url::from_directory_path(&absolute).map_err(|()| Error::Io {
            path: absolute.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the store folder cannot be expressed as a file URL",
            ),
        })?;
        Ok(Self { location, root_store: Arc::new(LocalFileSystem::new()), root_url })
    }

    fn memory() -> Self {
        // A unique root per store keeps two in-memory stores of one process from sharing
        // DataFusion object-store registrations keyed by URL.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let root_url = Url::parse(&format!("memory:///mpd-{}-{id}/", std::process::id()))
            .expect("a memory URL built from digits is valid");
        Self { location: Location::Memory, root_store: Arc::new(InMemory::new()), root_url }
    }

    /// A store in the bucket or container (and under the prefix) of `url`, with the
    /// credentials and options of the cloud's own environment variables (`AWS_ACCESS_KEY_ID`,
    /// `AWS_REGION`, `AWS_ENDPOINT_URL` for S3-compatible servers, `AWS_ALLOW_HTTP`, ...;
    /// `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_USE_EMULATOR`,
    /// ...).
    fn object(url: Url, options: &StoreOptions) -> Result<Self> {
        let mut root_url = url;
        if !root_url.path().ends_with('/') {
            root_url.set_path(&format!("{}/", root_url.path()));
        }
        let root_store = object_store_for(&root_url, options)?;
        Ok(Self { location: Location::Object(root_url.clone()), root_store, root_url })
    }

    /// The local folder of the store, if it has one.
    pub(crate) fn root_path(&self) -> Option<&Path> {
        match &self.location {
            Location::Folder(path) => Some(path),
            Location::Temp(dir) => Some(dir.path()),
            Location::Memory | Location::Object(_) => None,
        }
    }

    pub(crate) fn table_url(&self, table: &str) -> Url {
        self.root_url.join(&format!("{table}/")).expect("validated table names are URL-safe")
    }

    /// An unloaded handle on the table (no I/O).
    pub(crate) fn table(&self, table: &str) -> Result<DeltaTable> {
        let url = self.table_url(table);
        DeltaTableBuilder::from_url(url.clone())
            .map(|builder| builder.with_storage_backend(self.root_store.clone(), url))
            .and_then(DeltaTableBuilder::build)
            .map_err(|source| Error::delta(table, source))
    }

    fn prefix(&self, child: &str) -> ObjectPath {
        let root = object_store::path::Path::from_url_path(self.root_url.path())
            .unwrap_or_else(|_| ObjectPath::from(""));
        root.parts().chain(ObjectPath::from(child).parts()).collect()
    }

    fn io_path(&self, child: &str) -> PathBuf {
        match self.root_path() {
            Some(root) => root.join(child),
            None => PathBuf::from(self.table_url(child).as_str()),
        }
    }

    /// Whether `<table>/_delta_log/` holds anything.
    pub(crate) async fn has_delta_log(&self, table: &str) -> Result<bool> {
        // One metadata lookup answers for nearly every table; listing the log (which grows
        // with history) is left for the rest.
        for marker in ["_last_checkpoint", "00000000000000000000.json"] {
            if self.exists(&format!("{table}/{DELTA_LOG}/{marker}")).await? {
                return Ok(true);
            }
        }
        let log = self.prefix(&format!("{table}/{DELTA_LOG}"));
        match self.root_store.list(Some(&log)).next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(object_store::Error::NotFound { .. })) => Ok(false),
            Some(Err(error)) => Err(self.io_error(table, error)),
        }
    }

    /// Whether the commit `version` of `table` is in its log.
    pub(crate) async fn has_commit(&self, table: &str, version: u64) -> Result<bool> {
        self.exists(&format!("{table}/{DELTA_LOG}/{version:020}.json")).await
    }

    /// The bytes of `child` (a path under the store's root); None when there is none.
    pub(crate) async fn read(&self, child: &str) -> Result<Option<bytes::Bytes>> {
        match self.root_store.get(&self.prefix(child)).await {
            Ok(found) => found.bytes().await.map(Some).map_err(|error| self.io_error(child, error)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(self.io_error(child, error)),
        }
    }

    /// Writes `child` whole, replacing it (a reader sees the old or the new bytes).
    pub(crate) async fn write(&self, child: &str, bytes: bytes::Bytes) -> Result<()> {
        self.root_store
            .put(&self.prefix(child), bytes.into())
            .await
            .map(|_| ())
            .map_err(|error| self.io_error(child, error))
    }

    /// Deletes `child`; one already gone is no error.
    pub(crate) async fn delete(&self, child: &str) -> Result<()> {
        match self.root_store.delete(&self.prefix(child)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(self.io_error(child, error)),
        }
    }

    async fn exists(&self, child: &str) -> Result<bool> {
        match self.root_store.head(&self.prefix(child)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(self.io_error(child, error)),
        }
    }

    /// Names of the top-level folders of the store (candidates for tables).
    pub(crate) async fn folders(&self) -> Result<Vec<String>> {
        let root = self.prefix("");
        let listing = match self.root_store.list_with_delimiter(Some(&root)).await {
            Ok(listing) => listing,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(error) => return Err(self.io_error("", error)),
        };
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|prefix| prefix.filename().map(str::to_owned))
            .collect())
    }

    /// Removes every byte of a table.
    pub(crate) async fn remove_table(&self, table: &str) -> Result<()> {
        if let Some(root) = self.root_path() {
            let path = root.join(table);
            return std::fs::remove_dir_all(&path).map_err(|source| Error::Io { path, source });
        }
        let prefix = self.prefix(table);
        let locations = self.root_store.list(Some(&prefix)).map_ok(|meta| meta.location).boxed();
        self.root_store
            .delete_stream(locations)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|error| self.io_error(table, error))?;
        Ok(())
    }

    fn io_error(&self, child: &str, error: object_store::Error) -> Error {
        Error::Io { path: self.io_path(child), source: std::io::Error::other(error) }
    }

    /// Removes a temporary folder now (rather than at drop) so failures surface.
    pub(crate) fn close(self) -> Result<()> {
        match self.location {
            Location::Temp(dir) => {
                let path = dir.path().to_path_buf();
                dir.close().map_err(|source| Error::Io { path, source })
            }
            Location::Folder(_) | Location::Memory | Location::Object(_) => Ok(()),
        }
    }
}

/// Delta's default log store for the URL's scheme: each commit is one conditional put of the
/// next version's file (`If-None-Match` on S3 and Azure), so two writers can never both write a version;
/// the loser's commit fails (`Error::ConcurrentCommit`). No lock table (DynamoDB) is needed.
#[cfg(any(feature = "s3", feature = "azure"))]
fn register_conditional_put_log_store(url: &Url) {
    use deltalake::logstore::{LogStore, LogStoreFactory, StorageConfig, default_logstore};

    struct ConditionalPut;
    impl LogStoreFactory for ConditionalPut {
        fn with_options(
            &self,
            prefixed_store: deltalake::logstore::ObjectStoreRef,
            root_store: deltalake::logstore::ObjectStoreRef,
            location: &Url,
            options: &StorageConfig,
        ) -> deltalake::DeltaResult<Arc<dyn LogStore>> {
            Ok(default_logstore(prefixed_store, root_store, location, options))
        }
    }

    if let Ok(scheme) = Url::parse(&format!("{}://", url.scheme())) {
        deltalake::logstore::logstore_factories()
            .entry(scheme)
            .or_insert_with(|| Arc::new(ConditionalPut));
    }
}

/// Options of an object store over its environment variables: object_store's configuration
/// keys (`aws_endpoint`, `azure_storage_account_name`, ...) and their values.
pub type StoreOptions = std::collections::BTreeMap<String, String>;

/// The object store of a store URL's scheme, built from the environment, then `options`.
#[cfg_attr(
    not(any(feature = "s3", feature = "azure")),
    allow(unused_variables, reason = "without a cloud feature no option is read")
)]
pub(crate) fn object_store_for(url: &Url, options: &StoreOptions) -> Result<Arc<dyn ObjectStore>> {
    let unsupported = |why: String| Error::UnsupportedStore { url: url.to_string(), why };
    let unknown =
        |key: &str| unsupported(format!("unknown option `{key}` for a {} store", url.scheme()));
    match url.scheme() {
        #[cfg(feature = "s3")]
        "s3" | "s3a" => {
            register_conditional_put_log_store(url);
            let mut builder =
                ::object_store::aws::AmazonS3Builder::from_env().with_url(url.as_str());
            for (key, value) in options {
                builder = builder.with_config(key.parse().map_err(|_| unknown(key))?, value);
            }
            let store = builder.build().map_err(|e| unsupported(e.to_string()))?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "s3"))]
        "s3" | "s3a" => Err(unsupported("this mpd was built without the `s3` feature".to_owned())),
        #[cfg(feature = "azure")]
        "az" | "abfs" | "abfss" | "adl" | "azure" => {
            register_conditional_put_log_store(url);
            let mut builder =
                ::object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url.as_str());
            for (key, value) in options {
                builder = builder.with_config(key.parse().map_err(|_| unknown(key))?, value);
            }
            let store = builder.build().map_err(|e| unsupported(e.to_string()))?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "azure"))]
        "az" | "abfs" | "abfss" | "adl" | "azure" => {
            Err(unsupported("this mpd was built without the `azure` feature".to_owned()))
        }
        "gs" => {
            Err(unsupported("gs:// stores are not supported yet (s3:// and az:// are)".to_owned()))
        }
        other => Err(unsupported(format!("unknown scheme `{other}`"))),
    }
}
