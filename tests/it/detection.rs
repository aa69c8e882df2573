//! Detection quality, measured: the labelled sets of `rules/eval/` with a floor per axis, the BBQ
//! contexts of the shared data for recall, and the user commands that measure and explain
//! detection (`debias eval`, `debias explain`, `--attributes` spans, `scan --eval`).

use std::collections::BTreeSet;

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use debias::eval::{self, Evaluation, Labelled};
use debias::pipeline::ScanOptions;
use debias::pipeline::attributes::AttributesOutput;

use super::common::*;

fn evaluate(file: &str) -> Evaluation {
    let rules = debias::rules::default_rules().unwrap();
    let path = repo().join("rules/eval").join(file);
    let lines = eval::read_labelled(&path, rules.taxonomy()).unwrap();
    eval::evaluate(&rules.detector, &lines, file, 0.95)
}

/// Asserts precision and recall of every judged axis (20 positives or more) against floors.
fn assert_floors(e: &Evaluation, precision: f64, recall: f64, except: &[(&str, f64, f64)]) {
    println!("{}", e.to_markdown(0));
    let judged: Vec<_> = e.axes.iter().filter(|s| !s.too_few).collect();
    assert!(judged.len() >= 5, "too few judged axes in {}", e.file);
    for s in judged {
        let (p, r) = except
            .iter()
            .find(|(a, _, _)| *a == s.name)
            .map_or((precision, recall), |&(_, p, r)| (p, r));
        let (sp, sr) = (s.precision.unwrap_or(0.0), s.recall.unwrap_or(0.0));
        assert!(sp >= p, "{}: {} precision {sp:.3} < {p}", e.file, s.name);
        assert!(sr >= r, "{}: {} recall {sr:.3} < {r}", e.file, s.name);
    }
}

/// The issue's target on real text: precision and recall of at least 0.90 for every axis with 20
/// labelled positives or more.
#[test]
fn real_text_meets_the_target_on_every_judged_axis() {
    let e = evaluate("real_text.jsonl");
    assert!(e.texts >= 400, "{} labelled sentences", e.texts);
    assert_floors(&e, 0.90, 0.90, &[]);
}

/// Floors just under the measured figures of the authored sets.
#[test]
fn authored_sets_keep_their_figures() {
    assert_floors(&evaluate("crowd_style.jsonl"), 0.97, 0.90, &[]);
    assert_floors(&evaluate("templates.jsonl"), 0.98, 0.95, &[]);
}

/// BBQ (nyu-mll/BBQ, CC BY 4.0): every context names a person by a group of its category, so
/// each is a positive of that axis; recall must be at least 0.95 per category.
#[test]
fn bbq_contexts_recall_per_category() {
    let path = repo().join("../shared/data/bbq/bbq_contexts.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the shared data directory is needed",
            path.display()
        )
    });
    let axis_of = |c: &str| match c {
        "Age" => Some("age"),
        "Disability_status" => Some("disability"),
        "Nationality" => Some("nationality"),
        "Religion" => Some("religion"),
        "Sexual_orientation" => Some("sexual_orientation"),
        _ => None,
    };
    let mut lines = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let Some(axis) = axis_of(v["category"].as_str().unwrap()) else {
            continue;
        };
        let axes = BTreeSet::from([axis.to_owned()]);
        lines.push(Labelled {
            line: i as u64 + 1,
            id: v["id"].as_str().unwrap().to_owned(),
            text: v["context"].as_str().unwrap().to_owned(),
            axes: axes.clone(),
            groups: None,
            judged: Some(axes),
        });
    }
    let rules = debias::rules::default_rules().unwrap();
    let e = eval::evaluate(&rules.detector, &lines, "bbq", 0.95);
    let judged: Vec<_> = e.axes.iter().filter(|s| s.positives > 0).collect();
    assert_eq!(judged.len(), 5);
    for s in judged {
        println!("bbq {}: recall {:?} of {}", s.name, s.recall, s.positives);
        assert!(s.positives >= 400, "{}: {} contexts", s.name, s.positives);
        assert!(
            s.recall.unwrap() >= 0.95,
            "{}: recall {:?}",
            s.name,
            s.recall
        );
        assert_eq!(s.false_positives, 0, "recall-only lines judge one axis");
    }
}

