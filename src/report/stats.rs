//! Exact, mergeable counts of a scan.
//!
//! Every partition folds its documents into its own [`ScanStats`]; the partitions' stats are
//! then [merged](ScanStats::merge). Every field is a sum, or a set chosen by a rule that does not
//! depend on arrival order (examples: the smallest stable hashes of the document ids), so the
//! result is the same however the corpus is split into files, partitions or threads.

use std::collections::{BTreeMap, HashMap};

use crate::corpus::RowCounts;
use crate::detect::{Detector, DocHits, GroupId, TermId};
use crate::hash::stable_hash;
use crate::lexicon::LexiconKind;

/// Seed of the example choice; fixed so that reports are reproducible.
const EXAMPLE_SEED: u64 = 0x6465_6269_6173; // "debias"

/// An example document of a group: the snippet around its first mention.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Example {
    /// Stable hash of the id: the examples kept are the smallest.
    pub rank: u64,
    pub id: String,
    pub snippet: String,
    /// The byte range of the match in the snippet.
    pub mark: [usize; 2],
    /// The matched text.
    pub matched: String,
}

/// Counts for one source (a value of the source column, or a URL's domain).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceStats {
    pub documents: u64,
    /// Documents mentioning each group (demographic and attribute), sparse.
    pub group_docs: BTreeMap<GroupId, u64>,
    /// Documents mentioning each axis, sparse.
    pub axis_docs: BTreeMap<usize, u64>,
}

/// The counts of a scan (or of one partition of it). Serialized (with serde), they are the
/// partial state that partitions of a distributed scan send to be merged.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScanStats {
    /// Every row read from the input: outside `input.where`, without text, or a document.
    pub rows: RowCounts,
    /// Documents scanned: rows selected with a non-null text.
    pub documents: u64,
    /// UTF-8 bytes of the scanned texts.
    pub text_bytes: u64,
    /// Per group: documents mentioning it.
    pub group_docs: Vec<u64>,
    /// Per group: mentions.
    pub group_mentions: Vec<u64>,
    /// Per term: documents mentioning it.
    pub term_docs: Vec<u64>,
    /// Per term: mentions.
    pub term_mentions: Vec<u64>,
    /// Per axis: documents mentioning at least one of its groups.
    pub axis_docs: Vec<u64>,
    /// Per axis: documents mentioning two or more of its groups.
    pub axis_multi_docs: Vec<u64>,
    /// Documents mentioning both groups, for groups of different axes (`a < b`).
    #[serde(with = "sorted_pairs")]
    pub pair_docs: HashMap<(GroupId, GroupId), u64>,
    /// Documents mentioning a demographic group and an attribute term.
    #[serde(with = "sorted_pairs")]
    pub group_term_docs: HashMap<(GroupId, TermId), u64>,
    /// Per source, when the rules name a source column.
    #[serde(with = "sorted_pairs")]
    pub sources: HashMap<String, SourceStats>,
    /// Documents with a null source.
    pub null_source: u64,
    /// Per group: the examples with the smallest ranks.
    pub examples: Vec<Vec<Example>>,
}

/// A map serialized as a list of (key, value) pairs sorted by key: keys that are not strings,
/// and the same bytes for the same counts.
mod sorted_pairs {
    use std::collections::HashMap;
    use std::hash::Hash;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K, V, S>(map: &HashMap<K, V>, s: S) -> Result<S::Ok, S::Error>
    where
        K: Serialize + Ord,
        V: Serialize,
        S: Serializer,
    {
        let mut pairs: Vec<(&K, &V)> = map.iter().collect();
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        pairs.serialize(s)
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<HashMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// Per-call scratch space of [`ScanStats::add`].
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    groups: Vec<(GroupId, u32)>,
    axes: Vec<(usize, u32)>,
}

impl ScanStats {
    /// Empty stats for a detector's taxonomy.
    pub fn new(detector: &Detector) -> Self {
        let tax = detector.taxonomy();
        ScanStats {
            group_docs: vec![0; tax.groups.len()],
            group_mentions: vec![0; tax.groups.len()],
            term_docs: vec![0; tax.terms.len()],
            term_mentions: vec![0; tax.terms.len()],
            axis_docs: vec![0; tax.axes.len()],
            axis_multi_docs: vec![0; tax.axes.len()],
            examples: vec![Vec::new(); tax.groups.len()],
            ..Default::default()
        }
    }

