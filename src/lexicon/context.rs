//! When an ambiguous term counts: the compiled context rules of a matcher, checked for every
//! candidate hit of a term that has one (and only for those).
//!
//! Most rules ask one question: **is the word said of people?** An adjective of an axis (old,
//! black, French, deaf, gay, Christian) counts when it describes a person or a group of people,
//! and a `person` rule says so in three ways (`rules/lexicons/README.md` has the user's view):
//!
//! * **attributive**: before a noun for people, with at most three words between (other
//!   adjectives and nouns, `and`/`or`, commas): "French troops", "a Black husband", "an American
//!   film and television actress", "old dads"; a determiner, preposition, verb or pronoun ends
//!   the search ("the French side of the men" does not count);
//! * **predicative**: after a linking verb whose subject is a person (a pronoun, a noun for
//!   people, a name): "he was so old", "Martha is white", "one of them is Hungarian", "a friend
//!   who's deaf", "she was born deaf", "I love being young";
//! * **nominal**: as a noun for people: a plural or possessive form ("Americans", "the
//!   American's"), or after a determiner with no noun after it ("the elderly", "the French
//!   were", "an American who").
//!
//! The nouns for people come from the rules' person lexicons (`person:`, by default the
//! built-in `person` lexicon, occupations and first names). The grammar words (determiners,
//! linking verbs, adverbs, prepositions) are English and built in below.
//!
//! Other conditions: `origin` (a place people come from: "came from England", "immigrants from
//! Syria", "born in Mexico"), `not_offspring` ("her children" and "they had seven children" are
//! offspring, not an age group), numeric ages (see [`AgeRule`]), and the older word lists
//! (`next_word`, `prev_word` and their negations, `capitalized`).

use std::sync::LazyLock;

use super::ContextRule;
use super::words::{Gap, Word, WordSet, WordTable, adjacent_before, word_after, word_before};
use crate::yaml::{Kind, Node, Reader};

/// How a term must be used to count as said of people (`person:` of a context rule): any of
/// the uses whose bits are set; no bit, no condition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PersonUse(u8);

impl PersonUse {
    pub const ATTRIBUTIVE: PersonUse = PersonUse(1);
    pub const PREDICATIVE: PersonUse = PersonUse(2);
    pub const NOMINAL: PersonUse = PersonUse(4);
    /// Attributive with nothing between the term and the noun ("ace teenagers", "a pan gal"):
    /// for short words with many other senses.
    pub const ADJACENT: PersonUse = PersonUse(8);
    /// Right after a noun for people: phrases that follow the noun they describe ("a girl of
    /// color", "grandpas on the asexual spectrum").
    pub const POSTNOMINAL: PersonUse = PersonUse(16);
    pub const ALL: PersonUse = PersonUse(7);
    const NAMES: [(&'static str, PersonUse); 5] = [
        ("attributive", Self::ATTRIBUTIVE),
        ("predicative", Self::PREDICATIVE),
        ("nominal", Self::NOMINAL),
        ("adjacent", Self::ADJACENT),
        ("postnominal", Self::POSTNOMINAL),
    ];

    /// Whether the rule asks for a person at all.
    pub fn any(self) -> bool {
        self.0 != 0
    }

    pub fn allows(self, u: PersonUse) -> bool {
        self.0 & u.0 != 0
    }

    /// Reads `person: true`, `person: false` or a list of uses (`[attributive, nominal]`).
    pub(crate) fn read(r: &mut Reader<'_>, node: &Node, key: &str) -> PersonUse {
        match &node.kind {
            Kind::Bool(true) => Self::ALL,
            Kind::Bool(false) => PersonUse(0),
            _ => {
                let names: Vec<&str> = Self::NAMES.iter().map(|(n, _)| *n).collect();
                let mut out = PersonUse(0);
                let items: Vec<&Node> = match &node.kind {
                    Kind::Seq(items) => items.iter().collect(),
                    _ => vec![node],
                };
                for item in items {
                    if let Some(name) = r.choice(item, key, &names)
                        && let Some((_, u)) = Self::NAMES.iter().find(|(n, _)| *n == name)
                    {
                        out.0 |= u.0;
                    }
                }
                out
            }
        }
    }

    /// The uses allowed, for messages.
    pub fn describe(self) -> String {
        if self == Self::ALL {
            return "said of people".into();
        }
        let uses: Vec<&str> = Self::NAMES
            .iter()
            .filter(|(_, u)| self.allows(*u))
            .map(|(n, _)| *n)
            .collect();
        format!("said of people ({})", uses.join(" or "))
    }
}

/// Why a hit counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// A term that counts wherever it is found.
    #[default]
    Term,
    /// A term whose context rule held (neighbouring words, capital letter).
    Context,
    /// Before a noun for people ("French troops").
    Attributive,
    /// Said of a person after a linking verb ("he was deaf").
    Predicative,
    /// Used as a noun for people ("the elderly", "Americans").
    Nominal,
    /// After a noun for people ("a girl of color").
    Postnominal,
    /// A place people come from ("came from England").
    Origin,
    /// A numeric age of a person ("a 30-year-old", "aged 15").
    Age,
    /// A regular expression of the rules (`patterns:`).
    Pattern,
}

impl Why {
    pub fn name(self) -> &'static str {
        match self {
            Why::Term => "term",
            Why::Context => "context",
            Why::Attributive => "attributive",
            Why::Predicative => "predicative",
            Why::Nominal => "nominal",
            Why::Postnominal => "postnominal",
            Why::Origin => "origin",
            Why::Age => "age",
            Why::Pattern => "pattern",
        }
    }
}

/// Why a candidate did not count (for explanations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Miss {
    /// Not written with a capital letter.
    NotCapitalized,
    /// The next word is not one of the rule's `next_word`.
    NextWord,
    /// The previous word is not one of the rule's `prev_word`.
    PrevWord,
    /// The next word is one of the rule's `not_next_word`.
    ExcludedNextWord,
    /// The previous word is one of the rule's `not_prev_word`.
    ExcludedPrevWord,
    /// Not said of people.
    NotPerson,
    /// Not a place people come from.
    NotOrigin,
    /// Someone's offspring.
    Offspring,
    /// No age of a person (no number, or not said of people).
    NoAge,
    /// Part of a name ("Soulja Boy", "Betty White").
    Name,
}

impl Miss {
    pub fn describe(self) -> &'static str {
        match self {
            Miss::NotCapitalized => "not capitalised",
            Miss::NextWord => "the next word is not one the rule asks for",
            Miss::PrevWord => "the previous word is not one the rule asks for",
            Miss::ExcludedNextWord => "the next word is excluded by the rule",
            Miss::ExcludedPrevWord => "the previous word is excluded by the rule",
            Miss::NotPerson => "not said of people",
            Miss::NotOrigin => "not a place people come from",
            Miss::Offspring => "someone's offspring",
            Miss::NoAge => "not an age of a person",
            Miss::Name => "part of a name",
        }
    }
}

/// Words for people, from the rules' person lexicons: what `person` rules look for, in one
/// table with the grammar words, so that one lookup classes a word.
#[derive(Debug, Clone)]
pub struct PersonWords {
    table: WordTable,
}

impl Default for PersonWords {
    fn default() -> Self {
        PersonWords::new(Vec::<String>::new(), Vec::new(), Vec::new())
    }
}

