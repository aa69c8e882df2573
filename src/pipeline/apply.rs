//! `debias apply` on DataFusion: read each file in order, evaluate the rules' SQL predicates
//! and the detection UDF per row, run the actions ([`crate::apply`]) and write Parquet.
//!
//! Per file, the plan is the scan's (see the parent module) plus every input column and one
//! boolean column per SQL predicate of the actions:
//!
//! ```sql
//! SELECT *, <the scan's columns>,
//!        coalesce(<scope.where of action k>, false) AS __debias_scope_k,
//!        coalesce(<where of drop action k>, false)  AS __debias_drop_k
//! FROM <file>
//! ```
//!
//! Files are read one after the other, each as one ordered stream, and rows are written in
//! input order, so the output does not depend on `--threads`; the actions of a batch's rows
//! run in parallel on rayon's pool. With a `rebalance` action the input is read twice (count,
//! then write); the counting pass keeps every row's detected terms and what its rewrites
//! found ([`HitsCache`], up to a memory budget), so the writing pass leaves the detection UDF
//! out of its plan and reads them back instead of detecting the same texts again, and the
//! decoded input batches of the files that fit in another such budget ([`BatchCache`]), so
//! that it does not read those files again. Everything is written into a temporary
//! directory beside the output, which is renamed into place only when the run has succeeded.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Float64Array, Float64Builder,
    Int32Array, Int64Builder, ListBuilder, RecordBatch, StringArray, StringBuilder, StructBuilder,
    UInt32Array,
};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type, Schema, SchemaRef};
use datafusion::prelude::SessionContext;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::attributes::TempDir;
use super::embed::TopicModel;
use super::input::InputFile;
use super::output::{ENCODE_BUFFER_BYTES, Sink, SinkThread};
use super::read::{self, PlanColumns, column_list, resolve_inputs};
use super::resume::{ApplyWork, Resumed, SavedPlan};
use super::{Progress, ScanOptions, ScanOutcome, runtime, session, udf};
use crate::apply::manifest::{
    self, ActionEntry, FilterAuditEntry, GroupImpact, InputEntry, Manifest, OutputEntry, RulesEntry,
};
use crate::apply::{Actions, Doc, OutRow, PassStats, RebalancePlan, RewriteMemo};
use crate::corpus::Row;
use crate::detect::{DocHits, GroupId};
use crate::error::{Error, InputError, Result};
use crate::report::stats::{ScanStats, Scratch};
use crate::report::{Report, ReportFormat};
use crate::rules::RuleSet;
use crate::rules::actions::{ActionKind, Context};

/// The provenance columns `apply` adds to every row (documented in rules/README.md).
pub const PROVENANCE: &[&str] = &[
    "debias_id",
    "debias_source_id",
    "debias_augmented",
    "debias_rule",
    "debias_groups",
    "debias_weight",
    "debias_edits",
];

/// The provenance column of an `apply` run on a debias output: per row, the provenance of the
/// rows it comes from, oldest first (each earlier run's id, source id, rule, whether it was a
/// copy, and weight), so that running `apply` again (to balance another axis) keeps the chain.
pub const LINEAGE_COLUMN: &str = "debias_lineage";

fn lineage_fields() -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("source_id", DataType::Utf8, true),
        Field::new("rule", DataType::Utf8, true),
        Field::new("augmented", DataType::Boolean, true),
        Field::new("weight", DataType::Float64, true),
    ])
}

fn lineage_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(lineage_fields()),
        true,
    )))
}

/// Options of `apply` that are not in the rules.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub output: PathBuf,
    /// Replace an existing output directory.
    pub overwrite: bool,
    /// Overrides the rules' `seed`.
    pub seed: Option<u64>,
    pub threads: usize,
    pub memory_limit: Option<usize>,
    pub progress: Option<Arc<dyn Progress>>,
    /// The formats of the reports under `report/` (all when empty).
    pub formats: Vec<ReportFormat>,
    /// The work directory of a resumable run (see [`crate::pipeline::resume`]).
    pub resume: Option<PathBuf>,
}

/// What `apply` did; everything here is also written to the output directory.
#[derive(Debug)]
pub struct ApplyOutcome {
    pub manifest: Manifest,
    pub before: Report,
    pub after: Report,
    pub elapsed: std::time::Duration,
    pub passes: usize,
    /// What a run with `resume` kept of an interrupted one.
    pub resumed: Option<Resumed>,
}

/// The edits column: a list of (start, end, original, replacement), byte offsets.
pub fn edits_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(edit_fields()),
        true,
    )))
}

fn edit_fields() -> Fields {
    Fields::from(vec![
        Field::new("start", DataType::Int64, false),
        Field::new("end", DataType::Int64, false),
        Field::new("original", DataType::Utf8, false),
        Field::new("replacement", DataType::Utf8, false),
    ])
}

/// The provenance column of `context: topic` runs: the row's topic (null for a row whose
/// text was not scanned).
pub const TOPIC_COLUMN: &str = "debias_topic";

fn provenance_fields() -> Vec<Field> {
    vec![
        Field::new("debias_id", DataType::Utf8, false),
        Field::new("debias_source_id", DataType::Utf8, true),
        Field::new("debias_augmented", DataType::Boolean, false),
        Field::new("debias_rule", DataType::Utf8, true),
        Field::new("debias_groups", udf::group_list_type(), true),
        Field::new("debias_weight", DataType::Float64, false),
        Field::new("debias_edits", edits_type(), true),
    ]
}

/// Runs the rules' actions over the corpus and writes the output directory:
/// `data/part-NNNNN.parquet`, `manifest.json`, `README.md` (a dataset card),
/// `report/{before,after}.{json,md,html}` and `report/report.html` (the before/after page).
/// With `opts.resume`, the run can be resumed after an interruption (see
/// [`crate::pipeline::resume`]).
pub fn apply(rules: &RuleSet, inputs: &[String], opts: &ApplyOptions) -> Result<ApplyOutcome> {
    let mut job = Job::new(rules, inputs, opts)?;
    let work = job.work()?;
    let mut before = ScanStats::new(&rules.detector);
    let (plan, mut carried, counted) = job.plan(work.as_ref(), &mut before)?;
    let tmp = match &work {
        Some(w) => TempDir::kept(&opts.output, &w.output())?,
        None => TempDir::create(&opts.output)?,
    };
    let before_of_write = (!counted).then_some(&mut before);
    let wrote = job.write(
        plan.as_ref(),
        &mut carried,
        before_of_write,
        &tmp,
        work.as_ref(),
    )?;
    let account = job.check(&carried, &wrote)?;
    let (before, after) = job.reports(before, wrote.after, &account);
    let (started, passes, resumed) = (job.started, job.passes, job.resumed.clone());
    let manifest = job.manifest(account, plan, wrote.pass, wrote.files, wrote.weighted)?;
    write_artifacts(tmp.path(), &manifest, [&before, &after], &opts.formats)?;
    tmp.commit(&opts.output)?;
    if let Some(w) = work {
        w.remove();
    }
    Ok(ApplyOutcome {
        manifest,
        before,
        after,
        elapsed: started.elapsed(),
        passes,
        resumed,
    })
}

/// One run of `apply`: its inputs, its engine, and the passes done so far.
struct Job<'a> {
    rules: &'a RuleSet,
    opts: &'a ApplyOptions,
    started: Instant,
    threads: usize,
    files: Vec<InputFile>,
    empty_files: Vec<InputFile>,
    /// Each input's size and modification time before the first read.
    stamps: Vec<Option<(u64, std::time::SystemTime)>>,
    /// The inputs' hashes for the manifest, computed beside the passes.
    hashing: std::thread::JoinHandle<Vec<Result<String>>>,
    rt: tokio::runtime::Runtime,
    ctx: SessionContext,
    seed: u64,
    /// The index of the rebalance action, when there is one.
    rebalance: Option<usize>,
    uses_topics: bool,
    out_schema: SchemaRef,
    /// Input columns that the provenance columns replace.
    replaced: Vec<String>,
    /// Passes started so far, of `total_passes`.
    passes: usize,
    total_passes: usize,
    /// With `resume`: what was kept of an interrupted run.
    resumed: Option<Resumed>,
}

/// What the writing pass produced.
struct Wrote {
    pass: PassStats,
    after: ScanStats,
    files: Vec<crate::apply::manifest::FileEntry>,
    weighted: BTreeMap<GroupId, f64>,
}

