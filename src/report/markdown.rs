//! The Markdown rendering of a [`Report`], for people to read.

use std::fmt::Write;

use super::Report;

pub(super) use super::fmt::{ci, group_name, num, opt_pct, opt_ratio, pct, share_or_count};

/// Escapes text for a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
}

/// The headline: pair ratios, ranked findings linked to their axes, groups too few to judge.
fn headline(w: &mut String, r: &Report) {
    let h = super::headline::Headline::of(r);
    let _ = writeln!(w, "## Headline\n");
    for line in &h.ratios {
        let _ = writeln!(w, "**{line}**\n");
    }
    let _ = writeln!(w, "{}\n", h.rule);
    for (i, (axis, line)) in h.findings.iter().enumerate() {
        let _ = writeln!(w, "{}. {} ([{axis}](#{axis}))", i + 1, cell(line));
    }
    if !h.findings.is_empty() {
        let _ = writeln!(w);
    }
    if !h.more.is_empty() {
        let _ = writeln!(w, "{}\n", h.more);
    }
    if !h.too_few.is_empty() {
        let _ = writeln!(w, "{}\n", h.too_few);
    }
}

/// One row per axis: coverage, target, parity ratio, distance from the target, the largest and
/// smallest judged groups.
fn summary(w: &mut String, r: &Report) {
    let _ = writeln!(w, "## Summary\n");
    let _ = writeln!(
        w,
        "| axis | coverage | documents | target | parity ratio | TVD from target | largest group | smallest judged group |"
    );
    let _ = writeln!(w, "|---|---:|---:|---|---:|---:|---|---|");
    for a in &r.axes {
        let (largest, smallest) = super::headline::largest_and_smallest(a);
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            a.name,
            share_or_count(a.coverage, a.documents),
            num(a.documents),
            a.target,
            opt_ratio(a.parity_ratio),
            a.total_variation_distance
                .map(|x| format!("{x:.3}"))
                .unwrap_or_else(|| "–".into()),
            largest
                .map(|g| format!("{} ({})", g.name, opt_pct(g.share)))
                .unwrap_or_else(|| "–".into()),
            smallest
                .map(|g| format!("{} ({})", g.name, opt_pct(g.share)))
                .unwrap_or_else(|| "–".into()),
        );
    }
    let _ = writeln!(
        w,
        "\nParity ratio: the smallest judged group's share over the largest's (1 = parity; below {} is flagged on axes \
         without a target). Groups with fewer than {} documents are too few to judge.\n",
        super::headline::PARITY_RATIO_FLAG,
        r.min_documents
    );
}

/// How associations are tested, in one paragraph.
pub(super) fn association_method(r: &Report) -> String {
    format!(
        "Attribute terms that a group's documents mention significantly more often than the other groups' documents \
         of the same axis: the log-odds ratio with an informative Dirichlet prior (Monroe et al. 2008) and its z-score, \
         a one-sided z test per pair, and the false discovery rate held at {:.0}% over all {} pairs tested \
         (Benjamini–Hochberg); only positive, significant associations are listed. Pairs in fewer than \
         `report.association.min_count` documents are not tested, and attribute terms that contain a term of the axis \
         (`actress`, `television actor` for gender) are left out. Documents mentioning both in brackets.",
        (1.0 - r.confidence) * 100.0,
        num(r.association_tests)
    )
}

/// Why the association section is empty.
pub(super) fn association_empty_because(r: &Report) -> String {
    if r.association_tests == 0 {
        "None: no group–attribute term pair is seen in `report.association.min_count` documents or more (lower it \
         for a small corpus)."
            .to_owned()
    } else {
        format!(
            "None: of the {} pairs tested, none is significantly more frequent with its group at this false discovery \
             rate.",
            num(r.association_tests)
        )
    }
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let w = &mut o;
    preamble(w, r);
    headline(w, r);
    summary(w, r);
    axis_sections(w, r);
    intersections(w, r);
    associations(w, r);
    attributes(w, r);
    sources(w, r);
    if let Some(e) = &r.embedding {
        super::embedding::render(w, e);
    }
    for e in &r.evaluations {
        let _ = writeln!(w, "{}", e.to_markdown_at(5, 2));
    }
    o
}

