//! Checking a report against the rules' `gates:` ([`crate::rules::gates`]), for pipelines:
//! each gate passes, fails, or is skipped when what it needs is not given (a filter audit, a
//! baseline report). A gate that cannot be judged from the report (an axis without a target
//! for `max_tvd`, fewer than two judged groups for `min_parity_ratio`) fails, saying why: a
//! gate never passes for want of data.

use std::fmt::Write;

use super::Report;
use super::fmt::num;
use crate::apply::manifest::Manifest;
use crate::rules::gates::Gates;

/// What one gate said about one axis (or the whole report).
#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    /// `min_coverage`, `max_tvd`, …
    pub gate: &'static str,
    /// The axis, or the group for `max_share_change`.
    pub subject: String,
    pub verdict: Verdict,
    /// The value, the bound and why, in a few words.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skipped,
}

impl GateResult {
    fn new(gate: &'static str, subject: &str, verdict: Verdict, detail: String) -> Self {
        GateResult {
            gate,
            subject: subject.to_owned(),
            verdict,
            detail,
        }
    }

    /// One line: `PASS min_coverage gender: 24.5% >= 5.0%`.
    pub fn line(&self) -> String {
        let v = match self.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skipped => "SKIP",
        };
        format!("{v} {} {}: {}", self.gate, self.subject, self.detail)
    }
}

/// What a check reads: the report, and for some gates an `apply` manifest or a baseline.
pub struct Evidence<'a> {
    pub report: &'a Report,
    pub manifest: Option<&'a Manifest>,
    pub baseline: Option<&'a Report>,
}

/// Every gate of `gates` on `ev`, in the order of the rule file's keys and then of the axes.
pub fn check(gates: &Gates, ev: &Evidence<'_>) -> Vec<GateResult> {
    let r = ev.report;
    let names: Vec<String> = r.axes.iter().map(|a| a.name.clone()).collect();
    let mut out = Vec::new();
    let axis = |name: &str| r.axes.iter().find(|a| a.name == name);
    let missing = |gate, name: &str| {
        GateResult::new(
            gate,
            name,
            Verdict::Fail,
            "the report has no such axis".into(),
        )
    };
    for (name, min) in gates.min_coverage.over(&names) {
        out.push(match axis(&name) {
            None => missing("min_coverage", &name),
            Some(a) => bound("min_coverage", &name, a.coverage, min, true, pct),
        });
    }
    for (name, max) in gates.max_tvd.over(&names) {
        out.push(match axis(&name) {
            None => missing("max_tvd", &name),
            Some(a) => match a.total_variation_distance {
                Some(v) => bound("max_tvd", &name, v, max, false, |x| format!("{x:.3}")),
                None => GateResult::new(
                    "max_tvd",
                    &name,
                    Verdict::Fail,
                    "the axis has no target to measure a distance from (declare one in `targets:`)"
                        .into(),
                ),
            },
        });
    }
    for (name, min) in gates.min_parity_ratio.over(&names) {
        out.push(match axis(&name) {
            None => missing("min_parity_ratio", &name),
            Some(a) => match a.parity_ratio {
                Some(v) => bound("min_parity_ratio", &name, v, min, true, |x| {
                    format!("{x:.2}")
                }),
                None => GateResult::new(
                    "min_parity_ratio",
                    &name,
                    Verdict::Fail,
                    format!(
                        "fewer than two groups with {} documents or more: too few to judge",
                        r.min_documents
                    ),
                ),
            },
        });
    }
    retention(gates, ev, &names, &mut out);
    share_change(gates, ev, &mut out);
    out
}

