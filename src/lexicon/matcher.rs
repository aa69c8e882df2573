//! One compiled matcher for every term of every lexicon in a run, shared by all threads.
//!
//! An Aho-Corasick DFA (ASCII case-insensitive, leftmost-longest) finds candidate matches; each
//! candidate is then checked for word boundaries and, for ambiguous terms, for its context rule.
//!
//! When every form starts with a word character (always so for the built-in lexicons), the
//! automaton (a compact contiguous NFA) is walked *anchored*, only from word starts. An
//! unanchored search would instead find `he` inside `the`, reject it on its boundary and restart
//! one byte later, for most words of English. Word starts are found 64 bytes at a time and
//! gathered in batches; a branch-free loop over a batch rejects most words (four in five in
//! English prose) with a bit filter on the first words of the forms ([`FirstWords`]); the words
//! that pass are looked up in a table of first words keyed by their first 8 bytes and length
//! (the whole word, for words of 8 bytes or fewer: no byte comparison), which says whether
//! the word is a one-word form and whether the automaton must be walked for a longer one. Forms
//! that start with punctuation (a user's `#metoo`) need matches anywhere, so such a rule set
//! falls back to an unanchored DFA search.
//! Boundaries are checked by hand rather than with a Unicode-aware regex, which is ten times
//! slower; the rule is:
//!
//! * a character is a *word character* when it is a Unicode letter or digit, `_`, or a
//!   combining mark (so `Renée` written with a combining accent is still one word);
//! * a match must not have a word character immediately before it (if the term starts with a
//!   word character) or immediately after it (if the term ends with one).
//!
//! So `He's`, `(her`, `she/he`, `ex-wife` and `nurses'` match, while `hershey` does not match
//! `her` and `Zoë` does not match `zo`.

use std::collections::HashMap;
use std::mem::MaybeUninit;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind};

use super::ContextRule;
use super::context::{AgeRule, Miss, PersonWords, Why, WordContext};
pub use super::words::is_word_char;
use super::words::{ASCII_WORD, length_tag, word_key};

/// A term found in a text: byte offsets, the term it is a form of, and why it counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    pub term: u32,
    pub why: Why,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    term: u32,
    context: Option<u32>,
    /// The lexicon layer (axis) of the term: longest-match competition happens within a layer.
    layer: u32,
    /// For a term embedded in a longer form of another layer: its byte span in that form.
    span: Option<(u16, u16)>,
    /// The form is an inflection of the term (its plural), not the term as written.
    inflected: bool,
}

/// A [`Target`] as matching needs it: 12 bytes.
#[derive(Debug, Clone, Copy)]
struct Emit {
    term: u32,
    /// The context rule's id, or [`NONE`]; [`INFLECTED`] set for an inflected form.
    context: u32,
    /// For a term embedded in a longer form: its byte span in the form; `(0, 0)` otherwise.
    span: (u16, u16),
}

/// The bit of [`Emit::context`] that marks an inflected form.
const INFLECTED: u32 = 1 << 31;

impl Emit {
    fn new(t: &Target) -> Self {
        Emit {
            term: t.term,
            context: t.context.unwrap_or(NONE) | if t.inflected { INFLECTED } else { 0 },
            span: t.span.unwrap_or((0, 0)),
        }
    }
}

/// Receives a matcher's hits: every hit that counted, and in explanation mode
/// ([`Matcher::explain`]) also the candidates whose context rule failed.
pub(crate) trait Sink {
    /// Whether candidates that did not count are wanted too.
    const ALL: bool = false;
    fn hit(&mut self, h: Hit);
    /// A candidate (`h`, with its context rule's id) and the verdict of its rule.
    fn traced(&mut self, _h: Hit, _context: Option<u32>, _verdict: Result<Why, Miss>) {}
}

impl<F: FnMut(Hit)> Sink for F {
    #[inline(always)]
    fn hit(&mut self, h: Hit) {
        self(h)
    }
}

/// A [`Sink`] for many texts matched together ([`Matcher::for_each_hit_joined`]): hits come
/// with the index of their text.
pub(crate) trait JoinedSink {
    const ALL: bool = false;
    fn hit(&mut self, k: usize, h: Hit);
    fn traced(&mut self, _k: usize, _h: Hit, _context: Option<u32>, _verdict: Result<Why, Miss>) {}
}

impl<F: FnMut(usize, Hit)> JoinedSink for F {
    #[inline(always)]
    fn hit(&mut self, k: usize, h: Hit) {
        self(k, h)
    }
}

/// The [`Sink`] of text `k` of a [`JoinedSink`].
struct At<'a, J>(&'a mut J, usize);

impl<J: JoinedSink> Sink for At<'_, J> {
    const ALL: bool = J::ALL;
    #[inline(always)]
    fn hit(&mut self, h: Hit) {
        self.0.hit(self.1, h)
    }
    fn traced(&mut self, h: Hit, context: Option<u32>, verdict: Result<Why, Miss>) {
        self.0.traced(self.1, h, context, verdict)
    }
}

/// A candidate match and what its context rule said, for explanations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub start: usize,
    pub end: usize,
    pub term: u32,
    /// Why it counted, or why not.
    pub verdict: Result<Why, Miss>,
    /// What its context rule asks, when it has one.
    pub rule: Option<String>,
    /// The word that satisfied a `person` or `origin` rule, when there is one.
    pub evidence: Option<String>,
}

struct Tracer<'m> {
    matcher: &'m Matcher,
    text: &'m str,
    out: Vec<Candidate>,
}

impl JoinedSink for Tracer<'_> {
    const ALL: bool = true;
    fn hit(&mut self, _k: usize, _h: Hit) {}
    fn traced(&mut self, _k: usize, h: Hit, context: Option<u32>, verdict: Result<Why, Miss>) {
        let rule = context
            .map(|c| self.matcher.contexts[c as usize].describe())
            .filter(|d| !d.is_empty());
        let evidence = match verdict {
            Ok(Why::Attributive) => {
                super::context::attributive(self.text, h.start, h.end, &self.matcher.people, false)
                    .map(|w| format!("before `{}`", w.text))
            }
            Ok(Why::Predicative) => {
                super::context::predicative(self.text, h.start, &self.matcher.people)
                    .map(|w| format!("said of `{}`", w.text))
            }
            Ok(Why::Postnominal) => {
                super::words::word_before(self.text, h.start).map(|w| format!("after `{}`", w.text))
            }
            _ => None,
        };
        self.out.push(Candidate {
            start: h.start,
            end: h.end,
            term: h.term,
            verdict,
            rule,
            evidence,
        });
    }
}

/// A context rule as registered: word conditions, or a numeric age.
#[derive(Debug)]
enum Rule {
    Words(ContextRule),
    Age(AgeRule),
}

/// Collects surface forms before they are compiled into a [`Matcher`].
#[derive(Debug, Default)]
pub struct MatcherBuilder {
    patterns: Vec<String>,
    index: HashMap<String, usize>,
    targets: Vec<Vec<Target>>,
    contexts: Vec<Rule>,
    context_index: HashMap<ContextRule, u32>,
    /// (outer, inner): forms of layer `inner` do not count inside longer forms of `outer`.
    shadowed: Vec<(u32, u32)>,
    people: PersonWords,
}

