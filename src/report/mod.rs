//! The skew report: figures computed from [`ScanStats`], written as JSON (versioned schema,
//! documented in `docs` of README) and Markdown.
//!
//! Definitions (also in the README):
//! * a group's **documents** are the scanned documents that mention at least one of its terms;
//! * an axis's **coverage** is the share of all scanned documents that mention the axis;
//! * **doc_share** = documents of the group / documents that mention the axis (a document that
//!   mentions two groups counts for both, so these may sum to more than 1);
//! * **share** = documents of the group / sum over the axis's groups of their documents: the
//!   representation distribution, which sums to 1 and is compared with the target;
//! * **ratio_to_target** = share / target share; **total_variation_distance** = ½ Σ |share −
//!   target|; **max_min_ratio** = largest ratio_to_target / smallest (null when a group with a
//!   positive target is absent);
//! * confidence intervals are Wilson score intervals at the configured level;
//! * associations compare how often a group's documents mention an attribute term with how often
//!   the other groups' documents of the same axis do: a log-odds ratio with an informative
//!   Dirichlet prior (Monroe et al. 2008) and its z-score, plus the normalised PMI of group and
//!   term over documents; pairs seen in fewer than `min_count` documents are left out, and so
//!   are attribute terms that are also terms of the axis (`actress` for gender).

pub mod card;
pub mod charts;
pub mod diff;
pub mod embedding;
pub mod fmt;
pub mod gates;
pub mod headline;
pub mod html;
pub mod markdown;
pub mod stats;

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::artifact::{Tool, load_versioned, write_atomic};
use crate::corpus::InputFile;
use crate::detect::{GroupId, Taxonomy};
use crate::error::Result;
pub use crate::interval::{normal_quantile, wilson};
use crate::lexicon::LexiconKind;
use crate::rules::{RuleSet, SourceSpec, Target};
use stats::ScanOutcome;
use stats::ScanStats;

/// Identifies the JSON format of the report.
pub const SCHEMA: &str = crate::artifact::REPORT_SCHEMA;
/// Version of the JSON format; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = *crate::artifact::REPORT_VERSIONS.end();
/// The oldest version this debias still reads (version 1 had a target for every axis).
pub const OLDEST_SCHEMA_VERSION: u32 = *crate::artifact::REPORT_VERSIONS.start();

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: String,
    pub version: u32,
    pub tool: Tool,
    pub rules: RulesInfo,
    pub inputs: Vec<InputFile>,
    pub empty_files: Vec<InputFile>,
    pub rows: Rows,
    pub text_bytes: u64,
    pub confidence: f64,
    /// Groups with fewer documents are too few to judge (`report.min_documents`).
    #[serde(default)]
    pub min_documents: u64,
    /// The flagged skews, ranked (see [`headline`]).
    #[serde(default)]
    pub findings: Vec<headline::Finding>,
    pub axes: Vec<AxisReport>,
    pub attributes: Vec<AttributeReport>,
    pub intersections: Vec<Intersection>,
    /// Group–term pairs tested for association (seen in `min_count` documents or more); the
    /// false discovery rate of the listed associations is controlled over all of them.
    #[serde(default)]
    pub association_tests: u64,
    pub associations: Vec<GroupAssociations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<SourcesReport>,
    /// Set by the scan when the rules have an `embedding:` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<embedding::EmbeddingReport>,
    /// Detection measured on labelled samples (`scan --eval FILE`), with the same rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evaluations: Vec<crate::eval::Evaluation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RulesInfo {
    pub path: String,
    pub sha256: String,
    /// The seed of every random choice (the rules' `seed`, or `--seed` of `apply`).
    #[serde(default)]
    pub seed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#where: Option<String>,
}

