//! The `person:` section: the words for people that `person` context rules look for.
//!
//! ```yaml
//! person:
//!   lexicons: [person, occupations]   # default: the built-in person lexicon and occupations
//!   first_names: true                 # default: gender_first_names' names count as people
//!   words: [crewmate, teammate]       # more nouns for people
//! ```

use std::path::Path;

use super::lexicons::{dummy_node, load_lexicon};
use super::yaml::{Node, Reader};
use crate::lexicon::context::PersonWords;
use crate::lexicon::{self, Lexicon, LexiconKind, surface_forms};

const PERSON_KEYS: &[&str] = &["lexicons", "first_names", "words"];

/// The lexicons read when `person.lexicons` is not given.
const DEFAULT_LEXICONS: &[&str] = &["person", "occupations"];

/// The compiled `person:` section.
#[derive(Debug, Default)]
pub(super) struct PersonRules {
    pub(super) words: PersonWords,
}

/// Reads the `person:` section (every key optional).
pub(super) fn read(r: &mut Reader<'_>, node: Option<&Node>, base_dir: &Path) -> PersonRules {
    let f = node.and_then(|n| r.fields(n, "person", PERSON_KEYS));
    let get = |k: &str| f.as_ref().and_then(|f| f.get(k));
    let lexicons: Vec<(String, Node)> = match get("lexicons") {
        Some(n) => r
            .strings(n, "person.lexicons")
            .into_iter()
            .map(|(s, n)| (s, n.clone()))
            .collect(),
        None => DEFAULT_LEXICONS
            .iter()
            .map(|s| (s.to_string(), dummy_node()))
            .collect(),
    };
    let first_names = get("first_names")
        .and_then(|n| r.boolean(n, "person.first_names"))
        .unwrap_or(true);
    let extra: Vec<String> = get("words")
        .map(|n| {
            r.strings(n, "person.words")
                .into_iter()
                .map(|(s, _)| s)
                .collect()
        })
        .unwrap_or_default();
    let mut nouns = Vec::new();
    let mut pronouns = Vec::new();
    let mut heads = Vec::new();
    for (name, at) in &lexicons {
        let Some(lex) = load_lexicon(
            r,
            name,
            at,
            "person.lexicons",
            base_dir,
            LexiconKind::Person,
        ) else {
            continue;
        };
        add_words(&lex, &mut nouns, &mut pronouns, &mut heads);
    }
    for w in &extra {
        match lexicon::normalize_term(w) {
            Ok(t) => nouns.extend(heads_of(&t, true)),
            Err(e) => r.error(get("words").unwrap_or(&dummy_node()), "person.words", e),
        }
    }
    let mut names = Vec::new();
    if first_names
        && let Some(b) = lexicon::builtin("gender_first_names")
        && let Ok(lex) = lexicon::load_builtin(b)
    {
        names.extend(
            lex.groups
                .values()
                .flat_map(|g| g.terms.iter().map(|t| t.text.clone())),
        );
    }
    PersonRules {
        words: PersonWords::new(nouns, pronouns, names).with_heads(heads),
    }
}

/// The nouns of a lexicon, and in a person lexicon the `pronouns` and the `head_only` nouns
/// (which count only at the end of a noun phrase): every one-word term with its plural; of a
/// multi-word term of a person lexicon, its last word ("officer" of "police officer").
/// Multi-word terms of other lexicons are left out: their last word is not always a noun for
/// people ("notary public", "au pair").
fn add_words(
    lex: &Lexicon,
    nouns: &mut Vec<String>,
    pronouns: &mut Vec<String>,
    heads: &mut Vec<String>,
) {
    for (g, terms) in &lex.groups {
        for t in &terms.terms {
            if lex.kind == LexiconKind::Person && g == "pronouns" {
                pronouns.push(t.text.clone());
            } else if lex.kind == LexiconKind::Person && g == "head_only" {
                heads.extend(heads_of(&t.text, t.plural));
            } else if lex.kind == LexiconKind::Person || !t.text.contains([' ', '-']) {
                nouns.extend(heads_of(&t.text, t.plural));
            }
        }
    }
}

/// The surface forms of the last word of `term`.
fn heads_of(term: &str, plural: bool) -> Vec<String> {
    let last = term.rsplit([' ', '-']).next().unwrap_or(term);
    surface_forms(last, plural)
}