impl<'a> Job<'a> {
    /// Checks the output and the inputs, and starts the engine.
    fn new(rules: &'a RuleSet, inputs: &[String], opts: &'a ApplyOptions) -> Result<Self> {
        let started = Instant::now();
        if opts.output.is_symlink() {
            return Err(Error::Usage(format!(
                "--output {} is a symbolic link; give the directory itself (the output replaces what is at that path)",
                opts.output.display()
            )));
        }
        if opts.output.exists() && !opts.overwrite {
            return Err(Error::Usage(format!(
                "{} already exists; pass --overwrite to replace it, or choose another --output",
                opts.output.display()
            )));
        }
        let threads = opts.threads.max(1);
        let (files, empty_files) = resolve_inputs(rules, inputs)?;
        if let Some(inside) = files.iter().find(|f| f.path.starts_with(&opts.output)) {
            return Err(Error::Usage(format!(
                "the input {} is inside the output directory {}; write the output elsewhere",
                inside.path.display(),
                opts.output.display()
            )));
        }
        // Compared when the passes are done: a file changed while it was read would give an
        // output that matches neither version.
        let stamps = input_stamps(&files);
        let hashing = hash_inputs(&files)?;
        let rt = runtime(threads)?;
        let scan_opts = ScanOptions {
            threads,
            memory_limit: opts.memory_limit,
            keep_types: true,
            ..ScanOptions::default()
        };
        let ctx = session(rules.detector.clone(), &scan_opts, true)?;
        let list = &rules.apply.actions;
        let uses_topics = list
            .iter()
            .any(|a| matches!(&a.kind, ActionKind::Rebalance(rb) if rb.context == Context::Topic));
        let rebalance = Actions::rebalance_index(list);
        let (out_schema, replaced) = output_schema(&rt, &ctx, &files, rules, uses_topics)?;
        Ok(Job {
            rules,
            opts,
            started,
            threads,
            files,
            empty_files,
            stamps,
            hashing,
            rt,
            ctx,
            seed: opts.seed.unwrap_or(rules.apply.seed),
            rebalance,
            uses_topics,
            out_schema,
            replaced,
            passes: 0,
            total_passes: 1 + uses_topics as usize + rebalance.is_some() as usize,
            resumed: None,
        })
    }

