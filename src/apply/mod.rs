//! `debias apply`: what happens to each document, independent of how documents are read.
//!
//! Each input row becomes a small list of output rows ([`OutRow`]): the original, plus any
//! counterfactual copies and upsampled duplicates, minus what the rules drop. The actions of
//! the rule file run in order over that list ([`Actions::process`]); every change is recorded
//! in an [`Account`] so that the manifest can balance the rows exactly, and in a [`FilterAudit`]
//! per drop action.
//!
//! Every random choice (whether a document is rewritten, which group a swap goes to, whether a
//! document is kept by a downsample or duplicated by an upsample) is a function of the seed, the
//! action's name and the document id ([`unit`]), never of the order or the partition in which
//! rows arrive. So the same input, rules and seed select the same rows however the input is
//! split into files, partitions or threads.
//!
//! Rebalancing needs the group counts of the whole corpus as they reach the rebalance action,
//! so a rule file with a `rebalance` action is read twice: a first pass counts
//! ([`RebalanceCounts`]), [`RebalancePlan::new`] turns the counts into keep probabilities, copy
//! factors or weights, and the second pass applies them and writes.

pub mod manifest;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::augment::Edit;
use crate::detect::{Detector, DocHits, GroupId, Taxonomy};
use crate::hash::stable_hash;
use crate::rules::actions::{
    Action, ActionKind, AugmentMode, Context, DropRule, MultiGroup, RebalanceRule, Strategy, Unit,
};

/// Adds one to `map[key]`, allocating the key only the first time.
pub(crate) fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}

/// A uniform number in [0, 1) from the seed, a salt (the action's name) and a document id.
pub fn unit(seed: u64, salt: &str, id: &str) -> f64 {
    let mut key = Vec::with_capacity(salt.len() + id.len() + 1);
    key.extend_from_slice(salt.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    (stable_hash(seed, &key) >> 11) as f64 / (1u64 << 53) as f64
}

/// One row of the output.
#[derive(Debug, Clone)]
pub(crate) struct OutRow {
    /// `debias_id`: the input id for originals; `ID#RULE` for a counterfactual copy and
    /// `ID#RULE-dupN` for an upsampled duplicate.
    pub id: String,
    /// `debias_source_id`: the original document of a copy or duplicate; `None` for originals.
    pub source_id: Option<String>,
    /// The text when it differs from the input row's.
    pub text: Option<String>,
    /// `debias_augmented`: a counterfactual (a copy, or an original rewritten in place).
    pub augmented: bool,
    /// `debias_rule`: the last action that created or changed the row.
    pub rule: Option<String>,
    /// `debias_edits`.
    pub edits: Vec<Edit>,
    /// `debias_weight`.
    pub weight: f64,
    pub hits: DocHits,
    /// What the row is, for the account.
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Original,
    /// Made by the augment action with this index.
    Augmented(usize),
    /// Made by the rebalance action with this index.
    Duplicated(usize),
}

impl OutRow {
    pub fn text<'a>(&'a self, original: &'a str) -> &'a str {
        self.text.as_deref().unwrap_or(original)
    }
}

/// A document as read, with the values the actions' SQL predicates took on its row.
#[derive(Debug)]
pub(crate) struct Doc<'a> {
    pub id: &'a str,
    pub text: &'a str,
    pub source: Option<&'a str>,
    pub hits: DocHits,
    /// Per action: the value of its `scope.where` (true when it has none).
    pub scope_sql: Vec<bool>,
    /// Per action: the value of a drop action's `where` (true when it has none).
    pub drop_sql: Vec<bool>,
    /// The document's topic, when a rebalance action has `context: topic`.
    pub topic: Option<u16>,
}

/// What a document's counterfactual rewrites gave in the counting pass, call by call, so that
/// the writing pass does not search the text again where a rewrite changed nothing, nor detect
/// the terms of a rewritten text again. The counting pass runs the actions up to the
/// rebalance, the writing pass all of them, on the same document: its first calls are the
/// counting pass's, in the same order, with the same results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RewriteMemo {
    /// Per call: `None` where the rewrite changed nothing, else the rewritten text's terms.
    pub calls: Vec<Option<DocHits>>,
    /// Whether this pass records its calls (the counting pass) or reads them back.
    pub record: bool,
    next: usize,
}

