//! Lexicons: groups of terms (the built-in ones under `rules/lexicons/`, or a user's file),
//! how their terms expand into the surface forms that are matched, and the matcher itself.
//!
//! The file format is documented in `rules/lexicons/README.md`; this module is its reader.

pub mod context;
mod inflect;
pub mod matcher;
mod words;

use indexmap::IndexMap;

use crate::error::Diagnostic;
use crate::yaml::{self, Node, Reader};

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
    /// Words for people (nouns, pronouns, first names) that `person` context rules look for;
    /// not counted themselves.
    Person,
}

impl LexiconKind {
    /// The `kind:` value of a lexicon file.
    pub fn name(self) -> &'static str {
        match self {
            LexiconKind::Axis => "axis",
            LexiconKind::Attribute => "attribute",
            LexiconKind::Person => "person",
        }
    }
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
    /// Only where the term describes a person or people (`person:`), in the uses allowed; see
    /// [`context::PersonUse`].
    pub person: context::PersonUse,
    /// Only as where people come from (`origin: true`): "came from England", "immigrants from
    /// Syria", "born in Mexico", "the people of Iraq".
    pub origin: bool,
    /// Not as someone's offspring (`not_offspring: true`): "her children", "they had seven
    /// children", "a mother of two kids".
    pub not_offspring: bool,
    /// Only when written with a capital first letter.
    pub capitalized: bool,
    /// Not inside a title or name (`not_in_titles: true`): capitalised in the middle of a
    /// sentence next to another capitalised word ("Soulja Boy", "Young Thug", "the Americans
    /// with Disabilities Act"), unless that word is a first name ("Queen Elizabeth").
    pub not_in_titles: bool,
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
    /// Context rules for every term of a group that has no rule of its own, by group.
    pub group_context: IndexMap<String, ContextRule>,
    /// Numeric ages of people ("a 30-year-old", "aged 15", "in her 70s") counted in the group
    /// whose range (inclusive, in years) holds them (`ages:`).
    pub ages: IndexMap<String, (u32, u32)>,
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
    builtin!("person", Person, false),
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
    "ages",
    "notes",
    "shadows",
];
const GROUP_KEYS: &[&str] = &["description", "terms", "exact"];
const CONTEXT_KEYS: &[&str] = &[
    "term",
    "terms",
    "group",
    "person",
    "origin",
    "not_offspring",
    "capitalized",
    "not_in_titles",
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
        Some(n) => match r.choice(n, "kind", &["axis", "attribute", "person"]) {
            Some("attribute") => LexiconKind::Attribute,
            Some("person") => LexiconKind::Person,
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
    let (context, group_context) = match f.get("context") {
        Some(c) => read_lexicon_context(&mut r, c, &groups),
        None => Default::default(),
    };
    let ages = f
        .get("ages")
        .map(|n| read_ages(&mut r, n, "ages", |g| groups.contains_key(g)))
        .unwrap_or_default();
    Some(Lexicon {
        name,
        kind,
        description,
        sources,
        groups,
        context,
        group_context,
        ages,
        notes,
        shadows,
        origin: origin.to_owned(),
    })
}

/// Context rules by term or by group name.
type RulesByName = IndexMap<String, ContextRule>;

/// A lexicon's `context:` list: the rules of its terms, and of its groups.
fn read_lexicon_context(
    r: &mut Reader<'_>,
    c: &Node,
    groups: &IndexMap<String, GroupTerms>,
) -> (RulesByName, RulesByName) {
    let mut context = IndexMap::new();
    let mut group_context = IndexMap::new();
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
        let Some((applies, rule)) = read_context(r, item, &key) else {
            continue;
        };
        match applies {
            RuleTarget::Terms(terms) => {
                for term in terms {
                    let known = groups
                        .values()
                        .any(|g: &GroupTerms| g.terms.iter().any(|t| t.text == term));
                    if !known {
                        r.error(item, &key, format!("context rule for `{term}`, which is not a term of any group of this lexicon"));
                    } else if context.insert(term.clone(), rule.clone()).is_some() {
                        r.error(
                            item,
                            &key,
                            format!("a second context rule for `{term}`; merge them into one"),
                        );
                    }
                }
            }
            RuleTarget::Group(g) => {
                if !groups.contains_key(&g) {
                    let names: Vec<&str> = groups.keys().map(String::as_str).collect();
                    r.error(item, &key, format!("context rule for group `{g}`, which is not a group of this lexicon (groups: {})", names.join(", ")));
                } else if group_context.insert(g.clone(), rule).is_some() {
                    r.error(
                        item,
                        &key,
                        format!("a second context rule for group `{g}`; merge them into one"),
                    );
                }
            }
        }
    }
    (context, group_context)
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

/// What a context rule applies to: the terms it names (`term:` / `terms:`), or every term of a
/// group that has no rule of its own (`group:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTarget {
    Terms(Vec<String>),
    Group(String),
}

