//! Detection: which groups and attribute terms a document mentions, and how often.
//!
//! A [`Taxonomy`] is the compiled list of axes, groups and terms of a run; a [`Detector`] pairs
//! it with the one [`Matcher`] (and the rule file's regex patterns, if any) and turns a text into
//! [`DocHits`]. The DataFusion UDFs in `pipeline::udf` are thin wrappers around it.

use std::ops::Range;

use regex::Regex;

use crate::lexicon::context::Why;
use crate::lexicon::matcher::Candidate;
use crate::lexicon::{Hit, LexiconKind, Matcher};

/// Index of a group in [`Taxonomy::groups`].
pub type GroupId = u16;
/// Index of a term in [`Taxonomy::terms`].
pub type TermId = u32;

/// An axis (gender, religion, ...) or an attribute lexicon (occupations, ...) with its groups.
#[derive(Debug, Clone)]
pub struct Axis {
    pub name: String,
    pub kind: LexiconKind,
    pub description: String,
    /// The lexicons it was built from (built-in names or file paths).
    pub lexicons: Vec<String>,
    /// Its groups: a contiguous range of group ids.
    pub groups: Range<GroupId>,
    /// Notes of the lexicons: terms left out and why.
    pub notes: Vec<String>,
}

/// A group of an axis.
#[derive(Debug, Clone)]
pub struct Group {
    pub axis: usize,
    pub name: String,
    /// `axis/group`, the name used in reports and output columns.
    pub key: String,
    pub description: Option<String>,
}

/// A term (as written in its lexicon) and its group.
#[derive(Debug, Clone)]
pub struct TermInfo {
    pub group: GroupId,
    pub text: String,
}

/// All axes, groups and terms of a run.
#[derive(Debug, Clone, Default)]
pub struct Taxonomy {
    pub axes: Vec<Axis>,
    pub groups: Vec<Group>,
    pub terms: Vec<TermInfo>,
}

impl Taxonomy {
    /// Demographic axes (not attribute lexicons), with their indices.
    pub fn demographic_axes(&self) -> impl Iterator<Item = (usize, &Axis)> {
        self.axes
            .iter()
            .enumerate()
            .filter(|(_, a)| a.kind == LexiconKind::Axis)
    }

    /// Attribute lexicons, with their indices.
    pub fn attribute_axes(&self) -> impl Iterator<Item = (usize, &Axis)> {
        self.axes
            .iter()
            .enumerate()
            .filter(|(_, a)| a.kind == LexiconKind::Attribute)
    }

    /// Whether group `g` belongs to a demographic axis.
    pub fn is_demographic(&self, g: GroupId) -> bool {
        self.axes[self.groups[g as usize].axis].kind == LexiconKind::Axis
    }

    /// The group of term `t`.
    pub fn group_of(&self, t: TermId) -> GroupId {
        self.terms[t as usize].group
    }

    /// The group called `axis/group`.
    pub fn group_by_key(&self, key: &str) -> Option<GroupId> {
        self.groups
            .iter()
            .position(|g| g.key == key)
            .map(|i| i as GroupId)
    }
}

/// `terms` as term ids with counts, in `out` (sorts `terms`).
fn count_terms(terms: &mut [TermId], out: &mut DocHits) {
    terms.sort_unstable();
    out.terms.clear();
    for &t in terms.iter() {
        match out.terms.last_mut() {
            Some((last, n)) if *last == t => *n += 1,
            _ => out.terms.push((t, 1)),
        }
    }
}

/// The terms a document mentions, with counts, sorted by term id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocHits {
    pub terms: Vec<(TermId, u32)>,
}

impl DocHits {
    /// Mention counts per group, sorted by group id.
    pub fn groups(&self, taxonomy: &Taxonomy) -> Vec<(GroupId, u32)> {
        let mut out: Vec<(GroupId, u32)> = Vec::new();
        for &(t, n) in &self.terms {
            let g = taxonomy.group_of(t);
            match out.iter_mut().find(|(x, _)| *x == g) {
                Some(e) => e.1 += n,
                None => out.push((g, n)),
            }
        }
        out.sort_unstable();
        out
    }
}

/// A regex pattern of a rule file, counted as a term of its group.
#[derive(Debug, Clone)]
pub struct PatternTerm {
    pub regex: Regex,
    pub term: TermId,
}

/// Finds the terms of a [`Taxonomy`] in texts. Built once per run and shared by every thread.
#[derive(Debug)]
pub struct Detector {
    taxonomy: Taxonomy,
    matcher: Matcher,
    patterns: Vec<PatternTerm>,
}