/// `min_retention`: per axis, the lowest retention ratio of the manifest's drop actions.
fn retention(gates: &Gates, ev: &Evidence<'_>, names: &[String], out: &mut Vec<GateResult>) {
    if !gates.min_retention.is_set() {
        return;
    }
    let Some(m) = ev.manifest else {
        out.push(GateResult::new(
            "min_retention",
            "(all axes)",
            Verdict::Skipped,
            "needs the filter audit of an `apply` output: give its directory to `debias check`"
                .into(),
        ));
        return;
    };
    for (name, min) in gates.min_retention.over(names) {
        let worst = m
            .filter_audit
            .iter()
            .filter_map(|f| {
                f.retention_ratio
                    .get(&name)
                    .map(|v| (*v, f.action.as_str()))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        out.push(match worst {
            Some((v, action)) => {
                let mut g = bound("min_retention", &name, v, min, true, |x| format!("{x:.2}"));
                let _ = write!(g.detail, " (drop action `{action}`)");
                g
            }
            None => GateResult::new(
                "min_retention",
                &name,
                Verdict::Pass,
                "no drop action reached enough documents of two groups to compare".into(),
            ),
        });
    }
}

/// `max_share_change`: no judged group's share moves more than the bound from the baseline.
fn share_change(gates: &Gates, ev: &Evidence<'_>, out: &mut Vec<GateResult>) {
    let Some(max) = gates.max_share_change else {
        return;
    };
    let Some(base) = ev.baseline else {
        out.push(GateResult::new(
            "max_share_change",
            "(all groups)",
            Verdict::Skipped,
            "needs a baseline report: `debias check REPORT --baseline OLD.json`".into(),
        ));
        return;
    };
    let mut worst: Option<(f64, String)> = None;
    for a in &ev.report.axes {
        let Some(b) = base.axes.iter().find(|b| b.name == a.name) else {
            continue;
        };
        for g in a.groups.iter().filter(|g| !g.too_few) {
            let Some(h) = b.groups.iter().find(|h| h.name == g.name && !h.too_few) else {
                continue;
            };
            if let (Some(x), Some(y)) = (g.share, h.share) {
                let d = (x - y).abs();
                if worst.as_ref().is_none_or(|w| d > w.0) {
                    worst = Some((d, format!("{}/{}", a.name, g.name)));
                }
            }
        }
    }
    out.push(match worst {
        Some((d, group)) => bound("max_share_change", &group, d, max, false, pct),
        None => GateResult::new(
            "max_share_change",
            "(all groups)",
            Verdict::Fail,
            "no group is judged in both reports: nothing to compare".into(),
        ),
    });
}

/// A value against a lower (`at_least`) or upper bound.
fn bound(
    gate: &'static str,
    subject: &str,
    v: f64,
    b: f64,
    at_least: bool,
    show: impl Fn(f64) -> String,
) -> GateResult {
    let ok = if at_least { v >= b } else { v <= b };
    let rel = match (at_least, ok) {
        (true, true) => ">=",
        (true, false) => "<",
        (false, true) => "<=",
        (false, false) => ">",
    };
    GateResult::new(
        gate,
        subject,
        if ok { Verdict::Pass } else { Verdict::Fail },
        format!("{} {rel} {}", show(v), show(b)),
    )
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The results as JUnit XML, one test case per result (failures and skips marked), for CI
/// systems that read test reports.
pub fn junit(results: &[GateResult], name: &str) -> String {
    let failures = results
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .count();
    let skipped = results
        .iter()
        .filter(|r| r.verdict == Verdict::Skipped)
        .count();
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites name=\"debias gates\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
        results.len()
    );
    let _ = writeln!(
        o,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
        super::html::esc(name),
        results.len()
    );
    for r in results {
        let _ = write!(
            o,
            "    <testcase classname=\"debias.gates.{}\" name=\"{}\"",
            r.gate,
            super::html::esc(&r.subject)
        );
        match r.verdict {
            Verdict::Pass => o.push_str("/>\n"),
            Verdict::Fail => {
                let _ = writeln!(
                    o,
                    ">\n      <failure message=\"{}\"/>\n    </testcase>",
                    super::html::esc(&r.detail)
                );
            }
            Verdict::Skipped => {
                let _ = writeln!(
                    o,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    super::html::esc(&r.detail)
                );
            }
        }
    }
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}

/// A summary line: how many gates passed, failed and were skipped.
pub fn summary(results: &[GateResult]) -> String {
    let n = |v| num(results.iter().filter(|r| r.verdict == v).count() as u64);
    format!(
        "gates: {} passed, {} failed, {} skipped",
        n(Verdict::Pass),
        n(Verdict::Fail),
        n(Verdict::Skipped)
    )
}
