//! YAML read into a tree that remembers where each value was written, so that every problem in a
//! rule or lexicon file can be reported at its `file:line:column`, all problems at once.
//!
//! serde-derived structs stop at the first error; reading the tree by hand lets validation go on
//! and collect every unknown key, wrong type and bad value in one pass.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::error::Diagnostic;

/// A YAML value with the place it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub line: u64,
    pub column: u64,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    /// A whole number above `i64::MAX` (seeds take any u64).
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short name of the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "nothing",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::UInt(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The text of a scalar, for messages.
    pub fn scalar_text(&self) -> String {
        match &self.kind {
            Kind::Null => "null".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::UInt(u) => u.to_string(),
            Kind::Float(x) => x.to_string(),
            Kind::Str(s) => s.clone(),
            Kind::Seq(_) => "[...]".into(),
            Kind::Map(_) => "{...}".into(),
        }
    }
}

struct Inner(Kind);

impl<'de> Deserialize<'de> for Inner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Inner;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Inner, E> {
                Ok(Inner(Kind::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Inner, E> {
                Ok(Inner(Kind::Int(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Inner, E> {
                Ok(Inner(match i64::try_from(v) {
                    Ok(i) => Kind::Int(i),
                    Err(_) => Kind::UInt(v),
                }))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Inner, E> {
                Ok(Inner(Kind::Float(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Inner, E> {
                Ok(Inner(Kind::Str(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Inner, E> {
                Ok(Inner(Kind::Str(v)))
            }
            fn visit_unit<E>(self) -> Result<Inner, E> {
                Ok(Inner(Kind::Null))
            }
            fn visit_none<E>(self) -> Result<Inner, E> {
                Ok(Inner(Kind::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Inner, D::Error> {
                Inner::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Inner, A::Error> {
                let mut v = Vec::new();
                while let Some(n) = a.next_element::<Node>()? {
                    v.push(n);
                }
                Ok(Inner(Kind::Seq(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Inner, A::Error> {
                let mut v = Vec::new();
                while let Some(k) = a.next_key::<Node>()? {
                    let val = a.next_value::<Node>()?;
                    v.push((k, val));
                }
                Ok(Inner(Kind::Map(v)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<Inner>::deserialize(d)?;
        Ok(Node {
            kind: s.value.0,
            line: s.referenced.line(),
            column: s.referenced.column(),
        })
    }
}

/// Parses YAML text into a [`Node`] tree; a syntax error becomes one located diagnostic.
pub fn parse(file: &str, text: &str) -> Result<Node, Diagnostic> {
    match serde_saphyr::from_str::<Node>(text) {
        Ok(n) => Ok(n),
        Err(e) => {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            Err(Diagnostic {
                file: file.to_owned(),
                line,
                column,
                key: String::new(),
                message: format!(
                    "invalid YAML: {}",
                    first_line_without_location(&e.to_string())
                ),
                help: None,
            })
        }
    }
}

/// serde-saphyr prints `error: line 2 column 1: message` followed by a snippet; keep the message.
fn first_line_without_location(s: &str) -> String {
    let first = s.lines().next().unwrap_or(s);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let msg = match first.find(": ") {
        Some(i) if first.starts_with("line ") => &first[i + 2..],
        _ => first,
    };
    msg.split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(msg)
        .to_owned()
}

/// Collects diagnostics for one file while its tree is read.
pub struct Reader<'a> {
    file: String,
    diags: &'a mut Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    pub fn new(file: impl Into<String>, diags: &'a mut Vec<Diagnostic>) -> Self {
        Reader {
            file: file.into(),
            diags,
        }
    }

    /// The file being read.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Records a problem found elsewhere (in another file), as it is.
    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Records a problem at `node`.
    pub fn error(&mut self, node: &Node, key: &str, message: impl Into<String>) {
        self.error_help(node, key, message, None::<String>);
    }

    /// Records a problem at `node` with a hint.
    pub fn error_help(
        &mut self,
        node: &Node,
        key: &str,
        message: impl Into<String>,
        help: Option<impl Into<String>>,
    ) {
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line: node.line,
            column: node.column,
            key: key.to_owned(),
            message: message.into(),
            help: help.map(Into::into),
        });
    }

    /// Reads a mapping whose keys must be among `allowed`. Unknown keys are reported (with the
    /// nearest valid key); `None` when `node` is not a mapping (reported too). A null node
    /// (`key:` with nothing after it) reads as an empty mapping.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        key: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let entries: &'n [(Node, Node)] = match &node.kind {
            Kind::Map(m) => m,
            Kind::Null => &[],
            _ => {
                self.error(
                    node,
                    key,
                    format!("expected a mapping, found {}", node.type_name()),
                );
                return None;
            }
        };
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Kind::Str(name) = &k.kind else {
                self.error(
                    k,
                    key,
                    format!("keys must be strings, found {}", k.type_name()),
                );
                continue;
            };
            if allowed.contains(&name.as_str()) {
                out.push((name.as_str(), k, v));
            } else {
                let help = match nearest(name, allowed) {
                    Some(n) => format!("did you mean `{n}`? valid keys: {}", allowed.join(", ")),
                    None => format!("valid keys: {}", allowed.join(", ")),
                };
                self.error_help(k, key, format!("unknown key `{name}`"), Some(help));
            }
        }
        Some(Fields { entries: out })
    }

    /// Reads a mapping with free-form keys (group names, axis names), in file order.
    pub fn entries<'n>(&mut self, node: &'n Node, key: &str) -> Vec<(&'n str, &'n Node, &'n Node)> {
        match &node.kind {
            Kind::Map(m) => m
                .iter()
                .filter_map(|(k, v)| match &k.kind {
                    Kind::Str(s) => Some((s.as_str(), k, v)),
                    _ => {
                        self.error(
                            k,
                            key,
                            format!("keys must be strings, found {}", k.type_name()),
                        );
                        None
                    }
                })
                .collect(),
            Kind::Null => Vec::new(),
            _ => {
                self.error(
                    node,
                    key,
                    format!("expected a mapping, found {}", node.type_name()),
                );
                Vec::new()
            }
        }
    }

    pub fn string(&mut self, node: &Node, key: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) => Some(s.clone()),
            _ => {
                self.error(
                    node,
                    key,
                    format!("expected a string, found {}", node.type_name()),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &Node, key: &str) -> Option<bool> {
        match &node.kind {
            Kind::Bool(b) => Some(*b),
            _ => {
                self.error(
                    node,
                    key,
                    format!("expected true or false, found {}", node.type_name()),
                );
                None
            }
        }
    }

    pub fn number(&mut self, node: &Node, key: &str) -> Option<f64> {
        match &node.kind {
            Kind::Int(i) => Some(*i as f64),
            Kind::UInt(u) => Some(*u as f64),
            Kind::Float(x) if x.is_finite() => Some(*x),
            _ => {
                self.error(
                    node,
                    key,
                    format!("expected a number, found {}", node.type_name()),
                );
                None
            }
        }
    }

    pub fn count(&mut self, node: &Node, key: &str) -> Option<u64> {
        match &node.kind {
            Kind::Int(i) if *i >= 0 => Some(*i as u64),
            Kind::UInt(u) => Some(*u),
            _ => {
                self.error(
                    node,
                    key,
                    format!("expected a whole number >= 0, found {}", node.scalar_text()),
                );
                None
            }
        }
    }

    /// A size in bytes greater than 0: a number, or a string such as `8MiB` or `256MB`.
    pub fn size(&mut self, node: &Node, key: &str) -> Option<u64> {
        let size = match &node.kind {
            Kind::Int(i) if *i > 0 => Some(*i as u64),
            Kind::UInt(u) if *u > 0 => Some(*u),
            Kind::Str(s) => crate::units::parse_size(s).ok().map(|s| s as u64),
            _ => None,
        };
        match size {
            Some(s) if s > 0 => Some(s),
            _ => {
                self.error_help(
                    node,
                    key,
                    format!("`{}` is not a size", node.scalar_text()),
                    Some("a number of bytes or a size such as 8MiB"),
                );
                None
            }
        }
    }

    /// A list of strings, each with its node; a single string is read as a one-item list.
    pub fn strings<'n>(&mut self, node: &'n Node, key: &str) -> Vec<(String, &'n Node)> {
        match &node.kind {
            Kind::Seq(items) => items
                .iter()
                .filter_map(|n| self.string(n, key).map(|s| (s, n)))
                .collect(),
            Kind::Str(s) => vec![(s.clone(), node)],
            Kind::Null => Vec::new(),
            _ => {
                self.error(
                    node,
                    key,
                    format!("expected a list of strings, found {}", node.type_name()),
                );
                Vec::new()
            }
        }
    }

    /// A choice among fixed `choices`.
    pub fn choice<'c>(&mut self, node: &Node, key: &str, choices: &[&'c str]) -> Option<&'c str> {
        let s = self.string(node, key)?;
        match choices.iter().find(|c| **c == s) {
            Some(c) => Some(c),
            None => {
                self.error_help(
                    node,
                    key,
                    format!("unknown value `{s}`"),
                    Some(format!("choose one of: {}", choices.join(", "))),
                );
                None
            }
        }
    }
}

/// The known keys of a mapping, with their key and value nodes.
pub struct Fields<'n> {
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    /// The value node of `name`, if the key is present.
    pub fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries.iter().find(|e| e.0 == name).map(|e| e.2)
    }

    /// The key node of `name`, if present.
    pub fn key_node(&self, name: &str) -> Option<&'n Node> {
        self.entries.iter().find(|e| e.0 == name).map(|e| e.1)
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn nearest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_line_and_column() {
        let n = parse("t.yaml", "a: 1\nb:\n  c: [x, y]\n").unwrap();
        let Kind::Map(m) = &n.kind else { panic!() };
        let (k, v) = &m[1];
        assert_eq!((k.line, k.column), (2, 1));
        let Kind::Map(inner) = &v.kind else { panic!() };
        let Kind::Seq(items) = &inner[0].1.kind else {
            panic!()
        };
        assert_eq!((items[1].line, items[1].column), (3, 10));
    }

    #[test]
    fn unknown_keys_are_all_reported_with_a_suggestion() {
        let n = parse("t.yaml", "axes: {}\ntarget: {}\nreprot: {}\n").unwrap();
        let mut diags = Vec::new();
        let mut r = Reader::new("t.yaml", &mut diags);
        let f = r.fields(&n, "", &["axes", "targets", "report"]).unwrap();
        assert!(f.get("axes").is_some());
        assert_eq!(diags.len(), 2);
        assert_eq!(
            diags[0].to_string(),
            "t.yaml:2:1: unknown key `target`\n    help: did you mean `targets`? valid keys: axes, targets, report"
        );
        assert!(diags[1].to_string().contains("did you mean `report`"));
    }

    #[test]
    fn syntax_errors_are_located() {
        let d = parse("t.yaml", "a: 1\na: 2\n").unwrap_err();
        assert_eq!((d.line, d.column), (2, 1));
        assert_eq!(d.message, "invalid YAML: duplicate mapping key: a");
    }
}
