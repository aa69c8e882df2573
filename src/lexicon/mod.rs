//! Lexicons: groups of terms (the built-in ones under `rules/lexicons/`, or a user's file),
//! how their terms expand into the surface forms that are matched, and the matcher itself.
//!
//! The file format is documented in `rules/lexicons/README.md`; this module is its reader.

mod inflect;
pub mod matcher;

use indexmap::IndexMap;

use crate::error::Diagnostic;
use crate::rules::yaml::{self, Node, Reader};

pub use inflect::surface_forms;
pub use matcher::{Hit, Matcher};

/// What a lexicon's groups are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LexiconKind {
    /// Demographic groups whose representation is measured (gender, religion, ...).
    Axis,
    /// Context terms whose association with the groups is measured (occupations, ...).
    Attribute,
}

/// Where a term or rule was written, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: String,
    pub line: u64,
    pub column: u64,
}

impl Loc {
    pub fn of(file: &str, node: &Node) -> Self {
        Loc {
            file: file.to_owned(),
            line: node.line,
            column: node.column,
        }
    }
}

/// One term of a group, as written (lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The term, lower case, single spaces.
    pub text: String,
    /// Whether the regular plural is matched too (`terms:`), or only the form as written (`exact:`).
    pub plural: bool,
    pub at: Loc,
}

/// The terms of one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupTerms {
    pub description: Option<String>,
    pub terms: Vec<Term>,
}

/// When an ambiguous term counts. All conditions that are set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ContextRule {
    /// Only when written with a capital first letter.
    pub capitalized: bool,
    /// Only when the next word is one of these (lower case).
    pub next_word: Vec<String>,
    /// Only when the previous word is one of these.
    pub prev_word: Vec<String>,
    /// Not when the next word is one of these.
    pub not_next_word: Vec<String>,
    /// Not when the previous word is one of these.
    pub not_prev_word: Vec<String>,
}

/// A lexicon read from its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Lexicon {
    pub name: String,
    pub kind: LexiconKind,
    pub description: String,
    pub sources: Vec<String>,
    pub groups: IndexMap<String, GroupTerms>,
    /// Context rules by term text.
    pub context: IndexMap<String, ContextRule>,
    pub notes: Vec<String>,
    /// Axes whose terms do not count inside this lexicon's longer terms (`shadows:`): e.g.
    /// race_ethnicity's `chinese american` is not also nationality's `chinese` and `american`.
    /// Terms of other axes inside a longer term still count (`woman` inside age's `young woman`).
    pub shadows: Vec<String>,
    /// The file it came from (`<built-in>/NAME.yaml` for shipped lexicons).
    pub origin: String,
}

/// A lexicon shipped inside the binary.
#[derive(Debug)]
pub struct Builtin {
    pub name: &'static str,
    pub kind: LexiconKind,
    /// Part of the rules when a rule file names no axes / attributes.
    pub default: bool,
    pub yaml: &'static str,
}

macro_rules! builtin {
    ($name:literal, $kind:ident, $default:literal) => {
        Builtin {
            name: $name,
            kind: LexiconKind::$kind,
            default: $default,
            yaml: include_str!(concat!("../../rules/lexicons/", $name, ".yaml")),
        }
    };
}

/// Every built-in lexicon, in the order reports list them.
pub static BUILTINS: &[Builtin] = &[
    builtin!("gender", Axis, true),
    builtin!("gender_identity", Axis, true),
    builtin!("sexual_orientation", Axis, true),
    builtin!("race_ethnicity", Axis, true),
    builtin!("religion", Axis, true),
    builtin!("age", Axis, true),
    builtin!("nationality", Axis, true),
    builtin!("disability", Axis, true),
    builtin!("gender_first_names", Axis, false),
    builtin!("occupations", Attribute, true),
    builtin!("sentiment", Attribute, true),
    builtin!("traits", Attribute, true),
    builtin!("family_career", Attribute, true),
];

/// The built-in lexicon called `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Names of the built-in lexicons of a kind.
pub fn builtin_names(kind: LexiconKind) -> Vec<&'static str> {
    BUILTINS
        .iter()
        .filter(|b| b.kind == kind)
        .map(|b| b.name)
        .collect()
}

/// Reads a built-in lexicon. Built-ins are checked by the test suite, so a failure is a bug.
pub fn load_builtin(b: &Builtin) -> Result<Lexicon, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let origin = format!("<built-in>/{}.yaml", b.name);
    let lex = parse(&origin, b.yaml, Some(b.name), &mut diags);
    match lex {
        Some(l) if diags.is_empty() => Ok(l),
        _ => Err(diags),
    }
}