    /// The work directory of `opts.resume`, keyed by what the saved state depends on.
    fn work(&mut self) -> Result<Option<ApplyWork>> {
        let Some(dir) = &self.opts.resume else {
            return Ok(None);
        };
        let mut key = format!(
            "{}\0{}\0{:?}\0{}",
            env!("CARGO_PKG_VERSION"),
            self.rules.origin.sha256,
            self.rules.input,
            self.seed
        );
        for (f, stamp) in self.files.iter().zip(&self.stamps) {
            let modified = stamp
                .and_then(|(_, t)| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            key.push_str(&format!(
                "\0{}\0{}\0{modified}",
                f.path.to_string_lossy(),
                f.size
            ));
        }
        let key = format!("{:016x}", crate::hash::stable_hash(0, key.as_bytes()));
        self.resumed = Some(Resumed::default());
        ApplyWork::open(dir, &key, &self.opts.output).map(Some)
    }

    /// The rebalance plan (counted, or read back from `work`) and what the passes carry to
    /// the writing pass. Returns whether `before` holds the counts (else the writing pass
    /// counts them).
    fn plan(
        &mut self,
        work: Option<&ApplyWork>,
        before: &mut ScanStats,
    ) -> Result<(Option<RebalancePlan>, Carried, bool)> {
        if self.rebalance.is_none() {
            return Ok((None, self.carried()?, false));
        }
        if let Some(saved) = work.and_then(ApplyWork::plan) {
            self.total_passes -= 1;
            if let Some(r) = &mut self.resumed {
                r.plan = true;
            }
            *before = saved.before;
            // The writing pass detects (and assigns topics) itself.
            let mut carried = self.carried()?;
            carried.hits = None;
            carried.batches = None;
            return Ok((Some(saved.plan), carried, true));
        }
        let mut carried = self.carried()?;
        let plan = self.count(&mut carried, before)?;
        if let (Some(w), Some(plan)) = (work, &plan) {
            let saved = SavedPlan {
                plan: plan.clone(),
                before: before.clone(),
            };
            w.save_plan(&saved)?;
        }
        Ok((plan, carried, true))
    }

    /// Starts the next pass: its phase, and (unless the pass reports its own) its progress.
    fn begin_pass(&mut self, what: &str, start: bool) {
        self.passes += 1;
        if let Some(p) = &self.opts.progress {
            p.phase(&format!(
                "pass {}/{}: {what}",
                self.passes, self.total_passes
            ));
            if start {
                p.start(self.files.len(), self.files.iter().map(|f| f.size).sum());
            }
        }
    }

    /// Runs a pass over every input file and ends its progress. A file appended to between the
    /// passes shows as rows the first pass did not see: that is said, not an internal error.
    fn run(
        &self,
        actions: &Actions,
        sinks: &mut Sinks<'_>,
        carried: &mut Carried,
    ) -> Result<PassStats> {
        let pass = self.rt.block_on(run_pass(
            &self.ctx,
            self.rules,
            &self.files,
            actions,
            sinks,
            carried,
            self.opts,
        ));
        if let Some(p) = &self.opts.progress {
            p.finish();
        }
        pass.map_err(|e| changed_inputs(&self.files, &self.stamps).err().unwrap_or(e))
    }

    /// The actions, planned (`plan`) or counting up to the rebalance action (`stop_at`).
    fn actions(&self, plan: Option<&RebalancePlan>, stop_at: Option<usize>) -> Actions {
        Actions {
            list: self.rules.apply.actions.clone(),
            seed: self.seed,
            detector: self.rules.detector.clone(),
            plan: plan.cloned(),
            stop_at,
        }
    }

    /// What the passes carry to the next: with `context: topic`, the topics, fitted by a first
    /// read on a sample of the corpus; with a rebalance action, the counting pass's detections.
    fn carried(&mut self) -> Result<Carried> {
        let budget = self.opts.memory_limit.map_or(HITS_CACHE_BYTES, |m| m / 4);
        let topics = match (self.uses_topics, &self.rules.embedding) {
            (false, _) => None,
            (true, None) => {
                return Err(Error::Internal(
                    "context: topic without an embedding section".into(),
                ));
            }
            (true, Some(er)) => {
                self.begin_pass("fitting topics", false);
                let fit = TopicModel::fit(
                    &self.ctx,
                    self.rules,
                    er,
                    &self.files,
                    self.opts.progress.as_ref(),
                );
                Some(TopicState::new(self.rt.block_on(fit)?))
            }
        };
        Ok(Carried {
            topics,
            hits: self.rebalance.map(|_| HitsCache::new(budget)),
            batches: self.rebalance.map(|_| BatchCache::new(budget)),
        })
    }

    /// With a rebalance action, the counting pass: counts what reaches the action into
    /// `before` and plans the rebalance.
    fn count(
        &mut self,
        carried: &mut Carried,
        before: &mut ScanStats,
    ) -> Result<Option<RebalancePlan>> {
        let Some(k) = self.rebalance else {
            return Ok(None);
        };
        self.begin_pass("counting for the rebalance", true);
        let actions = self.actions(None, Some(k + 1));
        let mut sinks = Sinks {
            before: Some(before),
            after: None,
            out: None,
        };
        let pass = self.run(&actions, &mut sinks, carried)?;
        carried.counted();
        let list = &self.rules.apply.actions;
        let ActionKind::Rebalance(rb) = &list[k].kind else {
            unreachable!("rebalance_index points at a rebalance action")
        };
        let mut plan = RebalancePlan::new(&list[k], rb, &pass.counts, self.rules.taxonomy());
        if let Some(t) = &carried.topics {
            plan.topics = t.model.entries.clone();
        }
        Ok(Some(plan))
    }

    /// The writing pass, into `dir`; it also fills `before` when given. With `work`, the files
    /// an interrupted run finished are kept, and each finished file is recorded there.
    fn write(
        &mut self,
        plan: Option<&RebalancePlan>,
        carried: &mut Carried,
        before: Option<&mut ScanStats>,
        dir: &TempDir,
        work: Option<&ApplyWork>,
    ) -> Result<Wrote> {
        let actions = self.actions(plan, None);
        let mut after = ScanStats::new(&self.rules.detector);
        // Rows waiting for Parquet encoding: an eighth of `--memory-limit`, at most the default.
        let buffer = self
            .opts
            .memory_limit
            .map_or(ENCODE_BUFFER_BYTES, |m| (m / 8).min(ENCODE_BUFFER_BYTES));
        let rules = self.rules;
        let mut sink = Sink::new(
            dir.path(),
            self.out_schema.clone(),
            &rules.apply.output,
            &rules.input.text_column,
        )?
        .buffer(buffer);
        if let Some(w) = work {
            let done = w.written()?;
            if let Some(r) = &mut self.resumed {
                r.files = done.len();
                r.rows = done.iter().map(|f| f.rows).sum();
            }
            sink = sink.resume(done)?.on_close(Box::new(w.recorder()));
        }
        let mut sink = SinkThread::spawn(sink)?;
        let mut weighted: BTreeMap<GroupId, f64> = BTreeMap::new();
        self.begin_pass("writing", true);
        let mut sinks = Sinks {
            before,
            after: Some(&mut after),
            out: Some(Output {
                sink: &mut sink,
                schema: self.out_schema.clone(),
                weighted: &mut weighted,
            }),
        };
        let pass = self.run(&actions, &mut sinks, carried)?;
        Ok(Wrote {
            pass,
            after,
            files: sink.finish()?,
            weighted,
        })
    }

    /// Checks that the inputs did not change and that every row is accounted for; returns the
    /// account.
    fn check(&self, carried: &Carried, wrote: &Wrote) -> Result<crate::apply::Account> {
        changed_inputs(&self.files, &self.stamps)?;
        if let Some((read, kept)) = carried.unread() {
            return Err(Error::Internal(format!(
                "the writing pass read {read} rows, the counting pass {kept}"
            )));
        }
        let account = wrote.pass.account.clone();
        if account.read == 0 {
            return Err(Error::Input(InputError {
                path: None,
                line: None,
                message: format!(
                    "the input has no rows ({} file(s) read, all without rows); nothing was written",
                    self.files.len()
                ),
                help: Some(
                    "check the input paths; a CSV file needs a header line and at least one row"
                        .into(),
                ),
            }));
        }
        if let Err(e) = account.check() {
            return Err(Error::Internal(format!(
                "the row account does not balance: {e}"
            )));
        }
        let written_rows: u64 = wrote.files.iter().map(|f| f.rows).sum();
        if written_rows != account.written {
            return Err(Error::Internal(format!(
                "{} rows in the Parquet files, {} in the account",
                written_rows, account.written
            )));
        }
        Ok(account)
    }

    /// The reports before and after, which compare the rebalanced axis with the rebalance
    /// action's target; their row counts are the input's rows and the rows written.
    fn reports(
        &self,
        mut before: ScanStats,
        mut after: ScanStats,
        account: &crate::apply::Account,
    ) -> (Report, Report) {
        before.rows.read = account.read;
        before.rows.excluded_by_where = account.dropped.get("input.where").copied().unwrap_or(0);
        before.rows.null_text = account.dropped.get("null_text").copied().unwrap_or(0);
        before.rows.too_large = (account.dropped)
            .get("input.max_document_bytes")
            .copied()
            .unwrap_or(0);
        after.rows.read = account.written;
        let mut rules = self.rules.clone();
        rules.apply.seed = self.seed;
        if let Some(k) = self.rebalance
            && let ActionKind::Rebalance(rb) = &self.rules.apply.actions[k].kind
        {
            rules.targets[rb.axis] = Some(crate::rules::Target::Shares(rb.target.clone()));
        }
        let outcome = |stats: ScanStats| ScanOutcome {
            stats,
            files: self.files.clone(),
            empty_files: self.empty_files.clone(),
            elapsed: self.started.elapsed(),
            threads: self.threads,
            partitions: self.files.len(),
            embedding: None,
            resumed_files: 0,
        };
        (
            Report::build(&rules, &outcome(before)),
            Report::build(&rules, &outcome(after)),
        )
    }

    /// The manifest of the run, with every warning it gave.
    fn manifest(
        self,
        account: crate::apply::Account,
        plan: Option<RebalancePlan>,
        pass: PassStats,
        written: Vec<crate::apply::manifest::FileEntry>,
        weighted: BTreeMap<GroupId, f64>,
    ) -> Result<Manifest> {
        let list = &self.rules.apply.actions;
        let mut warnings: Vec<String> = self
            .empty_files
            .iter()
            .map(|f| format!("skipped empty file {}", f.path.display()))
            .collect();
        let filter_audit: Vec<FilterAuditEntry> = pass
            .audits
            .iter()
            .map(|(k, a)| audit_entry(&list[*k].name, a, self.rules))
            .collect();
        for a in &filter_audit {
            warnings.extend(a.warnings.iter().cloned());
        }
        if let Some(p) = &plan {
            warnings.extend(p.warnings.iter().map(|w| format!("{}: {w}", p.action)));
        }
        let input_hashes = self
            .hashing
            .join()
            .map_err(|_| Error::Internal("the hashing thread panicked".into()))?;
        build_manifest(
            self.rules,
            &self.files,
            input_hashes,
            self.seed,
            list,
            ManifestParts {
                account,
                replaced: self.replaced,
                written,
                filter_audit,
                plan,
                weighted,
                warnings,
            },
        )
    }
}

/// Hashes the inputs on a thread of its own, beside the passes.
fn hash_inputs(files: &[InputFile]) -> Result<std::thread::JoinHandle<Vec<Result<String>>>> {
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    std::thread::Builder::new()
        .name("debias-hash".into())
        .spawn(move || paths.iter().map(|p| sha256_file(p)).collect::<Vec<_>>())
        .map_err(|e| Error::bug_in("cannot start the hashing thread", e))
}

/// What a run produced, for its manifest.
struct ManifestParts {
    account: crate::apply::Account,
    replaced: Vec<String>,
    written: Vec<manifest::FileEntry>,
    filter_audit: Vec<FilterAuditEntry>,
    plan: Option<RebalancePlan>,
    weighted: BTreeMap<GroupId, f64>,
    warnings: Vec<String>,
}

/// The manifest of an `apply` output: inputs with their hashes, rules, seed, actions, the row
/// account, the files written, the filter audit and the rebalance plan.
fn build_manifest(
    rules: &RuleSet,
    files: &[InputFile],
    input_hashes: Vec<Result<String>>,
    seed: u64,
    list: &[crate::rules::actions::Action],
    parts: ManifestParts,
) -> Result<Manifest> {
    let tax = rules.taxonomy();
    Ok(Manifest {
        schema: manifest::SCHEMA.into(),
        version: manifest::SCHEMA_VERSION,
        tool: crate::report::Tool::current(),
        inputs: files
            .iter()
            .zip(input_hashes)
            .map(|(f, sha256)| {
                Ok(InputEntry {
                    path: f.path.display().to_string(),
                    bytes: f.size,
                    sha256: sha256?,
                })
            })
            .collect::<Result<Vec<_>>>()?,
        rules: RulesEntry {
            path: rules.origin.path.clone(),
            sha256: rules.origin.sha256.clone(),
        },
        seed,
        actions: list
            .iter()
            .map(|a| ActionEntry {
                name: a.name.clone(),
                kind: a.kind.name().into(),
            })
            .collect(),
        rows: manifest::Rows {
            account: parts.account,
            balanced: true,
        },
        replaced_columns: parts.replaced,
        output: OutputEntry {
            compression: rules.apply.output.compression.name().to_owned(),
            row_group_size: rules.apply.output.row_group_size,
            target_file_size: rules.apply.output.target_file_size,
            partition_by: rules.apply.output.partition_by.clone(),
            files: parts.written,
        },
        filter_audit: parts.filter_audit,
        rebalance: parts.plan,
        weighted_groups: parts
            .weighted
            .iter()
            .map(|(g, w)| (tax.groups[*g as usize].key.clone(), *w))
            .collect(),
        warnings: parts.warnings,
    })
}

/// The manifest, the dataset card and the reports of an `apply` output, into its temporary
/// directory `dir`: every file but the data.
fn write_artifacts(
    dir: &Path,
    manifest: &Manifest,
    [before_report, after_report]: [&Report; 2],
    formats: &[ReportFormat],
) -> Result<()> {
    let write = |rel: &str, text: &str| -> Result<()> {
        let p = dir.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::output(d, e))?;
        }
        std::fs::write(&p, text).map_err(|e| Error::output(&p, e))
    };
    write("manifest.json", &manifest.to_json())?;
    write(
        "README.md",
        &crate::report::card::apply_card(manifest, before_report, after_report),
    )?;
    let formats = if formats.is_empty() {
        &ReportFormat::ALL[..]
    } else {
        formats
    };
    for f in formats {
        write(
            &format!("report/before.{}", f.ext()),
            &f.render(before_report),
        )?;
        write(
            &format!("report/after.{}", f.ext()),
            &f.render(after_report),
        )?;
        if *f == ReportFormat::Html {
            write(
                "report/report.html",
                &crate::report::html::render_apply(manifest, before_report, after_report),
            )?;
        }
    }
    Ok(())
}

