//! The one read path of every command: the input files resolved, each opened as a DataFrame,
//! its columns checked against the rules, the per-file plan selected (see [`super`]) and
//! streamed, with the `FILE#ROW` id rule and the accounting of every row read.
//!
//! `scan` reads a file's partitions in parallel ([`partitions`]); `apply`'s passes, `embed` and
//! the embedding analyses read files in order ([`for_each_batch`]). What a consumer wants beside
//! the base columns (the input's own columns, the detection hits, the rules' SQL predicates) is
//! a [`Wanted`].

use datafusion::arrow::array::{AsArray, BooleanArray, ListArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema, UInt32Type};
use datafusion::error::DataFusionError;
use datafusion::execution::{FunctionRegistry, SendableRecordBatchStream};
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions::string::expr_fn::octet_length;
use datafusion::logical_expr::{Expr, case, cast, ident, lit};
use datafusion::prelude::{
    CsvReadOptions, DataFrame, JsonReadOptions, ParquetReadOptions, SessionContext,
};
use futures::StreamExt;

use super::input::{self, Compression, InputFile};
use super::udf;
use crate::corpus::Row;
use crate::detect::DocHits;
use crate::error::{Error, InputError, Result};
use crate::rules::{Format, InputRules, RuleSet, SourceSpec};

/// The files named by `inputs` (files, directories, globs): those with data, and the empty ones
/// (skipped with a warning). An input of nothing but empty files is an error.
pub(crate) fn resolve_inputs(
    rules: &RuleSet,
    inputs: &[String],
) -> Result<(Vec<InputFile>, Vec<InputFile>)> {
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

/// The column names of the per-file plan.
/// (Named apart from the input's columns and from the provenance columns of `apply`.)
pub(crate) mod cols {
    pub const ID: &str = "__debias_id";
    pub const TEXT: &str = "__debias_text";
    pub const SOURCE: &str = "__debias_source";
    pub const SELECTED: &str = "__debias_selected";
    pub const HITS: &str = "__debias_hits";
    pub const TOO_LARGE: &str = "__debias_too_large";
}

/// The path DataFusion is given for `path`. DataFusion takes `*`, `?` and `[` in a path as a
/// glob (and lists the directory), and its object store refuses control characters (a tab or a
/// newline in a name) and cannot name a file whose name is not UTF-8; such a file is read
/// through a symbolic link with a plain name in a directory of this process (removed at exit,
/// or when a signal stops it).
fn readable_path(path: &std::path::Path) -> Result<String> {
    let plain = |s: &str| {
        !s.chars().any(|c| {
            c.is_control() || matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '%' | '#' | '\\')
        })
    };
    match path.to_str() {
        Some(s) if super::store::is_url(s) => Ok(s.to_owned()),
        Some(s) if plain(s) => Ok(s.to_owned()),
        _ => link_to(path),
    }
}

/// A symbolic link with a plain name to `path` (made once per path).
fn link_to(path: &std::path::Path) -> Result<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static LINKS: OnceLock<Mutex<HashMap<std::path::PathBuf, String>>> = OnceLock::new();
    let mut links = LINKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(l) = links.get(path) {
        return Ok(l.clone());
    }
    let dir = std::env::temp_dir().join(format!("debias-links-{}", std::process::id()));
    if links.is_empty() {
        crate::artifact::register(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| Error::output(&dir, e))?;
    }
    let link = dir.join(format!("input-{}", links.len()));
    let target = std::path::absolute(path).map_err(|e| Error::input(path, e.to_string()))?;
    std::os::unix::fs::symlink(&target, &link).map_err(|e| Error::output(&link, e))?;
    let name = link.to_string_lossy().to_string();
    links.insert(path.to_path_buf(), name.clone());
    Ok(name)
}

