//! The `seed:`, `actions:` and `output:` sections of a rule file, read by `debias apply`.
//!
//! Actions run in the order they are written. Each is a one-key mapping, `drop:`, `augment:` or
//! `rebalance:`, documented in `rules/README.md`. Everything is checked here, before any data is
//! read: names, groups and axes against the rules' lexicons, SQL predicates parsed, regexes
//! compiled, shares summing to 1, the swap tables compiled.

use std::path::Path;
use std::sync::Arc;

use regex::Regex;

use super::yaml::{self, Kind, Node, Reader};
use crate::augment::{self, Swapper};
use crate::detect::{GroupId, Taxonomy};
use crate::lexicon::LexiconKind;
use crate::lexicon::matcher::{Matcher, MatcherBuilder};

/// What `debias apply` does, from the rule file.
#[derive(Debug, Clone, Default)]
pub struct ApplyRules {
    /// Seed of every random choice (sampling, swaps); `--seed` overrides it.
    pub seed: u64,
    pub actions: Vec<Action>,
    pub output: OutputRules,
}

#[derive(Debug, Clone)]
pub struct Action {
    /// Unique within the rule file; written to `debias_rule` and the manifest.
    pub name: String,
    /// Documents the action applies to (all by default).
    pub scope: Scope,
    pub kind: ActionKind,
}

/// `scope:` of an action: a SQL predicate over the input columns and/or detected groups (any).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub where_sql: Option<String>,
    pub groups: Vec<GroupId>,
}

#[derive(Debug, Clone)]
pub enum ActionKind {
    Drop(DropRule),
    Augment(AugmentRule),
    Rebalance(RebalanceRule),
}

impl ActionKind {
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Drop(_) => "drop",
            ActionKind::Augment(_) => "augment",
            ActionKind::Rebalance(_) => "rebalance",
        }
    }
}

/// Drops the documents that meet every condition given.
#[derive(Debug, Clone)]
pub struct DropRule {
    pub where_sql: Option<String>,
    /// Mentions of these groups (a lexicon of the rules) are counted.
    pub lexicon_groups: Vec<GroupId>,
    /// An inline list of terms, matched like a lexicon.
    pub terms: Option<Arc<Matcher>>,
    pub regex: Option<Regex>,
    /// Matches (of the lexicon, terms or regex) needed to drop a document.
    pub min_count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AugmentMode {
    /// Keep the original and add the counterfactual copy.
    Append,
    /// Replace the original by its counterfactual.
    Replace,
}

#[derive(Debug, Clone)]
pub struct AugmentRule {
    pub swapper: Arc<Swapper>,
    pub mode: AugmentMode,
    /// Share of the documents in scope that are rewritten (chosen by a hash of seed and id).
    pub probability: f64,
    /// Per swap group: whether its terms are rewritten.
    pub from: Vec<bool>,
    /// Per swap group: whether terms may become it.
    pub to: Vec<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Downsample,
    Upsample,
    Reweight,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Documents,
    /// Whitespace-separated tokens.
    Tokens,
}

impl Strategy {
    /// The strategy's name in rule files and the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Downsample => "downsample",
            Strategy::Upsample => "upsample",
            Strategy::Reweight => "reweight",
        }
    }
}

impl Unit {
    /// The unit's name in rule files and the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Documents => "documents",
            Unit::Tokens => "tokens",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiGroup {
    /// A document counts for the group it mentions most (ties: the first group of the axis).
    Primary,
    /// Documents that mention two or more groups are kept as they are and not counted.
    Keep,
}

/// Buckets within which `reweight` balances the groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    None,
    /// The source (input.source_column or source_url_column).
    Source,
    /// The attribute lexicon's group a document mentions most (or none).
    Attribute(usize),
    /// The document's topic: the nearest of the k-means centroids fitted on a seeded sample
    /// of the corpus' embeddings (`embedding.topics`); a counterfactual copy is in its
    /// original's topic.
    Topic,
}

