//! Counterfactual rewriting: swap the terms of one group for the matching terms of another.
//!
//! A [`Swapper`] is compiled once per augmentation rule and shared by every thread. It holds
//! the surface forms of each group in one matcher (the same word-boundary rules as detection),
//! and for each form the group it belongs to and its aligned position, so that the k-th term of
//! one group becomes the k-th term of the group chosen for it.
//!
//! * Gender ([`Swapper::gender`]) is built in: pronouns (`her` becomes "him" or "his" by its role
//!   in the sentence, see [`gender`]), kinship terms, titles, gendered nouns and occupations from
//!   `rules/swaps/gender.yaml`, and optionally first names (paired by rank).
//! * Other axes ([`Swapper::term_groups`]) come from the rule file: groups of interchangeable
//!   terms, aligned by position.
//!
//! Each replacement takes the case of the word it replaces (`he` → `she`, `He` → `She`,
//! `HE` → `SHE`); everything around a term (punctuation, `'s`, spaces) is kept.

pub mod gender;

use std::collections::HashMap;

use crate::hash::{mix, stable_hash};
use crate::lexicon::matcher::{Matcher, MatcherBuilder};
use crate::lexicon::{ContextRule, LexiconKind};

/// One replacement made in a document: byte offsets in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub original: String,
    pub replacement: String,
}

/// What a matched form becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Replace {
    /// The form at the same position in the target group.
    Aligned(u32),
    /// A fixed word, for one-way replacements and forms without an aligned partner.
    Word(String),
    /// `her`: "him" as an object, "his" as a possessive (gender only).
    Her,
    /// `his`: "her" before a noun, "hers" standing alone (gender only).
    His,
}

#[derive(Debug, Clone)]
struct Entry {
    group: u16,
    replace: Replace,
}

/// The compiled swap table of one augmentation rule.
#[derive(Debug)]
pub struct Swapper {
    groups: Vec<String>,
    /// `forms[g][k]`: the k-th aligned form of group g (lower case).
    forms: Vec<Vec<String>>,
    entries: Vec<Entry>,
    matcher: Matcher,
}

/// Which group each group's terms become in one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping(pub Vec<Option<u16>>);

/// Parsed `rules/swaps/gender.yaml`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GenderPairs {
    #[allow(dead_code)]
    name: String,
    classes: indexmap::IndexMap<String, Vec<[String; 2]>>,
    one_way: OneWay,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OneWay {
    female_to_male: Vec<[String; 2]>,
    male_to_female: Vec<[String; 2]>,
}

const GENDER_PAIRS: &str = include_str!("../../rules/swaps/gender.yaml");

/// The classes of built-in gender pairs, in the order a rule may name them.
pub const GENDER_CLASSES: &[&str] = &["pronouns", "kinship", "titles", "nouns", "occupations"];

/// Group indices of the gender swapper.
pub const FEMALE: u16 = 0;
pub const MALE: u16 = 1;

impl Swapper {
    /// The built-in gender swapper over the given classes of pairs (see [`GENDER_CLASSES`]),
    /// with first names when `names` is set.
    pub fn gender(classes: &[&str], names: bool) -> Result<Swapper, String> {
        let pairs: GenderPairs = serde_saphyr::from_str(GENDER_PAIRS)
            .map_err(|e| format!("built-in gender pairs: {e}"))?;
        let mut b = SwapBuilder::new(vec!["female".into(), "male".into()]);
        if classes.contains(&"pronouns") {
            b.pair(&["she", "he"]);
            b.pair(&["herself", "himself"]);
            b.fixed(FEMALE, "her", Replace::Her);
            b.fixed(FEMALE, "hers", Replace::Word("his".into()));
            b.fixed(MALE, "him", Replace::Word("her".into()));
            b.fixed(MALE, "his", Replace::His);
        }
        for (class, list) in &pairs.classes {
            if classes.contains(&class.as_str()) {
                for [f, m] in list {
                    b.pair(&[f, m]);
                }
            }
        }
        if classes.iter().any(|c| *c != "pronouns") {
            let one_way = &pairs.one_way;
            for (group, list) in [
                (FEMALE, &one_way.female_to_male),
                (MALE, &one_way.male_to_female),
            ] {
                for [from, to] in list {
                    b.fixed(group, from, Replace::Word(to.clone()));
                }
            }
        }
        if names {
            b.names()?;
        }
        b.build()
    }

