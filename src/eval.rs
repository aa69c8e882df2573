//! `debias eval`: how well the rules detect each axis on a labelled sample.
//!
//! A labelled file is JSONL, one text per line (`rules/eval/GUIDELINE.md` says how to label):
//!
//! ```json
//! {"id": "a1", "text": "French troops crossed the river.", "axes": ["nationality"]}
//! {"id": "a2", "text": "A 30-year-old dad.", "groups": ["age/young_adult", "gender/male"]}
//! {"id": "a3", "text": "...", "axes": ["age"], "judged": ["age"]}
//! ```
//!
//! `axes` lists the axes a text mentions and `groups` the groups (`axis/group`, implying their
//! axes); every demographic axis of the rules that a line does not list is a negative on that
//! line, unless the line has `judged`: then only those axes are judged there (a recall-only set).
//! A line with `groups` is judged group by group too, on the axes it judges.
//!
//! Per axis the evaluation counts true positives (labelled and detected), false positives
//! (detected, not labelled) and misses (labelled, not detected), with precision, recall and F1
//! and Wilson intervals, and keeps every false positive and miss with what was matched (or what
//! was considered and rejected, and why) so that a user can see what to fix.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::detect::{Detector, Taxonomy};
use crate::error::{Error, InputError, Result};
use crate::interval::wilson;

/// Axes with fewer labelled positives than this are reported but not judged ("too few").
pub const MIN_POSITIVES: u64 = 20;

/// One labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// 1-based line in the file.
    pub line: u64,
    pub id: String,
    pub text: String,
    /// Axes mentioned (from `axes`, and the axes of `groups`).
    pub axes: BTreeSet<String>,
    /// Groups mentioned (`axis/group`), when the line labels groups.
    pub groups: Option<BTreeSet<String>>,
    /// The axes judged on this line; `None`: all of the rules' demographic axes.
    pub judged: Option<BTreeSet<String>>,
}

/// A line of a labelled file; other fields (`source`, `note`, ...) are the reader's and ignored.
#[derive(Deserialize)]
struct RawLine {
    #[serde(default)]
    id: Option<serde_json::Value>,
    text: String,
    #[serde(default)]
    axes: Option<Vec<String>>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default)]
    judged: Option<Vec<String>>,
}

/// Reads a labelled JSONL file, checking every axis and group name against `tax`.
pub fn read_labelled(path: &Path, tax: &Taxonomy) -> Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Input(InputError {
            path: Some(path.to_owned()),
            line: None,
            message: format!("cannot read the labelled file: {e}"),
            help: None,
        })
    })?;
    let axes: Vec<&str> = tax
        .demographic_axes()
        .map(|(_, a)| a.name.as_str())
        .collect();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i as u64 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let err = |message: String, help: &str| {
            Error::Input(InputError {
                path: Some(path.to_owned()),
                line: Some(line),
                message,
                help: Some(help.to_owned()),
            })
        };
        let r: RawLine = serde_json::from_str(raw).map_err(|e| {
            err(
                format!("not a labelled line: {e}"),
                r#"each line is {"text": "...", "axes": [...]} or {"text": "...", "groups": ["axis/group", ...]} (rules/eval/GUIDELINE.md)"#,
            )
        })?;
        if r.axes.is_none() && r.groups.is_none() {
            return Err(err(
                "the line has neither `axes` nor `groups`".into(),
                r#"add "axes": [] for a text that mentions no axis"#,
            ));
        }
        let check_axis = |a: &str| -> Result<()> {
            if axes.contains(&a) {
                Ok(())
            } else {
                Err(err(
                    format!("no axis `{a}` in these rules"),
                    &format!("axes of these rules: {}", axes.join(", ")),
                ))
            }
        };
        let mut mentioned = BTreeSet::new();
        for a in r.axes.iter().flatten() {
            check_axis(a)?;
            mentioned.insert(a.clone());
        }
        let groups = match r.groups {
            None => None,
            Some(gs) => {
                let mut set = BTreeSet::new();
                for g in gs {
                    if tax.group_by_key(&g).is_none() {
                        let (axis, _) = g.split_once('/').unwrap_or((&g, ""));
                        check_axis(axis)?;
                        let names: Vec<&str> = tax
                            .groups
                            .iter()
                            .filter(|x| tax.axes[x.axis].name == axis)
                            .map(|x| x.key.as_str())
                            .collect();
                        return Err(err(
                            format!("no group `{g}` in these rules"),
                            &format!("groups of `{axis}`: {}", names.join(", ")),
                        ));
                    }
                    mentioned.insert(g.split('/').next().unwrap_or_default().to_owned());
                    set.insert(g);
                }
                Some(set)
            }
        };
        let judged = match r.judged {
            None => None,
            Some(js) => {
                for a in &js {
                    check_axis(a)?;
                }
                Some(js.into_iter().collect())
            }
        };
        let id = match r.id {
            Some(serde_json::Value::String(s)) => s,
            Some(v) => v.to_string(),
            None => format!("line {line}"),
        };
        out.push(Labelled {
            line,
            id,
            text: r.text,
            axes: mentioned,
            groups,
            judged,
        });
    }
    if out.is_empty() {
        return Err(Error::input(path, "the labelled file has no lines"));
    }
    Ok(out)
}

