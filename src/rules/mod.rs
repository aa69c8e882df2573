//! Rule files: what to scan and how to report it, validated and compiled before any data is read.
//!
//! A rule file is read into a located YAML tree ([`yaml::Node`]), checked key by key (every
//! problem is collected, with its `file:line:column` and a hint), and compiled into a
//! [`RuleSet`]: the input settings, the [`Detector`] with one matcher for every lexicon, the
//! targets per axis and the report settings. Each key is documented where it is read below and,
//! for users, in `rules/README.md`.

pub mod actions;
mod axes;
pub mod embedding;
pub mod gates;
mod lexicons;
mod person;
pub mod sql;
pub use crate::yaml;

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::detect::{Detector, Taxonomy};
use crate::error::{Diagnostic, Diagnostics, Error, Result};
use crate::lexicon::LexiconKind;
use axes::{TaxonomyBuilder, read_axes};
use yaml::{Kind, Node, Reader};

/// The rule file used when none is given: every built-in axis and attribute lexicon, parity
/// targets, report only.
pub const DEFAULT_RULES: &str = include_str!("../../rules/default.yaml");

/// The supported value of `version:`.
pub const RULES_VERSION: i64 = 1;

/// Where the rules came from, for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RulesOrigin {
    /// The file as named on the command line, or `<built-in>/default.yaml`.
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// The file's text and the directory its lexicon paths are resolved against (what a cluster
    /// job carries to its executors, which compile the rules again).
    #[serde(skip)]
    pub text: Arc<str>,
    #[serde(skip)]
    pub base_dir: std::path::PathBuf,
}

/// Which rows are read and how their columns are found (`input:` section).
#[derive(Debug, Clone, PartialEq)]
pub struct InputRules {
    /// `input.text_column` (default `text`): the column holding the document text.
    pub text_column: String,
    /// `input.id_column` (default `id`): the document id. When the default column is absent, the
    /// id is `FILE#ROW` (the file relative to the input root, the 0-based row number).
    pub id_column: String,
    /// Whether `id_column` was set explicitly (then it must exist).
    pub id_required: bool,
    /// `input.source_column` / `input.source_url_column`: per-source breakdown.
    pub source: Option<SourceSpec>,
    /// `input.where`: a SQL predicate; only rows where it is true are scanned.
    pub where_sql: Option<String>,
    /// `input.format`: read every input as this format instead of going by file extension.
    pub format: Option<Format>,
    /// `input.max_document_bytes` (default 8 MiB): a longer text is not scanned, and is counted
    /// in the row account as `too_large`.
    pub max_document_bytes: u64,
}

/// The default of `input.max_document_bytes`.
pub const MAX_DOCUMENT_BYTES: u64 = 8 * 1024 * 1024;

impl Default for InputRules {
    fn default() -> Self {
        InputRules {
            text_column: "text".into(),
            id_column: "id".into(),
            id_required: false,
            source: None,
            where_sql: None,
            format: None,
            max_document_bytes: MAX_DOCUMENT_BYTES,
        }
    }
}

/// Where the per-source breakdown comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A column whose value is the source.
    Column(String),
    /// A column of URLs whose host (without `www.`) is the source.
    UrlDomain(String),
}

pub use crate::corpus::Format;

/// The representation an axis is compared with (`targets:` section). An axis without one has
/// no target: its report shows shares and the ratio of each group to the largest.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Every group the same share.
    Parity,
    /// The listed groups (indexes in group order) the same share, the others none.
    ParityOf(Vec<usize>),
    /// An explicit share per group of the axis, in group order, summing to 1.
    Shares(Vec<f64>),
}

impl Target {
    /// The share of the `i`-th of `n` groups.
    pub fn share(&self, i: usize, n: usize) -> f64 {
        match self {
            Target::Parity => 1.0 / n as f64,
            Target::ParityOf(l) if l.contains(&i) => 1.0 / l.len() as f64,
            Target::ParityOf(_) => 0.0,
            Target::Shares(s) => s[i],
        }
    }

    /// `parity` or `shares`, as the report names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Parity | Target::ParityOf(_) => "parity",
            Target::Shares(_) => "shares",
        }
    }
}

