//! Report figures against hand counts, the `where` predicate, ids, attributes, UDFs in SQL and
//! the partition-invariance of every figure.

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use debias::pipeline::{ScanOptions, attributes::AttributesOutput, udf};

use super::common::*;

/// tests/fixtures/tiny.jsonl counted by hand (see the comments in each assertion).
#[test]
fn figures_match_hand_counts() {
    let rules = pets_rules();
    let (r, _) = scan(&rules, &[&fixture("tiny.jsonl")], &ScanOptions::default());
    // 8 rows: d6 has a null text, the other 7 are scanned.
    assert_eq!(
        (
            r.rows.read,
            r.rows.excluded_by_where,
            r.rows.null_text,
            r.rows.scanned
        ),
        (8, 0, 1, 7)
    );
    // gender: She/Her (d1), (her) (d7) -> female 2 docs, 3 mentions; He/his (d2), He's (d4) -> male 2 docs, 3
    // mentions; "here" (d5) and "hershey" (d8) are not `her`.
    let g = axis(&r, "gender");
    assert_eq!(g.documents, 4);
    assert_eq!(g.coverage, 0.571429);
    let f = group(&r, "gender/female");
    let m = group(&r, "gender/male");
    assert_eq!(
        (f.documents, f.mentions, m.documents, m.mentions),
        (2, 3, 2, 3)
    );
    assert_eq!(
        (f.share, m.share, group(&r, "gender/non_binary").share),
        (Some(0.5), Some(0.5), Some(0.0))
    );
    // Parity over 3 groups (declared): TVD = (1/6 + 1/6 + 1/3) / 2. Every gender group has fewer
    // than `min_documents: 3` documents: too few to judge, so no max/min or parity ratio.
    assert_eq!(g.target, "parity");
    assert_eq!(g.total_variation_distance, Some(0.333333));
    assert_eq!((g.max_min_ratio, g.parity_ratio), (None, None));
    assert_eq!(f.ratio_to_target, Some(1.5));
    assert!(f.too_few && m.too_few);
    // female:male = 2:2, the interval around 1.
    let pair = g.pair.as_ref().expect("gender has a female:male ratio");
    assert_eq!(
        (pair.a_documents, pair.b_documents, pair.ratio),
        (2, 2, Some(1.0))
    );
    let [lo, hi] = pair.ratio_ci.unwrap();
    assert!(lo < 1.0 && hi > 1.0, "{lo} {hi}");
    // pets: cat in d1 (x2), d3 (kitten), d4 (cat's), d7 (CAT) -> 4 docs, 5 mentions;
    // dog in d2 (dog, dogs), d3 (puppy), d7 (Dogs) -> 3 docs, 4 mentions; "Catalog"/"dogma" do not count.
    let p = axis(&r, "pets");
    let cat = group(&r, "pets/cat");
    let dog = group(&r, "pets/dog");
    assert_eq!(
        (cat.documents, cat.mentions, dog.documents, dog.mentions),
        (4, 5, 3, 4)
    );
    assert_eq!((p.documents, p.multi_group_documents), (5, 2));
    assert_eq!(cat.doc_share, Some(0.8));
    assert_eq!(cat.share, Some(0.571429));
    // No target for pets: no distance from one, and the ratio to the largest group instead.
    assert_eq!(p.target, "none");
    assert_eq!((p.total_variation_distance, p.max_min_ratio), (None, None));
    assert_eq!((cat.target, cat.ratio_to_target), (None, None));
    assert_eq!(dog.ratio_to_largest, Some(0.75));
    assert_eq!(p.parity_ratio, Some(0.75));
    // 3 vs 4 documents is below 0.8 but far from significant: not flagged.
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // Wilson 95% interval of 4/7.
    let [lo, hi] = cat.share_ci.unwrap();
    assert!(
        (lo - 0.2503).abs() < 1e-3 && (hi - 0.8418).abs() < 1e-3,
        "{lo} {hi}"
    );
    // mood: happy in d1 and d2 (happy + joyful) -> 2 docs, 3 mentions; sad in d4.
    let mood = &r.attributes[0];
    assert_eq!(mood.name, "mood");
    let happy = &mood.categories[0];
    assert_eq!((happy.documents, happy.mentions), (2, 3));
    assert_eq!(mood.categories[1].documents, 1);
    // Intersections: female x cat (d1, d7), female x dog (d7), male x cat (d4), male x dog (d2).
    let pairs: Vec<(&str, &str, u64)> = r
        .intersections
        .iter()
        .map(|x| (x.a.as_str(), x.b.as_str(), x.documents))
        .collect();
    assert_eq!(
        pairs,
        [
            ("gender/female", "pets/cat", 2),
            ("gender/female", "pets/dog", 1),
            ("gender/male", "pets/cat", 1),
            ("gender/male", "pets/dog", 1)
        ]
    );
    // Associations with min_count 1: female docs mention `happy` once (d1); male docs: joyful, sad,
    // happy; cat and dog docs two moods each. All are tested; with 7 documents none is
    // significant after Benjamini–Hochberg, so none is listed.
    assert!(r.association_tests >= 4, "{}", r.association_tests);
    assert!(r.associations.is_empty());
    // Sources: blog = d1, d2, d8; news = d3, d4, d5 (d6 has no text); d7 has a null source.
    let s = r.sources.as_ref().unwrap();
    assert_eq!((s.distinct, s.null_source), (2, 1));
    let counts: Vec<(&str, u64)> = s
        .top
        .iter()
        .map(|x| (x.source.as_str(), x.documents))
        .collect();
    assert_eq!(counts, [("blog", 3), ("news", 3)]);
    let blog_gender = &s.top[0].axes[0];
    assert_eq!(
        (blog_gender.axis.as_str(), blog_gender.coverage),
        ("gender", 0.666667)
    );
    // Examples: at most 2 per group, with the snippet around the first mention.
    assert_eq!(f.examples.len(), 2);
    assert!(f.examples.iter().all(|e| e.matched.eq_ignore_ascii_case("she") || e.matched.eq_ignore_ascii_case("her")));
}