impl Detector {
    pub fn new(taxonomy: Taxonomy, matcher: Matcher, patterns: Vec<PatternTerm>) -> Self {
        Detector {
            taxonomy,
            matcher,
            patterns,
        }
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Every hit in `text`, in text order (lexicon hits first, then each regex pattern's).
    pub fn for_each_hit(&self, text: &str, mut f: impl FnMut(Hit)) {
        self.matcher.for_each_hit(text, &mut f);
        for p in &self.patterns {
            for m in p.regex.find_iter(text) {
                f(Hit {
                    start: m.start(),
                    end: m.end(),
                    term: p.term,
                    why: Why::Pattern,
                });
            }
        }
    }

    /// The terms of `text` with their counts. `scratch` is reused between calls.
    pub fn detect(&self, text: &str, scratch: &mut Vec<TermId>, out: &mut DocHits) {
        scratch.clear();
        self.for_each_hit(text, |h| scratch.push(h.term));
        count_terms(scratch, out);
    }

    /// [`Detector::detect`] of many texts stored back to back, as in the value buffer of an
    /// Arrow string array (text `k` is `joined[ends[k - 1]..ends[k]]`, see
    /// [`Matcher::for_each_hit_joined`]): appends one [`DocHits`] per text to `out`. The same
    /// hits as one call per text, found faster when the texts are short.
    pub fn detect_joined(&self, joined: &str, ends: &[usize], out: &mut Vec<DocHits>) {
        let first = out.len();
        out.resize_with(first + ends.len(), DocHits::default);
        let out = &mut out[first..];
        // Hits come text by text, in order: a text's terms are counted when the next text's
        // first hit (or the end) comes. A text without hits keeps an empty, unallocated list.
        let mut terms: Vec<TermId> = Vec::new();
        let mut current = 0;
        self.matcher.for_each_hit_joined(joined, ends, |k, h| {
            if k != current {
                count_terms(&mut terms, &mut out[current]);
                terms.clear();
                current = k;
            }
            terms.push(h.term);
        });
        if !terms.is_empty() {
            count_terms(&mut terms, &mut out[current]);
        }
        if !self.patterns.is_empty() {
            let mut start = 0;
            for (k, &end) in ends.iter().enumerate() {
                let text = &joined[start..end];
                terms.clear();
                terms.extend(
                    out[k]
                        .terms
                        .iter()
                        .flat_map(|&(t, n)| (0..n).map(move |_| t)),
                );
                let lexicon_hits = terms.len();
                for p in &self.patterns {
                    terms.extend(p.regex.find_iter(text).map(|_| p.term));
                }
                if terms.len() > lexicon_hits {
                    count_terms(&mut terms, &mut out[k]);
                }
                start = end;
            }
        }
    }

    /// Convenience form of [`Detector::detect`] that allocates.
    pub fn hits(&self, text: &str) -> DocHits {
        let mut out = DocHits::default();
        self.detect(text, &mut Vec::new(), &mut out);
        out
    }

    /// Every hit of `text` with why it counted, sorted by position (for `--attributes` spans).
    pub fn spans(&self, text: &str) -> Vec<Hit> {
        let mut v = Vec::new();
        self.for_each_hit(text, |h| v.push(h));
        v.sort_by_key(|h| (h.start, h.end, h.term));
        v
    }

    /// Every candidate of `text`, counted or not, with what its context rule said, sorted by
    /// position (for `debias explain` and `debias eval`). Pattern hits are counted candidates.
    pub fn explain(&self, text: &str) -> Vec<Candidate> {
        let mut v = self.matcher.explain(text);
        for p in &self.patterns {
            for m in p.regex.find_iter(text) {
                v.push(Candidate {
                    start: m.start(),
                    end: m.end(),
                    term: p.term,
                    verdict: Ok(Why::Pattern),
                    rule: Some(format!("pattern {}", p.regex.as_str())),
                    evidence: None,
                });
            }
        }
        v.sort_by_key(|c| (c.start, c.end, c.term));
        v
    }

    /// The first hit of group `g` in `text`, for example snippets.
    pub fn first_hit_of(&self, text: &str, g: GroupId) -> Option<Hit> {
        let mut first: Option<Hit> = None;
        self.for_each_hit(text, |h| {
            if self.taxonomy.group_of(h.term) == g && first.is_none_or(|f| h.start < f.start) {
                first = Some(h);
            }
        });
        first
    }
}