impl MatcherBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a context rule and returns its id (equal rules share one id).
    pub fn context(&mut self, rule: &ContextRule) -> u32 {
        if let Some(id) = self.context_index.get(rule) {
            return *id;
        }
        let id = self.contexts.len() as u32;
        self.contexts.push(Rule::Words(rule.clone()));
        self.context_index.insert(rule.clone(), id);
        id
    }

    /// Matches the lower-case `form` (and its other cases) as `term` of `layer` (its axis),
    /// under `context` if given.
    ///
    /// Where forms overlap, the longest wins only among forms of the same layer: a multi-word
    /// form of one layer (`young woman`, age) still counts the forms of other layers inside it
    /// (`woman`, gender).
    pub fn add(&mut self, form: &str, term: u32, context: Option<u32>, layer: u32) {
        self.add_form(form, term, context, layer, false);
    }

    /// [`Self::add`] for a form that is an inflection of its term (a plural: `americans` of
    /// `american`), which `person` rules read as a noun for people.
    pub fn add_form(
        &mut self,
        form: &str,
        term: u32,
        context: Option<u32>,
        layer: u32,
        inflected: bool,
    ) {
        let target = Target {
            term,
            context,
            layer,
            span: None,
            inflected,
        };
        for variant in case_variants(form) {
            let id = *self.index.entry(variant.clone()).or_insert_with(|| {
                self.patterns.push(variant);
                self.targets.push(Vec::new());
                self.patterns.len() - 1
            });
            if !self.targets[id]
                .iter()
                .any(|t| Target { inflected, ..*t } == target)
            {
                self.targets[id].push(target);
            }
        }
    }

    /// Registers a numeric-age rule and returns its context id, for [`Self::add_form`] of its
    /// anchor forms (the hit's term is chosen by the rule).
    pub fn age_rule(&mut self, rule: AgeRule) -> u32 {
        self.contexts.push(Rule::Age(rule));
        self.contexts.len() as u32 - 1
    }

    /// The nouns and names that `person` context rules look for.
    pub fn people(&mut self, people: PersonWords) {
        self.people = people;
    }

    /// Forms of layer `inner` inside a longer form of layer `outer` are not counted.
    pub fn shadow(&mut self, outer: u32, inner: u32) {
        if !self.shadowed.contains(&(outer, inner)) {
            self.shadowed.push((outer, inner));
        }
    }

    /// Number of distinct patterns so far.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// For every multi-word pattern, the terms of other layers found inside it (on word
    /// boundaries, leftmost-longest within each layer), added as embedded targets.
    fn embed_other_layers(&mut self) {
        let index: HashMap<String, usize> = self
            .patterns
            .iter()
            .enumerate()
            .map(|(i, p)| (p.to_ascii_lowercase(), i))
            .collect();
        for p in 0..self.patterns.len() {
            let lp = self.patterns[p].to_ascii_lowercase();
            if !lp.chars().any(|c| !is_word_char(c)) || lp.len() > u16::MAX as usize {
                continue;
            }
            let own: Vec<u32> = self.targets[p]
                .iter()
                .filter(|t| t.span.is_none())
                .map(|t| t.layer)
                .collect();
            let chars: Vec<(usize, char)> = lp.char_indices().collect();
            let word = |k: usize| chars.get(k).is_some_and(|&(_, c)| is_word_char(c));
            let starts: Vec<usize> = (0..chars.len())
                .filter(|&k| word(k) && (k == 0 || !word(k - 1)))
                .map(|k| chars[k].0)
                .collect();
            let ends: Vec<usize> = (0..chars.len())
                .filter(|&k| word(k) && !word(k + 1))
                .map(|k| chars[k].0 + chars[k].1.len_utf8())
                .collect();
            let mut found: Vec<(u32, usize, usize, Target)> = Vec::new();
            for &i in &starts {
                for &j in ends.iter().filter(|&&j| j > i) {
                    if (i, j) == (0, lp.len()) {
                        continue;
                    }
                    let Some(&q) = index.get(&lp[i..j]) else {
                        continue;
                    };
                    for t in &self.targets[q] {
                        let shadowed = own.iter().any(|&o| self.shadowed.contains(&(o, t.layer)));
                        if t.span.is_none() && !own.contains(&t.layer) && !shadowed {
                            found.push((t.layer, i, j, *t));
                        }
                    }
                }
            }
            found.sort_by_key(|&(layer, i, j, t)| (layer, i, std::cmp::Reverse(j), t.term));
            let mut last: Option<(u32, usize, usize)> = None;
            for (layer, i, j, t) in found {
                match last {
                    Some((l, li, end)) if l == layer && (i < end && (i, j) != (li, end)) => {
                        continue;
                    }
                    _ => {}
                }
                last = Some((layer, i, j));
                let embedded = Target {
                    span: Some((i as u16, j as u16)),
                    ..t
                };
                if !self.targets[p].contains(&embedded) {
                    self.targets[p].push(embedded);
                }
            }
        }
    }

    /// Compiles the DFA.
    pub fn build(mut self) -> Result<Matcher, String> {
        self.embed_other_layers();
        let err = |e: aho_corasick::BuildError| format!("cannot compile the lexicon matcher: {e}");
        if self.patterns.len() >= NONE as usize {
            return Err(format!(
                "cannot compile the lexicon matcher: {} surface forms, more than {}",
                self.patterns.len(),
                NONE - 1
            ));
        }
        let at_word_starts = self
            .patterns
            .iter()
            .all(|p| p.chars().next().is_some_and(is_word_char));
        let search = if at_word_starts {
            let nfa = NFA::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(true)
                .build(&self.patterns)
                .map_err(err)?;
            let start = nfa
                .start_state(Anchored::Yes)
                .map_err(|e| format!("cannot compile the lexicon matcher: {e}"))?;
            let first = FirstWords::new(&self.patterns, &nfa, start);
            Search::WordStarts(Box::new(WordStarts { nfa, start, first }))
        } else {
            let ac = AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(true)
                .build(&self.patterns)
                .map_err(err)?;
            Search::Anywhere(ac)
        };
        let multiword: Vec<bool> = self
            .patterns
            .iter()
            .map(|p| p.chars().any(|c| !is_word_char(c)))
            .collect();
        let edges = self
            .patterns
            .iter()
            .map(|p| {
                let first = p.chars().next().is_some_and(is_word_char);
                let last = p.chars().next_back().is_some_and(is_word_char);
                (first, last)
            })
            .collect();
        // Lower-cased patterns with an inner boundary, to find a shorter match when a longer one
        // fails its right boundary ("a b" inside "a b cx" when "a b c" is also a term).
        let prefixes = self
            .patterns
            .iter()
            .enumerate()
            .map(|(i, p)| (p.to_ascii_lowercase(), i))
            .collect();
        Ok(Matcher {
            search,
            emits: self.targets.iter().flatten().map(Emit::new).collect(),
            emit_ranges: std::iter::once(0)
                .chain(self.targets.iter().scan(0, |end, t| {
                    *end += t.len() as u32;
                    Some(*end)
                }))
                .collect(),
            contexts: self
                .contexts
                .into_iter()
                .map(|r| match r {
                    Rule::Words(w) => WordContext::new(&w),
                    Rule::Age(a) => WordContext::age(a),
                })
                .collect(),
            people: self.people,
            edges,
            multiword,
            prefixes,
            patterns: self.patterns,
        })
    }
}

/// How candidates are found (see the module documentation).
#[derive(Debug)]
enum Search {
    /// An automaton walked from word starts, behind a filter on first words.
    WordStarts(Box<WordStarts>),
    /// An unanchored search, for rule sets with forms that start with a non-word character.
    Anywhere(AhoCorasick),
}

