//! `debias apply`: real rule files, real DataFusion sessions, Parquet read back with SQL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use debias::pipeline::apply::{ApplyOptions, ApplyOutcome, apply};
use debias::rules::{self, RuleSet};
use serde_json::Value;

use super::common::{bold, debias, model_dir, repo, rules_text, stderr};

fn sample() -> PathBuf {
    repo().join("examples/news_sample.jsonl")
}

fn opts(out: &Path) -> ApplyOptions {
    ApplyOptions {
        output: out.to_path_buf(),
        overwrite: false,
        seed: None,
        threads: 2,
        memory_limit: None,
        progress: None,
        formats: Vec::new(),
        resume: None,
    }
}

fn run(rules: &RuleSet, inputs: &[&Path], o: &ApplyOptions) -> ApplyOutcome {
    let inputs: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    apply(rules, &inputs, o).unwrap_or_else(|e| panic!("apply failed: {e}"))
}

/// Runs SQL over the output's Parquet files (`t`).
fn sql(out: &Path, query: &str) -> Vec<RecordBatch> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ctx = SessionContext::new();
        let data = out.join("data");
        ctx.register_parquet("t", data.to_str().unwrap(), ParquetReadOptions::default())
            .await
            .unwrap();
        ctx.sql(query).await.unwrap().collect().await.unwrap()
    })
}

fn int(batches: &[RecordBatch], query_col: usize) -> i64 {
    let c = batches[0].column(query_col);
    c.as_primitive::<Int64Type>().value(0)
}

fn manifest(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap()
}

/// Every byte of every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

const CDA_RULES: &str = r#"
version: 1
input:
  id_column: id
  source_url_column: url
  where: "lang = 'en'"
axes:
  gender: {}
  religion: {}
seed: 7
actions:
  - drop:
      name: short
      where: "length(text) < 120"
  - augment:
      name: gender_cda
      swap: gender
      mode: append
output:
  row_group_size: 16
"#;