#[derive(Debug, Clone)]
pub struct RebalanceRule {
    pub axis: usize,
    /// Target share of each group of the axis, in group order, summing to 1.
    pub target: Vec<f64>,
    /// Where the target came from: `parity`, `shares`, or `reference:PATH`.
    pub target_kind: String,
    pub strategy: Strategy,
    pub unit: Unit,
    pub multi_group: MultiGroup,
    /// Upsample: at most this many rows per document (the original included).
    pub max_copies: u32,
    pub context: Context,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Zstd,
    Snappy,
    Gzip,
    Lz4,
    None,
}

impl Codec {
    pub const NAMES: &[&str] = &["zstd", "snappy", "gzip", "lz4", "none"];

    /// The codec's name in rule files and the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Zstd => "zstd",
            Codec::Snappy => "snappy",
            Codec::Gzip => "gzip",
            Codec::Lz4 => "lz4",
            Codec::None => "none",
        }
    }
}

/// `output:`: how the Parquet files are written.
#[derive(Debug, Clone)]
pub struct OutputRules {
    pub compression: Codec,
    /// Compression level (zstd 1-22, gzip 0-9); the codec's default when absent.
    pub level: Option<i32>,
    pub row_group_size: usize,
    /// A new file is started once a file holds this many bytes (checked after each row group).
    pub target_file_size: u64,
    /// Hive-style directories `COLUMN=VALUE/` per value of these columns.
    pub partition_by: Vec<String>,
    /// Whether the partition columns stay in the files too (`partition_columns: keep`, the
    /// default), so that readers that do not parse Hive paths (Hugging Face `datasets`, polars
    /// and DuckDB on a glob, debias itself) still see them; `drop` for engines that reject a
    /// column found both in the files and in the path (Spark, Hive).
    pub keep_partition_columns: bool,
}

impl Default for OutputRules {
    fn default() -> Self {
        OutputRules {
            compression: Codec::Zstd,
            level: None,
            row_group_size: 100_000,
            target_file_size: 512 * 1024 * 1024,
            partition_by: Vec::new(),
            keep_partition_columns: true,
        }
    }
}

const ACTION_KINDS: &[&str] = &["drop", "augment", "rebalance"];
const DROP_KEYS: &[&str] = &[
    "name",
    "scope",
    "where",
    "lexicon",
    "terms",
    "regex",
    "min_count",
];
const AUGMENT_KEYS: &[&str] = &[
    "name",
    "scope",
    "swap",
    "classes",
    "names",
    "groups",
    "mode",
    "probability",
    "from",
    "to",
];
const REBALANCE_KEYS: &[&str] = &[
    "name",
    "scope",
    "axis",
    "target",
    "strategy",
    "unit",
    "multi_group",
    "max_copies",
    "context",
];
const SCOPE_KEYS: &[&str] = &["where", "groups"];
const OUTPUT_KEYS: &[&str] = &[
    "compression",
    "level",
    "row_group_size",
    "target_file_size",
    "partition_by",
    "partition_columns",
];