    /// A swapper over interchangeable term groups declared in a rule file: `groups[g]` is the
    /// name of group g and its terms, aligned by position (the k-th term of each group are
    /// counterparts). A group with fewer terms maps its counterparts beyond its end to its last
    /// term.
    pub fn term_groups(groups: &[(String, Vec<String>)]) -> Result<Swapper, String> {
        let mut b = SwapBuilder::new(groups.iter().map(|(n, _)| n.clone()).collect());
        for (g, (_, terms)) in groups.iter().enumerate() {
            for t in terms {
                b.aligned(g as u16, &t.to_lowercase());
            }
        }
        b.build()
    }

    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The document's mapping between groups: a seeded choice that depends only on `seed` and
    /// the document id, never on where the document sits in the input.
    ///
    /// With two groups they are exchanged. With more, each group goes to another one by a
    /// random cyclic permutation (Sattolo's algorithm), so two groups of one document never
    /// merge into one. `from` limits which groups are rewritten, `to` which they may become.
    pub fn mapping(&self, seed: u64, doc_id: &str, from: &[bool], to: &[bool]) -> Mapping {
        let n = self.groups.len();
        let mut state = stable_hash(seed, doc_id.as_bytes());
        let mut next = move || {
            state = mix(state);
            state
        };
        let mut perm: Vec<u16> = (0..n as u16).collect();
        for i in (1..n).rev() {
            let j = (next() % i as u64) as usize;
            perm.swap(i, j);
        }
        let targets: Vec<u16> = (0..n as u16).filter(|&g| to[g as usize]).collect();
        let map = (0..n)
            .map(|g| {
                if !from[g] {
                    return None;
                }
                if to[perm[g] as usize] && perm[g] as usize != g {
                    return Some(perm[g]);
                }
                let others: Vec<u16> = targets
                    .iter()
                    .copied()
                    .filter(|&t| t as usize != g)
                    .collect();
                if others.is_empty() {
                    None
                } else {
                    Some(others[(next() % others.len() as u64) as usize])
                }
            })
            .collect();
        Mapping(map)
    }

    /// Rewrites `text` under `mapping`; returns the new text and its edits, or `None` when
    /// nothing in it was swapped.
    pub fn rewrite(&self, text: &str, mapping: &Mapping) -> Option<(String, Vec<Edit>)> {
        self.rewrite_lazy(text, || mapping.clone())
    }

    /// [`Self::rewrite`] with the mapping made by `mapping` at the first swappable term: most
    /// documents have none, and need neither the mapping nor an output buffer.
    pub fn rewrite_lazy(
        &self,
        text: &str,
        mapping: impl FnOnce() -> Mapping,
    ) -> Option<(String, Vec<Edit>)> {
        let mut make = Some(mapping);
        let mut mapping: Option<Mapping> = None;
        let mut out = String::new();
        let mut edits = Vec::new();
        let mut last = 0;
        self.matcher.for_each_hit(text, |h| {
            if h.start < last {
                return; // a second term on the same form (shared forms): first one wins
            }
            let entry = &self.entries[h.term as usize];
            let mapping = mapping.get_or_insert_with(|| (make.take().expect("made once"))());
            let Some(Some(target)) = mapping.0.get(entry.group as usize) else {
                return;
            };
            let original = &text[h.start..h.end];
            let word: &str = match &entry.replace {
                Replace::Aligned(k) => {
                    let forms = &self.forms[*target as usize];
                    match forms.get(*k as usize).or(forms.last()) {
                        Some(f) => f,
                        None => return,
                    }
                }
                Replace::Word(w) => w,
                Replace::Her => match gender::her_role(text, h.start, h.end) {
                    gender::Role::Object => "him",
                    gender::Role::Possessive => "his",
                },
                Replace::His => match gender::his_role(text, h.start, h.end) {
                    gender::Role::Possessive => "her",
                    gender::Role::Object => "hers",
                },
            };
            let replacement = match_case(original, word);
            if replacement == original {
                return;
            }
            if edits.is_empty() {
                out.reserve(text.len() + 16);
            }
            out.push_str(&text[last..h.start]);
            out.push_str(&replacement);
            last = h.end;
            edits.push(Edit {
                start: h.start,
                end: h.end,
                original: original.to_owned(),
                replacement,
            });
        });
        if edits.is_empty() {
            return None;
        }
        out.push_str(&text[last..]);
        Some((out, edits))
    }
}