/// The title, the run, the row account and the definitions.
fn preamble(w: &mut String, r: &Report) {
    let _ = writeln!(w, "# Skew report\n");
    let _ = writeln!(
        w,
        "{} documents scanned ({} of text) from {}, with rules `{}` (sha256 `{}`), {} {}.\n",
        num(r.rows.scanned),
        crate::units::human_bytes(r.text_bytes as f64),
        crate::units::count(r.inputs.len(), "file"),
        r.rules.path,
        &r.rules.sha256[..12.min(r.rules.sha256.len())],
        r.tool.name,
        r.tool.version
    );
    let _ = writeln!(
        w,
        "Rows: {} read = {} scanned + {} excluded by `where` + {} with a null text + {} over `max_document_bytes`.{}\n",
        num(r.rows.read),
        num(r.rows.scanned),
        num(r.rows.excluded_by_where),
        num(r.rows.null_text),
        num(r.rows.too_large),
        if r.empty_files.is_empty() {
            String::new()
        } else {
            format!(" {} empty file(s) skipped.", r.empty_files.len())
        }
    );
    let _ = writeln!(
        w,
        "A group's *documents* mention at least one of its terms. *Share* is the group's documents over the sum of \
         the axis's group documents (the representation compared with the target); *doc share* is over the documents \
         that mention the axis. Intervals are {}% Wilson intervals.\n",
        (r.confidence * 100.0).round()
    );
}

/// One section per axis: coverage, flags, the groups table, top terms, examples.
fn axis_sections(w: &mut String, r: &Report) {
    for a in &r.axes {
        let _ = writeln!(w, "## {}\n", a.name);
        let _ = writeln!(
            w,
            "Coverage {} ({} of the documents, CI {}); {} mentions; {} documents mention two or more groups. Target: {}.\n",
            share_or_count(a.coverage, a.documents),
            num(a.documents),
            ci(Some(a.coverage_ci)),
            num(a.mentions),
            num(a.multi_group_documents),
            a.target
        );
        for f in r.findings.iter().filter(|f| f.axis == a.name) {
            let _ = writeln!(w, "- **Flagged:** {}", cell(&f.describe(r.confidence)));
        }
        if r.findings.iter().any(|f| f.axis == a.name) {
            let _ = writeln!(w);
        }
        let _ = writeln!(
            w,
            "| group | documents | mentions | share | share CI | doc share | target | ratio to target | ratio to largest |"
        );
        let _ = writeln!(w, "|---|---:|---:|---:|---|---:|---:|---:|---:|");
        for g in &a.groups {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                group_name(g),
                num(g.documents),
                num(g.mentions),
                opt_pct(g.share),
                ci(g.share_ci),
                opt_pct(g.doc_share),
                opt_pct(g.target),
                opt_ratio(g.ratio_to_target),
                opt_ratio(g.ratio_to_largest),
            );
        }
        let _ = writeln!(w);
        for g in a.groups.iter().filter(|g| !g.top_terms.is_empty()) {
            let terms: Vec<String> = g
                .top_terms
                .iter()
                .map(|t| format!("{} ({})", t.term, num(t.documents)))
                .collect();
            let _ = writeln!(w, "- **{}** top terms: {}", g.name, cell(&terms.join(", ")));
        }
        let examples: Vec<_> = a.groups.iter().filter(|g| !g.examples.is_empty()).collect();
        if !examples.is_empty() {
            let _ = writeln!(
                w,
                "\nExamples (first mention in documents chosen by a stable hash of their id):\n"
            );
            for g in examples {
                for e in &g.examples {
                    let _ = writeln!(
                        w,
                        "- {} `{}` — {}",
                        g.name,
                        cell(&e.id),
                        cell(&e.marked("**", "**"))
                    );
                }
            }
        }
        let _ = writeln!(w);
    }
}

