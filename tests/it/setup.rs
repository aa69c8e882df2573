//! The README's two set-up commands share one build: `cargo run` (the binary, default features)
//! and `cargo test --features hub` must see every crate they both use with the same features, or
//! the second compiles that crate again, and with it everything above it (DataFusion).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The features of every normal dependency in one build configuration, from `cargo tree`.
fn features(args: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--offline",
            "--prefix",
            "none",
            "--format",
            "{p} {f}",
        ])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut parts = line.split(' ');
        let (Some(name), Some(version)) = (parts.next(), parts.next()) else {
            continue;
        };
        let feats = parts
            .find(|p| !p.starts_with('(') && !p.is_empty())
            .unwrap_or("");
        map.entry(format!("{name} {version}"))
            .or_default()
            .extend(feats.split(',').filter(|f| !f.is_empty()).map(String::from));
    }
    map
}

#[test]
fn the_run_and_the_test_build_share_their_dependencies() {
    let run = features(&["-e", "normal"]);
    let test = features(&["-e", "normal,dev", "--features", "hub"]);
    let differ: Vec<String> = run
        .iter()
        .filter(|(k, _)| !k.starts_with("debias "))
        .filter_map(|(k, f)| {
            let t = test.get(k)?;
            (t != f).then(|| format!("{k}: run {f:?}, test {t:?}"))
        })
        .collect();
    assert!(run.keys().any(|k| k.starts_with("datafusion ")), "{run:?}");
    assert!(
        differ.is_empty(),
        "crates built with other features by `cargo test --features hub` than by `cargo run` \
         (each is compiled twice, and DataFusion above it); name them with those features in \
         Cargo.toml's [dependencies]:\n{}",
        differ.join("\n")
    );
}