#[test]
fn where_predicate_selects_rows_and_accounts_for_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = std::fs::read_to_string(fixture("pets.yaml"))
        .unwrap()
        .replace(
            "input:\n  source_column: source",
            "input:\n  source_column: source\n  where: \"source = 'blog'\"",
        );
    let rules = rules_text(dir.path(), &yaml);
    let (r, _) = scan(&rules, &[&fixture("tiny.jsonl")], &ScanOptions::default());
    // blog rows: d1, d2, d8. d7's null source makes the predicate null: excluded.
    assert_eq!(
        (
            r.rows.read,
            r.rows.excluded_by_where,
            r.rows.null_text,
            r.rows.scanned
        ),
        (8, 5, 0, 3)
    );
    assert_eq!(group(&r, "gender/female").documents, 1);
    assert_eq!(group(&r, "pets/dog").mentions, 2);
    assert_eq!(r.rules.r#where.as_deref(), Some("source = 'blog'"));
}

#[test]
fn without_an_id_column_ids_are_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("notes.csv");
    std::fs::write(
        &csv,
        "text,source\nnothing here,a\n\"she said, \"\"fine\"\"\",b\n",
    )
    .unwrap();
    let rules = pets_rules();
    let (r, _) = scan(&rules, &[&csv], &ScanOptions::default());
    let f = group(&r, "gender/female");
    assert_eq!(f.examples[0].id, "notes.csv#1");
    assert_eq!(f.examples[0].snippet, "she said, \"fine\"");
}

