//! The HTML rendering of reports: one self-contained page (no scripts, no network, charts as
//! inline SVG from [`super::charts`]), with the table of every chart's numbers below it.
//!
//! Three pages: a scan report ([`render`]), the before/after page of an `apply` output
//! ([`render_apply`]) and a comparison of two reports ([`render_diff`]). The markup is
//! well-formed XML as well as HTML, so tests can read it with an XML parser; every section has a
//! stable `id` (`summary`, `axis-gender`, `associations`, …) and every table one too.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::charts::{self, Bar, Scale};
use super::diff::{self, ReportDiff, f2};
use super::fmt::{ci, group_name, num, opt_pct, opt_ratio, pct, share_or_count};
use super::{AxisReport, Report};
use crate::apply::manifest::Manifest;

/// Rows of the longer tables; the JSON has them all.
const TABLE_ROWS: usize = 30;
/// Rows (terms) of an association heatmap.
const HEATMAP_TERMS: usize = 20;

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// An id fragment from a name: lowercase ASCII letters, digits and dashes.
pub(crate) fn slug(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            o.push(c.to_ascii_lowercase());
        } else if !o.ends_with('-') {
            o.push('-');
        }
    }
    o.trim_matches('-').to_owned()
}

const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #212121; background: #fff; margin: 0 auto; max-width: 1040px; padding: 24px 28px 64px; line-height: 1.45; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 36px 0 8px; padding-top: 8px; border-top: 2px solid #0072b2; }
h3 { font-size: 1.08em; margin: 22px 0 6px; }
.sub { color: #555; margin: 0 0 16px; }
nav { background: #f4f6f8; border: 1px solid #dde3e8; padding: 8px 14px; margin: 12px 0 20px; font-size: 0.92em; }
nav ol { margin: 4px 0; padding-left: 20px; columns: 2; }
a { color: #0060a0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.88em; }
caption { text-align: left; color: #555; font-size: 0.95em; padding: 2px 0 4px; caption-side: top; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; vertical-align: top; }
th { background: #f4f6f8; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { width: 14em; }
.wide { overflow-x: auto; }
figure { margin: 10px 0 4px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.9em; margin-top: 2px; }
.findings li { margin: 3px 0; }
.lead { font-size: 1.12em; margin: 6px 0; }
.warn { border-left: 5px solid #d55e00; background: #fff4ec; padding: 6px 12px; margin: 8px 0; }
.note { color: #555; font-size: 0.9em; }
.snippet { font-size: 0.85em; color: #333; }
code { background: #f4f6f8; padding: 0 3px; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  h2 { break-before: auto; break-after: avoid; }
  h3 { break-after: avoid; }
  figure, table, .warn { break-inside: avoid; }
  .wide { overflow: visible; }
  table { font-size: 8pt; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Column alignment of a table.
enum Align {
    /// The first n columns are text, the rest numbers.
    Leading(usize),
    /// `l` or `r` per column.
    Each(&'static str),
}

impl Align {
    fn is_text(&self, i: usize) -> bool {
        match self {
            Align::Leading(n) => i < *n,
            Align::Each(s) => s.as_bytes().get(i) != Some(&b'r'),
        }
    }
}

impl From<usize> for Align {
    fn from(n: usize) -> Align {
        Align::Leading(n)
    }
}

impl From<&'static str> for Align {
    fn from(s: &'static str) -> Align {
        Align::Each(s)
    }
}

/// A page under construction: sections in order, with a table of contents.
struct Page {
    title: String,
    subtitle: String,
    toc: Vec<(String, String)>,
    body: String,
}

impl Page {
    fn new(title: &str, subtitle: String) -> Page {
        Page {
            title: title.to_owned(),
            subtitle,
            toc: Vec::new(),
            body: String::new(),
        }
    }

    /// Opens a section; its content follows through `self.body`.
    fn section(&mut self, id: &str, title: &str) {
        self.toc.push((id.to_owned(), title.to_owned()));
        let _ = writeln!(
            self.body,
            "<section id=\"{}\">\n<h2>{}</h2>",
            esc(id),
            esc(title)
        );
    }

    fn end(&mut self) {
        self.body.push_str("</section>\n");
    }

    fn p(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", esc(text));
    }

    fn note(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p class=\"note\">{}</p>", esc(text));
    }

    fn h3(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h3>{}</h3>", esc(text));
    }

    fn warn(&mut self, text: &str) {
        let _ = writeln!(
            self.body,
            "<div class=\"warn\" role=\"note\"><strong>Warning:</strong> {}</div>",
            esc(text)
        );
    }

    fn figure(&mut self, svg: &str, caption: &str) {
        let _ = writeln!(
            self.body,
            "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>",
            svg.trim(),
            esc(caption)
        );
    }

    /// A table; `align` is a [`Align`]: how many leading text columns, or one letter per column
    /// (`l` text, `r` a number, right-aligned).
    fn table(
        &mut self,
        id: &str,
        caption: &str,
        head: &[&str],
        align: impl Into<Align>,
        rows: &[Vec<String>],
    ) {
        let align = align.into();
        let b = &mut self.body;
        let _ = write!(
            b,
            "<div class=\"wide\">\n<table id=\"{}\">\n<caption>{}</caption>\n<thead><tr>",
            esc(id),
            esc(caption)
        );
        for h in head {
            let _ = write!(b, "<th scope=\"col\">{}</th>", esc(h));
        }
        b.push_str("</tr></thead>\n<tbody>\n");
        for r in rows {
            b.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                if align.is_text(i) {
                    let cell = esc(c)
                        .replace(MARK_OPEN, "<mark>")
                        .replace(MARK_CLOSE, "</mark>");
                    let _ = write!(b, "<td>{cell}</td>");
                } else {
                    let _ = write!(b, "<td class=\"n\">{}</td>", esc(c));
                }
            }
            b.push_str("</tr>\n");
        }
        b.push_str("</tbody>\n</table>\n</div>\n");
    }

    /// A two-column table of names and values.
    fn key_values(&mut self, id: &str, rows: &[(&str, String)]) {
        let b = &mut self.body;
        let _ = writeln!(b, "<table id=\"{}\" class=\"kv\"><tbody>", esc(id));
        for (k, v) in rows {
            let _ = writeln!(
                b,
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                esc(k),
                esc(v)
            );
        }
        b.push_str("</tbody></table>\n");
    }

    fn finish(self) -> String {
        let mut o = String::with_capacity(self.body.len() + 4096);
        let _ = write!(
            o,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
             <meta name=\"generator\" content=\"debias {}\"/>\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n\
             <header>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n</header>\n<nav aria-label=\"Contents\"><strong>Contents</strong>\n<ol>\n",
            env!("CARGO_PKG_VERSION"),
            esc(&self.title),
            CSS,
            esc(&self.title),
            esc(&self.subtitle)
        );
        for (id, title) in &self.toc {
            let _ = writeln!(o, "<li><a href=\"#{}\">{}</a></li>", esc(id), esc(title));
        }
        o.push_str("</ol>\n</nav>\n<main>\n");
        o.push_str(&self.body);
        o.push_str("</main>\n</body>\n</html>\n");
        o
    }
}

/// A difference of shares in whole percentage points: "+12", "-3", "0".
fn points(v: f64) -> String {
    let p = (v * 100.0).round();
    if p == 0.0 {
        "0".into()
    } else {
        format!("{p:+.0}")
    }
}

/// The scan report as a page.
pub fn render(r: &Report) -> String {
    let mut page = Page::new(
        "debias skew report",
        format!(
            "{} documents from {} file(s); rules {} (sha256 {}); debias {}",
            num(r.rows.scanned),
            r.inputs.len(),
            r.rules.path,
            diff::short(&r.rules.sha256),
            r.tool.version
        ),
    );
    report_sections(&mut page, r, "", "");
    page.finish()
}

/// One line per axis: how far it is from its target, the most and least represented groups.
fn findings(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for a in &r.axes {
        if a.documents == 0 {
            out.push(format!("{}: no document mentions this axis.", a.name));
            continue;
        }
        let mut gs: Vec<_> = a.groups.iter().filter(|g| g.share.is_some()).collect();
        gs.sort_by(|x, y| {
            y.share
                .partial_cmp(&x.share)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let shares: Vec<String> = gs
            .iter()
            .take(4)
            .map(|g| match g.target {
                Some(t) => format!("{} {} (target {})", group_name(g), opt_pct(g.share), pct(t)),
                None => format!("{} {}", group_name(g), opt_pct(g.share)),
            })
            .collect();
        let distance = if a.target == "none" {
            format!("parity ratio {}", opt_ratio(a.parity_ratio))
        } else {
            format!(
                "total variation distance from the {} target {}",
                a.target,
                diff::f3(a.total_variation_distance)
            )
        };
        out.push(format!(
            "{}: mentioned in {} of documents; {}{}; {distance}.",
            a.name,
            share_or_count(a.coverage, a.documents),
            shares.join(", "),
            if gs.len() > 4 { ", …" } else { "" },
        ));
    }
    out
}

/// The headline: pair ratios, the ranked findings linked to their axes, the groups too few to
/// judge, then every axis's shares in one chart of small multiples.
fn headline_section(page: &mut Page, r: &Report, id: &str, title: &str, id_prefix: &str) {
    let h = super::headline::Headline::of(r);
    page.section(id, title);
    for line in &h.ratios {
        let _ = writeln!(
            page.body,
            "<p class=\"lead\"><strong>{}</strong></p>",
            esc(line)
        );
    }
    page.p(&h.rule);
    if !h.findings.is_empty() {
        page.body.push_str("<ol class=\"findings\">\n");
        for (axis, line) in &h.findings {
            let _ = writeln!(
                page.body,
                "<li>{} (<a href=\"#{}axis-{}\">{}</a>)</li>",
                esc(line),
                esc(id_prefix),
                slug(axis),
                esc(axis)
            );
        }
        page.body.push_str("</ol>\n");
    }
    if !h.more.is_empty() {
        page.note(&h.more);
    }
    if !h.too_few.is_empty() {
        page.note(&h.too_few);
    }
    let panels: Vec<charts::Panel> = r
        .axes
        .iter()
        .filter(|a| a.documents > 0)
        .map(|a| charts::Panel {
            title: format!("{} ({} documents)", a.name, num(a.documents)),
            bars: a
                .groups
                .iter()
                .map(|g| Bar {
                    label: group_name(g),
                    value: g.share,
                    ci: g.share_ci,
                    target: g.target.filter(|&t| t > 0.0),
                })
                .collect(),
        })
        .collect();
    if panels.is_empty() {
        page.note("No chart: no document mentions any axis.");
    } else {
        page.figure(
            &charts::small_multiples(&panels),
            "Each axis: the share of every group (bar) with its confidence interval, and its target where the rules \
             declare one (black tick).",
        );
    }
    let rows: Vec<Vec<String>> = r
        .axes
        .iter()
        .map(|a| {
            let (largest, smallest) = super::headline::largest_and_smallest(a);
            let too_few = a.groups.iter().filter(|g| g.too_few).count();
            let show = |g: &super::GroupReport| format!("{} ({})", g.name, opt_pct(g.share));
            vec![
                a.name.clone(),
                num(a.documents),
                a.target.clone(),
                largest.map_or("–".into(), show),
                smallest.map_or("–".into(), show),
                opt_ratio(a.parity_ratio),
                r.findings
                    .iter()
                    .filter(|f| f.axis == a.name)
                    .count()
                    .to_string(),
                too_few.to_string(),
            ]
        })
        .collect();
    page.table(
        &format!("{id_prefix}table-headline"),
        "Per axis: the largest and the smallest judged group, the parity ratio, flagged groups and groups too few to judge",
        &[
            "axis",
            "documents",
            "target",
            "largest group",
            "smallest judged group",
            "parity ratio",
            "flagged",
            "too few",
        ],
        5,
        &rows,
    );
    page.end();
}

/// The sections of a scan report; `id_prefix` and `title_prefix` set them apart when a page
/// holds more than one report.
fn report_sections(page: &mut Page, r: &Report, id_prefix: &str, title_prefix: &str) {
    let id = |s: &str| format!("{id_prefix}{s}");
    let title = |s: &str| format!("{title_prefix}{s}");

    headline_section(page, r, &id("headline"), &title("Headline"), id_prefix);
    summary_section(page, r, id_prefix, title_prefix);

    coverage_section(page, r, id_prefix, title_prefix);

    for a in &r.axes {
        axis_section(
            page,
            r,
            a,
            &id(&format!("axis-{}", slug(&a.name))),
            &title(&a.name),
        );
    }

    if !r.attributes.is_empty() {
        associations_section(page, r, &id("associations"), &title("Context associations"));
    }

    attributes_section(page, r, id_prefix, title_prefix);

    intersections_section(page, r, id_prefix, title_prefix);

    sources_section(page, r, id_prefix, title_prefix);

    if let Some(e) = &r.embedding {
        embedding_sections(
            page,
            e,
            r.confidence,
            &id("embeddings"),
            &title("Embeddings"),
        );
    }
    if !r.evaluations.is_empty() {
        evaluation_section(
            page,
            &r.evaluations,
            &id("detection-quality"),
            &title("Detection quality"),
        );
    }
}

/// The summary: one line per axis, the run and the definitions.
fn summary_section(page: &mut Page, r: &Report, id_prefix: &str, title_prefix: &str) {
    let id = |s: &str| format!("{id_prefix}{s}");
    let title = |s: &str| format!("{title_prefix}{s}");
    page.section(&id("summary"), &title("Summary"));
    page.body.push_str("<ul class=\"findings\">\n");
    for f in findings(r) {
        let _ = writeln!(page.body, "<li>{}</li>", esc(&f));
    }
    page.body.push_str("</ul>\n");
    let inputs: Vec<String> = r
        .inputs
        .iter()
        .map(|f| format!("{} ({} bytes)", f.path.display(), num(f.size)))
        .collect();
    let mut kv = vec![
        ("Inputs", inputs.join("; ")),
        (
            "Rows",
            format!(
                "{} read = {} scanned + {} excluded by `where` + {} with a null text + {} over `max_document_bytes`",
                num(r.rows.read),
                num(r.rows.scanned),
                num(r.rows.excluded_by_where),
                num(r.rows.null_text),
                num(r.rows.too_large)
            ),
        ),
        ("Text", crate::units::human_bytes(r.text_bytes as f64)),
        ("Rules", r.rules.path.clone()),
        ("Rules sha256", r.rules.sha256.clone()),
        ("Seed", r.rules.seed.to_string()),
        ("Tool", format!("{} {}", r.tool.name, r.tool.version)),
        (
            "Confidence intervals",
            format!("{}% Wilson score intervals", (r.confidence * 100.0).round()),
        ),
    ];
    if let Some(w) = &r.rules.r#where {
        kv.push(("Rows selected by", w.clone()));
    }
    if !r.empty_files.is_empty() {
        kv.push((
            "Empty files skipped",
            r.empty_files
                .iter()
                .map(|f| f.path.display().to_string())
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    page.key_values(&id("run"), &kv);
    page.note(
        "A group's documents mention at least one of its terms. Share: the group's documents over the sum of the \
         axis's group documents (the representation compared with the target). Doc share: over the documents that \
         mention the axis. Coverage: the share of all documents that mention the axis.",
    );
    page.end();
}

/// Coverage per axis: the chart and its table.
fn coverage_section(page: &mut Page, r: &Report, id_prefix: &str, title_prefix: &str) {
    let id = |s: &str| format!("{id_prefix}{s}");
    let title = |s: &str| format!("{title_prefix}{s}");
    page.section(&id("coverage"), &title("Coverage per axis"));
    let bars: Vec<Bar> = r
        .axes
        .iter()
        .map(|a| Bar {
            label: a.name.clone(),
            value: Some(a.coverage),
            ci: Some(a.coverage_ci),
            target: None,
        })
        .collect();
    page.figure(
        &charts::bars(
            &bars,
            Scale::Share,
            "share of all documents that mention the axis",
            "coverage",
        ),
        "Coverage of each axis, with its confidence interval.",
    );
    let rows: Vec<Vec<String>> = r
        .axes
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.target.clone(),
                num(a.documents),
                share_or_count(a.coverage, a.documents),
                ci(Some(a.coverage_ci)),
                num(a.mentions),
                num(a.multi_group_documents),
                diff::f3(a.total_variation_distance),
                f2(a.max_min_ratio),
                opt_ratio(a.parity_ratio),
            ]
        })
        .collect();
    page.table(
        &id("table-coverage"),
        "Axes: coverage, and distance of the group shares from the target",
        &[
            "axis",
            "target",
            "documents",
            "coverage",
            "coverage CI",
            "mentions",
            "multi-group documents",
            "TVD",
            "max/min ratio",
            "parity ratio",
        ],
        2,
        &rows,
    );
    page.end();
}

/// The attribute lexicons: their most frequent categories.
fn attributes_section(page: &mut Page, r: &Report, id_prefix: &str, title_prefix: &str) {
    let id = |s: &str| format!("{id_prefix}{s}");
    let title = |s: &str| format!("{title_prefix}{s}");
    if !r.attributes.is_empty() {
        page.section(&id("attributes"), &title("Attribute lexicons"));
        for at in &r.attributes {
            page.h3(&format!(
                "{}: {} of documents ({})",
                at.name,
                pct(at.coverage),
                num(at.documents)
            ));
            let mut cats: Vec<_> = at.categories.iter().collect();
            cats.sort_by_key(|c| std::cmp::Reverse(c.documents));
            let shown: Vec<_> = cats.iter().filter(|c| c.documents > 0).take(15).collect();
            if !shown.is_empty() {
                let bars: Vec<Bar> = shown
                    .iter()
                    .map(|c| Bar {
                        label: c.name.clone(),
                        value: Some(c.documents as f64),
                        ci: None,
                        target: None,
                    })
                    .collect();
                page.figure(
                    &charts::bars(&bars, Scale::Count, "documents", "documents"),
                    &format!("The most frequent categories of {}.", at.name),
                );
            }
            let rows: Vec<Vec<String>> = cats
                .iter()
                .take(TABLE_ROWS)
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.top_terms
                            .iter()
                            .take(5)
                            .map(|t| t.term.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                        num(c.documents),
                        num(c.mentions),
                    ]
                })
                .collect();
            page.table(
                &id(&format!("table-attribute-{}", slug(&at.name))),
                &format!("Categories of {}", at.name),
                &["category", "top terms", "documents", "mentions"],
                2,
                &rows,
            );
        }
        page.end();
    }
}

/// Documents that mention groups of two axes.
fn intersections_section(page: &mut Page, r: &Report, id_prefix: &str, title_prefix: &str) {
    let id = |s: &str| format!("{id_prefix}{s}");
    let title = |s: &str| format!("{title_prefix}{s}");
    if !r.intersections.is_empty() {
        page.section(&id("intersections"), &title("Intersections"));
        page.p("Documents that mention groups of two different axes, most frequent pairs first.");
        let top: Vec<_> = r.intersections.iter().take(15).collect();
        let bars: Vec<Bar> = top
            .iter()
            .map(|x| Bar {
                label: format!("{} + {}", x.a, x.b),
                value: Some(x.documents as f64),
                ci: None,
                target: None,
            })
            .collect();
        page.figure(
            &charts::bars(&bars, Scale::Count, "documents", "documents"),
            "The most frequent pairs of groups mentioned together.",
        );
        let rows: Vec<Vec<String>> = r
            .intersections
            .iter()
            .take(TABLE_ROWS)
            .map(|x| {
                vec![
                    x.a.clone(),
                    x.b.clone(),
                    num(x.documents),
                    pct(x.share_of_a),
                    pct(x.share_of_b),
                ]
            })
            .collect();
        page.table(
            &id("table-intersections"),
            &format!(
                "Pairs of groups ({} shown of {})",
                rows.len(),
                r.intersections.len()
            ),
            &[
                "group",
                "group",
                "documents",
                "share of first",
                "share of second",
            ],
            2,
            &rows,
        );
        page.end();
    }
}

/// The per-source breakdown.
fn sources_section(page: &mut Page, r: &Report, id_prefix: &str, title_prefix: &str) {
    let id = |s: &str| format!("{id_prefix}{s}");
    let title = |s: &str| format!("{title_prefix}{s}");
    if let Some(src) = &r.sources {
        page.section(&id("sources"), &title("Sources"));
        page.p(&format!(
            "By {}{}: {} distinct sources, {} documents without one; the {} largest are shown.",
            src.column,
            if src.kind == "url_domain" {
                " (URL domain)"
            } else {
                ""
            },
            num(src.distinct as u64),
            num(src.null_source),
            src.top.len()
        ));
        let names: Vec<String> = src.top.iter().map(|s| s.source.clone()).collect();
        for (ai, a) in r.axes.iter().enumerate() {
            let parts: Vec<String> = a.groups.iter().map(|g| g.name.clone()).collect();
            let values: Vec<Vec<f64>> = src
                .top
                .iter()
                .map(|s| {
                    s.axes
                        .get(ai)
                        .map(|sa| sa.groups.iter().map(|g| g.share.unwrap_or(0.0)).collect())
                        .unwrap_or_default()
                })
                .collect();
            page.h3(&format!("{} by source", a.name));
            page.figure(
                &charts::stacked_bars(&names, &parts, &values, Scale::Share, "group share"),
                &format!("Shares of the {} groups within each source.", a.name),
            );
            let rows: Vec<Vec<String>> = src
                .top
                .iter()
                .map(|s| {
                    let mut row = vec![s.source.clone(), num(s.documents), pct(s.share)];
                    if let Some(sa) = s.axes.get(ai) {
                        row.push(pct(sa.coverage));
                        row.extend(sa.groups.iter().map(|g| opt_pct(g.share)));
                    }
                    row
                })
                .collect();
            let mut head = vec!["source", "documents", "share of corpus", "coverage"];
            head.extend(parts.iter().map(String::as_str));
            page.table(
                &id(&format!("table-sources-{}", slug(&a.name))),
                &format!("{}: coverage and group shares per source", a.name),
                &head,
                1,
                &rows,
            );
        }
        page.end();
    }
}

/// Precision and recall of the rules on labelled samples (`scan --eval`).
fn evaluation_section(page: &mut Page, evals: &[crate::eval::Evaluation], id: &str, title: &str) {
    page.section(id, title);
    page.p("How often the rules' detection agrees with labels written by hand (debias eval): precision is the share \
            of detected texts that are labelled, recall the share of labelled texts that are detected. Axes with \
            fewer labelled positives than the minimum are shown but not judged.");
    let ci = |c: Option<[f64; 2]>| c.map_or("–".to_owned(), |[a, b]| format!("{a:.2}–{b:.2}"));
    let r3 = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{x:.3}"));
    for (k, e) in evals.iter().enumerate() {
        let rows: Vec<Vec<String>> = e
            .axes
            .iter()
            .map(|s| {
                vec![
                    if s.too_few {
                        format!("{} (too few)", s.name)
                    } else {
                        s.name.clone()
                    },
                    num(s.positives),
                    r3(s.precision),
                    ci(s.precision_ci),
                    r3(s.recall),
                    ci(s.recall_ci),
                    num(s.false_positives),
                    num(s.misses),
                ]
            })
            .collect();
        page.table(
            &format!("{id}-{k}"),
            &format!("{} ({} labelled texts)", e.file, num(e.texts)),
            &[
                "axis",
                "positives",
                "precision",
                "interval",
                "recall",
                "interval",
                "false positives",
                "misses",
            ],
            1,
            &rows,
        );
    }
    page.end();
}

fn axis_section(page: &mut Page, r: &Report, a: &AxisReport, id: &str, title: &str) {
    page.section(id, title);
    if !a.description.is_empty() {
        page.note(&a.description);
    }
    axis_summary(page, r, a);
    let bars: Vec<Bar> = a
        .groups
        .iter()
        .map(|g| Bar {
            label: group_name(g),
            value: g.share,
            ci: g.share_ci,
            target: g.target,
        })
        .collect();
    page.figure(
        &charts::bars(
            &bars,
            Scale::Share,
            "share of the axis's group documents",
            "share",
        ),
        &format!(
            "{}: each group's share (bar) with its confidence interval{}.",
            a.name,
            if a.target == "none" {
                ""
            } else {
                ", and the target (black tick)"
            }
        ),
    );
    let slug = slug(&a.name);
    let rows: Vec<Vec<String>> = a
        .groups
        .iter()
        .map(|g| {
            vec![
                group_name(g),
                num(g.documents),
                num(g.mentions),
                opt_pct(g.share),
                ci(g.share_ci),
                opt_pct(g.target),
                f2(g.ratio_to_target),
                opt_pct(g.doc_share),
                opt_ratio(g.ratio_to_largest),
            ]
        })
        .collect();
    page.table(
        &format!("table-axis-{slug}"),
        &format!("{}: groups", a.name),
        &[
            "group",
            "documents",
            "mentions",
            "share",
            "share CI",
            "target",
            "ratio to target",
            "doc share",
            "ratio to largest",
        ],
        1,
        &rows,
    );
    axis_terms_and_examples(page, a, &slug);
    page.end();
}

/// The axis's flagged groups, coverage, distance from its target and pair ratio.
fn axis_summary(page: &mut Page, r: &Report, a: &AxisReport) {
    let flagged: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.axis == a.name)
        .map(|f| f.describe(r.confidence))
        .collect();
    if !flagged.is_empty() {
        page.body.push_str("<ul class=\"findings\">\n");
        for f in &flagged {
            let _ = writeln!(page.body, "<li><strong>Flagged:</strong> {}</li>", esc(f));
        }
        page.body.push_str("</ul>\n");
    }
    page.p(&format!(
        "Coverage {} ({} documents, CI {}); {} mentions; {} documents mention two or more groups. {}",
        share_or_count(a.coverage, a.documents),
        num(a.documents),
        ci(Some(a.coverage_ci)),
        num(a.mentions),
        num(a.multi_group_documents),
        if a.target == "none" {
            format!(
                "No target: parity ratio (smallest judged share over the largest) {}.",
                opt_ratio(a.parity_ratio)
            )
        } else {
            format!(
                "Target: {}; total variation distance {}; max/min ratio to target {}; parity ratio {}.",
                a.target,
                diff::f3(a.total_variation_distance),
                f2(a.max_min_ratio),
                opt_ratio(a.parity_ratio)
            )
        },
    ));
    if let Some(p) = &a.pair {
        page.p(&format!(
            "{} {} documents per {} document ({} and {} documents).",
            opt_ratio(p.ratio),
            p.a,
            p.b,
            num(p.a_documents),
            num(p.b_documents)
        ));
    }
}

/// The axis's most frequent terms and example snippets, per group.
fn axis_terms_and_examples(page: &mut Page, a: &AxisReport, slug: &str) {
    let terms: Vec<Vec<String>> = a
        .groups
        .iter()
        .filter(|g| !g.top_terms.is_empty())
        .map(|g| {
            vec![
                g.name.clone(),
                g.top_terms
                    .iter()
                    .map(|t| format!("{} ({})", t.term, num(t.documents)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    if !terms.is_empty() {
        page.table(
            &format!("table-terms-{slug}"),
            "Most frequent terms (documents)",
            &["group", "terms"],
            2,
            &terms,
        );
    }
    let examples: Vec<Vec<String>> = a
        .groups
        .iter()
        .flat_map(|g| {
            g.examples.iter().map(|e| {
                vec![
                    g.name.clone(),
                    e.id.clone(),
                    e.marked(MARK_OPEN, MARK_CLOSE),
                ]
            })
        })
        .collect();
    if !examples.is_empty() {
        page.table(
            &format!("table-examples-{slug}"),
            "Examples (documents chosen by a stable hash of their id)",
            &["group", "document", "snippet"],
            3,
            &examples,
        );
    }
}

/// Around the match in a snippet cell: replaced by `<mark>` after escaping (private-use
/// characters, which a report's text does not hold).
const MARK_OPEN: &str = "\u{E000}";
const MARK_CLOSE: &str = "\u{E001}";

fn associations_section(page: &mut Page, r: &Report, id: &str, title: &str) {
    page.section(id, title);
    page.p(&super::markdown::association_method(r));
    if r.associations.is_empty() {
        page.p(&super::markdown::association_empty_because(r));
    } else {
        page.note(
            "Blank cells: not significant, fewer documents than the minimum count, or not among the group's strongest \
             terms.",
        );
    }
    // One heatmap per (axis, attribute lexicon): groups in columns, terms in rows.
    let mut blocks: BTreeMap<(String, String), Vec<&super::GroupAssociations>> = BTreeMap::new();
    for ga in &r.associations {
        let axis = ga.group.split('/').next().unwrap_or(&ga.group).to_owned();
        blocks
            .entry((axis, ga.lexicon.clone()))
            .or_default()
            .push(ga);
    }
    for ((axis, lexicon), gas) in &blocks {
        page.h3(&format!("{axis} × {lexicon}"));
        let cols: Vec<String> = gas
            .iter()
            .map(|g| g.group.split('/').nth(1).unwrap_or(&g.group).to_owned())
            .collect();
        // Terms by their strongest association, strongest first.
        let mut best: BTreeMap<&str, f64> = BTreeMap::new();
        for ga in gas {
            for t in &ga.terms {
                let e = best.entry(t.term.as_str()).or_insert(f64::MIN);
                *e = e.max(t.z.abs());
            }
        }
        let mut terms: Vec<(&str, f64)> = best.into_iter().collect();
        terms.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        terms.truncate(HEATMAP_TERMS);
        let rows: Vec<String> = terms.iter().map(|t| t.0.to_owned()).collect();
        let values: Vec<Vec<Option<f64>>> = rows
            .iter()
            .map(|term| {
                gas.iter()
                    .map(|ga| ga.terms.iter().find(|t| &t.term == term).map(|t| t.z))
                    .collect()
            })
            .collect();
        page.figure(
            &charts::heatmap(&rows, &cols, &values, &|v| {
                format!("{v:.1}")
            }),
            &format!(
                "z-scores of {lexicon} terms by {axis} group (orange: more often with the group; purple: less often)."
            ),
        );
        let table: Vec<Vec<String>> = gas
            .iter()
            .flat_map(|ga| {
                ga.terms.iter().take(10).map(|t| {
                    vec![
                        ga.group.clone(),
                        t.term.clone(),
                        t.category.clone(),
                        num(t.documents),
                        format!("{:.2}", t.log_odds),
                        format!("{:.2}", t.z),
                        format!("{:.3}", t.npmi),
                    ]
                })
            })
            .collect();
        page.table(
            &format!("table-associations-{}-{}", slug(axis), slug(lexicon)),
            &format!("{axis} × {lexicon}: the strongest terms of each group (at most 10)"),
            &[
                "group",
                "term",
                "category",
                "documents",
                "log-odds",
                "z",
                "nPMI",
            ],
            3,
            &table,
        );
    }
    page.end();
}

fn embedding_sections(
    page: &mut Page,
    e: &super::embedding::EmbeddingReport,
    r_confidence: f64,
    id: &str,
    title: &str,
) {
    page.section(id, title);
    page.p(&format!(
        "Model {} ({}, {}); {} of {} documents embedded.",
        e.model,
        e.dtype,
        e.device,
        num(e.embedded),
        num(e.documents)
    ));
    implicit_mentions(page, e, id);
    topic_skews(page, e, id);
    weat_effects(page, e, r_confidence, id);
    page.end();
}

/// Implicit mentions: documents near a group without its terms.
fn implicit_mentions(page: &mut Page, e: &super::embedding::EmbeddingReport, id: &str) {
    if let Some(i) = &e.implicit {
        page.h3(&format!("Implicit mentions (cosine ≥ {})", i.threshold));
        let rows: Vec<String> = i.groups.iter().map(|g| g.group.clone()).collect();
        let parts = vec![
            "lexicon only".to_owned(),
            "both".to_owned(),
            "embedding only".to_owned(),
        ];
        let values: Vec<Vec<f64>> = i
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.lexicon.saturating_sub(g.both) as f64,
                    g.both as f64,
                    g.embedding_only as f64,
                ]
            })
            .collect();
        page.figure(
            &charts::stacked_bars(&rows, &parts, &values, Scale::Count, "documents"),
            "Documents tagged per group by the lexicon, by the embedding, or by both.",
        );
        let table: Vec<Vec<String>> = i
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.group.clone(),
                    num(g.lexicon),
                    num(g.embedding),
                    num(g.both),
                    num(g.embedding_only),
                    opt_ratio(g.agreement),
                ]
            })
            .collect();
        page.table(
            &format!("{id}-table-implicit"),
            "Documents tagged by each signal; agreement is both / either",
            &[
                "group",
                "lexicon",
                "embedding",
                "both",
                "embedding only",
                "agreement",
            ],
            1,
            &table,
        );
    }
}

/// Topics and the topic-conditioned skew, with their tables.
fn topic_skews(page: &mut Page, e: &super::embedding::EmbeddingReport, id: &str) {
    if !e.topics.is_empty() {
        page.h3("Topic-conditioned skew");
        let rows: Vec<String> = e
            .topics
            .iter()
            .map(|t| {
                format!(
                    "{}: {}",
                    t.topic,
                    t.terms
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        // One heatmap per axis: topics in rows, the axis's groups in columns, the group's
        // share within the topic minus its share overall.
        let mut axes: Vec<&str> = Vec::new();
        for t in &e.topics {
            for a in &t.axes {
                if a.documents > 0 && !axes.contains(&a.axis.as_str()) {
                    axes.push(&a.axis);
                }
            }
        }
        for axis in axes {
            let groups: Vec<String> = e
                .topics
                .iter()
                .flat_map(|t| t.axes.iter().filter(|a| a.axis == axis))
                .flat_map(|a| a.groups.iter().map(|g| g.group.clone()))
                .fold(Vec::new(), |mut v, g| {
                    if !v.contains(&g) {
                        v.push(g);
                    }
                    v
                });
            let values: Vec<Vec<Option<f64>>> = e
                .topics
                .iter()
                .map(|t| {
                    let a = t.axes.iter().find(|a| a.axis == axis && a.documents > 0);
                    groups
                        .iter()
                        .map(|g| {
                            a.and_then(|a| a.groups.iter().find(|x| &x.group == g))
                                .map(|x| x.share - x.overall_share)
                        })
                        .collect()
                })
                .collect();
            // An axis whose shares do not move between topics says nothing here.
            if values.iter().flatten().flatten().all(|v| v.abs() < 0.005) {
                continue;
            }
            let cols: Vec<String> = groups
                .iter()
                .map(|g| g.rsplit('/').next().unwrap_or(g).to_owned())
                .collect();
            page.figure(
                &charts::heatmap(&rows, &cols, &values, &points),
                &format!(
                    "{axis}: each group's share within a topic minus its share overall, in percentage points \
                     (orange: over-represented in the topic; purple: under-represented; blank: no document of the \
                     topic mentions the axis)."
                ),
            );
        }
        topic_tables(page, e, id);
    }
}

/// The topics' table and the largest conditional skews' table.
fn topic_tables(page: &mut Page, e: &super::embedding::EmbeddingReport, id: &str) {
    let table: Vec<Vec<String>> = e
        .topics
        .iter()
        .map(|t| {
            vec![
                t.topic.to_string(),
                num(t.documents),
                t.terms.join(", "),
                t.axes
                    .iter()
                    .map(|a| format!("{} {:.3}", a.axis, a.tvd_from_overall))
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    page.table(
        &format!("{id}-table-topics"),
        "Topics: documents, most distinctive terms, and the distance of each axis's shares from overall (TVD)",
        &["topic", "documents", "terms", "TVD from overall"],
        "lrll",
        &table,
    );
    let skews: Vec<Vec<String>> = e
        .conditional_skews
        .iter()
        .take(TABLE_ROWS)
        .map(|s| {
            vec![
                s.topic.to_string(),
                s.terms.join(", "),
                s.group.clone(),
                pct(s.share),
                ci(s.share_ci),
                pct(s.overall_share),
                diff::share_points(s.difference),
                num(s.documents),
            ]
        })
        .collect();
    if skews.is_empty() {
        page.p(
            "No conditional skew listed: no topic has a group whose share in the topic (with at least \
             `report.min_documents` of the axis's documents) has an interval that excludes its share overall.",
        );
    }
    page.table(
        &format!("{id}-table-skews"),
        "The largest conditional skews: a group's share in a topic whose interval excludes its share overall",
        &[
            "topic",
            "terms",
            "group",
            "share in topic",
            "CI",
            "share overall",
            "difference",
            "documents",
        ],
        3,
        &skews,
    );
}

/// WEAT effects, charted with their sign and significance.
fn weat_effects(
    page: &mut Page,
    e: &super::embedding::EmbeddingReport,
    r_confidence: f64,
    id: &str,
) {
    if !e.association.is_empty() {
        page.h3("Embedding association (WEAT)");
        let alpha = 1.0 - r_confidence;
        let bars: Vec<(String, f64)> = e
            .association
            .iter()
            .filter_map(|w| {
                let significant = w.p_value.is_some_and(|p| p < alpha);
                w.effect_size.map(|d| {
                    let mark = if significant {
                        ""
                    } else {
                        " (not significant)"
                    };
                    (format!("{}{mark}", w.name), d)
                })
            })
            .collect();
        page.figure(
            &charts::signed_bars(&bars, "effect size (Cohen's d)"),
            &format!(
                "Each WEAT effect with its sign (positive: the first group's documents are closer to the first \
                 attribute set); effects whose permutation p-value is {alpha:.2} or more are marked not significant."
            ),
        );
        let table: Vec<Vec<String>> = e
            .association
            .iter()
            .map(|w| {
                vec![
                    w.name.clone(),
                    format!("{} vs {}", w.groups[0], w.groups[1]),
                    format!("{} vs {}", w.attributes[0], w.attributes[1]),
                    format!("{} / {}", num(w.documents[0]), num(w.documents[1])),
                    diff::f3(w.effect_size),
                    diff::f3(w.p_value),
                ]
            })
            .collect();
        page.table(
            &format!("{id}-table-weat"),
            "WEAT effect sizes with permutation p-values",
            &[
                "name",
                "groups",
                "attributes",
                "documents",
                "effect size",
                "p",
            ],
            3,
            &table,
        );
    }
}

/// The before/after comparison of two reports, as sections of `page`.
fn diff_sections(page: &mut Page, d: &ReportDiff) {
    page.section("comparison", "Before and after");
    page.p(&format!(
        "{}: {} documents. {}: {} documents.",
        d.before.label,
        num(d.before.documents),
        d.after.label,
        num(d.after.documents)
    ));
    let rows: Vec<Vec<String>> = d
        .axes
        .iter()
        .map(|a| {
            vec![
                a.axis.clone(),
                opt_pct(a.coverage[0]),
                opt_pct(a.coverage[1]),
                diff::f3(a.total_variation_distance[0]),
                diff::f3(a.total_variation_distance[1]),
                f2(a.max_min_ratio[0]),
                f2(a.max_min_ratio[1]),
            ]
        })
        .collect();
    page.table(
        "table-comparison",
        "Axes before and after: coverage, total variation distance from the target, max/min ratio",
        &[
            "axis",
            "coverage before",
            "coverage after",
            "TVD before",
            "TVD after",
            "max/min before",
            "max/min after",
        ],
        1,
        &rows,
    );
    page.end();
    for a in &d.axes {
        diff_axis_section(page, d, a);
    }
    diff_moves_sections(page, d);
}

/// One axis before and after: its shares, chart and table.
fn diff_axis_section(page: &mut Page, d: &ReportDiff, a: &diff::AxisDiff) {
    let sid = format!("comparison-{}", slug(&a.axis));
    page.section(&sid, &format!("{}: before and after", a.axis));
    let labels: Vec<String> = a.groups.iter().map(|g| g.group.clone()).collect();
    let series = vec![
        (
            d.before.label.clone(),
            a.groups.iter().map(|g| g.share[0]).collect(),
        ),
        (
            d.after.label.clone(),
            a.groups.iter().map(|g| g.share[1]).collect(),
        ),
    ];
    let targets: Vec<f64> = a.groups.iter().map(|g| g.target.unwrap_or(0.0)).collect();
    page.figure(
        &charts::grouped_bars(
            &labels,
            &series,
            Some(&targets),
            Scale::Share,
            "share of the axis's group documents",
        ),
        &format!(
            "{}: group shares before and after, and the target (black tick).",
            a.axis
        ),
    );
    let rows: Vec<Vec<String>> = a
        .groups
        .iter()
        .map(|g| {
            vec![
                g.group.clone(),
                diff::opt_num(g.documents[0]),
                diff::opt_num(g.documents[1]),
                opt_pct(g.share[0]),
                opt_pct(g.share[1]),
                diff::points(g.share_change_points),
                opt_pct(g.target),
            ]
        })
        .collect();
    page.table(
        &format!("table-{sid}"),
        &format!("{}: groups before and after", a.axis),
        &[
            "group",
            "documents before",
            "documents after",
            "share before",
            "share after",
            "change",
            "target",
        ],
        1,
        &rows,
    );
    page.end();
}

/// The associations and intersections that moved most.
fn diff_moves_sections(page: &mut Page, d: &ReportDiff) {
    if !d.associations.is_empty() {
        page.section("comparison-associations", "Associations that moved most");
        let rows: Vec<Vec<String>> = d
            .associations
            .iter()
            .map(|x| {
                vec![
                    x.group.clone(),
                    x.lexicon.clone(),
                    x.term.clone(),
                    f2(x.z[0]),
                    f2(x.z[1]),
                    format!("{:+.2}", x.change),
                ]
            })
            .collect();
        page.table(
            "table-comparison-associations",
            "Association z-scores before and after (– where below the minimum count)",
            &["group", "lexicon", "term", "z before", "z after", "change"],
            3,
            &rows,
        );
        page.end();
    }
    if !d.intersections.is_empty() {
        page.section("comparison-intersections", "Intersections that moved most");
        let rows: Vec<Vec<String>> = d
            .intersections
            .iter()
            .map(|x| {
                vec![
                    x.a.clone(),
                    x.b.clone(),
                    num(x.documents[0]),
                    num(x.documents[1]),
                    format!("{:+}", x.change),
                ]
            })
            .collect();
        page.table(
            "table-comparison-intersections",
            "Documents mentioning both groups, before and after",
            &["group", "group", "before", "after", "change"],
            2,
            &rows,
        );
        page.end();
    }
}

/// `debias report diff` as a page.
pub fn render_diff(d: &ReportDiff) -> String {
    let mut page = Page::new(
        "debias report comparison",
        format!("{} → {}", d.before.label, d.after.label),
    );
    diff_sections(&mut page, d);
    page.finish()
}

/// The page of an `apply` output: the run, what each action changed, the filter audit, the
/// rebalance, before vs after, and the output corpus's report in full.
pub fn render_apply(m: &Manifest, before: &Report, after: &Report) -> String {
    let a = &m.rows.account;
    let mut page = Page::new(
        "debias apply report",
        format!(
            "{} rows read, {} written; rules {} (sha256 {}); seed {}; debias {}",
            num(a.read),
            num(a.written),
            m.rules.path,
            diff::short(&m.rules.sha256),
            m.seed,
            m.tool.version
        ),
    );

    apply_run_section(&mut page, m);

    apply_actions_section(&mut page, m);

    filter_audit_section(&mut page, m);

    rebalance_section(&mut page, m);

    diff_sections(
        &mut page,
        &ReportDiff::between(["before", "after"], before, after),
    );
    report_sections(&mut page, after, "after-", "Output: ");
    page.finish()
}

/// The run: inputs, rules, seed, version, warnings, the row account.
fn apply_run_section(page: &mut Page, m: &Manifest) {
    let a = &m.rows.account;
    let sum = |x: &BTreeMap<String, u64>| x.values().sum::<u64>();
    page.section("run", "The run");
    for w in &m.warnings {
        page.warn(w);
    }
    let inputs: Vec<String> = m
        .inputs
        .iter()
        .map(|i| {
            format!(
                "{} ({} bytes, sha256 {})",
                i.path,
                num(i.bytes),
                diff::short(&i.sha256)
            )
        })
        .collect();
    page.key_values(
        "table-run",
        &[
            ("Inputs", inputs.join("; ")),
            ("Rules", m.rules.path.clone()),
            ("Rules sha256", m.rules.sha256.clone()),
            ("Seed", m.seed.to_string()),
            ("Tool", format!("{} {}", m.tool.name, m.tool.version)),
            (
                "Output",
                format!(
                    "{} file(s), {} rows, {} bytes, {} compression",
                    m.output.files.len(),
                    num(m.output.files.iter().map(|f| f.rows).sum()),
                    num(m.output.files.iter().map(|f| f.bytes).sum()),
                    m.output.compression
                ),
            ),
            (
                "Row account",
                format!(
                    "read {} = kept {} + dropped {}; written {} = kept {} + augmented {} + duplicated {}{}",
                    num(a.read),
                    num(a.kept),
                    num(sum(&a.dropped)),
                    num(a.written),
                    num(a.kept),
                    num(sum(&a.augmented)),
                    num(sum(&a.duplicated)),
                    if m.rows.balanced { " (balanced)" } else { " (NOT balanced)" }
                ),
            ),
        ],
    );
    page.end();
}

/// What each action changed: rows dropped, augmented, duplicated, rewritten.
fn apply_actions_section(page: &mut Page, m: &Manifest) {
    let a = &m.rows.account;
    page.section("actions", "What each action changed");
    let mut bars = vec![Bar {
        label: "read".into(),
        value: Some(a.read as f64),
        ci: None,
        target: None,
    }];
    let mut bar = |label: String, n: u64| {
        bars.push(Bar {
            label,
            value: Some(n as f64),
            ci: None,
            target: None,
        })
    };
    for (reason, n) in &a.dropped {
        bar(format!("dropped by {reason}"), *n);
    }
    bar("kept".into(), a.kept);
    for (action, n) in &a.augmented {
        bar(format!("augmented by {action}"), *n);
    }
    for (action, n) in &a.duplicated {
        bar(format!("duplicated by {action}"), *n);
    }
    bar("written".into(), a.written);
    page.figure(
        &charts::bars(&bars, Scale::Count, "rows", "rows"),
        "Rows read, dropped, kept, added and written.",
    );
    let get = |x: &BTreeMap<String, u64>, k: &str| x.get(k).copied().unwrap_or(0);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for reason in ["input.where", "null_text", "input.max_document_bytes"] {
        if let Some(n) = a.dropped.get(reason) {
            rows.push(vec![
                reason.to_owned(),
                "input".to_owned(),
                num(*n),
                "0".into(),
                "0".into(),
                "0".into(),
                "–".into(),
            ]);
        }
    }
    for act in &m.actions {
        let reweighted = m
            .rebalance
            .as_ref()
            .filter(|p| {
                p.action == act.name && p.strategy == crate::rules::actions::Strategy::Reweight
            })
            .map(|p| {
                p.groups
                    .iter()
                    .filter_map(|g| g.weight.map(|w| format!("{} ×{w:.3}", g.group)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .map(|s| {
                if s.is_empty() {
                    "per group × context bucket (below)".to_owned()
                } else {
                    s
                }
            })
            .unwrap_or_else(|| "–".into());
        rows.push(vec![
            act.name.clone(),
            act.kind.clone(),
            num(get(&a.dropped, &act.name)),
            num(get(&a.augmented, &act.name)),
            num(get(&a.duplicated, &act.name)),
            num(get(&a.rewritten, &act.name)),
            reweighted,
        ]);
    }
    page.table(
        "table-actions",
        "Rows each action dropped, added by augmentation, duplicated, rewrote in place, and the weights it set",
        &[
            "action",
            "kind",
            "dropped",
            "augmented",
            "duplicated",
            "rewritten",
            "reweighted",
        ],
        2,
        &rows,
    );
    if !a.derived_dropped.is_empty() {
        page.note(&format!(
            "Copies made by one action and dropped by a later one: {}.",
            a.derived_dropped
                .iter()
                .map(|(k, v)| format!("{k} {}", num(*v)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    page.end();
}

/// The filter impact audit, when the rules drop rows.
fn filter_audit_section(page: &mut Page, m: &Manifest) {
    if !m.filter_audit.is_empty() {
        page.section("filter-audit", "Filter impact audit");
        page.p(
            "The share of each group's rows that each drop action removed. A filter is flagged when one group keeps \
             less than four fifths as many of its rows as another (groups with fewer than 20 rows are not compared).",
        );
        for f in &m.filter_audit {
            page.h3(&format!(
                "{}: removed {} of {} rows",
                f.action,
                num(f.removed),
                num(f.reached)
            ));
            for w in &f.warnings {
                page.warn(w);
            }
            let bars: Vec<Bar> = f
                .groups
                .iter()
                .map(|g| Bar {
                    label: g.group.clone(),
                    value: Some(g.removed_share),
                    ci: None,
                    target: None,
                })
                .collect();
            if !bars.is_empty() {
                page.figure(
                    &charts::bars(
                        &bars,
                        Scale::Share,
                        "share of the group's rows removed",
                        "removed share",
                    ),
                    &format!("{}: the share of each group's rows removed.", f.action),
                );
            }
            let rows: Vec<Vec<String>> = f
                .groups
                .iter()
                .map(|g| {
                    vec![
                        g.group.clone(),
                        num(g.reached),
                        num(g.removed),
                        pct(g.removed_share),
                    ]
                })
                .collect();
            page.table(
                &format!("table-audit-{}", slug(&f.action)),
                &format!(
                    "{}: rows per group (retention ratio by axis: {})",
                    f.action,
                    if f.retention_ratio.is_empty() {
                        "–".to_owned()
                    } else {
                        f.retention_ratio
                            .iter()
                            .map(|(k, v)| format!("{k} {v:.2}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
                &["group", "reached", "removed", "removed share"],
                1,
                &rows,
            );
        }
        page.end();
    }
}

/// The rebalance decisions, when the rules rebalance.
fn rebalance_section(page: &mut Page, m: &Manifest) {
    if let Some(p) = &m.rebalance {
        page.section("rebalance", "Rebalance");
        page.p(&format!(
            "{}: {} {} by {} toward {}; {} rows without a group of the axis; {} rows with several groups kept.",
            p.action,
            p.strategy.name(),
            p.axis,
            p.unit.name(),
            p.target,
            num(p.ungrouped_rows),
            num(p.multi_group_rows_kept)
        ));
        for w in &p.warnings {
            page.warn(w);
        }
        let rows: Vec<Vec<String>> = p
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.group.clone(),
                    format!("{:.0}", g.units),
                    pct(g.share),
                    pct(g.target),
                    g.keep_probability.map_or("–".into(), |x| format!("{x:.4}")),
                    g.copies.map_or("–".into(), |x| format!("{x:.4}")),
                    g.weight.map_or("–".into(), |x| format!("{x:.4}")),
                ]
            })
            .collect();
        page.table(
            "table-rebalance",
            "Decisions per group",
            &[
                "group",
                "units",
                "share",
                "target",
                "keep probability",
                "copies",
                "weight",
            ],
            1,
            &rows,
        );
        if !p.buckets.is_empty() {
            let num = |x: Option<f64>| x.map_or("–".into(), |x| format!("{x:.4}"));
            let rows: Vec<Vec<String>> = p
                .buckets
                .iter()
                .map(|b| {
                    vec![
                        b.bucket.clone(),
                        b.group.clone(),
                        format!("{:.0}", b.units),
                        num(b.keep_probability),
                        num(b.copies),
                        num(b.weight),
                    ]
                })
                .collect();
            page.table(
                "table-rebalance-buckets",
                "Decisions per context bucket and group",
                &[
                    "bucket",
                    "group",
                    "units",
                    "keep probability",
                    "copies",
                    "weight",
                ],
                2,
                &rows,
            );
        }
        if !p.topics.is_empty() {
            let rows: Vec<Vec<String>> = p
                .topics
                .iter()
                .map(|t| {
                    vec![
                        t.bucket.clone(),
                        t.sample_documents.to_string(),
                        t.terms.join(", "),
                    ]
                })
                .collect();
            page.table(
                "table-rebalance-topics",
                "The topics (context buckets) and their most distinctive words",
                &["bucket", "sample documents", "words"],
                "lrl",
                &rows,
            );
        }
        if !m.weighted_groups.is_empty() {
            let rows: Vec<Vec<String>> = m
                .weighted_groups
                .iter()
                .map(|(g, w)| vec![g.clone(), format!("{w:.1}")])
                .collect();
            page.table(
                "table-weighted-groups",
                "Sum of debias_weight per group over the rows written",
                &["group", "weighted rows"],
                1,
                &rows,
            );
        }
        page.end();
    }
}
