//! The `debias` command line.
//!
//! Exit codes: 0 success; 2 the command line, the rules or the input must be fixed (nothing was
//! written); 3 a check failed (gates, `eval --fail-under`); 1 anything else (an output could
//! not be written, a bug).

mod progress;
mod signals;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use debias::apply::manifest::Manifest;
use debias::error::Error;
use debias::lexicon;
use debias::pipeline::apply::ApplyOptions;
use debias::pipeline::{self, ScanOptions, attributes::AttributesOutput};
use debias::report::diff::ReportDiff;
use debias::report::{self, Report, ReportFormat};
use debias::rules::{self, RuleSet};

#[derive(Debug, Parser)]
#[command(
    name = "debias",
    version,
    about = "Measure how demographic groups are represented in a text corpus",
    after_help = "Exit codes: 0 success; 2 invalid command line, rules or input (nothing written); 3 a gate or \
                  --fail-under check failed; 1 other failures.\n\
                  Rule file reference: rules/README.md"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan a corpus and write the skew report.
    #[command(
        after_help = "Examples:\n  debias scan examples/news_sample.jsonl -o report\n  debias scan corpus/ --rules project.yaml -o report --attributes tags/ --check\n  debias scan 'crawl/*.jsonl.zst' --text-column body -o skew.md --log-format json"
    )]
    Scan(ScanArgs),
    /// Run the rule file's actions (drop, augment, rebalance) and write the corpus as Parquet,
    /// with a manifest and the skew report before and after.
    #[command(
        after_help = "Examples:\n  debias apply corpus/ --rules project.yaml -o out/\n  debias apply corpus.parquet --rules project.yaml -o out/ --seed 7 --memory-limit 4GiB"
    )]
    Apply(ApplyArgs),
    /// Write a sentence embedding per document (Parquet: debias_id, embedding).
    #[command(
        after_help = "Examples:\n  debias embed corpus/ --model all-MiniLM-L6-v2/ -o vectors/\n  debias embed corpus.jsonl --model DIR -o vectors/ --device cuda --dtype f16"
    )]
    Embed(EmbedArgs),
    /// Render a saved report, or compare two.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Work with rule files.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Measure detection on a labelled sample of your corpus: precision, recall and F1 per axis,
    /// with every false positive and miss (see rules/eval/GUIDELINE.md for how to label).
    Eval(EvalArgs),
    /// Show why a text is tagged: each match, its group, and the term or rule behind it.
    Explain(ExplainArgs),
    /// Check a report against the rules' `gates:` (coverage, distance from target, parity
    /// ratio, filter retention, change from a baseline): exit 0 when every gate passes, 3 when
    /// one fails.
    #[command(
        after_help = "Examples:\n  debias check report/report.json --rules project.yaml\n  \
                           debias check out/ --rules project.yaml --baseline last-week/report.json --junit gates.xml"
    )]
    Check(CheckArgs),
    /// List the built-in lexicons, or print one.
    #[command(
        after_help = "Examples:\n  debias lexicons\n  debias lexicons gender > my-gender.yaml"
    )]
    Lexicons {
        /// A lexicon to print (its YAML).
        name: Option<String>,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  debias completions bash > ~/.local/share/bash-completion/completions/debias\n  \
                           debias completions zsh > ~/.zfunc/_debias"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `debias manpage > debias.1 && man ./debias.1`.
    #[command(after_help = "Examples:\n  debias manpage > debias.1 && man ./debias.1")]
    Manpage,
    /// Run a node of an Apache DataFusion Ballista cluster that `scan --cluster` runs on (the
    /// `distributed` feature).
    #[cfg(feature = "distributed")]
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

/// The nodes of a cluster.
#[cfg(feature = "distributed")]
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Start a scheduler (clients connect to df://HOST:PORT).
    #[command(after_help = "Examples:\n  debias cluster scheduler --bind 0.0.0.0 --port 50050")]
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[arg(long, default_value_t = 50050)]
        port: u16,
    },
    /// Start an executor that joins a scheduler and runs tasks with each job's rules.
    #[command(
        after_help = "Examples:\n  debias cluster executor --scheduler 10.0.0.1:50050 --port 50051 --grpc-port 50052 --work-dir /tmp/debias-exec"
    )]
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Port of the Arrow Flight service (results and shuffles).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// Port of the executor's gRPC service.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once (default: the number of cores).
        #[arg(long)]
        cores: Option<usize>,
        /// Directory for shuffle files.
        #[arg(long, value_name = "DIR")]
        work_dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A report.json (from `scan`), or an `apply` output directory (its report after the
    /// actions, and its filter audit for `min_retention`).
    #[arg(value_name = "REPORT.json|DIR")]
    pub path: PathBuf,
    /// The rule file whose `gates:` are checked.
    #[arg(long, short, value_name = "FILE")]
    pub rules: PathBuf,
    /// A report to compare with, for `max_share_change` (e.g. last run's report.json).
    #[arg(long, value_name = "OLD.json")]
    pub baseline: Option<PathBuf>,
    /// Also write the results as JUnit XML, for CI systems.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate rule files: exit 0 when all are valid, 2 otherwise (every problem is listed).
    #[command(after_help = "Examples:\n  debias rules check project.yaml")]
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the built-in default rules (a starting point for a project's rule file).
    #[command(after_help = "Examples:\n  debias rules default > project.yaml")]
    Default,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Render a saved report.json (from `scan --report` or an `apply` output's report/), or an
    /// `apply` output directory (its before/after page), as HTML, Markdown or JSON.
    #[command(
        after_help = "Examples:\n  debias report render report/report.json\n  debias report render out/   # an apply output: its before/after page"
    )]
    Render {
        /// A report.json, or an `apply` output directory.
        #[arg(value_name = "REPORT.json|DIR")]
        path: PathBuf,
        #[arg(long, short, value_enum, default_value = "html")]
        format: ReportFormat,
        /// Where to write it; `-` for standard output. Default: beside the JSON with the
        /// format's extension (DIR/report/report.html for an `apply` output).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Replace an existing output file.
        #[arg(long)]
        overwrite: bool,
    },
    /// Write a dataset card (README.md in the Hugging Face format, "Bias, Risks, and Limitations"
    /// filled from the report) for a report.json or an `apply` output directory.
    #[command(
        after_help = "Examples:\n  debias report card report/report.json -o README.md\n  debias report card out/   # prints the card of an apply output"
    )]
    Card {
        /// A report.json, or an `apply` output directory.
        #[arg(value_name = "REPORT.json|DIR")]
        path: PathBuf,
        /// Where to write it. Default: standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Replace an existing output file.
        #[arg(long)]
        overwrite: bool,
    },
    /// Show what changed between two reports (e.g. an `apply` output's report/before.json and
    /// report/after.json, or the scans of two versions of a corpus).
    #[command(
        after_help = "Examples:\n  debias report diff out/report/before.json out/report/after.json\n  debias report diff a/report.json b/report.json --format html -o diff.html"
    )]
    Diff {
        #[arg(value_name = "BEFORE.json")]
        before: PathBuf,
        #[arg(value_name = "AFTER.json")]
        after: PathBuf,
        #[arg(long, short, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Where to write it. Default: standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Replace an existing output file.
        #[arg(long)]
        overwrite: bool,
    },
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Input files, directories or globs (Parquet, JSONL/JSON, CSV; JSONL and CSV may be .gz or .zst).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Rule file (YAML). Default: the built-in rules (every axis, no targets).
    #[arg(long, short, value_name = "FILE", env = "DEBIAS_RULES")]
    pub rules: Option<PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// Where to write the report: a directory (report.json, report.md and report.html), or a
    /// file ending in .json, .md or .html; `-` or nothing: standard output (one format).
    /// `--report` is the same option.
    #[arg(
        long = "output",
        short = 'o',
        visible_alias = "report",
        value_name = "PATH"
    )]
    pub report: Option<PathBuf>,
    /// Report formats, comma-separated (json, md, html). Default: all three in a --report
    /// directory, the extension's for a file, md on standard output.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FORMATS")]
    pub format: Vec<ReportFormat>,
    /// Also write per-document groups, mention counts and matched spans as Parquet into this
    /// directory.
    #[arg(long, value_name = "DIR")]
    pub attributes: Option<PathBuf>,
    /// Measure the rules' detection on a labelled sample (JSONL, as for `debias eval`) and add
    /// it to the report ("Detection quality"). May be given more than once.
    #[arg(long = "eval", value_name = "LABELLED.jsonl")]
    pub eval: Vec<PathBuf>,
    /// Replace existing outputs.
    #[arg(long)]
    pub overwrite: bool,
    /// Save each input file's counts in DIR as it is scanned; run the same command again after
    /// an interruption and the files already done are read back, not scanned again (the
    /// report is the same as one uninterrupted scan's). DIR is removed when the report is
    /// written.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Run the scan on the Apache DataFusion Ballista cluster whose scheduler is at
    /// df://HOST:PORT (`debias cluster`; needs the `distributed` feature). Every node must see
    /// the inputs at the same paths (or read them from an object store).
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
    /// Check the report against the rules' `gates:` when it is written: exit 3 when a gate
    /// fails (gates that need an `apply` output or a baseline are skipped; use `debias check`).
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Standard input (`-` among the inputs), spooled to a temporary JSONL file that lives as long
/// as this value and is removed if a signal stops the run. DataFusion reads files by path, and
/// `apply` may read its input twice.
struct StdinSpool(Option<PathBuf>);