#[test]
fn attributes_are_written_as_parquet_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("attrs");
    let rules = pets_rules();
    let opts = ScanOptions {
        attributes: Some(AttributesOutput {
            dir: out.clone(),
            overwrite: false,
            detector: rules.detector.clone(),
        }),
        ..ScanOptions::default()
    };
    scan(&rules, &[&fixture("tiny.jsonl")], &opts);
    // Only the finished directory is left: no temporary directory beside it.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, ["attrs"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let batches: Vec<RecordBatch> = rt.block_on(async {
        let ctx = SessionContext::new();
        ctx.register_parquet("a", out.to_str().unwrap(), ParquetReadOptions::default()).await.unwrap();
        ctx.sql(
            "SELECT debias_id, array_to_string(debias_groups, ','), debias_mentions[1]['group'] || '=' || CAST(debias_mentions[1]['mentions'] AS VARCHAR), \
             array_to_string(debias_attributes, ',') FROM a ORDER BY debias_id",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
    });
    let b = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    assert_eq!(
        b.num_rows(),
        7,
        "every scanned document, none of the null-text rows"
    );
    let ids: Vec<String> = (0..7)
        .map(|i| datafusion::arrow::util::display::array_value_to_string(b.column(0), i).unwrap())
        .collect();
    assert_eq!(ids, ["d1", "d2", "d3", "d4", "d5", "d7", "d8"]);
    let col = |c: usize, i: usize| {
        datafusion::arrow::util::display::array_value_to_string(b.column(c), i).unwrap()
    };
    assert_eq!(col(1, 0), "gender/female,pets/cat");
    assert_eq!(col(2, 0), "gender/female=2");
    assert_eq!(col(3, 1), "mood/happy");
    assert_eq!(col(1, 4), "");
    // An existing directory is refused without --overwrite.
    let again = debias::pipeline::scan(
        &rules,
        &[fixture("tiny.jsonl").to_string_lossy().to_string()],
        &opts,
    );
    assert!(again.unwrap_err().to_string().contains("--overwrite"));
}

#[test]
fn udfs_are_callable_from_sql_by_name() {
    let rules = pets_rules();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let batches = rt.block_on(async {
        let mut ctx = SessionContext::new();
        udf::register(&mut ctx, rules.detector.clone()).unwrap();
        ctx.sql(
            "SELECT array_to_string(debias_groups(t), ','), debias_mentions(t)['pets/dog'], \
             debias_url_domain('https://www.Example.org/a'), cardinality(debias_hits(t)) \
             FROM (VALUES (arrow_cast('His DOGS and her puppy', 'Utf8View')), (arrow_cast('none', 'LargeUtf8'))) AS v(t)",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
    });
    let b = &batches[0];
    let col = |c: usize, i: usize| {
        datafusion::arrow::util::display::array_value_to_string(b.column(c), i).unwrap()
    };
    assert_eq!(col(0, 0), "gender/female,gender/male,pets/dog");
    assert_eq!(col(1, 0), "2");
    assert_eq!(col(2, 0), "example.org");
    assert_eq!(col(3, 0), "4");
    assert_eq!(col(0, 1), "");
    assert_eq!(udf::NAMES.len(), 5);
}

/// BOLD with an `id` column, as JSONL and as Parquet with small row groups, so that DataFusion
/// splits each file into several partitions.
fn bold_with_ids(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let jsonl = dir.join("bold.jsonl");
    let text = std::fs::read_to_string(bold()).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["id"] = serde_json::Value::from(format!("b{i}"));
        out.push_str(&v.to_string());
        out.push('\n');
    }
    std::fs::write(&jsonl, out).unwrap();
    let parquet = dir.join("bold.parquet");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ctx = SessionContext::new();
        let df = ctx
            .read_json(
                jsonl.to_str().unwrap(),
                datafusion::prelude::JsonReadOptions::default().file_extension(".jsonl"),
            )
            .await
            .unwrap();
        let mut opts = datafusion::config::TableParquetOptions::default();
        opts.global.max_row_group_size = 2000;
        df.write_parquet(
            parquet.to_str().unwrap(),
            datafusion::dataframe::DataFrameWriteOptions::new(),
            Some(opts),
        )
        .await
        .unwrap();
    });
    (jsonl, parquet)
}

#[test]
fn figures_do_not_depend_on_partitions_or_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (jsonl, parquet) = bold_with_ids(dir.path());
    let rules = debias::rules::default_rules().unwrap();
    let one = ScanOptions {
        threads: 1,
        ..ScanOptions::default()
    };
    let four = ScanOptions {
        threads: 4,
        repartition_min_bytes: 1,
        ..ScanOptions::default()
    };
    let (r1, o1) = scan(&rules, &[&jsonl], &one);
    let (r4, o4) = scan(&rules, &[&jsonl], &four);
    assert_eq!(o1.partitions, 1);
    assert!(
        o4.partitions > 1,
        "the JSONL file should have been split, got {} partition(s)",
        o4.partitions
    );
    assert_eq!(figures(&r1), figures(&r4));
    let (p1, _) = scan(&rules, &[&parquet], &one);
    let (p4, op4) = scan(&rules, &[&parquet], &four);
    assert!(
        op4.partitions > 1,
        "the Parquet file should have been split"
    );
    assert_eq!(figures(&p1), figures(&p4));
    // Same documents, same ids: the same figures whatever the format.
    assert_eq!(figures(&r1), figures(&p1));
    // And the same JSON twice.
    assert_eq!(r1.to_json(), scan(&rules, &[&jsonl], &one).0.to_json());
}