/// Settings of the context-association section of the report (`report.association`).
#[derive(Debug, Clone, PartialEq)]
pub struct AssociationRules {
    /// `min_count` (default 5): a group–term pair needs this many co-mentioning documents.
    pub min_count: u64,
    /// `top` (default 10): associations listed per group and attribute lexicon.
    pub top: usize,
    /// `prior` (default 10): total pseudo-count of the informative Dirichlet prior of the
    /// log-odds ratio, spread over the terms in proportion to their corpus frequency.
    pub prior: f64,
}

/// Report settings (`report:` section).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRules {
    /// `examples` (default 3): example snippets per group.
    pub examples: usize,
    /// `snippet_chars` (default 160): length of a snippet around the first mention.
    pub snippet_chars: usize,
    /// `confidence` (default 0.95): level of the confidence intervals.
    pub confidence: f64,
    /// `top_terms` (default 10): most frequent terms listed per group.
    pub top_terms: usize,
    /// `top_sources` (default 20): sources listed in the per-source breakdown; the rest are
    /// summed under `(other)`.
    pub top_sources: usize,
    /// `min_documents` (default 30): a group with fewer documents is "too few to judge": shown
    /// with its counts, never ranked or flagged.
    pub min_documents: u64,
    pub association: AssociationRules,
}

impl Default for ReportRules {
    fn default() -> Self {
        ReportRules {
            examples: 3,
            snippet_chars: 160,
            confidence: 0.95,
            top_terms: 10,
            top_sources: 20,
            min_documents: 30,
            association: AssociationRules {
                min_count: 5,
                top: 10,
                prior: 10.0,
            },
        }
    }
}

/// A validated, compiled rule file.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub origin: RulesOrigin,
    pub input: InputRules,
    /// The target of each axis, by axis index (`None` for attribute lexicons).
    pub targets: Vec<Option<Target>>,
    pub report: ReportRules,
    pub detector: Arc<Detector>,
    /// What `debias apply` does (`seed`, `actions`, `output`).
    pub apply: actions::ApplyRules,
    /// Sentence embeddings in the scan (`embedding:`).
    pub embedding: Option<embedding::EmbeddingRules>,
    /// Bounds the report must hold (`gates:`, for `debias check`).
    pub gates: gates::Gates,
}

impl RuleSet {
    pub fn taxonomy(&self) -> &Taxonomy {
        self.detector.taxonomy()
    }
}

/// The largest rule or lexicon file read (the built-in lexicons together are under 1 MiB).
pub const MAX_RULE_FILE_BYTES: u64 = 64 << 20;

