//! The command line: the README's commands, report destinations, `rules check`, exit codes.

use super::common::*;

#[test]
fn readme_example_runs_with_the_default_rules() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let o = debias(&[
        "scan",
        "examples/news_sample.jsonl",
        "--report",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], "debias-report");
    assert_eq!(json["version"], 2);
    assert!(json["rows"]["scanned"].as_u64().unwrap() > 0);
    assert!(
        std::fs::read_to_string(out.join("report.md"))
            .unwrap()
            .starts_with("# Skew report")
    );
    // A second run refuses to overwrite, and leaves the report as it was.
    let o = debias(&[
        "scan",
        "examples/news_sample.jsonl",
        "--report",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--overwrite"));
}

#[test]
fn project_rules_with_where_and_url_sources() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = debias(&[
        "scan",
        "examples/news_sample.jsonl",
        "--rules",
        "examples/news-sample.yaml",
        "--report",
        out.to_str().unwrap(),
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(
        json["rows"]["excluded_by_where"].as_u64().unwrap() > 0,
        "the sample has non-English rows"
    );
    assert_eq!(json["sources"]["kind"], "url_domain");
    assert!(!dir.path().join("r.md").exists());
}

#[test]
fn markdown_goes_to_stdout_without_report() {
    let o = debias(&[
        "scan",
        "tests/fixtures/tiny.jsonl",
        "--rules",
        "tests/fixtures/pets.yaml",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(md.contains("## pets"), "{md}");
    assert!(stderr(&o).is_empty());
}

#[test]
fn rules_check_accepts_every_shipped_rule_file() {
    let mut files = vec![
        "rules/default.yaml".to_string(),
        "tests/fixtures/pets.yaml".into(),
        "examples/news-sample.yaml".into(),
    ];
    for e in std::fs::read_dir(repo().join("rules/examples")).unwrap() {
        files.push(format!(
            "rules/examples/{}",
            e.unwrap().file_name().to_string_lossy()
        ));
    }
    assert!(files.len() >= 5);
    let args: Vec<&str> = std::iter::once("rules")
        .chain(std::iter::once("check"))
        .chain(files.iter().map(String::as_str))
        .collect();
    let o = debias(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn rules_check_reports_every_problem_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(
        &f,
        "version: 1\naxes:\n  gender:\n    lexicon: [gender]\n  religion:\n    groups:\n      jedi: [jedi]\n    patterns:\n      jedi: ['(unclosed']\ntargets:\n  gender: {female: 0.5, male: 0.4, non_binary: 0.05}\n  race: parity\n",
    )
    .unwrap();
    let o = debias(&["rules", "check", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let p = f.display().to_string();
    // Unknown key with a suggestion, at line 4 column 5.
    assert!(
        e.contains(&format!("{p}:4:5")) && e.contains("lexicons"),
        "{e}"
    );
    // Invalid regex.
    assert!(
        e.contains(&format!("{p}:9:")) && e.contains("invalid regex"),
        "{e}"
    );
    // Shares that do not sum to 1.
    assert!(e.contains("shares sum to 0.95, expected 1.0"), "{e}");
    // Unknown axis in targets.
    assert!(
        e.contains(&format!("{p}:12:3")) && e.contains("no axis `race`"),
        "{e}"
    );
    assert!(e.contains("nothing was read from the corpus"), "{e}");
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.jsonl");
    std::fs::write(&f, "{\"body\": \"x\"}\n").unwrap();
    let out = dir.path().join("report");
    let o = debias(&[
        "scan",
        f.to_str().unwrap(),
        "--report",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no text column"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn lexicons_are_listed_and_printed() {
    let o = debias(&["lexicons"]);
    assert!(o.status.success());
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(s.contains("gender") && s.contains("occupations"));
    let o = debias(&["lexicons", "religion"]);
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .starts_with("name: religion")
    );
}
