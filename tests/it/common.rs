//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use debias::pipeline::{self, ScanOptions};
use debias::report::Report;
use debias::rules::{self, RuleSet};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// The BOLD Wikipedia sentences of the shared data directory.
pub fn bold() -> PathBuf {
    let p = repo().join("../shared/data/bold/bold_wikipedia.jsonl");
    assert!(
        p.exists(),
        "{} is missing: the shared data directory is needed by the tests",
        p.display()
    );
    p
}

pub fn pets_rules() -> RuleSet {
    rules::load(&fixture("pets.yaml")).expect("fixture rules are valid")
}

/// Rules from YAML text written to `dir/rules.yaml`.
pub fn rules_text(dir: &Path, yaml: &str) -> RuleSet {
    let p = dir.join("rules.yaml");
    std::fs::write(&p, yaml).unwrap();
    rules::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

pub fn scan(
    rules: &RuleSet,
    inputs: &[&Path],
    opts: &ScanOptions,
) -> (Report, pipeline::ScanOutcome) {
    let inputs: Vec<String> = inputs
        .iter()
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    let outcome =
        pipeline::scan(rules, &inputs, opts).unwrap_or_else(|e| panic!("scan failed: {e}"));
    (Report::build(rules, &outcome), outcome)
}

pub fn scan_err(rules: &RuleSet, inputs: &[&Path]) -> String {
    let inputs: Vec<String> = inputs
        .iter()
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    match pipeline::scan(rules, &inputs, &ScanOptions::default()) {
        Ok(_) => panic!("the scan of {inputs:?} should have failed"),
        Err(e) => e.to_string(),
    }
}

/// The report as JSON without the list of input files (which names paths).
pub fn figures(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    v.as_object_mut().unwrap().remove("inputs");
    v
}

/// Runs the debias binary.
pub fn debias(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_debias"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the debias binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The figures of group `key` (`axis/group`) in a report.
pub fn group<'a>(r: &'a Report, key: &str) -> &'a debias::report::GroupReport {
    r.axes
        .iter()
        .flat_map(|a| &a.groups)
        .find(|g| g.key == key)
        .unwrap_or_else(|| panic!("no group {key}"))
}

pub fn axis<'a>(r: &'a Report, name: &str) -> &'a debias::report::AxisReport {
    r.axes
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no axis {name}"))
}