/// The bytes of a rule or lexicon file: a regular file of at most [`MAX_RULE_FILE_BYTES`], so
/// that a path such as `/dev/zero` or a FIFO is refused instead of read without end.
pub(crate) fn read_rule_file(path: &Path) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file (a rule or lexicon file must be a file on disk, not a device, FIFO or directory)".into());
    }
    if meta.len() > MAX_RULE_FILE_BYTES {
        return Err(format!(
            "{} bytes, more than the {} MiB a rule or lexicon file may have",
            meta.len(),
            MAX_RULE_FILE_BYTES >> 20
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_RULE_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_RULE_FILE_BYTES {
        return Err(format!(
            "it grew past {} MiB while being read",
            MAX_RULE_FILE_BYTES >> 20
        ));
    }
    Ok(bytes)
}

/// Reads, validates and compiles the rule file at `path`.
pub fn load(path: &Path) -> Result<RuleSet> {
    let display = path.display().to_string();
    let text = read_rule_file(path).map_err(|e| {
        Error::Rules(Diagnostics(vec![Diagnostic {
            file: display.clone(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the rule file: {e}"),
            help: Some("check the path given to --rules".into()),
        }]))
    })?;
    let text = String::from_utf8(text).map_err(|e| {
        Error::Rules(Diagnostics(vec![Diagnostic {
            file: display.clone(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!(
                "the rule file is not valid UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ),
            help: Some("save it as UTF-8".into()),
        }]))
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&display, &text, &base)
}

/// The built-in default rules.
pub fn default_rules() -> Result<RuleSet> {
    parse("<built-in>/default.yaml", DEFAULT_RULES, Path::new("."))
}

/// Validates and compiles rule text. `display` names the file in messages; lexicon paths are
/// resolved against `base_dir`.
pub fn parse(display: &str, text: &str, base_dir: &Path) -> Result<RuleSet> {
    let mut diags = Vec::new();
    let rs = compile(display, text, base_dir, &mut diags);
    match rs {
        Some(rs) if diags.is_empty() => Ok(rs),
        _ => {
            diags.sort_by(|a, b| {
                (a.file == display)
                    .cmp(&(b.file == display))
                    .reverse()
                    .then(a.cmp(b))
            });
            diags.dedup();
            if diags.is_empty() {
                return Err(Error::Internal(
                    "rules rejected without a diagnostic".into(),
                ));
            }
            Err(Error::Rules(Diagnostics(diags)))
        }
    }
}

const TOP_KEYS: &[&str] = &[
    "version",
    "description",
    "input",
    "axes",
    "attributes",
    "targets",
    "report",
    "seed",
    "actions",
    "output",
    "embedding",
    "person",
    "gates",
];
const INPUT_KEYS: &[&str] = &[
    "text_column",
    "id_column",
    "source_column",
    "source_url_column",
    "where",
    "format",
    "max_document_bytes",
];
const REPORT_KEYS: &[&str] = &[
    "examples",
    "snippet_chars",
    "confidence",
    "top_terms",
    "top_sources",
    "min_documents",
    "association",
];
const ASSOCIATION_KEYS: &[&str] = &["min_count", "top", "prior"];

fn compile(
    display: &str,
    text: &str,
    base_dir: &Path,
    diags: &mut Vec<Diagnostic>,
) -> Option<RuleSet> {
    let root = match yaml::parse(display, text) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let sha256 = hex(&Sha256::digest(text.as_bytes()));
    let mut r = Reader::new(display, diags);
    let f = r.fields(&root, "", TOP_KEYS)?;

    if let Some(v) = f.get("version") {
        match &v.kind {
            Kind::Int(RULES_VERSION) => {}
            Kind::Str(s) if s.trim() == RULES_VERSION.to_string() => r.error_help(
                v,
                "version",
                format!("the version is the string \"{s}\""),
                Some(format!("write it as a number: `version: {RULES_VERSION}`")),
            ),
            _ => r.error_help(
                v,
                "version",
                format!("unsupported rules version {}", v.scalar_text()),
                Some(format!("this debias reads version {RULES_VERSION}")),
            ),
        }
    }
    if let Some(d) = f.get("description") {
        r.string(d, "description");
    }
    let input = f
        .get("input")
        .map(|n| read_input(&mut r, n))
        .unwrap_or_default();
    let report = f
        .get("report")
        .map(|n| read_report(&mut r, n))
        .unwrap_or_default();

    let people = person::read(&mut r, f.get("person"), base_dir);
    let mut builder = TaxonomyBuilder::default();
    read_axes(
        &mut r,
        f.get("axes"),
        LexiconKind::Axis,
        base_dir,
        &mut builder,
    );
    read_axes(
        &mut r,
        f.get("attributes"),
        LexiconKind::Attribute,
        base_dir,
        &mut builder,
    );
    let targets = read_targets(&mut r, f.get("targets"), &builder);
    let detector = builder.build(&mut r, people)?;
    let topics = f.get("embedding").is_some_and(|n| match &n.kind {
        yaml::Kind::Map(m) => m
            .iter()
            .any(|(k, _)| matches!(&k.kind, yaml::Kind::Str(s) if s == "topics")),
        _ => false,
    });
    let apply = actions::read(
        &mut r,
        f.get("seed"),
        f.get("actions"),
        f.get("output"),
        detector.taxonomy(),
        &targets,
        base_dir,
        topics,
    );
    let embedding = f
        .get("embedding")
        .and_then(|n| embedding::read(&mut r, n, detector.taxonomy(), apply.seed, base_dir));
    let gates = f
        .get("gates")
        .map(|n| gates::read(&mut r, n, detector.taxonomy()))
        .unwrap_or_default();
    Some(RuleSet {
        origin: RulesOrigin {
            path: display.to_owned(),
            sha256,
            text: Arc::from(text),
            base_dir: base_dir.to_path_buf(),
        },
        input,
        targets,
        report,
        detector: Arc::new(detector),
        apply,
        embedding,
        gates,
    })
}

fn read_input(r: &mut Reader<'_>, node: &Node) -> InputRules {
    let mut out = InputRules::default();
    let Some(f) = r.fields(node, "input", INPUT_KEYS) else {
        return out;
    };
    let column = |r: &mut Reader<'_>, name: &str| -> Option<String> {
        let n = f.get(name)?;
        let s = r.string(n, &format!("input.{name}"))?;
        if s.is_empty() {
            r.error(n, &format!("input.{name}"), "empty column name");
            return None;
        }
        Some(s)
    };
    if let Some(t) = column(r, "text_column") {
        out.text_column = t;
    }
    if let Some(t) = column(r, "id_column") {
        out.id_column = t;
        out.id_required = true;
    }
    let source = column(r, "source_column").map(SourceSpec::Column);
    let url = column(r, "source_url_column").map(SourceSpec::UrlDomain);
    out.source = match (source, url) {
        (Some(_), Some(_)) => {
            r.error(
                f.key_node("source_url_column").unwrap_or(node),
                "input",
                "set either source_column or source_url_column, not both",
            );
            None
        }
        (a, b) => a.or(b),
    };
    if let Some(n) = f.get("where")
        && let Some(sql) = r.string(n, "input.where")
    {
        match sql::check_sql_predicate(&sql) {
            Ok(()) => out.where_sql = Some(sql),
            Err(e) => r.error_help(n, "input.where", format!("invalid SQL predicate: {e}"), Some("write a SQL boolean expression over the input's columns, e.g. `lang = 'en' AND length(text) > 200`")),
        }
    }
    if let Some(n) = f.get("max_document_bytes")
        && let Some(size) = r.size(n, "input.max_document_bytes")
    {
        out.max_document_bytes = size;
    }
    if let Some(n) = f.get("format") {
        out.format = r
            .choice(n, "input.format", Format::NAMES)
            .and_then(Format::from_name);
    }
    out
}

fn read_report(r: &mut Reader<'_>, node: &Node) -> ReportRules {
    let mut out = ReportRules::default();
    let Some(f) = r.fields(node, "report", REPORT_KEYS) else {
        return out;
    };
    if let Some(n) = f
        .get("examples")
        .and_then(|n| r.count(n, "report.examples"))
    {
        out.examples = n as usize;
    }
    if let Some(n) = f.get("snippet_chars") {
        match r.count(n, "report.snippet_chars") {
            Some(c) if c >= 20 => out.snippet_chars = c as usize,
            Some(_) => r.error(
                n,
                "report.snippet_chars",
                "a snippet needs at least 20 characters",
            ),
            None => {}
        }
    }
    if let Some(n) = f.get("confidence")
        && let Some(c) = r.number(n, "report.confidence")
    {
        if c > 0.0 && c < 1.0 {
            out.confidence = c;
        } else {
            r.error_help(
                n,
                "report.confidence",
                format!("confidence level {c} is not between 0 and 1"),
                Some("e.g. 0.95 for 95% intervals"),
            );
        }
    }
    if let Some(n) = f
        .get("top_terms")
        .and_then(|n| r.count(n, "report.top_terms"))
    {
        out.top_terms = n as usize;
    }
    if let Some(n) = f
        .get("top_sources")
        .and_then(|n| r.count(n, "report.top_sources"))
    {
        out.top_sources = n as usize;
    }
    if let Some(n) = f
        .get("min_documents")
        .and_then(|n| r.count(n, "report.min_documents"))
    {
        out.min_documents = n.max(1);
    }
    if let Some(a) = f.get("association")
        && let Some(af) = r.fields(a, "report.association", ASSOCIATION_KEYS)
    {
        if let Some(n) = af
            .get("min_count")
            .and_then(|n| r.count(n, "report.association.min_count"))
        {
            out.association.min_count = n.max(1);
        }
        if let Some(n) = af
            .get("top")
            .and_then(|n| r.count(n, "report.association.top"))
        {
            out.association.top = n as usize;
        }
        if let Some(n) = af.get("prior")
            && let Some(p) = r.number(n, "report.association.prior")
        {
            if p > 0.0 {
                out.association.prior = p;
            } else {
                r.error(
                    n,
                    "report.association.prior",
                    "the prior must be a positive number",
                );
            }
        }
    }
    out
}

fn read_targets(
    r: &mut Reader<'_>,
    node: Option<&Node>,
    b: &TaxonomyBuilder,
) -> Vec<Option<Target>> {
    let mut targets: Vec<Option<Target>> = vec![None; b.axes.len()];
    let Some(node) = node else { return targets };
    let axis_names: Vec<&str> = b
        .axes
        .iter()
        .filter(|a| a.kind == Some(LexiconKind::Axis))
        .map(|a| a.name.as_str())
        .collect();
    for (name, key_node, value) in r.entries(node, "targets") {
        let key = format!("targets.{name}");
        let Some(ai) = b.axis_index(name) else {
            let help = match yaml::nearest(name, &axis_names) {
                Some(n) => format!(
                    "did you mean `{n}`? axes of these rules: {}",
                    axis_names.join(", ")
                ),
                None => format!("axes of these rules: {}", axis_names.join(", ")),
            };
            r.error_help(
                key_node,
                &key,
                format!("no axis `{name}` in these rules"),
                Some(help),
            );
            continue;
        };
        let axis = &b.axes[ai];
        if axis.kind == Some(LexiconKind::Attribute) {
            r.error(
                key_node,
                &key,
                format!("`{name}` is an attribute lexicon; targets apply to demographic axes"),
            );
            continue;
        }
        let names: Vec<&str> = axis.groups.keys().map(String::as_str).collect();
        match &value.kind {
            Kind::Str(s) if s == "parity" => targets[ai] = Some(Target::Parity),
            Kind::Str(s) => r.error_help(value, &key, format!("unknown target `{s}`"), Some("use `parity`, a list of groups to hold at parity, or a mapping of group: share, e.g. `{female: 0.5, male: 0.45, non_binary: 0.05}`")),
            Kind::Seq(items) => {
                if let Some(listed) = read_parity_groups(r, value, items, &key, &names) {
                    targets[ai] = Some(Target::ParityOf(listed));
                }
            }
            Kind::Map(_) => {
                if let Some(shares) = read_shares(r, value, &key, &names) {
                    targets[ai] = Some(Target::Shares(shares));
                }
            }
            _ => r.error(value, &key, format!("expected `parity`, a list of groups or a mapping of group: share, found {}", value.type_name())),
        }
    }
    targets
}

/// A list of groups held at parity (`[female, male]`): at least two, each a group of `names`
/// once; their indexes, in group order.
fn read_parity_groups(
    r: &mut Reader<'_>,
    node: &Node,
    items: &[Node],
    key: &str,
    names: &[&str],
) -> Option<Vec<usize>> {
    let mut listed = Vec::new();
    for item in items {
        let g = r.string(item, key)?;
        match names.iter().position(|n| *n == g) {
            Some(i) if listed.contains(&i) => {
                r.error(item, key, format!("group `{g}` is listed twice"));
                return None;
            }
            Some(i) => listed.push(i),
            None => {
                let help = match yaml::nearest(&g, names) {
                    Some(n) => format!("did you mean `{n}`? groups: {}", names.join(", ")),
                    None => format!("groups: {}", names.join(", ")),
                };
                r.error_help(
                    item,
                    key,
                    format!("no group `{g}` in this axis"),
                    Some(help),
                );
                return None;
            }
        }
    }
    if listed.len() < 2 {
        r.error_help(
            node,
            key,
            "parity needs at least two groups",
            Some("e.g. `gender: [female, male]`"),
        );
        return None;
    }
    listed.sort_unstable();
    Some(listed)
}

/// A mapping of group: share over the groups `names`, every group given, summing to 1.
pub(crate) fn read_shares(
    r: &mut Reader<'_>,
    value: &Node,
    key: &str,
    names: &[&str],
) -> Option<Vec<f64>> {
    let mut shares = vec![None; names.len()];
    let mut ok = true;
    for (g, gkey, v) in r.entries(value, key) {
        let Some(gi) = names.iter().position(|n| *n == g) else {
            let help = match yaml::nearest(g, names) {
                Some(n) => format!("did you mean `{n}`? groups: {}", names.join(", ")),
                None => format!("groups: {}", names.join(", ")),
            };
            r.error_help(
                gkey,
                key,
                format!("no group `{g}` on this axis"),
                Some(help),
            );
            ok = false;
            continue;
        };
        match r.number(v, &format!("{key}.{g}")) {
            Some(x) if (0.0..=1.0).contains(&x) => shares[gi] = Some(x),
            Some(x) => {
                r.error(
                    v,
                    &format!("{key}.{g}"),
                    format!("share {x} is not between 0 and 1"),
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    let missing: Vec<String> = names
        .iter()
        .zip(&shares)
        .filter(|(_, s)| s.is_none())
        .map(|(n, _)| format!("`{n}`"))
        .collect();
    if ok && !missing.is_empty() {
        r.error_help(
            value,
            key,
            format!("no share for {}", missing.join(", ")),
            Some("give every group of the axis a share (0 is allowed)"),
        );
        return None;
    }
    if !ok {
        return None;
    }
    let shares: Vec<f64> = shares.into_iter().map(|s| s.unwrap_or(0.0)).collect();
    let sum: f64 = shares.iter().sum();
    if (sum - 1.0).abs() > 1e-6 {
        r.error_help(
            value,
            key,
            format!("shares sum to {}, expected 1.0", round6(sum)),
            Some("make the shares of the groups add up to 1"),
        );
        return None;
    }
    Some(shares)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon;

    fn errors(yaml: &str) -> String {
        match parse("r.yaml", yaml, Path::new(".")) {
            Ok(_) => panic!("expected errors for:\n{yaml}"),
            Err(e) => e.to_string(),
        }
    }

    fn ok(yaml: &str) -> RuleSet {
        parse("r.yaml", yaml, Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn default_rules_have_every_default_builtin() {
        let rs = default_rules().unwrap();
        let names: Vec<&str> = rs.taxonomy().axes.iter().map(|a| a.name.as_str()).collect();
        for b in lexicon::BUILTINS.iter().filter(|b| b.default) {
            assert!(names.contains(&b.name), "{} missing", b.name);
        }
        assert!(!names.contains(&"gender_first_names"));
    }

    #[test]
    fn small_mistakes_get_specific_messages() {
        let e = errors("version: \"1\"\n");
        assert!(
            e.contains("r.yaml:1:10") && e.contains("`version: 1`"),
            "{e}"
        );
        let e = errors("axes:\n  gendr: {}\n");
        assert!(e.contains("did you mean the built-in `gender`"), "{e}");
        let e = errors(
            "axes:\n  gender:\n    context:\n      - {term: \"  \", capitalized: true}\n      - {term: she, capitalized: true}\n      - {term: she, next_word: [said]}\n",
        );
        assert!(e.contains("r.yaml:4:") && e.contains("empty term"), "{e}");
        assert!(
            e.contains("r.yaml:6:") && e.contains("a second context rule for `she`"),
            "{e}"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_location() {
        let e = errors(
            "version: 1\ninputs: {}\naxes:\n  gender:\n    lexicons: [gendr]\ntargets:\n  gender: {female: 0.6, male: 0.6, non_binary: 0}\n",
        );
        assert!(
            e.contains("r.yaml:2:1") && e.contains("did you mean `input`"),
            "{e}"
        );
        assert!(
            e.contains("r.yaml:5:16")
                && e.contains("unknown lexicon `gendr`")
                && e.contains("did you mean `gender`"),
            "{e}"
        );
        assert!(e.contains("problems in the rules"), "{e}");
    }

    #[test]
    fn targets_must_cover_every_group_and_sum_to_one() {
        let e = errors(
            "axes:\n  gender: {}\ntargets:\n  gender: {female: 0.5, male: 0.45, non_binary: 0.04}\n",
        );
        assert!(e.contains("shares sum to 0.99, expected 1.0"), "{e}");
        let e = errors("axes:\n  gender: {}\ntargets:\n  gender: {female: 0.5, male: 0.5}\n");
        assert!(e.contains("no share for `non_binary`"), "{e}");
        let rs = ok(
            "axes:\n  gender: {}\ntargets:\n  gender: {female: 0.5, male: 0.45, non_binary: 0.05}\n",
        );
        assert_eq!(rs.targets[0], Some(Target::Shares(vec![0.5, 0.45, 0.05])));
    }

    #[test]
    fn gates_take_a_ratio_for_every_axis_or_per_axis() {
        let rs = ok(
            "axes:\n  gender: {}\n  age: {}\ngates:\n  min_coverage: 0.1\n  min_parity_ratio: {gender: 0.8}\n",
        );
        assert_eq!(rs.gates.min_coverage.all, Some(0.1));
        assert_eq!(rs.gates.min_parity_ratio.axes.get("gender"), Some(&0.8));
        let names = vec!["gender".to_owned(), "age".to_owned()];
        assert_eq!(rs.gates.min_coverage.over(&names).len(), 2);
        assert_eq!(
            rs.gates.min_parity_ratio.over(&names),
            vec![("gender".to_owned(), 0.8)]
        );
        assert!(ok("axes:\n  age: {}\n").gates.is_empty());
        let e = errors("axes:\n  gender: {}\ngates:\n  min_coverage: 5\n");
        assert!(
            e.contains("r.yaml:4:") && e.contains("not between 0 and 1"),
            "{e}"
        );
        let e = errors("axes:\n  gender: {}\ngates:\n  max_tvd: {gendr: 0.1}\n");
        assert!(e.contains("did you mean `gender`"), "{e}");
        let e = errors("axes:\n  gender: {}\ngates:\n  min_parity: 0.8\n");
        assert!(e.contains("unknown key `min_parity`"), "{e}");
    }

    #[test]
    fn axes_have_no_target_unless_declared_and_parity_may_list_its_groups() {
        let rs = ok("axes:\n  gender: {}\n  age: {}\ntargets:\n  gender: [male, female]\n");
        // Groups in group order (female, male, non_binary), whatever the order of the list.
        let t = rs.targets[0].as_ref().unwrap();
        assert_eq!(t, &Target::ParityOf(vec![0, 1]));
        assert_eq!(
            (t.share(0, 3), t.share(1, 3), t.share(2, 3)),
            (0.5, 0.5, 0.0)
        );
        assert_eq!(rs.targets[1], None);
        assert_eq!(ok("axes:\n  age: {}\n").targets[0], None);
        let e = errors("axes:\n  gender: {}\ntargets:\n  gender: [female, mael]\n");
        assert!(
            e.contains("no group `mael`") && e.contains("did you mean `male`"),
            "{e}"
        );
        let e = errors("axes:\n  gender: {}\ntargets:\n  gender: [female]\n");
        assert!(e.contains("at least two groups"), "{e}");
        let e = errors("axes:\n  gender: {}\ntargets:\n  gender: [female, female]\n");
        assert!(e.contains("listed twice"), "{e}");
    }

    #[test]
    fn axes_can_be_extended_trimmed_and_defined() {
        let rs = ok(concat!(
            "axes:\n",
            "  gender:\n",
            "    drop_groups: [non_binary]\n",
            "    remove: {male: [sir]}\n",
            "    groups:\n",
            "      female: [matriarch]\n",
            "  pets:\n",
            "    groups:\n",
            "      cat: [cat]\n",
            "    patterns:\n",
            "      cat: ['\\bfeline\\w*']\n",
            "attributes: {}\n",
        ));
        let det = &rs.detector;
        let tax = det.taxonomy();
        let groups = |t: &str| -> Vec<String> {
            det.hits(t)
                .groups(tax)
                .iter()
                .map(|(g, _)| tax.groups[*g as usize].key.clone())
                .collect()
        };
        assert_eq!(groups("the Matriarch"), ["gender/female"]);
        assert!(groups("Sir Ian").is_empty());
        assert_eq!(groups("felines and a cat"), ["pets/cat"]);
        assert_eq!(tax.group_by_key("gender/non_binary"), None);
        assert_eq!(
            det.hits("felines and a cat")
                .terms
                .iter()
                .map(|t| t.1)
                .sum::<u32>(),
            2
        );
    }

    #[test]
    fn invalid_regexes_and_empty_matches_are_refused() {
        let e = errors(
            "axes:\n  pets:\n    groups: {cat: [cat]}\n    patterns:\n      cat: ['(open', '\\d*']\n",
        );
        assert!(
            e.contains("r.yaml:5:13") && e.contains("invalid regex"),
            "{e}"
        );
        assert!(e.contains("matches empty text"), "{e}");
    }

    #[test]
    fn a_term_in_two_groups_of_an_axis_is_an_error() {
        let e = errors("axes:\n  pets:\n    groups:\n      cat: [cat]\n      dog: [cats]\n");
        assert!(
            e.contains("`cats`") && e.contains("also in group `cat`"),
            "{e}"
        );
    }
}