/// A matched (or rejected) span: what `debias explain` shows and what false positives and
/// misses list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Byte offsets in the text.
    pub start: usize,
    pub end: usize,
    /// The text matched.
    pub text: String,
    /// `axis/group`.
    pub group: String,
    /// The term, as written in its lexicon (a numeric age: `(age 18-34)`; a pattern: `/regex/`).
    pub term: String,
    /// Whether it counts as a mention.
    pub counted: bool,
    /// Why it counted (`term`, `attributive`, `predicative`, `nominal`, `origin`, `age`,
    /// `context`, `pattern`), or why not.
    pub why: String,
    /// What the term's context rule asks, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The word that satisfied the rule ("before `troops`"), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// Every candidate of `text` with its verdict (see [`Detector::explain`]), named.
pub fn explain(detector: &Detector, text: &str) -> Vec<Span> {
    let tax = detector.taxonomy();
    detector
        .explain(text)
        .into_iter()
        .map(|c| Span {
            start: c.start,
            end: c.end,
            text: text[c.start..c.end].to_owned(),
            group: tax.groups[tax.group_of(c.term) as usize].key.clone(),
            term: tax.terms[c.term as usize].text.clone(),
            counted: c.verdict.is_ok(),
            why: match c.verdict {
                Ok(w) => w.name().to_owned(),
                Err(m) => m.describe().to_owned(),
            },
            rule: c.rule,
            evidence: c.evidence,
        })
        .collect()
}

/// A false positive or a miss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub line: u64,
    pub id: String,
    pub axis: String,
    pub text: String,
    /// For a false positive, what was counted on the axis; for a miss, what was considered on
    /// it and rejected (often empty: no term of the axis).
    pub spans: Vec<Span>,
}

/// Precision and recall of one axis or group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The axis, or `axis/group`.
    pub name: String,
    /// Texts on which it was judged.
    pub judged: u64,
    /// Labelled positives.
    pub positives: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub misses: u64,
    pub precision: Option<f64>,
    pub precision_ci: Option<[f64; 2]>,
    pub recall: Option<f64>,
    pub recall_ci: Option<[f64; 2]>,
    pub f1: Option<f64>,
    /// Fewer than [`MIN_POSITIVES`] positives: shown, not judged.
    pub too_few: bool,
}

impl Score {
    fn new(name: String, c: &Counts, level: f64) -> Score {
        let detected = c.tp + c.fp;
        let positives = c.tp + c.fn_;
        let ratio = |a: u64, b: u64| (b > 0).then(|| round6(a as f64 / b as f64));
        let precision = ratio(c.tp, detected);
        let recall = ratio(c.tp, positives);
        let f1 = match (precision, recall) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(round6(2.0 * p * r / (p + r))),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        };
        Score {
            name,
            judged: c.judged,
            positives,
            true_positives: c.tp,
            false_positives: c.fp,
            misses: c.fn_,
            precision,
            precision_ci: wilson(c.tp, detected, level),
            recall,
            recall_ci: wilson(c.tp, positives, level),
            f1,
            too_few: positives < MIN_POSITIVES,
        }
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    judged: u64,
    tp: u64,
    fp: u64,
    fn_: u64,
}

