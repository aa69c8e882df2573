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
//!        coalesce(<where>, false)   AS __debias_selected,
//!        CASE WHEN __debias_selected THEN debias_hits(<text>) END AS __debias_hits
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
pub mod embed;
pub mod input;
pub mod output;
pub(crate) mod read;
pub mod udf;

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::{StreamExt, TryStreamExt};

use crate::detect::{Detector, DocHits};
use crate::error::{Error, InputError, Result};
use crate::report::stats::{ScanStats, Scratch};
use crate::rules::RuleSet;
use input::InputFile;
use read::{PlanColumns, resolve_inputs};

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
        .with_information_schema(false);
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = opts.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let runtime = runtime
        .build_arc()
        .map_err(|e| Error::Internal(format!("DataFusion runtime: {e}")))?;
    let mut ctx = SessionContext::new_with_config_rt(config, runtime);
    udf::register(&mut ctx, detector)
        .map_err(|e| Error::Internal(format!("registering UDFs: {e}")))?;
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
        .map_err(|e| Error::Internal(format!("tokio runtime: {e}")))
}

/// Scans the corpus named by `inputs` (files, directories, globs) with `rules`: one read of the
/// input, with the sample of the `embedding:` section (when the rules have one) taken on the way
/// and embedded at the end.
pub fn scan(rules: &RuleSet, inputs: &[String], opts: &ScanOptions) -> Result<ScanOutcome> {
    let started = Instant::now();
    let threads = opts.threads.max(1);
    let (files, empty_files) = resolve_inputs(rules, inputs)?;
    if let Some(p) = &opts.progress {
        p.phase("scanning");
        p.start(files.len(), files.iter().map(|f| f.size).sum());
    }
    let runtime = runtime(threads)?;
    let ordered = session(rules.detector.clone(), opts, true)?;
    let parallel = session(rules.detector.clone(), opts, false)?;
    let sessions = read::Sessions {
        ordered: &ordered,
        parallel: (opts.repartition && threads > 1).then_some(&parallel),
    };
    let writer = match &opts.attributes {
        Some(a) => Some(Arc::new(a.begin()?)),
        None => None,
    };
    let found = runtime.block_on(scan_files(sessions, rules, &files, opts, writer.clone()))?;
    if let (Some(w), Some(a)) = (writer, &opts.attributes) {
        let w = Arc::try_unwrap(w)
            .map_err(|_| Error::Internal("attributes writer still in use".into()))?;
        a.finish(w)?;
    }
    if found.stats.rows.read == 0 {
        return Err(Error::Input(InputError {
            path: None,
            line: None,
            message: format!(
                "the input has no rows ({} file(s) read, all without rows)",
                files.len()
            ),
            help: Some(
                "check the input paths; a CSV file needs a header line and at least one row".into(),
            ),
        }));
    }
    let embedding = match (&rules.embedding, found.sample) {
        (Some(er), Some(sample)) => Some(embed::analyze(
            rules,
            er,
            sample,
            found.stats.documents,
            opts.progress.as_ref(),
        )?),
        _ => None,
    };
    Ok(ScanOutcome {
        stats: found.stats,
        files,
        empty_files,
        elapsed: started.elapsed(),
        threads,
        partitions: found.partitions,
        embedding,
    })
}

/// What the read of a scan found: the counts, and the embedding sample when one is taken.
struct Found {
    stats: ScanStats,
    sample: Option<embed::Sample<embed::InputOrder>>,
    /// DataFusion partitions read.
    partitions: usize,
}

impl Found {
    fn new(rules: &RuleSet) -> Self {
        Found {
            stats: ScanStats::new(&rules.detector),
            sample: rules.embedding.as_ref().map(embed::Sample::new),
            partitions: 0,
        }
    }

    /// Adds what another part of the input found.
    fn merge(&mut self, other: Found, rules: &RuleSet) {
        self.stats.merge(other.stats, rules.report.examples);
        if let (Some(s), Some(o)) = (&mut self.sample, other.sample) {
            s.merge(o);
        }
        self.partitions += other.partitions;
    }
}

/// Scans `files`, a few at a time: each file's partitions run concurrently, and so do files.
async fn scan_files(
    sessions: read::Sessions<'_>,
    rules: &RuleSet,
    files: &[InputFile],
    opts: &ScanOptions,
    writer: Option<Arc<attributes::Writer>>,
) -> Result<Found> {
    let per_file = futures::stream::iter(files.iter().enumerate())
        .map(|(i, f)| scan_file(sessions, rules, f, i, opts, writer.clone()))
        .buffer_unordered(opts.threads.clamp(1, 4));
    let mut total = Found::new(rules);
    let mut per_file = std::pin::pin!(per_file);
    while let Some(found) = per_file.try_next().await? {
        total.merge(found, rules);
    }
    Ok(total)
}