impl PersonWords {
    /// `nouns`: surface forms of nouns for people (plurals included); `pronouns`: words that
    /// stand for people; `names`: first names.
    pub fn new<S: AsRef<str>>(
        nouns: impl IntoIterator<Item = S>,
        pronouns: impl IntoIterator<Item = S>,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        let mut table = WordTable::default();
        grammar_words(&mut table);
        for (words, bits) in [
            (
                nouns
                    .into_iter()
                    .map(|w| w.as_ref().to_owned())
                    .collect::<Vec<_>>(),
                class::NOUN,
            ),
            (
                pronouns
                    .into_iter()
                    .map(|w| w.as_ref().to_owned())
                    .collect(),
                class::PRONOUN,
            ),
            (
                names.into_iter().map(|w| w.as_ref().to_owned()).collect(),
                class::NAME,
            ),
        ] {
            for w in words {
                table.insert(&w, bits);
            }
        }
        PersonWords { table }
    }

    /// Adds the nouns that count only at the end of a noun phrase.
    pub fn with_heads<S: AsRef<str>>(mut self, heads: impl IntoIterator<Item = S>) -> Self {
        for w in heads {
            self.table.insert(w.as_ref(), class::HEAD);
        }
        self
    }

    /// Number of words known (grammar words included).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// Whether `w` is a noun for people.
    pub fn is_noun(&self, w: &str) -> bool {
        self.is(w, class::NOUN)
    }

    /// Whether `w` has any of the classes `bits`.
    #[inline]
    fn is(&self, w: &str, bits: u32) -> bool {
        self.table.get(w) & bits != 0
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.table.memory_usage()
    }

    /// Whether `w` (the word before a linking verb, in `text`) names a person.
    fn is_subject(&self, text: &str, w: &Word) -> bool {
        let c = self.table.get(w.text);
        if c & (class::PRONOUN | class::NOUN | class::NAME) != 0 {
            return true;
        }
        // A name: capitalised like a name (Obama, not JavaScript or NASA), not a capitalised
        // function word ("The", "It"), and not the first word of a sentence, where any word is
        // capitalised (unless it is a first name, above).
        let mut chars = w.text.chars();
        let title =
            chars.next().is_some_and(char::is_uppercase) && chars.all(|c| !c.is_uppercase());
        title && c & class::NOT_NAMES == 0 && word_before(text, w.start).is_some()
    }
}

/// Whether `w` is a grammar word of the classes `bits` (for checks without person words).
#[inline]
fn grammar(w: &str, bits: u32) -> bool {
    GRAMMAR.get(w) & bits != 0
}

/// A numeric age and where its number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgeAnchor {
    /// A number before the anchor, in years ("30-year-old", "eighty years old"), said of
    /// people.
    YearsBefore,
    /// A number before the anchor, in months, weeks or days ("a six-month-old"): a child.
    UnderAYear,
    /// "30-something": the number and a few years more.
    Something,
    /// A number after the anchor ("aged 15", "at the age of nine", "ages 18 to 24").
    After,
    /// A decade after a possessive ("in her early 20s", "in his seventies"): its value.
    Decade(u32),
    /// A number alone said of a person: after a name and a comma, before a comma or the end
    /// ("Smith, 30, said"), in brackets after a name ("Smith (30)"), after a linking verb of a
    /// person ("she is 30") or over/of after a noun for people ("a guy of 90"): its value.
    Appositive(u32),
    /// An age band after under or over ("the under-10s" = 9, "over-60s" = 65): its number.
    Band(u32),
}

/// The age rule of a numeric-age anchor: how its number is found, and the term counted for
/// each range of ages (one term per age group).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgeRule {
    pub anchor: AgeAnchor,
    /// (from, to, term), inclusive ranges in years.
    pub ranges: Vec<(u32, u32, u32)>,
}

impl AgeRule {
    fn term(&self, age: u32) -> Option<u32> {
        self.ranges
            .iter()
            .find(|&&(lo, hi, _)| lo <= age && age <= hi)
            .map(|&(_, _, t)| t)
    }
}

/// A [`ContextRule`] compiled for matching, or a numeric-age rule.
#[derive(Debug)]
pub struct WordContext {
    person: super::context::PersonUse,
    origin: bool,
    not_offspring: bool,
    capitalized: bool,
    not_in_titles: bool,
    next_word: WordSet,
    prev_word: WordSet,
    not_next_word: WordSet,
    not_prev_word: WordSet,
    age: Option<AgeRule>,
}

impl WordContext {
    pub fn new(rule: &ContextRule) -> Self {
        WordContext {
            person: rule.person,
            origin: rule.origin,
            not_offspring: rule.not_offspring,
            capitalized: rule.capitalized,
            not_in_titles: rule.not_in_titles,
            next_word: WordSet::new(&rule.next_word),
            prev_word: WordSet::new(&rule.prev_word),
            not_next_word: WordSet::new(&rule.not_next_word),
            not_prev_word: WordSet::new(&rule.not_prev_word),
            age: None,
        }
    }

    pub fn age(rule: AgeRule) -> Self {
        WordContext {
            age: Some(rule),
            ..WordContext::new(&ContextRule::default())
        }
    }

    /// Whether the hit `s..e` of `text` counts, and why; `term` is the target's term, which a
    /// numeric age replaces by the term of its age group (and its start by the number's, for
    /// "30-year-old"). `inflected`: the hit is a plural or other inflected form of its term, not
    /// the term as written.
    #[inline]
    pub fn check(
        &self,
        text: &str,
        (s, e): (usize, usize),
        term: u32,
        inflected: bool,
        people: &PersonWords,
    ) -> Result<(Why, u32, usize), Miss> {
        if let Some(age) = &self.age {
            return age_of(age, text, s, e, inflected, people).map(|(t, from)| (Why::Age, t, from));
        }
        // With `person`, `next_word` lists words that count after the term as well as nouns for
        // people ("trans rights"): an alternative, not a further condition.
        if !self.person.any() && !self.capitalized && part_of_a_name(text, s, people, true)
            || self.not_in_titles && in_a_title(text, s, e, people)
        {
            return Err(Miss::Name);
        }
        let also_next = self.person.any() && !self.next_word.is_empty();
        // The word after the term, found once for the word lists and the person test.
        let next = word_after(text, e);
        let adjacent = next.filter(|w| w.gap != Gap::Comma).map_or("", |w| w.text);
        self.words(text, s, adjacent, !also_next)?;
        if self.not_offspring && offspring(text, s) {
            return Err(Miss::Offspring);
        }
        if self.origin {
            return origin(text, s, e, people)
                .then_some((Why::Origin, term, s))
                .ok_or(Miss::NotOrigin);
        }
        if self.person.any() {
            if let Some(why) = person_near(self.person, text, s, e, next, inflected, people, false)
            {
                return Ok((why, term, s));
            }
            if also_next && self.next_word.holds(adjacent) {
                return Ok((Why::Context, term, s));
            }
            return Err(Miss::NotPerson);
        }
        Ok((Why::Context, term, s))
    }