impl Counts {
    fn add(&mut self, labelled: bool, detected: bool) {
        self.judged += 1;
        match (labelled, detected) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => {}
        }
    }
}

/// The evaluation of a rule set on a labelled file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The labelled file, as named.
    pub file: String,
    /// Labelled texts read.
    pub texts: u64,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Positives an axis needs to be judged.
    pub min_positives: u64,
    /// Per demographic axis of the rules.
    pub axes: Vec<Score>,
    /// Per group, on the lines that label groups (empty when none does).
    pub groups: Vec<Score>,
    pub false_positives: Vec<Case>,
    pub misses: Vec<Case>,
}

impl Evaluation {
    /// Macro averages of precision and recall over the judged axes (not too few).
    pub fn macro_scores(&self) -> (Option<f64>, Option<f64>) {
        let judged: Vec<&Score> = self.axes.iter().filter(|s| !s.too_few).collect();
        let mean =
            |v: Vec<f64>| (!v.is_empty()).then(|| round6(v.iter().sum::<f64>() / v.len() as f64));
        (
            mean(judged.iter().filter_map(|s| s.precision).collect()),
            mean(judged.iter().filter_map(|s| s.recall).collect()),
        )
    }
}

/// Evaluates `detector` on `lines` (read from `file`), with intervals at `confidence`.
pub fn evaluate(
    detector: &Detector,
    lines: &[Labelled],
    file: &str,
    confidence: f64,
) -> Evaluation {
    let tax = detector.taxonomy();
    let axes: Vec<(usize, &str)> = tax
        .demographic_axes()
        .map(|(i, a)| (i, a.name.as_str()))
        .collect();
    let mut axis_counts = vec![Counts::default(); tax.axes.len()];
    let mut group_counts = vec![Counts::default(); tax.groups.len()];
    let mut any_groups = false;
    let mut false_positives = Vec::new();
    let mut misses = Vec::new();
    for l in lines {
        let spans = explain(detector, &l.text);
        let axis_of = |sp: &Span| sp.group.split('/').next().unwrap_or_default().to_owned();
        let counted_groups: BTreeSet<&str> = spans
            .iter()
            .filter(|c| c.counted)
            .map(|c| c.group.as_str())
            .collect();
        for &(ai, name) in &axes {
            if l.judged.as_ref().is_some_and(|j| !j.contains(name)) {
                continue;
            }
            let labelled = l.axes.contains(name);
            let detected = spans.iter().any(|sp| sp.counted && axis_of(sp) == name);
            axis_counts[ai].add(labelled, detected);
            if detected != labelled {
                let case = Case {
                    line: l.line,
                    id: l.id.clone(),
                    axis: name.to_owned(),
                    text: l.text.clone(),
                    spans: spans
                        .iter()
                        .filter(|sp| axis_of(sp) == name && (sp.counted == detected))
                        .cloned()
                        .collect(),
                };
                if detected {
                    false_positives.push(case);
                } else {
                    misses.push(case);
                }
            }
            if let Some(groups) = &l.groups {
                any_groups = true;
                for g in tax.axes[ai].groups.clone() {
                    let key = &tax.groups[g as usize].key;
                    group_counts[g as usize]
                        .add(groups.contains(key), counted_groups.contains(key.as_str()));
                }
            }
        }
    }
    Evaluation {
        file: file.to_owned(),
        texts: lines.len() as u64,
        confidence,
        min_positives: MIN_POSITIVES,
        axes: axes
            .iter()
            .map(|&(ai, name)| Score::new(name.to_owned(), &axis_counts[ai], confidence))
            .filter(|s| s.judged > 0)
            .collect(),
        groups: if any_groups {
            tax.groups
                .iter()
                .enumerate()
                .filter(|(g, _)| group_counts[*g].judged > 0)
                .map(|(g, x)| Score::new(x.key.clone(), &group_counts[g], confidence))
                .collect()
        } else {
            Vec::new()
        },
        false_positives,
        misses,
    }
}