impl RewriteMemo {
    /// A memo that records the calls of the counting pass.
    pub(crate) fn recording() -> Self {
        RewriteMemo {
            record: true,
            ..RewriteMemo::default()
        }
    }

    /// A memo that reads back `calls`, recorded by the counting pass.
    pub(crate) fn known(calls: Vec<Option<DocHits>>) -> Self {
        RewriteMemo {
            calls,
            ..RewriteMemo::default()
        }
    }

    /// What the next call gave in the counting pass, when known.
    fn next(&mut self) -> Option<&Option<DocHits>> {
        if self.record {
            return None;
        }
        self.next += 1;
        self.calls.get(self.next - 1)
    }
}

/// Every row accounted for. Invariants (checked by [`Account::check`]):
/// `read = kept + Σ dropped`, and `written = kept + augmented + duplicated`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub read: u64,
    /// Originals written (possibly rewritten in place).
    pub kept: u64,
    /// Originals dropped, by reason: `input.where`, `null_text`, or the action's name.
    pub dropped: BTreeMap<String, u64>,
    /// Counterfactual copies written, by augment action.
    pub augmented: BTreeMap<String, u64>,
    /// Duplicates written, by rebalance action.
    pub duplicated: BTreeMap<String, u64>,
    /// Originals rewritten in place (`mode: replace`), by action; they count as kept.
    pub rewritten: BTreeMap<String, u64>,
    /// Copies or duplicates made by one action and dropped by a later one: by the action
    /// that dropped them.
    pub derived_dropped: BTreeMap<String, u64>,
    pub written: u64,
}

impl Account {
    pub fn merge(&mut self, o: &Account) {
        self.read += o.read;
        self.kept += o.kept;
        self.written += o.written;
        for (a, b) in [
            (&mut self.dropped, &o.dropped),
            (&mut self.augmented, &o.augmented),
            (&mut self.duplicated, &o.duplicated),
            (&mut self.rewritten, &o.rewritten),
            (&mut self.derived_dropped, &o.derived_dropped),
        ] {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(n) => *n += v,
                    None => {
                        a.insert(k.clone(), *v);
                    }
                }
            }
        }
    }

    /// Records the output rows of one input row.
    pub(crate) fn record(&mut self, actions: &[Action], rows: &[OutRow]) {
        for r in rows {
            self.written += 1;
            match r.origin {
                Origin::Original => self.kept += 1,
                Origin::Augmented(k) => bump(&mut self.augmented, &actions[k].name),
                Origin::Duplicated(k) => bump(&mut self.duplicated, &actions[k].name),
            }
        }
    }

    /// The two balances of the manifest; an error names the one that fails.
    pub fn check(&self) -> Result<(), String> {
        let dropped: u64 = self.dropped.values().sum();
        let augmented: u64 = self.augmented.values().sum();
        let duplicated: u64 = self.duplicated.values().sum();
        if self.read != self.kept + dropped {
            return Err(format!(
                "rows read {} != kept {} + dropped {}",
                self.read, self.kept, dropped
            ));
        }
        if self.written != self.kept + augmented + duplicated {
            return Err(format!(
                "rows written {} != kept {} + augmented {} + duplicated {}",
                self.written, self.kept, augmented, duplicated
            ));
        }
        Ok(())
    }
}

/// Per drop action: how many rows of each demographic group reached it and how many it removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterAudit {
    /// group → (reached, removed)
    pub groups: BTreeMap<GroupId, (u64, u64)>,
    pub reached: u64,
    pub removed: u64,
}

impl FilterAudit {
    fn merge(&mut self, o: &FilterAudit) {
        self.reached += o.reached;
        self.removed += o.removed;
        for (g, (a, b)) in &o.groups {
            let e = self.groups.entry(*g).or_default();
            e.0 += a;
            e.1 += b;
        }
    }
}

/// Units (documents or tokens) per group, and per group × context bucket, reaching the
/// rebalance action.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RebalanceCounts {
    pub groups: BTreeMap<GroupId, f64>,
    pub buckets: BTreeMap<(GroupId, String), f64>,
    /// Rows that reached the action without a group of the axis (left as they are).
    pub ungrouped: u64,
    /// Rows that mention several groups, left as they are under `multi_group: keep`.
    pub multi_kept: u64,
}

