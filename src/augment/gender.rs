//! The role of `her` and `his`, which decides their counterpart.
//!
//! English `her` is both the object pronoun ("I saw her" → "him") and the possessive determiner
//! ("her book" → "his"); `his` is both the determiner ("his book" → "her") and the possessive
//! pronoun ("the book is his" → "hers"). A light heuristic on the neighbouring words tells them
//! apart, without a part-of-speech tagger:
//!
//! * `her` is an **object** when nothing follows it in the sentence (end of text or
//!   punctuation), or the next word is a closed-class word that cannot start the noun phrase
//!   `her` would determine: a determiner or pronoun ("gave her a book", "told her his name"), a
//!   preposition, conjunction or particle ("to her for", "her and", "asked her to"), an auxiliary
//!   ("wished her had"), or an adverb (`-ly` words other than adjectives and nouns such as
//!   "lovely", "family"; "again", "back", "less").
//! * It is also an object after a verb that takes an object and a bare verb or adjective
//!   ("let her go", "helped her fix", "wished her happy birthday", "drove her home").
//! * Otherwise `her` is a **possessive**: the next word starts a noun phrase ("her own",
//!   "her first film", "her in-laws").
//!
//! `his` stands alone (becomes "hers") only at the end of a sentence or before a conjunction,
//! preposition or verb form that cannot follow a determiner ("is his and", "his to keep",
//! "his was"); before anything else it is a determiner ("his book" → "her book").
//!
//! On the WinoBias pairs (`tests/it/augment.rs`) the heuristic gives the exact counterfactual
//! sentence for more than 99% of the pronoun swaps.

use crate::lexicon::matcher::is_word_char;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Object,
    Possessive,
}

/// Words after which `her` is an object: they cannot start the noun phrase a possessive
/// determiner introduces.
const OBJECT_FOLLOWERS: &[&str] = &[
    // determiners and pronouns
    "a",
    "an",
    "the",
    "this",
    "that",
    "these",
    "those",
    "some",
    "any",
    "every",
    "each",
    "no",
    "another",
    "his",
    "her",
    "my",
    "your",
    "our",
    "their",
    "its",
    "one",
    "i",
    "you",
    "he",
    "she",
    "we",
    "they",
    "it",
    "him",
    "them",
    "me",
    "us",
    "herself",
    "himself",
    "what",
    "who",
    "whom",
    "which",
    "whose",
    "how",
    "why",
    "where",
    "when",
    "whether",
    "if",
    "all",
    "both",
    "either",
    "neither",
    "something",
    "anything",
    "nothing",
    "everything",
    "someone",
    "anyone",
    "everyone",
    "somebody",
    "anybody",
    "everybody",
    // prepositions and particles
    "to",
    "for",
    "from",
    "with",
    "without",
    "at",
    "in",
    "on",
    "into",
    "onto",
    "about",
    "by",
    "of",
    "off",
    "over",
    "under",
    "up",
    "down",
    "out",
    "through",
    "across",
    "around",
    "against",
    "along",
    "among",
    "behind",
    "beside",
    "besides",
    "between",
    "beyond",
    "during",
    "except",
    "inside",
    "near",
    "outside",
    "past",
    "toward",
    "towards",
    "upon",
    "within",
    "like",
    "unlike",
    "via",
    "per",
    "after",
    "before",
    "since",
    "until",
    "till",
    "despite",
    // conjunctions
    "and",
    "or",
    "but",
    "nor",
    "so",
    "yet",
    "because",
    "although",
    "though",
    "unless",
    "while",
    "whereas",
    "than",
    "as",
    "once",
    // auxiliaries and modals (not `will`, `can`, `may`, `must`: also nouns)
    "is",
    "was",
    "were",
    "are",
    "am",
    "be",
    "been",
    "being",
    "had",
    "has",
    "have",
    "having",
    "would",
    "could",
    "should",
    "might",
    "shall",
    "did",
    "does",
    "do",
    "not",
    "never",
    // adverbs that do not end in -ly
    "again",
    "back",
    "away",
    "here",
    "there",
    "now",
    "then",
    "today",
    "tonight",
    "yesterday",
    "tomorrow",
    "too",
    "also",
    "always",
    "often",
    "soon",
    "later",
    "already",
    "still",
    "ever",
    "enough",
    "anyway",
    "instead",
    "alone",
    "together",
    "sometimes",
    "well",
    "less",
    "more",
    "most",
    "least",
    "very",
    "much",
    "even",
    "just",
    "almost",
    "forward",
    "aside",
    "apart",
    "abroad",
    "overseas",
    "upstairs",
    "downstairs",
    "twice",
    "anywhere",
    "everywhere",
    "somewhere",
    "nowhere",
];