impl StdinSpool {
    /// The inputs with `-` replaced by the spooled file `stdin.jsonl`.
    fn take(inputs: &[String]) -> Result<(Vec<String>, StdinSpool), Error> {
        if !inputs.iter().any(|i| i == "-") {
            return Ok((inputs.to_vec(), StdinSpool(None)));
        }
        if inputs.iter().filter(|i| *i == "-").count() > 1 {
            return Err(Error::Usage(
                "`-` (standard input) may be given once".into(),
            ));
        }
        if std::io::stdin().is_terminal() {
            return Err(Error::Usage(
                "`-` reads JSONL from standard input, which is a terminal; pipe the corpus in, e.g. \
                 `zcat corpus.jsonl.gz | debias scan -`"
                    .into(),
            ));
        }
        let dir = std::env::temp_dir().join(format!("debias-stdin-{}", std::process::id()));
        debias::artifact::register(&dir);
        let spool = StdinSpool(Some(dir.clone()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::output(&dir, e))?;
        let path = dir.join("stdin.jsonl");
        let mut f = std::fs::File::create(&path).map_err(|e| Error::output(&path, e))?;
        let n = std::io::copy(&mut std::io::stdin().lock(), &mut f)
            .map_err(|e| Error::output(&path, e))?;
        if n == 0 {
            return Err(Error::Usage(
                "`-`: standard input is empty; pipe a JSONL corpus in, e.g. `zcat corpus.jsonl.gz | debias scan -`"
                    .into(),
            ));
        }
        let spooled = path.to_string_lossy().to_string();
        let inputs = inputs
            .iter()
            .map(|i| if i == "-" { spooled.clone() } else { i.clone() })
            .collect();
        Ok((inputs, spool))
    }
}

impl Drop for StdinSpool {
    fn drop(&mut self) {
        if let Some(d) = &self.0 {
            let _ = std::fs::remove_dir_all(d);
            debias::artifact::unregister(d);
        }
    }
}

/// The input's columns, overriding the rules' `input:` section.
#[derive(Debug, Args)]
pub struct ColumnArgs {
    /// The column holding the document text (overrides `input.text_column`).
    #[arg(long, value_name = "COLUMN")]
    pub text_column: Option<String>,
    /// The column holding the document id, which must then exist (overrides `input.id_column`).
    #[arg(long, value_name = "COLUMN")]
    pub id_column: Option<String>,
}

impl ColumnArgs {
    /// `rules` with the columns given on the command line.
    fn apply(&self, mut rules: RuleSet) -> RuleSet {
        if let Some(c) = &self.text_column {
            rules.input.text_column = c.clone();
        }
        if let Some(c) = &self.id_column {
            rules.input.id_column = c.clone();
            rules.input.id_required = true;
        }
        rules
    }
}

/// Resources and verbosity, shared by `scan` and `apply`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Worker threads (1 to 1024). Default: the number of cores.
    #[arg(long, value_name = "N", value_parser = parse_threads, env = "DEBIAS_THREADS")]
    pub threads: Option<usize>,
    /// Memory limit for DataFusion's operators, e.g. 2GiB, 512MiB (`apply` keeps its first
    /// read's detections in a quarter of it and its decoded input in another quarter, 512MiB
    /// each without a limit, and rows waiting for Parquet encoding in an eighth, at most
    /// 256MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, env = "DEBIAS_MEMORY_LIMIT")]
    pub memory_limit: Option<usize>,
    #[command(flatten)]
    pub log: LogArgs,
}