/// Collects forms before they are compiled into a [`Swapper`].
struct SwapBuilder {
    groups: Vec<String>,
    forms: Vec<Vec<String>>,
    entries: Vec<Entry>,
    /// Lower-case form → entry; the first entry of a form wins.
    index: HashMap<String, usize>,
    capitalized: Vec<usize>,
}

impl SwapBuilder {
    fn new(groups: Vec<String>) -> Self {
        SwapBuilder {
            forms: vec![Vec::new(); groups.len()],
            groups,
            entries: Vec::new(),
            index: HashMap::new(),
            capitalized: Vec::new(),
        }
    }

    fn add(&mut self, group: u16, form: &str, replace: Replace) -> bool {
        let key = form.to_lowercase();
        if self.index.contains_key(&key) {
            return false;
        }
        self.index.insert(key, self.entries.len());
        self.entries.push(Entry { group, replace });
        true
    }

    /// A form at the next position of its group.
    fn aligned(&mut self, group: u16, form: &str) {
        let k = self.forms[group as usize].len() as u32;
        self.forms[group as usize].push(form.to_lowercase());
        self.add(group, form, Replace::Aligned(k));
    }

    /// A two-group pair [female, male], both directions; the first pair of a form decides it.
    fn pair(&mut self, pair: &[&str; 2]) {
        for (g, other) in [(FEMALE, MALE), (MALE, FEMALE)] {
            let form = pair[g as usize];
            let to = pair[other as usize];
            self.add(g, form, Replace::Word(to.to_lowercase()));
        }
    }

    fn fixed(&mut self, group: u16, form: &str, replace: Replace) {
        self.add(group, form, replace);
    }

    /// First names of the built-in `gender_first_names` lexicon, paired by rank: the i-th most
    /// common female name and the i-th male name replace each other; names beyond the shorter
    /// list pair with a name of the shorter list by rank modulo its length. Names are only
    /// swapped when capitalised.
    fn names(&mut self) -> Result<(), String> {
        let b = crate::lexicon::builtin("gender_first_names")
            .ok_or("the built-in first-name lexicon is missing")?;
        debug_assert_eq!(b.kind, LexiconKind::Axis);
        let lex = crate::lexicon::load_builtin(b)
            .map_err(|d| format!("built-in first names: {}", d.len()))?;
        let list = |g: &str| -> Vec<String> {
            lex.groups
                .get(g)
                .map(|t| t.terms.iter().map(|t| t.text.clone()).collect())
                .unwrap_or_default()
        };
        let (f, m) = (list("female"), list("male"));
        if f.is_empty() || m.is_empty() {
            return Err("the built-in first-name lexicon has no female or male names".into());
        }
        for (g, own, other) in [(FEMALE, &f, &m), (MALE, &m, &f)] {
            for (i, name) in own.iter().enumerate() {
                let to = title_case(&other[i % other.len()]);
                if self.add(g, name, Replace::Word(to)) {
                    self.capitalized.push(self.entries.len() - 1);
                }
            }
        }
        Ok(())
    }

    fn build(self) -> Result<Swapper, String> {
        let mut mb = MatcherBuilder::new();
        let cap = mb.context(&ContextRule {
            capitalized: true,
            ..Default::default()
        });
        let mut forms: Vec<(&String, &usize)> = self.index.iter().collect();
        forms.sort();
        for (form, &e) in forms {
            let context = self.capitalized.contains(&e).then_some(cap);
            mb.add(form, e as u32, context, 0);
        }
        if mb.is_empty() {
            return Err("the swap has no terms".into());
        }
        Ok(Swapper {
            groups: self.groups,
            forms: self.forms,
            entries: self.entries,
            matcher: mb.build()?,
        })
    }
}