/// Reads `seed`, `actions` and `output` against the compiled taxonomy.
/// `topics`: whether the rule file has an `embedding.topics` section (for `context: topic`).
#[allow(clippy::too_many_arguments)]
pub fn read(
    r: &mut Reader<'_>,
    seed: Option<&Node>,
    actions: Option<&Node>,
    output: Option<&Node>,
    tax: &Taxonomy,
    targets: &[Option<super::Target>],
    base_dir: &Path,
    topics: bool,
) -> ApplyRules {
    let mut out = ApplyRules::default();
    if let Some(n) = seed
        && let Some(s) = r.count(n, "seed")
    {
        out.seed = s;
    }
    if let Some(n) = output {
        out.output = read_output(r, n);
    }
    let Some(node) = actions else { return out };
    let items: &[Node] = match &node.kind {
        Kind::Seq(items) => items,
        Kind::Null => &[],
        _ => {
            r.error_help(
                node,
                "actions",
                format!("expected a list of actions, found {}", node.type_name()),
                Some("write each action as a list item: `- drop: {where: \"...\"}`"),
            );
            return out;
        }
    };
    let mut rebalance_at: Option<&Node> = None;
    for (i, item) in items.iter().enumerate() {
        let key = format!("actions[{i}]");
        let entries = r.entries(item, &key);
        let [(kind, kind_node, body)] = entries.as_slice() else {
            r.error_help(
                item,
                &key,
                "an action is a mapping with one key",
                Some(format!("one of: {}", ACTION_KINDS.join(", "))),
            );
            continue;
        };
        let key = format!("{key}.{kind}");
        let allowed = match *kind {
            "drop" => DROP_KEYS,
            "augment" => AUGMENT_KEYS,
            "rebalance" => REBALANCE_KEYS,
            other => {
                let help = match yaml::nearest(other, ACTION_KINDS) {
                    Some(n) => format!("did you mean `{n}`? actions: {}", ACTION_KINDS.join(", ")),
                    None => format!("actions: {}", ACTION_KINDS.join(", ")),
                };
                r.error_help(
                    kind_node,
                    &key,
                    format!("unknown action `{other}`"),
                    Some(help),
                );
                continue;
            }
        };
        let Some(f) = r.fields(body, &key, allowed) else {
            continue;
        };
        let Some(name) = action_name(r, &f, &key, kind, kind_node, i, &out.actions) else {
            continue;
        };
        let scope = f
            .get("scope")
            .map(|n| read_scope(r, n, &format!("{key}.scope"), tax))
            .unwrap_or_default();
        let action = match *kind {
            "drop" => read_drop(r, &f, body, &key, tax).map(ActionKind::Drop),
            "augment" => read_augment(r, &f, body, &key).map(ActionKind::Augment),
            _ => {
                if let Some(first) = rebalance_at {
                    r.error_help(
                        kind_node,
                        &key,
                        format!(
                            "a second rebalance action (the first is at line {})",
                            first.line
                        ),
                        Some("one rebalance action per rule file: run `debias apply` again on its output to balance another axis"),
                    );
                    continue;
                }
                rebalance_at = Some(kind_node);
                read_rebalance(r, &f, body, &key, tax, targets, base_dir, topics)
                    .map(ActionKind::Rebalance)
            }
        };
        if let Some(kind) = action {
            out.actions.push(Action { name, scope, kind });
        }
    }
    out
}

/// An action's `name` (default `KIND_N`, N its place in the list), valid and not taken by an
/// earlier action; None when it is invalid (reported).
fn action_name(
    r: &mut Reader<'_>,
    f: &yaml::Fields<'_>,
    key: &str,
    kind: &str,
    kind_node: &Node,
    i: usize,
    earlier: &[Action],
) -> Option<String> {
    let name = match f.get("name") {
        Some(n) => match r.string(n, &format!("{key}.name")) {
            Some(s) if crate::lexicon::valid_name(&s) => s,
            Some(s) => {
                r.error_help(
                    n,
                    &format!("{key}.name"),
                    format!("invalid action name `{s}`"),
                    Some("use lower-case letters, digits and `_`"),
                );
                return None;
            }
            None => return None,
        },
        None => format!("{kind}_{}", i + 1),
    };
    if earlier.iter().any(|a| a.name == name) {
        r.error_help(
            f.get("name").unwrap_or(kind_node),
            &format!("{key}.name"),
            format!("a second action named `{name}`"),
            Some("give every action its own name"),
        );
    }
    Some(name)
}

fn read_scope(r: &mut Reader<'_>, node: &Node, key: &str, tax: &Taxonomy) -> Scope {
    let mut s = Scope::default();
    let Some(f) = r.fields(node, key, SCOPE_KEYS) else {
        return s;
    };
    if let Some(n) = f.get("where") {
        s.where_sql = read_sql(r, n, &format!("{key}.where"));
    }
    if let Some(n) = f.get("groups") {
        for (g, gn) in r.strings(n, &format!("{key}.groups")) {
            if let Some(id) = group_key(r, gn, &format!("{key}.groups"), &g, tax) {
                s.groups.push(id);
            }
        }
    }
    s
}

fn read_sql(r: &mut Reader<'_>, n: &Node, key: &str) -> Option<String> {
    let sql = r.string(n, key)?;
    match super::sql::check_sql_predicate(&sql) {
        Ok(()) => Some(sql),
        Err(e) => {
            r.error_help(
                n,
                key,
                format!("invalid SQL predicate: {e}"),
                Some("write a SQL boolean expression over the input's columns, e.g. `length(text) < 200`"),
            );
            None
        }
    }
}