impl Evaluation {
    /// The evaluation as Markdown (also what `debias eval` prints): the table per axis, then
    /// up to `show` false positives and misses per axis, each with what was matched.
    pub fn to_markdown(&self, show: usize) -> String {
        self.to_markdown_at(show, 1)
    }

    /// [`Self::to_markdown`] with its title at heading `level` (1: `#`).
    pub fn to_markdown_at(&self, show: usize, level: usize) -> String {
        use std::fmt::Write;
        let mut w = String::new();
        let h = |extra: usize| "#".repeat(level + extra);
        let pct = (self.confidence * 100.0).round();
        let _ = writeln!(w, "{} Detection quality: {}\n", h(0), self.file);
        let _ = writeln!(
            w,
            "{} labelled texts. Intervals are {pct}% Wilson intervals; an axis with fewer than {} labelled \
             positives is shown but not judged (too few).\n",
            self.texts, self.min_positives
        );
        table(&mut w, "axis", &self.axes, pct);
        let (p, r) = self.macro_scores();
        if let (Some(p), Some(r)) = (p, r) {
            let _ = writeln!(
                w,
                "\nMacro average over the judged axes: precision {p:.3}, recall {r:.3}."
            );
        }
        if !self.groups.is_empty() {
            let _ = writeln!(w, "\n{} Groups\n", h(1));
            table(&mut w, "group", &self.groups, pct);
        }
        cases(
            &mut w,
            &h(1),
            "False positives",
            "counted",
            &self.false_positives,
            show,
        );
        cases(&mut w, &h(1), "Misses", "considered", &self.misses, show);
        w
    }
}

fn fmt_ratio(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.3}"))
}

fn fmt_ci(ci: Option<[f64; 2]>) -> String {
    ci.map_or("–".into(), |[a, b]| format!("{a:.2}–{b:.2}"))
}

fn table(w: &mut String, what: &str, scores: &[Score], pct: f64) {
    use std::fmt::Write;
    let _ = writeln!(
        w,
        "| {what} | texts | positives | precision | {pct}% CI | recall | {pct}% CI | F1 | false positives | misses |"
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---|---:|---|---:|---:|---:|");
    for s in scores {
        let name = if s.too_few {
            format!("{} (too few)", s.name)
        } else {
            s.name.clone()
        };
        let _ = writeln!(
            w,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.judged,
            s.positives,
            fmt_ratio(s.precision),
            fmt_ci(s.precision_ci),
            fmt_ratio(s.recall),
            fmt_ci(s.recall_ci),
            fmt_ratio(s.f1),
            s.false_positives,
            s.misses
        );
    }
}

fn cases(w: &mut String, h: &str, title: &str, verb: &str, list: &[Case], show: usize) {
    use std::fmt::Write;
    if list.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n{h} {title} ({})\n", list.len());
    let mut axes: Vec<&str> = list.iter().map(|c| c.axis.as_str()).collect();
    axes.dedup();
    axes.sort_unstable();
    axes.dedup();
    for axis in axes {
        let of_axis: Vec<&Case> = list.iter().filter(|c| c.axis == axis).collect();
        let _ = writeln!(w, "{h}# {axis} ({})\n", of_axis.len());
        for c in of_axis.iter().take(show) {
            let spans: Vec<String> = c
                .spans
                .iter()
                .map(|s| {
                    let mut d = format!("`{}` ({}, {}", s.text, s.group, s.why);
                    if let Some(e) = &s.evidence {
                        d.push_str(&format!(" {e}"));
                    }
                    d.push(')');
                    d
                })
                .collect();
            let what = if spans.is_empty() {
                "no term of the axis".to_owned()
            } else {
                format!("{verb}: {}", spans.join("; "))
            };
            let _ = writeln!(
                w,
                "- line {} `{}`: {} — {}",
                c.line,
                c.id,
                quote(&c.text),
                what
            );
        }
        if of_axis.len() > show {
            let _ = writeln!(
                w,
                "- … and {} more (`--show N`, or `--format json` for all)",
                of_axis.len() - show
            );
        }
        let _ = writeln!(w);
    }
}

/// The text in quotes, on one line, cut to about 300 characters.
fn quote(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line.chars().take(300).collect();
    if cut.len() < one_line.len() {
        cut.push('…');
    }
    format!("“{cut}”")
}
