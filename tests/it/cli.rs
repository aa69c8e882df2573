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

/// Issue 17's gates: `scan --check` exits 3 when a gate fails (the report is still written), 0
/// when all pass; `debias check` reads an `apply` output's filter audit for `min_retention`, a
/// baseline for `max_share_change`, and writes JUnit XML; rules without gates are a usage error.
#[test]
fn gates_fail_a_pipeline_with_exit_3_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(bold()).unwrap();
    let input = dir.path().join("bold.jsonl");
    std::fs::write(
        &input,
        src.lines().take(4000).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let input = input.to_str().unwrap();
    let rules = |name: &str, yaml: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, yaml).unwrap();
        p.to_str().unwrap().to_owned()
    };
    // Fewer women than men, and no target: the parity ratio is well below 0.95 and above 0.2.
    let strict = rules(
        "strict.yaml",
        "version: 1\naxes: {gender: {}}\ngates:\n  min_parity_ratio: {gender: 0.95}\n  min_coverage: 0.05\n",
    );
    let loose = rules(
        "loose.yaml",
        "version: 1\naxes: {gender: {}}\ngates:\n  min_parity_ratio: {gender: 0.2}\n",
    );
    let report = dir.path().join("r.json");
    let o = debias(&[
        "scan",
        input,
        "-q",
        "--rules",
        &strict,
        "--check",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("FAIL min_parity_ratio gender: 0."), "{err}");
    assert!(err.contains("PASS min_coverage gender"), "{err}");
    assert!(
        err.contains("gates: 1 passed, 1 failed, 0 skipped"),
        "{err}"
    );
    assert!(
        report.is_file(),
        "the report is written before the gates are checked"
    );
    let o = debias(&["check", report.to_str().unwrap(), "--rules", &loose]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // No gates: a usage error, before anything is read.
    let o = debias(&["scan", input, "-q", "--check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no `gates:` section"), "{}", stderr(&o));

    // An apply output: a filter that removes actresses only, against a retention gate.
    let apply_rules = rules(
        "apply.yaml",
        "version: 1\naxes: {gender: {}}\nactions:\n  - drop: {name: no_actresses, terms: [actress, actresses]}\n\
         gates:\n  min_retention: {gender: 0.9}\n  max_share_change: 0.01\n",
    );
    let out = dir.path().join("out");
    let o = debias(&[
        "apply",
        input,
        "-q",
        "--rules",
        &apply_rules,
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let junit = dir.path().join("gates.xml");
    let o = debias(&[
        "check",
        out.to_str().unwrap(),
        "--rules",
        &apply_rules,
        "--baseline",
        out.join("report/before.json").to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("FAIL min_retention gender: ") && err.contains("no_actresses"),
        "{err}"
    );
    // The female share drops by more than a point from before to after.
    assert!(err.contains("FAIL max_share_change gender/"), "{err}");
    // `debias scan` on the apply output reads its data files, not its manifest and reports, and
    // finds the rows of its after-report.
    let rescan = dir.path().join("rescan.json");
    let o = debias(&[
        "scan",
        out.to_str().unwrap(),
        "-q",
        "--rules",
        &apply_rules,
        "--report",
        rescan.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |p: &std::path::Path| debias::report::Report::load(p).unwrap();
    let (again, after) = (read(&rescan), read(&out.join("report/after.json")));
    assert_eq!(again.rows.scanned, after.rows.scanned);
    assert!(
        again
            .inputs
            .iter()
            .all(|f| f.path.starts_with(out.join("data")))
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("tests"), Some("2"));
    assert_eq!(suite.attribute("failures"), Some("2"));
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count(),
        2
    );
}

/// Progress: a bar with its phase, percent and ETA in a pseudo-terminal (`script`, where
/// installed); without a terminal, plain lines or JSON objects, ending at 100% of the input's
/// bytes.
#[test]
fn progress_shows_phase_percent_and_eta() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let bold = bold();
    let args = |fmt: &str| {
        vec![
            "scan".to_owned(),
            bold.to_str().unwrap().to_owned(),
            "--overwrite".to_owned(),
            "--log-format".to_owned(),
            fmt.to_owned(),
            "--report".to_owned(),
            report.to_str().unwrap().to_owned(),
        ]
    };
    let run = |a: &[String]| debias(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(&args("text"));
    assert!(o.status.success(), "{}", stderr(&o));
    let size = std::fs::metadata(&bold).unwrap().len() as f64 / 1e6;
    assert!(
        stderr(&o).contains(&format!("scanning: 100.0% ({size:.1} MB of {size:.1} MB")),
        "{}",
        stderr(&o)
    );
    let o = run(&args("json"));
    let lines: Vec<serde_json::Value> = stderr(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines[0]["event"], "phase_done");
    assert_eq!(lines[0]["phase"], "scanning");
    assert_eq!(
        lines[0]["total_bytes"],
        std::fs::metadata(&bold).unwrap().len()
    );
    assert_eq!(lines.last().unwrap()["event"], "done");
    assert_eq!(lines.last().unwrap()["documents"], 23679);
    // In a pseudo-terminal: the bar.
    let Ok(script) = std::process::Command::new("script")
        .arg("--version")
        .output()
    else {
        eprintln!("SKIPPED the pseudo-terminal check: no `script` (util-linux)");
        return;
    };
    assert!(script.status.success());
    let cmd = format!(
        "{} {}",
        env!("CARGO_BIN_EXE_debias"),
        args("text").join(" ")
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("scanning [") && out.contains("% ") && out.contains("ETA"),
        "{out}"
    );
}

/// `-` reads JSONL from standard input: the same figures as the file, ids `stdin.jsonl#ROW`,
/// and nothing left in the temporary directory. `--text-column`, `--id-column` and `-o`
/// override the rules and name the report; a report with an unknown extension is refused.
#[test]
fn standard_input_columns_and_output_flags() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let sample = repo().join("examples/news_sample.jsonl");
    let from_file = dir.path().join("file.json");
    let o = debias(&[
        "scan",
        sample.to_str().unwrap(),
        "-q",
        "-o",
        from_file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let from_stdin = dir.path().join("stdin.json");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_debias"))
        .args(["scan", "-", "-q", "--report", from_stdin.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&sample).unwrap())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let (a, b) = (
        debias::report::Report::load(&from_file).unwrap(),
        debias::report::Report::load(&from_stdin).unwrap(),
    );
    assert_eq!(figures(&a), figures(&b));
    let spooled = &b.inputs[0].path;
    assert!(spooled.ends_with("stdin.jsonl"), "{}", spooled.display());
    assert!(!spooled.exists(), "the spooled input is removed");
    // Nothing on standard input: a usage error, and no temporary file left.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_debias"))
        .args(["scan", "-", "-q"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("standard input is empty"),
        "{}",
        stderr(&o)
    );
    // Columns from the command line.
    let corpus = dir.path().join("cols.jsonl");
    std::fs::write(
        &corpus,
        "{\"body\":\"She is a nurse.\",\"key\":\"a1\"}\n{\"body\":\"He is a doctor.\",\"key\":\"a2\"}\n",
    )
    .unwrap();
    let attrs = dir.path().join("attrs");
    let out = dir.path().join("cols.json");
    let o = debias(&[
        "scan",
        corpus.to_str().unwrap(),
        "-q",
        "--text-column",
        "body",
        "--id-column",
        "key",
        "-o",
        out.to_str().unwrap(),
        "--attributes",
        attrs.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = debias::report::Report::load(&out).unwrap();
    assert_eq!(group(&r, "gender/female").documents, 1);
    assert_eq!(group(&r, "gender/male").documents, 1);
    let o = debias(&[
        "scan",
        corpus.to_str().unwrap(),
        "-q",
        "--text-column",
        "body",
        "--id-column",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no id column `nope`"), "{}", stderr(&o));
    let pdf = dir.path().join("r.pdf");
    let o = debias(&[
        "scan",
        corpus.to_str().unwrap(),
        "-q",
        "--text-column",
        "body",
        "-o",
        pdf.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not .pdf"), "{}", stderr(&o));
    assert!(!pdf.exists());
    // Completions and the man page.
    let o = debias(&["completions", "bash"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("_debias()"));
    let o = debias(&["manpage"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains(".TH debias 1"));
}

/// The README's set-up example and the examples that follow it on the same files (`apply` on
/// the shipped sample, `report render`, `report diff`) run word for word, in order, in a fresh
/// directory, and the `apply` example runs without a warning (issue 24).
#[test]
fn readme_examples_run_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut commands: Vec<String> = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let cmd = line.split(" #").next().unwrap().trim();
        let wanted = cmd.starts_with("cargo run -- scan examples/")
            || cmd.starts_with("debias apply examples/")
            || cmd.starts_with("debias report render report/")
            || cmd.starts_with("debias report render out/")
            || cmd.starts_with("debias report diff out/");
        if wanted {
            commands.push(cmd.replacen("cargo run --", "debias", 1));
        }
    }
    assert!(
        commands.len() >= 5,
        "README examples not found: {commands:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    for d in ["examples", "rules"] {
        std::os::unix::fs::symlink(repo().join(d), dir.path().join(d)).unwrap();
    }
    for cmd in &commands {
        let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_debias"))
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.success(), "`{cmd}` failed: {}", stderr(&o));
        if cmd.starts_with("debias apply") {
            assert!(!stderr(&o).contains("warning"), "`{cmd}`: {}", stderr(&o));
        }
    }
}