/// An `axis/group` key of the rules' taxonomy.
fn group_key(r: &mut Reader<'_>, n: &Node, key: &str, g: &str, tax: &Taxonomy) -> Option<GroupId> {
    if let Some(id) = tax.group_by_key(g) {
        return Some(id);
    }
    let keys: Vec<&str> = tax.groups.iter().map(|g| g.key.as_str()).collect();
    let help = match yaml::nearest(g, &keys) {
        Some(k) => format!("did you mean `{k}`? write groups as AXIS/GROUP, e.g. `gender/female`"),
        None => "write groups as AXIS/GROUP of these rules, e.g. `gender/female`".into(),
    };
    r.error_help(n, key, format!("no group `{g}` in these rules"), Some(help));
    None
}

fn axis_index(
    r: &mut Reader<'_>,
    n: &Node,
    key: &str,
    name: &str,
    tax: &Taxonomy,
    kind: LexiconKind,
) -> Option<usize> {
    if let Some(i) = tax
        .axes
        .iter()
        .position(|a| a.name == name && a.kind == kind)
    {
        return Some(i);
    }
    let names: Vec<&str> = tax
        .axes
        .iter()
        .filter(|a| a.kind == kind)
        .map(|a| a.name.as_str())
        .collect();
    let what = match kind {
        LexiconKind::Axis => "axis",
        LexiconKind::Attribute | LexiconKind::Person => "attribute lexicon",
    };
    let help = match yaml::nearest(name, &names) {
        Some(k) => format!(
            "did you mean `{k}`? {what}s of these rules: {}",
            names.join(", ")
        ),
        None => format!("{what}s of these rules: {}", names.join(", ")),
    };
    r.error_help(
        n,
        key,
        format!("no {what} `{name}` in these rules"),
        Some(help),
    );
    None
}

fn read_drop(
    r: &mut Reader<'_>,
    f: &yaml::Fields<'_>,
    body: &Node,
    key: &str,
    tax: &Taxonomy,
) -> Option<DropRule> {
    let mut d = DropRule {
        where_sql: None,
        lexicon_groups: Vec::new(),
        terms: None,
        regex: None,
        min_count: 1,
    };
    let mut ok = true;
    if let Some(n) = f.get("where") {
        d.where_sql = read_sql(r, n, &format!("{key}.where"));
        ok &= d.where_sql.is_some();
    }
    if let Some(n) = f.get("lexicon") {
        let name = r.string(n, &format!("{key}.lexicon"))?;
        let ai = tax.axes.iter().position(|a| a.name == name).or_else(|| {
            axis_index(
                r,
                n,
                &format!("{key}.lexicon"),
                &name,
                tax,
                LexiconKind::Axis,
            )
        });
        match ai {
            Some(ai) => d.lexicon_groups = tax.axes[ai].groups.clone().collect(),
            None => ok = false,
        }
    }
    if let Some(n) = f.get("terms") {
        let terms = r.strings(n, &format!("{key}.terms"));
        let mut b = MatcherBuilder::new();
        for (t, tn) in &terms {
            match crate::lexicon::normalize_term(t) {
                Ok(t) => b.add(&t, 0, None, 0),
                Err(e) => {
                    r.error(tn, &format!("{key}.terms"), e);
                    ok = false;
                }
            }
        }
        if b.is_empty() {
            r.error(n, &format!("{key}.terms"), "an empty list of terms");
            ok = false;
        } else {
            match b.build() {
                Ok(m) => d.terms = Some(Arc::new(m)),
                Err(e) => {
                    r.error(n, &format!("{key}.terms"), e);
                    ok = false;
                }
            }
        }
    }
    if let Some(n) = f.get("regex")
        && let Some(s) = r.string(n, &format!("{key}.regex"))
    {
        match Regex::new(&s) {
            Ok(re) => d.regex = Some(re),
            Err(e) => {
                r.error_help(
                    n,
                    &format!("{key}.regex"),
                    format!("invalid regex: {}", e.to_string().lines().last().unwrap_or("")),
                    Some("Rust regex syntax: https://docs.rs/regex/#syntax; use (?i) for case-insensitive"),
                );
                ok = false;
            }
        }
    }
    if let Some(n) = f.get("min_count") {
        match r.count(n, &format!("{key}.min_count")) {
            Some(c) if c >= 1 => d.min_count = c.min(u32::MAX as u64) as u32,
            Some(_) => r.error(
                n,
                &format!("{key}.min_count"),
                "min_count must be at least 1",
            ),
            None => {}
        }
    }
    if ok
        && d.where_sql.is_none()
        && d.lexicon_groups.is_empty()
        && d.terms.is_none()
        && d.regex.is_none()
    {
        r.error_help(
            body,
            key,
            "a drop action without a condition",
            Some("give `where` (SQL), `lexicon`, `terms` or `regex`; documents meeting all of them are dropped"),
        );
        return None;
    }
    ok.then_some(d)
}