/// The output schema: the union of the files' columns (each file checked against the rules),
/// then the provenance columns; and the input columns that provenance columns replace. The
/// partition columns must be input columns other than the text.
fn output_schema(
    rt: &tokio::runtime::Runtime,
    ctx: &SessionContext,
    files: &[InputFile],
    rules: &RuleSet,
    uses_topics: bool,
) -> Result<(SchemaRef, Vec<String>)> {
    let schemas = rt.block_on(async {
        let mut v = Vec::new();
        for f in files {
            v.push(read::schema(ctx, rules, f).await?);
        }
        Ok::<_, Error>(v)
    })?;
    let input_schema = Schema::try_merge(same_string_types(schemas)).map_err(|e| {
        Error::Input(InputError {
            path: None,
            line: None,
            message: format!("the input files' columns do not agree: {e}"),
            help: Some(
                "give a column the same type in every file, or apply the files separately".into(),
            ),
        })
    })?;
    let mut provenance: Vec<&str> = PROVENANCE.to_vec();
    if uses_topics {
        provenance.push(TOPIC_COLUMN);
    }
    let chained = input_schema.field_with_name("debias_id").is_ok();
    if chained {
        provenance.push(LINEAGE_COLUMN);
    }
    let replaced: Vec<String> = input_schema
        .fields()
        .iter()
        .filter(|f| provenance.contains(&f.name().as_str()))
        .map(|f| f.name().clone())
        .collect();
    let mut fields: Vec<Field> = input_schema
        .fields()
        .iter()
        .filter(|f| !provenance.contains(&f.name().as_str()))
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    fields.extend(provenance_fields());
    if uses_topics {
        fields.push(Field::new(TOPIC_COLUMN, DataType::Int32, true));
    }
    if chained {
        fields.push(Field::new(LINEAGE_COLUMN, lineage_type(), true));
    }
    let out_schema: SchemaRef = Arc::new(Schema::new(fields));
    for c in &rules.apply.output.partition_by {
        if c == &rules.input.text_column {
            return Err(Error::Usage(format!(
                "output.partition_by: `{c}` is the text column, whose every value would be a directory; partition by a column with few values (language, source)"
            )));
        }
        if input_schema.field_with_name(c).is_err() {
            return Err(Error::Usage(format!(
                "output.partition_by: no column `{c}` to partition by; the input's columns are {}",
                column_list(&input_schema)
            )));
        }
    }
    Ok((out_schema, replaced))
}

/// The files' schemas with one type for each string (or binary) column that the files store
/// in different flavours (Utf8, LargeUtf8, Utf8View): the widest of them, so that a corpus of
/// JSONL and Parquet files, or of Parquet files from different writers, merges; each batch is
/// cast to it when written.
fn same_string_types(schemas: Vec<Schema>) -> Vec<Schema> {
    fn family(t: &DataType) -> Option<u8> {
        match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(0),
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Some(1),
            _ => None,
        }
    }
    fn widest(a: &DataType, b: &DataType) -> DataType {
        use DataType::*;
        match (a, b) {
            (LargeUtf8, _) | (_, LargeUtf8) => LargeUtf8,
            (LargeBinary, _) | (_, LargeBinary) => LargeBinary,
            (Utf8, _) | (_, Utf8) => Utf8,
            (Binary, _) | (_, Binary) => Binary,
            _ => a.clone(),
        }
    }
    let mut chosen: BTreeMap<String, DataType> = BTreeMap::new();
    for s in &schemas {
        for f in s.fields() {
            let t = f.data_type();
            match chosen.get(f.name()) {
                Some(c) if c != t && family(c).is_some() && family(c) == family(t) => {
                    let w = widest(c, t);
                    chosen.insert(f.name().clone(), w);
                }
                Some(_) => {}
                None => {
                    chosen.insert(f.name().clone(), t.clone());
                }
            }
        }
    }
    schemas
        .into_iter()
        .map(|s| {
            let fields: Vec<Field> = s
                .fields()
                .iter()
                .map(|f| match chosen.get(f.name()) {
                    Some(t) if family(t).is_some() && family(t) == family(f.data_type()) => {
                        f.as_ref().clone().with_data_type(t.clone())
                    }
                    _ => f.as_ref().clone(),
                })
                .collect();
            Schema::new_with_metadata(fields, s.metadata().clone())
        })
        .collect()
}

/// The size and modification time of each input file.
fn input_stamps(files: &[InputFile]) -> Vec<Option<(u64, std::time::SystemTime)>> {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(&f.path)
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?)))
        })
        .collect()
}

