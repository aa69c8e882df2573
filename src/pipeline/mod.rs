//! Everything that talks to Apache DataFusion: the session, reading the corpus, running the
//! detection UDFs over it and streaming the results into [`ScanStats`].
//!
//! Each input file is one DataFrame:
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
//! counts, so the report does not depend on the split.

pub mod apply;
pub mod attributes;
pub mod embed;
pub mod input;
pub mod output;
pub mod udf;

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{AsArray, BooleanArray, ListArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema, UInt32Type};
use datafusion::error::DataFusionError;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::logical_expr::{Expr, case, cast, ident, lit};
use datafusion::prelude::{
    CsvReadOptions, DataFrame, JsonReadOptions, ParquetReadOptions, SessionConfig, SessionContext,
};
use futures::{StreamExt, TryStreamExt};

use crate::detect::{Detector, DocHits};
use crate::error::{Error, InputError, Result};
use crate::report::stats::{ScanStats, Scratch};
use crate::rules::{Format, InputRules, RuleSet, SourceSpec};
use input::{Compression, InputFile};

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

/// The files named by `inputs` (files, directories, globs): those with data, and the empty ones
/// (skipped with a warning). An input of nothing but empty files is an error.
fn resolve_inputs(rules: &RuleSet, inputs: &[String]) -> Result<(Vec<InputFile>, Vec<InputFile>)> {
    let resolved = input::resolve(inputs, rules.input.format)?;
    let (files, empty_files): (Vec<_>, Vec<_>) = resolved.into_iter().partition(|f| f.size > 0);
    if files.is_empty() {
        let names: Vec<String> = empty_files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        return Err(Error::Input(InputError {
            path: None,
            line: None,
            message: format!(
                "the input is empty: every file is 0 bytes ({})",
                names.join(", ")
            ),
            help: Some("point debias at a corpus with at least one document".into()),
        }));
    }
    // A CSV quote that is never closed would make the reader take every later row into one
    // field, without an error: refuse the file, naming the quote's line (one read per command,
    // not one per pass).
    for f in files.iter().filter(|f| f.format == Format::Csv) {
        if let Some(bad) = input::unterminated_quote(f) {
            return Err(Error::Input(bad));
        }
    }
    Ok((files, empty_files))
}

/// Polls `stream` in a task of the runtime (so that decoding runs on a worker thread) and hands
/// its batches over a small channel: reading overlaps with what the caller does with them.
fn prefetch(
    stream: datafusion::execution::SendableRecordBatchStream,
) -> tokio::sync::mpsc::Receiver<datafusion::error::Result<RecordBatch>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        let mut stream = stream;
        while let Some(b) = stream.next().await {
            if tx.send(b).await.is_err() {
                break;
            }
        }
    });
    rx
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