#[derive(Debug)]
struct WordStarts {
    nfa: NFA,
    start: StateID,
    first: FirstWords,
}

/// What the first word of each form is, so that most words of a text are rejected without
/// walking the automaton: a word is looked up by a key made of its first 8 bytes (ASCII lower
/// case) and its length, which is the whole word when it has 8 bytes or fewer.
#[derive(Debug)]
struct FirstWords {
    /// A bit per hashed key of every form's first word (ASCII forms): 32 KB, for the first
    /// look at every word.
    any: Box<[u64]>,
    /// Every form's first word by key (open addressing, at most half full).
    table: Box<[FirstWord]>,
    /// A bit per hashed (first word, separator, second word) of the longer forms (`the`, ` `,
    /// `bahamas`): a first word such as `the` or `of` is walked only when the word after it
    /// may continue a form.
    pairs: Box<[u64]>,
    /// One-word forms longer than 8 bytes (their keys do not tell them apart): key, bytes and
    /// pattern id, grouped by key.
    long_single: Vec<(u64, Box<[u8]>, u32)>,
}

/// A one-word form (its bytes) and its pattern id.
type SingleForm = (Box<[u8]>, u32);

/// A first word of some form (see [`FirstWords::table`]).
#[derive(Debug, Clone, Copy, Default)]
struct FirstWord {
    /// 0 for an empty slot (no word has key 0).
    key: u64,
    /// Low [`ID_BITS`] bits: the one-word form's pattern id ([`NONE`] if no form is this
    /// word alone), or for a word longer than 8 bytes the first of its forms in
    /// `long_single`; above them the flags [`LONGER`], [`ALWAYS`] and [`LONG_SINGLE`]. (Packed
    /// so that an entry takes 16 bytes.)
    packed: u32,
    /// For a first word of longer forms: the automaton's state after it, where their walk
    /// starts.
    after: StateID,
}

/// Bits of a pattern id in [`FirstWord::packed`]: fewer than 16,777,215 forms in a matcher.
const ID_BITS: u32 = 24;
const NONE: u32 = (1 << ID_BITS) - 1;
/// Longer forms start with this word (`african` of `african american`, `mr` of `mr.`).
const LONGER: u32 = 1 << ID_BITS;
/// Some longer form has no ASCII second word (`mr.`, `o'` + a non-ASCII word): walk whatever
/// follows.
const ALWAYS: u32 = 2 << ID_BITS;
/// The id indexes `long_single`.
const LONG_SINGLE: u32 = 4 << ID_BITS;

impl FirstWord {
    fn id(&self) -> u32 {
        self.packed & NONE
    }

    fn has(&self, flag: u32) -> bool {
        self.packed & flag != 0
    }
}

const FILTER_BITS: u32 = 18;

/// Word runs filtered at once (see [`Matcher::hits_at_word_starts`]); at most 255 with the
/// 64 that one block may add.
const BATCH: usize = 128;

/// Where the matcher is in a run of joined texts (see [`Matcher::for_each_hit_joined`]).
struct Texts<'a> {
    joined: &'a str,
    ends: &'a [usize],
    /// The current text, `joined[base..ends[k]]`.
    k: usize,
    base: usize,
    text: &'a str,
    /// No match may start before `resume` (the end of the last match), in the current text.
    resume: usize,
}

impl<'a> Texts<'a> {
    /// Makes the text holding byte `s` of `joined` current.
    #[inline]
    fn seek(&mut self, s: usize) {
        if s >= self.ends[self.k] {
            while self.ends[self.k] <= s {
                self.k += 1;
            }
            self.base = self.ends[self.k - 1];
            self.text = &self.joined[self.base..self.ends[self.k]];
            self.resume = 0;
        }
    }
}

impl FirstWords {
    fn new(patterns: &[String], nfa: &NFA, start: StateID) -> Self {
        let words = 1usize << (FILTER_BITS - 6);
        let mut any = vec![0u64; words].into_boxed_slice();
        let mut pairs = vec![0u64; words].into_boxed_slice();
        let mut entries: HashMap<u64, FirstWord> = HashMap::new();
        let mut long: HashMap<u64, Vec<SingleForm>> = HashMap::new();
        for (p, form) in patterns.iter().enumerate() {
            let first = form
                .char_indices()
                .find(|&(_, c)| !is_word_char(c))
                .map_or(form.len(), |(i, _)| i);
            let Some(key) = word_key(form.as_bytes(), 0, first) else {
                continue; // reached by the exact path only (non-ASCII first word)
            };
            set_bit(&mut any, bucket(key));
            let entry = entries.entry(key).or_insert(FirstWord {
                key,
                packed: NONE,
                after: start,
            });
            if first == form.len() {
                if first <= 8 {
                    // Equal keys: the same word up to ASCII case (a case variant).
                    if entry.id() == NONE {
                        entry.packed = entry.packed & !NONE | p as u32;
                    }
                } else {
                    let forms = long.entry(key).or_default();
                    if !forms
                        .iter()
                        .any(|(f, _)| f.eq_ignore_ascii_case(form.as_bytes()))
                    {
                        forms.push((form.as_bytes().into(), p as u32));
                    }
                }
            } else {
                if !entry.has(LONGER) && first <= 8 {
                    entry.after = form.as_bytes()[..first]
                        .iter()
                        .fold(start, |sid, &b| nfa.next_state(Anchored::Yes, sid, b));
                }
                entry.packed |= LONGER;
                let sep = form.as_bytes()[first];
                let rest = first + form[first..].chars().next().map_or(1, char::len_utf8);
                let second_end = form[rest..]
                    .char_indices()
                    .find(|&(_, c)| !is_word_char(c))
                    .map_or(form.len(), |(i, _)| rest + i);
                match word_key(form.as_bytes(), rest, second_end) {
                    Some(k2) if second_end > rest => {
                        set_bit(&mut pairs, bucket(pair_key(key, sep, k2)))
                    }
                    _ => entry.packed |= ALWAYS,
                }
            }
        }
        let mut long_single = Vec::new();
        let mut keys: Vec<u64> = long.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let forms = long.remove(&key).expect("a key of `long`");
            let entry = entries.get_mut(&key).expect("every key has an entry");
            entry.packed = entry.packed & !NONE | LONG_SINGLE | long_single.len() as u32;
            long_single.extend(forms.into_iter().map(|(f, p)| (key, f, p)));
        }
        let size = (entries.len() * 2).next_power_of_two().max(16);
        let mut table = vec![FirstWord::default(); size].into_boxed_slice();
        let mut sorted: Vec<FirstWord> = entries.into_values().collect();
        sorted.sort_unstable_by_key(|e| e.key);
        for e in sorted {
            let mut i = slot(e.key, size);
            while table[i].key != 0 {
                i = (i + 1) & (size - 1);
            }
            table[i] = e;
        }
        FirstWords {
            any,
            table,
            pairs,
            long_single,
        }
    }

    /// The entry of the word with key `key`, if it is the first word of some form.
    #[inline]
    fn get(&self, key: u64) -> Option<&FirstWord> {
        let mask = self.table.len() - 1;
        let mut i = slot(key, self.table.len());
        loop {
            let e = &self.table[i];
            if e.key == key {
                return Some(e);
            }
            if e.key == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// The pattern id of the one-word form `word` with entry `e`, if there is one.
    #[inline]
    fn single(&self, e: &FirstWord, word: &[u8]) -> Option<u32> {
        if !e.has(LONG_SINGLE) {
            return (e.id() != NONE).then_some(e.id());
        }
        self.long_single[e.id() as usize..]
            .iter()
            .take_while(|(key, _, _)| *key == e.key)
            .find(|(_, form, _)| form.eq_ignore_ascii_case(word))
            .map(|&(_, _, p)| p)
    }

    /// Whether a longer form may start with the first word `bytes[..e]` (key `key`, entry
    /// `fw`), given the key of the next run (`next`: its start and key, 0 when the run could
    /// not be keyed; `None` when not known): its forms are walked whatever follows, or the
    /// separator and word after it are those of some form. A necessary condition only: the
    /// walk decides.
    #[inline]
    fn may_continue(
        &self,
        bytes: &[u8],
        fw: &FirstWord,
        e: usize,
        next: Option<(usize, u64)>,
    ) -> bool {
        if fw.has(ALWAYS) {
            return true;
        }
        let Some(&sep) = bytes.get(e) else {
            return false;
        };
        let start = e + utf8_len(sep);
        let k2 = match next {
            Some((s, _)) if s != start => return false,
            Some((_, 0)) => return true, // a non-ASCII or long word: let the walk decide
            Some((_, k2)) => k2,
            None => {
                let mut end = start;
                while end < bytes.len() {
                    let c = bytes[end];
                    if c >= 0x80 {
                        return true;
                    }
                    if !ASCII_WORD[c as usize] {
                        break;
                    }
                    end += 1;
                }
                if end == start {
                    return false;
                }
                match word_key(bytes, start, end) {
                    Some(k2) => k2,
                    None => return true,
                }
            }
        };
        test_bit(&self.pairs, bucket(pair_key(fw.key, sep, k2)))
    }

    fn memory_usage(&self) -> usize {
        (self.any.len() + self.pairs.len()) * 8
            + self.table.len() * std::mem::size_of::<FirstWord>()
            + self
                .long_single
                .iter()
                .map(|(_, f, _)| f.len() + 32)
                .sum::<usize>()
    }
}

#[inline]
fn slot(key: u64, size: usize) -> usize {
    (key.wrapping_mul(0xff51_afd7_ed55_8ccd) >> 32) as usize & (size - 1)
}

fn set_bit(bits: &mut [u64], b: usize) {
    bits[b >> 6] |= 1 << (b & 63);
}

/// [`word_key`] of a run of at most 16 bytes without a branch on its bytes; 0 when the run
/// has a non-ASCII byte or is longer.
#[inline(always)]
fn quick_key(bytes: &[u8], s: usize, e: usize) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let n = e - s;
    let v0 = load8(bytes, s) & (u64::MAX >> ((8 - n.min(8)) * 8));
    let n1 = n.saturating_sub(8).min(8);
    let v1 = load8(bytes, s + 8) & u64::MAX.checked_shr(((8 - n1) * 8) as u32).unwrap_or(0);
    if (v0 | v1) & HIGH != 0 || n > 16 {
        return 0;
    }
    let ge_a = v0 + 0x3f3f_3f3f_3f3f_3f3f;
    let gt_z = v0 + 0x2525_2525_2525_2525;
    let upper = ge_a & !gt_z & HIGH;
    (v0 | (upper >> 2)) ^ length_tag(n)
}