/// An input error when a file's size or modification time is not what it was at the start.
fn changed_inputs(
    files: &[InputFile],
    stamps: &[Option<(u64, std::time::SystemTime)>],
) -> Result<()> {
    for (f, (then, now)) in files.iter().zip(stamps.iter().zip(input_stamps(files))) {
        if *then != now {
            return Err(Error::Input(
                InputError {
                    path: Some(f.path.clone()),
                    line: None,
                    message: "the file changed while debias was reading it (its size or modification time is not what it was at the start); nothing was written".into(),
                    help: None,
                }
                .with_help("run again once the file is complete and no longer written to"),
            ));
        }
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = super::store::open(path).map_err(|e| Error::input(path, e.to_string()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::output(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(crate::rules::hex(&h.finalize()))
}

fn audit_entry(name: &str, a: &crate::apply::FilterAudit, rules: &RuleSet) -> FilterAuditEntry {
    let tax = rules.taxonomy();
    let groups: Vec<GroupImpact> = a
        .groups
        .iter()
        .map(|(g, (reached, removed))| GroupImpact {
            group: tax.groups[*g as usize].key.clone(),
            reached: *reached,
            removed: *removed,
            removed_share: if *reached > 0 {
                *removed as f64 / *reached as f64
            } else {
                0.0
            },
        })
        .collect();
    let mut retention_ratio = BTreeMap::new();
    let mut warnings = Vec::new();
    for (ai, axis) in tax.demographic_axes() {
        let rates: Vec<(&str, f64)> = a
            .groups
            .iter()
            .filter(|(g, (reached, _))| {
                tax.groups[**g as usize].axis == ai && *reached >= manifest::AUDIT_MIN_ROWS
            })
            .map(|(g, (reached, removed))| {
                (
                    tax.groups[*g as usize].key.as_str(),
                    1.0 - *removed as f64 / *reached as f64,
                )
            })
            .collect();
        if rates.len() < 2 {
            continue;
        }
        let (lo, hi) = rates.iter().fold((rates[0], rates[0]), |(lo, hi), &r| {
            (
                if r.1 < lo.1 { r } else { lo },
                if r.1 > hi.1 { r } else { hi },
            )
        });
        let ratio = if hi.1 > 0.0 { lo.1 / hi.1 } else { 1.0 };
        retention_ratio.insert(axis.name.clone(), ratio);
        if ratio < manifest::AUDIT_RATIO {
            warnings.push(format!(
                "{name}: removes {:.1}% of {} but {:.1}% of {} (retention ratio {:.2} < {}); check that the filter does not erase a group",
                100.0 * (1.0 - lo.1),
                lo.0,
                100.0 * (1.0 - hi.1),
                hi.0,
                ratio,
                manifest::AUDIT_RATIO
            ));
        }
    }
    FilterAuditEntry {
        action: name.to_owned(),
        reached: a.reached,
        removed: a.removed,
        groups,
        retention_ratio,
        warnings,
    }
}

/// Per-thread report statistics of a pass: the rows' workers fold their documents here, and
/// the slots are merged when the pass ends. [`ScanStats`] holds only integer counts and
/// examples chosen by rank, so the merged result does not depend on which thread saw which
/// row.
struct StatSlots(Vec<std::sync::Mutex<StatSlot>>);

struct StatSlot {
    before: ScanStats,
    after: ScanStats,
    scratch: Scratch,
    /// The row account, filter audits and rebalance counts: integer sums (units are
    /// documents or tokens), so the merged result does not depend on the split either.
    pass: PassStats,
}

impl StatSlots {
    fn new(rules: &RuleSet) -> Self {
        let n = rayon::current_num_threads().max(1);
        StatSlots(
            (0..n)
                .map(|_| {
                    std::sync::Mutex::new(StatSlot {
                        before: ScanStats::new(&rules.detector),
                        after: ScanStats::new(&rules.detector),
                        scratch: Scratch::default(),
                        pass: PassStats::default(),
                    })
                })
                .collect(),
        )
    }

    /// The calling worker's slot.
    fn mine(&self) -> std::sync::MutexGuard<'_, StatSlot> {
        let k = rayon::current_thread_index().unwrap_or(0) % self.0.len();
        self.0[k].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Merges the slots into the sinks' stats; returns the pass's account, audits and counts.
    fn merge_into(self, sinks: &mut Sinks<'_>, examples: usize) -> PassStats {
        let mut total = PassStats::default();
        for slot in self.0 {
            let slot = slot.into_inner().unwrap_or_else(|e| e.into_inner());
            total.merge(&slot.pass);
            if let Some(b) = sinks.before.as_deref_mut() {
                b.merge(slot.before, examples);
            }
            if let Some(a) = sinks.after.as_deref_mut() {
                a.merge(slot.after, examples);
            }
        }
        total
    }
}

/// Where a pass puts what it sees.
struct Sinks<'a> {
    /// Statistics of the documents as read.
    before: Option<&'a mut ScanStats>,
    /// Statistics of the rows written.
    after: Option<&'a mut ScanStats>,
    out: Option<Output<'a>>,
}

/// What the counting pass keeps, per input row in reading order, for the writing pass.
struct Carried {
    /// With `context: topic`: each row's topic.
    topics: Option<TopicState>,
    /// With a rebalance action: each row's detections.
    hits: Option<HitsCache>,
    /// With a rebalance action: the input's batches, file by file.
    batches: Option<BatchCache>,
}

impl Carried {
    /// The counting pass is done: the next pass reads back what it kept.
    fn counted(&mut self) {
        if let Some(h) = &mut self.hits {
            h.filling = false;
        }
        if let Some(b) = &mut self.batches {
            b.filling = false;
        }
        if let Some(t) = &mut self.topics {
            t.filling = false;
        }
    }

    /// (rows read back, rows kept) of a cache that the writing pass did not read to its end.
    fn unread(&self) -> Option<(usize, usize)> {
        let topics = (self.topics.as_ref())
            .filter(|t| !t.filling)
            .map(|t| (t.cursor, t.rows.len()));
        let hits = self
            .hits
            .as_ref()
            .filter(|h| !h.full)
            .map(|h| (h.cursor, h.rows()));
        [topics, hits].into_iter().flatten().find(|(r, k)| r != k)
    }
}

/// The topics of a `context: topic` run: fitted before the counting pass, which assigns each
/// row its topic (2 bytes per input row, kept for the writing pass).
struct TopicState {
    model: TopicModel,
    /// Per input row in reading order: its topic, or [`NO_TOPIC`].
    rows: Vec<u16>,
    /// Whether this pass assigns topics (else it reads them back from `cursor`).
    filling: bool,
    cursor: usize,
}

/// The topic of a row whose text is not scanned.
const NO_TOPIC: u16 = u16::MAX;

impl TopicState {
    fn new(model: TopicModel) -> Self {
        TopicState {
            model,
            rows: Vec::new(),
            filling: true,
            cursor: 0,
        }
    }

    /// The topics of a batch's rows: assigned (the counting pass) or read back.
    fn batch(
        &mut self,
        texts: &[Option<&str>],
        scanned: impl Fn(usize) -> bool,
    ) -> Result<Vec<u16>> {
        let n = texts.len();
        if self.filling {
            let idx: Vec<usize> = (0..n)
                .filter(|&i| scanned(i) && texts[i].is_some())
                .collect();
            let chosen: Vec<&str> = idx.iter().map(|&i| texts[i].unwrap_or_default()).collect();
            let mut out = vec![NO_TOPIC; n];
            for (i, t) in idx.into_iter().zip(self.model.assign(&chosen)?) {
                out[i] = t;
            }
            self.rows.extend_from_slice(&out);
            return Ok(out);
        }
        let Some(out) = self.rows.get(self.cursor..self.cursor + n) else {
            return Err(Error::Internal(
                "the writing pass read more rows than the counting pass".into(),
            ));
        };
        self.cursor += n;
        Ok(out.to_vec())
    }
}

/// Memory for [`HitsCache`] (a quarter of `--memory-limit` when there is one): about 50
/// million documents of prose. As much again for [`BatchCache`].
const HITS_CACHE_BYTES: usize = 512 << 20;

/// The counting pass's input batches (the plan's output less the detections, which the
/// [`HitsCache`] keeps), file by file, for the writing pass: a file kept whole is not read,
/// nor its JSON or CSV decoded, again. Up to a memory budget (the batches' buffers): the
/// first file that does not fit is let go, and it and every later file are read again. The
/// writing pass sees the same rows in the same order either way.
struct BatchCache {
    /// Per file in reading order: its batches, or `None` when it did not fit.
    files: Vec<Option<Vec<RecordBatch>>>,
    bytes: usize,
    budget: usize,
    /// The budget ran out: later files are not kept.
    full: bool,
    /// Whether this pass keeps batches (else it takes them back).
    filling: bool,
}

impl BatchCache {
    fn new(budget: usize) -> Self {
        BatchCache {
            files: Vec::new(),
            bytes: 0,
            budget,
            full: false,
            filling: true,
        }
    }

    /// The counting pass starts file `f` (files come in order, from 0).
    fn begin(&mut self, f: usize) {
        debug_assert_eq!(self.files.len(), f);
        self.files.push((!self.full).then(Vec::new));
    }

    /// The counting pass: keeps `batch` of the current file, less the detections column,
    /// unless the budget runs out (then the file is let go).
    fn keep(&mut self, batch: &RecordBatch) -> Result<()> {
        let Some(Some(kept)) = self.files.last_mut() else {
            return Ok(());
        };
        let schema = batch.schema();
        let columns: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| schema.field(i).name() != read::cols::HITS)
            .collect();
        let batch = batch.project(&columns).map_err(Error::bug)?;
        let size = batch.get_array_memory_size();
        if self.bytes + size > self.budget {
            self.bytes -= kept
                .iter()
                .map(|b| b.get_array_memory_size())
                .sum::<usize>();
            *self.files.last_mut().expect("a current file") = None;
            self.full = true;
            return Ok(());
        }
        self.bytes += size;
        kept.push(batch);
        Ok(())
    }

    /// The writing pass: file `f`'s batches, when it was kept whole.
    fn take(&mut self, f: usize) -> Option<Vec<RecordBatch>> {
        let batches = self.files.get_mut(f)?.take()?;
        self.bytes -= batches
            .iter()
            .map(|b| b.get_array_memory_size())
            .sum::<usize>();
        Some(batches)
    }
}

/// The detections of the counting pass, kept for the writing pass: per input row in reading
/// order, its terms and counts (LEB128: the number of terms, then each term id as the
/// difference from the previous one and its count; about 5 bytes a row of prose, plus a
/// 4-byte offset), and its [`RewriteMemo`], up to a memory budget. Rows past the budget are
/// detected and rewritten again.
struct HitsCache {
    /// Row `k`'s encoding is `bytes[offsets[k]..offsets[k + 1]]`.
    offsets: Vec<u32>,
    bytes: Vec<u8>,
    /// Row `k`'s [`RewriteMemo`] is `rewrite_bytes[rewrite_offsets[k]..rewrite_offsets[k + 1]]`
    /// (the number of calls, then per call 0 for nothing rewritten, or 1 and the rewritten
    /// text's terms as above): one byte for most rows.
    rewrite_offsets: Vec<u32>,
    rewrite_bytes: Vec<u8>,
    budget: usize,
    /// The budget ran out: later rows are not kept.
    full: bool,
    /// Whether this pass keeps rows (else it reads them back from `cursor`).
    filling: bool,
    cursor: usize,
}

impl HitsCache {
    fn new(budget: usize) -> Self {
        HitsCache {
            offsets: vec![0],
            bytes: Vec::new(),
            rewrite_offsets: vec![0],
            rewrite_bytes: Vec::new(),
            // The offsets are u32.
            budget: budget.min(u32::MAX as usize),
            full: false,
            filling: true,
            cursor: 0,
        }
    }

    /// Rows kept.
    fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The counting pass: keeps the `n` rows of a batch (a row without hits, or not
    /// scanned, as no terms), unless they do not fit in the budget.
    fn keep(&mut self, cols: &PlanColumns<'_>, n: usize) {
        self.keep_rows(n, |i, h| cols.hits_into(i, h));
    }

    fn keep_rows(&mut self, n: usize, mut hits: impl FnMut(usize, &mut DocHits)) {
        if self.full {
            return;
        }
        let (rows, bytes) = (self.offsets.len(), self.bytes.len());
        let mut h = DocHits::default();
        for i in 0..n {
            hits(i, &mut h);
            put_hits(&mut self.bytes, &h);
            self.offsets.push(self.bytes.len() as u32);
        }
        self.rewrite_offsets.reserve(n);
        self.rewrite_bytes.reserve(n);
        if self.used() > self.budget {
            self.offsets.truncate(rows);
            self.bytes.truncate(bytes);
            self.let_go();
        }
    }

    /// Bytes held.
    fn used(&self) -> usize {
        self.bytes.capacity()
            + 4 * self.offsets.capacity()
            + self.rewrite_bytes.capacity()
            + 4 * self.rewrite_offsets.capacity()
    }

    /// The budget ran out: keeps what is kept, and no more.
    fn let_go(&mut self) {
        self.offsets.shrink_to_fit();
        self.bytes.shrink_to_fit();
        self.rewrite_offsets.shrink_to_fit();
        self.rewrite_bytes.shrink_to_fit();
        self.full = true;
    }

    /// The counting pass, after [`Self::keep_rows`] kept a batch whole: the [`RewriteMemo`]
    /// of each of its rows, encoded (see `rewrite_bytes`). When they do not fit, the batch's
    /// rows are let go, detections too.
    fn keep_rewrites<'a>(&mut self, memos: impl ExactSizeIterator<Item = &'a [u8]>) {
        let n = memos.len();
        let (rows, bytes) = (self.rewrite_offsets.len(), self.rewrite_bytes.len());
        debug_assert_eq!(rows + n, self.offsets.len());
        for m in memos {
            self.rewrite_bytes.extend_from_slice(m);
            self.rewrite_offsets.push(self.rewrite_bytes.len() as u32);
        }
        if self.used() > self.budget {
            self.rewrite_offsets.truncate(rows);
            self.rewrite_bytes.truncate(bytes);
            let start = self.offsets[rows - 1];
            self.offsets.truncate(rows);
            self.bytes.truncate(start as usize);
            self.let_go();
        }
    }

    /// The writing pass: row `k`'s rewrites in the counting pass, when kept.
    fn rewrites(&self, k: usize) -> Option<Vec<Option<DocHits>>> {
        let (&s, &e) = (
            self.rewrite_offsets.get(k)?,
            self.rewrite_offsets.get(k + 1)?,
        );
        let mut bytes = &self.rewrite_bytes[s as usize..e as usize];
        let n = get_varint(&mut bytes);
        Some(
            (0..n)
                .map(|_| {
                    (get_varint(&mut bytes) == 1).then(|| {
                        let mut h = DocHits::default();
                        get_hits(&mut bytes, &mut h);
                        h
                    })
                })
                .collect(),
        )
    }

    /// The writing pass: row `k`'s terms into `out`; false when row `k` was not kept.
    fn get(&self, k: usize, out: &mut DocHits) -> bool {
        let (Some(&s), Some(&e)) = (self.offsets.get(k), self.offsets.get(k + 1)) else {
            return false;
        };
        let mut bytes = &self.bytes[s as usize..e as usize];
        get_hits(&mut bytes, out);
        true
    }
}

/// A row's rewrites encoded for [`HitsCache::keep_rewrites`].
fn encode_rewrites(memo: &RewriteMemo) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, memo.calls.len() as u32);
    for c in &memo.calls {
        match c {
            None => out.push(0),
            Some(h) => {
                out.push(1);
                put_hits(&mut out, h);
            }
        }
    }
    out
}

