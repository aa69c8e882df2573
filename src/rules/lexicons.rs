//! Lexicons named in a rule file: a built-in by name, or a lexicon file beside the rules (for
//! `axes:`, `attributes:` and `person:` alike).

use std::path::{Path, PathBuf};

use super::yaml::{self, Kind, Node, Reader};
use crate::lexicon::{self, Lexicon, LexiconKind};

/// A node with no place in the file, for problems of the whole section.
pub(super) fn dummy_node() -> Node {
    Node {
        kind: Kind::Null,
        line: 0,
        column: 0,
    }
}

/// Reads lexicon `name`: a built-in name, or a path (relative to the rule file's directory) to
/// a lexicon file; `kind` names the built-ins suggested when the name is unknown.
pub(super) fn load_lexicon(
    r: &mut Reader<'_>,
    name: &str,
    at: &Node,
    key: &str,
    base_dir: &Path,
    kind: LexiconKind,
) -> Option<Lexicon> {
    if let Some(b) = lexicon::builtin(name) {
        return match lexicon::load_builtin(b) {
            Ok(l) => Some(l),
            Err(ds) => {
                for d in ds {
                    r.push(d);
                }
                None
            }
        };
    }
    if name.ends_with(".yaml") || name.ends_with(".yml") || name.contains('/') {
        let path: PathBuf = base_dir.join(name);
        let display = path.display().to_string();
        let text = match super::read_rule_file(&path).and_then(|b| {
            String::from_utf8(b)
                .map_err(|e| format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()))
        }) {
            Ok(t) => t,
            Err(e) => {
                r.error_help(
                    at,
                    key,
                    format!("cannot read lexicon file {display}: {e}"),
                    Some("lexicon paths are relative to the rule file"),
                );
                return None;
            }
        };
        let mut ds = Vec::new();
        let parsed = lexicon::parse(&display, &text, None, &mut ds);
        let failed = !ds.is_empty();
        for d in ds {
            r.push(d);
        }
        return parsed.filter(|_| !failed);
    }
    let names = lexicon::builtin_names(kind);
    let what = match kind {
        LexiconKind::Axis => "axes",
        LexiconKind::Attribute => "attribute lexicons",
        LexiconKind::Person => "person lexicons",
    };
    let help = match yaml::nearest(name, &names) {
        Some(n) => format!(
            "did you mean `{n}`? built-in {what}: {}; or give a path to a lexicon file (ending in .yaml)",
            names.join(", ")
        ),
        None => format!(
            "built-in {what}: {}; or give a path to a lexicon file (ending in .yaml)",
            names.join(", ")
        ),
    };
    r.error_help(at, key, format!("unknown lexicon `{name}`"), Some(help));
    None
}