/// What is written on standard error while a command runs, shared by `scan`, `apply` and
/// `embed`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// No progress bar and no summary on standard error.
    #[arg(long, short)]
    pub quiet: bool,
    /// How progress and the summary are written when standard error is not a terminal (a
    /// line every 10 seconds): text, or one JSON object per line.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        value_name = "FORMAT",
        env = "DEBIAS_LOG_FORMAT"
    )]
    pub log_format: progress::LogFormat,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Input files, directories or globs (Parquet, JSONL/JSON, CSV; JSONL and CSV may be .gz or .zst).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Rule file (YAML) with the `actions:` to run. Default: the built-in rules (no actions:
    /// the corpus is copied with its provenance columns and reports).
    #[arg(long, short, value_name = "FILE", env = "DEBIAS_RULES")]
    pub rules: Option<PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// Output directory: data/*.parquet, manifest.json, report/{before,after}.{json,md,html} and
    /// report/report.html (before vs after, what each action changed).
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,
    /// Formats of the reports under report/, comma-separated (json, md, html). Default: all.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FORMATS")]
    pub format: Vec<ReportFormat>,
    /// Seed of every random choice (overrides the rules' `seed`).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Replace an existing output directory.
    #[arg(long)]
    pub overwrite: bool,
    /// Keep the run's state in DIR as it goes (the rebalance plan, each finished data file);
    /// run the same command again after an interruption and what was done is kept: the
    /// counting pass is not run again and finished files are not written again (the input is
    /// still read, for the counts). The output is the same, byte for byte, as one uninterrupted
    /// run's. DIR must be on the output's file system; it is removed when the output is
    /// written.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Input files, directories or globs.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// A sentence-transformers model directory, a Hugging Face cache entry, or a model id found
    /// in the Hugging Face cache.
    #[arg(long, short, value_name = "DIR|ID", default_value = debias::embed::DEFAULT_MODEL)]
    pub model: String,
    /// Output directory: data/part-NNNNN.parquet with `debias_id` and `embedding`.
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,
    /// Rule file, for its `input:` section (text and id columns, `where`).
    #[arg(long, short, value_name = "FILE", env = "DEBIAS_RULES")]
    pub rules: Option<PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// Weights' precision: f32, f16 or bf16.
    #[arg(long, default_value = "f32", value_parser = debias::embed::parse_dtype)]
    pub dtype: candle_core::DType,
    /// cpu, cuda, cuda:N, or auto (a GPU when there is one).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Tokens per batch (longest text of the batch times texts). Default: 4096 on the CPU,
    /// 16384 on a GPU.
    #[arg(long, value_name = "N")]
    pub batch_tokens: Option<usize>,
    /// Replace an existing output directory.
    #[arg(long)]
    pub overwrite: bool,
    /// Worker threads (1 to 1024). Default: the number of cores.
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  debias eval rules/eval/real_text.jsonl\n  debias eval sample.jsonl --rules project.yaml --show 50\n  debias eval sample.jsonl --format json > eval.json\n  debias eval sample.jsonl --fail-under 0.9   # exit 3 when a judged axis is below"
)]
pub struct EvalArgs {
    /// Labelled JSONL files: {"text": ..., "axes": [...]} or {"text": ..., "groups":
    /// ["axis/group", ...]} per line, optionally "judged": [...] (recall-only lines).
    #[arg(required = true, value_name = "LABELLED.jsonl")]
    pub files: Vec<PathBuf>,
    /// Rule file whose detection is measured. Default: the built-in rules.
    #[arg(long, short, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// md (tables and lists, the default) or json (every false positive and miss).
    #[arg(long, short, value_enum, default_value = "md")]
    pub format: EvalFormat,
    /// False positives and misses listed per axis in the Markdown output.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub show: usize,
    /// Exit with status 3 when the precision or recall of a judged axis (20 positives or more)
    /// is below this ratio.
    #[arg(long, value_name = "RATIO")]
    pub fail_under: Option<f64>,
}

/// Output formats of `debias eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalFormat {
    Md,
    Json,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  debias explain \"French troops crossed the old bridge.\"\n  debias explain --input corpus.jsonl --id doc-42\n  debias explain \"She is deaf.\" --json"
)]
pub struct ExplainArgs {
    /// The text to explain (or use --input and --id).
    #[arg(
        value_name = "TEXT",
        required_unless_present = "id",
        conflicts_with = "id"
    )]
    pub text: Option<String>,
    /// Input files, directories or globs holding the document given by --id.
    #[arg(long, value_name = "INPUT", requires = "id")]
    pub input: Vec<String>,
    /// The id of the document to explain (the rules' id column, or FILE#ROW).
    #[arg(long, value_name = "ID", requires = "input")]
    pub id: Option<String>,
    /// Rule file. Default: the built-in rules.
    #[arg(long, short, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Print JSON: the text and every candidate span with its verdict.
    #[arg(long)]
    pub json: bool,
}

pub use debias::units::parse_size;

/// `--threads`: at least 1, and at most 1024 (each thread has its stacks and buffers; a
/// larger number is a typo).
pub fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        Ok(_) => Err(format!(
            "{s} threads: give a number from 1 to 1024 (the default is the number of cores)"
        )),
        Err(_) => Err(format!("`{s}` is not a number of threads")),
    }
}