    /// The word-list and capitalisation conditions.
    #[inline]
    fn words(&self, text: &str, s: usize, adjacent: &str, next_required: bool) -> Result<(), Miss> {
        if self.capitalized && !text[s..].chars().next().is_some_and(char::is_uppercase) {
            return Err(Miss::NotCapitalized);
        }
        if !self.next_word.is_empty() || !self.not_next_word.is_empty() {
            let w = adjacent;
            if next_required && !self.next_word.is_empty() && !self.next_word.holds(w) {
                return Err(Miss::NextWord);
            }
            if self.not_next_word.holds(w) {
                return Err(Miss::ExcludedNextWord);
            }
        }
        if !self.prev_word.is_empty() || !self.not_prev_word.is_empty() {
            let w = adjacent_before(text, s);
            if !self.prev_word.is_empty() && !self.prev_word.holds(w) {
                return Err(Miss::PrevWord);
            }
            if self.not_prev_word.holds(w) {
                return Err(Miss::ExcludedPrevWord);
            }
        }
        Ok(())
    }

    /// What the rule asks, in a few words (for explanations).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(a) = &self.age {
            parts.push(match a.anchor {
                AgeAnchor::YearsBefore => "a number of years before it, said of people".to_owned(),
                AgeAnchor::UnderAYear => "a number of months, weeks or days before it, said of people".to_owned(),
                AgeAnchor::Something => "a number before it (30-something), said of people".to_owned(),
                AgeAnchor::After => "a number after it (aged 15, the age of nine)".to_owned(),
                AgeAnchor::Decade(_) => "after a possessive (in her 20s)".to_owned(),
                AgeAnchor::Appositive(_) => "said of a person: after a name and a comma (Smith, 30,), a linking verb (she is 30) or over/of after a noun for people (a guy of 90)".to_owned(),
                AgeAnchor::Band(_) => "after under or over (the under-10s)".to_owned(),
            });
        }
        if self.person.any() {
            parts.push(self.person.describe());
        }
        if self.origin {
            parts.push("a place people come from".into());
        }
        if self.not_offspring {
            parts.push("not someone's offspring".into());
        }
        if self.capitalized {
            parts.push("capitalised".into());
        }
        if self.not_in_titles {
            parts.push("not in a title or name".into());
        }
        let next = if self.person.any() {
            "or before listed words"
        } else {
            "before listed words"
        };
        for (set, what) in [
            (&self.next_word, next),
            (&self.prev_word, "after listed words"),
            (&self.not_next_word, "not before listed words"),
            (&self.not_prev_word, "not after listed words"),
        ] {
            if !set.is_empty() {
                parts.push(what.into());
            }
        }
        parts.join("; ")
    }
}

/// Classes of words, as bits of a [`WordTable`]: the grammar words the rules look at
/// (English), and the words for people of the rules' person lexicons.
mod class {
    /// End the search for a noun after an adjective: determiners, prepositions, conjunctions other than and/or, auxiliaries, pronouns.
    pub const ATTR_STOP: u32 = 1 << 0;
    /// Joins adjectives without ending the search.
    pub const COORDINATORS: u32 = 1 << 1;
    /// Before an adjective used as a noun ("the elderly", "an American").
    pub const NOMINAL_DET: u32 = 1 << 2;
    /// After an adjective used as a noun: function words, auxiliaries, adverbs.
    pub const NOMINAL_NEXT: u32 = 1 << 3;
    /// Common verbs (any form) that follow a noun subject ("the French invaded").
    pub const VERBS: u32 = 1 << 4;
    /// Between a linking verb and the adjective ("so", "very", "not", "born").
    pub const PRED_ADVERBS: u32 = 1 << 5;
    /// Linking verbs ("is", "became", "seems", "born", "raised").
    pub const LINKING: u32 = 1 << 6;
    /// Linking verbs that need no subject next to them ("being", "be", "to be").
    pub const LOOSE_LINKING: u32 = 1 << 7;
    /// Between a subject and its linking verb ("has", "will", "also", "never").
    pub const AUXILIARIES: u32 = 1 << 8;
    /// Pronouns that stand for things ("it is old").
    pub const THING_PRONOUNS: u32 = 1 << 9;
    /// Capitalised words that are not names ("The", "This", "It").
    pub const NOT_NAMES: u32 = 1 << 10;
    /// his, her, their, my, our, your, its, whose.
    pub const POSSESSIVES: u32 = 1 << 11;
    /// Verbs of having children ("had", "raised") and "with", "of".
    pub const HAVING: u32 = 1 << 12;
    /// Words between a possessive or "had" and the noun ("two", "young", "own").
    pub const OFFSPRING_MODIFIERS: u32 = 1 << 13;
    /// Words before "from" that make it an origin ("came", "fled", "originally").
    pub const ORIGIN_VERBS: u32 = 1 << 14;
    /// Words before "of" that make it an origin ("citizens", "natives", "people").
    pub const ORIGIN_OF: u32 = 1 << 15;
    /// Words after "aged"/"age" before the number ("between", "about", "over").
    pub const NUMBER_LEAD: u32 = 1 << 16;
    /// A noun for a person or a group of people.
    pub const NOUN: u32 = 1 << 17;
    /// A noun for people that is also a modifier: a head only at the end of a noun phrase.
    pub const HEAD: u32 = 1 << 18;
    /// A pronoun or quantifier that stands for people as a subject.
    pub const PRONOUN: u32 = 1 << 19;
    /// A first name.
    pub const NAME: u32 = 1 << 20;
}

/// The grammar words, in a table of their classes.
static GRAMMAR: LazyLock<WordTable> = LazyLock::new(|| {
    let mut t = WordTable::default();
    grammar_words(&mut t);
    t
});

/// Adds the grammar words (English) to `t`.
const DETERMINERS: &str = "the a an this that these those his her its their my our your some any no every each either \
    neither such what which whose whom who where when why how";
const PREPOSITIONS: &str = "of in on at to for with from by about as into onto over under after before between through \
    during than like against among amongst within without across behind beyond near upon via per \
    since until till toward towards around along amid despite except inside outside throughout \
    beside besides";
const CONJUNCTIONS: &str = "but because while if although though unless whereas yet whether so nor";
const AUXILIARIES: &str = "is are was were be been being am has have had do does did will would can could shall should \
    may might must isn aren wasn weren hasn haven hadn don doesn didn won wouldn can't cannot \
    couldn shouldn mustn";
const PRONOUNS: &str = "i you he she it we they me him us them myself yourself himself herself itself ourselves \
    themselves there here not also very too";

