//! The `axes:` and `attributes:` sections: which lexicons each axis starts from, what the rule
//! file adds, removes and changes, and the compiled [`Detector`] (every term of every axis in one
//! matcher, with the words for people that `person` context rules look for).

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;

use super::lexicons::{dummy_node, load_lexicon};
use super::person::PersonRules;

/// Keys of an axis or attribute lexicon definition.
const AXIS_KEYS: &[&str] = &[
    "description",
    "lexicons",
    "groups",
    "remove",
    "drop_groups",
    "context",
    "patterns",
    "ages",
];
use super::yaml::{self, Kind, Node, Reader};
use crate::detect::{Axis, Detector, Group, GroupId, PatternTerm, Taxonomy, TermId, TermInfo};
use crate::error::Diagnostic;
use crate::lexicon::context::{AgeRule, age_anchors, age_bands};
use crate::lexicon::{
    self, ContextRule, GroupTerms, LexiconKind, Loc, RuleTarget, matcher::MatcherBuilder,
    surface_forms,
};

/// A term with where it was written and the context rule it is under.
#[derive(Debug, Clone)]
pub(super) struct SpecTerm {
    text: String,
    plural: bool,
    at: Loc,
}

#[derive(Debug, Default)]
pub(super) struct AxisSpec {
    pub(super) name: String,
    pub(super) kind: Option<LexiconKind>,
    description: String,
    lexicons: Vec<String>,
    pub(super) groups: IndexMap<String, (Option<String>, Vec<SpecTerm>)>,
    context: HashMap<String, ContextRule>,
    /// Rules for every term of a group without a rule of its own.
    group_context: HashMap<String, ContextRule>,
    /// Numeric ages by group (`ages:`).
    ages: IndexMap<String, (u32, u32)>,
    patterns: Vec<(String, regex::Regex)>,
    notes: Vec<String>,
    /// Axes whose forms do not count inside this axis's longer forms.
    shadows: Vec<String>,
}

#[derive(Debug, Default)]
pub(super) struct TaxonomyBuilder {
    pub(super) axes: Vec<AxisSpec>,
}

impl TaxonomyBuilder {
    pub(super) fn axis_index(&self, name: &str) -> Option<usize> {
        self.axes.iter().position(|a| a.name == name)
    }