/// `swap: gender`, with its `classes` and `names`.
fn gender_swapper(
    r: &mut Reader<'_>,
    f: &yaml::Fields<'_>,
    n: &Node,
    key: &str,
    ok: &mut bool,
) -> Option<Swapper> {
    r.choice(n, &format!("{key}.swap"), &["gender"])?;
    let classes: Vec<String> = match f.get("classes") {
        Some(cn) => {
            let list = r.strings(cn, &format!("{key}.classes"));
            for (c, node) in &list {
                if !augment::GENDER_CLASSES.contains(&c.as_str()) {
                    r.error_help(
                        node,
                        &format!("{key}.classes"),
                        format!("unknown class `{c}`"),
                        Some(format!(
                            "classes of the gender swap: {}",
                            augment::GENDER_CLASSES.join(", ")
                        )),
                    );
                    *ok = false;
                }
            }
            list.into_iter().map(|(c, _)| c).collect()
        }
        None => augment::GENDER_CLASSES
            .iter()
            .map(|c| c.to_string())
            .collect(),
    };
    let names = match f.get("names") {
        Some(n) => r.boolean(n, &format!("{key}.names")).unwrap_or(false),
        None => false,
    };
    let classes: Vec<&str> = classes.iter().map(String::as_str).collect();
    match Swapper::gender(&classes, names) {
        Ok(s) => Some(s),
        Err(e) => {
            r.error(n, &format!("{key}.swap"), e);
            None
        }
    }
}

/// `groups:`: interchangeable terms of two or more groups, in the same order.
fn term_swapper(r: &mut Reader<'_>, n: &Node, key: &str, ok: &mut bool) -> Option<Swapper> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (g, gn, terms) in r.entries(n, &format!("{key}.groups")) {
        let mut list: Vec<String> = Vec::new();
        let given = r.strings(terms, &format!("{key}.groups.{g}"));
        let any_given = !given.is_empty();
        for (t, tn) in given {
            if !t.chars().any(crate::lexicon::matcher::is_word_char) {
                // An empty term would match between every two characters.
                r.error_help(
                    tn,
                    &format!("{key}.groups.{g}"),
                    format!("the term {t:?} has no letter or digit"),
                    Some("remove it, or write the word it stands for"),
                );
                *ok = false;
                continue;
            }
            list.push(t);
        }
        if !any_given {
            r.error(gn, &format!("{key}.groups.{g}"), "a group without terms");
            *ok = false;
        }
        groups.push((g.to_owned(), list));
    }
    if groups.len() < 2 {
        r.error_help(n, &format!("{key}.groups"), "a swap needs at least two groups", Some("list the interchangeable terms of each group in the same order: `christian: [church, Bible]`, `muslim: [mosque, Quran]`"));
        return None;
    }
    match Swapper::term_groups(&groups) {
        Ok(s) => Some(s),
        Err(e) => {
            r.error(n, &format!("{key}.groups"), e);
            None
        }
    }
}