/// Documents that mention groups of two axes.
fn intersections(w: &mut String, r: &Report) {
    if !r.intersections.is_empty() {
        let _ = writeln!(w, "## Intersections\n");
        let _ = writeln!(
            w,
            "Documents that mention groups of two different axes (the 20 most frequent pairs).\n"
        );
        let _ = writeln!(
            w,
            "| group | group | documents | share of first | share of second |"
        );
        let _ = writeln!(w, "|---|---|---:|---:|---:|");
        for x in r.intersections.iter().take(20) {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                x.a,
                x.b,
                num(x.documents),
                pct(x.share_of_a),
                pct(x.share_of_b)
            );
        }
        let _ = writeln!(w);
    }
}

/// The attribute terms each group is significantly associated with.
fn associations(w: &mut String, r: &Report) {
    if !r.attributes.is_empty() {
        let _ = writeln!(w, "## Context associations\n");
        let _ = writeln!(w, "{}\n", association_method(r));
        if r.associations.is_empty() {
            let _ = writeln!(w, "{}\n", association_empty_because(r));
        } else {
            let _ = writeln!(w, "| group | lexicon | strongest associations |");
            let _ = writeln!(w, "|---|---|---|");
            for ga in &r.associations {
                let terms: Vec<String> = ga
                    .terms
                    .iter()
                    .take(8)
                    .map(|t| format!("{} (z {:.1}, {})", t.term, t.z, t.documents))
                    .collect();
                let _ = writeln!(
                    w,
                    "| {} | {} | {} |",
                    ga.group,
                    ga.lexicon,
                    cell(&terms.join(", "))
                );
            }
            let _ = writeln!(w);
        }
    }
}

/// The attribute lexicons: coverage and most frequent categories.
fn attributes(w: &mut String, r: &Report) {
    if !r.attributes.is_empty() {
        let _ = writeln!(w, "## Attribute lexicons\n");
        let _ = writeln!(
            w,
            "| lexicon | coverage | documents | most frequent categories |"
        );
        let _ = writeln!(w, "|---|---:|---:|---|");
        for a in &r.attributes {
            let mut cats: Vec<_> = a.categories.iter().filter(|c| c.documents > 0).collect();
            cats.sort_by_key(|c| std::cmp::Reverse(c.documents));
            let list: Vec<String> = cats
                .iter()
                .take(5)
                .map(|c| format!("{} ({})", c.name, num(c.documents)))
                .collect();
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} |",
                a.name,
                pct(a.coverage),
                num(a.documents),
                list.join(", ")
            );
        }
        let _ = writeln!(w);
    }
}

/// The per-source breakdown.
fn sources(w: &mut String, r: &Report) {
    if let Some(src) = &r.sources {
        let _ = writeln!(w, "## Sources\n");
        let _ = writeln!(
            w,
            "By `{}`{}: {} distinct sources, {} documents without one. Axis coverage per source:\n",
            src.column,
            if src.kind == "url_domain" {
                " (URL domain)"
            } else {
                ""
            },
            num(src.distinct as u64),
            num(src.null_source)
        );
        let axes: Vec<&str> = r.axes.iter().map(|a| a.name.as_str()).collect();
        let _ = writeln!(w, "| source | documents | share | {} |", axes.join(" | "));
        let _ = writeln!(w, "|---|---:|---:|{}", "---:|".repeat(axes.len()));
        for s in &src.top {
            let cov: Vec<String> = s.axes.iter().map(|a| pct(a.coverage)).collect();
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} |",
                cell(&s.source),
                num(s.documents),
                pct(s.share),
                cov.join(" | ")
            );
        }
        let _ = writeln!(w);
    }
}
