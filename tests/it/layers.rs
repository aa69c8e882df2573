//! The house's layers (issue 18): every `crate::` import of the library points down this list,
//! never up or sideways, and only `pipeline` names DataFusion (with one parse-only exception,
//! `rules/sql.rs`). The CLI is in the binary (`src/main.rs`), above all of it.

use std::collections::BTreeSet;
use std::path::Path;

/// Top-level modules, from the top floor down; modules on one floor may not import each other.
const FLOORS: &[&[&str]] = &[
    &["pipeline"],
    &["report"],
    &["apply"],
    &["eval", "rules"],
    &["augment", "detect"],
    &["lexicon"],
    &["embed", "artifact", "yaml"],
    &["corpus", "units", "interval", "hash"],
    &["alloc", "error"],
];

fn floor(module: &str) -> usize {
    FLOORS
        .iter()
        .position(|f| f.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` has no floor in tests/it/layers.rs"))
}

/// Every `.rs` file under `dir`, with its path relative to `root`.
fn sources(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(root, &p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn imports_point_down_the_layers() {
    let root = super::common::repo().join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let mut wrong = BTreeSet::new();
    for (rel, text) in &files {
        let module = rel.split('/').next().unwrap().trim_end_matches(".rs");
        if ["main", "lib", "cli"].contains(&module) {
            continue;
        }
        // Tests may reach anywhere.
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() || name == module {
                continue;
            }
            if floor(&name) <= floor(module) {
                wrong.insert(format!(
                    "{rel} imports `{name}`, which is not below `{module}`"
                ));
            }
        }
        if !rel.starts_with("pipeline/") && rel != "rules/sql.rs" && code.contains("datafusion::") {
            wrong.insert(format!("{rel} names DataFusion outside `pipeline`"));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that do not point down the layers:\n{}",
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
    // The library does not export the command line.
    let lib = std::fs::read_to_string(root.join("lib.rs")).unwrap();
    assert!(!lib.contains("mod cli"), "the CLI belongs to the binary");
}