/// Scans the corpus named by `inputs` (files, directories, globs) with `rules`.
pub fn scan(rules: &RuleSet, inputs: &[String], opts: &ScanOptions) -> Result<ScanOutcome> {
    let started = Instant::now();
    let threads = opts.threads.max(1);
    let (files, empty_files) = resolve_inputs(rules, inputs)?;
    if let Some(p) = &opts.progress {
        p.phase("scanning");
        p.start(files.len(), files.iter().map(|f| f.size).sum());
    }
    let runtime = runtime(threads)?;
    let detector = rules.detector.clone();
    let ordered = session(detector.clone(), opts, true)?;
    let parallel = session(detector.clone(), opts, false)?;
    let writer = match &opts.attributes {
        Some(a) => Some(Arc::new(a.begin()?)),
        None => None,
    };
    let (stats, partitions) = runtime.block_on(async {
        let ctxs = (&ordered, &parallel);
        // A few files at a time: each file's partitions run concurrently, and so do files.
        let per_file = futures::stream::iter(files.iter().enumerate())
            .map(|(i, f)| scan_file(ctxs, rules, f, i, opts, writer.clone()))
            .buffer_unordered(threads.clamp(1, 4));
        let mut total = ScanStats::new(&detector);
        let mut partitions = 0;
        let mut per_file = std::pin::pin!(per_file);
        while let Some((s, parts)) = per_file.try_next().await? {
            total.merge(s, rules.report.examples);
            partitions += parts;
        }
        Ok::<_, Error>((total, partitions))
    })?;
    if let (Some(w), Some(a)) = (writer, &opts.attributes) {
        let w = Arc::try_unwrap(w)
            .map_err(|_| Error::Internal("attributes writer still in use".into()))?;
        a.finish(w)?;
    }
    if stats.rows_read == 0 {
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
    Ok(ScanOutcome {
        stats,
        files,
        empty_files,
        elapsed: started.elapsed(),
        threads,
        partitions,
    })
}

/// The column names of the per-file plan.
/// (Named apart from the input's columns and from the provenance columns of `apply`.)
mod cols {
    pub const ID: &str = "__debias_id";
    pub const TEXT: &str = "__debias_text";
    pub const SOURCE: &str = "__debias_source";
    pub const SELECTED: &str = "__debias_selected";
    pub const HITS: &str = "__debias_hits";
}

/// Opens one input file as a DataFrame, without reading rows beyond schema inference.
async fn open(ctx: &SessionContext, f: &InputFile) -> Result<DataFrame> {
    // DataFusion takes `*`, `?` and `[` in a path as a glob; a file named `br[a]ck.jsonl` is
    // one file, so its name is escaped.
    let path = f.path.to_string_lossy().to_string();
    let path = if path.contains(['*', '?', '[', ']']) {
        glob::Pattern::escape(&path)
    } else {
        path
    };
    let compression = input::compression_type(f.compression);
    let res = match f.format {
        Format::Parquet => {
            ctx.read_parquet(&path, ParquetReadOptions::default().file_extension(""))
                .await
        }
        Format::Jsonl => {
            ctx.read_json(
                &path,
                JsonReadOptions::default()
                    .file_extension("")
                    .file_compression_type(compression),
            )
            .await
        }
        Format::Csv => {
            ctx.read_csv(
                &path,
                CsvReadOptions::new()
                    .has_header(true)
                    // Quoted fields may hold line breaks (RFC 4180), as Python's csv, DuckDB and
                    // pyarrow read them.
                    .newlines_in_values(true)
                    .file_extension("")
                    .file_compression_type(compression),
            )
            .await
        }
    };
    res.map_err(|e| diagnose(f, e))
}

async fn scan_file(
    (ordered, parallel): (&SessionContext, &SessionContext),
    rules: &RuleSet,
    f: &InputFile,
    file_index: usize,
    opts: &ScanOptions,
    writer: Option<Arc<attributes::Writer>>,
) -> Result<(ScanStats, usize)> {
    let input = &rules.input;
    let df = open(ordered, f).await?;
    let schema = df.schema().as_arrow().clone();
    let has_id = check_columns(f, &schema, input)?;
    // A file with ids can be split into partitions; one without is read in order.
    let (ctx, df) = if has_id && opts.repartition && opts.threads > 1 {
        (parallel, open(parallel, f).await?)
    } else {
        (ordered, df)
    };
    let exprs = base_exprs(ctx, &df, f, input, has_id)?;
    let df = df.select(exprs).map_err(|e| match &input.where_sql {
        Some(sql) => where_error(f, sql, &e, &column_list(&schema)),
        None => Error::Internal(format!("planning the scan of {}: {e}", f.path.display())),
    })?;
    let streams = df
        .execute_stream_partitioned()
        .await
        .map_err(|e| diagnose(f, e))?;
    let n_parts = streams.len();
    let tasks = streams.into_iter().enumerate().map(|(part, mut stream)| {
        let detector = rules.detector.clone();
        let writer = writer.clone();
        let rules = rules.clone();
        let progress = opts.progress.clone();
        let f = f.clone();
        async move {
            let mut stats = ScanStats::new(&detector);
            let mut scratch = Scratch::default();
            let mut row = 0u64;
            let mut part_writer = match &writer {
                Some(w) => Some(w.part(file_index, part)?),
                None => None,
            };
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(|e| diagnose(&f, e))?;
                let (docs, bytes) = fold_batch(
                    &batch,
                    &rules,
                    &f,
                    &mut row,
                    &mut stats,
                    &mut scratch,
                    part_writer.as_mut(),
                )?;
                if let Some(p) = &progress {
                    p.batch(docs, bytes);
                }
            }
            if let Some(w) = part_writer {
                w.finish()?;
            }
            Ok::<_, Error>(stats)
        }
    });
    let mut total = ScanStats::new(&rules.detector);
    let results = futures::future::join_all(tasks.map(tokio::spawn)).await;
    for r in results {
        let s = r.map_err(|e| Error::Internal(format!("scan task failed: {e}")))??;
        total.merge(s, rules.report.examples);
    }
    Ok((total, n_parts))
}

