//! Reading objects of a bucket that is not a store: JSON pipelines files that Mixpanel delivers
//! to S3 (`s3://bucket/<project_id>/mp_master_event/YYYY/MM/DD/…`), listed and fetched with the
//! same client and credentials as an S3 store.

use std::sync::Arc;

use futures::TryStreamExt as _;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _};
use url::Url;

use crate::{Error, Result};

/// A bucket opened from a URL (`s3://bucket/prefix`): keys are relative to the bucket.
#[derive(Clone)]
pub struct Bucket {
    url: Url,
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

/// One object: its key in the bucket and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The key, without a leading `/`.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// The entity tag, which changes when the object is rewritten (when the store gives one).
    pub etag: Option<String>,
}

impl Bucket {
    /// The bucket of `url`, with the cloud's own environment variables (as an S3 store).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedStore`] for a scheme this build cannot read.
    pub fn open(url: &Url) -> Result<Self> {
        Self::open_with_options(url, &crate::StoreOptions::new())
    }

    /// [`Bucket::open`] with options over the environment's (as [`crate::Store::open_with_options`]).
    ///
    /// # Errors
    ///
    /// As [`Bucket::open`], and for an option the object store does not know.
    pub fn open_with_options(url: &Url, options: &crate::StoreOptions) -> Result<Self> {
        Ok(Self { url: url.clone(), store: crate::backend::object_store_for(url, options)? })
    }

    /// The URL's path inside the bucket, without the surrounding `/`.
    #[must_use]
    pub fn prefix(&self) -> &str {
        self.url.path().trim_matches('/')
    }

    /// The URL of `key`.
    #[must_use]
    pub fn url_of(&self, key: &str) -> String {
        format!("{}://{}/{key}", self.url.scheme(), self.url.host_str().unwrap_or_default())
    }

    /// Every object under `prefix` (a folder-like key), at any depth.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the listing fails (credentials, network, a missing bucket).
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let location = ObjectPath::from(prefix);
        let listed: Vec<_> = self
            .store
            .list(Some(&location))
            .try_collect()
            .await
            .map_err(|e| self.error(prefix, e))?;
        Ok(listed
            .into_iter()
            .map(|meta| ObjectInfo {
                key: meta.location.to_string(),
                size: meta.size,
                etag: meta.e_tag,
            })
            .collect())
    }

    /// The folder-like keys right under `prefix` (one level).
    ///
    /// # Errors
    ///
    /// As [`Bucket::list`].
    pub async fn folders(&self, prefix: &str) -> Result<Vec<String>> {
        let location = ObjectPath::from(prefix);
        let listing = self
            .store
            .list_with_delimiter(Some(&location))
            .await
            .map_err(|e| self.error(prefix, e))?;
        Ok(listing.common_prefixes.iter().map(ToString::to_string).collect())
    }

    /// The bytes of `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the object cannot be read.
    pub async fn get(&self, key: &str) -> Result<bytes::Bytes> {
        let location = ObjectPath::from(key);
        let object = self.store.get(&location).await.map_err(|e| self.error(key, e))?;
        object.bytes().await.map_err(|e| self.error(key, e))
    }

    fn error(&self, key: &str, error: object_store::Error) -> Error {
        Error::Io { path: self.url_of(key).into(), source: std::io::Error::other(error) }
    }
}
