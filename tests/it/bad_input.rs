//! Bad input gets a clear error naming the file, the line and the fix; nothing is written.

use debias::pipeline::ScanOptions;

use super::common::*;

#[test]
fn missing_text_column_lists_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.jsonl");
    std::fs::write(&f, "{\"id\": 1, \"body\": \"she\", \"lang\": \"en\"}\n").unwrap();
    let e = scan_err(&pets_rules(), &[&f]);
    assert!(e.contains("c.jsonl"), "{e}");
    assert!(e.contains("no text column `text`"), "{e}");
    assert!(e.contains("`id`, `body`, `lang`"), "{e}");
    assert!(e.contains("input.text_column"), "{e}");
}

#[test]
fn malformed_jsonl_line_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.jsonl");
    std::fs::write(
        &f,
        "{\"text\": \"she\"}\n{\"text\": \"he\"}\n{\"text\": \"oops\"\n{\"text\": \"her\"}\n",
    )
    .unwrap();
    let e = scan_err(&pets_rules(), &[&f]);
    assert!(e.contains("bad.jsonl:3"), "{e}");
    assert!(e.contains("malformed JSON"), "{e}");
    // Also inside a gzip file.
    let gz = dir.path().join("bad.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(&mut enc, &std::fs::read(&f).unwrap()).unwrap();
    enc.finish().unwrap();
    let e = scan_err(&pets_rules(), &[&gz]);
    assert!(e.contains("bad.jsonl.gz:3"), "{e}");
}

#[test]
fn invalid_utf8_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("latin1.jsonl");
    std::fs::write(
        &f,
        b"{\"text\": \"fine\"}\n{\"text\": \"caf\xe9 and she\"}\n".as_slice(),
    )
    .unwrap();
    let e = scan_err(&pets_rules(), &[&f]);
    assert!(e.contains("latin1.jsonl:2"), "{e}");
    assert!(e.contains("invalid UTF-8 at column 14"), "{e}");
    assert!(e.contains("iconv"), "{e}");
    let c = dir.path().join("latin1.csv");
    std::fs::write(&c, b"text\nfine\ncaf\xe9\n".as_slice()).unwrap();
    let e = scan_err(&pets_rules(), &[&c]);
    assert!(e.contains("latin1.csv:3"), "{e}");
}

#[test]
fn empty_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("empty.jsonl");
    std::fs::write(&f, "").unwrap();
    let e = scan_err(&pets_rules(), &[&f]);
    assert!(e.contains("the input is empty"), "{e}");
    let blank = dir.path().join("header_only.csv");
    std::fs::write(&blank, "id,text,source\n").unwrap();
    let e = scan_err(&pets_rules(), &[&blank]);
    assert!(e.contains("no rows"), "{e}");
    let none = dir.path().join("*.parquet");
    let e = scan_err(&pets_rules(), &[&none]);
    assert!(e.contains("no input files match"), "{e}");
    let missing = dir.path().join("nope.jsonl");
    let e = scan_err(&pets_rules(), &[&missing]);
    assert!(
        e.contains("nope.jsonl") && e.contains("no such file"),
        "{e}"
    );
    // An empty file next to real ones is skipped and reported, not an error.
    std::fs::copy(fixture("tiny.jsonl"), dir.path().join("tiny.jsonl")).unwrap();
    let (_, o) = scan(&pets_rules(), &[dir.path()], &ScanOptions::default());
    assert_eq!(o.empty_files.len(), 1);
}

#[test]
fn where_on_an_unknown_column_names_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_text(
        dir.path(),
        "version: 1\ninput:\n  where: \"lang = 'en'\"\naxes:\n  gender: {}\n",
    );
    let e = scan_err(&rules, &[&fixture("tiny.jsonl")]);
    assert!(e.contains("input.where"), "{e}");
    assert!(e.contains("`id`, `text`, `source`"), "{e}");
}

#[test]
fn a_text_column_of_numbers_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("n.jsonl");
    std::fs::write(&f, "{\"text\": 12}\n").unwrap();
    let e = scan_err(&pets_rules(), &[&f]);
    assert!(e.contains("holds Int64, not strings"), "{e}");
}