impl RebalanceCounts {
    fn merge(&mut self, o: &RebalanceCounts) {
        for (g, n) in &o.groups {
            *self.groups.entry(*g).or_default() += n;
        }
        for (k, n) in &o.buckets {
            *self.buckets.entry(k.clone()).or_default() += n;
        }
        self.ungrouped += o.ungrouped;
        self.multi_kept += o.multi_kept;
    }
}

/// What one pass gathered besides the rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct PassStats {
    pub account: Account,
    /// By action index.
    pub audits: BTreeMap<usize, FilterAudit>,
    pub counts: RebalanceCounts,
}

impl PassStats {
    pub fn merge(&mut self, o: &PassStats) {
        self.account.merge(&o.account);
        for (k, a) in &o.audits {
            self.audits.entry(*k).or_default().merge(a);
        }
        self.counts.merge(&o.counts);
    }
}

/// The rebalance decisions, from the counts of the first pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebalancePlan {
    pub action: String,
    pub axis: String,
    pub strategy: Strategy,
    pub unit: Unit,
    pub target: String,
    pub groups: Vec<GroupPlan>,
    /// With a `context`: the decision for each group in each context bucket (a group's row
    /// follows its bucket's entry, not the group's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<BucketPlan>,
    /// With `context: topic`: the topics (buckets `topic N`) and their most distinctive words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<TopicEntry>,
    pub ungrouped_rows: u64,
    pub multi_group_rows_kept: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupPlan {
    pub group: String,
    /// Units (documents or tokens) reaching the action.
    pub units: f64,
    pub share: f64,
    pub target: f64,
    /// Downsample: the probability that a document is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_probability: Option<f64>,
    /// Upsample: the expected number of rows per document (original included), capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<f64>,
    /// Reweight without context: the weight of the group's documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

/// The decision for the rows of one group in one context bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketPlan {
    pub group: String,
    pub bucket: String,
    pub units: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

/// A topic of `context: topic`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicEntry {
    pub bucket: String,
    /// Its most distinctive words in the sample.
    pub terms: Vec<String>,
    /// Documents of the sample the topics were fitted on that fell in it.
    pub sample_documents: u64,
}

/// The bucket name of topic `t`.
pub fn topic_bucket(t: u16) -> String {
    format!("topic {t}")
}

/// What a row of a group (in a bucket) gets: the chance it is kept, the rows it becomes, its
/// weight.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Decision {
    keep: f64,
    copies: f64,
    weight: f64,
}

/// A sort key that orders a trailing number by value: (`topic `, 2) before (`topic `, 10).
fn natural_key(s: &str) -> (&str, u64, &str) {
    let prefix = s.trim_end_matches(|c: char| c.is_ascii_digit());
    (prefix, s[prefix.len()..].parse().unwrap_or(0), s)
}

/// Downsample: keep a row of group *i* with probability *N·t_i / n_i*, *N* the largest size
/// every group with units and a target can reach.
fn keep_probabilities(units: &[f64], target: &[f64]) -> Vec<f64> {
    let n = (0..units.len())
        .filter(|&i| units[i] > 0.0 && target[i] > 0.0)
        .map(|i| units[i] / target[i])
        .fold(f64::INFINITY, f64::min);
    (0..units.len())
        .map(|i| {
            if units[i] == 0.0 {
                1.0
            } else if target[i] == 0.0 {
                0.0
            } else {
                (n * target[i] / units[i]).min(1.0)
            }
        })
        .collect()
}

/// Upsample: *N·t_i / n_i* rows per row, *N* the smallest size every group reaches, within
/// 1..=`cap`; also whether the cap bound.
fn copy_factors(units: &[f64], target: &[f64], cap: f64) -> (Vec<f64>, bool) {
    let n = (0..units.len())
        .filter(|&i| units[i] > 0.0 && target[i] > 0.0)
        .map(|i| units[i] / target[i])
        .fold(0.0, f64::max);
    let mut capped = false;
    let f = (0..units.len())
        .map(|i| {
            let f = if units[i] == 0.0 || target[i] == 0.0 {
                1.0
            } else {
                n * target[i] / units[i]
            };
            capped |= f > cap;
            f.clamp(1.0, cap)
        })
        .collect();
    (f, capped)
}