/// The grammar words of each class (a word may be in several; its bits are their union).
const GRAMMAR_LISTS: &[(u32, &str)] = &[
    (class::ATTR_STOP, DETERMINERS),
    (class::ATTR_STOP, PREPOSITIONS),
    (class::ATTR_STOP, CONJUNCTIONS),
    (class::ATTR_STOP, AUXILIARIES),
    (class::ATTR_STOP, PRONOUNS),
    (class::ATTR_STOP, "that then than"),
    (class::COORDINATORS, "and or & plus"),
    (
        class::NOMINAL_DET,
        "the these those many most some all other both few several such a an every fellow one",
    ),
    (class::NOMINAL_NEXT, PREPOSITIONS),
    (class::NOMINAL_NEXT, CONJUNCTIONS),
    (class::NOMINAL_NEXT, AUXILIARIES),
    (
        class::NOMINAL_NEXT,
        "and or who whom whose which that where when also often still never always now then too \
     themselves alone together today mostly usually generally however especially again \
     already even only just really all both each first largely mainly increasingly typically \
     frequently sometimes rarely once soon later",
    ),
    (
        class::VERBS,
        "said say says made makes took take takes came come comes went go goes got get gets gave \
     give gives won lost lose loses fought fight fights led held built build builds began \
     begin begins brought bring brings bought buy buys left leave leaves know knows knew \
     think thinks thought believe believes feel feels felt see sees saw seen tend tends seem \
     seems remain remains suffer suffers continue continues settle settles arrive arrives \
     invade invades defeat defeats occupy occupies refer refers consider considers ate drank \
     speak speaks spoke ran sent send sends kept keep keeps found find finds told tell tells \
     became become becomes die dies hate hates enjoy enjoys prefers deserve deserves \
     comprises represent represents outnumber outnumbers dominate dominates migrate migrates \
     flee flees fled flocked celebrate celebrates pray prays worship worships voted resist \
     resists revolt revolts rose fell stood sat wrote write writes taught teach teaches learn \
     learns met",
    ),
    (
        class::PRED_ADVERBS,
        "so very too quite really not never also still now rather extremely pretty fairly \
     increasingly completely totally partially partly legally profoundly severely mostly \
     entirely half all both ethnically racially culturally openly proudly devoutly always \
     already just only clearly obviously visibly technically officially fully deeply barely \
     hardly nearly almost incredibly considerably somewhat relatively slightly getting \
     growing born",
    ),
    (
        class::LINKING,
        "is are was were am be been being become becomes became becoming seem seems seemed look \
     looks looked feel feels felt remain remains remained stay stays stayed grow grows grew \
     grown growing get gets got gotten getting turn turns turned born raised",
    ),
    (class::LOOSE_LINKING, "be been being become becoming"),
    (class::AUXILIARIES, AUXILIARIES),
    (
        class::AUXILIARIES,
        "not never also still already always just now truly really both all",
    ),
    (
        class::THING_PRONOUNS,
        "it this that which there these those what something everything nothing",
    ),
    (class::NOT_NAMES, DETERMINERS),
    (class::NOT_NAMES, PREPOSITIONS),
    (class::NOT_NAMES, CONJUNCTIONS),
    (class::NOT_NAMES, PRONOUNS),
    (
        class::NOT_NAMES,
        "it this that there here what everything nothing something anything all some many most \
     both each one none and or yes no mr mrs ms dr",
    ),
    (
        class::POSSESSIVES,
        "his her their my our your its whose thy",
    ),
    (
        class::HAVING,
        "had has have having raise raises raised raising adopt adopts adopted bore bear bears \
     fathered mothered sired with of gave",
    ),
    (
        class::OFFSPRING_MODIFIERS,
        "a an no any more other own only two three four five six seven eight nine ten eleven \
     twelve several many few young little small grown adult adopted older younger eldest \
     youngest oldest first second third teenage infant twin biological step beloved",
    ),
    (
        class::ORIGIN_VERBS,
        "came come comes coming hail hails hailed hailing originally originate originates \
     originated emigrated emigrate emigrates emigrating immigrated immigrate immigrates \
     migrated migrate fled flee flees fleeing escaped escape arrived arrive arrives arriving \
     deported moved move moves relocated returned descended descend descends is are was were \
     am be been s re m",
    ),
    (
        class::ORIGIN_OF,
        "native natives citizen citizens national nationals people peoples descendant descendants \
     resident residents inhabitant inhabitants son sons daughter daughters groups communities \
     populations population",
    ),
    (
        class::NUMBER_LEAD,
        "between about around approximately roughly over under nearly almost just only some from \
     of at least",
    ),
];

fn grammar_words(t: &mut WordTable) {
    for (bits, words) in GRAMMAR_LISTS {
        for w in words.split_whitespace() {
            t.insert(w, *bits);
        }
    }
}

/// At most this many words (other adjectives and nouns) between an adjective and its noun for
/// people.
const MAX_MODIFIERS: usize = 4;

/// Whether the hit `s..e` is said of people in one of the `uses`; `names_next`: a capitalised
/// word right after the hit counts as a name ("30-year-old Smith").
fn person(
    uses: PersonUse,
    text: &str,
    s: usize,
    e: usize,
    inflected: bool,
    people: &PersonWords,
    names_next: bool,
) -> Option<Why> {
    person_near(
        uses,
        text,
        s,
        e,
        word_after(text, e),
        inflected,
        people,
        names_next,
    )
}

/// [`person`] with the word after the hit (`next`) already found.
#[allow(clippy::too_many_arguments)]
#[inline]
fn person_near(
    uses: PersonUse,
    text: &str,
    s: usize,
    e: usize,
    next: Option<Word>,
    inflected: bool,
    people: &PersonWords,
    names_next: bool,
) -> Option<Why> {
    if part_of_a_name(text, s, people, false) {
        return None;
    }
    // The commonest case first: a noun for people right after the term ("American actor").
    if (uses.allows(PersonUse::ATTRIBUTIVE) || uses.allows(PersonUse::ADJACENT))
        && let Some(w) = next
        && w.gap == Gap::Space
        && people.is(w.text, class::NOUN)
    {
        return Some(Why::Attributive);
    }
    if uses.allows(PersonUse::POSTNOMINAL)
        && word_before(text, s)
            .is_some_and(|w| w.gap == Gap::Space && people.is(w.text, class::NOUN))
    {
        return Some(Why::Postnominal);
    }
    if uses.allows(PersonUse::ATTRIBUTIVE) && attributive(text, s, e, people, names_next).is_some()
    {
        return Some(Why::Attributive);
    }
    if uses.allows(PersonUse::NOMINAL) && nominal(text, s, e, inflected, people) {
        return Some(Why::Nominal);
    }
    if uses.allows(PersonUse::PREDICATIVE) && predicative(text, s, people).is_some() {
        return Some(Why::Predicative);
    }
    None
}

/// Whether the capitalised word at `s` is part of a name rather than an adjective: after a
/// first name ("Betty White", "Neil Young", "Jack Black"), or after another capitalised word in
/// the middle of a sentence ("Soulja Boy", "Big Brother"). Titles before a name ("Sir Robert",
/// "Queen Victoria") are not names.
///
/// `any_capital`: any capitalised word before it in the middle of a sentence makes a name (for
/// nouns such as boy and girl); otherwise only a first name does (adjectives follow other
/// capitalised adjectives: "Arab American", "Irish Catholic").
fn part_of_a_name(text: &str, s: usize, people: &PersonWords, any_capital: bool) -> bool {
    if !text[s..].chars().next().is_some_and(char::is_uppercase) {
        return false;
    }
    if let Some(w) = word_before(text, s)
        && w.gap == Gap::Space
        && w.capitalized()
        && !grammar(w.text, class::NOT_NAMES)
        && (people.is(w.text, class::NAME)
            || any_capital && word_before(text, w.start).is_some_and(|p| p.gap == Gap::Space))
    {
        return true;
    }
    false
}