/// A term with no letter or digit in an augment group would match between every two characters
/// (and once made `apply` panic): `rules check` refuses it with its line, exit 2.
#[test]
fn augment_terms_without_a_letter_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for term in ["\"\"", "\" \"", "\"-\""] {
        let p = dir.path().join("rules.yaml");
        std::fs::write(
            &p,
            format!("actions:\n  - augment:\n      name: e\n      groups:\n        a: [{term}, q]\n        b: [x, z]\n"),
        )
        .unwrap();
        let out = debias(&["rules", "check", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{term}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("rules.yaml:5:13") && err.contains("has no letter or digit"),
            "{term}: {err}"
        );
    }
}

/// A `where` that is not a function of each row alone would break determinism: volatile and
/// stable functions give other rows each run, window functions depend on how the input is split
/// into files. Both are refused in `input.where` and in `drop.where`.
#[test]
fn where_must_judge_each_row_alone() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rules.yaml");
    for (yaml, line, said) in [
        (
            "input:\n  where: \"random() < 0.5\"\n",
            "rules.yaml:2:",
            "`random()` gives another value",
        ),
        (
            "input:\n  where: \"length(text) > 3 AND now() > '2020-01-01'\"\n",
            "rules.yaml:2:",
            "`now()`",
        ),
        (
            "input:\n  where: \"row_number() OVER () < 10\"\n",
            "rules.yaml:2:",
            "window function",
        ),
        (
            "actions:\n  - drop:\n      where: \"uuid() <> ''\"\n",
            "rules.yaml:3:",
            "`uuid()`",
        ),
        (
            "input:\n  where: \"count(*) > 1\"\n",
            "rules.yaml:2:",
            "aggregate function",
        ),
    ] {
        std::fs::write(&p, yaml).unwrap();
        let out = debias(&["rules", "check", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{yaml}");
        let err = stderr(&out);
        assert!(err.contains(line) && err.contains(said), "{yaml}: {err}");
    }
    std::fs::write(
        &p,
        "input:\n  where: \"lower(text) LIKE '%a%' AND length(text) > 3\"\n",
    )
    .unwrap();
    assert!(
        debias(&["rules", "check", p.to_str().unwrap()])
            .status
            .success()
    );
}

/// Rule and lexicon files are read only from regular files of bounded size: `/dev/zero` as a
/// lexicon once grew to gigabytes, and a FIFO hung forever. Both are refused at once (exit 2).
#[test]
fn rule_and_lexicon_files_must_be_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let mut specials = vec!["/dev/zero".to_owned()];
    if made.is_ok_and(|s| s.success()) {
        specials.push(fifo.display().to_string());
    }
    for special in specials {
        let p = dir.path().join("rules.yaml");
        std::fs::write(
            &p,
            format!("attributes:\n  x:\n    lexicons: [{special}]\n"),
        )
        .unwrap();
        let out = debias(&["rules", "check", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{special}");
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
        let out = debias(&["rules", "check", &special]);
        assert_eq!(out.status.code(), Some(2), "{special}");
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
    }
}

/// Two runs on one output: the second fails at once (exit 2) while the first holds the output's
/// lock, instead of both exiting 0 and the later silently replacing the earlier. A lock left by
/// a killed run (its process gone) is taken over.
#[test]
fn a_second_apply_on_the_same_output_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let lock = dir.path().join(".out.lock");
    let rules = repo().join("rules/examples/gender-cda.yaml");
    let input = repo().join("examples/news_sample.jsonl");
    let apply = || {
        debias(&[
            "apply",
            input.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "-q",
        ])
    };
    // A live run holds the lock (this test process stands for it).
    std::fs::write(&lock, std::process::id().to_string()).unwrap();
    let o = apply();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("another debias run"), "{}", stderr(&o));
    assert!(!out.exists(), "nothing written");
    // A lock whose process is gone is stale.
    std::fs::write(&lock, "4294967294").unwrap();
    let o = apply();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("manifest.json").exists());
    assert!(!lock.exists(), "the lock is released");
}

/// A CSV quote that is never closed used to swallow every later row silently; now the file is
/// refused with the line of the quote (exit 2).
#[test]
fn csv_unterminated_quote_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("q.csv");
    std::fs::write(&f, "id,text\n1,she\n2,\"he said\n3,ok\n4,fine\n").unwrap();
    let rules = debias::rules::default_rules().unwrap();
    let e = scan_err(&rules, &[&f]);
    assert!(e.contains("q.csv:3"), "{e}");
    assert!(e.contains("never closed"), "{e}");
    // Doubled quotes inside a field are not an open quote.
    std::fs::write(&f, "id,text\n1,\"a \"\"b\"\" c\"\n2,she\n").unwrap();
    let (r, _) = scan(&rules, &[&f], &ScanOptions::default());
    assert_eq!(r.rows.read, 2);
}