    /// Compiles groups, terms and the matcher; reports terms claimed by two groups of an axis.
    pub(super) fn build(self, r: &mut Reader<'_>, people: PersonRules) -> Option<Detector> {
        let mut tax = Taxonomy::default();
        let mut mb = MatcherBuilder::new();
        mb.people(people.words);
        let mut patterns = Vec::new();
        let mut errors = Vec::new();
        for (ai, spec) in self.axes.iter().enumerate() {
            for other in &spec.shadows {
                if let Some(bi) = self.axis_index(other) {
                    mb.shadow(ai as u32, bi as u32);
                }
            }
            let first = tax.groups.len() as GroupId;
            // surface form -> (group name, term, where) within this axis
            let mut claimed: HashMap<String, (&str, &SpecTerm)> = HashMap::new();
            for (gname, (gdesc, terms)) in &spec.groups {
                let gid = tax.groups.len() as GroupId;
                tax.groups.push(Group {
                    axis: ai,
                    name: gname.clone(),
                    key: format!("{}/{}", spec.name, gname),
                    description: gdesc.clone(),
                });
                let mut seen_terms: HashMap<&str, TermId> = HashMap::new();
                for t in terms {
                    let tid = *seen_terms.entry(&t.text).or_insert_with(|| {
                        tax.terms.push(TermInfo {
                            group: gid,
                            text: t.text.clone(),
                        });
                        (tax.terms.len() - 1) as TermId
                    });
                    let rule = spec
                        .context
                        .get(&t.text)
                        .or_else(|| spec.group_context.get(gname));
                    let ctx = rule.map(|c| mb.context(c));
                    for form in surface_forms(&t.text, t.plural) {
                        if let Some((other_group, other)) = claimed.get(&form) {
                            if *other_group != gname.as_str() {
                                errors.push(Diagnostic {
                                    file: t.at.file.clone(),
                                    line: t.at.line,
                                    column: t.at.column,
                                    key: format!("{}.{}", spec.name, gname),
                                    message: format!(
                                        "`{form}` (from term `{}`) is also in group `{other_group}` of axis `{}` ({}:{}:{})",
                                        t.text, spec.name, other.at.file, other.at.line, other.at.column
                                    ),
                                    help: Some(format!("a term can belong to only one group of an axis: keep it in one of them; to take it out of a built-in group write `remove: {{{other_group}: [{}]}}` under the axis", other.text)),
                                });
                            }
                            continue;
                        }
                        claimed.insert(form.clone(), (gname.as_str(), t));
                        mb.add_form(&form, tid, ctx, ai as u32, is_inflection(&form, &t.text));
                    }
                }
            }
            add_ages(spec, ai, first, &mut tax, &mut mb);
            for (gname, re) in &spec.patterns {
                let Some(pos) = spec.groups.get_index_of(gname) else {
                    continue;
                };
                tax.terms.push(TermInfo {
                    group: first + pos as GroupId,
                    text: format!("/{}/", re.as_str()),
                });
                patterns.push(PatternTerm {
                    regex: re.clone(),
                    term: (tax.terms.len() - 1) as TermId,
                });
            }
            tax.axes.push(Axis {
                name: spec.name.clone(),
                kind: spec.kind.unwrap_or(LexiconKind::Axis),
                description: spec.description.clone(),
                lexicons: spec.lexicons.clone(),
                groups: first..tax.groups.len() as GroupId,
                notes: spec.notes.clone(),
            });
        }
        if tax.groups.len() > GroupId::MAX as usize {
            r.error(&dummy_node(), "axes", "more than 65535 groups in all");
            return None;
        }
        let had_errors = !errors.is_empty();
        for e in errors {
            r.push(e);
        }
        if had_errors {
            return None;
        }
        let matcher = match mb.build() {
            Ok(m) => m,
            Err(e) => {
                r.error(&dummy_node(), "axes", e);
                return None;
            }
        };
        Some(Detector::new(tax, matcher, patterns))
    }
}

/// Whether `form` is an inflection of `term` (its plural), not the term itself written with
/// other separators.
fn is_inflection(form: &str, term: &str) -> bool {
    form.replace('-', " ") != term.replace('-', " ")
}

/// The numeric ages of an axis (`ages:`): one term per age group (`(age 18-34)`), the anchors
/// that find a number ("year-old", "aged", "in her 20s", "Smith, 30,"), and the fixed age bands
/// ("under-10s").
fn add_ages(
    spec: &AxisSpec,
    ai: usize,
    first: GroupId,
    tax: &mut Taxonomy,
    mb: &mut MatcherBuilder,
) {
    if spec.ages.is_empty() {
        return;
    }
    let mut ranges = Vec::new();
    for (g, &(lo, hi)) in &spec.ages {
        let Some(pos) = spec.groups.get_index_of(g) else {
            continue;
        };
        tax.terms.push(TermInfo {
            group: first + pos as GroupId,
            text: format!("(age {lo}-{hi})"),
        });
        ranges.push((lo, hi, (tax.terms.len() - 1) as u32));
    }
    let Some(&(_, _, any)) = ranges.first() else {
        return;
    };
    for (form, plural, anchor) in age_anchors() {
        let rule = mb.age_rule(AgeRule {
            anchor,
            ranges: ranges.clone(),
        });
        for f in surface_forms(&form, plural) {
            mb.add_form(&f, any, Some(rule), ai as u32, is_inflection(&f, &form));
        }
    }
    for (form, age) in age_bands() {
        let Some(&(_, _, term)) = ranges.iter().find(|&&(lo, hi, _)| lo <= age && age <= hi) else {
            continue;
        };
        for f in surface_forms(&form, false) {
            mb.add_form(&f, term, None, ai as u32, false);
        }
    }
}