/// Scans file `f`: its partitions in parallel, each folded on its own, merged.
async fn scan_file(
    sessions: read::Sessions<'_>,
    rules: &RuleSet,
    f: &InputFile,
    file_index: usize,
    opts: &ScanOptions,
    writer: Option<Arc<attributes::Writer>>,
) -> Result<Found> {
    let wanted = read::Wanted {
        hits: true,
        ..read::Wanted::default()
    };
    let streams = read::partitions(sessions, rules, f, &wanted).await?;
    let tasks = streams.into_iter().enumerate().map(|(part, stream)| {
        let part_writer = writer.as_ref().map(|w| w.part(file_index, part));
        let fold = Partition::new(rules, f, (file_index, part));
        scan_partition(stream, fold, part_writer, opts.progress.clone())
    });
    let mut total = Found::new(rules);
    for r in futures::future::join_all(tasks.map(tokio::spawn)).await {
        let found = r.map_err(|e| Error::Internal(format!("scan task failed: {e}")))??;
        total.merge(found, rules);
    }
    Ok(total)
}

/// Folds one partition of a file's plan (and writes its per-document attributes).
async fn scan_partition(
    mut stream: datafusion::execution::SendableRecordBatchStream,
    mut fold: Partition,
    writer: Option<Result<attributes::PartWriter>>,
    progress: Option<Arc<dyn Progress>>,
) -> Result<Found> {
    let mut writer = writer.transpose()?;
    while let Some(batch) = read::next_batch(&mut stream, &fold.file).await? {
        let (docs, bytes) = fold.batch(&batch, writer.as_mut())?;
        if let Some(p) = &progress {
            p.batch(docs, bytes);
        }
    }
    if let Some(w) = writer {
        w.finish()?;
    }
    Ok(Found {
        stats: fold.stats,
        sample: fold.sample,
        partitions: 1,
    })
}

/// The fold of one partition of a file into [`ScanStats`] and the embedding sample.
struct Partition {
    rules: RuleSet,
    file: InputFile,
    /// (file, partition) in the input, for the sample's order.
    at: (usize, usize),
    /// Rows of the partition read so far.
    row: u64,
    stats: ScanStats,
    sample: Option<embed::Sample<embed::InputOrder>>,
    scratch: Scratch,
}

impl Partition {
    fn new(rules: &RuleSet, f: &InputFile, at: (usize, usize)) -> Self {
        let found = Found::new(rules);
        Partition {
            rules: rules.clone(),
            file: f.clone(),
            at,
            row: 0,
            stats: found.stats,
            sample: found.sample,
            scratch: Scratch::default(),
        }
    }

    /// Folds one batch of the plan; returns (documents, text bytes).
    fn batch(
        &mut self,
        batch: &RecordBatch,
        mut writer: Option<&mut attributes::PartWriter>,
    ) -> Result<(u64, u64)> {
        let cols = PlanColumns::of(batch)?;
        if cols.hits.is_none() {
            return Err(Error::Internal("the scan plan lost its hits column".into()));
        }
        let report = &self.rules.report;
        let detector = &self.rules.detector;
        let mut doc = DocHits::default();
        let mut id_buf = String::new();
        let (mut docs, mut bytes) = (0u64, 0u64);
        for i in 0..batch.num_rows() {
            let row_no = self.row;
            self.row += 1;
            let Some(text) = self.stats.rows.count(cols.row(i)) else {
                continue;
            };
            let id = cols.id(i, &self.file, row_no, &mut id_buf);
            cols.hits_into(i, &mut doc);
            let source = cols.sources.as_ref().map(|s| s[i]);
            self.stats.add(
                detector,
                id,
                text,
                &doc,
                source,
                report.examples,
                report.snippet_chars,
                &mut self.scratch,
            );
            if let Some(w) = writer.as_deref_mut() {
                w.push(id, text, &doc);
            }
            if let Some(s) = &mut self.sample {
                let groups = || embed::demographic_groups(detector.taxonomy(), &doc);
                s.offer(id, (self.at.0, self.at.1, row_no), text, groups);
            }
            docs += 1;
            bytes += text.len() as u64;
        }
        if let Some(w) = writer {
            w.flush_if_full()?;
        }
        Ok((docs, bytes))
    }
}