/// Whether the hit `s..e`, capitalised in the middle of a sentence, stands next to another
/// capitalised word and so is part of a title or name: "Soulja Boy", "the Young British
/// Artists", "The Young and the Restless", "Teenage Mutant Ninja Turtles". A first name after it
/// makes it a title before a name, which still counts ("Queen Elizabeth"); at the start of a
/// sentence capitals tell nothing.
fn in_a_title(text: &str, s: usize, e: usize, people: &PersonWords) -> bool {
    if !text[s..].chars().next().is_some_and(char::is_uppercase) {
        return false;
    }
    let Some(before) = word_before(text, s) else {
        return false;
    };
    let neighbours = |w: &Word| matches!(w.gap, Gap::Space | Gap::Hyphen) && w.capitalized();
    if neighbours(&before)
        && (word_before(text, before.start).is_some() || !grammar(before.text, class::NOT_NAMES))
    {
        return true;
    }
    // A possessive belongs to the name: "Alzheimer's Association", "Children's Hospital".
    let after = match word_after(text, e) {
        Some(w) if w.gap == Gap::Apostrophe && w.text == "s" => word_after(text, w.end),
        w => w,
    };
    after.is_some_and(|w| {
        neighbours(&w) && !people.is(w.text, class::NAME) && !grammar(w.text, class::NOT_NAMES)
    })
}

/// The noun for people that the adjective ending at `e` stands before, if any.
pub(crate) fn attributive<'t>(
    text: &'t str,
    s: usize,
    e: usize,
    people: &PersonWords,
    names_next: bool,
) -> Option<Word<'t>> {
    let mut pos = e;
    let mut modifiers = 0;
    // A comma may separate adjectives ("an old, frail man") or the items of a list before the
    // noun ("stage, film and television actor"), but not two phrases ("the Hispanic vote,
    // Hispanic voters"): past a comma that is not right after the term, a coordinator must come.
    let mut open_comma = false;
    loop {
        let w = word_after(text, pos)?;
        if w.gap == Gap::Apostrophe {
            return None;
        }
        // Right after the term, a comma separates adjectives only after an article ("an old,
        // frail man"), not a predicate from what follows ("she is Catholic, people say").
        if w.gap == Gap::Comma && (pos != e || !after_article(text, s)) {
            open_comma = true;
        }
        let c = people.table.get(w.text);
        if c & class::NOUN != 0 || c & class::HEAD != 0 && ends_phrase(text, w.end) {
            return (!open_comma).then_some(w);
        }
        if c & class::COORDINATORS != 0 {
            open_comma = false;
        } else {
            if names_next
                && pos == e
                && w.gap != Gap::Comma
                && w.capitalized()
                && c & class::NOT_NAMES == 0
            {
                return Some(w);
            }
            if c & class::ATTR_STOP != 0 {
                return None;
            }
            modifiers += 1;
            if modifiers > MAX_MODIFIERS {
                return None;
            }
        }
        pos = w.end;
    }
}

/// Whether a noun phrase ends at byte `e`: punctuation or the end follows, or a function word.
fn ends_phrase(text: &str, e: usize) -> bool {
    match word_after(text, e) {
        None => true,
        Some(w) => {
            w.gap == Gap::Comma
                || grammar(
                    w.text,
                    class::ATTR_STOP | class::COORDINATORS | class::NOMINAL_NEXT | class::VERBS,
                )
        }
    }
}

/// Whether an article or determiner stands right before byte `s`.
fn after_article(text: &str, s: usize) -> bool {
    word_before(text, s).is_some_and(|w| w.gap == Gap::Space && grammar(w.text, class::NOMINAL_DET))
}

/// Whether the hit `s..e` is used as a noun for people.
fn nominal(text: &str, s: usize, e: usize, inflected: bool, people: &PersonWords) -> bool {
    if inflected || possessive_after(text, e) {
        return true;
    }
    let Some(det) = word_before(text, s) else {
        return false;
    };
    if det.gap != Gap::Space || !grammar(det.text, class::NOMINAL_DET) {
        return false;
    }
    let article = det.text.eq_ignore_ascii_case("a") || det.text.eq_ignore_ascii_case("an");
    let Some(next) = word_after(text, e) else {
        return true;
    };
    match next.gap {
        Gap::Comma => return true,
        Gap::Hyphen | Gap::Apostrophe => return false,
        Gap::Space => {}
    }
    if grammar(next.text, class::COORDINATORS) {
        // "a Christian and a Muslim", "the young and the old"; not "a black and white photo".
        return word_after(text, next.end).is_some_and(|w| {
            w.gap == Gap::Space
                && ["the", "a", "an", "one"]
                    .iter()
                    .any(|d| w.text.eq_ignore_ascii_case(d))
        }) || (!article && word_after(text, next.end).is_none());
    }
    if grammar(next.text, class::NOMINAL_NEXT) || grammar(next.text, class::VERBS) {
        return true;
    }
    // A regular past tense ("the French invaded") that is not a noun for people.
    let t = next.text;
    t.len() > 4
        && t.is_ascii()
        && t[t.len() - 2..].eq_ignore_ascii_case("ed")
        && !people.is(t, class::NOUN)
        && !next.capitalized()
}

/// Whether `'s` (a possessive) follows byte `e`.
fn possessive_after(text: &str, e: usize) -> bool {
    let rest = &text.as_bytes()[e..];
    let after = if rest.starts_with(b"'s") || rest.starts_with(b"'S") {
        2
    } else if rest.starts_with("’s".as_bytes()) {
        "’s".len()
    } else {
        return false;
    };
    !text[e + after..]
        .chars()
        .next()
        .is_some_and(super::words::is_word_char)
}

/// The subject of the linking verb before the adjective starting at `s`, if it is a person.
pub(crate) fn predicative<'t>(text: &'t str, s: usize, people: &PersonWords) -> Option<Word<'t>> {
    let mut w = word_before(text, s)?;
    let mut skipped = 0;
    while w.gap == Gap::Space
        && grammar(w.text, class::PRED_ADVERBS)
        && !grammar(w.text, class::LINKING)
        && skipped < 3
    {
        w = word_before(text, w.start)?;
        skipped += 1;
    }
    // The last of coordinated adjectives ("are sick, injured or disabled"): back over the list,
    // a few words at most, to its linking verb.
    if grammar(w.text, class::COORDINATORS) || w.gap == Gap::Comma {
        for _ in 0..6 {
            if grammar(w.text, class::LINKING) && w.gap != Gap::Comma {
                break;
            }
            if grammar(w.text, class::ATTR_STOP) && !grammar(w.text, class::COORDINATORS) {
                return None;
            }
            w = word_before(text, w.start)?;
        }
    }
    if w.gap != Gap::Space && w.gap != Gap::Hyphen {
        return None;
    }
    let link = w;
    let lower = link.text.to_ascii_lowercase();
    match lower.as_str() {
        // He's, I'm, they're: the subject is right before the apostrophe.
        "s" | "m" | "re" => {
            let subj = word_before(text, link.start)?;
            return (subj.gap == Gap::Apostrophe && people.is_subject(text, &subj)).then_some(subj);
        }
        // isn't, wasn't: "isn" before the apostrophe.
        "t" => {
            let neg = word_before(text, link.start)?;
            if neg.gap != Gap::Apostrophe
                || !grammar(neg.text.trim_end_matches(['n', 'N']), class::LINKING)
            {
                return None;
            }
            return subject_before(text, neg.start, people);
        }
        // identifies as, came out as.
        "as" => {
            let verb = word_before(text, link.start)?;
            let v = verb.text.to_ascii_lowercase();
            return (v.starts_with("identif") || v == "out" || v == "self").then_some(verb);
        }
        _ => {}
    }
    if !grammar(link.text, class::LINKING) {
        return None;
    }
    if grammar(link.text, class::LOOSE_LINKING) {
        // "being deaf", "to be young", "has always been gay": a person nearby, or no thing.
        let mut pos = link.start;
        for _ in 0..5 {
            let Some(b) = word_before(text, pos) else {
                break;
            };
            if b.gap == Gap::Comma {
                break;
            }
            if grammar(b.text, class::THING_PRONOUNS) {
                return None;
            }
            if people.is(b.text, class::PRONOUN) || people.is(b.text, class::NOUN) {
                return Some(b);
            }
            pos = b.start;
        }
        return lower.eq("being").then_some(link);
    }
    subject_before(text, link.start, people)
}