/// The 8 bytes of `bytes` from `s` (zeros past the end).
#[inline(always)]
fn load8(bytes: &[u8], s: usize) -> u64 {
    match bytes.get(s..s + 8) {
        Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
        // Near the end: the text's last 8 bytes, shifted (no copy).
        None if bytes.len() >= 8 && s < bytes.len() => {
            let last = &bytes[bytes.len() - 8..];
            u64::from_le_bytes(last.try_into().expect("8 bytes")) >> ((s + 8 - bytes.len()) * 8)
        }
        None => bytes
            .get(s..)
            .unwrap_or(&[])
            .iter()
            .rev()
            .fold(0, |v, &b| v << 8 | b as u64),
    }
}

/// The key of a first word, the first byte of the separator after it and the second word.
#[inline]
fn pair_key(first: u64, sep: u8, second: u64) -> u64 {
    first.rotate_left(23) ^ second.wrapping_mul(0xff51_afd7_ed55_8ccd) ^ (sep as u64) << 7
}

/// The length of the UTF-8 character that starts with byte `b` (1 for a stray continuation
/// byte, which a `str` never starts a character with).
#[inline]
fn utf8_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[inline]
fn bucket(key: u64) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - FILTER_BITS)) as usize
}

#[inline]
fn test_bit(bits: &[u64], b: usize) -> bool {
    bits[b >> 6] >> (b & 63) & 1 == 1
}

/// Writes `o` + the position of every set bit of `bits` to `out[at..]`, in order; returns the
/// new length. The first 16 are written whether or not they exist (a branch per block instead
/// of per bit; `out` has room), so only the count tells which are real.
#[inline(always)]
fn flatten(
    out: &mut [MaybeUninit<usize>; BATCH + 64],
    at: usize,
    o: usize,
    mut bits: u64,
) -> usize {
    let count = bits.count_ones() as usize;
    let (first, rest) = out[at..].split_at_mut(16);
    for slot in first {
        slot.write(o + bits.trailing_zeros() as usize);
        bits &= bits.wrapping_sub(1);
    }
    for slot in rest.iter_mut().take(count.saturating_sub(16)) {
        slot.write(o + bits.trailing_zeros() as usize);
        bits &= bits - 1;
    }
    at + count
}

/// The first `n` elements of `a`, all written.
#[inline(always)]
fn written<T: Copy>(a: &[MaybeUninit<T>], n: usize) -> &[T] {
    let a = &a[..n];
    // SAFETY: callers write `a[..n]` before they call this; `MaybeUninit<T>` has the layout of `T`.
    unsafe { std::slice::from_raw_parts(a.as_ptr().cast::<T>(), n) }
}

/// Bytes that can be part of a word: ASCII letters, digits and `_`, and every non-ASCII byte
/// (whether a non-ASCII character is a word character is decided by [`Matcher::exact`]).
#[cfg(any(test, not(target_arch = "x86_64")))]
static RUN_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = (b >= 0x80 || c.is_ascii_alphanumeric() || c == b'_') as u8;
        b += 1;
    }
    t
};

/// A bit per byte of `block` (at most 64 bytes): set for the bytes of [`RUN_BYTE`].
#[inline]
fn run_mask(block: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if let Ok(full) = <&[u8; 64]>::try_from(block) {
        return run_mask_sse2(full);
    }
    #[cfg(target_arch = "x86_64")]
    {
        // A short text: padded with zeros, which are not word bytes.
        let mut full = [0u8; 64];
        full[..block.len()].copy_from_slice(block);
        run_mask_sse2(&full)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut m = 0u64;
        for (j, &b) in block.iter().enumerate() {
            m |= (RUN_BYTE[b as usize] as u64) << j;
        }
        m
    }
}

/// [`run_mask`] of 64 bytes, 16 at a time: letters (ASCII `| 0x20` in `a..=z`), digits, `_`,
/// and every byte >= 0x80.
#[cfg(target_arch = "x86_64")]
#[inline]
fn run_mask_sse2(block: &[u8; 64]) -> u64 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline, and each load reads 16 of the 64 bytes.
    unsafe {
        let zero = _mm_setzero_si128();
        // Bytes `x` with `x - lo` (wrapping) <= `span`.
        let within = |x: __m128i, lo: u8, span: u8| {
            let d = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
            _mm_cmpeq_epi8(_mm_subs_epu8(d, _mm_set1_epi8(span as i8)), zero)
        };
        let mut m = 0u64;
        for k in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
            let letter = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', 25);
            let digit = within(v, b'0', 9);
            let under = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'_' as i8));
            let word = _mm_or_si128(_mm_or_si128(letter, digit), under);
            let bits = (_mm_movemask_epi8(word) | _mm_movemask_epi8(v)) as u32 & 0xffff;
            m |= (bits as u64) << (16 * k);
        }
        m
    }
}

