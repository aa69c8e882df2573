//! `scan`: one read of the corpus folded into exact counts ([`ScanStats`]), partition by
//! partition, and merged.
//!
//! The fold of a partition ([`Partition`]) is also a DataFusion aggregate,
//! `debias_scan_stats(text, hits, selected, too_large, id[, source])` ([`ScanAggregate`]): its partial
//! state is the serialized [`ScanStats`] of a partition, and states merge exactly, so the
//! planner can run it as a partial aggregate per partition and a final one over the partials
//! (on one machine, or on a cluster's executors). A local scan drives the same fold itself, to
//! write per-document attributes and take the embedding sample on the way.
//!
//! With `--resume DIR` ([`ScanOptions::resume`]) what each input file found is saved in DIR when
//! the file is done (with its attribute files), and read back by a later run instead of
//! scanning the file again.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Signature, Volatility, lit,
};
use futures::{StreamExt, TryStreamExt};

use super::input::InputFile;
use super::read::{self, PlanColumns, cols, resolve_inputs};
use super::{Progress, ScanOptions, ScanOutcome, attributes, embed, runtime, session};
use crate::detect::DocHits;
use crate::error::{Error, InputError, Result};
use crate::report::stats::{ScanStats, Scratch};
use crate::rules::RuleSet;

/// Scans the corpus named by `inputs` (files, directories, globs) with `rules`: one read of the
/// input, with the sample of the `embedding:` section (when the rules have one) taken on the way
/// and embedded at the end.
pub fn scan(rules: &RuleSet, inputs: &[String], opts: &ScanOptions) -> Result<ScanOutcome> {
    scan_and(rules, inputs, opts, |_| Ok(()))
}

/// [`scan`], calling `before_commit` (which writes the report) before the per-document
/// attributes are committed: when it fails, the attributes are not written either.
pub fn scan_and(
    rules: &RuleSet,
    inputs: &[String],
    opts: &ScanOptions,
    before_commit: impl FnOnce(&ScanOutcome) -> Result<()>,
) -> Result<ScanOutcome> {
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
    let found = match &opts.cluster {
        Some(url) => on_cluster(url, rules, &files, opts)?,
        None => runtime.block_on(scan_files(sessions, rules, &files, opts, writer.clone()))?,
    };
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
    let outcome = ScanOutcome {
        stats: found.stats,
        files,
        empty_files,
        elapsed: started.elapsed(),
        threads,
        partitions: found.partitions,
        embedding,
        resumed_files: found.resumed,
    };
    before_commit(&outcome)?;
    if let (Some(w), Some(a)) = (writer, &opts.attributes) {
        let w = Arc::try_unwrap(w)
            .map_err(|_| Error::Internal("attributes writer still in use".into()))?;
        a.finish(w)?;
    }
    Ok(outcome)
}

/// The counts of `files` scanned on the Ballista cluster at `url` (`--cluster`).
fn on_cluster(
    url: &str,
    rules: &RuleSet,
    files: &[InputFile],
    opts: &ScanOptions,
) -> Result<Found> {
    let unsupported = [
        (opts.attributes.is_some(), "--attributes"),
        (opts.resume.is_some(), "--resume"),
        (rules.embedding.is_some(), "an `embedding:` section"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(on, _)| *on) {
        return Err(Error::Usage(format!(
            "{what} is not supported with --cluster yet; run that scan on one machine"
        )));
    }
    #[cfg(feature = "distributed")]
    {
        let stats = super::cluster::scan(url, rules, files, opts.threads)?;
        if let Some(p) = &opts.progress {
            p.batch(stats.documents, stats.text_bytes);
        }
        Ok(Found {
            stats,
            resumed: 0,
            sample: None,
            partitions: files.len(),
        })
    }
    #[cfg(not(feature = "distributed"))]
    {
        let _ = files;
        Err(Error::Usage(format!(
            "--cluster {url}: this debias was built without the `distributed` feature; build it with `cargo build --release --features distributed`"
        )))
    }
}

/// What the read of a scan found: the counts, and the embedding sample when one is taken.
#[derive(serde::Serialize, serde::Deserialize)]
struct Found {
    stats: ScanStats,
    /// Files read back from the work directory of `--resume`.
    #[serde(default)]
    resumed: usize,
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
            resumed: 0,
        }
    }

    /// Adds what another part of the input found.
    fn merge(&mut self, other: Found, rules: &RuleSet) {
        self.stats.merge(other.stats, rules.report.examples);
        if let (Some(s), Some(o)) = (&mut self.sample, other.sample) {
            s.merge(o);
        }
        self.partitions += other.partitions;
        self.resumed += other.resumed;
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
    let work = match &opts.resume {
        Some(dir) => Some(WorkDir::open(dir, rules)?),
        None => None,
    };
    let per_file = futures::stream::iter(files.iter().enumerate())
        .map(|(i, f)| {
            let (work, writer) = (work.as_ref(), writer.clone());
            async move {
                let attributes = writer.as_ref().map(|w| w.dir().to_path_buf());
                if let Some(mut found) = work.and_then(|w| w.load(f, i, attributes.as_deref())) {
                    found.resumed = 1;
                    if let Some(p) = &opts.progress {
                        p.batch(found.stats.documents, found.stats.text_bytes);
                    }
                    return Ok::<Found, Error>(found);
                }
                let found = scan_file(sessions, rules, f, i, opts, writer).await?;
                if let Some(w) = work {
                    w.save(f, i, &found, attributes.as_deref())?;
                }
                Ok(found)
            }
        })
        .buffer_unordered(opts.threads.clamp(1, 4));
    let mut total = Found::new(rules);
    let mut per_file = std::pin::pin!(per_file);
    while let Some(found) = per_file.try_next().await? {
        total.merge(found, rules);
    }
    Ok(total)
}