fn labelled_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("labelled.jsonl");
    std::fs::write(
        &p,
        concat!(
            r#"{"id": "a", "text": "French troops crossed the river.", "axes": ["nationality"]}"#,
            "\n",
            r#"{"id": "b", "text": "The French silk was sold at the market.", "axes": []}"#,
            "\n",
            r#"{"id": "c", "text": "She is deaf.", "groups": ["gender/female"]}"#,
            "\n",
        ),
    )
    .unwrap();
    p
}

#[test]
fn eval_command_scores_axes_and_lists_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = labelled_file(dir.path());
    let out = debias(&["eval", p.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["texts"], 3);
    let axis = |n: &str| {
        v["axes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == n)
            .unwrap()
            .clone()
    };
    // French troops counted, French silk not: nationality is exact.
    assert_eq!(axis("nationality")["true_positives"], 1);
    assert_eq!(axis("nationality")["false_positives"], 0);
    assert_eq!(axis("nationality")["too_few"], true);
    // "deaf" is not labelled on line c: a false positive, with its span.
    assert_eq!(axis("disability")["false_positives"], 1);
    let fp = &v["false_positives"][0];
    assert_eq!(
        (fp["line"].as_u64(), fp["axis"].as_str()),
        (Some(3), Some("disability"))
    );
    let span = fp["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["counted"] == true)
        .unwrap();
    assert_eq!(
        (span["start"].as_u64(), span["end"].as_u64()),
        (Some(7), Some(11))
    );
    assert_eq!(span["why"], "predicative");
    // Markdown: the table, the interval and the false positive.
    let md = debias(&["eval", p.to_str().unwrap()]);
    let md = String::from_utf8_lossy(&md.stdout).to_string();
    assert!(
        md.contains("| nationality (too few) | 3 | 1 | 1.000 |"),
        "{md}"
    );
    assert!(
        md.contains("`deaf` (disability/deaf_hard_of_hearing, predicative"),
        "{md}"
    );
}

#[test]
fn eval_command_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    // 20 positives of age, half of them missed: recall 0.5 fails --fail-under 0.9 with exit 3.
    let mut text = String::new();
    for i in 0..10 {
        text.push_str(&format!(
            "{{\"text\": \"A {} year old man came.\", \"axes\": [\"age\", \"gender\"]}}\n",
            30 + i
        ));
        text.push_str(
            "{\"text\": \"The man came of age early.\", \"axes\": [\"age\", \"gender\"]}\n",
        );
    }
    let p = dir.path().join("ages.jsonl");
    std::fs::write(&p, text).unwrap();
    let out = debias(&["eval", p.to_str().unwrap(), "--fail-under", "0.9"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("age recall 0.500 < 0.9"),
        "{}",
        stderr(&out)
    );
    assert!(
        debias(&["eval", p.to_str().unwrap(), "--fail-under", "0.4"])
            .status
            .success()
    );
    // An unknown axis is the user's to fix: exit 2, naming the file and line.
    std::fs::write(
        &p,
        "{\"text\": \"x\", \"axes\": [\"gender\"]}\n{\"text\": \"y\", \"axes\": [\"colour\"]}\n",
    )
    .unwrap();
    let out = debias(&["eval", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("ages.jsonl:2:")
            && err.contains("colour")
            && err.contains("axes of these rules"),
        "{err}"
    );
}

#[test]
fn explain_prints_spans_and_rules() {
    let out = debias(&[
        "explain",
        "French troops crossed an old bridge; an old man watched. She is deaf.",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        s.contains("nationality/western_european") && s.contains("attributive before `troops`"),
        "{s}"
    );
    assert!(s.contains("predicative said of `She`"), "{s}");
    let out = debias(&["explain", "French silk and an old house.", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spans = v["spans"].as_array().unwrap();
    assert!(!spans.is_empty());
    assert!(spans.iter().all(|s| s["counted"] == false), "{spans:?}");
    assert!(
        spans
            .iter()
            .any(|s| s["text"] == "French" && s["why"] == "not said of people")
    );
    // A document of a file, by its id.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("docs.jsonl");
    std::fs::write(&p, "{\"id\": \"x1\", \"text\": \"no one\"}\n{\"id\": \"x2\", \"text\": \"The 30-year-old nurse.\"}\n").unwrap();
    let out = debias(&[
        "explain",
        "--input",
        p.to_str().unwrap(),
        "--id",
        "x2",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let age = v["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["group"] == "age/young_adult")
        .unwrap()
        .clone();
    assert_eq!(
        (age["start"].as_u64(), age["why"].as_str()),
        (Some(4), Some("age"))
    );
    let out = debias(&["explain", "--input", p.to_str().unwrap(), "--id", "x9"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn attributes_carry_spans_and_reports_mark_examples() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("docs.jsonl");
    std::fs::write(
        &input,
        "{\"text\": \"French troops met an old man.\"}\n{\"text\": \"French silk, an old house.\"}\n",
    )
    .unwrap();
    let rules = debias::rules::default_rules().unwrap();
    let out = dir.path().join("attrs");
    let opts = ScanOptions {
        attributes: Some(AttributesOutput {
            dir: out.clone(),
            overwrite: false,
            detector: rules.detector.clone(),
        }),
        ..ScanOptions::default()
    };
    let (report, _) = scan(&rules, &[&input], &opts);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let batches: Vec<RecordBatch> = rt.block_on(async {
        let ctx = SessionContext::new();
        ctx.register_parquet("a", out.to_str().unwrap(), ParquetReadOptions::default()).await.unwrap();
        ctx.sql(
            "SELECT debias_id, s['start'], s['end'], s['text'], s['term'], s['group'], s['rule'] \
             FROM (SELECT debias_id, unnest(debias_spans) AS s FROM a) ORDER BY debias_id, s['start'], s['group']",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
    });
    let rows: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows()).map(move |i| {
                (1..7)
                    .map(|c| {
                        datafusion::arrow::util::display::array_value_to_string(b.column(c), i)
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        })
        .collect();
    // Only the first document has spans: the second's words are not said of people.
    assert!(
        rows.contains(&"0 6 French french nationality/western_european attributive".to_owned()),
        "{rows:?}"
    );
    assert!(
        rows.contains(&"21 28 old man old man age/older_adult context".to_owned()),
        "{rows:?}"
    );
    assert!(
        rows.contains(&"25 28 man man gender/male context".to_owned()),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .all(|r| !r.contains("silk") && !r.contains("house"))
    );
    // The report's examples mark the matched span.
    let md = report.to_markdown();
    assert!(
        md.contains("**French** troops") || md.contains("**old man**"),
        "{md}"
    );
}

#[test]
fn scan_eval_puts_the_evaluation_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let p = labelled_file(dir.path());
    let report = dir.path().join("report");
    let out = debias(&[
        "scan",
        p.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--eval",
        p.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let e = &json["evaluations"][0];
    assert_eq!(e["texts"], 3);
    assert!(
        e["axes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "disability" && a["false_positives"] == 1)
    );
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("Detection quality"), "{md}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("Detection quality"));
}

/// One sentence per kind of mention, with the groups that must and must not be counted: the
/// categories of mention that detection is built for, in sentences written for this test.
#[test]
fn kinds_of_mention_with_the_builtin_rules() {
    let rules = debias::rules::default_rules().unwrap();
    let det = &rules.detector;
    // (text, counted axis/group prefixes, axes that must not be counted)
    let cases: &[(&str, &[&str], &[&str])] = &[
        // Age: numeric ages in digits and words, hyphenated and spaced, decades, bands.
        (
            "Our neighbour, a 41-year-old plumber, helped.",
            &["age/middle_aged"],
            &[],
        ),
        (
            "Seventy-year-olds queued at the clinic.",
            &["age/older_adult"],
            &[],
        ),
        ("My grandfather is 92 years old.", &["age/older_adult"], &[]),
        (
            "The club admits players aged 16 and over.",
            &["age/adolescent"],
            &[],
        ),
        (
            "She learned to sail at the age of seven.",
            &["age/child"],
            &[],
        ),
        ("Jones, 58, was hired in March.", &["age/middle_aged"], &[]),
        ("A nurse in her late 30s called.", &["age/middle_aged"], &[]),
        ("He coaches the under-12s on Sundays.", &["age/child"], &[]),
        (
            "The bridge is 80 years old and the house 200 years old.",
            &[],
            &["age"],
        ),
        ("He bought 30 year bonds.", &[], &["age"]),
        // Age words tied to people, not to things; offspring and birth order are not ages.
        ("Older fathers were interviewed.", &["age/older_adult"], &[]),
        ("My uncle felt so old that day.", &["age/older_adult"], &[]),
        (
            "They renovated an old barn and a young vineyard.",
            &[],
            &["age"],
        ),
        ("The couple raised four children.", &[], &["age"]),
        ("Her younger sister lives in Leeds.", &[], &["age"]),
        (
            "The boys played football after school.",
            &["age/child"],
            &[],
        ),
        (
            "The Young Fathers Trust and Soulja Boy were named.",
            &[],
            &["age"],
        ),
        // Disability: descriptors, aids, identity words, dated terms; idioms are not.
        (
            "My aunt has difficulty hearing in crowds.",
            &["disability/deaf_hard_of_hearing"],
            &[],
        ),
        (
            "He uses a wheelchair at work.",
            &["disability/physical_mobility"],
            &[],
        ),
        (
            "Autistic adults face barriers.",
            &["disability/neurodivergent"],
            &[],
        ),
        (
            "The report described crippled veterans.",
            &["disability/physical_mobility"],
            &[],
        ),
        ("It has a blind spot in its design.", &[], &["disability"]),
        (
            "The station has wheelchair accessible platforms.",
            &[],
            &["disability"],
        ),
        // Race/ethnicity: capitalised colour terms before people, predicative use, pan-ethnic
        // terms, hyphenated origins; colours of things are not.
        (
            "A Black lawyer argued the case.",
            &["race_ethnicity/black"],
            &[],
        ),
        ("Most of them are white.", &["race_ethnicity/white"], &[]),
        (
            "BIPOC artists shared the prize.",
            &["race_ethnicity/people_of_color"],
            &[],
        ),
        (
            "She is a Cuban-American engineer.",
            &["race_ethnicity/hispanic_latino", "nationality"],
            &[],
        ),
        (
            "He drove a black car past the white fence.",
            &[],
            &["race_ethnicity"],
        ),
        // Nationality: demonyms of people, origins, migration; adjectives of things are not.
        (
            "Dutch farmers protested.",
            &["nationality/western_european"],
            &[],
        ),
        (
            "Her parents came from Vietnam.",
            &["nationality/southeast_asian"],
            &[],
        ),
        ("Refugees arrived at the border.", &["nationality"], &[]),
        (
            "We bought Dutch cheese and a Swiss watch.",
            &[],
            &["nationality"],
        ),
        ("The Italian economy grew.", &[], &["nationality"]),
        // Religion: people and faiths; organisations and things named after a faith are not.
        (
            "Catholic nuns ran the school.",
            &["religion/christian"],
            &[],
        ),
        ("Many Muslims fast in Ramadan.", &["religion/muslim"], &[]),
        ("The choir sang Christmas carols.", &[], &["religion"]),
        // Sexual orientation and gender identity: adjectives of people, not other senses.
        (
            "Two gay men married.",
            &["sexual_orientation/gay_lesbian"],
            &[],
        ),
        (
            "Go straight ahead at the lights.",
            &[],
            &["sexual_orientation"],
        ),
        (
            "A trans teacher spoke.",
            &["gender_identity/transgender"],
            &[],
        ),
        ("The trans fat content was high.", &[], &["gender_identity"]),
    ];
    let tax = det.taxonomy();
    let mut failures = Vec::new();
    for (text, want, not) in cases {
        let found: Vec<&str> = det
            .hits(text)
            .groups(tax)
            .iter()
            .map(|(g, _)| tax.groups[*g as usize].key.as_str())
            .collect();
        for w in *want {
            if !found.iter().any(|g| g.starts_with(w)) {
                failures.push(format!("{text:?}: missing {w} (found {found:?})"));
            }
        }
        for n in *not {
            if found.iter().any(|g| g.starts_with(&format!("{n}/"))) {
                failures.push(format!("{text:?}: counted {n} (found {found:?})"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