/// The compiled matcher. Cheap to share (`Arc`) across threads; matching allocates nothing.
#[derive(Debug)]
pub struct Matcher {
    search: Search,
    /// What each pattern reports, pattern after pattern: pattern `p`'s are
    /// `emits[emit_ranges[p]..emit_ranges[p + 1]]`.
    emits: Vec<Emit>,
    emit_ranges: Vec<u32>,
    contexts: Vec<WordContext>,
    people: PersonWords,
    /// Whether each pattern starts / ends with a word character (needs a boundary there).
    edges: Vec<(bool, bool)>,
    multiword: Vec<bool>,
    prefixes: HashMap<String, usize>,
    patterns: Vec<String>,
}

impl Matcher {
    /// Number of distinct surface forms compiled.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// The compiled surface forms, in pattern order.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Bytes of heap used by the automaton.
    pub fn memory_usage(&self) -> usize {
        let search = match &self.search {
            Search::WordStarts(w) => w.nfa.memory_usage() + w.first.memory_usage(),
            Search::Anywhere(ac) => ac.memory_usage(),
        };
        search + self.people.memory_usage()
    }

    /// Calls `f` for every term occurrence in `text`, left to right. A surface form shared by
    /// terms of several lexicons gives one hit per term.
    pub fn for_each_hit(&self, text: &str, mut f: impl FnMut(Hit)) {
        match &self.search {
            Search::WordStarts(w) => {
                self.hits_at_word_starts::<false>(w, text, &[text.len()], &mut |_, h| f(h))
            }
            Search::Anywhere(ac) => self.hits_anywhere(ac, text, &mut f),
        }
    }

    /// [`Self::for_each_hit`] for many texts stored back to back, as in the value buffer of an
    /// Arrow string array: text `k` is `joined[ends[k - 1]..ends[k]]` (from 0 for the first),
    /// and `f` gets `k` and the hit with offsets in text `k`. Hits are exactly those of each
    /// text on its own (no match spans two texts), but short texts are matched much faster
    /// together: their words are gathered and filtered in the same batches.
    ///
    /// # Panics
    /// When `ends` is not non-decreasing, does not end at `joined.len()`, or splits a
    /// character.
    pub fn for_each_hit_joined(&self, joined: &str, ends: &[usize], mut f: impl FnMut(usize, Hit)) {
        assert_eq!(
            ends.last().copied().unwrap_or(0),
            joined.len(),
            "the texts' ends must cover the joined text"
        );
        match &self.search {
            Search::WordStarts(w) => self.hits_at_word_starts::<true>(w, joined, ends, &mut f),
            Search::Anywhere(ac) => {
                let mut start = 0;
                for (k, &end) in ends.iter().enumerate() {
                    self.hits_anywhere(ac, &joined[start..end], &mut |h| f(k, h));
                    start = end;
                }
            }
        }
    }

    /// One pass over `joined`: at each word start, the longest form that starts there and
    /// ends in the same text.
    ///
    /// Runs of word bytes are found 64 bytes at a time and gathered in batches of about
    /// [`BATCH`] words; a run also ends where a text ends. Each batch is filtered in one
    /// branch-free loop: an ASCII run is one word, looked up in the [`FirstWords`] filter by
    /// its key; the words that pass (about one in five in English prose), and the runs with
    /// non-ASCII bytes (accents, curly quotes, dashes; they go through [`Self::exact`]), are
    /// then handled in order by [`Self::candidate`], in their own text. Filtering a batch at
    /// once keeps the filter's misses from stalling on every word and takes the rejection
    /// branch out of the loop. `MANY`: whether `ends` may hold more than one text.
    fn hits_at_word_starts<const MANY: bool>(
        &self,
        w: &WordStarts,
        joined: &str,
        ends: &[usize],
        f: &mut impl JoinedSink,
    ) {
        let bytes = joined.as_bytes();
        let n = bytes.len();
        // Where texts start, past the first.
        let inner = &ends[..ends.len().saturating_sub(1)];
        let mut next_inner = 0;
        let mut texts = Texts {
            joined,
            ends,
            k: 0,
            base: 0,
            text: &joined[..ends.first().copied().unwrap_or(0)],
            resume: 0,
        };
        // Word runs: `starts[i]..run_ends[i]`; `starts` may hold one more (a run still open).
        // Not zeroed: most texts are short, and a batch only reads what was written.
        let mut starts = [MaybeUninit::<usize>::uninit(); BATCH + 64];
        let mut run_ends = [MaybeUninit::<usize>::uninit(); BATCH + 64];
        let (mut ns, mut ne) = (0, 0);
        let mut prev = 0u64;
        let mut o = 0;
        while o < n {
            let block = &bytes[o..(o + 64).min(n)];
            let m = if block.len() == 64 || n < 64 {
                run_mask(block)
            } else {
                // The last, partial block: the text's last 64 bytes, shifted.
                run_mask(&bytes[n - 64..]) >> (64 - block.len())
            };
            // Texts starting in this block: a run may not continue across.
            let mut split = 0u64;
            while MANY && next_inner < inner.len() && inner[next_inner] < o + 64 {
                split |= 1 << (inner[next_inner] - o);
                next_inner += 1;
            }
            let shifted = (m << 1) | prev;
            let valid = if block.len() == 64 {
                u64::MAX
            } else {
                (1u64 << block.len()) - 1
            };
            let s = m & (!shifted | split);
            let e = shifted & (!m | split) & valid;
            ns = flatten(&mut starts, ns, o, s);
            ne = flatten(&mut run_ends, ne, o, e);
            prev = (m >> (block.len() - 1)) & 1;
            o += 64;
            if ne >= BATCH {
                self.batch::<MANY>(
                    w,
                    written(&starts, ne),
                    written(&run_ends, ne),
                    &mut texts,
                    f,
                );
                starts[0] = starts[ne];
                ns -= ne;
                ne = 0;
            }
        }
        if prev == 1 {
            run_ends[ne].write(n);
            ne += 1;
        }
        self.batch::<MANY>(
            w,
            written(&starts, ne),
            written(&run_ends, ne),
            &mut texts,
            f,
        );
    }

    /// The word runs `starts[i]..ends[i]` of the joined texts, in order (see
    /// [`Self::hits_at_word_starts`]).
    #[inline]
    fn batch<const MANY: bool>(
        &self,
        w: &WordStarts,
        starts: &[usize],
        ends: &[usize],
        texts: &mut Texts,
        f: &mut impl JoinedSink,
    ) {
        let bytes = texts.joined.as_bytes();
        let mut keys = [MaybeUninit::<u64>::uninit(); BATCH + 64];
        let mut picked = [MaybeUninit::<u8>::uninit(); BATCH + 64];
        let mut np = 0;
        for (i, (&s, &e)) in starts.iter().zip(ends).enumerate() {
            // Key 0 (never a word's key): the run needs the slow path.
            let key = quick_key(bytes, s, e);
            let pass = key == 0 || test_bit(&w.first.any, bucket(key));
            keys[i].write(key);
            picked[np].write(i as u8);
            np += pass as usize;
        }
        let keys = written(&keys, starts.len());
        for &i in written(&picked, np) {
            let i = i as usize;
            if MANY {
                texts.seek(starts[i]);
            }
            let (k, base, text) = (texts.k, texts.base, texts.text);
            let next = (i + 1 < starts.len() && (!MANY || starts[i + 1] < base + text.len()))
                .then(|| (starts[i + 1] - base, keys[i + 1]));
            self.candidate(
                w,
                text,
                (starts[i] - base, ends[i] - base),
                keys[i],
                next,
                &mut texts.resume,
                &mut At(f, k),
            );
        }
    }