/// The target restricted to the groups with units (renormalised), and whether a group with a
/// target had none. Unchanged when no group with units has a target.
fn present_target(units: &[f64], target: &[f64]) -> (Vec<f64>, bool) {
    let sum: f64 = (0..units.len())
        .filter(|&i| units[i] > 0.0)
        .map(|i| target[i])
        .sum();
    let missing = (0..units.len()).any(|i| units[i] == 0.0 && target[i] > 0.0);
    if sum <= 0.0 {
        return (target.to_vec(), missing);
    }
    let t = (0..units.len())
        .map(|i| if units[i] > 0.0 { target[i] / sum } else { 0.0 })
        .collect();
    (t, missing)
}

/// A contextual rebalance's decisions per (group, bucket), with the buckets' units; the
/// groups' own entries then only describe the whole axis.
fn bucket_plans(
    r: &RebalanceRule,
    counts: &RebalanceCounts,
    tax: &Taxonomy,
    ids: &[GroupId],
    target: &[f64],
    groups: &mut [GroupPlan],
    warnings: &mut Vec<String>,
) -> Vec<BucketPlan> {
    let mut buckets = Vec::new();
    // Per bucket, the same decisions with the bucket's units; a group's own entry then
    // only describes the whole axis.
    for g in groups.iter_mut() {
        (g.keep_probability, g.copies, g.weight) = (None, None, None);
    }
    let mut per_bucket: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for ((g, b), n) in &counts.buckets {
        let i = ids.iter().position(|x| x == g).expect("group of the axis");
        per_bucket
            .entry(b.as_str())
            .or_insert_with(|| vec![0.0; ids.len()])[i] += n;
    }
    let (mut partial, mut capped) = (0usize, false);
    // Buckets in natural order (`topic 2` before `topic 10`).
    let mut order: Vec<(&&str, &Vec<f64>)> = per_bucket.iter().collect();
    order.sort_by_key(|(b, _)| natural_key(b));
    for (b, u) in order {
        let (t, missing) = present_target(u, target);
        partial += missing as usize;
        let total_b: f64 = u.iter().sum();
        let (keep, copies, weight) = match r.strategy {
            Strategy::Downsample => (Some(keep_probabilities(u, &t)), None, None),
            Strategy::Upsample => {
                let (f, c) = copy_factors(u, &t, r.max_copies as f64);
                capped |= c;
                (None, Some(f), None)
            }
            // Reweighing: t_g · n_c / n_{g,c}, with the axis's target.
            Strategy::Reweight => {
                let w = (0..u.len())
                    .map(|i| {
                        if u[i] > 0.0 {
                            target[i] * total_b / u[i]
                        } else {
                            0.0
                        }
                    })
                    .collect::<Vec<_>>();
                (None, None, Some(w))
            }
        };
        for i in 0..ids.len() {
            if u[i] == 0.0 {
                continue;
            }
            buckets.push(BucketPlan {
                group: tax.groups[ids[i] as usize].key.clone(),
                bucket: (*b).to_owned(),
                units: u[i],
                keep_probability: keep.as_ref().map(|v| v[i]),
                copies: copies.as_ref().map(|v| v[i]),
                weight: weight.as_ref().map(|v| v[i]),
            });
        }
    }
    if partial > 0 && r.strategy != Strategy::Reweight {
        warnings.push(format!(
            "in {partial} of {} context buckets a group with a target has no rows; there the target is renormalised over the groups present",
            per_bucket.len()
        ));
    }
    if capped {
        warnings.push(format!(
            "max_copies {} limits the upsampling in some context buckets: the target is not reached there",
            r.max_copies
        ));
    }
    buckets
}