#[test]
fn output_has_the_documented_schema_and_the_account_balances() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_text(dir.path(), CDA_RULES);
    let out = dir.path().join("out");
    let outcome = run(&rules, &[&sample()], &opts(&out));
    let m = manifest(&out);
    let rows = &m["rows"];
    let n = |v: &Value| v.as_u64().unwrap();
    let sum = |v: &Value| v.as_object().unwrap().values().map(n).sum::<u64>();
    // 60 rows: 5 French rows outside `input.where`, one English item shorter than 120 chars.
    assert_eq!(n(&rows["read"]), 60);
    assert_eq!(n(&rows["dropped"]["input.where"]), 5);
    assert_eq!(n(&rows["dropped"]["short"]), 1);
    assert_eq!(n(&rows["kept"]), 54);
    assert_eq!(n(&rows["read"]), n(&rows["kept"]) + sum(&rows["dropped"]));
    let augmented = n(&rows["augmented"]["gender_cda"]);
    assert!(augmented > 20, "{augmented}");
    assert_eq!(
        n(&rows["written"]),
        n(&rows["kept"]) + augmented + sum(&rows["duplicated"])
    );
    assert_eq!(rows["balanced"], true);
    assert_eq!(outcome.manifest.rows.account.written, n(&rows["written"]));

    // The Parquet files hold exactly the rows of the account, in the documented schema.
    let b = sql(&out, "SELECT count(*) FROM t");
    assert_eq!(int(&b, 0) as u64, n(&rows["written"]));
    let schema = sql(&out, "SELECT * FROM t LIMIT 1")[0].schema();
    for (name, ty) in [
        ("id", DataType::Utf8View),
        ("url", DataType::Utf8View),
        ("lang", DataType::Utf8View),
        ("text", DataType::Utf8View),
        ("debias_id", DataType::Utf8View),
        ("debias_source_id", DataType::Utf8View),
        ("debias_augmented", DataType::Boolean),
        ("debias_rule", DataType::Utf8View),
        ("debias_weight", DataType::Float64),
    ] {
        assert_eq!(
            schema.field_with_name(name).unwrap().data_type(),
            &ty,
            "{name}"
        );
    }
    assert!(matches!(
        schema.field_with_name("debias_groups").unwrap().data_type(),
        DataType::List(_)
    ));
    let DataType::List(edit) = schema.field_with_name("debias_edits").unwrap().data_type() else {
        panic!("debias_edits is a list")
    };
    let DataType::Struct(fields) = edit.data_type() else {
        panic!("of structs")
    };
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["start", "end", "original", "replacement"]);

    // Each counterfactual copy points at its original, carries its edits, and differs from it
    // exactly by them.
    let b = sql(
        &out,
        "SELECT c.text, o.text, c.debias_edits, c.debias_id, o.debias_id FROM t c JOIN t o \
         ON c.debias_source_id = o.debias_id WHERE c.debias_augmented ORDER BY c.debias_id",
    );
    let copies: usize = b.iter().map(|b| b.num_rows()).sum();
    assert_eq!(copies as u64, augmented);
    for batch in &b {
        for i in 0..batch.num_rows() {
            let copy = batch.column(0).as_string_view().value(i);
            let original = batch.column(1).as_string_view().value(i);
            let edits = batch.column(2).as_list::<i32>().value(i);
            let edits = edits.as_struct();
            assert!(!edits.is_empty());
            let mut rebuilt = String::new();
            let mut last = 0;
            for k in 0..edits.len() {
                let s = edits.column(0).as_primitive::<Int64Type>().value(k) as usize;
                let e = edits.column(1).as_primitive::<Int64Type>().value(k) as usize;
                assert_eq!(&original[s..e], edits.column(2).as_string::<i32>().value(k));
                rebuilt.push_str(&original[last..s]);
                rebuilt.push_str(edits.column(3).as_string::<i32>().value(k));
                last = e;
            }
            rebuilt.push_str(&original[last..]);
            assert_eq!(rebuilt, copy);
            assert_eq!(
                batch.column(3).as_string_view().value(i),
                format!("{}#gender_cda", batch.column(4).as_string_view().value(i))
            );
        }
    }
    // The reports before and after are written, and the counterfactual copies even out gender.
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report/after.json")).unwrap())
            .unwrap();
    let before: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report/before.json")).unwrap())
            .unwrap();
    let docs = |r: &Value, g: &str| {
        r["axes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "gender")
            .unwrap()["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == g)
            .unwrap()["documents"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(before["rows"]["read"], 60);
    assert_eq!(before["rows"]["excluded_by_where"], 5);
    assert_eq!(before["rows"]["scanned"], 55);
    assert_eq!(after["rows"]["scanned"], rows["written"]);
    let (f0, m0, f1, m1) = (
        docs(&before, "female"),
        docs(&before, "male"),
        docs(&after, "female"),
        docs(&after, "male"),
    );
    assert!(f1 > f0 && m1 > m0, "{f0} {m0} {f1} {m1}");
    assert!(f1.abs_diff(m1) <= f0.abs_diff(m0), "{f0} {m0} {f1} {m1}");
    assert!(out.join("report/before.md").exists() && out.join("report/after.md").exists());
}

#[test]
fn output_is_byte_identical_across_runs_threads_and_file_splits() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_text(
        dir.path(),
        &CDA_RULES.replace(
            "output:",
            "  - rebalance: {axis: gender, strategy: downsample}\noutput:",
        ),
    );
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let c = dir.path().join("c");
    run(&rules, &[&sample()], &opts(&a));
    run(&rules, &[&sample()], &opts(&b));
    let mut four = opts(&c);
    four.threads = 4;
    run(&rules, &[&sample()], &four);
    let (ta, tb, tc) = (tree(&a), tree(&b), tree(&c));
    assert!(ta.keys().any(|k| k.ends_with(".parquet")));
    assert_eq!(ta, tb, "two runs differ");
    assert_eq!(ta, tc, "1 and 4 threads differ");

    // The same rows split over three files select the same rows into the same bytes.
    let text = std::fs::read_to_string(sample()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    for (i, chunk) in lines.chunks(25).enumerate() {
        std::fs::write(parts.join(format!("p{i}.jsonl")), chunk.join("\n") + "\n").unwrap();
    }
    let d = dir.path().join("d");
    run(&rules, &[&parts], &opts(&d));
    let td = tree(&d);
    let data = |t: &BTreeMap<String, Vec<u8>>| -> Vec<Vec<u8>> {
        t.iter()
            .filter(|(k, _)| k.starts_with("data"))
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(
        data(&ta),
        data(&td),
        "splitting the input into files changed the output"
    );
    assert_eq!(manifest(&a)["rows"], manifest(&d)["rows"]);
    // The writing pass reads back the detections the counting pass kept; under a memory
    // limit it keeps those of the first files only and detects the others again: same bytes.
    let f = dir.path().join("f");
    let mut small = opts(&f);
    small.memory_limit = Some(1600);
    run(&rules, &[&parts], &small);
    assert!(data(&td) == data(&tree(&f)), "re-detected rows differ");
    // It also keeps the input's batches, file by file: with room for some files, the others
    // are read again; same bytes.
    let g = dir.path().join("g");
    let mut some = opts(&g);
    some.memory_limit = Some(60_000);
    run(&rules, &[&parts], &some);
    assert!(data(&td) == data(&tree(&g)), "rows read again differ");
    // A different seed selects differently.
    let e = dir.path().join("e");
    let mut seeded = opts(&e);
    seeded.seed = Some(8);
    run(&rules, &[&sample()], &seeded);
    assert_ne!(data(&ta), data(&tree(&e)));
}

#[test]
fn downsample_upsample_and_reweight_reach_the_target() {
    let dir = tempfile::tempdir().unwrap();
    // BOLD's gender domain: Wikipedia sentences about actors and actresses.
    let src = std::fs::read_to_string(bold()).unwrap();
    let gender: Vec<&str> = src
        .lines()
        .filter(|l| l.contains("\"domain\": \"gender\"") || l.contains("\"domain\":\"gender\""))
        .collect();
    assert!(gender.len() > 3000, "{}", gender.len());
    let input = dir.path().join("gender.jsonl");
    std::fs::write(&input, gender.join("\n")).unwrap();
    let shares = |out: &Path| -> (f64, f64, f64, f64) {
        // Documents whose groups are exactly one of female / male, and their weights.
        let b = sql(
            out,
            "SELECT \
               sum(CASE WHEN array_has(debias_groups, 'gender/female') AND NOT array_has(debias_groups, 'gender/male') THEN 1 ELSE 0 END), \
               sum(CASE WHEN array_has(debias_groups, 'gender/male') AND NOT array_has(debias_groups, 'gender/female') THEN 1 ELSE 0 END), \
               sum(CASE WHEN array_has(debias_groups, 'gender/female') AND NOT array_has(debias_groups, 'gender/male') THEN debias_weight ELSE 0 END), \
               sum(CASE WHEN array_has(debias_groups, 'gender/male') AND NOT array_has(debias_groups, 'gender/female') THEN debias_weight ELSE 0 END) \
             FROM t",
        );
        let r = &b[0];
        (
            r.column(0).as_primitive::<Int64Type>().value(0) as f64,
            r.column(1).as_primitive::<Int64Type>().value(0) as f64,
            r.column(2).as_primitive::<Float64Type>().value(0),
            r.column(3).as_primitive::<Float64Type>().value(0),
        )
    };
    let rules_for = |strategy: &str| {
        rules_text(
            dir.path(),
            &format!(
                "version: 1\naxes: {{gender: {{}}}}\nactions:\n  - rebalance:\n      name: balance\n      axis: gender\n      strategy: {strategy}\n      target: {{female: 0.5, male: 0.5, non_binary: 0.0}}\n      multi_group: keep\n{}",
                if strategy == "upsample" {
                    "      max_copies: 4\n"
                } else {
                    ""
                }
            ),
        )
    };
    let out = |name: &str| dir.path().join(name);

    let before = run(&rules_for("reweight"), &[&input], &opts(&out("w")));
    let (f, m, wf, wm) = shares(&out("w"));
    // Sentences about actors outnumber those about actresses.
    assert!(m > 1.3 * f, "{f} {m}");
    // Reweight: every document kept, weights even the groups out exactly.
    assert_eq!(
        before.manifest.rows.account.written,
        before.manifest.rows.account.read
    );
    assert!((wf - wm).abs() < 1e-6 * wf, "{wf} {wm}");

    run(&rules_for("downsample"), &[&input], &opts(&out("d")));
    let (f, m, _, _) = shares(&out("d"));
    assert!((f / (f + m) - 0.5).abs() < 0.03, "downsample: {f} {m}");
    let md = manifest(&out("d"));
    assert!(md["rows"]["dropped"]["balance"].as_u64().unwrap() > 500);

    run(&rules_for("upsample"), &[&input], &opts(&out("u")));
    let (f, m, _, _) = shares(&out("u"));
    assert!((f / (f + m) - 0.5).abs() < 0.03, "upsample: {f} {m}");
    let mu = manifest(&out("u"));
    let dups = mu["rows"]["duplicated"]["balance"].as_u64().unwrap();
    assert!(dups > 500, "{dups}");
    // Duplicates point at their original and are not counterfactuals.
    let b = sql(
        &out("u"),
        "SELECT count(*) FROM t WHERE debias_source_id IS NOT NULL AND NOT debias_augmented AND debias_rule = 'balance'",
    );
    assert_eq!(int(&b, 0) as u64, dups);
}

#[test]
fn filter_audit_flags_a_filter_that_removes_one_group() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_text(
        dir.path(),
        r#"
version: 1
axes: {gender: {}}
actions:
  - drop:
      name: no_actresses
      terms: [actress, actresses]
  - drop:
      name: long
      regex: "(?s)^.{400,}$"
"#,
    );
    let src = std::fs::read_to_string(bold()).unwrap();
    let input = dir.path().join("bold.jsonl");
    std::fs::write(
        &input,
        src.lines().take(4000).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let out = dir.path().join("out");
    run(&rules, &[&input], &opts(&out));
    let m = manifest(&out);
    let audit = m["filter_audit"].as_array().unwrap();
    let blocklist = audit
        .iter()
        .find(|a| a["action"] == "no_actresses")
        .unwrap();
    assert!(blocklist["retention_ratio"]["gender"].as_f64().unwrap() < 0.8);
    assert!(
        blocklist["warnings"][0]
            .as_str()
            .unwrap()
            .contains("gender/female")
    );
    assert!(
        m["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("no_actresses"))
    );
    let long = audit.iter().find(|a| a["action"] == "long").unwrap();
    assert!(long["warnings"].as_array().unwrap().is_empty(), "{long}");
    // No row with the blocked terms is left.
    let b = sql(
        &out,
        "SELECT count(*) FROM t WHERE lower(text) LIKE '%actress%'",
    );
    assert_eq!(int(&b, 0), 0);
    assert_eq!(
        m["rows"]["read"].as_u64().unwrap(),
        m["rows"]["kept"].as_u64().unwrap()
            + m["rows"]["dropped"]["no_actresses"].as_u64().unwrap()
            + m["rows"]["dropped"]
                .get("long")
                .and_then(Value::as_u64)
                .unwrap_or(0)
    );
}

#[test]
fn replace_mode_probability_scope_and_direction() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_text(
        dir.path(),
        r#"
version: 1
input: {id_column: id, where: "lang = 'en'"}
axes: {gender: {}}
seed: 3
actions:
  - augment:
      name: flip
      swap: gender
      mode: replace
      probability: 0.5
      from: [male]
      scope: {groups: [gender/male]}
output:
  partition_by: [lang]
"#,
    );
    let out = dir.path().join("out");
    run(&rules, &[&sample()], &opts(&out));
    let m = manifest(&out);
    let rewritten = m["rows"]["rewritten"]["flip"].as_u64().unwrap();
    // About half of the documents that mention men (30 or so) are rewritten, in place.
    assert!((8..=24).contains(&rewritten), "{rewritten}");
    assert_eq!(m["rows"]["written"], m["rows"]["kept"]);
    // Only male terms were swapped: no edit replaced a female term.
    let b = sql(&out, "SELECT count(*) FROM t WHERE debias_augmented");
    assert_eq!(int(&b, 0) as u64, rewritten);
    let b = sql(
        &out,
        "SELECT count(*) FROM (SELECT unnest(debias_edits) AS e FROM t) WHERE lower(e['original']) IN ('she', 'her', 'woman', 'women', 'mother')",
    );
    assert_eq!(int(&b, 0), 0);
    // Partitioned by language: only `lang=en` exists (French rows are outside `input.where`).
    let file = out.join("data/lang=en/part-00000.parquet");
    assert!(file.exists());
    assert!(!out.join("data/lang=fr").exists());
    // The partition column stays in the files (`partition_columns: keep`, the default), so the
    // rules' own `where: lang = 'en'` reads the output back.
    let columns = |f: &Path| -> Vec<String> {
        let r = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(f).unwrap(),
        )
        .unwrap();
        r.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    };
    assert!(columns(&file).contains(&"lang".to_owned()));
    let again = debias::pipeline::scan(
        &rules,
        &[out.to_string_lossy().to_string()],
        &debias::pipeline::ScanOptions::default(),
    )
    .unwrap();
    assert_eq!(
        again.stats.documents,
        m["rows"]["written"].as_u64().unwrap()
    );
    // `partition_columns: drop`: out of the files, for Spark and Hive.
    let dropped = rules_text(
        dir.path(),
        "version: 1\ninput: {id_column: id}\naxes: {gender: {}}\noutput: {partition_by: [lang], partition_columns: drop}\n",
    );
    let out2 = dir.path().join("out2");
    run(&dropped, &[&sample()], &opts(&out2));
    let f = out2.join("data/lang=en/part-00000.parquet");
    assert!(!columns(&f).contains(&"lang".to_owned()));
}

#[test]
fn an_existing_output_is_refused_and_an_interrupted_run_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = debias(&[
        "apply",
        "examples/news_sample.jsonl",
        "-q",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--overwrite"), "{}", stderr(&o));
    std::fs::remove_dir(&out).unwrap();

    // A corpus big enough that the write takes a while in a debug build.
    let src = std::fs::read_to_string(bold()).unwrap();
    let input = dir.path().join("big.jsonl");
    std::fs::write(&input, src.repeat(4)).unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nactions:\n  - augment: {swap: gender}\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_debias"))
        .args([
            "apply",
            input.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "-q",
            "--output",
            out.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    // Kill it as soon as its temporary directory exists: the write has started.
    let started = Instant::now();
    let tmp_prefix = ".out.tmp-";
    loop {
        let writing = std::fs::read_dir(dir.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(tmp_prefix)
        });
        if writing {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "debias apply ended before it was interrupted"
        );
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(!out.exists(), "an interrupted run left {}", out.display());
}

#[test]
fn invalid_actions_are_reported_before_any_data_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    std::fs::write(
        &p,
        r#"version: 1
actions:
  - dropp: {where: "x > 1"}
  - drop: {}
  - drop: {regex: "(unclosed"}
  - augment: {swap: gender, from: [mal], probability: 2}
  - augment: {groups: {christian: [church]}}
  - rebalance: {axis: gendr, strategy: downsample}
  - rebalance: {axis: gender, strategy: upsample, target: {female: 0.6, male: 0.6, non_binary: 0}}
output: {compression: brotli, partition_by: lang}
"#,
    )
    .unwrap();
    let e = rules::load(&p).unwrap_err().to_string();
    for (line, needle) in [
        (3, "unknown action `dropp`"),
        (4, "a drop action without a condition"),
        (5, "invalid regex"),
        (6, "no group `mal` in this swap"),
        (6, "probability 2 is not between 0 and 1"),
        (7, "a swap needs at least two groups"),
        (8, "no axis `gendr`"),
        (9, "a second rebalance action"),
        (10, "unknown value `brotli`"),
    ] {
        let located = format!("bad.yaml:{line}:");
        assert!(
            e.lines()
                .any(|l| l.contains(&located) && l.contains(needle)),
            "missing `{needle}` at line {line} in:\n{e}"
        );
    }
    assert!(e.contains("did you mean `drop`"), "{e}");
    assert!(e.contains("did you mean `male`"), "{e}");
    // Shares that do not sum to 1 are caught (the first rebalance is the one checked).
    std::fs::write(&p, "version: 1\nactions:\n  - rebalance: {axis: gender, strategy: upsample, target: {female: 0.6, male: 0.6, non_binary: 0}}\n").unwrap();
    let e = rules::load(&p).unwrap_err().to_string();
    assert!(e.contains("shares sum to 1.2"), "{e}");
    // Topics as a context need an embedding section with topics.
    std::fs::write(&p, "version: 1\nactions:\n  - rebalance: {axis: gender, strategy: downsample, context: topic}\n").unwrap();
    let e = rules::load(&p).unwrap_err().to_string();
    assert!(
        e.contains("bad.yaml:3:") && e.contains("`context: topic` needs topics"),
        "{e}"
    );
    // The command line exits 2 and writes nothing.
    let out = dir.path().join("out");
    let o = debias(&[
        "apply",
        "examples/news_sample.jsonl",
        "--rules",
        p.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    // A predicate on a column the input lacks names the action and the columns.
    std::fs::write(
        &p,
        "version: 1\nactions:\n  - drop: {name: nope, where: \"nosuch > 1\"}\n",
    )
    .unwrap();
    let o = debias(&[
        "apply",
        "examples/news_sample.jsonl",
        "--rules",
        p.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("action `nope`") && stderr(&o).contains("`text`"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn reference_targets_tokens_context_buckets_and_lexicon_drops() {
    let dir = tempfile::tempdir().unwrap();
    // A reference report: the scan of the sample, whose gender shares become the target.
    let reference = dir.path().join("reference.json");
    let o = debias(&[
        "scan",
        "examples/news_sample.jsonl",
        "-q",
        "--report",
        reference.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rules = rules_text(
        dir.path(),
        r#"
version: 1
input: {id_column: id, source_url_column: url}
axes: {gender: {}, religion: {}}
actions:
  - drop: {name: religious, lexicon: religion, min_count: 1}
  - rebalance:
      axis: gender
      strategy: reweight
      unit: tokens
      target: {reference: reference.json}
      context: source
output:
  compression: snappy
"#,
    );
    let out = dir.path().join("out");
    run(&rules, &[&sample()], &opts(&out));
    let m = manifest(&out);
    // Every document that names a religion is dropped by the lexicon condition.
    let dropped = m["rows"]["dropped"]["religious"].as_u64().unwrap();
    assert!(dropped >= 3, "{dropped}");
    let b = sql(
        &out,
        "SELECT count(*) FROM t WHERE array_any_value(debias_groups) LIKE 'religion/%' OR array_to_string(debias_groups, ',') LIKE '%religion/%'",
    );
    assert_eq!(int(&b, 0), 0);
    // The reference's document shares are the target; weights are per (group, source).
    let plan = &m["rebalance"];
    assert_eq!(plan["target"], "reference:reference.json");
    assert_eq!(plan["unit"], "tokens");
    let buckets = plan["buckets"].as_array().unwrap();
    assert!(
        buckets.iter().any(|b| b["bucket"] == "example-news.com"),
        "{plan}"
    );
    let targets: Vec<f64> = plan["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["target"].as_f64().unwrap())
        .collect();
    assert!((targets.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    // Within each source, the weighted tokens of the groups follow the target.
    let b = sql(
        &out,
        "SELECT sum(debias_weight * (length(text) - length(replace(text, ' ', '')) + 1)) FROM t \
         WHERE array_has(debias_groups, 'gender/female') AND NOT array_has(debias_groups, 'gender/male') AND url LIKE '%example-news.com%'",
    );
    assert!(b[0].column(0).as_primitive::<Float64Type>().value(0) > 0.0);
    assert_eq!(m["output"]["compression"], "snappy");
    // A file that is not a report (here the manifest) is refused while the rules are read.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        format!(
            "version: 1\naxes: {{gender: {{}}}}\nactions:\n  - rebalance: {{axis: gender, strategy: reweight, target: {{reference: {}}}}}\n",
            out.join("manifest.json").display()
        ),
    )
    .unwrap();
    let o = debias(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("its \"schema\" is \"debias-manifest\", expected \"debias-report\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn files_roll_over_at_the_target_size() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(bold()).unwrap();
    let input = dir.path().join("bold.jsonl");
    std::fs::write(
        &input,
        src.lines().take(5000).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let rules = rules_text(
        dir.path(),
        "version: 1\naxes: {gender: {}}\noutput: {row_group_size: 500, target_file_size: 50KB, compression: gzip, level: 9}\n",
    );
    let out = dir.path().join("out");
    run(&rules, &[&input], &opts(&out));
    let m = manifest(&out);
    // The size is checked after every row group: files of whole row groups, each but the
    // last at least the target size.
    let files = m["output"]["files"].as_array().unwrap();
    assert!(files.len() >= 3, "{files:?}");
    let rows: u64 = files.iter().map(|f| f["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 5000);
    for f in &files[..files.len() - 1] {
        assert_eq!(f["rows"].as_u64().unwrap() % 500, 0, "{f}");
        assert!(f["bytes"].as_u64().unwrap() >= 50 * 1024, "{f}");
    }
    // Sizes and hashes in the manifest are those of the files on disk, inputs and outputs.
    let sha = |p: &Path| {
        use sha2::Digest;
        let h = sha2::Sha256::digest(std::fs::read(p).unwrap());
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    for f in files {
        let p = out.join(f["path"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            f["bytes"].as_u64().unwrap()
        );
        assert_eq!(sha(&p), f["sha256"].as_str().unwrap());
    }
    assert_eq!(m["inputs"][0]["sha256"].as_str().unwrap(), sha(&input));
    assert_eq!(int(&sql(&out, "SELECT count(*) FROM t"), 0), 5000);
}

/// `context: topic` with the real all-MiniLM-L6-v2: topics fitted on a seeded sample, every
/// document placed in its nearest topic, the downsample's target reached within each topic,
/// and the output the same however the input is split and whatever the threads.
#[test]
fn rebalance_within_topics() {
    let dir = tempfile::tempdir().unwrap();
    // WinoBias' pro-stereotypical sentences (every other one): one gendered pronoun each,
    // the gender following the occupation's stereotype, so topics are skewed.
    let path = repo().join("../shared/data/winobias/winobias_dev_pairs.csv");
    let mut csv = csv::Reader::from_path(path).unwrap();
    let lines: Vec<String> = csv
        .deserialize::<BTreeMap<String, String>>()
        .step_by(2)
        .map(|r| {
            let r = r.unwrap();
            serde_json::json!({
                "id": format!("wb-{}-{}", r["type"], r["line_id"]),
                "text": r["pro_sentence"],
            })
            .to_string()
        })
        .collect();
    let input = dir.path().join("winobias.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    for (i, chunk) in lines.chunks(97).enumerate() {
        std::fs::write(
            parts.join(format!("p{i:02}.jsonl")),
            chunk.join("\n") + "\n",
        )
        .unwrap();
    }
    let yaml = format!(
        r#"version: 1
input: {{id_column: id}}
axes: {{gender: {{}}}}
seed: 3
embedding:
  model: {}
  max_documents: 200
  topics: {{k: 3, top_terms: 5}}
actions:
  - rebalance:
      axis: gender
      strategy: downsample
      target: {{female: 0.5, male: 0.5, non_binary: 0}}
      context: topic
"#,
        model_dir().display()
    );
    let rules = rules_text(dir.path(), &yaml);
    let a = dir.path().join("a");
    let outcome = run(&rules, &[&input], &opts(&a));
    assert_eq!(outcome.passes, 3);
    let m = manifest(&a);
    let plan = &m["rebalance"];
    // Three topics named by their words, fitted on the 200-document sample.
    let topics = plan["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 3, "{plan}");
    let sampled: u64 = topics
        .iter()
        .map(|t| t["sample_documents"].as_u64().unwrap())
        .sum();
    assert_eq!(sampled, 200);
    assert!(
        topics
            .iter()
            .all(|t| !t["terms"].as_array().unwrap().is_empty()),
        "{plan}"
    );
    // A keep probability per topic and group; none on the groups themselves.
    let buckets = plan["buckets"].as_array().unwrap();
    assert!(
        buckets
            .iter()
            .all(|b| b["bucket"].as_str().unwrap().starts_with("topic "))
    );
    assert!(
        buckets.iter().all(|b| b["keep_probability"].is_f64()),
        "{plan}"
    );
    assert!(
        plan["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["keep_probability"].is_null())
    );

    // Every row has a topic; within each topic that has both groups, what was kept follows
    // the target (female and male documents, those mentioning one gender only).
    let b = sql(&a, "SELECT count(*), count(debias_topic) FROM t");
    assert_eq!(int(&b, 0), int(&b, 1));
    let count = |out: &Path, topic: i64, g: &str, other: &str| -> i64 {
        int(
            &sql(
                out,
                &format!(
                    "SELECT count(*) FROM t WHERE debias_topic = {topic} AND array_has(debias_groups, 'gender/{g}') AND NOT array_has(debias_groups, 'gender/{other}')"
                ),
            ),
            0,
        )
    };
    let units = |topic: i64, g: &str| -> f64 {
        buckets
            .iter()
            .find(|b| {
                b["bucket"] == format!("topic {topic}") && b["group"] == format!("gender/{g}")
            })
            .map_or(0.0, |b| b["units"].as_f64().unwrap())
    };
    let mut balanced = 0;
    for t in 0..3 {
        let (uf, um) = (units(t, "female"), units(t, "male"));
        eprintln!(
            "topic {t}: units female {uf}, male {um}; kept female {}, male {}",
            count(&a, t, "female", "male"),
            count(&a, t, "male", "female")
        );
        if uf < 5.0 || um < 5.0 {
            continue;
        }
        let (f, mm) = (
            count(&a, t, "female", "male"),
            count(&a, t, "male", "female"),
        );
        let share = f as f64 / (f + mm) as f64;
        // Before: the topic's own skew; after: near parity.
        let before = uf / (uf + um);
        assert!(
            (share - 0.5).abs() < 0.15,
            "topic {t}: {f} female, {mm} male kept (before {before:.2})"
        );
        assert!(
            (share - 0.5).abs() <= (before - 0.5).abs() + 0.02,
            "topic {t}: {share} vs {before}"
        );
        balanced += 1;
    }
    assert!(balanced >= 2, "{plan}");

    // The same rows in five files (97 rows each), on one thread: the same bytes.
    let c = dir.path().join("c");
    let mut one = opts(&c);
    one.threads = 1;
    run(&rules, &[&parts], &one);
    let data = |out: &Path| -> Vec<Vec<u8>> {
        tree(out)
            .into_iter()
            .filter(|(k, _)| k.starts_with("data"))
            .map(|(_, v)| v)
            .collect()
    };
    assert_eq!(
        data(&a),
        data(&c),
        "the split or the threads changed the output"
    );
    assert_eq!(m["rebalance"], manifest(&c)["rebalance"]);
}

/// Issue 19, case 8: `apply` on its own output (the documented way to balance a second axis)
/// takes each row's id from `debias_id`, not from the `id` that copies share with their
/// original, and keeps the first run's provenance in `debias_lineage`; weights compound.
#[test]
fn apply_on_its_own_output_takes_ids_from_debias_id_and_keeps_the_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let cda = rules::load(&repo().join("rules/examples/gender-cda.yaml")).unwrap();
    run(&cda, &[&sample()], &opts(&first));
    let copies = int(
        &sql(&first, "SELECT count(*) FROM t WHERE debias_augmented"),
        0,
    );
    assert!(copies > 0);
    let rebalance = rules_text(
        dir.path(),
        "version: 1\naxes: {gender: {}}\nactions:\n  - rebalance: {axis: gender, strategy: reweight, target: {female: 0.5, male: 0.5, non_binary: 0}}\n",
    );
    let second = dir.path().join("second");
    let outcome = run(&rebalance, &[&first.join("data")], &opts(&second));
    let rows = int(&sql(&second, "SELECT count(*) FROM t"), 0);
    assert_eq!(rows as u64, outcome.manifest.rows.account.written);
    // Every row keeps its own id: as many distinct ids as rows (copies shared `id` before).
    assert_eq!(
        int(&sql(&second, "SELECT count(DISTINCT debias_id) FROM t"), 0),
        rows
    );
    assert!(int(&sql(&second, "SELECT count(DISTINCT id) FROM t"), 0) < rows);
    // The chain: one earlier step per row, naming a row of the first output; the rows the
    // first run made or rewrote (reweight keeps every row) are still known as such, with their rule.
    assert_eq!(
        int(
            &sql(
                &second,
                "SELECT count(*) FROM t WHERE array_length(debias_lineage) = 1"
            ),
            0
        ),
        rows
    );
    assert_eq!(
        int(
            &sql(
                &second,
                "SELECT count(*) FROM t WHERE debias_lineage[1]['id'] <> debias_id"
            ),
            0
        ),
        0
    );
    assert_eq!(
        int(
            &sql(
                &second,
                "SELECT count(*) FROM t WHERE debias_lineage[1]['augmented'] AND debias_lineage[1]['rule'] IN ('gender_cda', 'religion_cda')"
            ),
            0
        ),
        copies
    );
    // A third run (dropping nothing) adds a step, and keeps the second run's weights: the
    // weights of successive runs multiply.
    let keep_all = rules_text(
        dir.path(),
        "version: 1\naxes: {gender: {}}\nactions:\n  - drop: {name: none, where: \"false\"}\n",
    );
    let third = dir.path().join("third");
    run(&keep_all, &[&second.join("data")], &opts(&third));
    assert_eq!(
        int(
            &sql(
                &third,
                "SELECT CAST(min(array_length(debias_lineage)) AS BIGINT) FROM t"
            ),
            0
        ),
        2
    );
    let reweighted = sql(
        &third,
        "SELECT count(*) FROM t WHERE abs(debias_weight - 1.0) > 1e-9",
    );
    assert!(
        int(&reweighted, 0) > 0,
        "the second run reweighted some rows"
    );
    let kept = sql(
        &third,
        "SELECT count(*) FROM t WHERE abs(debias_weight - debias_lineage[2]['weight']) > 1e-9",
    );
    assert_eq!(int(&kept, 0), 0);
}

/// Issue 19, item 3: `apply --resume DIR` keeps the rebalance plan and each finished data file
/// in DIR. A run killed (SIGKILL) part way through its writing pass is resumed by the same
/// command: the plan is read back, the finished files are kept, and the output is the same,
/// byte for byte, as one uninterrupted run's. The work directory goes when the output is there.
#[test]
fn a_killed_apply_resumes_to_the_bytes_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    let text = std::fs::read_to_string(bold()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (k, chunk) in lines.chunks(lines.len() / 3 + 1).enumerate() {
        std::fs::write(
            corpus.join(format!("part-{k}.jsonl")),
            chunk.join("\n") + "\n",
        )
        .unwrap();
    }
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nseed: 3\naxes: {gender: {}}\nactions:\n  - augment: {swap: gender, mode: append}\n  - rebalance: {axis: gender, strategy: downsample, target: {female: 0.5, male: 0.5, non_binary: 0}}\noutput: {row_group_size: 300, target_file_size: 1}\n",
    )
    .unwrap();
    let args = |out: &Path, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "apply",
            corpus.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let whole = dir.path().join("whole");
    let whole_args = args(&whole, &["-q"]);
    let o = debias(&whole_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let files = manifest(&whole)["output"]["files"]
        .as_array()
        .unwrap()
        .len();
    assert!(files > 10, "{files} files");

    let work = dir.path().join("work");
    let out = dir.path().join("out");
    let resumable = args(&out, &["-q", "--resume", work.to_str().unwrap()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_debias"))
        .args(&resumable)
        .current_dir(repo())
        .spawn()
        .unwrap();
    // Kill it once it has finished two data files.
    let started = Instant::now();
    let finished = || -> usize {
        std::fs::read(work.join("written.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map_or(0, |v| v["files"].as_array().map_or(0, Vec::len))
    };
    while finished() < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "debias apply ended before it was interrupted"
        );
        assert!(started.elapsed() < Duration::from_secs(300));
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    assert!(!out.exists());
    assert!(work.join("plan.json").exists(), "the plan is saved");

    let again = args(&out, &["--resume", work.to_str().unwrap()]);
    let o = debias(&again.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(
        said.contains("resumed from") && said.contains("the rebalance plan and"),
        "{said}"
    );
    assert!(said.contains("(1 pass(es))"), "{said}");
    let kept: usize = said
        .split("the rebalance plan and ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(kept >= 2 && kept < files, "{said}");
    assert!(!work.exists(), "the work directory is removed at the end");
    assert!(
        tree(&out) == tree(&whole),
        "the resumed output differs from the uninterrupted one"
    );

    // A work directory that debias did not make is refused, not emptied.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let other = dir.path().join("other");
    let o = debias(
        &args(&other, &["--resume", foreign.to_str().unwrap()])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not made by debias"), "{}", stderr(&o));
    assert!(foreign.join("notes.txt").exists());
}