/// The number of terms, then each term id as the difference from the previous one and its
/// count, in LEB128.
fn put_hits(out: &mut Vec<u8>, h: &DocHits) {
    put_varint(out, h.terms.len() as u32);
    let mut last = 0;
    for &(t, c) in &h.terms {
        put_varint(out, t - last);
        put_varint(out, c);
        last = t;
    }
}

fn get_hits(bytes: &mut &[u8], out: &mut DocHits) {
    out.terms.clear();
    let n = get_varint(bytes);
    let mut last = 0;
    for _ in 0..n {
        last += get_varint(bytes);
        out.terms.push((last, get_varint(bytes)));
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &mut &[u8]) -> u32 {
    let mut v = 0u32;
    let mut shift = 0;
    while let Some((&b, rest)) = bytes.split_first() {
        *bytes = rest;
        v |= ((b & 0x7f) as u32) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    v
}

struct Output<'a> {
    sink: &'a mut SinkThread,
    schema: SchemaRef,
    weighted: &'a mut BTreeMap<GroupId, f64>,
}

/// The names of the predicate columns of action `k`.
fn scope_col(k: usize) -> String {
    format!("__debias_scope_{k}")
}
fn drop_col(k: usize) -> String {
    format!("__debias_drop_{k}")
}

async fn run_pass(
    ctx: &SessionContext,
    rules: &RuleSet,
    files: &[InputFile],
    actions: &Actions,
    sinks: &mut Sinks<'_>,
    carried: &mut Carried,
    opts: &ApplyOptions,
) -> Result<PassStats> {
    // The writing pass reads the counting pass's detections back: no detection in its plan.
    let detect = carried.hits.as_ref().is_none_or(|h| h.filling);
    let slots = StatSlots::new(rules);
    for (fi, f) in files.iter().enumerate() {
        let mut row = 0u64;
        match &mut carried.batches {
            Some(b) if b.filling => b.begin(fi),
            Some(b) => {
                if let Some(kept) = b.take(fi) {
                    for batch in kept {
                        let (docs, bytes) = process_batch(
                            &batch, rules, f, actions, &mut row, sinks, &slots, carried,
                        )?;
                        if let Some(p) = &opts.progress {
                            p.batch(docs, bytes);
                        }
                    }
                    continue;
                }
            }
            None => {}
        }
        let wanted = pass_columns(actions, detect);
        read::for_each_batch(ctx, rules, f, &wanted, |batch| {
            if let Some(b) = carried.batches.as_mut().filter(|b| b.filling) {
                b.keep(batch)?;
            }
            let (docs, bytes) =
                process_batch(batch, rules, f, actions, &mut row, sinks, &slots, carried)?;
            if let Some(p) = &opts.progress {
                p.batch(docs, bytes);
            }
            Ok(())
        })
        .await?;
    }
    Ok(slots.merge_into(sinks, rules.report.examples))
}

/// What a pass reads of each file: every input column (they are written out), the detection
/// hits when the pass detects, and the SQL predicates of the actions.
fn pass_columns(actions: &Actions, detect: bool) -> read::Wanted {
    let mut predicates = Vec::new();
    for (k, a) in actions.list.iter().enumerate() {
        let mut predicate = |sql: &str, what: &str, alias: String| {
            predicates.push(read::Predicate {
                sql: sql.to_owned(),
                alias,
                what: format!("action `{}`: `{what}: {sql}`", a.name),
            })
        };
        if let Some(sql) = &a.scope.where_sql {
            predicate(sql, "scope.where", scope_col(k));
        }
        if let ActionKind::Drop(d) = &a.kind
            && let Some(sql) = &d.where_sql
        {
            predicate(sql, "where", drop_col(k));
        }
    }
    read::Wanted {
        input_columns: true,
        hits: detect,
        predicates,
    }
}

/// One input row processed: whether it was scanned (false for a row outside `input.where` or
/// without text), and its output rows.
/// With the row's rewrites, encoded, when the counting pass keeps them.
type RowResult = (bool, Vec<OutRow>, Vec<u8>);

/// Runs the actions over one batch of a pass (its rows in parallel), counts them into the
/// pass's sinks and writes the output rows; returns (documents, text bytes).
#[allow(clippy::too_many_arguments)]
fn process_batch(
    batch: &RecordBatch,
    rules: &RuleSet,
    f: &InputFile,
    actions: &Actions,
    row: &mut u64,
    sinks: &mut Sinks<'_>,
    slots: &StatSlots,
    carried: &mut Carried,
) -> Result<(u64, u64)> {
    let cols = PlanColumns::of(batch)?;
    let (record, kept) = batch_hits(&mut carried.hits, &cols, batch.num_rows());
    if cols.hits.is_none() && kept.is_none() {
        return Err(Error::Internal(
            "the apply plan lost its hits column".into(),
        ));
    }
    let topic_of = match &mut carried.topics {
        Some(t) => {
            let selected = |i: usize| cols.selected.is_none_or(|s| s.value(i));
            Some(t.batch(&cols.texts, selected)?)
        }
        None => None,
    };
    let n_actions = actions.list.len();
    let bools = |name: String| batch.column_by_name(&name).map(|a| a.as_boolean().clone());
    let rows = BatchRows {
        rules,
        f,
        actions,
        first_row: *row,
        scope: (0..n_actions).map(|k| bools(scope_col(k))).collect(),
        drops: (0..n_actions).map(|k| bools(drop_col(k))).collect(),
        topic_of: topic_of.as_deref(),
        kept,
        record,
        slots,
        want_before: sinks.before.is_some(),
        want_after: sinks.after.is_some(),
        cols: &cols,
    };
    *row += batch.num_rows() as u64;
    let results: Vec<RowResult> = (0..batch.num_rows())
        .into_par_iter()
        .map(|i| rows.process(i))
        .collect();
    if record && let Some(h) = &mut carried.hits {
        h.keep_rewrites(results.iter().map(|r| r.2.as_slice()));
    }
    write_rows(batch, rules, &cols, results, topic_of.as_deref(), sinks)
}

/// Where the detections of a batch's rows come from: the plan, or the counting pass's cache
/// (with the batch's first row in it). Returns whether this pass keeps the batch's detections
/// and rewrites (the counting pass, within its memory budget).
fn batch_hits<'c>(
    cache: &'c mut Option<HitsCache>,
    cols: &PlanColumns<'_>,
    n: usize,
) -> (bool, Option<(&'c HitsCache, usize)>) {
    match cache {
        Some(h) if h.filling => {
            let before = h.rows();
            h.keep(cols, n);
            (h.rows() == before + n, None)
        }
        Some(h) => {
            let first = h.cursor;
            h.cursor += n;
            (false, Some((&*h, first)))
        }
        None => (false, None),
    }
}

/// The rows of one batch, with what the actions need to process each of them on its own.
struct BatchRows<'a> {
    rules: &'a RuleSet,
    f: &'a InputFile,
    actions: &'a Actions,
    cols: &'a PlanColumns<'a>,
    /// The file's row number of the batch's first row.
    first_row: u64,
    /// Per action: its `scope.where`, and a drop's `where`, when it has one.
    scope: Vec<Option<BooleanArray>>,
    drops: Vec<Option<BooleanArray>>,
    topic_of: Option<&'a [u16]>,
    /// The counting pass's detections, and the batch's first row in them.
    kept: Option<(&'a HitsCache, usize)>,
    /// Whether this pass keeps each row's rewrites.
    record: bool,
    slots: &'a StatSlots,
    want_before: bool,
    want_after: bool,
}

impl BatchRows<'_> {
    /// Runs the actions over row `i` and counts it.
    fn process(&self, i: usize) -> RowResult {
        let text = match self.cols.row(i) {
            Row::Excluded => return self.skip("input.where"),
            Row::NullText => return self.skip("null_text"),
            Row::TooLarge => return self.skip("input.max_document_bytes"),
            Row::Doc(text) => text,
        };
        let id = self
            .cols
            .id(i, self.f, self.first_row + i as u64, &mut String::new())
            .to_owned();
        let doc = Doc {
            id: &id,
            text,
            source: self.cols.sources.as_ref().and_then(|s| s[i]),
            hits: self.hits(i, text),
            scope_sql: self.flags(&self.scope, i),
            drop_sql: self.flags(&self.drops, i),
            topic: self.topic_of.map(|t| t[i]).filter(|&t| t != NO_TOPIC),
        };
        let mut memo = match self.kept {
            _ if self.record => RewriteMemo::recording(),
            Some((h, first)) => h
                .rewrites(first + i)
                .map(RewriteMemo::known)
                .unwrap_or_default(),
            None => RewriteMemo::default(),
        };
        let mut stats = PassStats::default();
        let rows = self.actions.process(&doc, &mut stats, &mut memo);
        self.count(i, &doc, &stats, &rows);
        let memo = if self.record {
            encode_rewrites(&memo)
        } else {
            Vec::new()
        };
        (true, rows, memo)
    }

    /// A row that is not scanned, dropped for `reason`.
    fn skip(&self, reason: &str) -> RowResult {
        let slot = &mut *self.slots.mine();
        slot.pass.account.read += 1;
        crate::apply::bump(&mut slot.pass.account.dropped, reason);
        let memo = self
            .record
            .then(|| encode_rewrites(&RewriteMemo::default()));
        (false, Vec::new(), memo.unwrap_or_default())
    }

    /// The detections of row `i`: from the plan, from the counting pass, or (past the cache's
    /// memory budget) detected again.
    fn hits(&self, i: usize, text: &str) -> DocHits {
        let mut hits = DocHits::default();
        match self.kept {
            None => self.cols.hits_into(i, &mut hits),
            Some((h, first)) => {
                if !h.get(first + i, &mut hits) {
                    self.rules.detector.detect(text, &mut Vec::new(), &mut hits);
                }
            }
        }
        hits
    }

    /// Per action, whether its predicate holds for row `i` (true without one).
    fn flags(&self, predicates: &[Option<BooleanArray>], i: usize) -> Vec<bool> {
        predicates
            .iter()
            .map(|c| c.as_ref().is_none_or(|c| c.value(i)))
            .collect()
    }

    /// Counts a processed row into this thread's slot: the pass, and the reports before (the
    /// original) and after (its output rows).
    fn count(&self, i: usize, doc: &Doc<'_>, stats: &PassStats, rows: &[OutRow]) {
        let (report, detector) = (&self.rules.report, &self.rules.detector);
        let slot = &mut *self.slots.mine();
        slot.pass.merge(stats);
        slot.pass.account.read += 1;
        slot.pass.account.record(&self.actions.list, rows);
        let source = self.cols.sources.as_ref().map(|s| s[i]);
        if self.want_before {
            slot.before.add(
                detector,
                doc.id,
                doc.text,
                &doc.hits,
                source,
                report.examples,
                report.snippet_chars,
                &mut slot.scratch,
            );
        }
        if self.want_after {
            for r in rows {
                slot.after.add(
                    detector,
                    &r.id,
                    r.text(doc.text),
                    &r.hits,
                    source,
                    report.examples,
                    report.snippet_chars,
                    &mut slot.scratch,
                );
            }
        }
    }
}