impl RebalancePlan {
    /// Turns the first pass's counts into decisions.
    pub fn new(
        action: &Action,
        r: &RebalanceRule,
        counts: &RebalanceCounts,
        tax: &Taxonomy,
    ) -> Self {
        let axis = &tax.axes[r.axis];
        let ids: Vec<GroupId> = axis.groups.clone().collect();
        let units: Vec<f64> = ids
            .iter()
            .map(|g| counts.groups.get(g).copied().unwrap_or(0.0))
            .collect();
        let total: f64 = units.iter().sum();
        let mut warnings = Vec::new();
        // Groups without documents cannot be balanced: the target is spread over the others.
        let mut target = r.target.clone();
        let empty: Vec<usize> = (0..ids.len())
            .filter(|&i| units[i] == 0.0 && target[i] > 0.0)
            .collect();
        if !empty.is_empty() {
            let names: Vec<String> = empty
                .iter()
                .map(|&i| tax.groups[ids[i] as usize].key.clone())
                .collect();
            warnings.push(format!(
                "no document reaching this action counts for {} (multi_group: primary counts a document for the group it mentions most); the target is renormalised over the other groups",
                names.join(", ")
            ));
            for &i in &empty {
                target[i] = 0.0;
            }
            let sum: f64 = target.iter().sum();
            if sum > 0.0 {
                for t in &mut target {
                    *t /= sum;
                }
            }
        }
        let mut groups: Vec<GroupPlan> = (0..ids.len())
            .map(|i| GroupPlan {
                group: tax.groups[ids[i] as usize].key.clone(),
                units: units[i],
                share: if total > 0.0 { units[i] / total } else { 0.0 },
                target: target[i],
                keep_probability: None,
                copies: None,
                weight: None,
            })
            .collect();
        match r.strategy {
            Strategy::Downsample => {
                for (g, p) in groups.iter_mut().zip(keep_probabilities(&units, &target)) {
                    g.keep_probability = Some(p);
                }
            }
            Strategy::Upsample => {
                let (f, capped) = copy_factors(&units, &target, r.max_copies as f64);
                for (g, f) in groups.iter_mut().zip(f) {
                    g.copies = Some(f);
                }
                if capped {
                    warnings.push(format!(
                        "max_copies {} limits the upsampling: the target is not reached",
                        r.max_copies
                    ));
                }
                if ids
                    .iter()
                    .enumerate()
                    .any(|(i, _)| target[i] == 0.0 && units[i] > 0.0)
                {
                    warnings.push(
                        "upsampling cannot reduce a group with target 0; use downsample".into(),
                    );
                }
            }
            Strategy::Reweight => {
                for (i, g) in groups.iter_mut().enumerate() {
                    g.weight = Some(if units[i] > 0.0 {
                        target[i] * total / units[i]
                    } else {
                        0.0
                    });
                }
            }
        }
        let buckets = if r.context != Context::None {
            bucket_plans(r, counts, tax, &ids, &target, &mut groups, &mut warnings)
        } else {
            Vec::new()
        };
        RebalancePlan {
            action: action.name.clone(),
            axis: axis.name.clone(),
            strategy: r.strategy,
            unit: r.unit,
            target: r.target_kind.clone(),
            groups,
            buckets,
            topics: Vec::new(),
            ungrouped_rows: counts.ungrouped,
            multi_group_rows_kept: counts.multi_kept,
            warnings,
        }
    }

    /// The decision for a row of `group` in `bucket`: the bucket's entry under a context,
    /// else the group's.
    fn decision(&self, group: &str, bucket: &str) -> Decision {
        let one = |x: Option<f64>| x.unwrap_or(1.0);
        if let Some(b) = self
            .buckets
            .iter()
            .find(|b| b.group == group && b.bucket == bucket)
        {
            return Decision {
                keep: one(b.keep_probability),
                copies: one(b.copies),
                weight: one(b.weight),
            };
        }
        match self.groups.iter().find(|g| g.group == group) {
            Some(g) => Decision {
                keep: one(g.keep_probability),
                copies: one(g.copies),
                weight: one(g.weight),
            },
            None => Decision {
                keep: 1.0,
                copies: 1.0,
                weight: 1.0,
            },
        }
    }
}

/// The compiled actions of a run, shared by every thread.
#[derive(Debug)]
pub(crate) struct Actions {
    pub list: Vec<Action>,
    pub seed: u64,
    pub detector: Arc<Detector>,
    /// Set for the writing pass of a run with a rebalance action.
    pub plan: Option<RebalancePlan>,
    /// The counting pass stops before this action (the rebalance); `None` runs them all.
    pub stop_at: Option<usize>,
}

impl Actions {
    /// The index of the rebalance action, if any.
    pub(crate) fn rebalance_index(list: &[Action]) -> Option<usize> {
        list.iter()
            .position(|a| matches!(a.kind, ActionKind::Rebalance(_)))
    }