    /// A run `s..e` that passed the filter (`key` != 0) or that the filter could not judge
    /// (`key` == 0: non-ASCII bytes, or longer than 16 bytes); `next`: the start and key of
    /// the next run, when known.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn candidate(
        &self,
        w: &WordStarts,
        text: &str,
        (s, e): (usize, usize),
        key: u64,
        next: Option<(usize, u64)>,
        resume: &mut usize,
        f: &mut impl Sink,
    ) {
        if s < *resume {
            // Inside the last match; a run can straddle its end only with non-ASCII bytes.
            if e > *resume {
                self.exact(w, text, *resume, e, resume, f);
            }
            return;
        }
        let bytes = text.as_bytes();
        let key = if key != 0 {
            key
        } else {
            match word_key(bytes, s, e) {
                None => return self.exact(w, text, s, e, resume, f),
                Some(k) => k,
            }
        };
        let Some(fw) = w.first.get(key) else {
            return;
        };
        if fw.has(LONGER) && w.first.may_continue(bytes, fw, e, next) {
            // A word of 8 bytes or fewer is the entry's word: the walk starts after it, with
            // its one-word form (if any) found. (Longer words share keys.)
            let walked = if e - s <= 8 {
                let single = w.first.single(fw, &bytes[s..e]).map(|p| (p as usize, e));
                self.walk_from(w, text, s, (fw.after, e), single)
            } else {
                self.walk(w, text, s)
            };
            if let Some((p, end)) = walked {
                self.emit(text, s, end, p, f);
                *resume = end;
            }
            return;
        }
        if let Some(p) = w.first.single(fw, &bytes[s..e]) {
            self.emit(text, s, e, p as usize, f);
            *resume = e;
        }
    }

    /// Every word start of `text[from..to]`, character by character, each walked.
    fn exact(
        &self,
        w: &WordStarts,
        text: &str,
        from: usize,
        to: usize,
        resume: &mut usize,
        f: &mut impl Sink,
    ) {
        let bytes = text.as_bytes();
        let mut i = from;
        // Whether the character before `i` is a word character.
        let mut in_word = !boundary_before(text, i);
        while i < to {
            let b = bytes[i];
            let (word, len) = if b < 0x80 {
                (ASCII_WORD[b as usize], 1)
            } else {
                let c = text[i..].chars().next().expect("i is a char boundary");
                (is_word_char(c), c.len_utf8())
            };
            if word
                && !in_word
                && let Some((p, e)) = self.walk(w, text, i)
            {
                self.emit(text, i, e, p, f);
                *resume = e;
                i = e;
                in_word = !boundary_before(text, e);
                continue;
            }
            in_word = word;
            i += len;
        }
    }

    /// The anchored leftmost-longest walk from the word start `s`: the longest form starting
    /// there that ends on a boundary (or a shorter multi-word form, see [`Self::shorter_match`]).
    fn walk(&self, w: &WordStarts, text: &str, s: usize) -> Option<(usize, usize)> {
        self.walk_from(w, text, s, (w.start, s), None)
    }

    /// [`Self::walk`] from state `sid` at `at` (the bytes `s..at` walked), with `found` the
    /// longest form found so far.
    fn walk_from(
        &self,
        w: &WordStarts,
        text: &str,
        s: usize,
        (mut sid, mut at): (StateID, usize),
        mut found: Option<(usize, usize)>,
    ) -> Option<(usize, usize)> {
        let bytes = text.as_bytes();
        let nfa = &w.nfa;
        while at < bytes.len() {
            sid = nfa.next_state(Anchored::Yes, sid, bytes[at]);
            at += 1;
            if nfa.is_special(sid) {
                if nfa.is_dead(sid) {
                    break;
                }
                if nfa.is_match(sid) {
                    // A match state also lists the forms that end here but start later
                    // (`he` in the state for `the`); keep the one that starts at `s`.
                    found = (0..nfa.match_len(sid))
                        .map(|k| nfa.match_pattern(sid, k))
                        .find(|&pid| nfa.pattern_len(pid) == at - s)
                        .map(|pid| (pid.as_usize(), at))
                        .or(found);
                }
            }
        }
        let (p, e) = found?;
        if !self.edges[p].1 || boundary_after(text, e) {
            Some((p, e))
        } else if self.multiword[p] {
            self.shorter_match(text, s, e)
        } else {
            None
        }
    }

    /// Unanchored leftmost-longest search, with a restart after each rejected candidate.
    fn hits_anywhere(&self, ac: &AhoCorasick, text: &str, f: &mut impl Sink) {
        let bytes = text.as_bytes();
        let mut pos = 0;
        'outer: while pos < bytes.len() {
            for m in ac.find_iter(Input::new(bytes).span(pos..bytes.len())) {
                let (s, e, p) = (m.start(), m.end(), m.pattern().as_usize());
                let (need_left, need_right) = self.edges[p];
                if need_left && !boundary_before(text, s) {
                    pos = s + 1;
                    continue 'outer;
                }
                if need_right && !boundary_after(text, e) {
                    if self.multiword[p]
                        && let Some((p2, e2)) = self.shorter_match(text, s, e)
                    {
                        self.emit(text, s, e2, p2, f);
                        pos = e2;
                    } else {
                        pos = s + 1;
                    }
                    continue 'outer;
                }
                self.emit(text, s, e, p, f);
            }
            break;
        }
    }

    /// The longest pattern that is a prefix of `text[s..e]` ending at a word boundary.
    #[cold]
    fn shorter_match(&self, text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
        let bytes = text.as_bytes();
        for end in (s + 1..e).rev() {
            if !text.is_char_boundary(end) || !boundary_after(text, end) {
                continue;
            }
            if bytes[end - 1].is_ascii() && !is_word_char(bytes[end - 1] as char) {
                continue;
            }
            let candidate = text[s..end].to_ascii_lowercase();
            if let Some(&p) = self.prefixes.get(&candidate) {
                return Some((p, end));
            }
        }
        None
    }

    #[inline]
    fn emit<S: Sink>(&self, text: &str, s0: usize, e0: usize, p: usize, f: &mut S) {
        let range = self.emit_ranges[p] as usize..self.emit_ranges[p + 1] as usize;
        for t in &self.emits[range] {
            let (s, e) = if t.span.1 == 0 {
                (s0, e0)
            } else {
                (s0 + t.span.0 as usize, s0 + t.span.1 as usize)
            };
            let ctx = t.context & !INFLECTED;
            let verdict = if ctx == NONE {
                Ok((Why::Term, t.term, s))
            } else {
                self.contexts[ctx as usize].check(
                    text,
                    (s, e),
                    t.term,
                    t.context & INFLECTED != 0,
                    &self.people,
                )
            };
            if S::ALL {
                let (term, start) = verdict.map_or((t.term, s), |(_, term, start)| (term, start));
                let h = Hit {
                    start,
                    end: e,
                    term,
                    why: verdict.map_or(Why::Term, |(w, _, _)| w),
                };
                f.traced(h, (ctx != NONE).then_some(ctx), verdict.map(|(w, _, _)| w));
            }
            if let Ok((why, term, start)) = verdict {
                f.hit(Hit {
                    start,
                    end: e,
                    term,
                    why,
                });
            }
        }
    }

    /// Every candidate match of `text` and what its context rule said: the hits that count and
    /// those whose rule failed, in text order (for `debias explain`).
    pub fn explain(&self, text: &str) -> Vec<Candidate> {
        let mut tracer = Tracer {
            matcher: self,
            text,
            out: Vec::new(),
        };
        match &self.search {
            Search::WordStarts(w) => {
                self.hits_at_word_starts::<false>(w, text, &[text.len()], &mut tracer)
            }
            Search::Anywhere(ac) => self.hits_anywhere(ac, text, &mut At(&mut tracer, 0)),
        }
        tracer.out.sort_by_key(|c| (c.start, c.end, c.term));
        tracer.out
    }

    /// The person words of `person` rules.
    pub fn people(&self) -> &PersonWords {
        &self.people
    }
}