/// Writes the output rows of a processed batch (when the pass writes) and weighs their
/// groups; returns (documents, text bytes) scanned.
fn write_rows(
    batch: &RecordBatch,
    rules: &RuleSet,
    cols: &PlanColumns<'_>,
    results: Vec<RowResult>,
    topic_of: Option<&[u16]>,
    sinks: &mut Sinks<'_>,
) -> Result<(u64, u64)> {
    let tax = rules.detector.taxonomy();
    let mut indices: Vec<u32> = Vec::new();
    let mut out_rows: Vec<OutRow> = Vec::new();
    let (mut docs, mut bytes) = (0u64, 0u64);
    for (i, (scanned, rows, _)) in results.into_iter().enumerate() {
        if !scanned {
            continue;
        }
        let text = cols.texts[i].expect("scanned rows have a text");
        docs += 1;
        bytes += text.len() as u64;
        if let Some(out) = sinks.out.as_mut() {
            for r in rows {
                for (g, _) in r.hits.groups(tax) {
                    if tax.is_demographic(g) {
                        *out.weighted.entry(g).or_default() += r.weight;
                    }
                }
                indices.push(i as u32);
                out_rows.push(r);
            }
        }
    }
    if let Some(out) = sinks.out.as_mut()
        && !out_rows.is_empty()
    {
        let b = output_batch(
            batch,
            &out.schema,
            &rules.input.text_column,
            &cols.texts,
            &indices,
            &out_rows,
            topic_of,
            rules,
        )?;
        out.sink.write(b)?;
    }
    Ok((docs, bytes))
}

/// The lineage of each output row: its input row's lineage, then its input row's provenance.
fn lineage_array(batch: &RecordBatch, indices: &[u32]) -> Result<ArrayRef> {
    let err = |e: datafusion::arrow::error::ArrowError| Error::bug(e);
    let column = |name: &str, ty: &DataType| -> Result<Option<ArrayRef>> {
        let c = batch.column_by_name(name);
        c.map(|c| cast(c, ty)).transpose().map_err(err)
    };
    let current = [
        column("debias_id", &DataType::Utf8)?,
        column("debias_source_id", &DataType::Utf8)?,
        column("debias_rule", &DataType::Utf8)?,
        column("debias_augmented", &DataType::Boolean)?,
        column("debias_weight", &DataType::Float64)?,
    ];
    let earlier = column(LINEAGE_COLUMN, &lineage_type())?;
    let fields = lineage_fields();
    let mut b = ListBuilder::new(StructBuilder::from_fields(fields.clone(), indices.len()))
        .with_field(Arc::new(Field::new("item", DataType::Struct(fields), true)));
    for &i in indices {
        let i = i as usize;
        if let Some(list) = earlier.as_ref().map(|e| e.as_list::<i32>())
            && list.is_valid(i)
        {
            let items = list.value(i);
            let items = items.as_struct();
            for k in 0..items.len() {
                append_lineage(b.values(), items.columns(), k);
            }
        }
        let present: Vec<ArrayRef> = current
            .iter()
            .zip(lineage_fields().iter())
            .map(|(c, f)| {
                c.clone().unwrap_or_else(|| {
                    datafusion::arrow::array::new_null_array(f.data_type(), batch.num_rows())
                })
            })
            .collect();
        append_lineage(b.values(), &present, i);
        b.append(true);
    }
    Ok(Arc::new(b.finish()))
}

/// Appends row `k` of the lineage columns `cols` (id, source id, rule, augmented, weight).
fn append_lineage(s: &mut StructBuilder, cols: &[ArrayRef], k: usize) {
    for (f, c) in cols.iter().enumerate().take(3) {
        let v = c.as_string::<i32>();
        let b = s.field_builder::<StringBuilder>(f).expect("a string field");
        b.append_option(v.is_valid(k).then(|| v.value(k)));
    }
    let augmented = cols[3].as_boolean();
    s.field_builder::<BooleanBuilder>(3)
        .expect("a boolean field")
        .append_option(augmented.is_valid(k).then(|| augmented.value(k)));
    let weight = cols[4].as_primitive::<Float64Type>();
    s.field_builder::<Float64Builder>(4)
        .expect("a float field")
        .append_option(weight.is_valid(k).then(|| weight.value(k)));
    s.append(true);
}