/// The file's columns, for messages: `` `id`, `text` ``.
fn column_list(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("`{}`", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that a file has the columns the rules name; returns whether it has the id column.
fn check_columns(f: &InputFile, schema: &Schema, input: &InputRules) -> Result<bool> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let list = || column_list(schema);
    if names.is_empty() {
        return Err(Error::Input(
            InputError {
                path: Some(f.path.clone()),
                line: None,
                message: "the file has no columns: it holds no rows (only blank lines?)".into(),
                help: None,
            }
            .with_help("remove the file from the input, or give one with documents"),
        ));
    }
    let text_field = schema.field_with_name(&input.text_column).map_err(|_| {
        Error::Input(
            InputError {
                path: Some(f.path.clone()),
                line: None,
                message: format!(
                    "no text column `{}`; the columns are {}",
                    input.text_column,
                    list()
                ),
                help: None,
            }
            .with_help("set `input.text_column` in the rules, or `--text-column`, to the column that holds the text"),
        )
    })?;
    if !matches!(
        text_field.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    ) {
        return Err(Error::Input(
            InputError {
                path: Some(f.path.clone()),
                line: None,
                message: format!(
                    "the text column `{}` holds {}, not strings",
                    input.text_column,
                    text_field.data_type()
                ),
                help: None,
            }
            .with_help("set `input.text_column` to a string column"),
        ));
    }
    let has_id = names.contains(&input.id_column.as_str());
    if input.id_required && !has_id {
        return Err(Error::Input(
            InputError {
                path: Some(f.path.clone()),
                line: None,
                message: format!(
                    "no id column `{}`; the columns are {}",
                    input.id_column,
                    list()
                ),
                help: None,
            }
            .with_help("fix `input.id_column` in the rules, or remove it to use FILE#ROW ids"),
        ));
    }
    if let Some(SourceSpec::Column(c) | SourceSpec::UrlDomain(c)) = &input.source
        && !names.contains(&c.as_str())
    {
        return Err(Error::Input(
            InputError {
                path: Some(f.path.clone()),
                line: None,
                message: format!("no source column `{c}`; the columns are {}", list()),
                help: None,
            }
            .with_help("fix `input.source_column` / `input.source_url_column` in the rules"),
        ));
    }
    Ok(has_id)
}

/// The columns every per-file plan computes: id (when the file has one), text, source,
/// `input.where` and the detection hits (see the module documentation).
fn base_exprs(
    ctx: &SessionContext,
    df: &DataFrame,
    f: &InputFile,
    input: &InputRules,
    has_id: bool,
) -> Result<Vec<Expr>> {
    let internal = Error::bug;
    let hits_udf = ctx.udf("debias_hits").map_err(internal)?;
    let text = ident(&input.text_column);
    let mut exprs: Vec<Expr> = Vec::new();
    if has_id {
        exprs.push(cast(ident(&input.id_column), DataType::Utf8).alias(cols::ID));
    }
    exprs.push(text.clone().alias(cols::TEXT));
    match &input.source {
        None => {}
        Some(SourceSpec::Column(c)) => {
            exprs.push(cast(ident(c), DataType::Utf8).alias(cols::SOURCE));
        }
        Some(SourceSpec::UrlDomain(c)) => {
            let udf = ctx.udf("debias_url_domain").map_err(internal)?;
            exprs.push(
                udf.call(vec![cast(ident(c), DataType::Utf8)])
                    .alias(cols::SOURCE),
            );
        }
    }
    match &input.where_sql {
        Some(sql) => {
            let pred = df
                .parse_sql_expr(sql)
                .map_err(|e| where_error(f, sql, &e, &column_list(df.schema().as_arrow())))?;
            let selected = coalesce(vec![cast(pred, DataType::Boolean), lit(false)]);
            exprs.push(selected.clone().alias(cols::SELECTED));
            let hits = case(selected)
                .when(lit(true), hits_udf.call(vec![text]))
                .end()
                .map_err(internal)?;
            exprs.push(hits.alias(cols::HITS));
        }
        None => exprs.push(hits_udf.call(vec![text]).alias(cols::HITS)),
    }
    Ok(exprs)
}

/// The scan's columns of one batch of a per-file plan (see the module documentation).
pub(crate) struct PlanColumns<'a> {
    pub texts: Vec<Option<&'a str>>,
    /// `None` when the file has no id column (ids are then `FILE#ROW`).
    pub ids: Option<Vec<Option<&'a str>>>,
    pub sources: Option<Vec<Option<&'a str>>>,
    /// `input.where`, when the rules have one.
    pub selected: Option<&'a BooleanArray>,
    /// The detection hits, when the plan computes them.
    pub hits: Option<&'a ListArray>,
}

impl<'a> PlanColumns<'a> {
    pub fn of(batch: &'a RecordBatch) -> Result<Self> {
        let internal = Error::bug;
        let strings = |name: &str| -> Result<Option<Vec<Option<&'a str>>>> {
            match batch.column_by_name(name) {
                Some(a) => Ok(Some(udf::string_values(a.as_ref()).map_err(internal)?)),
                None => Ok(None),
            }
        };
        Ok(PlanColumns {
            texts: strings(cols::TEXT)?
                .ok_or_else(|| Error::Internal("the plan lost its text column".into()))?,
            ids: strings(cols::ID)?,
            sources: strings(cols::SOURCE)?,
            selected: batch.column_by_name(cols::SELECTED).map(|a| a.as_boolean()),
            hits: batch.column_by_name(cols::HITS).map(|a| a.as_list::<i32>()),
        })
    }

    /// The detection hits of row `i` into `out` (empty when the plan computes none).
    pub fn hits_into(&self, i: usize, out: &mut DocHits) {
        out.terms.clear();
        let Some(h) = self.hits else { return };
        let values = h.values().as_struct();
        let terms = values.column(0).as_primitive::<UInt32Type>();
        let counts = values.column(1).as_primitive::<UInt32Type>();
        let offsets = h.value_offsets();
        for k in offsets[i] as usize..offsets[i + 1] as usize {
            out.terms.push((terms.value(k), counts.value(k)));
        }
    }
}