/// The lower, Title and UPPER case forms of a form with non-ASCII letters (ASCII case is folded
/// by the automaton itself).
fn case_variants(form: &str) -> Vec<String> {
    let mut v = vec![form.to_owned()];
    if !form.is_ascii() {
        let lower = form.to_lowercase();
        let upper = form.to_uppercase();
        let mut title = String::with_capacity(form.len());
        let mut at_start = true;
        for c in lower.chars() {
            if at_start {
                title.extend(c.to_uppercase());
            } else {
                title.push(c);
            }
            at_start = !is_word_char(c);
        }
        v.extend([lower, upper, title]);
        v.sort();
        v.dedup();
    }
    v
}

#[inline]
fn boundary_before(text: &str, s: usize) -> bool {
    if s == 0 {
        return true;
    }
    let b = text.as_bytes()[s - 1];
    if b.is_ascii() {
        return !(b.is_ascii_alphanumeric() || b == b'_');
    }
    !text[..s].chars().next_back().is_some_and(is_word_char)
}

#[inline]
fn boundary_after(text: &str, e: usize) -> bool {
    let bytes = text.as_bytes();
    if e >= bytes.len() {
        return true;
    }
    let b = bytes[e];
    if b.is_ascii() {
        return !(b.is_ascii_alphanumeric() || b == b'_');
    }
    !text[e..].chars().next().is_some_and(is_word_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(terms: &[&str]) -> Matcher {
        let mut b = MatcherBuilder::new();
        for (i, t) in terms.iter().enumerate() {
            for form in crate::lexicon::surface_forms(t, false) {
                b.add(&form, i as u32, None, 0);
            }
        }
        b.build().unwrap()
    }

    fn found(m: &Matcher, text: &str) -> Vec<String> {
        let mut v = Vec::new();
        m.for_each_hit(text, |h| v.push(text[h.start..h.end].to_owned()));
        v
    }

    #[test]
    fn case_insensitive_with_punctuation_and_contractions() {
        let m = matcher(&["he", "she", "her"]);
        assert_eq!(
            found(&m, "He's here; SHE/he said (her"),
            ["He", "SHE", "he", "her"]
        );
        assert_eq!(found(&m, "She’s"), ["She"]);
    }

    #[test]
    fn no_match_inside_words() {
        let m = matcher(&["her", "man"]);
        assert!(found(&m, "hershey mankind woman other").is_empty());
        assert_eq!(found(&m, "ex-man her_ her2").len(), 1);
    }

    #[test]
    fn boundaries_next_to_non_ascii_characters() {
        let m = matcher(&["rene", "zo", "nurse", "café"]);
        // A letter with an accent is part of the word, precomposed or combining.
        assert!(found(&m, "Renée and Rene\u{301}e and Zoë").is_empty());
        // Curly quotes, dashes and non-breaking spaces are boundaries.
        assert_eq!(
            found(&m, "“nurse”—nurse\u{a0}nurse’s"),
            ["nurse", "nurse", "nurse"]
        );
        // Non-ASCII terms match in lower, Title and UPPER case.
        assert_eq!(found(&m, "Café CAFÉ café"), ["Café", "CAFÉ", "café"]);
        // A word of another script next to the term is a word character too.
        assert!(found(&m, "nurseнь").is_empty());
    }

    #[test]
    fn longest_match_wins_and_shorter_match_is_recovered() {
        let m = matcher(&["african american", "american", "a b", "a b c"]);
        assert_eq!(found(&m, "African-American actor"), ["African-American"]);
        assert_eq!(found(&m, "an American"), ["American"]);
        assert_eq!(found(&m, "x a b cx"), ["a b"]);
    }

    #[test]
    fn failed_left_boundary_does_not_hide_a_later_match() {
        let m = matcher(&["woman", "man"]);
        assert_eq!(found(&m, "superwoman man"), ["man"]);
    }

    #[test]
    fn context_rules() {
        let mut b = MatcherBuilder::new();
        let people = b.context(&ContextRule {
            next_word: vec!["people".into(), "women".into()],
            ..Default::default()
        });
        let cap = b.context(&ContextRule {
            capitalized: true,
            ..Default::default()
        });
        let not_double = b.context(&ContextRule {
            not_prev_word: vec!["double".into()],
            not_next_word: vec!["spot".into()],
            ..Default::default()
        });
        b.add("black", 0, Some(people), 0);
        b.add("polish", 1, Some(cap), 0);
        b.add("blind", 2, Some(not_double), 0);
        let m = b.build().unwrap();
        let hits = |t: &str| {
            let mut v = Vec::new();
            m.for_each_hit(t, |h| v.push(h.term));
            v
        };
        assert_eq!(hits("black cat, Black  women, black-people"), [0, 0]);
        assert_eq!(hits("polish the Polish shoes"), [1]);
        assert_eq!(
            hits("a double-blind study; a blind spot; blind people"),
            [2]
        );
    }

    #[test]
    fn shared_form_hits_every_term() {
        let mut b = MatcherBuilder::new();
        b.add("actress", 0, None, 0);
        b.add("actress", 7, None, 1);
        let m = b.build().unwrap();
        let mut v = Vec::new();
        m.for_each_hit("the actress", |h| v.push(h.term));
        assert_eq!(v, [0, 7]);
    }

    #[test]
    fn longest_match_competes_only_within_a_layer() {
        let mut b = MatcherBuilder::new();
        let terms = [
            ("young woman", 0, 0),            // age
            ("woman", 1, 1),                  // gender
            ("african american", 2, 2),       // race
            ("american", 3, 3),               // nationality
            ("african american woman", 4, 2), // race, longer
        ];
        for (t, id, layer) in terms {
            for form in crate::lexicon::surface_forms(t, false) {
                b.add(&form, id, None, layer);
            }
        }
        let m = b.build().unwrap();
        let mut v = Vec::new();
        let text = "A Young Woman met an African American woman and an African-American.";
        m.for_each_hit(text, |h| v.push((&text[h.start..h.end], h.term)));
        // `woman` inside `young woman` still counts for gender; `american` inside
        // `african american woman` counts for nationality, but once, and not as race again.
        assert_eq!(
            v,
            [
                ("Young Woman", 0),
                ("Woman", 1),
                ("African American woman", 4),
                ("woman", 1),
                ("American", 3),
                ("African-American", 2),
                ("American", 3)
            ]
        );
    }

    #[test]
    fn a_shadowing_layer_hides_the_other_layers_forms_inside_its_own() {
        let mut b = MatcherBuilder::new();
        b.add("chinese american", 0, None, 0); // race
        b.add("chinese", 1, None, 1); // nationality
        b.add("american", 2, None, 1);
        b.shadow(0, 1);
        let m = b.build().unwrap();
        let mut v = Vec::new();
        m.for_each_hit("a Chinese American and a Chinese citizen", |h| {
            v.push(h.term)
        });
        assert_eq!(v, [0, 1]);
    }

    #[test]
    fn run_masks_match_the_byte_table() {
        let all: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        for start in 0..all.len() - 64 {
            for len in [64, 63, 17, 1] {
                let block = &all[start..start + len];
                let mut want = 0u64;
                for (j, &b) in block.iter().enumerate() {
                    want |= (RUN_BYTE[b as usize] as u64) << j;
                }
                assert_eq!(run_mask(block), want, "block at {start}, {len} bytes");
            }
        }
    }

    #[test]
    fn keys_of_words_near_the_end_of_a_text() {
        let text = b"Ab cdefghijklmnopqRS tu";
        for s in 0..text.len() {
            for e in s + 1..=text.len() {
                let slow = word_key(text, s, e).unwrap();
                assert_eq!(
                    load8(text, s).to_le_bytes()[..(text.len() - s).min(8)],
                    text[s..(s + 8).min(text.len())]
                );
                if e - s <= 16 {
                    assert_eq!(quick_key(text, s, e), slow, "{s}..{e}");
                } else {
                    assert_eq!(quick_key(text, s, e), 0);
                }
            }
        }
        // Words of 8 bytes or fewer: the key is the word (in lower case).
        assert_eq!(word_key(b"Merchant", 0, 8), word_key(b"mERCHANT", 0, 8));
        assert_ne!(word_key(b"merchant", 0, 8), word_key(b"merchan", 0, 7));
        assert_ne!(
            word_key(b"merchandises", 0, 12),
            word_key(b"merchant", 0, 8)
        );
        assert_eq!(quick_key("Zoë".as_bytes(), 0, 4), 0);
    }

    #[test]
    fn word_start_search_and_anywhere_search_agree() {
        // A form that starts with punctuation switches the matcher to the unanchored search;
        // both searches must find the same hits for forms that start with a word character.
        let terms = [
            "he",
            "she",
            "her",
            "his",
            "man",
            "woman",
            "young woman",
            "african american",
            "american",
            "a b",
            "a b c",
            "mr.",
            "café",
            "nurse",
            "ex-wife",
            // First words that longer forms continue, with ASCII and non-ASCII second words.
            "the bahamas",
            "person of color",
            "non-binary",
            "new zélande",
            "new york",
            // Keys: 8 bytes and more (no byte check up to 8; `merchandises` and `merchant`
            // share their first 8 bytes but not their keys), over 16 bytes (slow path).
            "merchant",
            "policewoman",
            "anesthesiologist",
            // A first word of more than 8 bytes that shares its key with a one-word form
            // (`policewomen`, the plural of `policewoman`): walked from the start.
            "policewomen officer",
        ];
        let build = |extra: bool| {
            let mut b = MatcherBuilder::new();
            for (i, t) in terms.iter().enumerate() {
                for form in crate::lexicon::surface_forms(t, false) {
                    b.add(&form, i as u32, None, (i % 3) as u32);
                }
            }
            if extra {
                b.add("#metoo", 99, None, 0);
            }
            b.build().unwrap()
        };
        let (fast, slow) = (build(false), build(true));
        assert!(matches!(fast.search, Search::WordStarts { .. }));
        assert!(matches!(slow.search, Search::Anywhere(_)));
        let texts = [
            "He's here; SHE/he said (her) the other hershey Woman, superwoman man",
            "A Young Woman met an African-American and an American x a b cx a b c",
            "the other man, the man, then the mankind; Mr.Smith and mr. Jones; Café CAFÉ café nurse’s nurses ex-wife's ex-wives",
            "Renée Zoë nurseнь «she» — his/hers; mankind 'man' _he he_ he2",
            "the Bahamas, THE BAHAMAS's, the bahamasx the bahama the  bahamas the-bahamas the",
            "a person of color, persons of colour; non-binary nonbinary non binary non-",
            "New Zélande, new zelande, New York’s new yorker new Yorké new",
            "merchandises merchants' MERCHANT policewomen policewoman anesthesiologists ANESTHESIOLOGISTS' anesthesiologistsx",
            "policewoman officer, Policewomen officers; policewomen officer policewomen-officer policewomen",
            "",
            "h",
            "he",
        ];
        // Every text, and all of them joined (three times: more words than a batch of the
        // word-start search) behind 0 to 70 bytes of padding, so that words straddle its
        // 64-byte blocks and its batches at every offset.
        let joined = [texts.join(" "), texts.join(" "), texts.join(" ")].join(" ");
        let shifted =
            (0..70).map(|k| format!("{}{joined}", "ab ".repeat(k / 3) + &"é".repeat(k % 3)));
        for t in texts.iter().map(|t| t.to_string()).chain(shifted) {
            let mut a = Vec::new();
            fast.for_each_hit(&t, |h| a.push(h));
            let mut b = Vec::new();
            slow.for_each_hit(&t, |h| b.push(h));
            assert_eq!(a, b, "{t}");
        }
        let mut v = Vec::new();
        slow.for_each_hit("#MeToo and #metoo, x#metoo", |h| v.push(h.term));
        assert_eq!(v, [99, 99, 99]);

        // Many texts back to back, without separators: each text's hits as on its own. Words
        // and forms are cut where one text ends and the next starts (`the` + ` bahamas` is
        // not `the bahamas`, `poli` + `cewoman` not `policewoman`); the first text pads the
        // others by 0 to 69 bytes, so that the cuts fall everywhere in the 64-byte blocks.
        let pieces = [
            "the",
            " bahamas",
            "a b",
            " c",
            "new",
            " york",
            "poli",
            "cewoman",
            "he",
            "r",
            "é",
            "he",
            "",
            "she",
            "’s",
            "policewomen",
            " officer",
            "x",
            "#metoo",
        ];
        for k in 0..70 {
            let pad = "ab ".repeat(k / 3) + &"é".repeat(k % 3);
            let many: Vec<&str> = std::iter::once(pad.as_str())
                .chain(pieces)
                .chain(texts.iter().copied().cycle().take(3 * texts.len()))
                .chain(pieces)
                .collect();
            let joined = many.concat();
            let ends: Vec<usize> = many
                .iter()
                .scan(0, |end, t| {
                    *end += t.len();
                    Some(*end)
                })
                .collect();
            for m in [&fast, &slow] {
                let mut want = Vec::new();
                for (i, t) in many.iter().enumerate() {
                    m.for_each_hit(t, |h| want.push((i, h)));
                }
                let mut got = Vec::new();
                m.for_each_hit_joined(&joined, &ends, |i, h| got.push((i, h)));
                assert_eq!(got, want, "padding {k}");
            }
        }
        let mut none = 0;
        fast.for_each_hit_joined("", &[], |_, _| none += 1);
        fast.for_each_hit_joined("", &[0, 0], |_, _| none += 1);
        assert_eq!(none, 0);
    }
}