pub(super) fn read_axes(
    r: &mut Reader<'_>,
    node: Option<&Node>,
    kind: LexiconKind,
    base_dir: &Path,
    out: &mut TaxonomyBuilder,
) {
    let section = match kind {
        LexiconKind::Axis => "axes",
        _ => "attributes",
    };
    let Some(node) = node else {
        // Not given: every built-in lexicon of this kind that is on by default.
        for b in lexicon::BUILTINS
            .iter()
            .filter(|b| b.kind == kind && b.default)
        {
            let mut spec = AxisSpec {
                name: b.name.to_owned(),
                kind: Some(kind),
                ..Default::default()
            };
            add_lexicon(r, &mut spec, b.name, &dummy_node(), section, base_dir, kind);
            out.axes.push(spec);
        }
        return;
    };
    for (name, key_node, value) in r.entries(node, section) {
        let key = format!("{section}.{name}");
        if !lexicon::valid_name(name) {
            r.error(
                key_node,
                &key,
                format!("invalid name `{name}`: use lower-case letters, digits and _"),
            );
            continue;
        }
        if let Some(i) = out.axis_index(name) {
            r.error(key_node, &key, format!("`{name}` is defined twice (as an axis and as an attribute lexicon, or twice in {})", if out.axes[i].kind == Some(kind) { section } else { "axes and attributes" }));
            continue;
        }
        let mut spec = AxisSpec {
            name: name.to_owned(),
            kind: Some(kind),
            ..Default::default()
        };
        read_axis(r, &mut spec, key_node, value, &key, base_dir, kind);
        out.axes.push(spec);
    }
}

fn read_axis(
    r: &mut Reader<'_>,
    spec: &mut AxisSpec,
    key_node: &Node,
    node: &Node,
    key: &str,
    base_dir: &Path,
    kind: LexiconKind,
) {
    let Some(f) = r.fields(node, key, AXIS_KEYS) else {
        return;
    };
    if let Some(d) = f
        .get("description")
        .and_then(|n| r.string(n, &format!("{key}.description")))
    {
        spec.description = d;
    }
    // lexicons: which lexicons the axis starts from (default: the built-in of the same name).
    match f.get("lexicons") {
        Some(n) => {
            for (name, item) in r.strings(n, &format!("{key}.lexicons")) {
                add_lexicon(r, spec, &name, item, key, base_dir, kind);
            }
        }
        None => {
            if lexicon::builtin(&spec.name).is_some() {
                let name = spec.name.clone();
                add_lexicon(r, spec, &name, key_node, key, base_dir, kind);
            }
        }
    }
    // drop_groups: groups of the lexicons left out.
    if let Some(n) = f.get("drop_groups") {
        for (g, item) in r.strings(n, &format!("{key}.drop_groups")) {
            if spec.groups.shift_remove(&g).is_none() {
                unknown_group(r, spec, item, &format!("{key}.drop_groups"), &g);
            }
        }
    }
    // remove: terms taken out of groups.
    if let Some(n) = f.get("remove") {
        read_axis_remove(r, spec, n, key);
    }
    // groups: new groups, or terms added to the lexicon's groups.
    if let Some(n) = f.get("groups") {
        read_axis_groups(r, spec, n, key);
    }
    // context: rules for ambiguous terms, added to or replacing the lexicons' rules.
    if let Some(n) = f.get("context") {
        read_axis_context(r, spec, n, key);
    }
    // ages: numeric ages counted by range (replaces the lexicons' ranges).
    if let Some(n) = f.get("ages") {
        let groups: Vec<String> = spec.groups.keys().cloned().collect();
        spec.ages = lexicon::read_ages(r, n, &format!("{key}.ages"), |g| {
            groups.iter().any(|x| x == g)
        });
    }
    // patterns: regular expressions counted as mentions of a group.
    if let Some(n) = f.get("patterns") {
        let pkey = format!("{key}.patterns");
        for (g, gkey, list) in r.entries(n, &pkey) {
            if !spec.groups.contains_key(g) {
                unknown_group(r, spec, gkey, &pkey, g);
                continue;
            }
            for (p, pn) in r.strings(list, &format!("{pkey}.{g}")) {
                match regex::RegexBuilder::new(&p).case_insensitive(true).size_limit(1 << 22).build() {
                    Ok(re) if re.is_match("") => r.error_help(pn, &format!("{pkey}.{g}"), "the pattern matches empty text, so it would count a mention everywhere", Some("make it match at least one character, e.g. `\\bpostcode \\d+` rather than `\\d*`")),
                    Ok(re) => spec.patterns.push((g.to_owned(), re)),
                    Err(e) => r.error_help(pn, &format!("{pkey}.{g}"), format!("invalid regex: {}", e.to_string().lines().last().unwrap_or_default()), Some("patterns use Rust regex syntax (https://docs.rs/regex), matched case-insensitively")),
                }
            }
        }
    }
    if spec.groups.is_empty() {
        let builtins = lexicon::builtin_names(kind);
        // A new axis without groups is most often a misspelt built-in (`gendr: {}`).
        let help = match yaml::nearest(&spec.name, &builtins) {
            Some(n) => format!(
                "did you mean the built-in `{n}`? Otherwise name a lexicon with `lexicons: [...]` or give the groups with `groups:`"
            ),
            None => format!(
                "name a lexicon with `lexicons: [...]` (built-in: {}) or give the groups with `groups:`",
                builtins.join(", ")
            ),
        };
        r.error_help(
            key_node,
            key,
            format!("`{}` has no groups", spec.name),
            Some(help),
        );
    }
}

