//! Page indexes kept in the session's metadata cache, so each query does not read them again.
//!
//! DataFusion 55's Parquet scan asks for a file's footer without its page index, and loads the
//! page index itself only when a filter can use it; the footer goes into the session's file
//! metadata cache, the page index never does. So every query with a filter on `event_name`
//! read and decoded the page index of every file it opened again (about 40 KB a file of the
//! bench's store; `strace` counted one read of each footer per process, one of each page
//! index per query). The scan's reader here asks for the page index with the footer, and the
//! cache keeps both: the scan then finds the page index loaded and reads nothing more
//! (docs/PERFORMANCE.md, "SQL"). The price: a scan without a filter, which never needed the
//! page index, now reads it too, once per file and session (on an object store, up to one
//! more ranged read a file); the cache's own size limit bounds what it keeps.
//!
//! The same reader reads a folder store's files itself ([`LocalFile`]).

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileScanConfig, FileScanConfigBuilder, ParquetFileReaderFactory, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricCategory, MetricType,
};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};

use super::local_reads::LocalFile;

/// Gives every Parquet scan of a plan a reader that loads the page index with the footer, and
/// that reads the files under `local_root` (a folder store's canonical root) itself.
#[derive(Debug, Default)]
pub(crate) struct PageIndexWithFooter {
    pub(crate) local_root: Option<PathBuf>,
}

impl PhysicalOptimizerRule for PageIndexWithFooter {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(scan) = with_page_index_reader(node.as_ref(), self.local_root.as_ref()) else {
                return Ok(Transformed::no(node));
            };
            Ok(Transformed::yes(scan))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "page_index_with_footer"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `node` with the page-index reader, when it is a Parquet scan with a reader of its own (as
/// deltalake's scans have: the one that uses the session's metadata cache).
fn with_page_index_reader(
    node: &dyn ExecutionPlan,
    local_root: Option<&PathBuf>,
) -> Option<Arc<dyn ExecutionPlan>> {
    let exec = node.downcast_ref::<DataSourceExec>()?;
    let config = exec.data_source().downcast_ref::<FileScanConfig>()?;
    let source = config.file_source().downcast_ref::<ParquetSource>()?;
    let inner = source.parquet_file_reader_factory()?;
    // A plan optimised twice wraps a reader twice, which only asks for the page index twice.
    let factory =
        ReadsPageIndexWithFooter { inner: Arc::clone(inner), local_root: local_root.cloned() };
    let source = source.clone().with_parquet_file_reader_factory(Arc::new(factory));
    let config = FileScanConfigBuilder::from(config.clone()).with_source(Arc::new(source)).build();
    Some(DataSourceExec::from_data_source(config))
}

/// The readers of `inner`, asking for the page index whenever they are asked for the footer,
/// and reading files under `local_root` themselves.
#[derive(Debug)]
struct ReadsPageIndexWithFooter {
    inner: Arc<dyn ParquetFileReaderFactory>,
    local_root: Option<PathBuf>,
}

impl ParquetFileReaderFactory for ReadsPageIndexWithFooter {
    fn create_reader(
        &self,
        partition_index: usize,
        partitioned_file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Box<dyn AsyncFileReader + Send>> {
        let location = &partitioned_file.object_meta.location;
        let local = self.local_root.as_deref().and_then(|root| LocalFile::under(root, location));
        // The bytes the scan reads itself count where DataFusion's reader counts them.
        let bytes_scanned = local.as_ref().map(|_| {
            MetricBuilder::new(metrics)
                .with_new_label("filename", location.to_string())
                .with_type(MetricType::Summary)
                .with_category(MetricCategory::Bytes)
                .counter("bytes_scanned", partition_index)
        });
        let inner = self.inner.create_reader(
            partition_index,
            partitioned_file,
            metadata_size_hint,
            metrics,
        )?;
        Ok(Box::new(PageIndexReader { inner, local, bytes_scanned }))
    }
}

struct PageIndexReader {
    inner: Box<dyn AsyncFileReader + Send>,
    local: Option<LocalFile>,
    bytes_scanned: Option<Count>,
}

impl AsyncFileReader for PageIndexReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        if let Some(local) = &mut self.local
            && let Ok(bytes) = local.read(range.clone())
        {
            self.bytes_scanned.iter().for_each(|count| count.add(bytes.len()));
            return futures::future::ready(Ok(bytes)).boxed();
        }
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        if let Some(local) = &mut self.local
            && let Ok(all) = local.read_all(&ranges)
        {
            let total = all.iter().map(Bytes::len).sum();
            self.bytes_scanned.iter().for_each(|count| count.add(total));
            return futures::future::ready(Ok(all)).boxed();
        }
        self.inner.get_byte_ranges(ranges)
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        // A file without a page index is read as before: `Optional` takes what is there.
        let options =
            options.cloned().unwrap_or_default().with_page_index_policy(PageIndexPolicy::Optional);
        async move { self.inner.get_metadata(Some(&options)).await }.boxed()
    }
}
