//! The headline of a report: the skew a reader should see first, computed once here so that the
//! JSON, the Markdown and the HTML page say the same thing.
//!
//! * A group with fewer than `min_documents` documents is **too few to judge**: its counts are
//!   shown, but it is never ranked or flagged, and it takes no part in ratios between groups.
//! * An axis **with a target** flags a group whose share's confidence interval excludes its
//!   target share (below it: under-represented; above it: over-represented).
//! * An axis **without a target** is read against its largest group, as Fairlearn's
//!   demographic-parity ratio is read against the "four-fifths rule": a group is flagged when its
//!   share is below 0.8 times the largest group's and the interval of that ratio stays below 1
//!   (the gap is significant, not noise). The ratio's interval comes from the Wilson interval of
//!   the group's part of the two groups' documents, p = g / (g + L), as p / (1 − p); the two
//!   counts are treated as independent.
//! * Findings are ranked: the largest under-representation (smallest ratio) first, then
//!   over-representation (largest ratio first).

use serde::{Deserialize, Serialize};

use super::{AxisReport, GroupReport, r6, wilson};

/// Below this ratio to the largest group, an axis without a target is flagged (the
/// "four-fifths rule" of Fairlearn's demographic-parity ratio).
pub const PARITY_RATIO_FLAG: f64 = 0.8;

/// How many documents of one group there are per document of another (`female` per `male`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PairRatio {
    pub a: String,
    pub b: String,
    pub a_documents: u64,
    pub b_documents: u64,
    /// `a_documents / b_documents`; null when `b` has none.
    pub ratio: Option<f64>,
    pub ratio_ci: Option<[f64; 2]>,
}

/// A flagged skew of one group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub axis: String,
    pub group: String,
    /// `below_target`, `above_target` or `below_largest`.
    pub kind: String,
    pub documents: u64,
    pub share: f64,
    pub share_ci: [f64; 2],
    /// The target share, or the largest group's share.
    pub reference: f64,
    /// The largest group, for `below_largest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub largest: Option<String>,
    /// share / reference.
    pub ratio: f64,
    pub ratio_ci: [f64; 2],
}

impl Finding {
    /// One line: the group, its share and interval, and what it is compared with.
    pub fn describe(&self, level: f64) -> String {
        let head = format!(
            "{}/{}: {} of the group documents ({}% CI {}–{})",
            self.axis,
            self.group,
            pct1(self.share),
            (level * 100.0).round(),
            pct1(self.share_ci[0]),
            pct1(self.share_ci[1]),
        );
        match self.kind.as_str() {
            "below_largest" => format!(
                "{head}, {:.2}× the largest group, {} ({})",
                self.ratio,
                self.largest.as_deref().unwrap_or("?"),
                pct1(self.reference)
            ),
            "above_target" => format!(
                "{head}, over-represented: {:.2}× its target of {}",
                self.ratio,
                pct1(self.reference)
            ),
            _ => format!(
                "{head}, under-represented: {:.2}× its target of {}",
                self.ratio,
                pct1(self.reference)
            ),
        }
    }

    /// Whether the group has fewer documents than its reference asks (ranked first).
    pub fn is_under(&self) -> bool {
        self.kind != "above_target"
    }
}

/// A share as a percentage with one decimal, small shares with more.
fn pct1(v: f64) -> String {
    if v > 0.0 && v < 0.001 {
        format!("{:.3}%", v * 100.0)
    } else {
        format!("{:.1}%", v * 100.0)
    }
}

/// Whether the group counts towards ratios and findings.
pub(super) fn judged(g: &GroupReport, min_documents: u64) -> bool {
    g.documents >= min_documents
}

/// The ratio of `x` to `y` documents with its interval (see the module documentation).
pub(super) fn count_ratio(x: u64, y: u64, level: f64) -> (Option<f64>, Option<[f64; 2]>) {
    if y == 0 {
        return (None, None);
    }
    let odds = |p: f64| {
        if p >= 1.0 {
            f64::INFINITY
        } else {
            p / (1.0 - p)
        }
    };
    let ci = wilson(x, x + y, level).map(|[lo, hi]| [r6(odds(lo)), r6(odds(hi))]);
    (Some(r6(x as f64 / y as f64)), ci)
}

/// The axis's largest group (by documents), and its smallest judged group when at least two
/// groups are judged.
pub fn largest_and_smallest(a: &AxisReport) -> (Option<&GroupReport>, Option<&GroupReport>) {
    let judged: Vec<&GroupReport> = a
        .groups
        .iter()
        .filter(|g| !g.too_few && g.share.is_some())
        .collect();
    let largest = a
        .groups
        .iter()
        .max_by_key(|g| g.documents)
        .filter(|g| g.documents > 0);
    let smallest = judged
        .iter()
        .copied()
        .min_by_key(|g| g.documents)
        .filter(|_| judged.len() >= 2);
    (largest, smallest)
}