/// Command-line values that cannot be meant: `--threads 100000` never finished, an overflowing
/// `--memory-limit` was taken as the largest size, and `--report -` created a directory named
/// `-`. The first two are refused (exit 2); `-` is standard output.
#[test]
fn command_line_values_out_of_range() {
    let input = repo().join("examples/news_sample.jsonl");
    let input = input.to_str().unwrap();
    for (flag, value, said) in [
        ("--threads", "100000", "from 1 to 1024"),
        ("--threads", "0", "from 1 to 1024"),
        (
            "--memory-limit",
            "99999999999999999999TiB",
            "larger than any machine's memory",
        ),
    ] {
        let out = debias(&["scan", input, flag, value, "-q"]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&out).contains(said), "{}", stderr(&out));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_debias"))
        .args(["scan", input, "--report", "-", "--format", "json", "-q"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "debias-report");
    assert!(!dir.path().join("-").exists());
}

/// A JSONL file that starts with a byte order mark was called "malformed JSON"; the error now
/// names the BOM and how to remove it.
#[test]
fn jsonl_byte_order_mark_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bom.jsonl");
    std::fs::write(&f, "\u{feff}{\"text\": \"she\"}\n{\"text\": \"he\"}\n").unwrap();
    let e = scan_err(&pets_rules(), &[&f]);
    assert!(e.contains("bom.jsonl:1"), "{e}");
    assert!(e.contains("byte order mark"), "{e}");
}