/// The scan of a file is a DataFusion aggregate (`debias_scan_stats`) that the planner runs as
/// a partial aggregate per partition and a final one over the partials; the per-file results
/// merge into exactly the counts of one single-threaded pass over the whole corpus.
#[test]
fn the_scan_aggregate_runs_per_partition_and_its_partials_merge_exactly() {
    use datafusion::physical_plan::displayable;
    use debias::pipeline::{self, scan::ScanAggregate};
    let dir = tempfile::tempdir().unwrap();
    let (with_ids, _) = bold_with_ids(dir.path());
    // And a file without ids (read in order, FILE#ROW ids).
    let without_ids = dir.path().join("plain.jsonl");
    let text = std::fs::read_to_string(bold()).unwrap();
    let head: Vec<&str> = text.lines().take(3000).collect();
    std::fs::write(&without_ids, head.join("\n") + "\n").unwrap();
    let rules = std::sync::Arc::new(debias::rules::default_rules().unwrap());
    let one = ScanOptions {
        threads: 1,
        ..ScanOptions::default()
    };
    let (_, whole) = scan(&rules, &[&with_ids, &without_ids], &one);

    let four = ScanOptions {
        threads: 4,
        repartition_min_bytes: 1,
        ..ScanOptions::default()
    };
    let ordered = pipeline::session(rules.detector.clone(), &four, true).unwrap();
    let parallel = pipeline::session(rules.detector.clone(), &four, false).unwrap();
    let files = pipeline::input::resolve(
        &[
            with_ids.to_string_lossy().to_string(),
            without_ids.to_string_lossy().to_string(),
        ],
        None,
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut merged: Option<debias::report::stats::ScanStats> = None;
    for f in &files {
        let stats = rt.block_on(async {
            let df = pipeline::scan::file_plan(&ordered, &parallel, &rules, f)
                .await
                .unwrap();
            if f.path == with_ids {
                let plan = df.clone().create_physical_plan().await.unwrap();
                let shown = displayable(plan.as_ref()).indent(true).to_string();
                assert!(
                    shown.contains("mode=Partial") && shown.contains("mode=Final"),
                    "{shown}"
                );
                println!("{shown}");
                let groups = shown
                    .split("file_groups={")
                    .nth(1)
                    .and_then(|s| s.split(' ').next())
                    .and_then(|n| n.parse::<usize>().ok());
                assert!(
                    groups.is_some_and(|n| n > 1),
                    "the file should be read in several partitions:\n{shown}"
                );
            }
            let batches = df.collect().await.unwrap();
            let bytes = batches[0].column(0).as_binary::<i32>().value(0).to_vec();
            pipeline::scan::decode_stats(&bytes).unwrap()
        });
        assert_eq!(
            stats.documents,
            if f.path == with_ids {
                whole.stats.documents - 3000
            } else {
                3000
            },
            "{}",
            f.path.display()
        );
        match &mut merged {
            None => merged = Some(stats),
            Some(m) => m.merge(stats, rules.report.examples),
        }
    }
    assert_eq!(merged.unwrap(), whole.stats);
    assert_eq!(ScanAggregate::NAME, "debias_scan_stats");
}

/// Issue 19, item 3: `scan --resume DIR` saves each file's counts as it is done; after a run
/// that stops part way (here on a malformed third file), the same command reads the first two
/// back instead of scanning them, and writes the report that one uninterrupted scan writes.
/// The work directory is removed once the report is written.
#[test]
fn a_resumed_scan_reads_finished_files_back_and_reports_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    let text = std::fs::read_to_string(bold()).unwrap();
    let lines: Vec<&str> = text.lines().take(6000).collect();
    for (k, chunk) in lines.chunks(2000).enumerate() {
        std::fs::write(
            corpus.join(format!("part-{k}.jsonl")),
            chunk.join("\n") + "\n",
        )
        .unwrap();
    }
    let whole = dir.path().join("whole.json");
    let run = |report: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "scan",
            corpus.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--threads",
            "1",
            "--overwrite",
        ];
        args.extend_from_slice(extra);
        debias(&args)
    };
    let o = run(&whole, &["-q"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let work = dir.path().join("work");
    let third = corpus.join("part-2.jsonl");
    let good = std::fs::read(&third).unwrap();
    std::fs::write(&third, b"{\"text\": \"cut off\n").unwrap();
    let resumed = dir.path().join("resumed.json");
    let o = run(&resumed, &["--resume", work.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let saved = std::fs::read_dir(&work)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("file-")
        })
        .count();
    assert_eq!(saved, 2, "the two files done are saved");

    std::fs::write(&third, good).unwrap();
    let o = run(&resumed, &["--resume", work.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("resumed: 2 of 3 file(s)"),
        "{}",
        stderr(&o)
    );
    assert!(!work.exists(), "the work directory is removed at the end");
    let figures = |p: &std::path::Path| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("inputs");
        o.remove("elapsed_seconds");
        v
    };
    assert_eq!(figures(&resumed), figures(&whole));
    // A file changed since it was saved is scanned again, not read back.
    let o = run(&resumed, &["--resume", work.to_str().unwrap(), "-q"]);
    assert!(o.status.success());
    std::fs::write(&third, b"{\"text\": \"cut off\n").unwrap();
    let o = run(&resumed, &["--resume", work.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let first = corpus.join("part-0.jsonl");
    let mut changed = std::fs::read_to_string(&first).unwrap();
    changed.push_str("{\"text\": \"One more line about a woman.\"}\n");
    std::fs::write(&first, changed).unwrap();
    std::fs::write(&third, lines[4000..].join("\n") + "\n").unwrap();
    let o = run(&resumed, &["--resume", work.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("resumed: 1 of 3 file(s)"),
        "{}",
        stderr(&o)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&resumed).unwrap()).unwrap();
    assert_eq!(r["rows"]["read"], 6001);
}

/// `scan --resume` with `--attributes`: the attribute files of the files done are kept in the
/// work directory and put back on resume, so the attributes equal an uninterrupted run's, byte
/// for byte, and appear only with the report.
#[test]
fn a_resumed_scan_keeps_the_attributes_of_finished_files() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    let text = std::fs::read_to_string(bold()).unwrap();
    let lines: Vec<&str> = text.lines().take(3000).collect();
    for (k, chunk) in lines.chunks(1000).enumerate() {
        std::fs::write(
            corpus.join(format!("part-{k}.jsonl")),
            chunk.join("\n") + "\n",
        )
        .unwrap();
    }
    let run = |name: &str, extra: &[&str]| {
        let report = dir.path().join(format!("{name}.json"));
        let attrs = dir.path().join(format!("{name}-attrs"));
        let mut args = vec![
            "scan",
            corpus.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--attributes",
            attrs.to_str().unwrap(),
            "--threads",
            "1",
            "-q",
        ];
        args.extend_from_slice(extra);
        (debias(&args), attrs)
    };
    let (o, whole) = run("whole", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let work = dir.path().join("work");
    let third = corpus.join("part-2.jsonl");
    let good = std::fs::read(&third).unwrap();
    std::fs::write(&third, b"{\"text\": \"cut off\n").unwrap();
    let (o, attrs) = run("resumed", &["--resume", work.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!attrs.exists(), "no attributes without the report");
    // The two files done: their counts, and their attribute files beside them.
    let kept: Vec<String> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        kept.iter().filter(|n| n.ends_with(".json")).count(),
        2,
        "{kept:?}"
    );
    assert_eq!(
        kept.iter().filter(|n| n.ends_with(".attributes")).count(),
        2,
        "{kept:?}"
    );
    std::fs::write(&third, good).unwrap();
    let (o, attrs) = run("resumed", &["--resume", work.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let files = |d: &std::path::Path| {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                (name, std::fs::read(&p).unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let (a, b) = (files(&whole), files(&attrs));
    assert_eq!(
        a.iter().map(|x| &x.0).collect::<Vec<_>>(),
        b.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    assert!(
        a == b,
        "the attribute files differ from an uninterrupted run's"
    );
    assert!(!work.exists());
}