/// The work directory of `scan --resume`: per input file, what its scan found, saved when the
/// file is done, under a name that changes with the file (path, size, modification time), its
/// place in the input, the rules (their SHA-256) and the debias version, so that only what is
/// still valid is read back. Counts merge exactly, so a resumed scan reports what one
/// uninterrupted scan would.
struct WorkDir {
    dir: std::path::PathBuf,
    rules: String,
}

impl WorkDir {
    fn open(dir: &std::path::Path, rules: &RuleSet) -> Result<WorkDir> {
        super::resume::open_dir(dir)?;
        // The rule file's hash, and its `input:` section as the command line may have changed
        // it (`--text-column`, `--id-column`).
        Ok(WorkDir {
            dir: dir.to_path_buf(),
            rules: format!("{}\0{:?}", rules.origin.sha256, rules.input),
        })
    }

    /// The file that holds what the scan of `f` (the `i`-th input) found.
    fn path(&self, f: &InputFile, i: usize) -> std::path::PathBuf {
        let modified = std::fs::metadata(&f.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let key = format!(
            "{}\0{}\0{modified}\0{i}\0{}\0{}",
            f.path.to_string_lossy(),
            f.size,
            self.rules,
            env!("CARGO_PKG_VERSION")
        );
        let hash = crate::hash::stable_hash(0, key.as_bytes());
        self.dir.join(format!("file-{i:05}-{hash:016x}.json"))
    }

    /// What an earlier scan saved for `f`, when it is still valid. With per-document
    /// attributes (written into `attributes`), only a file whose attributes were saved too; they
    /// are linked back into `attributes`.
    fn load(&self, f: &InputFile, i: usize, attributes: Option<&std::path::Path>) -> Option<Found> {
        let path = self.path(f, i);
        let bytes = std::fs::read(&path).ok()?;
        let found = serde_json::from_slice(&bytes).ok()?;
        if let Some(dest) = attributes {
            copy_parts(&path.with_extension("attributes"), dest, i).ok()?;
        }
        Some(found)
    }

    /// Saves what the scan of `f` found (after its attribute files, so that a saved file always
    /// has them).
    fn save(
        &self,
        f: &InputFile,
        i: usize,
        found: &Found,
        attributes: Option<&std::path::Path>,
    ) -> Result<()> {
        let path = self.path(f, i);
        if let Some(src) = attributes {
            let kept = path.with_extension("attributes");
            let _ = std::fs::remove_dir_all(&kept);
            std::fs::create_dir_all(&kept).map_err(|e| Error::output(&kept, e))?;
            copy_parts(src, &kept, i)?;
        }
        let text = serde_json::to_string(found).map_err(Error::bug)?;
        crate::artifact::write_atomic(&path, &text)
    }
}

/// Links (or copies) the attribute files of input file `i`, `part-{i:05}-*.parquet`, from `src`
/// into `dest`.
fn copy_parts(src: &std::path::Path, dest: &std::path::Path, i: usize) -> Result<()> {
    let prefix = format!("part-{i:05}-");
    let entries = std::fs::read_dir(src).map_err(|e| Error::output(src, e))?;
    for e in entries {
        let e = e.map_err(|e| Error::output(src, e))?;
        let name = e.file_name();
        if !name.to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let to = dest.join(&name);
        if std::fs::hard_link(e.path(), &to).is_err() {
            std::fs::copy(e.path(), &to).map_err(|err| Error::output(&to, err))?;
        }
    }
    Ok(())
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
        let found = r.map_err(|e| Error::bug_in("scan task failed", e))??;
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
        resumed: 0,
    })
}

/// The fold of one partition of a file into [`ScanStats`] and the embedding sample.
#[derive(Debug)]
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

/// `debias_scan_stats(text, hits, selected, too_large, id[, source])`: the fold of a partition as a
/// DataFusion aggregate over the per-file plan of one input file (its `FILE#ROW` ids need the
/// file). Its value, and its partial state, is the serialized [`ScanStats`] (see
/// [`decode_stats`]).
#[derive(Debug)]
pub struct ScanAggregate {
    rules: Arc<RuleSet>,
    file: InputFile,
    signature: Signature,
}

impl ScanAggregate {
    pub const NAME: &str = "debias_scan_stats";