/// Folds one batch of the per-file plan into `stats`; returns (documents, text bytes).
fn fold_batch(
    batch: &RecordBatch,
    rules: &RuleSet,
    f: &InputFile,
    row: &mut u64,
    stats: &mut ScanStats,
    scratch: &mut Scratch,
    mut writer: Option<&mut attributes::PartWriter>,
) -> Result<(u64, u64)> {
    let cols = PlanColumns::of(batch)?;
    if cols.hits.is_none() {
        return Err(Error::Internal("the scan plan lost its hits column".into()));
    }
    let PlanColumns {
        texts,
        ids,
        sources,
        selected,
        ..
    } = &cols;
    let report = &rules.report;
    let detector = &rules.detector;
    let mut doc = DocHits::default();
    let mut id_buf = String::new();
    let (mut docs, mut bytes) = (0u64, 0u64);
    for i in 0..batch.num_rows() {
        let row_no = *row;
        *row += 1;
        stats.rows_read += 1;
        if selected.is_some_and(|s| !s.value(i)) {
            stats.excluded_by_where += 1;
            continue;
        }
        let Some(text) = texts[i] else {
            stats.null_text += 1;
            continue;
        };
        // The id column's value; without one (or for a null id) FILE#ROW.
        let id: &str = match ids.as_ref().and_then(|ids| ids[i]) {
            Some(id) => id,
            None => {
                use std::fmt::Write;
                id_buf.clear();
                let _ = write!(id_buf, "{}#{row_no}", f.id_prefix);
                &id_buf
            }
        };
        cols.hits_into(i, &mut doc);
        let source = sources.as_ref().map(|s| s[i]);
        stats.add(
            detector,
            id,
            text,
            &doc,
            source,
            report.examples,
            report.snippet_chars,
            scratch,
        );
        if let Some(w) = writer.as_deref_mut() {
            w.push(id, text, &doc);
        }
        docs += 1;
        bytes += text.len() as u64;
    }
    if let Some(w) = writer {
        w.flush_if_full()?;
    }
    Ok((docs, bytes))
}

fn where_error(f: &InputFile, sql: &str, e: &DataFusionError, columns: &str) -> Error {
    sql_error(f, &format!("`input.where: {sql}`"), &e.to_string(), columns)
}

/// A SQL predicate of the rules (`what`) that cannot be planned on file `f`.
fn sql_error(f: &InputFile, what: &str, e: &str, columns: &str) -> Error {
    let msg = e
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("Schema error: ")
        .trim_start_matches("Error during planning: ");
    Error::Input(
        InputError {
            path: Some(f.path.clone()),
            line: None,
            message: format!("{what} cannot be evaluated on this file: {msg}"),
            help: None,
        }
        .with_help(format!("the columns are {columns}")),
    )
}

/// Turns a DataFusion error on file `f` into an error a user can act on: for JSONL and CSV the
/// file is read again line by line to find the first malformed line or invalid UTF-8.
fn diagnose(f: &InputFile, e: DataFusionError) -> Error {
    let root = e.find_root().to_string();
    if matches!(f.format, Format::Jsonl | Format::Csv)
        && let Some(found) = input::find_bad_line(f)
    {
        return Error::Input(found);
    }
    let help = match f.format {
        Format::Parquet => {
            "check that the file is a complete Parquet file (it may be truncated or still being written)"
        }
        Format::Jsonl => "each line must be one JSON object",
        Format::Csv => {
            "the first line must be a header; quote fields that contain commas or line breaks"
        }
    };
    Error::Input(
        InputError {
            path: Some(f.path.clone()),
            line: None,
            message: format!(
                "cannot read the file as {}: {}",
                format_name(f.format, f.compression),
                root
            ),
            help: None,
        }
        .with_help(help),
    )
}

fn format_name(format: Format, c: Compression) -> String {
    let base = match format {
        Format::Parquet => "Parquet",
        Format::Jsonl => "JSONL",
        Format::Csv => "CSV",
    };
    match c {
        Compression::None => base.to_string(),
        Compression::Gzip => format!("gzip-compressed {base}"),
        Compression::Zstd => format!("zstd-compressed {base}"),
    }
}