/// The person that is the subject of a linking verb starting at `pos`, skipping auxiliaries
/// ("he has always been").
fn subject_before<'t>(text: &'t str, pos: usize, people: &PersonWords) -> Option<Word<'t>> {
    let mut w = word_before(text, pos)?;
    let mut skipped = 0;
    while w.gap == Gap::Space
        && grammar(w.text, class::AUXILIARIES)
        && !people.is(w.text, class::PRONOUN)
        && skipped < 3
    {
        w = word_before(text, w.start)?;
        skipped += 1;
    }
    if w.gap == Gap::Apostrophe && w.text.eq_ignore_ascii_case("s") {
        // "Martha's been deaf": the name before the apostrophe.
        w = word_before(text, w.start)?;
    } else if w.gap != Gap::Space {
        return None;
    }
    if w.text.eq_ignore_ascii_case("that") {
        // A relative "that": "a man that is deaf" (not "a house that is old").
        let antecedent = word_before(text, w.start)?;
        return (antecedent.gap == Gap::Space && people.is(antecedent.text, class::NOUN))
            .then_some(antecedent);
    }
    people.is_subject(text, &w).then_some(w)
}

/// Whether the place name `s..e` is said as where people come from.
fn origin(text: &str, s: usize, e: usize, people: &PersonWords) -> bool {
    // Most mentions of a place are not after one of the words below: a quick test of the two
    // bytes before the place's last space ("from", "in", "of", "fled", "escaped", "the").
    let before = text.as_bytes()[..s].trim_ascii_end();
    let quick = before.len() >= 2
        && matches!(
            before[before.len() - 2..].to_ascii_lowercase()[..],
            [b'o', b'm'] | [b'i', b'n'] | [b'o', b'f'] | [b'e', b'd'] | [b'h', b'e']
        );
    if !quick && !text.as_bytes()[e..].starts_with(b"-") {
        return false;
    }
    if let Some(n) = word_after(text, e)
        && n.gap == Gap::Hyphen
        && n.text.eq_ignore_ascii_case("born")
    {
        return true; // "England-born"
    }
    let Some(mut p) = word_before(text, s) else {
        return false;
    };
    // "from the Philippines": past an article.
    if p.gap == Gap::Space && p.text.eq_ignore_ascii_case("the") {
        let Some(q) = word_before(text, p.start) else {
            return false;
        };
        p = q;
    }
    if p.gap != Gap::Space {
        return false;
    }
    let before = |pos| {
        word_before(text, pos).filter(|w: &Word| w.gap == Gap::Space || w.gap == Gap::Apostrophe)
    };
    match p.text.to_ascii_lowercase().as_str() {
        "from" => {
            let mut pos = p.start;
            for _ in 0..3 {
                let Some(w) = word_before(text, pos) else {
                    return false;
                };
                if w.gap == Gap::Comma && pos != p.start {
                    return false;
                }
                if grammar(w.text, class::ORIGIN_VERBS)
                    || people.is(w.text, class::NOUN)
                    || people.is(w.text, class::PRONOUN)
                {
                    return true;
                }
                pos = w.start;
            }
            false
        }
        "in" => before(p.start).is_some_and(|w| {
            w.text.eq_ignore_ascii_case("born") || w.text.eq_ignore_ascii_case("raised")
        }),
        "of" => before(p.start).is_some_and(|w| grammar(w.text, class::ORIGIN_OF)),
        "fled" | "escaped" => true,
        _ => false,
    }
}

/// Whether the noun starting at `s` ("children", "kids") is someone's offspring: after a
/// possessive or a verb of having, with at most two words between ("her two young children",
/// "they had seven children", "a mother of two").
fn offspring(text: &str, s: usize) -> bool {
    let mut pos = s;
    for _ in 0..3 {
        let Some(w) = word_before(text, pos) else {
            return false;
        };
        if w.gap != Gap::Space {
            return false;
        }
        // Mary's children: the `s` after an apostrophe.
        if w.text.eq_ignore_ascii_case("s")
            && word_before(text, w.start).is_some_and(|n| n.gap == Gap::Apostrophe)
        {
            return true;
        }
        // "of" only with a number or modifier between ("a mother of two children", not "the
        // care of children").
        let of = w.text.eq_ignore_ascii_case("of");
        if grammar(w.text, class::POSSESSIVES)
            || grammar(w.text, class::HAVING) && !(of && pos == s)
        {
            return true;
        }
        if !(grammar(w.text, class::OFFSPRING_MODIFIERS) || w.is_digits()) {
            return false;
        }
        pos = w.start;
    }
    false
}

/// The term of the age group of the numeric age anchored at `s..e`, and where the age starts
/// (its number, when the number comes first).
fn age_of(
    rule: &AgeRule,
    text: &str,
    s: usize,
    e: usize,
    inflected: bool,
    people: &PersonWords,
) -> Result<(u32, usize), Miss> {
    let mut start = s;
    let age = match rule.anchor {
        AgeAnchor::YearsBefore | AgeAnchor::UnderAYear | AgeAnchor::Something => {
            let (n, from) = number_before(text, s).ok_or(Miss::NoAge)?;
            person(PersonUse::ALL, text, from, e, inflected, people, true).ok_or(Miss::NoAge)?;
            start = from;
            match rule.anchor {
                AgeAnchor::UnderAYear => 0,
                AgeAnchor::Something => n + 4,
                _ => n,
            }
        }
        AgeAnchor::After => number_after(text, e).ok_or(Miss::NoAge)?,
        AgeAnchor::Decade(d) => decade(text, s, d).ok_or(Miss::NoAge)?,
        AgeAnchor::Appositive(n) => {
            if !appositive(text, s, e, people) && !number_of_a_person(text, s, e, people) {
                return Err(Miss::NoAge);
            }
            n
        }
        AgeAnchor::Band(n) => {
            let w = word_before(text, s)
                .filter(|w| matches!(w.gap, Gap::Space | Gap::Hyphen))
                .ok_or(Miss::NoAge)?;
            start = w.start;
            if w.text.eq_ignore_ascii_case("under") {
                n.saturating_sub(1)
            } else if w.text.eq_ignore_ascii_case("over") {
                n + 5
            } else {
                return Err(Miss::NoAge);
            }
        }
    };
    rule.term(age).map(|t| (t, start)).ok_or(Miss::NoAge)
}

const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

fn unit_value(w: &str) -> Option<u32> {
    UNITS
        .iter()
        .position(|u| w.eq_ignore_ascii_case(u))
        .map(|i| i as u32)
}

fn tens_value(w: &str) -> Option<u32> {
    TENS.iter()
        .position(|t| !t.is_empty() && w.eq_ignore_ascii_case(t))
        .map(|i| i as u32 * 10)
}