/// An axis's `groups:` section: new groups, or terms added to the lexicons' groups.
fn read_axis_groups(r: &mut Reader<'_>, spec: &mut AxisSpec, n: &Node, key: &str) {
    let gkey_base = format!("{key}.groups");
    for (g, gkey, gnode) in r.entries(n, &gkey_base) {
        let gk = format!("{gkey_base}.{g}");
        if !lexicon::valid_name(g) {
            r.error(
                gkey,
                &gk,
                format!("invalid group name `{g}`: use lower-case letters, digits and _"),
            );
            continue;
        }
        if let Some(GroupTerms { description, terms }) = lexicon::read_group(r, gnode, &gk) {
            let entry = spec.groups.entry(g.to_owned()).or_default();
            if description.is_some() {
                entry.0 = description;
            }
            entry.1.extend(terms.into_iter().map(|t| SpecTerm {
                text: t.text,
                plural: t.plural,
                at: t.at,
            }));
        }
    }
}

/// An axis's `remove:` section: terms taken out of its groups.
fn read_axis_remove(r: &mut Reader<'_>, spec: &mut AxisSpec, n: &Node, key: &str) {
    let rkey = format!("{key}.remove");
    for (g, gkey, terms) in r.entries(n, &rkey) {
        let list = r.strings(terms, &format!("{rkey}.{g}"));
        let Some((_, group_terms)) = spec.groups.get_mut(g) else {
            unknown_group(r, spec, gkey, &rkey, g);
            continue;
        };
        for (t, tn) in list {
            let t = lexicon::normalize_term(&t).unwrap_or(t);
            let before = group_terms.len();
            group_terms.retain(|x| x.text != t);
            if group_terms.len() == before {
                r.error(
                    tn,
                    &format!("{rkey}.{g}"),
                    format!("`{t}` is not a term of group `{g}`, so it cannot be removed"),
                );
            }
        }
    }
}