    /// Counts one scanned document. `source` is `Some(None)` for a null source when the rules
    /// name a source column, `None` when they do not.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add(
        &mut self,
        detector: &Detector,
        id: &str,
        text: &str,
        hits: &DocHits,
        source: Option<Option<&str>>,
        examples: usize,
        snippet_chars: usize,
        scratch: &mut Scratch,
    ) {
        let tax = detector.taxonomy();
        self.documents += 1;
        self.text_bytes += text.len() as u64;
        scratch.groups.clear();
        for &(t, n) in &hits.terms {
            self.term_docs[t as usize] += 1;
            self.term_mentions[t as usize] += n as u64;
            let g = tax.group_of(t);
            match scratch.groups.iter_mut().find(|(x, _)| *x == g) {
                Some(e) => e.1 += n,
                None => scratch.groups.push((g, n)),
            }
        }
        scratch.groups.sort_unstable();
        scratch.axes.clear();
        for &(g, n) in &scratch.groups {
            self.group_docs[g as usize] += 1;
            self.group_mentions[g as usize] += n as u64;
            let a = tax.groups[g as usize].axis;
            match scratch.axes.last_mut() {
                Some((x, k)) if *x == a => *k += 1,
                _ => scratch.axes.push((a, 1)),
            }
        }
        for &(a, k) in &scratch.axes {
            self.axis_docs[a] += 1;
            if k > 1 {
                self.axis_multi_docs[a] += 1;
            }
        }
        // Pairs of groups of different axes; demographic group x attribute term.
        for (i, &(g, _)) in scratch.groups.iter().enumerate() {
            let ga = tax.groups[g as usize].axis;
            for &(h, _) in &scratch.groups[i + 1..] {
                if tax.groups[h as usize].axis != ga {
                    *self.pair_docs.entry((g, h)).or_default() += 1;
                }
            }
            if tax.axes[ga].kind == LexiconKind::Axis {
                for &(t, _) in &hits.terms {
                    if !tax.is_demographic(tax.group_of(t)) {
                        *self.group_term_docs.entry((g, t)).or_default() += 1;
                    }
                }
            }
        }
        match source {
            None => {}
            Some(None) => self.null_source += 1,
            Some(Some(s)) => {
                let st = match self.sources.get_mut(s) {
                    Some(st) => st,
                    None => self.sources.entry(s.to_owned()).or_default(),
                };
                st.documents += 1;
                for &(g, _) in &scratch.groups {
                    *st.group_docs.entry(g).or_default() += 1;
                }
                for &(a, _) in &scratch.axes {
                    *st.axis_docs.entry(a).or_default() += 1;
                }
            }
        }
        if examples > 0 && !scratch.groups.is_empty() {
            let rank = stable_hash(EXAMPLE_SEED, id.as_bytes());
            for &(g, _) in &scratch.groups {
                let kept = &mut self.examples[g as usize];
                let full = kept.len() >= examples;
                if full
                    && kept
                        .last()
                        .is_some_and(|last| (rank, id) >= (last.rank, last.id.as_str()))
                {
                    continue;
                }
                let Some(hit) = detector.first_hit_of(text, g) else {
                    continue;
                };
                let (snippet, mark) = snippet_marked(text, hit.start, hit.end, snippet_chars);
                let ex = Example {
                    rank,
                    id: id.to_owned(),
                    snippet,
                    mark,
                    matched: text[hit.start..hit.end].to_owned(),
                };
                let at = kept.partition_point(|e| (e.rank, e.id.as_str()) < (rank, id));
                match kept.get_mut(at) {
                    // A repeated id keeps its smallest example, as `merge` does, so that the
                    // choice does not depend on how the rows were split or ordered.
                    Some(e) if e.rank == rank && e.id == id => {
                        if ex < *e {
                            *e = ex;
                        }
                    }
                    _ => kept.insert(at, ex),
                }
                kept.truncate(examples);
            }
        }
    }

    /// Adds `other` (another partition's counts) to these.
    pub fn merge(&mut self, other: ScanStats, examples: usize) {
        if self.group_docs.is_empty() {
            *self = other;
            return;
        }
        self.rows.merge(&other.rows);
        self.documents += other.documents;
        self.text_bytes += other.text_bytes;
        add_vec(&mut self.group_docs, &other.group_docs);
        add_vec(&mut self.group_mentions, &other.group_mentions);
        add_vec(&mut self.term_docs, &other.term_docs);
        add_vec(&mut self.term_mentions, &other.term_mentions);
        add_vec(&mut self.axis_docs, &other.axis_docs);
        add_vec(&mut self.axis_multi_docs, &other.axis_multi_docs);
        for (k, v) in other.pair_docs {
            *self.pair_docs.entry(k).or_default() += v;
        }
        for (k, v) in other.group_term_docs {
            *self.group_term_docs.entry(k).or_default() += v;
        }
        for (k, v) in other.sources {
            let st = self.sources.entry(k).or_default();
            st.documents += v.documents;
            for (g, n) in v.group_docs {
                *st.group_docs.entry(g).or_default() += n;
            }
            for (a, n) in v.axis_docs {
                *st.axis_docs.entry(a).or_default() += n;
            }
        }
        self.null_source += other.null_source;
        for (mine, theirs) in self.examples.iter_mut().zip(other.examples) {
            mine.extend(theirs);
            mine.sort();
            mine.dedup_by(|a, b| a.id == b.id && a.rank == b.rank);
            mine.truncate(examples);
        }
    }
}