/// A number of at most three digits, or `a`/`one hundred`.
fn digits_value(w: &Word) -> Option<u32> {
    (w.is_digits() && w.text.len() <= 3)
        .then(|| w.text.parse().ok())
        .flatten()
}

/// The number that ends right before `s` (digits or words: "30", "eighty", "ninety-five",
/// "a hundred"), and where it starts.
fn number_before(text: &str, s: usize) -> Option<(u32, usize)> {
    let w = word_before(text, s)?;
    if !matches!(w.gap, Gap::Space | Gap::Hyphen) {
        return None;
    }
    if let Some(n) = digits_value(&w) {
        // Not part of a larger number ("1,000-year-old", "2.5"): the character before.
        let prev = text[..w.start].chars().next_back();
        if prev.is_some_and(|c| c == ',' || c == '.')
            && text[..w.start.saturating_sub(1)]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_digit())
        {
            return None;
        }
        return Some((n, w.start));
    }
    if w.text.eq_ignore_ascii_case("hundred") {
        let p = word_before(text, w.start).filter(|p| matches!(p.gap, Gap::Space | Gap::Hyphen))?;
        return (p.text.eq_ignore_ascii_case("a") || p.text.eq_ignore_ascii_case("one"))
            .then_some((100, p.start));
    }
    if let Some(t) = tens_value(w.text) {
        return Some((t, w.start));
    }
    let u = unit_value(w.text)?;
    if u == 0 {
        return None;
    }
    if u < 10
        && let Some(p) = word_before(text, w.start)
        && matches!(p.gap, Gap::Space | Gap::Hyphen)
        && let Some(t) = tens_value(p.text)
    {
        return Some((t + u, p.start));
    }
    Some((u, w.start))
}