/// The output rows of a batch in the output schema.
#[allow(clippy::too_many_arguments)]
fn output_batch(
    batch: &RecordBatch,
    schema: &SchemaRef,
    text_column: &str,
    texts: &[Option<&str>],
    indices: &[u32],
    rows: &[OutRow],
    topics: Option<&[u16]>,
    rules: &RuleSet,
) -> Result<RecordBatch> {
    let err = |e: datafusion::arrow::error::ArrowError| Error::bug(e);
    let idx = UInt32Array::from(indices.to_vec());
    let n = rows.len();
    let tax = rules.taxonomy();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let name = field.name().as_str();
        let col: ArrayRef = match name {
            "debias_id" => Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.id.as_str()),
            )),
            "debias_source_id" => Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.source_id.as_deref()),
            )),
            "debias_augmented" => Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.augmented)),
            )),
            "debias_rule" => Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.rule.as_deref()),
            )),
            // On a debias output, weights compound: the earlier run's times this one's.
            "debias_weight" => {
                let earlier = batch
                    .column_by_name("debias_weight")
                    .map(|c| cast(c, &DataType::Float64))
                    .transpose()
                    .map_err(err)?;
                let earlier = earlier.as_ref().map(|c| c.as_primitive::<Float64Type>());
                Arc::new(Float64Array::from_iter_values(
                    rows.iter().zip(indices).map(|(r, &i)| {
                        let e = earlier.filter(|e| e.is_valid(i as usize));
                        r.weight * e.map_or(1.0, |e| e.value(i as usize))
                    }),
                ))
            }
            LINEAGE_COLUMN => lineage_array(batch, indices)?,
            "debias_groups" => {
                let mut b = ListBuilder::new(StringBuilder::new())
                    .with_field(Arc::new(Field::new("item", DataType::Utf8, false)));
                for r in rows {
                    for (g, _) in r.hits.groups(tax) {
                        if tax.is_demographic(g) {
                            b.values().append_value(&tax.groups[g as usize].key);
                        }
                    }
                    b.append(true);
                }
                Arc::new(b.finish())
            }
            "debias_edits" => edits_array(rows),
            TOPIC_COLUMN => Arc::new(Int32Array::from_iter(indices.iter().map(|&i| {
                topics
                    .map(|t| t[i as usize])
                    .filter(|&t| t != NO_TOPIC)
                    .map(i32::from)
            }))),
            _ if name == text_column => {
                // Sized up front: growing a batch's megabytes of text by doubling copies them
                // and maps fresh memory at every step.
                let text = |k: usize| rows[k].text(texts[indices[k] as usize].unwrap_or_default());
                let bytes = (0..n).map(|k| text(k).len()).sum();
                let mut b = StringBuilder::with_capacity(n, bytes);
                for k in 0..n {
                    b.append_value(text(k));
                }
                cast(&b.finish(), field.data_type()).map_err(err)?
            }
            _ => match batch.column_by_name(name) {
                Some(c) => {
                    let c = take(c.as_ref(), &idx, None).map_err(err)?;
                    if c.data_type() == field.data_type() {
                        c
                    } else {
                        cast(&c, field.data_type()).map_err(err)?
                    }
                }
                None => datafusion::arrow::array::new_null_array(field.data_type(), n),
            },
        };
        columns.push(col);
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(err)
}

fn edits_array(rows: &[OutRow]) -> ArrayRef {
    let fields = edit_fields();
    let mut b = ListBuilder::new(StructBuilder::from_fields(fields.clone(), 0))
        .with_field(Arc::new(Field::new("item", DataType::Struct(fields), true)));
    for r in rows {
        let s = b.values();
        for e in &r.edits {
            s.field_builder::<Int64Builder>(0)
                .expect("start")
                .append_value(e.start as i64);
            s.field_builder::<Int64Builder>(1)
                .expect("end")
                .append_value(e.end as i64);
            s.field_builder::<StringBuilder>(2)
                .expect("original")
                .append_value(&e.original);
            s.field_builder::<StringBuilder>(3)
                .expect("replacement")
                .append_value(&e.replacement);
            s.append(true);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_changed_while_read_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, "{\"text\": \"she\"}\n").unwrap();
        let files = vec![InputFile {
            path: path.clone(),
            id_prefix: "a.jsonl".into(),
            format: crate::rules::Format::Jsonl,
            compression: super::super::input::Compression::None,
            size: 17,
        }];
        let stamps = input_stamps(&files);
        assert!(changed_inputs(&files, &stamps).is_ok());
        // Appended to (same second or not: the size changes).
        std::fs::write(&path, "{\"text\": \"she\"}\n{\"text\": \"he\"}\n").unwrap();
        match changed_inputs(&files, &stamps) {
            Err(Error::Input(e)) => {
                assert!(e.message.contains("changed while debias was reading it"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kept_hits_read_back_until_the_budget_runs_out() {
        let docs: Vec<DocHits> = (0..300u32)
            .map(|i| DocHits {
                terms: (0..i % 4)
                    .map(|k| (k * 97 + i * 1000, 1 + k * 200))
                    .collect(),
            })
            .collect();
        let mut cache = HitsCache::new(2000);
        for batch in docs.chunks(50) {
            cache.keep_rows(batch.len(), |i, h| h.clone_from(&batch[i]));
        }
        // Some batches fit in 2000 bytes, not all; kept rows stop at a batch's end.
        let kept = cache.rows();
        assert!(cache.full);
        assert!(
            kept > 0 && kept < docs.len() && kept.is_multiple_of(50),
            "{kept}"
        );
        assert!(cache.bytes.len() + 4 * cache.offsets.len() <= 2000);
        let mut h = DocHits::default();
        for (k, d) in docs.iter().enumerate() {
            if k < kept {
                assert!(cache.get(k, &mut h));
                assert_eq!(&h, d, "row {k}");
            } else {
                assert!(!cache.get(k, &mut h), "row {k}");
            }
        }
        let mut v = Vec::new();
        for x in [0, 1, 127, 128, 16_383, 16_384, u32::MAX] {
            v.clear();
            put_varint(&mut v, x);
            let mut r = v.as_slice();
            assert_eq!(get_varint(&mut r), x);
            assert!(r.is_empty());
        }
    }

    /// Each kept row's rewrites read back as recorded; rewrites that do not fit let their
    /// batch go, detections too.
    #[test]
    fn kept_rewrites_read_back_with_their_rows() {
        let memo = |i: u32| {
            let mut m = RewriteMemo::recording();
            m.calls = (0..i % 3)
                .map(|k| {
                    (k % 2 == 1).then(|| DocHits {
                        terms: vec![(i, 1), (i + 300 * k, 2 + k)],
                    })
                })
                .collect();
            m
        };
        let mut cache = HitsCache::new(4000);
        let mut batches = 0;
        for b in 0..10u32 {
            let before = cache.rows();
            cache.keep_rows(20, |i, h| h.terms = vec![(b * 20 + i as u32, 1)]);
            if cache.rows() != before + 20 {
                break;
            }
            let encoded: Vec<Vec<u8>> = (0..20)
                .map(|i| encode_rewrites(&memo(b * 20 + i)))
                .collect();
            cache.keep_rewrites(encoded.iter().map(Vec::as_slice));
            if cache.full {
                break;
            }
            batches += 1;
        }
        let kept = cache.rows();
        assert_eq!(kept, 20 * batches);
        assert!(batches > 0 && cache.full, "{batches}");
        assert!(cache.used() <= 4000);
        let mut h = DocHits::default();
        for k in 0..kept {
            assert_eq!(cache.rewrites(k).unwrap(), memo(k as u32).calls, "row {k}");
            assert!(cache.get(k, &mut h));
            assert_eq!(h.terms, [(k as u32, 1)]);
        }
        assert!(cache.rewrites(kept).is_none() && !cache.get(kept, &mut h));
    }

    /// Files are kept whole, the detections column left out, until the budget runs out: the
    /// file that overflows is let go, as is every later one, and nothing is counted twice.
    #[test]
    fn kept_batches_are_whole_files_within_the_budget() {
        use datafusion::arrow::array::{Int64Array, StringArray};
        let batch = |n: usize| {
            RecordBatch::try_from_iter([
                (
                    "text",
                    Arc::new(StringArray::from(vec!["a sentence of prose"; n])) as ArrayRef,
                ),
                (
                    super::read::cols::HITS,
                    Arc::new(Int64Array::from(vec![7; n])) as ArrayRef,
                ),
            ])
            .unwrap()
        };
        let one = batch(100).project(&[0]).unwrap().get_array_memory_size();
        let mut cache = BatchCache::new(3 * one + one / 2);
        // File 0: two batches (fit); file 1: two more (the second overflows); file 2: one.
        for (f, n) in [(0, 2), (1, 2), (2, 1)] {
            cache.begin(f);
            for _ in 0..n {
                cache.keep(&batch(100)).unwrap();
            }
        }
        assert!(cache.full);
        assert_eq!(cache.bytes, 2 * one, "file 1's batch let go");
        cache.filling = false;
        let kept = cache.take(0).expect("file 0 kept whole");
        assert_eq!(kept.len(), 2);
        for b in &kept {
            assert_eq!(b.num_columns(), 1);
            assert_eq!(b.schema().field(0).name(), "text");
            assert_eq!(b.num_rows(), 100);
        }
        assert!(cache.take(1).is_none() && cache.take(2).is_none());
        assert!(cache.take(0).is_none(), "taken once");
        assert_eq!(cache.bytes, 0);
    }
}
