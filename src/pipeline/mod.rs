//! Everything that talks to Apache DataFusion: the session, reading the corpus, running the
//! detection UDFs over it and streaming the results into [`ScanStats`].
//!
//! Every command reads through [`read`]: one loop that resolves the inputs, checks their
//! columns, plans each file and accounts for every row. Each input file is one DataFrame:
//!
//! ```sql
//! SELECT CAST(<id> AS VARCHAR)      AS __debias_id,     -- when the input has an id column
//!        <text>                     AS __debias_text,
//!        <source>                   AS __debias_source, -- or debias_url_domain(<url>)
//!        NOT coalesce(octet_length(<text>) <= <max_document_bytes>, true) AS __debias_too_large,
//!        coalesce(<where>, false)   AS __debias_selected,
//!        CASE WHEN __debias_selected AND NOT __debias_too_large
//!             THEN debias_hits(<text>) END AS __debias_hits
//! FROM <file>
//! ```
//!
//! Rows are never filtered inside DataFusion: every row read comes out, so rows can be
//! numbered for `FILE#ROW` ids and every row is accounted for (scanned, excluded by `where`,
//! or null text). A file with an id column may be split into several partitions that run
//! in parallel; a file without one is read as one ordered stream, and its rows are then
//! spread over the cores by the UDFs themselves (rayon). Results are folded into mergeable
//! counts, so the report does not depend on the split; so is the sample of an `embedding:`
//! section, which a scan takes in the same read and embeds at the end.

pub mod apply;
pub mod attributes;
#[cfg(feature = "distributed")]
pub mod cluster;
pub mod embed;
pub mod input;
pub mod output;
pub(crate) mod read;
pub mod resume;
pub mod scan;
pub mod store;
pub mod udf;

use std::sync::Arc;

use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::detect::Detector;
use crate::error::{Error, Result};

pub use scan::scan;

/// Options of a scan that are not in the rules: resources and outputs.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Worker threads (DataFusion partitions and the rayon pool). Default: the number of cores.
    pub threads: usize,
    /// Memory limit of DataFusion's operators, in bytes.
    pub memory_limit: Option<usize>,
    /// Whether a file with an id column may be split into several partitions.
    pub repartition: bool,
    /// Smallest file size that is split when `repartition` is on.
    pub repartition_min_bytes: usize,
    /// Where to write per-document attributes, when wanted.
    pub attributes: Option<attributes::AttributesOutput>,
    /// Reports progress (for a progress bar).
    pub progress: Option<Arc<dyn Progress>>,
    /// Read columns with the types the files store them in (for `apply`, which writes them out),
    /// not as the faster string views.
    pub keep_types: bool,
    /// A work directory where each input file's counts are saved once it is scanned, and read
    /// back (instead of scanning the file again) by a later scan with the same rules.
    pub resume: Option<std::path::PathBuf>,
    /// The Ballista scheduler (`df://HOST:PORT`) to run the scan on, instead of this machine.
    pub cluster: Option<String>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: default_threads(),
            memory_limit: None,
            repartition: true,
            repartition_min_bytes: 10 * 1024 * 1024,
            attributes: None,
            progress: None,
            resume: None,
            cluster: None,
            keep_types: false,
        }
    }
}

/// The number of cores available to this process.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Receives progress of a long scan.
pub trait Progress: Send + Sync + std::fmt::Debug {
    /// Names the phase that the next [`Progress::start`] begins ("pass 1/2: counting").
    fn phase(&self, _name: &str) {}
    /// Called once, before the first row, with the total size of the input files.
    fn start(&self, files: usize, bytes: u64);
    /// Called after each batch with the documents and text bytes it held.
    fn batch(&self, rows: u64, text_bytes: u64);
    /// Called once at the end, whether the scan succeeded or not.
    fn finish(&self) {}
}

pub use crate::report::stats::ScanOutcome;

/// A DataFusion session with the debias UDFs registered.
pub fn session(
    detector: Arc<Detector>,
    opts: &ScanOptions,
    ordered: bool,
) -> Result<SessionContext> {
    let threads = opts.threads.max(1);
    let config = SessionConfig::new()
        .with_target_partitions(if ordered { 1 } else { threads })
        .with_repartition_file_scans(!ordered && opts.repartition)
        .with_repartition_file_min_size(opts.repartition_min_bytes)
        .with_batch_size(8192)
        .with_information_schema(false)
        // With `keep_types`, Parquet strings come out as the file stores them (Utf8, LargeUtf8),
        // not as views: `apply` writes the input's columns with their types, and files of
        // different formats agree. A scan reads views, which are cheaper to decode.
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            !opts.keep_types,
        );
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = opts.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let runtime = runtime
        .build_arc()
        .map_err(|e| Error::bug_in("DataFusion runtime", e))?;
    let mut ctx = SessionContext::new_with_config_rt(config, runtime);
    udf::register(&mut ctx, detector).map_err(|e| Error::bug_in("registering UDFs", e))?;
    Ok(ctx)
}

pub use crate::rules::sql::check_sql_predicate;

/// Sizes rayon's global pool, which the detection UDFs use to split large batches. The pool is
/// process-wide: the first scan of a process sets its size to its `threads`.
fn init_rayon(threads: usize) {
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("debias-detect-{i}"))
        .build_global();
}

/// The tokio runtime DataFusion runs on (and rayon's pool, sized once per process).
fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    init_rayon(threads);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("debias-io")
        .enable_all()
        .build()
        .map_err(|e| Error::bug_in("tokio runtime", e))
}