/// `--output` inside an input directory was accepted, so the next run over that directory read
/// the output as input. It is refused before anything is read (exit 2).
#[test]
fn output_inside_an_input_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("examples/news_sample.jsonl"),
        dir.path().join("a.jsonl"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = debias(&[
        "apply",
        dir.path().to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("inside the input directory"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // A file in that directory as input is fine.
    let f = dir.path().join("a.jsonl");
    let o = debias(&[
        "apply",
        f.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `--report FILE` whose directory is missing was found only after the whole scan; it is now
/// refused before the corpus is read (exit 2).
#[test]
fn report_file_in_a_missing_directory_is_refused_first() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("missing/r.md");
    let input = repo().join("examples/news_sample.jsonl");
    let o = debias(&[
        "scan",
        input.to_str().unwrap(),
        "--report",
        target.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

/// `--seed` takes any u64, and so does the rule file's `seed` (values above i64::MAX were
/// refused); above u64 it is an error with its line.
#[test]
fn yaml_seed_takes_any_u64() {
    let dir = tempfile::tempdir().unwrap();
    let r = rules_text(dir.path(), "seed: 18446744073709551615\n");
    assert_eq!(r.apply.seed, u64::MAX);
    let p = dir.path().join("big.yaml");
    std::fs::write(&p, "seed: 18446744073709551616\n").unwrap();
    let o = debias(&["rules", "check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("big.yaml:1:7"), "{}", stderr(&o));
}

/// Two messages that contradicted themselves: `partition_by: [text]` said "no column `text`"
/// while listing it, and a JSONL of blank lines listed an empty set of columns.
#[test]
fn messages_that_contradicted_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("pb.yaml");
    std::fs::write(&rules, "output:\n  partition_by: [text]\n").unwrap();
    let input = repo().join("examples/news_sample.jsonl");
    let out = dir.path().join("out");
    let o = debias(&[
        "apply",
        input.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`text` is the text column"),
        "{}",
        stderr(&o)
    );
    let blank = dir.path().join("blank.jsonl");
    std::fs::write(&blank, "\n\n  \n").unwrap();
    let e = scan_err(&pets_rules(), &[&blank]);
    assert!(
        e.contains("blank.jsonl") && e.contains("holds no rows"),
        "{e}"
    );
}

/// Temporary directories left by killed runs (`.DEST.tmp-PID`) were never removed; the next run
/// on that output removes those whose process is gone, and says so.
#[test]
fn leftovers_of_killed_runs_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join(".out.tmp-4294967294");
    std::fs::create_dir_all(dead.join("data")).unwrap();
    std::fs::write(dead.join("data/part-00000.parquet"), b"partial").unwrap();
    let live = dir.path().join(format!(".out.tmp-{}", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    let input = repo().join("examples/news_sample.jsonl");
    let out = dir.path().join("out");
    let o = debias(&[
        "apply",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dead.exists(), "the dead run's directory is removed");
    assert!(
        stderr(&o).contains("left by a run that was stopped"),
        "{}",
        stderr(&o)
    );
    assert!(live.exists(), "a live process's directory is kept");
}

/// SIGTERM and SIGINT during `apply`: the temporary output and the lock are removed and the run
/// exits with 128 + the signal (143, 130); they used to stay behind as `.out.tmp-PID`.
#[test]
fn a_stopped_run_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.jsonl");
    let bold = std::fs::read(bold()).unwrap();
    std::fs::write(
        &input,
        [bold.as_slice(), bold.as_slice(), bold.as_slice()].concat(),
    )
    .unwrap();
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let out = dir.path().join("out");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_debias"))
            .args([
                "apply",
                input.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "-q",
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let tmp = dir.path().join(format!(".out.tmp-{}", child.id()));
        let started = std::time::Instant::now();
        while !tmp.exists() && started.elapsed() < std::time::Duration::from_secs(60) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(tmp.exists(), "the run started writing");
        // SAFETY: sends a signal to the child process started above.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code));
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(left, ["big.jsonl"], "nothing but the input is left");
    }
}

/// Issue 19, case 6: a document longer than `input.max_document_bytes` is not scanned, detected
/// or rewritten; `scan` counts it as too large, `apply` drops it with its own reason, and the
/// row account still balances. A size of 0 or a word is refused in the rules.
#[test]
fn documents_over_max_document_bytes_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.jsonl");
    let long = "She said the nurse was tired. ".repeat(100); // 3,000 bytes
    std::fs::write(
        &corpus,
        format!(
            "{{\"id\":\"a\",\"text\":\"He is a doctor.\"}}\n{{\"id\":\"b\",\"text\":\"{long}\"}}\n{{\"id\":\"c\",\"text\":null}}\n{{\"id\":\"d\",\"text\":\"She is a pilot.\"}}\n"
        ),
    )
    .unwrap();
    let rules = rules_text(
        dir.path(),
        "version: 1\ninput: {max_document_bytes: 1KiB}\naxes: {gender: {}}\n",
    );
    let (r, o) = scan(&rules, &[&corpus], &ScanOptions::default());
    assert_eq!(
        (
            r.rows.read,
            r.rows.scanned,
            r.rows.null_text,
            r.rows.too_large
        ),
        (4, 2, 1, 1)
    );
    assert_eq!(o.stats.rows.too_large, 1);
    // The long document's 100 mentions of women are not counted.
    assert_eq!(group(&r, "gender/female").mentions, 1);

    let out = dir.path().join("out");
    let rules_path = dir.path().join("rules.yaml");
    let a = debias(&[
        "apply",
        corpus.to_str().unwrap(),
        "--rules",
        rules_path.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(a.status.success(), "{}", stderr(&a));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        m["rows"]["dropped"]["input.max_document_bytes"], 1,
        "{}",
        m["rows"]
    );
    assert_eq!(m["rows"]["written"], 2, "{}", m["rows"]);
    assert_eq!(m["rows"]["balanced"], true);
    let before: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report/before.json")).unwrap())
            .unwrap();
    assert_eq!(before["rows"]["too_large"], 1);

    for bad in ["0", "lots"] {
        let p = dir.path().join("bad.yaml");
        std::fs::write(
            &p,
            format!("version: 1\ninput: {{max_document_bytes: {bad}}}\n"),
        )
        .unwrap();
        let e = debias::rules::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("input.max_document_bytes") && e.contains("not a size"),
            "{e}"
        );
    }
}

/// Issue 19, case 9: `scan --report DIR --attributes DIR2` writes both or neither. A report
/// that cannot be written (here a directory stands where `report.html` goes) leaves no report
/// file, no temporary file and no attributes, so the re-run is not refused.
#[test]
fn scan_outputs_are_committed_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let attrs = dir.path().join("attrs");
    std::fs::create_dir_all(report.join("report.html/in-the-way")).unwrap();
    let corpus = fixture("tiny.jsonl");
    let rules = fixture("pets.yaml");
    let args = [
        "scan",
        corpus.to_str().unwrap(),
        "-q",
        "--rules",
        rules.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--attributes",
        attrs.to_str().unwrap(),
        "--overwrite",
    ];
    let o = debias(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("report.html"), "{}", stderr(&o));
    assert!(!attrs.exists(), "attributes committed without their report");
    let left: Vec<String> = std::fs::read_dir(&report)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, vec!["report.html".to_string()], "{left:?}");
    let hidden: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "temporaries left: {hidden:?}");
    // With the obstacle gone, the same command writes both.
    std::fs::remove_dir_all(report.join("report.html")).unwrap();
    let o = debias(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(report.join("report.html").is_file() && report.join("report.json").is_file());
    assert!(attrs.join("data").is_dir() || attrs.read_dir().unwrap().next().is_some());
}

/// Issue 19, case 13: a JSONL value of another type than the column's is located by line.
#[test]
fn a_jsonl_value_of_the_wrong_type_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.jsonl");
    std::fs::write(
        &p,
        "{\"id\":\"a\",\"text\":\"She is here.\",\"source\":\"x\"}\n{\"id\":\"b\",\"text\":null,\"source\":\"x\"}\n{\"id\":\"c\",\"text\":5,\"source\":\"x\"}\n",
    )
    .unwrap();
    let e = scan_err(&pets_rules(), &[&p]);
    assert!(
        e.contains("c.jsonl:3") && e.contains("`text` is a number here, but a string on line 1"),
        "{e}"
    );
}

/// Issue 19, case 13: a rule's SQL that fails on the rows (divide by zero, a cast) is blamed on
/// the rules, with a fix, not on the input file's format.
#[test]
fn sql_that_fails_on_the_rows_is_blamed_on_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    for sql in ["1/0 = 1", "CAST(text AS INT) > 1"] {
        let rules = rules_text(
            dir.path(),
            &format!("version: 1\ninput: {{where: \"{sql}\"}}\n"),
        );
        let e = scan_err(&rules, &[&fixture("tiny.jsonl")]);
        assert!(
            e.contains("a SQL predicate of the rules")
                && e.contains("TRY_CAST")
                && !e.contains("as JSONL"),
            "{sql}: {e}"
        );
    }
}

/// Issue 19, case 13: `apply` on a corpus without rows writes nothing and says so (exit 2), as
/// `scan` does; an output path that is a symbolic link (dangling or not) is refused before the
/// run, not found unwritable after it.
#[test]
fn apply_refuses_a_corpus_without_rows_and_a_symlinked_output() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("header-only.csv");
    std::fs::write(&csv, "id,text\n").unwrap();
    let out = dir.path().join("out");
    let o = debias(&[
        "apply",
        csv.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no rows"), "{}", stderr(&o));
    assert!(!out.exists());
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
    let o = debias(&[
        "apply",
        fixture("tiny.jsonl").to_str().unwrap(),
        "--output",
        link.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
}

/// Issue 19, case 13: JSON nested deeper than the reader takes is named as such, not as
/// "malformed"; a dictionary-encoded text column (pandas categoricals) is read as strings.
#[test]
fn deep_json_is_named_and_dictionary_encoded_text_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.jsonl");
    std::fs::write(
        &deep,
        format!(
            "{{\"id\":\"a\",\"text\":\"She\",\"x\":{}{}}}\n",
            "[".repeat(200),
            "]".repeat(200)
        ),
    )
    .unwrap();
    let e = scan_err(&pets_rules(), &[&deep]);
    assert!(
        e.contains("deep.jsonl:1") && e.contains("more than 128 levels deep"),
        "{e}"
    );

    use datafusion::arrow::array::{Array, DictionaryArray, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
    let text: DictionaryArray<Int32Type> = vec![
        "She is a cat person.",
        "He has a dog.",
        "She is a cat person.",
    ]
    .into_iter()
    .collect();
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("text", text.data_type().clone(), false),
        Field::new("source", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(StringArray::from(vec!["a", "b", "c"])),
            std::sync::Arc::new(text),
            std::sync::Arc::new(StringArray::from(vec!["s", "s", "s"])),
        ],
    )
    .unwrap();
    let p = dir.path().join("dict.parquet");
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&p).unwrap(),
        schema,
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let (r, _) = scan(&pets_rules(), &[&p], &ScanOptions::default());
    assert_eq!(r.rows.scanned, 3);
    assert_eq!(group(&r, "pets/cat").documents, 2);
}