/// `-ly` words that are adjectives or nouns, so `her lovely`, `her family` are possessives.
const LY_NOT_ADVERBS: &[&str] = &[
    "family",
    "only",
    "early",
    "lovely",
    "friendly",
    "elderly",
    "lonely",
    "ugly",
    "holy",
    "belly",
    "lily",
    "ally",
    "allies",
    "july",
    "italy",
    "silly",
    "jolly",
    "curly",
    "daily",
    "weekly",
    "monthly",
    "yearly",
    "likely",
    "unlikely",
    "lively",
    "costly",
    "deadly",
    "kindly",
    "beloved",
    "orderly",
    "melancholy",
    "supply",
    "reply",
    "assembly",
    "monopoly",
    "rally",
    "bully",
    "folly",
    "homely",
    "manly",
    "womanly",
    "motherly",
    "fatherly",
    "sisterly",
    "brotherly",
    "scholarly",
    "worldly",
    "timely",
    "ghostly",
    "heavenly",
    "earthly",
    "shapely",
    "comely",
    "stately",
    "courtly",
    "sly",
    "wily",
    "burly",
    "surly",
    "hourly",
    "nightly",
    "bodily",
    "fly",
    "butterfly",
    "jelly",
    "emily",
    "kelly",
    "sally",
    "molly",
    "polly",
    "holly",
    "lilly",
    "beverly",
    "shelly",
];

/// Verbs after which `her` is the object even when a bare verb, adjective or `home` follows
/// ("let her go", "made her happy", "drove her home").
const OBJECT_VERBS: &[&str] = &[
    "let",
    "lets",
    "letting",
    "help",
    "helps",
    "helped",
    "helping",
    "make",
    "makes",
    "made",
    "making",
    "watch",
    "watches",
    "watched",
    "watching",
    "see",
    "sees",
    "saw",
    "seeing",
    "hear",
    "hears",
    "heard",
    "hearing",
    "wish",
    "wishes",
    "wished",
    "wishing",
    "bid",
    "bade",
    "drive",
    "drives",
    "drove",
    "driving",
    "driven",
    "walk",
    "walks",
    "walked",
    "walking",
    "send",
    "sends",
    "sent",
    "sending",
    "take",
    "takes",
    "took",
    "taking",
    "taken",
    "bring",
    "brings",
    "brought",
    "bringing",
    "escort",
    "escorts",
    "escorted",
    "accompany",
    "accompanied",
    "call",
    "calls",
    "called",
    "keep",
    "keeps",
    "kept",
    "keeping",
    "hoped",
    "hope",
    "hopes",
    "want",
    "wants",
    "wanted",
    "found",
    "find",
    "finds",
    "left",
    "leave",
    "leaves",
    "consider",
    "considers",
    "considered",
    "thought",
    "believed",
    "named",
    "appointed",
    "elected",
    "declared",
    "treat",
    "treats",
    "treated",
    "prove",
    "proves",
    "proved",
    "proven",
    "get",
    "gets",
    "got",
    "have",
    "had",
    "has",
];

/// Verbs that take two objects ("gave her money"): after them, `her` before a plural or mass
/// noun with no `to`/`for` later in the clause is the first object, unless the subject is
/// female ("she gave her orders" is her own orders).
const DITRANSITIVE_VERBS: &[&str] = &[
    "give",
    "gives",
    "gave",
    "given",
    "giving",
    "offer",
    "offers",
    "offered",
    "offering",
    "sell",
    "sells",
    "sold",
    "selling",
    "pay",
    "pays",
    "paid",
    "paying",
    "provide",
    "provides",
    "provided",
    "providing",
    "hand",
    "hands",
    "handed",
    "lend",
    "lends",
    "lent",
    "owe",
    "owes",
    "owed",
    "show",
    "shows",
    "showed",
    "shown",
    "teach",
    "teaches",
    "taught",
    "tell",
    "tells",
    "told",
    "promise",
    "promised",
    "send",
    "sends",
    "sent",
    "bring",
    "brings",
    "brought",
    "buy",
    "buys",
    "bought",
    "grant",
    "granted",
    "award",
    "awarded",
    "charge",
    "charged",
    "serve",
    "served",
    "cook",
    "cooked",
    "bake",
    "baked",
    "fetch",
    "fetched",
    "pass",
    "passed",
];

