//! The reports people look at: the HTML page of a scan (every section, with the figures of the
//! JSON), `--format`, `debias report render` and `diff`, the before/after page of `apply`, and a
//! render in headless Chromium that must not be blank.

use std::path::{Path, PathBuf};

use debias::report::Report;
use serde_json::Value;

use super::common::{bold, debias, gender_embedding_section, group, repo, stderr};

/// Parses a page as XML (our pages are well-formed XML as well as HTML).
fn parse(html: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse_with_options(
        html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("the page is not well-formed: {e}"))
}

fn text_of(n: roxmltree::Node) -> String {
    n.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect::<String>()
}

fn by_id<'a, 'i>(doc: &'a roxmltree::Document<'i>, id: &str) -> roxmltree::Node<'a, 'i> {
    doc.descendants()
        .find(|n| n.attribute("id") == Some(id))
        .unwrap_or_else(|| panic!("no element with id `{id}`"))
}

/// The body rows of table `id`, as cell texts.
fn rows(doc: &roxmltree::Document, id: &str) -> Vec<Vec<String>> {
    let t = by_id(doc, id);
    assert_eq!(t.tag_name().name(), "table", "`{id}` is not a table");
    t.descendants()
        .filter(|n| n.has_tag_name("tbody"))
        .flat_map(|b| b.children().filter(|r| r.has_tag_name("tr")))
        .map(|r| {
            r.children()
                .filter(|c| c.has_tag_name("td") || c.has_tag_name("th"))
                .map(text_of)
                .collect()
        })
        .collect()
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn num(x: u64) -> String {
    let s = x.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Nothing on the page is fetched: no scripts, no external stylesheets, images or fonts.
fn assert_self_contained(doc: &roxmltree::Document, html: &str) {
    for n in doc.descendants().filter(|n| n.is_element()) {
        assert!(
            !matches!(
                n.tag_name().name(),
                "script" | "link" | "img" | "iframe" | "object"
            ),
            "the page loads <{}>",
            n.tag_name().name()
        );
        for a in n.attributes() {
            if matches!(a.name(), "src" | "href") {
                assert!(
                    a.value().starts_with('#'),
                    "external reference {}",
                    a.value()
                );
            }
        }
    }
    assert!(!html.contains("@import") && !html.contains("url("));
}

/// Every section with a chart has the table of its numbers.
fn assert_charts_have_tables(doc: &roxmltree::Document) {
    for s in doc.descendants().filter(|n| n.has_tag_name("section")) {
        let charts = s.descendants().filter(|n| n.has_tag_name("svg")).count();
        let tables = s.descendants().filter(|n| n.has_tag_name("table")).count();
        assert!(
            charts == 0 || tables > 0,
            "section {:?} has a chart without a table",
            s.attribute("id")
        );
    }
}

/// The news sample with an embedding section (the real model), scanned by the binary into
/// `dir/report/`.
fn scan_news_with_embeddings(dir: &Path) -> PathBuf {
    let base = std::fs::read_to_string(repo().join("examples/news-sample.yaml")).unwrap();
    let rules = dir.join("rules.yaml");
    std::fs::write(
        &rules,
        format!("{base}\nseed: 3\n{}", gender_embedding_section(0.3, 4, 200)),
    )
    .unwrap();
    let out = dir.join("report");
    let o = debias(&[
        "scan",
        "examples/news_sample.jsonl",
        "-q",
        "--rules",
        rules.to_str().unwrap(),
        "--report",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

#[test]
fn the_html_report_has_every_section_with_the_figures_of_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = scan_news_with_embeddings(dir.path());
    // A report directory gets all three formats by default.
    for f in ["report.json", "report.md", "report.html"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let report = Report::load(&out.join("report.json")).unwrap();
    // The JSON reads back into the same report.
    assert_eq!(
        report.to_json(),
        std::fs::read_to_string(out.join("report.json")).unwrap()
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let doc = parse(&html);
    assert_self_contained(&doc, &html);
    assert_charts_have_tables(&doc);

    // Every section, and a table of contents that links to each.
    let mut ids = vec![
        "headline",
        "summary",
        "coverage",
        "associations",
        "attributes",
        "intersections",
        "sources",
        "embeddings",
    ];
    let axis_ids: Vec<String> = report
        .axes
        .iter()
        .map(|a| format!("axis-{}", a.name.replace('_', "-")))
        .collect();
    ids.extend(axis_ids.iter().map(String::as_str));
    for id in &ids {
        let s = by_id(&doc, id);
        assert_eq!(s.tag_name().name(), "section", "{id}");
        assert!(
            doc.descendants()
                .any(|n| n.attribute("href") == Some(&format!("#{id}"))),
            "{id} is not in the contents"
        );
    }

    // The run: rules hash, seed, version, inputs.
    let run: Vec<Vec<String>> = rows(&doc, "run");
    let value = |k: &str| {
        run.iter()
            .find(|r| r[0] == k)
            .unwrap_or_else(|| panic!("no {k} in the run table"))[1]
            .clone()
    };
    assert_eq!(value("Rules sha256"), report.rules.sha256);
    assert_eq!(value("Seed"), "3");
    assert_eq!(
        value("Tool"),
        format!("debias {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(value("Inputs").contains("news_sample.jsonl"));
    assert!(value("Rows").starts_with(&format!("{} read", num(report.rows.read))));

    // Per axis: each group's documents, share, interval and target, as in the JSON.
    for a in &report.axes {
        let t = rows(&doc, &format!("table-axis-{}", a.name.replace('_', "-")));
        assert_eq!(t.len(), a.groups.len(), "{}", a.name);
        for (row, g) in t.iter().zip(&a.groups) {
            let name = if g.too_few {
                format!("{} (too few)", g.name)
            } else {
                g.name.clone()
            };
            assert_eq!(row[0], name);
            assert_eq!(row[1], num(g.documents));
            assert_eq!(row[2], num(g.mentions));
            assert_eq!(row[3], g.share.map_or("–".into(), pct));
            assert_eq!(
                row[4],
                g.share_ci
                    .map_or("–".into(), |[lo, hi]| format!("{}–{}", pct(lo), pct(hi)))
            );
            assert_eq!(row[5], g.target.map_or("–".into(), pct));
        }
    }
    let gender = report.axes.iter().find(|a| a.name == "gender").unwrap();
    assert!(gender.documents > 10, "the sample mentions gender");
    let cov = rows(&doc, "table-coverage");
    let g = cov.iter().find(|r| r[0] == "gender").unwrap();
    assert_eq!(g[3], pct(gender.coverage));
    assert_eq!(
        g[7],
        format!("{:.3}", gender.total_variation_distance.unwrap())
    );
    assert_eq!(
        g[9],
        gender
            .parity_ratio
            .map_or("–".into(), |x| format!("{x:.2}"))
    );
    assert_headline(&doc, &report);
    // A chart per axis: the shares with their intervals and the target.
    let axis = by_id(&doc, "axis-gender");
    let svg = axis
        .descendants()
        .find(|n| n.has_tag_name("svg"))
        .expect("the gender section has a chart");
    let labels: Vec<String> = svg
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| text_of(n).trim().to_owned())
        .collect();
    for g in &gender.groups {
        let label = if g.too_few {
            format!("{} (too few)", g.name)
        } else {
            g.name.clone()
        };
        assert!(labels.contains(&label), "{label} not on the chart");
    }

    // Associations: 60 documents give none that is significant, and the section says why.
    assert!(report.association_tests > 0);
    assert!(report.associations.is_empty());
    assert!(text_of(by_id(&doc, "associations")).contains(&format!(
        "None: of the {} pairs tested",
        report.association_tests
    )));

    // Intersections and sources.
    let x = &report.intersections[0];
    let t = rows(&doc, "table-intersections");
    assert_eq!(
        t[0],
        vec![
            x.a.clone(),
            x.b.clone(),
            num(x.documents),
            pct(x.share_of_a),
            pct(x.share_of_b)
        ]
    );
    let src = report.sources.as_ref().unwrap();
    let t = rows(&doc, "table-sources-gender");
    assert_eq!(t.len(), src.top.len());
    for (row, s) in t.iter().zip(&src.top) {
        assert_eq!(row[0], s.source);
        assert_eq!(row[1], num(s.documents));
    }

    // Embeddings: implicit mentions, the topic heatmap, WEAT.
    let e = report.embedding.as_ref().unwrap();
    let t = rows(&doc, "embeddings-table-implicit");
    let imp = e.implicit.as_ref().unwrap();
    assert_eq!(t.len(), imp.groups.len());
    assert_eq!(t[0][3], num(imp.groups[0].both));
    let t = rows(&doc, "embeddings-table-topics");
    assert_eq!(t.len(), 4, "k = 4 topics");
    for (row, topic) in t.iter().zip(&e.topics) {
        assert_eq!(row[0], topic.topic.to_string());
        assert_eq!(row[1], num(topic.documents));
    }
    let emb = by_id(&doc, "embeddings");
    assert!(
        emb.descendants().filter(|n| n.has_tag_name("svg")).count() >= 3,
        "implicit, topic and WEAT charts"
    );
    let t = rows(&doc, "embeddings-table-weat");
    assert_eq!(t[0][0], "career_family");
    assert_eq!(
        t[0][4],
        e.association[0]
            .effect_size
            .map_or("–".into(), |v| format!("{v:.3}"))
    );

    // The saved JSON renders to the same page.
    let again = dir.path().join("again.html");
    let o = debias(&[
        "report",
        "render",
        out.join("report.json").to_str().unwrap(),
        "--output",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), html);
}

#[test]
fn formats_are_chosen_by_flag_and_extension_and_conflicts_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |n: &str| d.join(n).to_str().unwrap().to_owned();
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "tests/fixtures/tiny.jsonl", "-q"];
        args.extend_from_slice(extra);
        debias(&args)
    };
    // Only the formats asked for.
    let o = scan(&["--report", &p("some"), "--format", "json,html"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("some/report.json").is_file() && d.join("some/report.html").is_file());
    assert!(!d.join("some/report.md").exists());
    // A file by its extension.
    let o = scan(&["--report", &p("one.html")]);
    assert!(o.status.success(), "{}", stderr(&o));
    parse(&std::fs::read_to_string(d.join("one.html")).unwrap());
    // HTML on standard output.
    let o = scan(&["--format", "html"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("<!DOCTYPE html>"));
    // Conflicts, before anything is read.
    let o = scan(&["--report", &p("x.md"), "--format", "html"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is a .md file but --format asks for html"),
        "{}",
        stderr(&o)
    );
    let o = scan(&["--format", "json,md"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("standard output takes one report format"));
    let o = scan(&["--format", "pdf"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("possible values: json, md, html"),
        "{}",
        stderr(&o)
    );

    // `report render`: never over the input, never over a file without --overwrite, and a
    // clear error for a file that is not a report.
    let json = p("some/report.json");
    let o = debias(&["report", "render", &json, "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("would replace the input"),
        "{}",
        stderr(&o)
    );
    let o = debias(&["report", "render", &json]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("already exists; pass --overwrite"),
        "{}",
        stderr(&o)
    );
    let o = debias(&["report", "render", &json, "--format", "md"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(d.join("some/report.md"))
            .unwrap()
            .starts_with("# Skew report")
    );
    std::fs::write(
        d.join("bad.json"),
        "{\"schema\": \"debias-manifest\", \"version\": 1}",
    )
    .unwrap();
    let o = debias(&["report", "render", &p("bad.json")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("its \"schema\" is \"debias-manifest\", expected \"debias-report\""),
        "{}",
        stderr(&o)
    );
    std::fs::write(d.join("broken.json"), "{\n  \"schema\": \n").unwrap();
    let o = debias(&["report", "render", &p("broken.json")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("broken.json:3"), "{}", stderr(&o));
}

fn apply_news(dir: &Path) -> PathBuf {
    let rules = dir.join("rules.yaml");
    std::fs::write(
        &rules,
        r#"version: 1
input: {id_column: id, source_url_column: url}
axes: {gender: {}, religion: {}}
seed: 11
actions:
  - drop:
      name: no_religion
      terms: [church, mosque]
  - augment:
      name: swap
      swap: gender
      mode: append
  - rebalance:
      name: balance
      axis: gender
      strategy: reweight
"#,
    )
    .unwrap();
    let out = dir.join("out");
    let o = debias(&[
        "apply",
        "examples/news_sample.jsonl",
        "-q",
        "--rules",
        rules.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

#[test]
fn the_apply_page_shows_each_action_the_audit_and_before_vs_after() {
    let dir = tempfile::tempdir().unwrap();
    let out = apply_news(dir.path());
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(out.join("report/report.html")).unwrap();
    let doc = parse(&html);
    assert_self_contained(&doc, &html);
    assert_charts_have_tables(&doc);
    for id in [
        "run",
        "actions",
        "filter-audit",
        "rebalance",
        "comparison",
        "comparison-gender",
        "comparison-religion",
        "after-summary",
        "after-axis-gender",
    ] {
        assert_eq!(by_id(&doc, id).tag_name().name(), "section", "{id}");
    }
    // What each action changed, from the manifest's account.
    let acc = &m["rows"];
    let t = rows(&doc, "table-actions");
    let row = |name: &str| t.iter().find(|r| r[0] == name).unwrap().clone();
    let n = |v: &Value| num(v.as_u64().unwrap_or(0));
    assert_eq!(row("no_religion")[2], n(&acc["dropped"]["no_religion"]));
    assert!(acc["dropped"]["no_religion"].as_u64().unwrap() > 0);
    assert_eq!(row("swap")[3], n(&acc["augmented"]["swap"]));
    assert!(acc["augmented"]["swap"].as_u64().unwrap() > 0);
    assert!(
        row("balance")[6].contains("gender/female ×"),
        "{:?}",
        row("balance")
    );
    // The audit of the drop, per group.
    let audit = &m["filter_audit"][0];
    let t = rows(&doc, "table-audit-no-religion");
    for g in audit["groups"].as_array().unwrap() {
        let r = t
            .iter()
            .find(|r| r[0] == g["group"].as_str().unwrap())
            .unwrap();
        assert_eq!(r[1], n(&g["reached"]));
        assert_eq!(r[2], n(&g["removed"]));
    }
    // Before vs after, from the two reports.
    let before = Report::load(&out.join("report/before.json")).unwrap();
    let after = Report::load(&out.join("report/after.json")).unwrap();
    let t = rows(&doc, "table-comparison-gender");
    for g in &before
        .axes
        .iter()
        .find(|a| a.name == "gender")
        .unwrap()
        .groups
    {
        let a = after
            .axes
            .iter()
            .flat_map(|a| &a.groups)
            .find(|x| x.key == g.key)
            .unwrap();
        let r = t.iter().find(|r| r[0] == g.name).unwrap();
        assert_eq!(r[1], num(g.documents));
        assert_eq!(r[2], num(a.documents));
        assert_eq!(r[3], g.share.map_or("–".into(), pct));
        assert_eq!(r[4], a.share.map_or("–".into(), pct));
    }
    // The augmentation changed the gender shares: the page says by how much.
    assert!(t.iter().any(|r| r[5] != "+0.0 pts" && r[5] != "–"), "{t:?}");
    // Each side's page, and the same page again from the directory.
    for f in ["before.html", "after.html"] {
        parse(&std::fs::read_to_string(out.join("report").join(f)).unwrap());
    }
    let again = dir.path().join("again.html");
    let o = debias(&[
        "report",
        "render",
        out.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), html);
}

#[test]
fn report_diff_prints_and_renders_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let out = apply_news(dir.path());
    let (b, a) = (
        out.join("report/before.json"),
        out.join("report/after.json"),
    );
    let before = Report::load(&b).unwrap();
    let after = Report::load(&a).unwrap();
    let diff = |format: &str| {
        let o = debias(&[
            "report",
            "diff",
            b.to_str().unwrap(),
            a.to_str().unwrap(),
            "--format",
            format,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    // JSON: the change of every group's share, in points.
    let d: Value = serde_json::from_str(&diff("json")).unwrap();
    let gender = d["axes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["axis"] == "gender")
        .unwrap();
    let mut moved = 0;
    for g in gender["groups"].as_array().unwrap() {
        let name = g["group"].as_str().unwrap();
        let find = |r: &Report| {
            r.axes
                .iter()
                .find(|a| a.name == "gender")
                .unwrap()
                .groups
                .iter()
                .find(|x| x.name == name)
                .unwrap()
                .share
        };
        if let (Some(x), Some(y)) = (find(&before), find(&after)) {
            let change = g["share_change_points"].as_f64().unwrap();
            assert!((change - (y - x) * 100.0).abs() < 1e-3, "{name}: {change}");
            moved += (change.abs() > 0.05) as usize;
        }
    }
    assert!(moved >= 2, "the swap moved the gender shares");
    assert_eq!(d["before"]["documents"], before.rows.scanned);
    assert_eq!(d["after"]["documents"], after.rows.scanned);
    // Markdown: one row per group with both shares and the change.
    let md = diff("md");
    assert!(md.starts_with("# Report diff"));
    let female = gender["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "female")
        .unwrap();
    let line = format!(
        "| female | {} | {} | {} | {} | {:+.1} pts |",
        num(female["documents"][0].as_u64().unwrap()),
        num(female["documents"][1].as_u64().unwrap()),
        pct(female["share"][0].as_f64().unwrap()),
        pct(female["share"][1].as_f64().unwrap()),
        female["share_change_points"].as_f64().unwrap()
    );
    assert!(md.contains(&line), "{line}\n{md}");
    // HTML: the comparison sections.
    let html = diff("html");
    let doc = parse(&html);
    assert_self_contained(&doc, &html);
    let t = rows(&doc, "table-comparison-gender");
    assert!(
        t.iter()
            .any(|r| r[0] == "female" && r[3] == pct(female["share"][0].as_f64().unwrap()))
    );
}

/// The headline is the page's first section; it states the female:male ratio of the JSON, and
/// lists the JSON's findings in rank order (at most three of an axis), each linked to its axis.
fn assert_headline(doc: &roxmltree::Document, report: &Report) {
    let main = doc.descendants().find(|n| n.has_tag_name("main")).unwrap();
    let first = main.children().find(|n| n.is_element()).unwrap();
    assert_eq!(first.attribute("id"), Some("headline"));
    let gender = report.axes.iter().find(|a| a.name == "gender").unwrap();
    let pair = gender.pair.as_ref().expect("a female:male ratio");
    let lead = first
        .descendants()
        .find(|n| n.attribute("class") == Some("lead"))
        .map(text_of)
        .expect("a lead line");
    assert!(
        lead.contains(&format!(
            "{:.2} female documents per male document",
            pair.ratio.unwrap()
        )),
        "{lead}"
    );
    let items: Vec<String> = first
        .descendants()
        .filter(|n| n.has_tag_name("li"))
        .map(text_of)
        .collect();
    if report.findings.is_empty() {
        assert!(items.is_empty());
        assert!(text_of(first).contains("No skew flagged"));
    }
    let mut rest = report.findings.iter();
    for item in &items {
        let f = rest
            .find(|f| item.starts_with(&format!("{}/{}:", f.axis, f.group)))
            .unwrap_or_else(|| panic!("{item} is not the next finding of the JSON"));
        assert!(item.contains("CI"), "{item} has no interval");
        assert!(!f.group.is_empty());
    }
    for f in &report.findings {
        let g = report
            .axes
            .iter()
            .find(|a| a.name == f.axis)
            .and_then(|a| a.groups.iter().find(|g| g.name == f.group))
            .unwrap();
        assert!(
            !g.too_few,
            "{}/{} is too few to be flagged",
            f.axis, f.group
        );
    }
}

/// Renders `html` with tests/render-report.sh, or None when there is no Chromium (the test says
/// so; set DEBIAS_REQUIRE_CHROMIUM=1 to make that a failure).
fn render_png(html: &Path, png: &Path) -> Option<Vec<u8>> {
    let o = std::process::Command::new(repo().join("tests/render-report.sh"))
        .arg(html)
        .arg(png)
        .output()
        .expect("tests/render-report.sh runs");
    if o.status.code() == Some(3) {
        assert!(
            std::env::var_os("DEBIAS_REQUIRE_CHROMIUM").is_none(),
            "{}",
            stderr(&o)
        );
        eprintln!("SKIPPED the Chromium render: {}", stderr(&o));
        return None;
    }
    assert!(
        o.status.success(),
        "render-report.sh failed: {}",
        stderr(&o)
    );
    Some(std::fs::read(png).unwrap())
}

#[test]
fn the_page_renders_in_headless_chromium_to_a_real_page() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let o = debias(&[
        "scan",
        "examples/news_sample.jsonl",
        "-q",
        "--rules",
        "examples/news-sample.yaml",
        "--report",
        html.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let png = dir.path().join("report.png");
    let Some(bytes) = render_png(&html, &png) else {
        return;
    };
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    assert!(w >= 1000 && h >= 2000, "{w}x{h}");
    let channels = info.color_type.samples();
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * channels;
        (buf[i], buf[i + 1], buf[i + 2])
    };
    let mut ink = 0usize;
    let mut chart_blue = 0usize;
    let mut ink_rows = 0usize;
    for y in 0..h {
        let mut row_ink = false;
        for x in 0..w {
            let (r, g, b) = px(x, y);
            if (r as u32 + g as u32 + b as u32) < 600 {
                ink += 1;
                row_ink = true;
            }
            // The bars' Okabe–Ito blue.
            if (r as i32).abs() < 12 && (g as i32 - 114).abs() < 12 && (b as i32 - 178).abs() < 12 {
                chart_blue += 1;
            }
        }
        ink_rows += row_ink as usize;
    }
    let share = ink as f64 / (w * h) as f64;
    assert!(
        share > 0.02,
        "the page is nearly blank: {:.2}% ink",
        share * 100.0
    );
    assert!(
        ink_rows > h / 3,
        "text and charts fill the page: {ink_rows} of {h} rows"
    );
    assert!(
        chart_blue > 2000,
        "the charts are drawn: {chart_blue} blue pixels"
    );
    // The title is near the top.
    assert!(
        (0..120).any(|y| (0..w).any(|x| px(x, y).0 < 100)),
        "no title"
    );
}

/// Issue 17's "30 seconds": on BOLD with the default rules (no targets) the headline states the
/// female:male ratio with its interval and the flagged skews, none of them a group with too few
/// documents; and, rendered in Chromium at 1280 px wide, the ratio and the ranked findings end
/// within the first 1,400 px.
#[test]
fn bold_headline_states_the_skew_at_the_top_of_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bold");
    let o = debias(&[
        "scan",
        bold().to_str().unwrap(),
        "-q",
        "--report",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = Report::load(&out.join("report.json")).unwrap();
    let gender = report.axes.iter().find(|a| a.name == "gender").unwrap();
    assert_eq!(gender.target, "none");
    // Fewer women than men in BOLD: the ratio and its whole interval are below 1.
    let pair = gender.pair.as_ref().unwrap();
    let (r, [lo, hi]) = (pair.ratio.unwrap(), pair.ratio_ci.unwrap());
    assert!(lo < r && r < hi && hi < 0.8, "{lo} {r} {hi}");
    // female is flagged against male, the largest group; non_binary (a document or so) is not.
    let female = report
        .findings
        .iter()
        .find(|f| f.axis == "gender" && f.group == "female")
        .expect("female is flagged");
    assert_eq!(
        (female.kind.as_str(), female.largest.as_deref()),
        ("below_largest", Some("male"))
    );
    let nb = group(&report, "gender/non_binary");
    assert!(nb.too_few);
    assert!(!report.findings.iter().any(|f| f.group == "non_binary"));
    // Ranked: ratios of the under-representations never decrease.
    assert!(report.findings.windows(2).all(|w| w[0].ratio <= w[1].ratio));
    // Associations: only positive and significant after Benjamini–Hochberg over every pair
    // tested, and no attribute term that contains a gender term ("television actor").
    assert!(report.association_tests > 0 && !report.associations.is_empty());
    for ga in &report.associations {
        for t in &ga.terms {
            assert!(
                t.z > 0.0 && t.q <= 0.05 && t.p <= t.q,
                "{} {}: {t:?}",
                ga.group,
                t.term
            );
            if ga.group.starts_with("gender/") {
                assert!(
                    !t.term
                        .split(' ')
                        .any(|w| ["actor", "actress", "queen", "man", "woman"].contains(&w)),
                    "{}",
                    t.term
                );
            }
        }
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_headline(&parse(&html), &report);
    assert_associations(&parse(&html), &report);

    // Where the headline ends on screen: a copy of the page with a probe script that records the
    // bottom of the lead line and of the findings list.
    let probe = dir.path().join("probe.html");
    std::fs::write(
        &probe,
        html.replace(
            "</body>",
            "<script>var h=document.getElementById('headline');document.body.setAttribute('data-bottoms',\
             [h.querySelector('p.lead'),h.querySelector('ol.findings')].map(function(e){\
             return Math.round(e.getBoundingClientRect().bottom)}).join(','));</script></body>",
        ),
    )
    .unwrap();
    let Some(dom) = dump_dom(&probe) else { return };
    let bottoms: Vec<u32> = dom
        .split("data-bottoms=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the probe ran")
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(bottoms.iter().all(|&b| b > 0 && b <= 1400), "{bottoms:?}");
}

/// The association heatmap and table hold the z-scores of the JSON.
fn assert_associations(doc: &roxmltree::Document, report: &Report) {
    assert!(!report.associations.is_empty());
    let assoc = by_id(doc, "associations");
    assert!(assoc.descendants().any(|n| n.has_tag_name("svg")));
    let ga = &report.associations[0];
    let axis_name = ga.group.split('/').next().unwrap();
    let t = rows(
        doc,
        &format!(
            "table-associations-{}-{}",
            axis_name.replace('_', "-"),
            ga.lexicon.replace('_', "-")
        ),
    );
    let first = &ga.terms[0];
    assert!(
        t.iter()
            .any(|r| r[0] == ga.group && r[1] == first.term && r[5] == format!("{:.2}", first.z)),
        "{t:?}"
    );
}

/// The DOM of `html` after layout in headless Chromium at 1280 x 1400, or None without Chromium
/// (the test says so; DEBIAS_REQUIRE_CHROMIUM=1 makes that a failure).
fn dump_dom(html: &Path) -> Option<String> {
    let browser = std::env::var_os("CHROMIUM").map(PathBuf::from).or_else(|| {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .find_map(|b| which(b))
    });
    let Some(browser) = browser else {
        assert!(
            std::env::var_os("DEBIAS_REQUIRE_CHROMIUM").is_none(),
            "no Chromium"
        );
        eprintln!("SKIPPED the Chromium layout check: no chromium on PATH");
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1280,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    assert!(o.status.success(), "chromium failed: {}", stderr(&o));
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The program `name` on PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