    /// Runs the actions over one document; returns its output rows and records what happened.
    /// `memo` records the document's rewrites (the counting pass) or reads them back.
    pub fn process(
        &self,
        doc: &Doc<'_>,
        stats: &mut PassStats,
        memo: &mut RewriteMemo,
    ) -> Vec<OutRow> {
        let tax = self.detector.taxonomy();
        let mut rows = vec![OutRow {
            id: doc.id.to_owned(),
            source_id: None,
            text: None,
            augmented: false,
            rule: None,
            edits: Vec::new(),
            weight: 1.0,
            hits: doc.hits.clone(),
            origin: Origin::Original,
        }];
        let end = self.stop_at.unwrap_or(self.list.len());
        for (k, action) in self.list.iter().enumerate().take(end) {
            let in_scope = |r: &OutRow| {
                doc.scope_sql[k]
                    && (action.scope.groups.is_empty()
                        || r.hits
                            .groups(tax)
                            .iter()
                            .any(|(g, _)| action.scope.groups.contains(g)))
            };
            match &action.kind {
                ActionKind::Drop(d) => {
                    let audit = stats.audits.entry(k).or_default();
                    rows.retain(|r| {
                        if !in_scope(r) {
                            return true;
                        }
                        let drop = doc.drop_sql[k] && drop_matches(d, r, doc.text, tax);
                        audit.reached += 1;
                        audit.removed += drop as u64;
                        for (g, _) in r.hits.groups(tax) {
                            if tax.is_demographic(g) {
                                let e = audit.groups.entry(g).or_default();
                                e.0 += 1;
                                e.1 += drop as u64;
                            }
                        }
                        if drop {
                            let map = match r.origin {
                                Origin::Original => &mut stats.account.dropped,
                                _ => &mut stats.account.derived_dropped,
                            };
                            bump(map, &action.name);
                        }
                        !drop
                    });
                }
                ActionKind::Augment(a) => self.augment(k, a, doc, &mut rows, stats, memo),
                ActionKind::Rebalance(rb) => self.rebalance(k, rb, doc, &mut rows, stats),
            }
        }
        rows
    }

    /// Whether row `r` of `doc` is in the scope of action `k`.
    fn in_scope(&self, k: usize, doc: &Doc<'_>, r: &OutRow) -> bool {
        let action = &self.list[k];
        doc.scope_sql[k]
            && (action.scope.groups.is_empty()
                || r.hits
                    .groups(self.detector.taxonomy())
                    .iter()
                    .any(|(g, _)| action.scope.groups.contains(g)))
    }

    /// Augment action `k`: each row in scope, drawn with the action's probability, rewritten
    /// in place or copied.
    fn augment(
        &self,
        k: usize,
        a: &crate::rules::actions::AugmentRule,
        doc: &Doc<'_>,
        rows: &mut Vec<OutRow>,
        stats: &mut PassStats,
        memo: &mut RewriteMemo,
    ) {
        let action = &self.list[k];
        let mut copies = Vec::new();
        for r in rows.iter_mut() {
            if !self.in_scope(k, doc, r) || unit(self.seed, &action.name, &r.id) >= a.probability {
                continue;
            }
            let known = memo.next().cloned();
            if known == Some(None) {
                continue; // the counting pass found nothing to rewrite
            }
            let mapping = || {
                a.swapper.mapping(
                    stable_hash(self.seed, action.name.as_bytes()),
                    &r.id,
                    &a.from,
                    &a.to,
                )
            };
            let rewritten = a.swapper.rewrite_lazy(r.text(doc.text), mapping);
            let Some((text, edits)) = rewritten else {
                debug_assert!(known.is_none(), "the counting pass rewrote it");
                if memo.record {
                    memo.calls.push(None);
                }
                continue;
            };
            let hits = match known {
                Some(Some(hits)) => hits,
                _ => self.detector.hits(&text),
            };
            debug_assert_eq!(hits, self.detector.hits(&text));
            if memo.record {
                memo.calls.push(Some(hits.clone()));
            }
            match a.mode {
                AugmentMode::Append => copies.push(OutRow {
                    id: format!("{}#{}", r.id, action.name),
                    source_id: Some(r.source_id.clone().unwrap_or_else(|| r.id.clone())),
                    text: Some(text),
                    augmented: true,
                    rule: Some(action.name.clone()),
                    edits,
                    weight: r.weight,
                    hits,
                    origin: Origin::Augmented(k),
                }),
                AugmentMode::Replace => {
                    if r.origin == Origin::Original {
                        bump(&mut stats.account.rewritten, &action.name);
                    }
                    r.text = Some(text);
                    r.augmented = true;
                    r.rule = Some(action.name.clone());
                    r.edits = edits;
                    r.hits = hits;
                }
            }
        }
        rows.extend(copies);
    }