/// Nouns used without an article ("gave her advice").
const MASS_NOUNS: &[&str] = &[
    "advice",
    "help",
    "information",
    "money",
    "bread",
    "food",
    "water",
    "support",
    "permission",
    "access",
    "credit",
    "attention",
    "luck",
    "feedback",
    "praise",
    "assistance",
    "time",
    "work",
    "news",
    "encouragement",
    "guidance",
    "medicine",
    "cash",
    "change",
    "coffee",
    "tea",
    "lunch",
    "dinner",
    "breakfast",
    "homework",
    "training",
    "shelter",
    "protection",
    "comfort",
    "space",
    "furniture",
    "equipment",
    "software",
    "evidence",
    "insurance",
    "tuition",
    "rent",
];

/// Words that follow a determiner `his` only in rare cases, so `his` before them stands alone.
const HIS_ALONE_FOLLOWERS: &[&str] = &[
    "and", "or", "but", "nor", "is", "was", "were", "are", "to", "for", "from", "with", "at", "in",
    "on", "by", "of", "as", "than", "that", "because", "while", "too", "alone", "now", "then",
    "anyway", "instead", "not", "if", "when", "since", "until", "had", "has", "will", "would",
    "could", "should", "might", "must", "can", "did", "does",
];

/// The word after `end` (lower case), when one follows on the same side of any punctuation:
/// only spaces may separate it. Hyphenated words are one word (`in-laws`).
fn next_word(text: &str, end: usize) -> Option<String> {
    let rest = text[end..].trim_start_matches([' ', '\t', '\u{a0}', '\n', '\r']);
    let mut len = 0;
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let inner_hyphen = c == '-' && i > 0 && chars.peek().is_some_and(|&(_, n)| is_word_char(n));
        if is_word_char(c) || inner_hyphen {
            len = i + c.len_utf8();
        } else {
            break;
        }
    }
    (len > 0).then(|| rest[..len].to_lowercase())
}

/// The word before `start` (lower case), across spaces only.
fn prev_word(text: &str, start: usize) -> Option<String> {
    let before = text[..start].trim_end_matches([' ', '\t', '\u{a0}', '\n', '\r']);
    let begin = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word_char(c))
        .last()
        .map(|(i, _)| i)?;
    Some(before[begin..].to_lowercase())
}

fn is_adverb(w: &str) -> bool {
    w.len() > 4 && w.ends_with("ly") && !LY_NOT_ADVERBS.contains(&w)
}

/// Whether `her` at `start..end` of `text` is an object or a possessive.
pub fn her_role(text: &str, start: usize, end: usize) -> Role {
    let Some(next) = next_word(text, end) else {
        return Role::Object;
    };
    if OBJECT_FOLLOWERS.contains(&next.as_str()) || is_adverb(&next) {
        return Role::Object;
    }
    if let Some(prev) = prev_word(text, start) {
        if OBJECT_VERBS.contains(&prev.as_str())
            && (next == "home" || looks_like_verb_or_adjective(&next))
        {
            return Role::Object;
        }
        if DITRANSITIVE_VERBS.contains(&prev.as_str()) && double_object(text, start, end) {
            return Role::Object;
        }
    }
    Role::Possessive
}