/// Runs the command line; the binary's `main`.
pub fn main() -> ExitCode {
    signals::install();
    let cli = Cli::parse();
    let result = run(cli);
    // What is left of this process's temporaries (the links to oddly named inputs).
    debias::artifact::remove_temporaries();
    match result {
        Ok(code) => code,
        Err(e) => {
            let code = match e {
                Error::Rules(_) | Error::Input(_) | Error::Usage(_) | Error::Model(_) => 2,
                Error::Output { .. } | Error::Internal(_) | Error::Bug(_) | Error::BugIn { .. } => {
                    1
                }
            };
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {}", e.chain());
            ExitCode::from(code)
        }
    }
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Scan(args) => scan(args),
        Command::Apply(args) => apply(args).map(|()| ExitCode::SUCCESS),
        Command::Embed(args) => embed(args).map(|()| ExitCode::SUCCESS),
        Command::Report(cmd) => report_command(cmd).map(|()| ExitCode::SUCCESS),
        Command::Rules(RulesCommand::Check { files }) => Ok(check(&files)),
        Command::Rules(RulesCommand::Default) => {
            print_stdout(rules::DEFAULT_RULES);
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(args) => eval(args),
        Command::Explain(args) => explain(args).map(|()| ExitCode::SUCCESS),
        Command::Check(args) => check_gates(args),
        Command::Lexicons { name } => lexicons(name.as_deref()),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "debias", &mut out);
            print_stdout(&String::from_utf8_lossy(&out));
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "distributed")]
        Command::Cluster(cmd) => cluster(cmd).map(|()| ExitCode::SUCCESS),
        Command::Manpage => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut out)
                .map_err(Error::bug)?;
            print_stdout(&String::from_utf8_lossy(&out));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load_rules(path: Option<&Path>) -> Result<RuleSet, Error> {
    match path {
        Some(p) => rules::load(p),
        None => rules::default_rules(),
    }
}

fn eval(args: EvalArgs) -> Result<ExitCode, Error> {
    let rules = load_rules(args.rules.as_deref())?;
    if let Some(r) = args.fail_under
        && !(0.0..=1.0).contains(&r)
    {
        return Err(Error::Usage(format!(
            "--fail-under takes a ratio between 0 and 1, not {r}"
        )));
    }
    let mut failed = Vec::new();
    let mut out = String::new();
    let mut json = Vec::new();
    for f in &args.files {
        let lines = debias::eval::read_labelled(f, rules.taxonomy())?;
        let e = debias::eval::evaluate(
            &rules.detector,
            &lines,
            &f.display().to_string(),
            rules.report.confidence,
        );
        if let Some(min) = args.fail_under {
            for s in e.axes.iter().filter(|s| !s.too_few) {
                for (what, v) in [("precision", s.precision), ("recall", s.recall)] {
                    if v.is_some_and(|v| v < min) {
                        failed.push(format!(
                            "{}: {} {what} {:.3} < {min}",
                            f.display(),
                            s.name,
                            v.unwrap_or(0.0)
                        ));
                    }
                }
            }
        }
        match args.format {
            EvalFormat::Md => {
                out.push_str(&e.to_markdown(args.show));
                out.push('\n');
            }
            EvalFormat::Json => json.push(e),
        }
    }
    if args.format == EvalFormat::Json {
        let v = if json.len() == 1 {
            serde_json::to_value(&json[0])
        } else {
            serde_json::to_value(&json)
        };
        out = serde_json::to_string_pretty(&v.map_err(Error::bug)?).map_err(Error::bug)?;
        out.push('\n');
    }
    print_stdout(&out);
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for f in &failed {
        eprintln!("below --fail-under: {f}");
    }
    Ok(ExitCode::from(3))
}

fn explain(args: ExplainArgs) -> Result<(), Error> {
    let rules = load_rules(args.rules.as_deref())?;
    let (text, origin) = match (&args.text, &args.id) {
        (Some(t), _) => (t.clone(), None),
        (None, Some(id)) => match pipeline::embed::find_document(&rules, &args.input, id)? {
            Some((t, file)) => (t, Some(format!("{file}, id {id}"))),
            None => {
                return Err(Error::Usage(format!(
                    "no document with id `{id}` in {} (as the rules' `input:` selects documents)",
                    args.input.join(", ")
                )));
            }
        },
        (None, None) => return Err(Error::Usage("give a TEXT, or --input and --id".into())),
    };
    let spans = debias::eval::explain(&rules.detector, &text);
    if args.json {
        let v = serde_json::json!({"text": text, "document": origin, "spans": spans});
        print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&v).map_err(Error::bug)?
        ));
        return Ok(());
    }
    let color = std::io::stdout().is_terminal();
    print_stdout(&render_explanation(&text, origin.as_deref(), &spans, color));
    Ok(())
}

/// The text with its counted matches marked (`[French]1`, bold on a terminal) and a line per
/// candidate: counted with the reason, or not counted and why.
fn render_explanation(
    text: &str,
    origin: Option<&str>,
    spans: &[debias::eval::Span],
    color: bool,
) -> String {
    let counted: Vec<(usize, &debias::eval::Span)> = spans
        .iter()
        .filter(|s| s.counted)
        .enumerate()
        .map(|(i, s)| (i + 1, s))
        .collect();
    let mut out = String::new();
    if let Some(o) = origin {
        out.push_str(&format!("{o}\n\n"));
    }
    // Overlapping matches ("young woman", "woman") are marked as one region with every number.
    let mut regions: Vec<(usize, usize, Vec<usize>)> = Vec::new();
    for &(n, s) in &counted {
        match regions.last_mut() {
            Some(r) if s.start < r.1 => {
                r.1 = r.1.max(s.end);
                r.2.push(n);
            }
            _ => regions.push((s.start, s.end, vec![n])),
        }
    }
    let mut at = 0;
    for (s, e, ns) in &regions {
        out.push_str(&text[at..*s]);
        let tags = ns
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",");
        if color {
            out.push_str(&format!(
                "\x1b[1;4m{}\x1b[0m\x1b[2m{tags}\x1b[0m",
                &text[*s..*e]
            ));
        } else {
            out.push_str(&format!("[{}]{tags}", &text[*s..*e]));
        }
        at = *e;
    }
    out.push_str(&text[at..]);
    out.push_str("\n\n");
    if counted.is_empty() {
        out.push_str("No mention of any group.\n");
    }
    for (n, s) in &counted {
        out.push_str(&format!(
            "{n:>3}. {:<24} {:<36} {}",
            format!("\"{}\"", s.text),
            s.group,
            s.why
        ));
        if let Some(e) = &s.evidence {
            out.push_str(&format!(" {e}"));
        }
        if s.term != s.text.to_lowercase() {
            out.push_str(&format!(" (term `{}`)", s.term));
        }
        out.push('\n');
    }
    // Numbers that are not ages are candidates of every number; they would only be noise here.
    let rejected: Vec<&debias::eval::Span> = spans
        .iter()
        .filter(|s| !s.counted && !s.text.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    if !rejected.is_empty() {
        out.push_str("\nNot counted:\n");
        for s in rejected {
            out.push_str(&format!(
                "     {:<24} {:<36} {}",
                format!("\"{}\"", s.text),
                s.group,
                s.why
            ));
            if let Some(r) = &s.rule {
                out.push_str(&format!(" (the rule: {r})"));
            }
            out.push('\n');
        }
    }
    out
}