const LEXICON_KEYS: &[&str] = &[
    "name",
    "kind",
    "description",
    "sources",
    "groups",
    "context",
    "notes",
    "shadows",
];
const GROUP_KEYS: &[&str] = &["description", "terms", "exact"];
const CONTEXT_KEYS: &[&str] = &[
    "term",
    "capitalized",
    "next_word",
    "prev_word",
    "not_next_word",
    "not_prev_word",
];

/// Parses a lexicon file. `expected_name`, when given, must equal the `name:` key (built-ins
/// and files are named after their file stem).
pub fn parse(
    origin: &str,
    text: &str,
    expected_name: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Lexicon> {
    let root = match yaml::parse(origin, text) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let mut r = Reader::new(origin, diags);
    let f = r.fields(&root, "", LEXICON_KEYS)?;
    let name = match f.get("name") {
        Some(n) => {
            let name = r.string(n, "name").unwrap_or_default();
            if let Some(exp) = expected_name
                && name != exp
            {
                r.error(n, "name", format!("the lexicon is called `{name}` but its file is `{exp}.yaml`; use the same name"));
            }
            name
        }
        None => {
            r.error(&root, "name", "missing key `name`");
            expected_name.unwrap_or_default().to_owned()
        }
    };
    let kind = match f.get("kind") {
        Some(n) => match r.choice(n, "kind", &["axis", "attribute"]) {
            Some("attribute") => LexiconKind::Attribute,
            _ => LexiconKind::Axis,
        },
        None => LexiconKind::Axis,
    };
    let description = f
        .get("description")
        .and_then(|n| r.string(n, "description"))
        .unwrap_or_default();
    let sources = f
        .get("sources")
        .map(|n| r.strings(n, "sources").into_iter().map(|s| s.0).collect())
        .unwrap_or_default();
    let shadows: Vec<String> = f
        .get("shadows")
        .map(|n| r.strings(n, "shadows").into_iter().map(|s| s.0).collect())
        .unwrap_or_default();
    let notes = f
        .get("notes")
        .map(|n| r.strings(n, "notes").into_iter().map(|s| s.0).collect())
        .unwrap_or_default();
    let mut groups = IndexMap::new();
    match f.get("groups") {
        Some(g) => {
            for (gname, gkey, gnode) in r.entries(g, "groups") {
                let key = format!("groups.{gname}");
                if !valid_name(gname) {
                    r.error(
                        gkey,
                        &key,
                        format!(
                            "invalid group name `{gname}`: use lower-case letters, digits and _"
                        ),
                    );
                }
                if let Some(terms) = read_group(&mut r, gnode, &key) {
                    groups.insert(gname.to_owned(), terms);
                }
            }
            if groups.is_empty() {
                r.error(g, "groups", "a lexicon needs at least one group");
            }
        }
        None => r.error(&root, "groups", "missing key `groups`"),
    }
    let mut context = IndexMap::new();
    if let Some(c) = f.get("context") {
        let items: &[Node] = match &c.kind {
            yaml::Kind::Seq(items) => items,
            yaml::Kind::Null => &[],
            _ => {
                r.error(
                    c,
                    "context",
                    format!("expected a list of rules, found {}", c.type_name()),
                );
                &[]
            }
        };
        for (i, item) in items.iter().enumerate() {
            let key = format!("context[{i}]");
            if let Some((term, rule)) = read_context(&mut r, item, &key) {
                let known = groups
                    .values()
                    .any(|g: &GroupTerms| g.terms.iter().any(|t| t.text == term));
                if !known {
                    r.error(item, &key, format!("context rule for `{term}`, which is not a term of any group of this lexicon"));
                } else if context.insert(term.clone(), rule).is_some() {
                    r.error(
                        item,
                        &key,
                        format!("a second context rule for `{term}`; merge them into one"),
                    );
                }
            }
        }
    }
    Some(Lexicon {
        name,
        kind,
        description,
        sources,
        groups,
        context,
        notes,
        shadows,
        origin: origin.to_owned(),
    })
}

/// Reads a group: either a list of terms (plurals matched) or a mapping with `terms`/`exact`.
pub(crate) fn read_group(r: &mut Reader<'_>, node: &Node, key: &str) -> Option<GroupTerms> {
    let mut out = GroupTerms::default();
    if let yaml::Kind::Seq(_) = node.kind {
        push_terms(r, node, key, true, &mut out.terms);
        return Some(out);
    }
    let f = r.fields(node, key, GROUP_KEYS)?;
    out.description = f
        .get("description")
        .and_then(|n| r.string(n, &format!("{key}.description")));
    if let Some(n) = f.get("terms") {
        push_terms(r, n, &format!("{key}.terms"), true, &mut out.terms);
    }
    if let Some(n) = f.get("exact") {
        push_terms(r, n, &format!("{key}.exact"), false, &mut out.terms);
    }
    Some(out)
}

fn push_terms(r: &mut Reader<'_>, node: &Node, key: &str, plural: bool, out: &mut Vec<Term>) {
    for (s, n) in r.strings(node, key) {
        match normalize_term(&s) {
            Ok(text) => out.push(Term {
                text,
                plural,
                at: Loc::of(r.file(), n),
            }),
            Err(msg) => r.error(n, key, msg),
        }
    }
}

/// Lower-cases a term and collapses its whitespace; rejects terms that can never match.
pub fn normalize_term(s: &str) -> Result<String, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.is_empty() {
        return Err("empty term".into());
    }
    let t = words.join(" ").to_lowercase();
    if !t.chars().any(|c| c.is_alphanumeric()) {
        return Err(format!("term `{s}` has no letters or digits"));
    }
    Ok(t)
}