/// After a two-object verb: a plural or mass noun within the next two words, no `to`/`for`
/// later in the clause, and no `she` earlier in the sentence.
fn double_object(text: &str, start: usize, end: usize) -> bool {
    let sentence_start = text[..start]
        .rfind(['.', '!', '?', ';', '\n'])
        .map_or(0, |i| i + 1);
    let before = &text[sentence_start..start];
    if before
        .split(|c: char| !is_word_char(c))
        .any(|w| w.eq_ignore_ascii_case("she"))
    {
        return false;
    }
    let clause_end = text[end..]
        .find([',', '.', ';', ':', '!', '?', '(', ')', '\n'])
        .map_or(text.len(), |i| end + i);
    let words: Vec<String> = text[end..clause_end]
        .split(|c: char| !is_word_char(c) && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.iter().any(|w| w == "to" || w == "for") {
        return false;
    }
    let plural_or_mass = |w: &str| {
        MASS_NOUNS.contains(&w)
            || (w.len() > 3
                && w.ends_with('s')
                && !["ss", "us", "is", "'s"].iter().any(|e| w.ends_with(e)))
    };
    words.iter().take(2).any(|w| plural_or_mass(w))
}

/// Whether `his` at `start..end` of `text` is a determiner (→ "her") or stands alone (→ "hers").
pub fn his_role(text: &str, _start: usize, end: usize) -> Role {
    match next_word(text, end) {
        None => Role::Object,
        Some(w) if HIS_ALONE_FOLLOWERS.contains(&w.as_str()) => Role::Object,
        Some(_) => Role::Possessive,
    }
}

/// Bare verbs and predicative adjectives that often follow an object `her` after the verbs of
/// [`OBJECT_VERBS`] ("let her go", "made her happy"), and past forms that do in informal text
/// ("helped her fixed"). Nouns that may follow a possessive are not listed.
fn looks_like_verb_or_adjective(w: &str) -> bool {
    const WORDS: &[&str] = &[
        "go",
        "come",
        "stay",
        "leave",
        "win",
        "know",
        "feel",
        "get",
        "be",
        "do",
        "make",
        "take",
        "see",
        "fix",
        "finish",
        "enjoy",
        "pay",
        "buy",
        "sign",
        "wait",
        "sit",
        "stand",
        "speak",
        "talk",
        "sing",
        "dance",
        "cry",
        "laugh",
        "smile",
        "sleep",
        "eat",
        "drink",
        "think",
        "understand",
        "decide",
        "choose",
        "try",
        "use",
        "learn",
        "read",
        "write",
        "stop",
        "keep",
        "happy",
        "sad",
        "angry",
        "upset",
        "safe",
        "comfortable",
        "welcome",
        "uncomfortable",
        "nervous",
        "proud",
        "sick",
        "better",
        "worse",
        "good",
        "bad",
        "luck",
        "well",
        "alive",
        "free",
        "responsible",
        "famous",
        "rich",
        "ready",
        "aware",
        "sure",
        "identify",
        "settle",
        "move",
        "find",
        "right",
        "wrong",
        "bad",
        "prepare",
        "pass",
        "solve",
        "carry",
        "clean",
        "cook",
        "open",
        "close",
        "call",
        "check",
        "change",
        "fill",
        "look",
        "return",
    ];
    WORDS.contains(&w) || (w.len() > 4 && w.ends_with("ed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn her(s: &str) -> Role {
        let at = s.find("her").unwrap();
        her_role(s, at, at + 3)
    }

    #[test]
    fn object_her() {
        for s in [
            "I saw her.",
            "gave her a book",
            "asked her to leave",
            "told her that",
            "spoke to her quickly",
            "drove her home",
            "let her go",
            "wished her happy birthday",
            "make her less trusting",
            "gave her advice",
            "sold her new shoes",
            "proved her right",
            "with her, and",
            "her",
        ] {
            assert_eq!(her(s), Role::Object, "{s}");
        }
    }

    #[test]
    fn possessive_her() {
        for s in [
            "her book",
            "her own way",
            "her first film",
            "her family",
            "her lovely dress",
            "her in-laws",
            "to her house",
            "saw her mother",
            "her home in Paris",
            "her two sons",
            "she gave her orders",
            "gave her book to John",
            "sold her house",
        ] {
            assert_eq!(her(s), Role::Possessive, "{s}");
        }
    }

    #[test]
    fn his_alone_or_determiner() {
        let his = |s: &str| {
            let at = s.find("his").unwrap();
            his_role(s, at, at + 3)
        };
        assert_eq!(his("the book is his."), Role::Object);
        assert_eq!(his("it is his to keep"), Role::Object);
        assert_eq!(his("his book"), Role::Possessive);
        assert_eq!(his("his own"), Role::Possessive);
    }
}