/// The female:male ratio of a gender axis, when it has both groups.
pub(super) fn gender_ratio(a: &AxisReport, level: f64) -> Option<PairRatio> {
    if a.name != "gender" {
        return None;
    }
    let f = a.groups.iter().find(|g| g.name == "female")?;
    let m = a.groups.iter().find(|g| g.name == "male")?;
    let (ratio, ratio_ci) = count_ratio(f.documents, m.documents, level);
    Some(PairRatio {
        a: f.name.clone(),
        b: m.name.clone(),
        a_documents: f.documents,
        b_documents: m.documents,
        ratio,
        ratio_ci,
    })
}

/// The smallest share over the largest, among the judged groups that the target covers (all
/// groups without a target); null with fewer than two such groups.
pub(super) fn parity_ratio(a: &AxisReport, min_documents: u64) -> Option<f64> {
    // Shares of one axis share their denominator: the ratio of documents is the ratio of shares.
    let docs: Vec<u64> = a
        .groups
        .iter()
        .filter(|g| judged(g, min_documents) && g.target.is_none_or(|t| t > 0.0))
        .map(|g| g.documents)
        .collect();
    if docs.len() < 2 {
        return None;
    }
    let max = docs.iter().copied().max().unwrap_or(0);
    let min = docs.iter().copied().min().unwrap_or(0);
    (max > 0).then(|| r6(min as f64 / max as f64))
}

/// The flagged skews of one axis.
pub(super) fn axis_findings(a: &AxisReport, min_documents: u64, level: f64) -> Vec<Finding> {
    let judged: Vec<&GroupReport> = a
        .groups
        .iter()
        .filter(|g| judged(g, min_documents) && g.share.is_some())
        .collect();
    let finding = |g: &GroupReport, kind: &str, reference: f64, ratio_ci: [f64; 2]| Finding {
        axis: a.name.clone(),
        group: g.name.clone(),
        kind: kind.into(),
        documents: g.documents,
        share: g.share.unwrap_or(0.0),
        share_ci: g.share_ci.unwrap_or([0.0, 0.0]),
        reference,
        largest: None,
        ratio: r6(g.share.unwrap_or(0.0) / reference),
        ratio_ci,
    };
    let mut out = Vec::new();
    if a.target == "none" {
        let Some(largest) = judged
            .iter()
            .copied()
            .max_by(|x, y| x.documents.cmp(&y.documents).then(y.name.cmp(&x.name)))
        else {
            return out;
        };
        for g in &judged {
            if std::ptr::eq(*g, largest) {
                continue;
            }
            let (Some(r), Some(ci)) = count_ratio(g.documents, largest.documents, level) else {
                continue;
            };
            if r < PARITY_RATIO_FLAG && ci[1] < 1.0 {
                let mut f = finding(g, "below_largest", largest.share.unwrap_or(0.0), ci);
                f.ratio = r;
                f.largest = Some(largest.name.clone());
                out.push(f);
            }
        }
        return out;
    }
    for g in &judged {
        let (Some(t), Some([lo, hi])) = (g.target, g.share_ci) else {
            continue;
        };
        if t <= 0.0 {
            continue;
        }
        let ci = [r6(lo / t), r6(hi / t)];
        if hi < t {
            out.push(finding(g, "below_target", t, ci));
        } else if lo > t {
            out.push(finding(g, "above_target", t, ci));
        }
    }
    out
}

/// Ranks findings: under-representation first, the smallest ratio first; then
/// over-representation, the largest ratio first.
pub(super) fn rank(findings: &mut [Finding]) {
    findings.sort_by(|x, y| {
        y.is_under()
            .cmp(&x.is_under())
            .then_with(|| {
                if x.is_under() {
                    x.ratio.total_cmp(&y.ratio)
                } else {
                    y.ratio.total_cmp(&x.ratio)
                }
            })
            .then_with(|| (&x.axis, &x.group).cmp(&(&y.axis, &y.group)))
    });
}

/// Findings listed in the headline; the rest are in the axis sections and the JSON.
pub const HEADLINE_FINDINGS: usize = 10;
/// Findings of one axis listed in the headline.
pub const HEADLINE_PER_AXIS: usize = 3;

/// The headline of a report as lines of text, shared by the Markdown and the HTML page.
pub struct Headline {
    /// One line per pair ratio ("Gender: 0.54 female documents per male document …").
    pub ratios: Vec<String>,
    /// The first ranked findings, at most [`HEADLINE_PER_AXIS`] of an axis and
    /// [`HEADLINE_FINDINGS`] in all: (axis, line).
    pub findings: Vec<(String, String)>,
    /// How many more findings there are, in a line (empty when none).
    pub more: String,
    /// The groups too few to judge, in one line (empty when none).
    pub too_few: String,
    /// What the findings were held against, or why there are none.
    pub rule: String,
}