fn add_vec(a: &mut [u64], b: &[u64]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// About `max_chars` characters of `text` around the byte range `start..end`, on character
/// boundaries, whitespace collapsed, with `…` where it was cut.
pub fn snippet(text: &str, start: usize, end: usize, max_chars: usize) -> String {
    snippet_marked(text, start, end, max_chars).0
}

/// [`snippet`], and the byte range of the match `start..end` in it.
pub(crate) fn snippet_marked(
    text: &str,
    start: usize,
    end: usize,
    max_chars: usize,
) -> (String, [usize; 2]) {
    let match_chars = text[start..end].chars().count();
    let side = max_chars.saturating_sub(match_chars) / 2;
    // Start `side` characters before the match (or at the text's start).
    let from = match text[..start]
        .char_indices()
        .rev()
        .nth(side.saturating_sub(1))
    {
        _ if side == 0 => start,
        Some((i, _)) => i,
        None => 0,
    };
    let mut to = end;
    for (n, (i, c)) in text[end..].char_indices().enumerate() {
        if n == side {
            break;
        }
        to = end + i + c.len_utf8();
    }
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut last_space = false;
    let mut mark = [0, 0];
    for (i, c) in text[from..to].char_indices() {
        if matches!(c, '\u{E000}' | '\u{E001}') {
            continue; // the HTML page's match markers
        }
        if from + i == start {
            mark[0] = out.len();
        }
        if from + i == end {
            mark[1] = out.len();
        }
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    if end == to {
        mark[1] = out.len();
    }
    // A match that starts with collapsed whitespace keeps at least its own text.
    mark[1] = mark[1].max(mark[0]);
    if to < text.len() {
        out.push('…');
    }
    (out, mark)
}

/// What a scan found, and what it read.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    pub stats: ScanStats,
    pub files: Vec<crate::corpus::InputFile>,
    /// Files skipped because they are empty (0 bytes).
    pub empty_files: Vec<crate::corpus::InputFile>,
    pub elapsed: std::time::Duration,
    pub threads: usize,
    /// DataFusion partitions read, over all files (more than the file count when files were split).
    pub partitions: usize,
    /// The analyses of the rules' `embedding:` section, when they have one.
    pub embedding: Option<crate::report::embedding::EmbeddingReport>,
    /// Files whose counts a resumed scan read back from its work directory.
    pub resumed_files: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_cut_on_char_boundaries() {
        let t = "Ünïcödé words before the nurse said that she was tired of everything here";
        let s = t.find("she").unwrap();
        let out = snippet(t, s, s + 3, 24);
        assert!(out.contains("she"), "{out}");
        assert!(out.starts_with('…') && out.ends_with('…'), "{out}");
        assert!(out.chars().count() <= 26, "{out}");
        assert_eq!(snippet("she ran", 0, 3, 160), "she ran");
        assert_eq!(snippet("a\n\n she", 4, 7, 160), "a she");
        let (out, [a, b]) = snippet_marked(t, s, s + 3, 40);
        assert_eq!(&out[a..b], "she");
        let (out, [a, b]) = snippet_marked("the old man", 4, 11, 160);
        assert_eq!((&out[..], &out[a..b]), ("the old man", "old man"));
    }

    /// The same stats whatever the order of the rows and however they are split, repeated ids
    /// (two texts under one id) included.
    #[test]
    fn examples_do_not_depend_on_order_or_split() {
        let rules = crate::rules::parse(
            "t.yaml",
            "version: 1\naxes: {gender: {}}\nreport: {examples: 2}\n",
            std::path::Path::new("."),
        )
        .unwrap();
        let d = &rules.detector;
        let docs = [
            ("a", "She said so."),
            ("b", "He left early."),
            ("a", "Her mother and his aunt."),
            ("c", "The women arrived."),
            ("a", "He and she."),
        ];
        let add = |stats: &mut ScanStats, (id, text): (&str, &str)| {
            let hits = d.hits(text);
            stats.add(d, id, text, &hits, None, 2, 80, &mut Scratch::default());
        };
        let mut forward = ScanStats::new(d);
        docs.iter().for_each(|&x| add(&mut forward, x));
        let mut backward = ScanStats::new(d);
        docs.iter().rev().for_each(|&x| add(&mut backward, x));
        assert_eq!(forward.examples, backward.examples);
        for cut in 0..=docs.len() {
            let (mut left, mut right) = (ScanStats::new(d), ScanStats::new(d));
            docs[..cut].iter().for_each(|&x| add(&mut left, x));
            docs[cut..].iter().for_each(|&x| add(&mut right, x));
            left.merge(right, 2);
            assert_eq!(left, forward, "split at {cut}");
        }
        let tax = d.taxonomy();
        let female = tax
            .groups
            .iter()
            .position(|g| g.key == "gender/female")
            .unwrap();
        let female = &forward.examples[female];
        assert!(
            female.iter().filter(|e| e.id == "a").count() <= 1,
            "{female:?}"
        );
    }
}