/// An axis's `context:` list: rules for ambiguous terms, added to or replacing the lexicons'
/// rules; a rule names terms of the axis, or one of its groups.
fn read_axis_context(r: &mut Reader<'_>, spec: &mut AxisSpec, n: &Node, key: &str) {
    let ckey = format!("{key}.context");
    let items: &[Node] = match &n.kind {
        Kind::Seq(items) => items,
        _ => {
            r.error(
                n,
                &ckey,
                format!("expected a list of rules, found {}", n.type_name()),
            );
            &[]
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ik = format!("{ckey}[{i}]");
        let Some((applies, rule)) = lexicon::read_context(r, item, &ik) else {
            continue;
        };
        match applies {
            RuleTarget::Terms(terms) => {
                for term in terms {
                    let known = spec
                        .groups
                        .values()
                        .any(|(_, ts)| ts.iter().any(|t| t.text == term));
                    if seen.contains(&term) {
                        // (A rule here replacing the built-in lexicon's rule is the point of
                        // the key; two rules for one term in this file are a mistake.)
                        r.error_help(
                            item,
                            &ik,
                            format!("a second context rule for `{term}`"),
                            Some("merge the two rules into one"),
                        );
                    } else if known {
                        seen.push(term.clone());
                        spec.context.insert(term, rule.clone());
                    } else {
                        r.error(
                            item,
                            &ik,
                            format!(
                                "context rule for `{term}`, which is not a term of any group of `{}`",
                                spec.name
                            ),
                        );
                    }
                }
            }
            RuleTarget::Group(g) => {
                if spec.groups.contains_key(&g) {
                    spec.group_context.insert(g, rule);
                } else {
                    unknown_group(r, spec, item, &ik, &g);
                }
            }
        }
    }
}

fn unknown_group(r: &mut Reader<'_>, spec: &AxisSpec, node: &Node, key: &str, g: &str) {
    let names: Vec<&str> = spec.groups.keys().map(String::as_str).collect();
    let help = match yaml::nearest(g, &names) {
        Some(n) => format!(
            "did you mean `{n}`? groups of `{}`: {}",
            spec.name,
            names.join(", ")
        ),
        None => format!("groups of `{}`: {}", spec.name, names.join(", ")),
    };
    r.error_help(
        node,
        key,
        format!("`{}` has no group `{g}`", spec.name),
        Some(help),
    );
}

/// Adds lexicon `name` (a built-in name, or a path to a lexicon file) to an axis.
fn add_lexicon(
    r: &mut Reader<'_>,
    spec: &mut AxisSpec,
    name: &str,
    at: &Node,
    key: &str,
    base_dir: &Path,
    kind: LexiconKind,
) {
    let Some(lex) = load_lexicon(r, name, at, key, base_dir, kind) else {
        return;
    };
    if lex.kind != kind {
        let list_under = match lex.kind {
            LexiconKind::Axis => "`axes`",
            LexiconKind::Attribute => "`attributes`",
            LexiconKind::Person => "`person.lexicons`",
        };
        r.error_help(
            at,
            key,
            format!("lexicon `{}` is of kind `{}`", lex.name, lex.kind.name()),
            Some(format!("list it under {list_under} instead")),
        );
        return;
    }
    if spec.description.is_empty() {
        spec.description = lex.description.clone();
    }
    spec.lexicons.push(name.to_owned());
    spec.notes.extend(lex.notes.iter().cloned());
    spec.shadows.extend(lex.shadows.iter().cloned());
    for (g, terms) in lex.groups {
        let entry = spec.groups.entry(g).or_default();
        if entry.0.is_none() {
            entry.0 = terms.description;
        }
        entry.1.extend(terms.terms.into_iter().map(|t| SpecTerm {
            text: t.text,
            plural: t.plural,
            at: t.at,
        }));
    }
    for (t, rule) in lex.context {
        spec.context.entry(t).or_insert(rule);
    }
    for (g, rule) in lex.group_context {
        spec.group_context.entry(g).or_insert(rule);
    }
    for (g, range) in lex.ages {
        spec.ages.entry(g).or_insert(range);
    }
}
