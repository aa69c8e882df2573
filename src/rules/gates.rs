//! The `gates:` section: bounds a report must hold for a pipeline to go on (`debias check`,
//! `debias scan --check`). Each gate takes a number for every demographic axis, or a mapping of
//! axis: number; a per-axis entry is checked for that axis only.
//!
//! ```yaml
//! gates:
//!   min_coverage: {gender: 0.05}      # share of documents that mention the axis
//!   max_tvd: {gender: 0.1}            # distance of the shares from the axis's target
//!   min_parity_ratio: 0.5             # smallest judged share over the largest, every axis
//!   min_retention: 0.8                # per axis, every drop action's lowest retention over the highest
//!   max_share_change: 0.05            # no judged group's share moves more than 5 points from --baseline
//! ```

use std::collections::BTreeMap;

use super::yaml::{self, Kind, Node, Reader};
use crate::detect::Taxonomy;

/// A bound for every axis, or for some.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AxisBound {
    /// The bound for every demographic axis.
    pub all: Option<f64>,
    /// Bounds of named axes.
    pub axes: BTreeMap<String, f64>,
}

impl AxisBound {
    pub fn is_set(&self) -> bool {
        self.all.is_some() || !self.axes.is_empty()
    }

    /// The axes checked and their bounds: the named ones, or every axis of `names`.
    pub fn over<'a>(&'a self, names: &'a [String]) -> Vec<(String, f64)> {
        match self.all {
            Some(b) => names.iter().map(|n| (n.clone(), b)).collect(),
            None => self.axes.iter().map(|(a, b)| (a.clone(), *b)).collect(),
        }
    }
}

/// The gates of a rule file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gates {
    pub min_coverage: AxisBound,
    pub max_tvd: AxisBound,
    pub min_parity_ratio: AxisBound,
    pub min_retention: AxisBound,
    /// The largest change of a judged group's share (0 to 1) from a baseline report.
    pub max_share_change: Option<f64>,
}

impl Gates {
    pub fn is_empty(&self) -> bool {
        !self.min_coverage.is_set()
            && !self.max_tvd.is_set()
            && !self.min_parity_ratio.is_set()
            && !self.min_retention.is_set()
            && self.max_share_change.is_none()
    }
}

pub(super) const GATE_KEYS: &[&str] = &[
    "min_coverage",
    "max_tvd",
    "min_parity_ratio",
    "min_retention",
    "max_share_change",
];

/// Reads `gates:`; every bound is a number from 0 to 1.
pub(super) fn read(r: &mut Reader<'_>, node: &Node, tax: &Taxonomy) -> Gates {
    let mut g = Gates::default();
    let Some(f) = r.fields(node, "gates", GATE_KEYS) else {
        return g;
    };
    let axes: Vec<&str> = tax
        .demographic_axes()
        .map(|(_, a)| a.name.as_str())
        .collect();
    for (key, slot) in [
        ("min_coverage", &mut g.min_coverage),
        ("max_tvd", &mut g.max_tvd),
        ("min_parity_ratio", &mut g.min_parity_ratio),
        ("min_retention", &mut g.min_retention),
    ] {
        if let Some(n) = f.get(key) {
            *slot = read_bound(r, n, &format!("gates.{key}"), &axes);
        }
    }
    if let Some(n) = f.get("max_share_change") {
        g.max_share_change = ratio(r, n, "gates.max_share_change");
    }
    g
}

fn read_bound(r: &mut Reader<'_>, node: &Node, key: &str, axes: &[&str]) -> AxisBound {
    let mut b = AxisBound::default();
    if !matches!(node.kind, Kind::Map(_)) {
        b.all = ratio(r, node, key);
        return b;
    }
    for (name, key_node, value) in r.entries(node, key) {
        let k = format!("{key}.{name}");
        if !axes.contains(&name) {
            let help = match yaml::nearest(name, axes) {
                Some(n) => format!("did you mean `{n}`? demographic axes: {}", axes.join(", ")),
                None => format!("demographic axes: {}", axes.join(", ")),
            };
            r.error_help(
                key_node,
                &k,
                format!("no demographic axis `{name}`"),
                Some(help),
            );
            continue;
        }
        if let Some(v) = ratio(r, value, &k) {
            b.axes.insert(name.to_owned(), v);
        }
    }
    b
}

/// A number from 0 to 1.
fn ratio(r: &mut Reader<'_>, node: &Node, key: &str) -> Option<f64> {
    let v = r.number(node, key)?;
    if (0.0..=1.0).contains(&v) {
        Some(v)
    } else {
        r.error_help(
            node,
            key,
            format!("{v} is not between 0 and 1"),
            Some("gates are shares and ratios: 0.05 for 5%, 0.8 for the four-fifths rule"),
        );
        None
    }
}