impl Headline {
    pub fn of(r: &super::Report) -> Headline {
        let level = r.confidence;
        let cl = format!("{}% CI", (level * 100.0).round());
        let ratios = r
            .axes
            .iter()
            .filter_map(|a| a.pair.as_ref().map(|p| (a, p)))
            .map(|(a, p)| match (p.ratio, p.ratio_ci) {
                (Some(x), Some([lo, hi])) => format!(
                    "{}: {x:.2} {} documents per {} document ({cl} {lo:.2}–{hi:.2}; {} and {} documents){}.",
                    cap(&a.name),
                    p.a,
                    p.b,
                    super::fmt::num(p.a_documents),
                    super::fmt::num(p.b_documents),
                    if p.a_documents.min(p.b_documents) < r.min_documents {
                        format!("; too few to judge (fewer than {} documents)", r.min_documents)
                    } else {
                        String::new()
                    }
                ),
                _ => format!(
                    "{}: no {} document, so no {}:{} ratio ({} {} documents).",
                    cap(&a.name),
                    p.b,
                    p.a,
                    p.b,
                    super::fmt::num(p.a_documents),
                    p.a
                ),
            })
            .collect();
        // In rank order, at most a few per axis so that one axis with many groups does not hide
        // the others.
        let mut per_axis: std::collections::HashMap<&str, usize> = Default::default();
        let (shown, rest): (Vec<&Finding>, Vec<&Finding>) = r.findings.iter().partition(|f| {
            let n = per_axis.entry(f.axis.as_str()).or_default();
            *n += 1;
            *n <= HEADLINE_PER_AXIS
        });
        let (shown, rest) = if shown.len() > HEADLINE_FINDINGS {
            let (a, b) = shown.split_at(HEADLINE_FINDINGS);
            (a.to_vec(), b.iter().chain(&rest).copied().collect())
        } else {
            (shown, rest)
        };
        let findings = shown
            .iter()
            .map(|f| (f.axis.clone(), f.describe(level)))
            .collect();
        let more = match rest.len() {
            0 => String::new(),
            n => format!(
                "… and {n} more flagged group{} (every one is in its axis's section and the JSON's `findings`): {}.",
                if n == 1 { "" } else { "s" },
                rest.iter()
                    .map(|f| format!("{}/{} {:.2}×", f.axis, f.group, f.ratio))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let groups = || {
            r.axes
                .iter()
                .flat_map(|a| a.groups.iter().map(move |g| (a, g)))
                .filter(|(_, g)| g.too_few)
        };
        let few: Vec<String> = groups()
            .filter(|(_, g)| g.documents > 0)
            .map(|(a, g)| format!("{}/{} ({})", a.name, g.name, super::fmt::num(g.documents)))
            .collect();
        let none: Vec<String> = groups()
            .filter(|(_, g)| g.documents == 0)
            .map(|(a, g)| format!("{}/{}", a.name, g.name))
            .collect();
        let mut too_few = String::new();
        if !few.is_empty() {
            too_few = format!(
                "Too few to judge (fewer than {} documents; counted, never ranked): {}.",
                r.min_documents,
                few.join(", ")
            );
        }
        if !none.is_empty() {
            too_few = format!(
                "{too_few}{}No document at all: {}.",
                if too_few.is_empty() { "" } else { " " },
                none.join(", ")
            );
        }
        let judged_any = r.axes.iter().flat_map(|a| &a.groups).any(|g| !g.too_few);
        let rule = if r.rows.scanned == 0 {
            "No finding: no document was scanned.".to_owned()
        } else if !judged_any {
            format!(
                "Nothing to judge: no group has {} documents or more (`report.min_documents`; lower it for a \
                 small corpus, knowing that the intervals will be wide).",
                r.min_documents
            )
        } else if r.findings.is_empty() {
            format!(
                "No skew flagged: no judged group's {cl} excludes its target, and on axes without a target every \
                 judged group is at {PARITY_RATIO_FLAG}× the largest or more (or not significantly below it)."
            )
        } else {
            format!(
                "Flagged, largest under-representation first: a group whose share's {cl} excludes its target, or, on \
                 an axis without a target, a group below {PARITY_RATIO_FLAG}× the largest group's share with the \
                 ratio's {cl} below 1."
            )
        };
        Headline {
            ratios,
            findings,
            more,
            too_few,
            rule,
        }
    }
}

/// `gender` → `Gender`.
fn cap(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_ratio_interval_holds_the_ratio() {
        let (r, ci) = count_ratio(35, 65, 0.95);
        let (r, [lo, hi]) = (r.unwrap(), ci.unwrap());
        assert!((r - 35.0 / 65.0).abs() < 1e-6);
        assert!(lo < r && r < hi && hi < 1.0, "{lo} {r} {hi}");
        assert_eq!(count_ratio(3, 0, 0.95), (None, None));
        // Equal counts: the interval holds 1.
        let (_, ci) = count_ratio(500, 500, 0.95);
        let [lo, hi] = ci.unwrap();
        assert!(lo < 1.0 && hi > 1.0);
    }
}