/// `word` in the case of `original`: UPPER when every letter of a word of two or more letters
/// is upper case, Title when it starts with a capital (each word, for multi-word forms), as
/// written otherwise.
pub fn match_case(original: &str, word: &str) -> String {
    let letters = original.chars().filter(|c| c.is_alphabetic()).count();
    if letters >= 2 && !original.chars().any(char::is_lowercase) {
        return word.to_uppercase();
    }
    if original.chars().next().is_some_and(char::is_uppercase) {
        let every_word = original
            .split([' ', '-'])
            .all(|w| w.chars().next().is_none_or(char::is_uppercase));
        return if every_word {
            title_case(word)
        } else {
            capitalize(word)
        };
    }
    word.to_owned()
}

fn capitalize(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = c == ' ' || c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swap(text: &str) -> String {
        let s = Swapper::gender(GENDER_CLASSES, false).unwrap();
        let m = Mapping(vec![Some(MALE), Some(FEMALE)]);
        s.rewrite(text, &m).map_or(text.to_owned(), |(t, _)| t)
    }

    #[test]
    fn pronouns_swap_with_case_punctuation_and_contractions() {
        assert_eq!(
            swap("He's here; SHE/he said (him)"),
            "She's here; HE/she said (her)"
        );
        assert_eq!(
            swap("She’s his. He hurt himself."),
            "He’s hers. She hurt herself."
        );
    }

    #[test]
    fn her_becomes_him_or_his_by_role() {
        assert_eq!(swap("I saw her."), "I saw him.");
        assert_eq!(swap("I saw her mother."), "I saw his father.");
        assert_eq!(swap("He gave her a book"), "She gave him a book");
        assert_eq!(swap("Her own book, not hers."), "His own book, not his.");
        assert_eq!(
            swap("The book is his, and his car too."),
            "The book is hers, and her car too."
        );
    }

    #[test]
    fn nouns_titles_and_multi_word_forms_keep_their_case() {
        assert_eq!(
            swap("The Actress met Mr. Smith's WIFE and her twin brother."),
            "The Actor met Ms. Smith's HUSBAND and his twin sister."
        );
        assert_eq!(
            swap("Mrs. Jones, the chairwoman"),
            "Mr. Jones, the chairman"
        );
        assert_eq!(swap("mother-in-law"), "father-in-law");
    }

    #[test]
    fn edits_record_offsets_and_words() {
        let s = Swapper::gender(GENDER_CLASSES, false).unwrap();
        let m = Mapping(vec![Some(MALE), None]); // female terms only
        let (t, edits) = s.rewrite("she and he", &m).unwrap();
        assert_eq!(t, "he and he");
        assert_eq!(
            edits,
            [Edit {
                start: 0,
                end: 3,
                original: "she".into(),
                replacement: "he".into()
            }]
        );
    }

    #[test]
    fn names_are_paired_and_only_swapped_when_capitalised() {
        let s = Swapper::gender(&["pronouns"], true).unwrap();
        let m = Mapping(vec![Some(MALE), Some(FEMALE)]);
        let (t, _) = s.rewrite("Jennifer met Michael; jennifer", &m).unwrap();
        assert_eq!(t, "Michael met Jennifer; jennifer");
    }

    #[test]
    fn term_groups_map_by_position_and_mapping_is_seeded_by_document() {
        let s = Swapper::term_groups(&[
            (
                "christian".into(),
                vec!["church".into(), "Christians".into()],
            ),
            ("muslim".into(), vec!["mosque".into(), "Muslims".into()]),
            ("jewish".into(), vec!["synagogue".into(), "Jews".into()]),
        ])
        .unwrap();
        let all = [true; 3];
        let m = s.mapping(7, "doc-1", &all, &all);
        // A cyclic permutation: nobody keeps their group, no two groups merge.
        let mut targets: Vec<u16> = m.0.iter().map(|t| t.unwrap()).collect();
        assert!(targets.iter().enumerate().all(|(g, &t)| g as u16 != t));
        targets.sort();
        assert_eq!(targets, [0, 1, 2]);
        assert_eq!(m, s.mapping(7, "doc-1", &all, &all));
        let only_to_jewish = s.mapping(7, "doc-1", &[true, true, false], &[false, false, true]);
        assert_eq!(only_to_jewish.0, [Some(2), Some(2), None]);
        let (t, _) = s
            .rewrite("Christians at the Church", &only_to_jewish)
            .unwrap();
        assert_eq!(t, "Jews at the Synagogue");
    }
}