pub(crate) fn read_context(
    r: &mut Reader<'_>,
    node: &Node,
    key: &str,
) -> Option<(String, ContextRule)> {
    let f = r.fields(node, key, CONTEXT_KEYS)?;
    let term = match f.get("term") {
        Some(n) => match normalize_term(&r.string(n, &format!("{key}.term"))?) {
            Ok(t) => t,
            Err(e) => {
                r.error(n, &format!("{key}.term"), e);
                return None;
            }
        },
        None => {
            r.error(node, key, "missing key `term`");
            return None;
        }
    };
    let mut rule = ContextRule::default();
    if let Some(n) = f.get("capitalized") {
        rule.capitalized = r.boolean(n, &format!("{key}.capitalized")).unwrap_or(false);
    }
    let mut words = |name: &str| -> Vec<String> {
        f.get(name)
            .map(|n| {
                r.strings(n, &format!("{key}.{name}"))
                    .into_iter()
                    .map(|(s, _)| s.to_lowercase())
                    .collect()
            })
            .unwrap_or_default()
    };
    rule.next_word = words("next_word");
    rule.prev_word = words("prev_word");
    rule.not_next_word = words("not_next_word");
    rule.not_prev_word = words("not_prev_word");
    if rule == ContextRule::default() {
        r.error(
            node,
            key,
            format!("the context rule for `{term}` sets no condition"),
        );
    }
    Some((term, rule))
}

/// Group, axis and lexicon names: lower-case ASCII letters, digits and `_`, starting with a letter.
pub fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_lexicon_loads_and_has_no_term_in_two_groups() {
        for b in BUILTINS {
            let lex = load_builtin(b).unwrap_or_else(|d| {
                panic!(
                    "{}: {}",
                    b.name,
                    d.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
            assert_eq!(lex.kind, b.kind, "{}", b.name);
            let mut seen = std::collections::HashMap::new();
            for (g, terms) in &lex.groups {
                for t in &terms.terms {
                    for form in surface_forms(&t.text, t.plural) {
                        if let Some(other) = seen.insert(form.to_lowercase(), g.clone())
                            && &other != g
                        {
                            panic!(
                                "{}: `{form}` (from `{}`) is in groups {other} and {g}",
                                b.name, t.text
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn builtin_lexicons_have_real_size() {
        for b in BUILTINS.iter().filter(|b| b.default) {
            let lex = load_builtin(b).unwrap();
            let n: usize = lex.groups.values().map(|g| g.terms.len()).sum();
            assert!(n >= 40, "{} has only {n} terms", b.name);
        }
    }

    #[test]
    fn lexicon_errors_are_located_and_collected() {
        let text = "name: x\nkind: axes\ngroups:\n  Female: [she]\n  male:\n    terms: [he]\n    plural: true\ncontext:\n  - term: it\n    capitalized: true\n";
        let mut diags = Vec::new();
        parse("x.yaml", text, Some("x"), &mut diags);
        let msgs: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(msgs.len(), 4, "{msgs:#?}");
        assert!(msgs[0].starts_with("x.yaml:2:7: kind: unknown value `axes`"));
        assert!(msgs[1].starts_with("x.yaml:4:3: groups.Female: invalid group name"));
        assert!(msgs[2].starts_with("x.yaml:7:5: groups.male: unknown key `plural`"));
        assert!(msgs[3].starts_with("x.yaml:9:5: context[0]: context rule for `it`"));
    }
}