    /// Rebalance action `k`: the first pass counts each row's group and bucket; the second
    /// keeps, copies or weighs it as the plan decides.
    fn rebalance(
        &self,
        k: usize,
        rb: &RebalanceRule,
        doc: &Doc<'_>,
        rows: &mut Vec<OutRow>,
        stats: &mut PassStats,
    ) {
        let action = &self.list[k];
        let tax = self.detector.taxonomy();
        let mut extra = Vec::new();
        let mut dropped = Vec::new();
        for (i, r) in rows.iter_mut().enumerate() {
            if !self.in_scope(k, doc, r) {
                continue;
            }
            let Some(g) = assign(rb, &r.hits, tax, &mut stats.counts) else {
                continue;
            };
            let units = match rb.unit {
                Unit::Documents => 1.0,
                Unit::Tokens => r.text(doc.text).split_whitespace().count() as f64,
            };
            let bucket = match &rb.context {
                Context::None => String::new(),
                Context::Source => doc.source.unwrap_or("(none)").to_owned(),
                Context::Attribute(a) => primary_group(&r.hits, tax, *a).map_or_else(
                    || "(none)".to_owned(),
                    |g| tax.groups[g as usize].key.clone(),
                ),
                Context::Topic => doc.topic.map_or_else(|| "(none)".into(), topic_bucket),
            };
            let Some(plan) = &self.plan else {
                *stats.counts.groups.entry(g).or_default() += units;
                *stats.counts.buckets.entry((g, bucket)).or_default() += units;
                continue;
            };
            let d = plan.decision(&tax.groups[g as usize].key, &bucket);
            let u = unit(self.seed, &action.name, &r.id);
            match rb.strategy {
                Strategy::Downsample => {
                    if u >= d.keep {
                        dropped.push(i);
                    }
                }
                Strategy::Upsample => {
                    let f = d.copies;
                    let n = f.floor() as u32 + (u < f.fract()) as u32;
                    for j in 1..n.max(1) {
                        let mut d = r.clone();
                        d.id = format!("{}#{}-dup{j}", r.id, action.name);
                        d.source_id = Some(r.source_id.clone().unwrap_or_else(|| r.id.clone()));
                        d.rule = Some(action.name.clone());
                        d.origin = Origin::Duplicated(k);
                        extra.push(d);
                    }
                }
                Strategy::Reweight => {
                    r.weight *= d.weight;
                }
            }
        }
        for &i in dropped.iter().rev() {
            let r = rows.remove(i);
            let map = match r.origin {
                Origin::Original => &mut stats.account.dropped,
                _ => &mut stats.account.derived_dropped,
            };
            bump(map, &action.name);
        }
        rows.extend(extra);
    }
}

/// Whether a drop action's lexicon, terms and regex conditions hold for a row.
fn drop_matches(d: &DropRule, r: &OutRow, original: &str, tax: &Taxonomy) -> bool {
    let text = r.text(original);
    let min = d.min_count as u64;
    if !d.lexicon_groups.is_empty() {
        let n: u64 = r
            .hits
            .terms
            .iter()
            .filter(|(t, _)| d.lexicon_groups.contains(&tax.group_of(*t)))
            .map(|(_, n)| *n as u64)
            .sum();
        if n < min {
            return false;
        }
    }
    if let Some(m) = &d.terms {
        let mut n = 0u64;
        m.for_each_hit(text, |_| n += 1);
        if n < min {
            return false;
        }
    }
    if let Some(re) = &d.regex
        && (re.find_iter(text).take(min as usize).count() as u64) < min
    {
        return false;
    }
    true
}

/// The group of the rebalanced axis a row counts for, per the multi-group policy.
fn assign(
    rb: &RebalanceRule,
    hits: &DocHits,
    tax: &Taxonomy,
    counts: &mut RebalanceCounts,
) -> Option<GroupId> {
    let groups: Vec<(GroupId, u32)> = hits
        .groups(tax)
        .into_iter()
        .filter(|(g, _)| tax.groups[*g as usize].axis == rb.axis)
        .collect();
    match groups.len() {
        0 => {
            counts.ungrouped += 1;
            None
        }
        1 => Some(groups[0].0),
        _ if rb.multi_group == MultiGroup::Keep => {
            counts.multi_kept += 1;
            None
        }
        // The most mentioned; ties go to the first group of the axis (groups are sorted).
        _ => groups
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|g| g.0),
    }
}

