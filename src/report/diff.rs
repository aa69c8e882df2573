//! What changed between two reports (`debias report diff BEFORE.json AFTER.json`, and the
//! before/after comparison of `debias apply`): rows, each axis's coverage, shares and distance
//! from its target, and the associations and intersections that moved most.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;

use super::fmt::{num, opt_pct};
use super::{AxisReport, Report};

/// How many association and intersection changes are listed.
pub const TOP_CHANGES: usize = 20;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportDiff {
    pub before: Side,
    pub after: Side,
    pub axes: Vec<AxisDiff>,
    /// The association z-scores that moved most (a pair absent on one side counts as 0 there).
    pub associations: Vec<AssociationDiff>,
    /// The intersections whose document counts moved most.
    pub intersections: Vec<IntersectionDiff>,
}

/// One report, in brief.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Side {
    pub label: String,
    pub documents: u64,
    pub rows_read: u64,
    pub text_bytes: u64,
    pub rules_sha256: String,
    pub tool_version: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AxisDiff {
    pub axis: String,
    /// `[before, after]`; None where the axis is missing from that report.
    pub documents: [Option<u64>; 2],
    pub coverage: [Option<f64>; 2],
    pub total_variation_distance: [Option<f64>; 2],
    pub max_min_ratio: [Option<f64>; 2],
    pub groups: Vec<GroupDiff>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupDiff {
    pub group: String,
    pub documents: [Option<u64>; 2],
    pub share: [Option<f64>; 2],
    /// after − before, in percentage points.
    pub share_change_points: Option<f64>,
    /// The target of the report after (of the one before when the group is gone).
    pub target: Option<f64>,
    pub ratio_to_target: [Option<f64>; 2],
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AssociationDiff {
    pub group: String,
    pub lexicon: String,
    pub term: String,
    pub z: [Option<f64>; 2],
    pub change: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IntersectionDiff {
    pub a: String,
    pub b: String,
    pub documents: [u64; 2],
    pub change: i64,
}

fn side(label: &str, r: &Report) -> Side {
    Side {
        label: label.to_owned(),
        documents: r.rows.scanned,
        rows_read: r.rows.read,
        text_bytes: r.text_bytes,
        rules_sha256: r.rules.sha256.clone(),
        tool_version: r.tool.version.clone(),
    }
}

fn r3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

fn axis_diff(name: &str, b: Option<&AxisReport>, a: Option<&AxisReport>) -> AxisDiff {
    let mut keys: Vec<String> = Vec::new();
    for ax in [b, a].into_iter().flatten() {
        for g in &ax.groups {
            if !keys.contains(&g.name) {
                keys.push(g.name.clone());
            }
        }
    }
    fn find<'a>(ax: Option<&'a AxisReport>, g: &str) -> Option<&'a super::GroupReport> {
        ax.and_then(|ax| ax.groups.iter().find(|x| x.name == g))
    }
    let groups = keys
        .iter()
        .map(|g| {
            let (gb, ga) = (find(b, g), find(a, g));
            let share = [gb.and_then(|x| x.share), ga.and_then(|x| x.share)];
            GroupDiff {
                group: g.clone(),
                documents: [gb.map(|x| x.documents), ga.map(|x| x.documents)],
                share,
                share_change_points: match share {
                    [Some(x), Some(y)] => Some(r3((y - x) * 100.0)),
                    _ => None,
                },
                target: ga.or(gb).and_then(|x| x.target),
                ratio_to_target: [
                    gb.and_then(|x| x.ratio_to_target),
                    ga.and_then(|x| x.ratio_to_target),
                ],
            }
        })
        .collect();
    AxisDiff {
        axis: name.to_owned(),
        documents: [b.map(|x| x.documents), a.map(|x| x.documents)],
        coverage: [b.map(|x| x.coverage), a.map(|x| x.coverage)],
        total_variation_distance: [
            b.and_then(|x| x.total_variation_distance),
            a.and_then(|x| x.total_variation_distance),
        ],
        max_min_ratio: [
            b.and_then(|x| x.max_min_ratio),
            a.and_then(|x| x.max_min_ratio),
        ],
        groups,
    }
}

impl ReportDiff {
    /// Compares `before` with `after`; the labels name them (file paths, or "before"/"after").
    pub fn between(labels: [&str; 2], before: &Report, after: &Report) -> ReportDiff {
        let mut names: Vec<&str> = before.axes.iter().map(|a| a.name.as_str()).collect();
        for a in &after.axes {
            if !names.contains(&a.name.as_str()) {
                names.push(&a.name);
            }
        }
        let axes = names
            .iter()
            .map(|n| {
                axis_diff(
                    n,
                    before.axes.iter().find(|a| a.name == *n),
                    after.axes.iter().find(|a| a.name == *n),
                )
            })
            .collect();

        type Key = (String, String, String);
        let z_of = |r: &Report| -> std::collections::BTreeMap<Key, f64> {
            r.associations
                .iter()
                .flat_map(|ga| {
                    ga.terms
                        .iter()
                        .map(move |t| ((ga.group.clone(), ga.lexicon.clone(), t.term.clone()), t.z))
                })
                .collect()
        };
        let (zb, za) = (z_of(before), z_of(after));
        let keys: BTreeSet<&Key> = zb.keys().chain(za.keys()).collect();
        let mut associations: Vec<AssociationDiff> = keys
            .into_iter()
            .map(|k| {
                let z = [zb.get(k).copied(), za.get(k).copied()];
                AssociationDiff {
                    group: k.0.clone(),
                    lexicon: k.1.clone(),
                    term: k.2.clone(),
                    z,
                    change: r3(z[1].unwrap_or(0.0) - z[0].unwrap_or(0.0)),
                }
            })
            .filter(|d| d.change != 0.0)
            .collect();
        associations.sort_by(|x, y| {
            y.change
                .abs()
                .total_cmp(&x.change.abs())
                .then_with(|| (&x.group, &x.term).cmp(&(&y.group, &y.term)))
        });
        associations.truncate(TOP_CHANGES);

        let docs_of = |r: &Report| -> std::collections::BTreeMap<(String, String), u64> {
            r.intersections
                .iter()
                .map(|x| ((x.a.clone(), x.b.clone()), x.documents))
                .collect()
        };
        let (ib, ia) = (docs_of(before), docs_of(after));
        let pairs: BTreeSet<&(String, String)> = ib.keys().chain(ia.keys()).collect();
        let mut intersections: Vec<IntersectionDiff> = pairs
            .into_iter()
            .map(|k| {
                let d = [
                    ib.get(k).copied().unwrap_or(0),
                    ia.get(k).copied().unwrap_or(0),
                ];
                IntersectionDiff {
                    a: k.0.clone(),
                    b: k.1.clone(),
                    documents: d,
                    change: d[1] as i64 - d[0] as i64,
                }
            })
            .filter(|d| d.change != 0)
            .collect();
        intersections.sort_by(|x, y| {
            y.change
                .abs()
                .cmp(&x.change.abs())
                .then_with(|| (&x.a, &x.b).cmp(&(&y.a, &y.b)))
        });
        intersections.truncate(TOP_CHANGES);

        ReportDiff {
            before: side(labels[0], before),
            after: side(labels[1], after),
            axes,
            associations,
            intersections,
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a diff always serialises");
        s.push('\n');
        s
    }

    pub fn to_markdown(&self) -> String {
        let mut o = String::new();
        let w = &mut o;
        let _ = writeln!(w, "# Report diff\n");
        let _ = writeln!(
            w,
            "Before: `{}` ({} documents, rules sha256 `{}`). After: `{}` ({} documents, rules sha256 `{}`).\n",
            self.before.label,
            num(self.before.documents),
            short(&self.before.rules_sha256),
            self.after.label,
            num(self.after.documents),
            short(&self.after.rules_sha256),
        );
        let _ = writeln!(
            w,
            "| axis | coverage before | coverage after | TVD before | TVD after | max/min before | max/min after |"
        );
        let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|");
        for a in &self.axes {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} |",
                a.axis,
                opt_pct(a.coverage[0]),
                opt_pct(a.coverage[1]),
                f3(a.total_variation_distance[0]),
                f3(a.total_variation_distance[1]),
                f2(a.max_min_ratio[0]),
                f2(a.max_min_ratio[1]),
            );
        }
        let _ = writeln!(w);
        for a in &self.axes {
            let _ = writeln!(w, "## {}\n", a.axis);
            let _ = writeln!(
                w,
                "| group | documents before | documents after | share before | share after | change | target |"
            );
            let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|");
            for g in &a.groups {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    g.group,
                    opt_num(g.documents[0]),
                    opt_num(g.documents[1]),
                    opt_pct(g.share[0]),
                    opt_pct(g.share[1]),
                    points(g.share_change_points),
                    opt_pct(g.target),
                );
            }
            let _ = writeln!(w);
        }
        if !self.associations.is_empty() {
            let _ = writeln!(w, "## Associations that moved most\n");
            let _ = writeln!(
                w,
                "| group | lexicon | term | z before | z after | change |"
            );
            let _ = writeln!(w, "|---|---|---|---:|---:|---:|");
            for d in &self.associations {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} | {} | {:+.2} |",
                    d.group,
                    d.lexicon,
                    d.term,
                    f2(d.z[0]),
                    f2(d.z[1]),
                    d.change
                );
            }
            let _ = writeln!(w);
        }
        if !self.intersections.is_empty() {
            let _ = writeln!(w, "## Intersections that moved most\n");
            let _ = writeln!(w, "| group | group | before | after | change |");
            let _ = writeln!(w, "|---|---|---:|---:|---:|");
            for d in &self.intersections {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} | {:+} |",
                    d.a,
                    d.b,
                    num(d.documents[0]),
                    num(d.documents[1]),
                    d.change
                );
            }
            let _ = writeln!(w);
        }
        o
    }
}

pub(super) fn short(sha: &str) -> &str {
    &sha[..12.min(sha.len())]
}

pub(super) fn f2(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |v| format!("{v:.2}"))
}

pub(super) fn f3(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |v| format!("{v:.3}"))
}

pub(super) fn opt_num(x: Option<u64>) -> String {
    x.map_or_else(|| "–".into(), num)
}

pub(super) fn points(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |v| format!("{v:+.1} pts"))
}

/// The change of a share, for people: "+3.2 pts".
pub(super) fn share_points(x: f64) -> String {
    format!("{:+.1} pts", x * 100.0)
}