/// Every row read, accounted for: `read = excluded_by_where + null_text + too_large + scanned`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rows {
    pub read: u64,
    pub excluded_by_where: u64,
    pub null_text: u64,
    /// Texts longer than `input.max_document_bytes` (absent from reports before it existed).
    #[serde(default)]
    pub too_large: u64,
    pub scanned: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AxisReport {
    pub name: String,
    pub description: String,
    pub lexicons: Vec<String>,
    /// Documents that mention the axis.
    pub documents: u64,
    pub coverage: f64,
    pub coverage_ci: [f64; 2],
    /// Documents that mention two or more groups of the axis.
    pub multi_group_documents: u64,
    pub mentions: u64,
    /// `none`, `parity` or `shares`.
    pub target: String,
    /// With a target: ½ Σ |share − target|.
    pub total_variation_distance: Option<f64>,
    /// With a target: the largest ratio to target over the smallest, among the judged groups.
    pub max_min_ratio: Option<f64>,
    /// The smallest share over the largest, among the judged groups (those the target covers).
    #[serde(default)]
    pub parity_ratio: Option<f64>,
    /// For gender: female documents per male document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<headline::PairRatio>,
    pub groups: Vec<GroupReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupReport {
    pub name: String,
    pub key: String,
    pub documents: u64,
    pub mentions: u64,
    pub doc_share: Option<f64>,
    pub doc_share_ci: Option<[f64; 2]>,
    pub share: Option<f64>,
    pub share_ci: Option<[f64; 2]>,
    /// The target share; null when the axis has no target.
    pub target: Option<f64>,
    pub ratio_to_target: Option<f64>,
    /// share / the largest group's share.
    #[serde(default)]
    pub ratio_to_largest: Option<f64>,
    /// Fewer documents than `min_documents`: shown, never ranked or flagged.
    #[serde(default)]
    pub too_few: bool,
    pub top_terms: Vec<TermCount>,
    pub examples: Vec<ExampleReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TermCount {
    pub term: String,
    pub documents: u64,
    pub mentions: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExampleReport {
    pub id: String,
    pub matched: String,
    pub snippet: String,
    /// The byte range of the match in `snippet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<[usize; 2]>,
}

impl ExampleReport {
    /// The snippet with the match wrapped in `open` and `close`.
    pub fn marked(&self, open: &str, close: &str) -> String {
        match self.mark {
            Some([a, b])
                if a <= b
                    && b <= self.snippet.len()
                    && self.snippet.is_char_boundary(a)
                    && self.snippet.is_char_boundary(b) =>
            {
                format!(
                    "{}{open}{}{close}{}",
                    &self.snippet[..a],
                    &self.snippet[a..b],
                    &self.snippet[b..]
                )
            }
            _ => self.snippet.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttributeReport {
    pub name: String,
    pub documents: u64,
    pub coverage: f64,
    pub categories: Vec<CategoryReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CategoryReport {
    pub name: String,
    pub key: String,
    pub documents: u64,
    pub mentions: u64,
    pub top_terms: Vec<TermCount>,
}

/// Documents mentioning a group of one axis and a group of another.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Intersection {
    pub a: String,
    pub b: String,
    pub documents: u64,
    /// documents / documents of `a`.
    pub share_of_a: f64,
    /// documents / documents of `b`.
    pub share_of_b: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupAssociations {
    pub group: String,
    pub lexicon: String,
    pub terms: Vec<Association>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Association {
    pub term: String,
    pub category: String,
    /// Documents mentioning the group and the term.
    pub documents: u64,
    pub log_odds: f64,
    pub z: f64,
    /// One-sided p-value of `z` (more often with the group).
    #[serde(default)]
    pub p: f64,
    /// Benjamini–Hochberg adjusted p-value over every pair tested in the report.
    #[serde(default)]
    pub q: f64,
    pub npmi: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourcesReport {
    /// The column, and whether it is a URL column reduced to its domain.
    pub column: String,
    pub kind: String,
    pub distinct: usize,
    pub null_source: u64,
    pub top: Vec<SourceReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceReport {
    pub source: String,
    pub documents: u64,
    pub share: f64,
    /// Per demographic axis: coverage and the groups' shares within the source.
    pub axes: Vec<SourceAxis>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceAxis {
    pub axis: String,
    pub coverage: f64,
    /// Per group: (documents, share) in group order.
    pub groups: Vec<SourceGroup>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceGroup {
    pub group: String,
    pub documents: u64,
    pub share: Option<f64>,
}

/// Rounds to 6 decimals so that reports are stable and readable.
fn r6(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        x
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| r6(a as f64 / b as f64))
}

impl Report {
    /// Computes the report of a scan.
    pub fn build(rules: &RuleSet, outcome: &ScanOutcome) -> Report {
        let s = &outcome.stats;
        let tax = rules.taxonomy();
        let rr = &rules.report;
        let level = rr.confidence;
        let n = s.documents;
        let top_terms = |g: GroupId| -> Vec<TermCount> {
            let mut v: Vec<TermCount> = tax
                .terms
                .iter()
                .enumerate()
                .filter(|(t, ti)| ti.group == g && s.term_docs[*t] > 0)
                .map(|(t, ti)| TermCount {
                    term: ti.text.clone(),
                    documents: s.term_docs[t],
                    mentions: s.term_mentions[t],
                })
                .collect();
            v.sort_by(|a, b| {
                b.documents
                    .cmp(&a.documents)
                    .then(b.mentions.cmp(&a.mentions))
                    .then(a.term.cmp(&b.term))
            });
            v.truncate(rr.top_terms);
            v
        };
        let mut axes = Vec::new();
        let mut attributes = Vec::new();
        let mut findings = Vec::new();
        for (ai, axis) in tax.axes.iter().enumerate() {
            let groups = axis.groups.clone();
            match axis.kind {
                LexiconKind::Axis => {
                    let mut a = axis_report(rules, s, ai, &top_terms);
                    a.pair = headline::gender_ratio(&a, level);
                    a.parity_ratio = headline::parity_ratio(&a, rr.min_documents);
                    findings.extend(headline::axis_findings(&a, rr.min_documents, level));
                    axes.push(a);
                }
                LexiconKind::Attribute | LexiconKind::Person => {
                    attributes.push(AttributeReport {
                        name: axis.name.clone(),
                        documents: s.axis_docs[ai],
                        coverage: ratio(s.axis_docs[ai], n).unwrap_or(0.0),
                        categories: groups
                            .map(|g| CategoryReport {
                                name: tax.groups[g as usize].name.clone(),
                                key: tax.groups[g as usize].key.clone(),
                                documents: s.group_docs[g as usize],
                                mentions: s.group_mentions[g as usize],
                                top_terms: top_terms(g),
                            })
                            .collect(),
                    });
                }
            }
        }
        headline::rank(&mut findings);
        let (associations, tested) = associations(rules, s);
        Report {
            schema: SCHEMA.into(),
            version: SCHEMA_VERSION,
            tool: Tool::current(),
            rules: RulesInfo {
                path: rules.origin.path.clone(),
                sha256: rules.origin.sha256.clone(),
                seed: rules.apply.seed,
                r#where: rules.input.where_sql.clone(),
            },
            inputs: outcome.files.clone(),
            empty_files: outcome.empty_files.clone(),
            rows: Rows {
                read: s.rows.read,
                excluded_by_where: s.rows.excluded_by_where,
                null_text: s.rows.null_text,
                too_large: s.rows.too_large,
                scanned: s.documents,
            },
            text_bytes: s.text_bytes,
            confidence: level,
            min_documents: rr.min_documents,
            findings,
            axes,
            attributes,
            intersections: intersections(tax, s),
            association_tests: tested,
            associations,
            sources: sources(rules, s),
            embedding: outcome.embedding.clone(),
            evaluations: Vec::new(),
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a report always serialises");
        s.push('\n');
        s
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        markdown::render(self)
    }

    /// The report as one self-contained HTML page.
    pub fn to_html(&self) -> String {
        html::render(self)
    }

    /// Reads a report written by `to_json`, checking its schema and version.
    pub fn load(path: &Path) -> Result<Report> {
        load_versioned(
            path,
            SCHEMA,
            OLDEST_SCHEMA_VERSION..=SCHEMA_VERSION,
            "a report.json written by `debias scan --report` or `debias apply` (report/before.json, report/after.json)",
        )
    }
}

/// The report of demographic axis `ai`: its groups' documents, shares and intervals, and their
/// distance from the axis's target when it has one.
fn axis_report(
    rules: &RuleSet,
    s: &ScanStats,
    ai: usize,
    top_terms: &dyn Fn(GroupId) -> Vec<TermCount>,
) -> AxisReport {
    let tax = rules.taxonomy();
    let rr = &rules.report;
    let level = rr.confidence;
    let axis = &tax.axes[ai];
    let groups = axis.groups.clone();
    let target = rules.targets[ai].as_ref();
    let ng = groups.len();
    let sum_docs: u64 = groups.clone().map(|g| s.group_docs[g as usize]).sum();
    let largest = groups
        .clone()
        .map(|g| s.group_docs[g as usize])
        .max()
        .unwrap_or(0);
    let mut grs = Vec::new();
    let mut tvd = 0.0;
    // Ratios to target of the judged groups.
    let mut ratios = Vec::new();
    for (i, g) in groups.clone().enumerate() {
        let docs = s.group_docs[g as usize];
        let raw = (sum_docs > 0).then(|| docs as f64 / sum_docs as f64);
        let t = target.map(|t| t.share(i, ng));
        if let (Some(sh), Some(t)) = (raw, t) {
            tvd += (sh - t).abs();
        }
        let raw_ratio = raw.zip(t.filter(|&t| t > 0.0)).map(|(sh, t)| sh / t);
        let too_few = docs < rr.min_documents;
        if let Some(r) = raw_ratio.filter(|_| !too_few) {
            ratios.push(r);
        }
        grs.push(GroupReport {
            name: tax.groups[g as usize].name.clone(),
            key: tax.groups[g as usize].key.clone(),
            documents: docs,
            mentions: s.group_mentions[g as usize],
            doc_share: ratio(docs, s.axis_docs[ai]),
            doc_share_ci: wilson(docs, s.axis_docs[ai], level),
            share: ratio(docs, sum_docs),
            share_ci: wilson(docs, sum_docs, level),
            target: t.map(r6),
            ratio_to_target: raw_ratio.map(r6),
            ratio_to_largest: ratio(docs, largest),
            too_few,
            top_terms: top_terms(g),
            examples: s.examples[g as usize]
                .iter()
                .map(|e| ExampleReport {
                    id: e.id.clone(),
                    matched: e.matched.clone(),
                    snippet: e.snippet.clone(),
                    mark: Some(e.mark),
                })
                .collect(),
        });
    }
    let (mx, mn) = ratios
        .iter()
        .fold((f64::MIN, f64::MAX), |(a, b), &r| (a.max(r), b.min(r)));
    AxisReport {
        name: axis.name.clone(),
        description: axis.description.clone(),
        lexicons: axis.lexicons.clone(),
        documents: s.axis_docs[ai],
        coverage: ratio(s.axis_docs[ai], s.documents).unwrap_or(0.0),
        coverage_ci: wilson(s.axis_docs[ai], s.documents, level).unwrap_or([0.0, 0.0]),
        multi_group_documents: s.axis_multi_docs[ai],
        mentions: groups.map(|g| s.group_mentions[g as usize]).sum(),
        target: target.map_or("none", Target::kind).into(),
        total_variation_distance: (target.is_some() && sum_docs > 0).then(|| r6(tvd / 2.0)),
        max_min_ratio: (ratios.len() >= 2 && mn > 0.0).then(|| r6(mx / mn)),
        parity_ratio: None,
        pair: None,
        groups: grs,
    }
}

fn intersections(tax: &Taxonomy, s: &ScanStats) -> Vec<Intersection> {
    let mut out: Vec<Intersection> = s
        .pair_docs
        .iter()
        .filter(|((a, b), _)| tax.is_demographic(*a) && tax.is_demographic(*b))
        .map(|(&(a, b), &n)| Intersection {
            a: tax.groups[a as usize].key.clone(),
            b: tax.groups[b as usize].key.clone(),
            documents: n,
            share_of_a: ratio(n, s.group_docs[a as usize]).unwrap_or(0.0),
            share_of_b: ratio(n, s.group_docs[b as usize]).unwrap_or(0.0),
        })
        .collect();
    out.sort_by(|x, y| {
        y.documents
            .cmp(&x.documents)
            .then_with(|| (&x.a, &x.b).cmp(&(&y.a, &y.b)))
    });
    out
}

/// The significant positive associations between groups and attribute terms, and how many
/// group–term pairs were tested: a one-sided z test of each pair's log-odds ratio, with the false
/// discovery rate held at 1 − `report.confidence` over all pairs by Benjamini–Hochberg.
fn associations(rules: &RuleSet, s: &ScanStats) -> (Vec<GroupAssociations>, u64) {
    let tax = rules.taxonomy();
    let cfg = &rules.report.association;
    // Co-occurrence per (group, term), indexed for lookups.
    let mut by_group: HashMap<GroupId, HashMap<u32, u64>> = HashMap::new();
    for (&(g, t), &c) in &s.group_term_docs {
        by_group.entry(g).or_default().insert(t, c);
    }
    let count = |g: GroupId, t: u32| -> f64 {
        by_group
            .get(&g)
            .and_then(|m| m.get(&t))
            .copied()
            .unwrap_or(0) as f64
    };
    // Every pair tested: (group, lexicon, association).
    let mut tested: Vec<(GroupId, usize, Association)> = Vec::new();
    for (ai, axis) in tax.demographic_axes() {
        let own = axis_phrases(tax, ai);
        for (li, _) in tax.attribute_axes() {
            let lex_terms: Vec<u32> = (0..tax.terms.len() as u32)
                .filter(|&t| tax.groups[tax.group_of(t) as usize].axis == li)
                .filter(|&t| !contains_phrase(&tax.terms[t as usize].text, &own))
                .collect();
            let lex_total: f64 = lex_terms
                .iter()
                .map(|&t| s.term_docs[t as usize] as f64)
                .sum();
            if lex_total == 0.0 {
                continue;
            }
            let group_total = |g: GroupId| -> f64 { lex_terms.iter().map(|&t| count(g, t)).sum() };
            let totals: Vec<f64> = axis.groups.clone().map(group_total).collect();
            let all_total: f64 = totals.iter().sum();
            for (gi, g) in axis.groups.clone().enumerate() {
                for &t in &lex_terms {
                    let y_g = count(g, t);
                    if y_g < cfg.min_count as f64 {
                        continue;
                    }
                    let y_r: f64 = axis
                        .groups
                        .clone()
                        .filter(|&h| h != g)
                        .map(|h| count(h, t))
                        .sum();
                    let pair = Pair {
                        y_g,
                        y_r,
                        n_g: totals[gi],
                        n_r: all_total - totals[gi],
                        alpha: cfg.prior * s.term_docs[t as usize] as f64 / lex_total,
                    };
                    tested.push((g, li, association(tax, s, cfg.prior, g, t, pair)));
                }
            }
        }
    }
    let q = crate::interval::benjamini_hochberg(&tested.iter().map(|x| x.2.p).collect::<Vec<_>>());
    let fdr = 1.0 - rules.report.confidence;
    let mut kept: std::collections::BTreeMap<(GroupId, usize), Vec<Association>> =
        Default::default();
    let n_tested = tested.len() as u64;
    for ((g, li, mut a), q) in tested.into_iter().zip(q) {
        a.q = q;
        if a.z > 0.0 && q <= fdr {
            kept.entry((g, li)).or_default().push(a);
        }
    }
    let out = kept
        .into_iter()
        .map(|((g, li), mut terms)| {
            terms.sort_by(|a, b| b.z.total_cmp(&a.z).then_with(|| a.term.cmp(&b.term)));
            terms.truncate(cfg.top);
            GroupAssociations {
                group: tax.groups[g as usize].key.clone(),
                lexicon: tax.axes[li].name.clone(),
                terms,
            }
        })
        .collect();
    (out, n_tested)
}

/// The counts of one group–term pair: documents of the group (`y_g`) and of the axis's other
/// groups (`y_r`) mentioning the term, their totals over the lexicon, and the term's prior.
#[derive(Clone, Copy)]
struct Pair {
    y_g: f64,
    y_r: f64,
    n_g: f64,
    n_r: f64,
    alpha: f64,
}

/// The log-odds ratio of a pair with an informative Dirichlet prior (Monroe et al. 2008), its z
/// and one-sided p, and the normalised PMI of group and term over documents.
fn association(tax: &Taxonomy, s: &ScanStats, a0: f64, g: GroupId, t: u32, c: Pair) -> Association {
    let n = s.documents as f64;
    let lo = ((c.y_g + c.alpha) / (c.n_g + a0 - c.y_g - c.alpha)).ln()
        - ((c.y_r + c.alpha) / (c.n_r + a0 - c.y_r - c.alpha)).ln();
    let var = 1.0 / (c.y_g + c.alpha) + 1.0 / (c.y_r + c.alpha);
    let z = lo / var.sqrt();
    let p_gt = c.y_g / n;
    let p_g = s.group_docs[g as usize] as f64 / n;
    let p_t = s.term_docs[t as usize] as f64 / n;
    let pmi = (p_gt / (p_g * p_t)).ln();
    let npmi = if p_gt >= 1.0 { 1.0 } else { pmi / -p_gt.ln() };
    Association {
        term: tax.terms[t as usize].text.clone(),
        category: tax.groups[tax.group_of(t) as usize].name.clone(),
        documents: c.y_g as u64,
        log_odds: r6(lo),
        z: r6(z),
        p: crate::interval::normal_sf(z),
        q: 1.0,
        npmi: r6(npmi),
    }
}

/// The terms of demographic axis `ai`, as lower-case word sequences.
fn axis_phrases(tax: &Taxonomy, ai: usize) -> std::collections::HashSet<Vec<String>> {
    tax.terms
        .iter()
        .filter(|t| tax.groups[t.group as usize].axis == ai)
        .map(|t| words_of(&t.text))
        .collect()
}

/// Whether `term` holds one of `phrases` as whole words: an attribute term that contains a term
/// of the axis (`actress`, `television actor`, `drag queen`) is associated with its group by
/// definition, not by the corpus.
fn contains_phrase(term: &str, phrases: &std::collections::HashSet<Vec<String>>) -> bool {
    let w = words_of(term);
    (0..w.len()).any(|i| (i + 1..=w.len()).any(|j| phrases.contains(&w[i..j].to_vec())))
}

fn words_of(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn sources(rules: &RuleSet, s: &ScanStats) -> Option<SourcesReport> {
    let (column, kind) = match rules.input.source.as_ref()? {
        SourceSpec::Column(c) => (c.clone(), "column".to_owned()),
        SourceSpec::UrlDomain(c) => (c.clone(), "url_domain".to_owned()),
    };
    let tax = rules.taxonomy();
    let mut names: Vec<(&String, &stats::SourceStats)> = s.sources.iter().collect();
    names.sort_by(|a, b| b.1.documents.cmp(&a.1.documents).then_with(|| a.0.cmp(b.0)));
    let top_n = rules.report.top_sources;
    let mut other = stats::SourceStats::default();
    for (_, st) in names.iter().skip(top_n) {
        other.documents += st.documents;
        for (&g, &c) in &st.group_docs {
            *other.group_docs.entry(g).or_default() += c;
        }
        for (&a, &c) in &st.axis_docs {
            *other.axis_docs.entry(a).or_default() += c;
        }
    }
    let describe = |name: &str, st: &stats::SourceStats| SourceReport {
        source: name.to_owned(),
        documents: st.documents,
        share: ratio(st.documents, s.documents).unwrap_or(0.0),
        axes: tax
            .demographic_axes()
            .map(|(ai, axis)| {
                let sum: u64 = axis
                    .groups
                    .clone()
                    .map(|g| st.group_docs.get(&g).copied().unwrap_or(0))
                    .sum();
                SourceAxis {
                    axis: axis.name.clone(),
                    coverage: ratio(st.axis_docs.get(&ai).copied().unwrap_or(0), st.documents)
                        .unwrap_or(0.0),
                    groups: axis
                        .groups
                        .clone()
                        .map(|g| {
                            let d = st.group_docs.get(&g).copied().unwrap_or(0);
                            SourceGroup {
                                group: tax.groups[g as usize].name.clone(),
                                documents: d,
                                share: ratio(d, sum),
                            }
                        })
                        .collect(),
                }
            })
            .collect(),
    };
    let mut top: Vec<SourceReport> = names
        .iter()
        .take(top_n)
        .map(|(n, st)| describe(n, st))
        .collect();
    if names.len() > top_n {
        top.push(describe("(other)", &other));
    }
    Some(SourcesReport {
        column,
        kind,
        distinct: names.len(),
        null_source: s.null_source,
        top,
    })
}

/// A format a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ReportFormat {
    /// The complete figures, with a versioned schema (for tools, and `debias report`).
    Json,
    /// Markdown tables, for terminals, pull requests and datasheets.
    Md,
    /// One self-contained page with charts, for people (opens offline).
    Html,
}

impl ReportFormat {
    /// Every format, in the order they are written.
    pub const ALL: [ReportFormat; 3] = [ReportFormat::Json, ReportFormat::Md, ReportFormat::Html];

    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            ReportFormat::Json => "json",
            ReportFormat::Md => "md",
            ReportFormat::Html => "html",
        }
    }

    /// The format a file name's extension stands for.
    pub fn of_path(p: &Path) -> Option<ReportFormat> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(ReportFormat::Json),
            "md" | "markdown" => Some(ReportFormat::Md),
            "html" | "htm" => Some(ReportFormat::Html),
            _ => None,
        }
    }

    /// `report` in this format.
    pub fn render(self, report: &Report) -> String {
        match self {
            ReportFormat::Json => report.to_json(),
            ReportFormat::Md => report.to_markdown(),
            ReportFormat::Html => report.to_html(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_terms_holding_an_axis_term_are_recognised() {
        let own: std::collections::HashSet<Vec<String>> = ["actor", "queen", "young woman"]
            .iter()
            .map(|t| words_of(t))
            .collect();
        assert!(contains_phrase("television actor", &own));
        assert!(contains_phrase("Drag Queen", &own));
        assert!(contains_phrase("a young woman scientist", &own));
        assert!(contains_phrase("actor", &own));
        assert!(!contains_phrase("actors guild", &own));
        assert!(!contains_phrase("woman", &own));
        assert!(!contains_phrase("reactor", &own));
    }

    #[test]
    fn normal_quantiles() {
        assert!((normal_quantile(0.975) - 1.959964).abs() < 1e-5);
        assert!((normal_quantile(0.5)).abs() < 1e-9);
        assert!((normal_quantile(0.005) + 2.575829).abs() < 1e-5);
    }
}