fn read_augment(
    r: &mut Reader<'_>,
    f: &yaml::Fields<'_>,
    body: &Node,
    key: &str,
) -> Option<AugmentRule> {
    let mut ok = true;
    let swapper = match (f.get("swap"), f.get("groups")) {
        (Some(n), None) => gender_swapper(r, f, n, key, &mut ok)?,
        (None, Some(n)) => term_swapper(r, n, key, &mut ok)?,
        (Some(n), Some(_)) => {
            r.error(n, key, "give either `swap: gender` or `groups:`, not both");
            return None;
        }
        (None, None) => {
            r.error_help(
                body,
                key,
                "an augment action needs `swap: gender` or `groups:`",
                Some("e.g. `augment: {swap: gender, mode: append}`"),
            );
            return None;
        }
    };
    if f.get("classes").is_some() && f.get("swap").is_none() {
        r.error(
            f.get("classes")?,
            &format!("{key}.classes"),
            "`classes` applies to `swap: gender` only",
        );
        ok = false;
    }
    let mode = match f.get("mode") {
        Some(n) => match r.choice(n, &format!("{key}.mode"), &["append", "replace"]) {
            Some("replace") => AugmentMode::Replace,
            Some(_) => AugmentMode::Append,
            None => {
                ok = false;
                AugmentMode::Append
            }
        },
        None => AugmentMode::Append,
    };
    let probability = match f.get("probability") {
        Some(n) => match r.number(n, &format!("{key}.probability")) {
            Some(p) if (0.0..=1.0).contains(&p) => p,
            Some(p) => {
                r.error(
                    n,
                    &format!("{key}.probability"),
                    format!("probability {p} is not between 0 and 1"),
                );
                ok = false;
                1.0
            }
            None => {
                ok = false;
                1.0
            }
        },
        None => 1.0,
    };
    let names: Vec<&str> = swapper.groups().iter().map(String::as_str).collect();
    let mut pick = |k: &str| -> Vec<bool> {
        let Some(n) = f.get(k) else {
            return vec![true; names.len()];
        };
        let mut v = vec![false; names.len()];
        for (g, gn) in r.strings(n, &format!("{key}.{k}")) {
            match names.iter().position(|x| *x == g) {
                Some(i) => v[i] = true,
                None => {
                    let help = match yaml::nearest(&g, &names) {
                        Some(x) => format!(
                            "did you mean `{x}`? groups of this swap: {}",
                            names.join(", ")
                        ),
                        None => format!("groups of this swap: {}", names.join(", ")),
                    };
                    r.error_help(
                        gn,
                        &format!("{key}.{k}"),
                        format!("no group `{g}` in this swap"),
                        Some(help),
                    );
                    ok = false;
                }
            }
        }
        v
    };
    let from = pick("from");
    let to = pick("to");
    ok.then(|| AugmentRule {
        swapper: Arc::new(swapper),
        mode,
        probability,
        from,
        to,
    })
}

/// A rebalance action's own `target`: `parity`, shares, or `{reference: REPORT.json}`; the
/// shares in group order and how they were given.
fn explicit_target(
    r: &mut Reader<'_>,
    t: &Node,
    key: &str,
    name: &str,
    group_names: &[&str],
    base_dir: &Path,
) -> Option<(Vec<f64>, String)> {
    let n = group_names.len();
    let tkey = format!("{key}.target");
    match &t.kind {
        Kind::Str(s) if s == "parity" => Some((vec![1.0 / n as f64; n], "parity".to_owned())),
        Kind::Map(m)
            if m.len() == 1 && matches!(&m[0].0.kind, Kind::Str(k) if k == "reference") =>
        {
            let path = r.string(&m[0].1, &format!("{tkey}.reference"))?;
            let shares =
                reference_shares(r, &m[0].1, &tkey, &base_dir.join(&path), name, group_names)?;
            Some((shares, format!("reference:{path}")))
        }
        Kind::Map(_) => Some((
            super::read_shares(r, t, &tkey, group_names)?,
            "shares".to_owned(),
        )),
        _ => {
            r.error_help(t, &tkey, format!("expected `parity`, a mapping of group: share, or `{{reference: REPORT.json}}`, found {}", t.scalar_text()), Some("e.g. `target: {female: 0.5, male: 0.5}`"));
            None
        }
    }
}