/// Writes to stdout, ignoring a closed pipe (`debias ... | head`).
fn print_stdout(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|()| out.flush());
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for f in files {
        match rules::load(f) {
            Ok(rs) => {
                let tax = rs.taxonomy();
                use debias::units::{count, plural_of};
                println!(
                    "{}: ok ({}, {}, {}, {}; {})",
                    f.display(),
                    plural_of(tax.demographic_axes().count(), "axis", "axes"),
                    count(tax.attribute_axes().count(), "attribute lexicon"),
                    count(tax.groups.len(), "group"),
                    count(tax.terms.len(), "term"),
                    count(rs.apply.actions.len(), "action")
                );
            }
            Err(e) => {
                ok = false;
                eprintln!("{e}");
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn lexicons(name: Option<&str>) -> Result<ExitCode, Error> {
    match name {
        Some(n) => {
            let b = lexicon::builtin(n).ok_or_else(|| {
                Error::Usage(format!(
                    "no built-in lexicon `{n}`; built-in: {}",
                    lexicon::BUILTINS
                        .iter()
                        .map(|b| b.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            print_stdout(b.yaml);
        }
        None => {
            let mut out = String::from("lexicon              kind       default  groups  terms\n");
            for b in lexicon::BUILTINS {
                let lex = lexicon::load_builtin(b).map_err(|_| {
                    Error::Internal(format!("built-in lexicon {} is invalid", b.name))
                })?;
                let terms: usize = lex.groups.values().map(|g| g.terms.len()).sum();
                out.push_str(&format!(
                    "{:<20} {:<10} {:<8} {:>6} {:>6}\n",
                    b.name,
                    b.kind.name(),
                    if b.default { "yes" } else { "no" },
                    lex.groups.len(),
                    terms
                ));
            }
            print_stdout(&out);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the report goes: one format on standard output, or files.
enum ReportDest {
    Stdout(ReportFormat),
    Files {
        /// A directory to create first.
        dir: Option<PathBuf>,
        files: Vec<(PathBuf, ReportFormat)>,
    },
}

impl ReportDest {
    fn write(&self, report: &Report) -> Result<(), Error> {
        match self {
            ReportDest::Stdout(f) => print_stdout(&f.render(report)),
            ReportDest::Files { dir, files } => {
                let created = dir.as_ref().filter(|d| !d.exists());
                if let Some(d) = dir {
                    std::fs::create_dir_all(d).map_err(|e| Error::output(d, e))?;
                }
                let rendered: Vec<(PathBuf, String)> = files
                    .iter()
                    .map(|(path, f)| (path.clone(), f.render(report)))
                    .collect();
                let all = debias::artifact::write_all_atomic(&rendered);
                // A directory made for a report that could not be written goes too.
                if all.is_err()
                    && let Some(d) = created
                {
                    let _ = std::fs::remove_dir(d);
                }
                all?;
            }
        }
        Ok(())
    }
}

fn report_dest(
    p: Option<&Path>,
    formats_given: &[ReportFormat],
    overwrite: bool,
) -> Result<ReportDest, Error> {
    let mut formats: Vec<ReportFormat> = Vec::new();
    for f in formats_given {
        if !formats.contains(f) {
            formats.push(*f);
        }
    }
    // `--report -` is standard output, as without --report (not a directory named `-`).
    let Some(p) = p.filter(|p| p.as_os_str() != "-") else {
        return match formats[..] {
            [] => Ok(ReportDest::Stdout(ReportFormat::Md)),
            [f] => Ok(ReportDest::Stdout(f)),
            _ => Err(Error::Usage(
                "standard output takes one report format; give --report DIR to write several"
                    .into(),
            )),
        };
    };
    let dest = match ReportFormat::of_path(p) {
        Some(ext) => {
            if let Some(other) = formats.iter().find(|f| **f != ext) {
                return Err(Error::Usage(format!(
                    "--report {} is a .{} file but --format asks for {}; give a directory for several formats",
                    p.display(),
                    ext.ext(),
                    other.ext()
                )));
            }
            ReportDest::Files {
                dir: None,
                files: vec![(p.to_path_buf(), ext)],
            }
        }
        None => {
            if p.is_file() {
                return Err(Error::Usage(format!(
                    "--report {}: a file without a .json, .md or .html extension; give a directory, or a file with one of those extensions",
                    p.display()
                )));
            }
            // `r.pdf` is a mistyped file, not a directory to create.
            if let Some(ext) = p.extension().filter(|_| !p.is_dir()) {
                return Err(Error::Usage(format!(
                    "--report {}: debias writes .json, .md and .html reports, not .{}; give one of those \
                     extensions, or a directory (without an extension) for all three",
                    p.display(),
                    ext.to_string_lossy()
                )));
            }
            if formats.is_empty() {
                formats = ReportFormat::ALL.to_vec();
            }
            ReportDest::Files {
                dir: Some(p.to_path_buf()),
                files: formats
                    .iter()
                    .map(|f| (p.join(format!("report.{}", f.ext())), *f))
                    .collect(),
            }
        }
    };
    if let ReportDest::Files { files, .. } = &dest
        && !overwrite
        && let Some((e, _)) = files.iter().find(|(e, _)| e.exists())
    {
        return Err(Error::Usage(format!(
            "{} already exists; pass --overwrite to replace it",
            e.display()
        )));
    }
    // A report file's directory must exist before the corpus is read, not be found missing after.
    if let ReportDest::Files { dir: None, files } = &dest
        && let Some((f, _)) = files.iter().find(|(f, _)| {
            f.parent()
                .is_some_and(|d| !d.as_os_str().is_empty() && !d.is_dir())
        })
    {
        return Err(Error::Usage(format!(
            "--report {}: the directory {} does not exist; create it, or give a directory as --report",
            f.display(),
            f.parent()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        )));
    }
    Ok(dest)
}

fn report_command(cmd: ReportCommand) -> Result<(), Error> {
    match cmd {
        ReportCommand::Render {
            path,
            format,
            output,
            overwrite,
        } => {
            let (text, default_out) = if path.is_dir() {
                let manifest = path.join("manifest.json");
                if !manifest.is_file() {
                    return Err(Error::Usage(format!(
                        "{} is a directory without manifest.json; give a report.json, or the output directory of `debias apply`",
                        path.display()
                    )));
                }
                if format != ReportFormat::Html {
                    return Err(Error::Usage(format!(
                        "an `apply` output renders as one HTML page; for {} give {}",
                        format.ext(),
                        path.join("report/after.json").display()
                    )));
                }
                let m = Manifest::load(&manifest)?;
                let before = Report::load(&path.join("report/before.json"))?;
                let after = Report::load(&path.join("report/after.json"))?;
                (
                    report::html::render_apply(&m, &before, &after),
                    path.join("report/report.html"),
                )
            } else {
                let r = Report::load(&path)?;
                (format.render(&r), path.with_extension(format.ext()))
            };
            write_output(
                &text,
                output.as_deref(),
                Some(&default_out),
                Some(&path),
                overwrite,
            )
        }
        ReportCommand::Card {
            path,
            output,
            overwrite,
        } => {
            let text = if path.is_dir() {
                let manifest = path.join("manifest.json");
                if !manifest.is_file() {
                    return Err(Error::Usage(format!(
                        "{} is a directory without manifest.json; give a report.json, or the output directory of `debias apply`",
                        path.display()
                    )));
                }
                report::card::apply_card(
                    &Manifest::load(&manifest)?,
                    &Report::load(&path.join("report/before.json"))?,
                    &Report::load(&path.join("report/after.json"))?,
                )
            } else {
                report::card::report_card(&Report::load(&path)?)
            };
            write_output(&text, output.as_deref(), None, Some(&path), overwrite)
        }
        ReportCommand::Diff {
            before,
            after,
            format,
            output,
            overwrite,
        } => {
            let b = Report::load(&before)?;
            let a = Report::load(&after)?;
            let d = ReportDiff::between(
                [&before.display().to_string(), &after.display().to_string()],
                &b,
                &a,
            );
            let text = match format {
                ReportFormat::Json => d.to_json(),
                ReportFormat::Md => d.to_markdown(),
                ReportFormat::Html => report::html::render_diff(&d),
            };
            write_output(&text, output.as_deref(), None, None, overwrite)
        }
    }
}

/// Writes `text` to `output` (`-`: standard output), or to `default` when no output is given
/// (standard output when there is no default). Never replaces `input`.
fn write_output(
    text: &str,
    output: Option<&Path>,
    default: Option<&Path>,
    input: Option<&Path>,
    overwrite: bool,
) -> Result<(), Error> {
    let Some(path) = output.or(default) else {
        print_stdout(text);
        return Ok(());
    };
    if path == Path::new("-") {
        print_stdout(text);
        return Ok(());
    }
    let same = |a: &Path, b: &Path| {
        a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    };
    if input.is_some_and(|i| same(i, path)) {
        return Err(Error::Usage(format!(
            "the output {} would replace the input; give --output",
            path.display()
        )));
    }
    if path.exists() && !overwrite {
        return Err(Error::Usage(format!(
            "{} already exists; pass --overwrite to replace it, or --output - for standard output",
            path.display()
        )));
    }
    report::write_atomic(path, text)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn scan(args: ScanArgs) -> Result<ExitCode, Error> {
    // Everything is validated before the first row is read.
    let rules = args.columns.apply(load_rules(args.rules.as_deref())?);
    if args.check && rules.gates.is_empty() {
        return Err(no_gates(&rules.origin.path));
    }
    let dest = report_dest(args.report.as_deref(), &args.format, args.overwrite)?;
    // The labelled samples are read (and checked) before the corpus.
    let labelled = args
        .eval
        .iter()
        .map(|f| debias::eval::read_labelled(f, rules.taxonomy()).map(|l| (f, l)))
        .collect::<Result<Vec<_>, Error>>()?;
    // A missing or incomplete model is reported before the corpus is read.
    if let Some(er) = &rules.embedding {
        debias::embed::ModelFiles::locate(&er.model)?;
        debias::embed::device(&er.device)?;
    }
    if args.run.threads == Some(0) {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    let progress = progress::reporter(args.run.log.quiet, args.run.log.log_format);
    let opts = ScanOptions {
        resume: args.resume.clone(),
        cluster: args.cluster.clone(),
        threads: args.run.threads.unwrap_or_else(pipeline::default_threads),
        memory_limit: args.run.memory_limit,
        attributes: args.attributes.as_ref().map(|dir| AttributesOutput {
            dir: dir.clone(),
            overwrite: args.overwrite,
            detector: rules.detector.clone(),
        }),
        progress: progress.clone(),
        ..ScanOptions::default()
    };
    let (inputs, _stdin) = StdinSpool::take(&args.inputs)?;
    // The report is written before the attributes are committed: both appear, or neither.
    let mut written = None;
    let outcome = pipeline::scan::scan_and(&rules, &inputs, &opts, |outcome| {
        if let Some(p) = &progress {
            p.finish();
        }
        let mut report = Report::build(&rules, outcome);
        report.evaluations = labelled
            .iter()
            .map(|(f, l)| {
                debias::eval::evaluate(
                    &rules.detector,
                    l,
                    &f.display().to_string(),
                    rules.report.confidence,
                )
            })
            .collect();
        dest.write(&report)?;
        written = Some(report);
        Ok(())
    });
    if let Some(p) = &progress {
        p.finish();
    }
    let outcome = outcome?;
    let report = written.ok_or_else(|| Error::Internal("the scan wrote no report".into()))?;
    if let Some(dir) = &args.resume {
        // The job is done: its work directory goes.
        pipeline::resume::remove_dir(dir);
        if !args.run.log.quiet && outcome.resumed_files > 0 {
            eprintln!(
                "resumed: {} of {} file(s) read back from {}",
                outcome.resumed_files,
                outcome.files.len(),
                dir.display()
            );
        }
    }
    print_scan_summary(&args, &outcome, &report, &dest);
    if !args.check {
        return Ok(ExitCode::SUCCESS);
    }
    let results = debias::report::gates::check(
        &rules.gates,
        &debias::report::gates::Evidence {
            report: &report,
            manifest: None,
            baseline: None,
        },
    );
    Ok(print_gates(&results))
}

/// The summary of a scan on standard error: a line of text, or a JSON object.
fn print_scan_summary(
    args: &ScanArgs,
    outcome: &pipeline::ScanOutcome,
    report: &Report,
    dest: &ReportDest,
) {
    if !args.run.log.quiet && args.run.log.log_format == progress::LogFormat::Json {
        let s = &outcome.stats;
        eprintln!(
            "{}",
            serde_json::json!({
                "event": "done",
                "command": "scan",
                "documents": s.documents,
                "text_bytes": s.text_bytes,
                "rows_read": s.rows.read,
                "excluded_by_where": s.rows.excluded_by_where,
                "null_text": s.rows.null_text,
                "too_large": s.rows.too_large,
                "seconds": outcome.elapsed.as_secs_f64(),
                "threads": outcome.threads,
                "findings": report.findings.len(),
                "empty_files": outcome.empty_files.iter().map(|f| f.path.display().to_string()).collect::<Vec<_>>(),
            })
        );
    } else if !args.run.log.quiet {
        let s = &outcome.stats;
        let secs = outcome.elapsed.as_secs_f64();
        eprintln!(
            "scanned {} documents ({} of text) in {:.2} s, {}/s on {} threads; {} rows read, {} excluded by `where`, {} null texts, {} over input.max_document_bytes",
            s.documents,
            debias::units::human_bytes(s.text_bytes as f64),
            secs,
            debias::units::human_bytes(s.text_bytes as f64 / secs.max(1e-9)),
            outcome.threads,
            s.rows.read,
            s.rows.excluded_by_where,
            s.rows.null_text,
            s.rows.too_large
        );
        for f in &outcome.empty_files {
            eprintln!("warning: skipped empty file {}", f.path.display());
        }
        if let ReportDest::Files { files, .. } = &dest {
            let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
            eprintln!("report: {}", names.join(", "));
        }
        if let Some(a) = &args.attributes {
            eprintln!("attributes: {}", a.display());
        }
    }
}

/// The error for gates asked of rules without any.
fn no_gates(rules: &str) -> Error {
    Error::Usage(format!(
        "{rules} has no `gates:` section to check; add one (see rules/README.md, `gates`), e.g. \
         `gates: {{min_parity_ratio: {{gender: 0.8}}}}`"
    ))
}

/// Prints each gate's result on standard error and the summary; exit 3 when one failed.
fn print_gates(results: &[debias::report::gates::GateResult]) -> ExitCode {
    use debias::report::gates::Verdict;
    for r in results {
        eprintln!("{}", r.line());
    }
    eprintln!("{}", debias::report::gates::summary(results));
    if results.iter().any(|r| r.verdict == Verdict::Fail) {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// `debias check`: the report (or an `apply` output's after-report and manifest) against the
/// rules' gates.
fn check_gates(args: CheckArgs) -> Result<ExitCode, Error> {
    let rules = rules::load(&args.rules)?;
    if rules.gates.is_empty() {
        return Err(no_gates(&rules.origin.path));
    }
    let (report_path, manifest) = if args.path.is_dir() {
        let m = args.path.join("manifest.json");
        if !m.is_file() {
            return Err(Error::Usage(format!(
                "{} is a directory without a manifest.json: give a report.json, or the output directory of \
                 `debias apply`",
                args.path.display()
            )));
        }
        (
            args.path.join("report").join("after.json"),
            Some(debias::apply::manifest::Manifest::load(&m)?),
        )
    } else {
        (args.path.clone(), None)
    };
    let report = Report::load(&report_path)?;
    let baseline = args.baseline.as_deref().map(Report::load).transpose()?;
    let results = debias::report::gates::check(
        &rules.gates,
        &debias::report::gates::Evidence {
            report: &report,
            manifest: manifest.as_ref(),
            baseline: baseline.as_ref(),
        },
    );
    if let Some(j) = &args.junit {
        debias::report::write_atomic(
            j,
            &debias::report::gates::junit(&results, &report_path.display().to_string()),
        )?;
    }
    Ok(print_gates(&results))
}

fn apply(args: ApplyArgs) -> Result<(), Error> {
    let rules = args.columns.apply(load_rules(args.rules.as_deref())?);
    output_outside_inputs(&args.output, &args.inputs)?;
    if rules.apply.actions.is_empty() && !args.run.log.quiet {
        eprintln!(
            "note: the rules have no `actions:`; the corpus is copied with provenance columns (see rules/README.md, `actions`)"
        );
    }
    let progress = progress::reporter(args.run.log.quiet, args.run.log.log_format);
    let opts = ApplyOptions {
        output: args.output.clone(),
        overwrite: args.overwrite,
        seed: args.seed,
        threads: args.run.threads.unwrap_or_else(pipeline::default_threads),
        memory_limit: args.run.memory_limit,
        progress: progress.clone(),
        formats: args.format.clone(),
        resume: args.resume.clone(),
    };
    let (inputs, _stdin) = StdinSpool::take(&args.inputs)?;
    let outcome = pipeline::apply::apply(&rules, &inputs, &opts)?;
    if !args.run.log.quiet && args.run.log.log_format == progress::LogFormat::Json {
        let m = &outcome.manifest;
        eprintln!(
            "{}",
            serde_json::json!({
                "event": "done",
                "command": "apply",
                "rows": &m.rows,
                "files": m.output.files.len(),
                "seconds": outcome.elapsed.as_secs_f64(),
                "passes": outcome.passes,
                "resumed": outcome.resumed.as_ref().map(|r| serde_json::json!({
                    "plan": r.plan, "files": r.files, "rows": r.rows
                })),
                "warnings": &m.warnings,
                "output": args.output.display().to_string(),
            })
        );
    } else if !args.run.log.quiet {
        if let (Some(r), Some(dir)) = (&outcome.resumed, &args.resume)
            && (r.plan || r.files > 0)
        {
            eprintln!(
                "resumed from {}: {}{} finished file(s) kept ({} rows)",
                dir.display(),
                if r.plan {
                    "the rebalance plan and "
                } else {
                    ""
                },
                r.files,
                r.rows
            );
        }
        let m = &outcome.manifest;
        let a = &m.rows.account;
        let sum = |x: &std::collections::BTreeMap<String, u64>| x.values().sum::<u64>();
        eprintln!(
            "read {} rows: kept {}, dropped {}; wrote {} rows ({} augmented, {} duplicated, {} rewritten in place) to {} file(s) in {:.2} s ({} pass(es))",
            a.read,
            a.kept,
            sum(&a.dropped),
            a.written,
            sum(&a.augmented),
            sum(&a.duplicated),
            sum(&a.rewritten),
            m.output.files.len(),
            outcome.elapsed.as_secs_f64(),
            outcome.passes
        );
        for (reason, n) in &a.dropped {
            eprintln!("  dropped by {reason}: {n}");
        }
        for w in &m.warnings {
            eprintln!("warning: {w}");
        }
        eprintln!(
            "output: {} (data/, manifest.json, report/{})",
            args.output.display(),
            if args.format.is_empty() || args.format.contains(&ReportFormat::Html) {
                "report.html: before vs after; before.* and after.*"
            } else {
                "before.* and after.*"
            }
        );
    }
    Ok(())
}

/// Refuses an output directory inside an input directory: the next run over that directory
/// would read the output (and the manifest and reports) as input.
fn output_outside_inputs(output: &Path, inputs: &[String]) -> Result<(), Error> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(parent) = parent.canonicalize() else {
        return Ok(());
    };
    let out = parent.join(output.file_name().unwrap_or_default());
    for input in inputs {
        let dir = Path::new(input);
        if dir.is_dir()
            && let Ok(dir) = dir.canonicalize()
            && out.starts_with(&dir)
        {
            return Err(Error::Usage(format!(
                "--output {} is inside the input directory {input}: a later run over {input} would read the output as input; write it elsewhere",
                output.display()
            )));
        }
    }
    Ok(())
}

fn embed(args: EmbedArgs) -> Result<(), Error> {
    let rules = args.columns.apply(load_rules(args.rules.as_deref())?);
    if args.batch_tokens == Some(0) {
        return Err(Error::Usage("--batch-tokens must be at least 1".into()));
    }
    output_outside_inputs(&args.output, &args.inputs)?;
    let files = debias::embed::ModelFiles::locate(&args.model)?;
    let device = debias::embed::device(&args.device)?;
    let encoder = debias::embed::Encoder::load(
        files,
        debias::embed::EncoderOptions {
            dtype: args.dtype,
            device,
            batch_tokens: args.batch_tokens.unwrap_or(0),
            candle_graph: false,
        },
    )?;
    let progress = progress::reporter(args.log.quiet, args.log.log_format);
    let opts = pipeline::embed::EmbedOptions {
        output: args.output.clone(),
        overwrite: args.overwrite,
        threads: args.threads.unwrap_or_else(pipeline::default_threads),
        progress: progress.clone(),
    };
    let (inputs, _stdin) = StdinSpool::take(&args.inputs)?;
    let o = pipeline::embed::embed(&rules, &encoder, &inputs, &opts)?;
    if !args.log.quiet {
        let secs = o.elapsed.as_secs_f64();
        eprintln!(
            "embedded {} documents ({} tokens, {:?}, {}) in {:.2} s, {:.0} documents/s; {} rows read, {} excluded by `where`, {} null texts, {} over input.max_document_bytes",
            o.embedded,
            o.tokens,
            args.dtype,
            args.device,
            secs,
            o.embedded as f64 / secs.max(1e-9),
            o.rows.read,
            o.rows.excluded_by_where,
            o.rows.null_text,
            o.rows.too_large
        );
        eprintln!("output: {}/", args.output.join("data").display());
    }
    Ok(())
}

/// `debias cluster scheduler|executor`.
#[cfg(feature = "distributed")]
fn cluster(cmd: ClusterCommand) -> Result<(), Error> {
    use debias::pipeline::cluster;
    match cmd {
        ClusterCommand::Scheduler { bind, port } => cluster::run_scheduler(&bind, port),
        ClusterCommand::Executor {
            scheduler,
            bind,
            port,
            grpc_port,
            cores,
            work_dir,
        } => {
            let (host, sport) = scheduler
                .rsplit_once(':')
                .ok_or_else(|| Error::Usage(format!("--scheduler {scheduler}: give HOST:PORT")))?;
            let scheduler_port = sport
                .parse()
                .map_err(|e| Error::Usage(format!("--scheduler {scheduler}: {e}")))?;
            cluster::run_executor(&cluster::ExecutorOptions {
                bind_host: bind,
                port,
                grpc_port,
                scheduler_host: host.to_owned(),
                scheduler_port,
                cores: cores.unwrap_or_else(pipeline::default_threads),
                work_dir,
            })
        }
    }
}