/// The number after byte `e` ("aged 15", "aged between 18 and 24", "the age of nine",
/// "aged twenty-five").
fn number_after(text: &str, e: usize) -> Option<u32> {
    let mut pos = e;
    for _ in 0..3 {
        let w = word_after(text, pos)?;
        if w.gap != Gap::Space {
            return None;
        }
        if let Some(n) = digits_value(&w) {
            // Not a year or a larger number ("age 2000", "aged 1.5").
            let next = text[w.end..].chars().next();
            if next.is_some_and(|c| c == '.' || c == ',')
                && text[w.end + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            {
                return None;
            }
            return Some(n);
        }
        if let Some(t) = tens_value(w.text) {
            let u = word_after(text, w.end)
                .filter(|u| matches!(u.gap, Gap::Space | Gap::Hyphen))
                .and_then(|u| unit_value(u.text))
                .filter(|&u| (1..10).contains(&u))
                .unwrap_or(0);
            return Some(t + u);
        }
        if let Some(u) = unit_value(w.text) {
            return Some(u);
        }
        if !grammar(w.text, class::NUMBER_LEAD) {
            return None;
        }
        pos = w.end;
    }
    None
}

/// The age of "in her early 20s": after a possessive, with early/mid/late between.
fn decade(text: &str, s: usize, d: u32) -> Option<u32> {
    let mut w = word_before(text, s)?;
    let mut offset = 5;
    let lower = w.text.to_ascii_lowercase();
    let part = match lower.as_str() {
        "early" => Some(2),
        "mid" | "middle" => Some(5),
        "late" => Some(8),
        _ => None,
    };
    if let Some(p) = part {
        offset = p;
        w = word_before(text, w.start)?;
    }
    (w.gap == Gap::Space && grammar(w.text, class::POSSESSIVES)).then_some(d + offset)
}

/// "Smith, 30, said", "Smith, 30." or "Smith (30)": the number `s..e` alone after a name.
fn appositive(text: &str, s: usize, e: usize, people: &PersonWords) -> bool {
    let before = &text.as_bytes()[..s];
    let after = &text.as_bytes()[e..];
    let (name_end, closing): (usize, &[u8]) = if before.ends_with(b", ") {
        (s - 2, b",.;)")
    } else if before.ends_with(b" (") {
        (s - 2, b")")
    } else {
        return false;
    };
    match after.first() {
        None => closing != b")",
        Some(c) if closing.contains(c) => {
            // Not a list of numbers ("3, 30, 300") or a date ("June 3, 30").
            let Some(name) = word_before(text, name_end + 1).filter(|w| w.end == name_end) else {
                return false;
            };
            // A name, or a noun for people ("the president, 78, said").
            people.is(name.text, class::NOUN)
                || name.capitalized()
                    && !name.is_digits()
                    && !grammar(name.text, class::NOT_NAMES)
                    && !is_month(name.text)
        }
        _ => false,
    }
}

/// Whether the number `s..e` is said of a person as an age: after a linking verb of a person
/// ("she is 30", "a wife who just turned 30") or after a noun for people and over, under or of
/// ("gals over 60", "a guy of 90"), and at the end of its phrase ("30 pages", "over 60 countries"
/// are not ages).
fn number_of_a_person(text: &str, s: usize, e: usize, people: &PersonWords) -> bool {
    // "1 of 3 candidates", "one in 5", "3 for 5" are counts, not ages.
    const COUNTS: [&str; 8] = ["of", "in", "out", "for", "per", "from", "to", "times"];
    let ends = word_after(text, e).is_none_or(|w| {
        w.gap == Gap::Comma
            || !COUNTS.iter().any(|c| w.text.eq_ignore_ascii_case(c))
                && grammar(
                    w.text,
                    class::ATTR_STOP
                        | class::COORDINATORS
                        | class::NOMINAL_NEXT
                        | class::VERBS
                        | class::AUXILIARIES,
                )
    });
    if !ends {
        return false;
    }
    if let Some(w) = word_before(text, s)
        && w.gap == Gap::Space
        && ["over", "under", "of"]
            .iter()
            .any(|p| w.text.eq_ignore_ascii_case(p))
    {
        return word_before(text, w.start)
            .is_some_and(|n| n.gap == Gap::Space && people.is(n.text, class::NOUN));
    }
    predicative(text, s, people).is_some()
}

fn is_month(w: &str) -> bool {
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
    .iter()
    .any(|m| w.eq_ignore_ascii_case(m))
}

/// Numeric-age anchors (English), with the anchor kind of each surface form and whether its
/// regular plural is matched too: the forms a lexicon's `ages:` adds to its axis.
pub fn age_anchors() -> Vec<(String, bool, AgeAnchor)> {
    let mut out: Vec<(String, bool, AgeAnchor)> = Vec::new();
    for (form, plural) in [
        ("year old", true),
        ("years old", false),
        ("yr old", true),
        ("yrs old", false),
        ("years of age", false),
        ("year of age", false),
    ] {
        out.push((form.into(), plural, AgeAnchor::YearsBefore));
    }
    for (form, plural) in [
        ("month old", true),
        ("months old", false),
        ("week old", true),
        ("weeks old", false),
        ("day old", true),
        ("days old", false),
    ] {
        out.push((form.into(), plural, AgeAnchor::UnderAYear));
    }
    out.push(("something".into(), true, AgeAnchor::Something));
    for form in ["aged", "age", "ages", "age of", "ages of"] {
        out.push((form.into(), false, AgeAnchor::After));
    }
    for d in 1..10u32 {
        out.push((format!("{}0s", d), false, AgeAnchor::Decade(d * 10)));
        if d >= 2 {
            out.push((
                format!("{}ies", &TENS[d as usize][..TENS[d as usize].len() - 1]),
                false,
                AgeAnchor::Decade(d * 10),
            ));
        }
    }
    for n in 1..=110u32 {
        out.push((n.to_string(), false, AgeAnchor::Appositive(n)));
    }
    for n in (5..=25u32).chain((30..=90).step_by(5)) {
        out.push((format!("{n}s"), false, AgeAnchor::Band(n)));
    }
    out
}

/// Fixed age terms of sport ("U10s"): (form, age).
pub fn age_bands() -> Vec<(String, u32)> {
    (5..=25u32).map(|n| (format!("u{n}s"), n - 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people() -> PersonWords {
        PersonWords::new(
            [
                "man",
                "men",
                "woman",
                "women",
                "troops",
                "dad",
                "dads",
                "husband",
                "actress",
                "player",
                "people",
                "friend",
                "friends",
                "idiot",
                "immigrants",
                "refugees",
                "students",
                "family",
            ],
            [
                "i", "you", "he", "she", "we", "they", "who", "one", "them", "all",
            ],
            ["martha"],
        )
    }

    fn at(text: &str, term: &str) -> (usize, usize) {
        let s = text.find(term).unwrap();
        (s, s + term.len())
    }

    fn said_of_people(text: &str, term: &str) -> Option<Why> {
        let (s, e) = at(text, term);
        person(PersonUse::ALL, text, s, e, false, &people(), false)
    }

    #[test]
    fn attributive_before_a_noun_for_people() {
        assert_eq!(
            said_of_people("French troops crossed", "French"),
            Some(Why::Attributive)
        );
        assert_eq!(
            said_of_people("a Black husband", "Black"),
            Some(Why::Attributive)
        );
        assert_eq!(
            said_of_people("an American film and television actress", "American"),
            Some(Why::Attributive)
        );
        assert_eq!(
            said_of_people("Polish and Czech men", "Polish"),
            Some(Why::Attributive)
        );
        assert_eq!(said_of_people("the French iron industry", "French"), None);
        assert_eq!(said_of_people("an old house", "old"), None);
        assert_eq!(said_of_people("the French side of the men", "French"), None);
    }

    #[test]
    fn predicative_of_a_person() {
        assert_eq!(
            said_of_people("he was so old.", "old"),
            Some(Why::Predicative)
        );
        assert_eq!(
            said_of_people("Martha is white.", "white"),
            Some(Why::Predicative)
        );
        assert_eq!(
            said_of_people("one of them is Hungarian", "Hungarian"),
            Some(Why::Predicative)
        );
        assert_eq!(
            said_of_people("a friend who's deaf", "deaf"),
            Some(Why::Predicative)
        );
        assert_eq!(
            said_of_people("she was born deaf", "deaf"),
            Some(Why::Predicative)
        );
        assert_eq!(
            said_of_people("I love being young", "young"),
            Some(Why::Predicative)
        );
        assert_eq!(
            said_of_people("he isn't old", "old"),
            Some(Why::Predicative)
        );
        assert_eq!(said_of_people("the house was old.", "old"), None);
        assert_eq!(said_of_people("it is old.", "old"), None);
    }

    #[test]
    fn nominal_use() {
        assert_eq!(
            said_of_people("the elderly were cared for", "elderly"),
            Some(Why::Nominal)
        );
        assert_eq!(
            said_of_people("The French invaded", "French"),
            Some(Why::Nominal)
        );
        assert_eq!(
            said_of_people("He is an American who", "American"),
            Some(Why::Nominal)
        );
        assert_eq!(
            said_of_people("a Christian and a Muslim", "Christian"),
            Some(Why::Nominal)
        );
        assert_eq!(
            said_of_people("the American's", "American"),
            Some(Why::Nominal)
        );
        assert_eq!(said_of_people("a black and white photo", "black"), None);
        assert_eq!(said_of_people("the old-fashioned way", "old"), None);
        assert_eq!(said_of_people("French fries", "French"), None);
    }

    #[test]
    fn origin_of_people() {
        let p = people();
        let o = |text: &str, place: &str| {
            let (s, e) = at(text, place);
            origin(text, s, e, &p)
        };
        assert!(o("she came from England", "England"));
        assert!(o("immigrants from Syria arrived", "Syria"));
        assert!(o("he was born in Mexico", "Mexico"));
        assert!(o("the people of Iraq", "Iraq"));
        assert!(o("an England-born actor", "England"));
        assert!(!o("France signed the treaty", "France"));
        assert!(!o("exports from China rose", "China"));
        assert!(!o("she visited Japan", "Japan"));
    }

    #[test]
    fn offspring_is_not_an_age_group() {
        let o = |text: &str| offspring(text, text.find("children").unwrap());
        assert!(o("her children"));
        assert!(o("they had seven children"));
        assert!(o("Mary's two young children"));
        assert!(o("a mother of two children"));
        assert!(!o("children were injured"));
        assert!(!o("many children play"));
    }

    #[test]
    fn numbers_in_digits_and_words() {
        let n = |text: &str| number_before(text, text.find("year").unwrap()).map(|(n, _)| n);
        assert_eq!(n("a 30-year-old"), Some(30));
        assert_eq!(n("an eighty-year-old"), Some(80));
        assert_eq!(n("a ninety-five-year-old"), Some(95));
        assert_eq!(n("a hundred-year-old"), Some(100));
        assert_eq!(n("80 years old"), Some(80));
        assert_eq!(n("a 1,000-year-old"), None);
        let a = |text: &str| number_after(text, text.find("age").unwrap() + 3);
        assert_eq!(a("at the age nine"), Some(9));
        assert_eq!(a("age between 18 and 24"), Some(18));
        assert_eq!(a("age twenty-five"), Some(25));
        assert_eq!(a("age of consent"), None);
    }

    #[test]
    fn decades_and_appositions() {
        let d = |text: &str, form: &str, v: u32| decade(text, text.find(form).unwrap(), v);
        assert_eq!(d("in her early 20s", "20s", 20), Some(22));
        assert_eq!(d("in his seventies", "seventies", 70), Some(75));
        assert_eq!(d("in the 90s", "90s", 90), None);
        let ap = |text: &str| {
            let (s, e) = at(text, "30");
            appositive(text, s, e, &people())
        };
        assert!(ap("John Smith, 30, said"));
        assert!(ap("the man, 30, said"));
        let said_of = |text: &str, n: &str| {
            let (s, e) = at(text, n);
            number_of_a_person(text, s, e, &people())
        };
        assert!(said_of("she is 30 and lives here", "30"));
        assert!(said_of("a friend who just turned 30.", "30"));
        assert!(said_of("dads over 60 feel it", "60"));
        assert!(said_of("a man of 90 has", "90"));
        assert!(!said_of("he was 1 of 3 candidates", "1"));
        assert!(!said_of("over 60 countries", "60"));
        assert!(!said_of("the population is 45 million", "45"));
        assert!(!said_of("the house is 30 years old", "30"));
        assert!(ap("said Smith, 30."));
        assert!(ap("Smith (30) said"));
        assert!(!ap("June 3, 30 people"));
        assert!(!ap("In June, 30 people"));
        assert!(!ap("3, 30, 300"));
    }
}