/// A rebalance action's `context`: `none`, `source`, `topic` or an attribute lexicon; None
/// when invalid (reported).
fn rebalance_context(
    r: &mut Reader<'_>,
    n: &Node,
    key: &str,
    tax: &Taxonomy,
    topics: bool,
) -> Option<Context> {
    let ckey = format!("{key}.context");
    match r.string(n, &ckey).as_deref() {
        Some("none") => Some(Context::None),
        Some("source") => Some(Context::Source),
        Some("topic") if topics => Some(Context::Topic),
        Some("topic") => {
            r.error_help(
                n,
                &ckey,
                "`context: topic` needs topics, and this rule file has no `embedding.topics`",
                Some("add e.g. `embedding: {model: DIR, topics: {k: 8}}` (see rules/README.md, `embedding`)"),
            );
            None
        }
        Some(other) => {
            axis_index(r, n, &ckey, other, tax, LexiconKind::Attribute).map(Context::Attribute)
        }
        None => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn read_rebalance(
    r: &mut Reader<'_>,
    f: &yaml::Fields<'_>,
    body: &Node,
    key: &str,
    tax: &Taxonomy,
    targets: &[Option<super::Target>],
    base_dir: &Path,
    topics: bool,
) -> Option<RebalanceRule> {
    let Some(an) = f.get("axis") else {
        r.error_help(
            body,
            key,
            "a rebalance action needs `axis`",
            Some("e.g. `rebalance: {axis: gender, strategy: downsample}`"),
        );
        return None;
    };
    let name = r.string(an, &format!("{key}.axis"))?;
    let axis = axis_index(r, an, &format!("{key}.axis"), &name, tax, LexiconKind::Axis)?;
    let group_names: Vec<&str> = tax.axes[axis]
        .groups
        .clone()
        .map(|g| tax.groups[g as usize].name.as_str())
        .collect();
    let n = group_names.len();
    let mut ok = true;
    let (target, target_kind) = match f.get("target") {
        None => match &targets[axis] {
            Some(t) => ((0..n).map(|i| t.share(i, n)).collect(), t.kind().to_owned()),
            None => (vec![1.0 / n as f64; n], "parity".to_owned()),
        },
        Some(t) => explicit_target(r, t, key, &name, &group_names, base_dir)?,
    };
    let strategy = match f.get("strategy") {
        Some(n) => match r.choice(
            n,
            &format!("{key}.strategy"),
            &["downsample", "upsample", "reweight"],
        ) {
            Some("downsample") => Strategy::Downsample,
            Some("upsample") => Strategy::Upsample,
            Some(_) => Strategy::Reweight,
            None => return None,
        },
        None => {
            r.error_help(
                body,
                key,
                "a rebalance action needs `strategy`",
                Some("one of: downsample, upsample, reweight"),
            );
            return None;
        }
    };
    let unit = match f
        .get("unit")
        .map(|n| r.choice(n, &format!("{key}.unit"), &["documents", "tokens"]))
    {
        Some(Some("tokens")) => Unit::Tokens,
        Some(None) => {
            ok = false;
            Unit::Documents
        }
        _ => Unit::Documents,
    };
    let multi_group = match f
        .get("multi_group")
        .map(|n| r.choice(n, &format!("{key}.multi_group"), &["primary", "keep"]))
    {
        Some(Some("keep")) => MultiGroup::Keep,
        Some(None) => {
            ok = false;
            MultiGroup::Primary
        }
        _ => MultiGroup::Primary,
    };
    let mut max_copies = 5;
    if let Some(n) = f.get("max_copies") {
        match r.count(n, &format!("{key}.max_copies")) {
            Some(c) if (1..=1000).contains(&c) => max_copies = c as u32,
            Some(c) => {
                r.error(
                    n,
                    &format!("{key}.max_copies"),
                    format!("max_copies {c} is not between 1 and 1000"),
                );
                ok = false;
            }
            None => ok = false,
        }
        if strategy != Strategy::Upsample {
            r.error(
                n,
                &format!("{key}.max_copies"),
                "`max_copies` applies to `strategy: upsample` only",
            );
            ok = false;
        }
    }
    let context = match f.get("context") {
        Some(n) => rebalance_context(r, n, key, tax, topics).unwrap_or_else(|| {
            ok = false;
            Context::None
        }),
        None => Context::None,
    };
    ok.then_some(RebalanceRule {
        axis,
        target,
        target_kind,
        strategy,
        unit,
        multi_group,
        max_copies,
        context,
    })
}

/// The document shares of `axis`'s groups in a saved debias report (JSON).
fn reference_shares(
    r: &mut Reader<'_>,
    node: &Node,
    key: &str,
    path: &Path,
    axis: &str,
    groups: &[&str],
) -> Option<Vec<f64>> {
    let fail = |r: &mut Reader<'_>, msg: String| {
        r.error_help(
            node,
            key,
            msg,
            Some("give a report.json written by `debias scan` whose axis has the same groups"),
        );
        None
    };
    // Read as plain JSON: the rules sit below the report module, and need only the shares.
    let report: serde_json::Value = match crate::artifact::load_versioned(
        path,
        crate::artifact::REPORT_SCHEMA,
        crate::artifact::REPORT_VERSIONS,
        "a report.json written by `debias scan --report` or `debias apply` (report/before.json, report/after.json)",
    ) {
        Ok(r) => r,
        Err(e) => {
            return fail(
                r,
                format!("cannot use the reference report: {}", e.to_string().trim()),
            );
        }
    };
    let named = |list: &serde_json::Value, name: &str| {
        list.as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .cloned()
    };
    let Some(ax) = named(&report["axes"], axis) else {
        return fail(
            r,
            format!(
                "the reference report {} has no axis `{axis}`",
                path.display()
            ),
        );
    };
    let mut shares = Vec::with_capacity(groups.len());
    for g in groups {
        let share = named(&ax["groups"], g).and_then(|x| x["doc_share"].as_f64());
        match share {
            Some(s) => shares.push(s),
            None => {
                return fail(
                    r,
                    format!(
                        "the reference report {} has no document share for `{axis}/{g}`",
                        path.display()
                    ),
                );
            }
        }
    }
    let sum: f64 = shares.iter().sum();
    if sum <= 0.0 {
        return fail(
            r,
            format!(
                "the reference report {} has no documents for `{axis}`",
                path.display()
            ),
        );
    }
    Some(shares.into_iter().map(|s| s / sum).collect())
}

fn read_output(r: &mut Reader<'_>, node: &Node) -> OutputRules {
    let mut o = OutputRules::default();
    let Some(f) = r.fields(node, "output", OUTPUT_KEYS) else {
        return o;
    };
    if let Some(n) = f.get("compression") {
        o.compression = match r.choice(n, "output.compression", Codec::NAMES) {
            Some("snappy") => Codec::Snappy,
            Some("gzip") => Codec::Gzip,
            Some("lz4") => Codec::Lz4,
            Some("none") => Codec::None,
            _ => Codec::Zstd,
        };
    }
    if let Some(n) = f.get("level")
        && let Some(l) = r.count(n, "output.level")
    {
        let range = match o.compression {
            Codec::Zstd => Some(1..=22),
            Codec::Gzip => Some(0..=9),
            _ => None,
        };
        match range {
            Some(rg) if rg.contains(&(l as i32)) => o.level = Some(l as i32),
            Some(rg) => r.error(
                n,
                "output.level",
                format!(
                    "level {l} is out of range {}..={} for this codec",
                    rg.start(),
                    rg.end()
                ),
            ),
            None => r.error(n, "output.level", "`level` applies to zstd and gzip only"),
        }
    }
    if let Some(n) = f.get("row_group_size") {
        match r.count(n, "output.row_group_size") {
            Some(c) if c >= 1 => o.row_group_size = c as usize,
            Some(_) => r.error(
                n,
                "output.row_group_size",
                "a row group needs at least one row",
            ),
            None => {}
        }
    }
    if let Some(n) = f.get("target_file_size")
        && let Some(size) = r.size(n, "output.target_file_size")
    {
        o.target_file_size = size;
    }
    if let Some(n) = f.get("partition_by") {
        o.partition_by = r
            .strings(n, "output.partition_by")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
    }
    if let Some(n) = f.get("partition_columns") {
        o.keep_partition_columns =
            r.choice(n, "output.partition_columns", &["keep", "drop"]) != Some("drop");
    }
    o
}