/// Opens one input file as a DataFrame, without reading rows beyond schema inference.
async fn open(ctx: &SessionContext, f: &InputFile) -> Result<DataFrame> {
    let path = readable_path(&f.path)?;
    if super::store::is_url(&path) {
        super::store::register(ctx, &path)?;
    }
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

/// The file's columns, for messages: `` `id`, `text` ``.
pub(crate) fn column_list(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("`{}`", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that a file has the columns the rules name; returns its id column, when it has one.
fn check_columns<'s>(
    f: &InputFile,
    schema: &'s Schema,
    input: &'s InputRules,
) -> Result<Option<&'s str>> {
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
    if !is_string(text_field.data_type()) {
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
    fn is_string(t: &DataType) -> bool {
        match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => true,
            // Dictionary-encoded strings (pandas categoricals, some Parquet writers) are read
            // as strings.
            DataType::Dictionary(_, v) => is_string(v),
            _ => false,
        }
    }
    let has_id = names.contains(&input.id_column.as_str());
    if !input.id_required && names.contains(&OUTPUT_ID) {
        // A debias output (`apply` run again to balance another axis): its rows' ids are
        // `debias_id`, unique per row, where `id` is shared by an original and its copies.
        return Ok(Some(OUTPUT_ID));
    }
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
    Ok(has_id.then_some(input.id_column.as_str()))
}

/// The id column of a debias output.
const OUTPUT_ID: &str = "debias_id";

/// The columns every per-file plan computes: id (when the file has one), text, source,
/// `input.where` and the detection hits (see the module documentation).
fn base_exprs(
    ctx: &SessionContext,
    df: &DataFrame,
    f: &InputFile,
    input: &InputRules,
    id_column: Option<&str>,
) -> Result<Vec<Expr>> {
    let internal = Error::bug;
    let hits_udf = ctx.udf("debias_hits").map_err(internal)?;
    let text = match df
        .schema()
        .field_with_unqualified_name(&input.text_column)
        .map(|f| f.data_type())
    {
        Ok(DataType::Dictionary(..)) => cast(ident(&input.text_column), DataType::Utf8),
        _ => ident(&input.text_column),
    };
    let mut exprs: Vec<Expr> = Vec::new();
    if let Some(id) = id_column {
        exprs.push(cast(ident(id), DataType::Utf8).alias(cols::ID));
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
    // Texts over `input.max_document_bytes` are not detected (nor scanned).
    let fits = coalesce(vec![
        octet_length(text.clone()).lt_eq(lit(input.max_document_bytes)),
        lit(true),
    ]);
    exprs.push(datafusion::logical_expr::not(fits.clone()).alias(cols::TOO_LARGE));
    let scanned = match &input.where_sql {
        Some(sql) => {
            let pred = df
                .parse_sql_expr(sql)
                .map_err(|e| where_error(f, sql, &e, &column_list(df.schema().as_arrow())))?;
            let selected = coalesce(vec![cast(pred, DataType::Boolean), lit(false)]);
            exprs.push(selected.clone().alias(cols::SELECTED));
            selected.and(fits)
        }
        None => fits,
    };
    let hits = case(scanned)
        .when(lit(true), hits_udf.call(vec![text]))
        .end()
        .map_err(internal)?;
    exprs.push(hits.alias(cols::HITS));
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
    /// Whether the text is longer than `input.max_document_bytes`.
    pub too_large: Option<&'a BooleanArray>,
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
            too_large: batch
                .column_by_name(cols::TOO_LARGE)
                .map(|a| a.as_boolean()),
        })
    }

    /// What row `i` is: outside `input.where`, without text, or a document.
    pub fn row(&self, i: usize) -> Row<'a> {
        if self.selected.is_some_and(|s| !s.value(i)) {
            return Row::Excluded;
        }
        match self.texts[i] {
            None => Row::NullText,
            Some(_) if self.too_large.is_some_and(|t| t.value(i)) => Row::TooLarge,
            Some(text) => Row::Doc(text),
        }
    }

    /// The id of row `i`, the file's row number `row_no`: the id column's value, or for a
    /// file without one (or a null id) `FILE#ROW`, written into `buf`.
    pub fn id<'b>(&self, i: usize, f: &InputFile, row_no: u64, buf: &'b mut String) -> &'b str
    where
        'a: 'b,
    {
        match self.ids.as_ref().and_then(|ids| ids[i]) {
            Some(id) => id,
            None => {
                use std::fmt::Write;
                buf.clear();
                let _ = write!(buf, "{}#{row_no}", f.id_prefix);
                buf
            }
        }
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

fn where_error(f: &InputFile, sql: &str, e: &DataFusionError, columns: &str) -> Error {
    sql_error(f, &format!("`input.where: {sql}`"), &e.to_string(), columns)
}

/// A SQL predicate of the rules (`what`) that cannot be planned on file `f`.
pub(crate) fn sql_error(f: &InputFile, what: &str, e: &str, columns: &str) -> Error {
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
    // Errors that only an expression can raise: the rules' SQL, not the file, is at fault.
    const SQL_FAULTS: &[&str] = &[
        "Divide by zero",
        "Cast error",
        "Arithmetic overflow",
        "Overflow happened",
    ];
    if SQL_FAULTS.iter().any(|m| root.contains(m)) {
        return Error::Input(
            InputError {
                path: Some(f.path.clone()),
                line: None,
                message: format!(
                    "a SQL predicate of the rules (`input.where` or an action's `where`) fails on this file: {root}"
                ),
                help: None,
            }
            .with_help(
                "guard the expression, e.g. `TRY_CAST(x AS INT)`, `CASE WHEN d <> 0 THEN n / d END`",
            ),
        );
    }
    // "whilst decoding field 'text': expected string got 5": the line with the other type.
    if f.format == Format::Jsonl
        && let Some(field) = root
            .split("whilst decoding field '")
            .nth(1)
            .and_then(|s| s.split('\'').next())
        && let Some(found) = input::find_wrong_type(f, field)
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

/// What a consumer reads of each file beside the base columns (id, text, source, `input.where`).
#[derive(Debug, Default)]
pub(crate) struct Wanted {
    /// Every column of the input as well (`apply` writes them out).
    pub input_columns: bool,
    /// The detection hits of each selected row.
    pub hits: bool,
    /// More boolean columns: SQL predicates of the rules.
    pub predicates: Vec<Predicate>,
}

/// A SQL predicate of the rules, read as `coalesce(CAST(sql AS BOOLEAN), false) AS alias`.
#[derive(Debug)]
pub(crate) struct Predicate {
    pub sql: String,
    pub alias: String,
    /// Where the rules hold it, for messages: "action `x`: `scope.where: …`".
    pub what: String,
}

/// The sessions a read runs on: `ordered` reads a file as one stream in row order; `parallel`,
/// when given, may split a file that has an id column into partitions.
#[derive(Clone, Copy)]
pub(crate) struct Sessions<'a> {
    pub ordered: &'a SessionContext,
    pub parallel: Option<&'a SessionContext>,
}

/// The columns of file `f`, checked against the rules.
pub(crate) async fn schema(ctx: &SessionContext, rules: &RuleSet, f: &InputFile) -> Result<Schema> {
    let df = open(ctx, f).await?;
    let schema = df.schema().as_arrow().clone();
    check_columns(f, &schema, &rules.input)?;
    Ok(schema)
}

/// Plans the read of file `f`: opened, its columns checked, the wanted columns selected.
pub(crate) async fn frame(
    sessions: Sessions<'_>,
    rules: &RuleSet,
    f: &InputFile,
    wanted: &Wanted,
) -> Result<DataFrame> {
    let df = open(sessions.ordered, f).await?;
    let schema = df.schema().as_arrow().clone();
    let id_column = check_columns(f, &schema, &rules.input)?;
    // A file with ids can be split into partitions; one without is read in order.
    let (ctx, df) = match sessions.parallel {
        Some(parallel) if id_column.is_some() => (parallel, open(parallel, f).await?),
        _ => (sessions.ordered, df),
    };
    let columns = || column_list(&schema);
    let mut exprs: Vec<Expr> = Vec::new();
    if wanted.input_columns {
        exprs.extend(schema.fields().iter().map(|c| ident(c.name())));
    }
    exprs.extend(
        base_exprs(ctx, &df, f, &rules.input, id_column)?
            .into_iter()
            .filter(|e| wanted.hits || e.schema_name().to_string() != cols::HITS),
    );
    for p in &wanted.predicates {
        let e = df
            .parse_sql_expr(&p.sql)
            .map_err(|e| sql_error(f, &p.what, &e.to_string(), &columns()))?;
        exprs.push(coalesce(vec![cast(e, DataType::Boolean), lit(false)]).alias(&p.alias));
    }
    df.select(exprs).map_err(|e| match &rules.input.where_sql {
        Some(sql) if wanted.predicates.is_empty() => where_error(f, sql, &e, &columns()),
        _ => Error::Input(
            InputError {
                path: Some(f.path.clone()),
                line: None,
                message: format!("cannot plan the rules on this file: {e}"),
                help: None,
            }
            .with_help(format!("the columns are {}", columns())),
        ),
    })
}

/// The partitions of file `f`'s plan, as streams that can run in parallel (one stream when the
/// file is read in order). Their rows, partition after partition, are the file's rows in order.
pub(crate) async fn partitions(
    sessions: Sessions<'_>,
    rules: &RuleSet,
    f: &InputFile,
    wanted: &Wanted,
) -> Result<Vec<SendableRecordBatchStream>> {
    let df = frame(sessions, rules, f, wanted).await?;
    df.execute_stream_partitioned()
        .await
        .map_err(|e| diagnose(f, e))
}

/// Reads file `f` in row order and calls `each` with every batch of its plan. Decoding runs
/// ahead on a worker thread while `each` works.
pub(crate) async fn for_each_batch(
    ctx: &SessionContext,
    rules: &RuleSet,
    f: &InputFile,
    wanted: &Wanted,
    mut each: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    let sessions = Sessions {
        ordered: ctx,
        parallel: None,
    };
    let df = frame(sessions, rules, f, wanted).await?;
    let stream = df.execute_stream().await.map_err(|e| diagnose(f, e))?;
    let mut batches = prefetch(stream);
    while let Some(batch) = batches.recv().await {
        each(&batch.map_err(|e| diagnose(f, e))?)?;
    }
    Ok(())
}

/// Reads a stream of file `f`'s plan, naming the file in errors.
pub(crate) async fn next_batch(
    stream: &mut SendableRecordBatchStream,
    f: &InputFile,
) -> Result<Option<RecordBatch>> {
    stream.next().await.transpose().map_err(|e| diagnose(f, e))
}