/// The group of axis `a` a row mentions most (ties: the first), if any.
fn primary_group(hits: &DocHits, tax: &Taxonomy, a: usize) -> Option<GroupId> {
    hits.groups(tax)
        .into_iter()
        .filter(|(g, _)| tax.groups[*g as usize].axis == a)
        .max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(&x.0)))
        .map(|g| g.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_uniform_enough_and_stable() {
        let n = 20_000;
        let below = (0..n)
            .filter(|i| unit(7, "r", &format!("doc-{i}")) < 0.3)
            .count();
        assert!((below as f64 / n as f64 - 0.3).abs() < 0.02, "{below}");
        assert_eq!(unit(7, "r", "a"), unit(7, "r", "a"));
        assert_ne!(unit(7, "r", "a"), unit(7, "s", "a"));
    }

    #[test]
    fn account_balances() {
        let mut a = Account {
            read: 10,
            kept: 7,
            written: 9,
            ..Default::default()
        };
        a.dropped.insert("x".into(), 3);
        a.augmented.insert("cda".into(), 2);
        assert_eq!(a.check(), Ok(()));
        a.kept = 6;
        assert!(a.check().is_err());
    }

    /// Stratified decisions: each bucket reaches the target with its own units; a bucket
    /// without one of the groups renormalises the target over the others, with a warning.
    #[test]
    fn context_buckets_get_their_own_decisions() {
        let rules = crate::rules::parse(
            "t.yaml",
            "version: 1\naxes: {gender: {drop_groups: [non_binary]}}\nactions:\n  - rebalance: {axis: gender, strategy: downsample, context: source}\n",
            std::path::Path::new("."),
        )
        .unwrap();
        let action = &rules.apply.actions[0];
        let ActionKind::Rebalance(rb) = &action.kind else {
            panic!("a rebalance")
        };
        let tax = rules.taxonomy();
        let g = |k: &str| tax.groups.iter().position(|g| g.key == k).unwrap() as GroupId;
        let (f, m) = (g("gender/female"), g("gender/male"));
        let mut counts = RebalanceCounts::default();
        for (group, bucket, n) in [
            (f, "a", 10.0),
            (m, "a", 40.0),
            (f, "b", 30.0),
            (m, "b", 15.0),
            (m, "c", 5.0),
        ] {
            *counts.groups.entry(group).or_default() += n;
            counts.buckets.insert((group, bucket.into()), n);
        }
        let keep = |p: &RebalancePlan, group: &str, bucket: &str| p.decision(group, bucket).keep;
        let plan = RebalancePlan::new(action, rb, &counts, tax);
        // a: 10 women, 40 men -> keep every woman, a quarter of the men; b: the reverse.
        assert_eq!(keep(&plan, "gender/female", "a"), 1.0);
        assert_eq!(keep(&plan, "gender/male", "a"), 0.25);
        assert_eq!(keep(&plan, "gender/female", "b"), 0.5);
        assert_eq!(keep(&plan, "gender/male", "b"), 1.0);
        // c has no women: its men are kept (the target renormalised to men alone).
        assert_eq!(keep(&plan, "gender/male", "c"), 1.0);
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("in 1 of 3 context buckets")),
            "{:?}",
            plan.warnings
        );
        assert!(plan.groups.iter().all(|g| g.keep_probability.is_none()));
        let mut names = vec!["topic 10", "topic 2", "b", "a", "topic 1"];
        names.sort_by_key(|b| natural_key(b));
        assert_eq!(names, ["a", "b", "topic 1", "topic 2", "topic 10"]);

        // Upsample: the smaller group of each bucket is copied up to the larger, within the cap.
        let mut up = rb.clone();
        up.strategy = Strategy::Upsample;
        up.max_copies = 3;
        let plan = RebalancePlan::new(action, &up, &counts, tax);
        let copies = |group: &str, bucket: &str| plan.decision(group, bucket).copies;
        assert_eq!(copies("gender/female", "a"), 3.0); // 4 wanted, capped at 3
        assert_eq!(copies("gender/male", "a"), 1.0);
        assert_eq!(copies("gender/male", "b"), 2.0);
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("limits the upsampling in some context buckets")),
            "{:?}",
            plan.warnings
        );
    }
}