    pub fn new(rules: Arc<RuleSet>, file: InputFile) -> Self {
        ScanAggregate {
            rules,
            file,
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }

    /// The rules and the input file the fold runs with (what a cluster job's codec encodes).
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn parts(&self) -> (&Arc<RuleSet>, &InputFile) {
        (&self.rules, &self.file)
    }

    /// The call over the columns of a per-file plan with hits (`frame`).
    fn call(self, frame: &datafusion::prelude::DataFrame) -> Expr {
        let has = |c: &str| frame.schema().has_column_with_unqualified_name(c);
        let column = |c: &str| datafusion::prelude::col(format!("\"{c}\""));
        let mut args = vec![column(cols::TEXT), column(cols::HITS)];
        args.push(match has(cols::SELECTED) {
            true => column(cols::SELECTED),
            false => lit(true),
        });
        args.push(column(cols::TOO_LARGE));
        args.push(match has(cols::ID) {
            true => column(cols::ID),
            false => lit(ScalarValue::Utf8(None)),
        });
        if self.rules.input.source.is_some() {
            args.push(column(cols::SOURCE));
        }
        AggregateUDF::new_from_impl(self).call(args)
    }
}

impl PartialEq for ScanAggregate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.rules, &other.rules) && self.file == other.file
    }
}
impl Eq for ScanAggregate {}
impl std::hash::Hash for ScanAggregate {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.rules) as usize).hash(state);
        self.file.path.hash(state);
    }
}

impl AggregateUDFImpl for ScanAggregate {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Binary)
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        let mut fold = Partition::new(&self.rules, &self.file, (0, 0));
        // The embedding sample is not part of the counts.
        fold.sample = None;
        Ok(Box::new(ScanAccumulator { fold }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}_state", args.name),
            DataType::Binary,
            true,
        ))])
    }
}

/// The accumulator of [`ScanAggregate`]: a [`Partition`] fold.
#[derive(Debug)]
struct ScanAccumulator {
    fold: Partition,
}

impl ScanAccumulator {
    fn encoded(&self) -> DfResult<ScalarValue> {
        let bytes = serde_json::to_vec(&self.fold.stats)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        Ok(ScalarValue::Binary(Some(bytes)))
    }
}

impl Accumulator for ScanAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        let mut names = vec![
            cols::TEXT,
            cols::HITS,
            cols::SELECTED,
            cols::TOO_LARGE,
            cols::ID,
        ];
        if values.len() > names.len() {
            names.push(cols::SOURCE);
        }
        if values.len() != names.len() {
            return exec_err!("{} takes 5 or 6 arguments", ScanAggregate::NAME);
        }
        let fields: Vec<Field> = names
            .iter()
            .zip(values)
            .map(|(n, v)| Field::new(*n, v.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), values.to_vec())?;
        self.fold
            .batch(&batch, None)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        Ok(())
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        self.encoded()
    }

    fn size(&self) -> usize {
        let s = &self.fold.stats;
        std::mem::size_of_val(self)
            + 8 * (s.group_docs.len() + s.group_mentions.len())
            + 8 * (s.term_docs.len() + s.term_mentions.len())
            + 24 * (s.pair_docs.len() + s.group_term_docs.len() + s.sources.len())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![self.encoded()?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let Some(states) = states.first() else {
            return exec_err!("{}: no state to merge", ScanAggregate::NAME);
        };
        for bytes in states.as_binary::<i32>().iter().flatten() {
            let other = decode_stats(bytes)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            self.fold
                .stats
                .merge(other, self.fold.rules.report.examples);
        }
        Ok(())
    }
}

/// The scan of one input file as a DataFusion plan: the per-file plan (split into partitions
/// on `parallel` when the file has an id column, in order on `ordered` otherwise) aggregated by
/// `debias_scan_stats`. Its one row holds the file's counts; [`decode_stats`] reads them.
pub async fn file_plan(
    ordered: &datafusion::prelude::SessionContext,
    parallel: &datafusion::prelude::SessionContext,
    rules: &Arc<RuleSet>,
    f: &InputFile,
) -> Result<datafusion::prelude::DataFrame> {
    let sessions = read::Sessions {
        ordered,
        parallel: Some(parallel),
    };
    file_plan_on(sessions, rules, f).await
}

/// [`file_plan`] on `sessions`.
pub(crate) async fn file_plan_on(
    sessions: read::Sessions<'_>,
    rules: &Arc<RuleSet>,
    f: &InputFile,
) -> Result<datafusion::prelude::DataFrame> {
    let wanted = read::Wanted {
        hits: true,
        ..read::Wanted::default()
    };
    let frame = read::frame(sessions, rules, f, &wanted).await?;
    let stats = ScanAggregate::new(rules.clone(), f.clone()).call(&frame);
    frame
        .aggregate(vec![], vec![stats.alias("stats")])
        .map_err(Error::bug)
}

/// The counts that `debias_scan_stats` serialized.
pub fn decode_stats(bytes: &[u8]) -> Result<ScanStats> {
    serde_json::from_slice(bytes).map_err(Error::bug)
}