/// Reads one item of a `context:` list.
pub(crate) fn read_context(
    r: &mut Reader<'_>,
    node: &Node,
    key: &str,
) -> Option<(RuleTarget, ContextRule)> {
    let f = r.fields(node, key, CONTEXT_KEYS)?;
    let named = ["term", "terms", "group"]
        .iter()
        .filter(|k| f.get(k).is_some())
        .count();
    if named != 1 {
        r.error_help(
            node,
            key,
            if named == 0 { "a context rule needs `term`, `terms` or `group`" } else { "a context rule names its terms once: with `term`, `terms` or `group`" },
            Some("`term: black`, `terms: [black, white]`, or `group: older_adult` (every term of the group without a rule of its own)"),
        );
        return None;
    }
    let target = if let Some(n) = f.get("group") {
        RuleTarget::Group(r.string(n, &format!("{key}.group"))?)
    } else {
        let list = match (f.get("term"), f.get("terms")) {
            (Some(n), _) => vec![(r.string(n, &format!("{key}.term"))?, n)],
            (None, Some(n)) => r.strings(n, &format!("{key}.terms")),
            (None, None) => Vec::new(),
        };
        let mut terms = Vec::new();
        for (t, n) in list {
            match normalize_term(&t) {
                Ok(t) => terms.push(t),
                Err(e) => r.error(n, &format!("{key}.term"), e),
            }
        }
        if terms.is_empty() {
            return None;
        }
        RuleTarget::Terms(terms)
    };
    let mut rule = ContextRule::default();
    if let Some(n) = f.get("person") {
        rule.person = context::PersonUse::read(r, n, &format!("{key}.person"));
    }
    for (name, flag) in [
        ("origin", &mut rule.origin),
        ("not_offspring", &mut rule.not_offspring),
        ("capitalized", &mut rule.capitalized),
        ("not_in_titles", &mut rule.not_in_titles),
    ] {
        if let Some(n) = f.get(name) {
            *flag = r.boolean(n, &format!("{key}.{name}")).unwrap_or(false);
        }
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
        r.error(node, key, "the context rule sets no condition");
    }
    if rule.person.any() && rule.origin {
        r.error_help(
            node,
            key,
            "`person` and `origin` cannot both hold for one word",
            Some("`person` is for words said of people (french), `origin` for places people come from (france)"),
        );
    }
    Some((target, rule))
}

/// Reads `ages:` (group → `[from, to]` in years, inclusive); `known` tells which groups exist.
pub(crate) fn read_ages(
    r: &mut Reader<'_>,
    node: &Node,
    key: &str,
    known: impl Fn(&str) -> bool,
) -> IndexMap<String, (u32, u32)> {
    let mut out: IndexMap<String, (u32, u32)> = IndexMap::new();
    for (g, gkey, range) in r.entries(node, key) {
        let k = format!("{key}.{g}");
        if !known(g) {
            r.error(gkey, &k, format!("`{g}` is not a group of this lexicon"));
            continue;
        }
        let bounds: Vec<u64> = match &range.kind {
            yaml::Kind::Seq(items) if items.len() == 2 => {
                items.iter().filter_map(|n| r.count(n, &k)).collect()
            }
            _ => {
                r.error_help(
                    range,
                    &k,
                    format!(
                        "expected `[from, to]` in years, found {}",
                        range.type_name()
                    ),
                    Some("e.g. `young_adult: [18, 34]`"),
                );
                continue;
            }
        };
        let [lo, hi] = bounds[..] else { continue };
        if lo > hi || hi > 150 {
            r.error(
                range,
                &k,
                format!("the range [{lo}, {hi}] is empty or beyond 150 years"),
            );
            continue;
        }
        if let Some((other, _)) = out
            .iter()
            .find(|(_, (a, b))| lo as u32 <= *b && *a <= hi as u32)
        {
            r.error(range, &k, format!("the range [{lo}, {hi}] overlaps the range of `{other}`; an age belongs to one group"));
            continue;
        }
        out.insert(g.to_owned(), (lo as u32, hi as u32));
    }
    out
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
