//! A dataset card (`README.md`) in the Hugging Face format: YAML metadata whose `configs` point
//! `datasets.load_dataset(DIR)` at the data files only (not the reports and manifest beside
//! them), then the card's sections, with "Bias, Risks, and Limitations" filled from the skew
//! reports and the filter audit, and the provenance from the manifest.
//!
//! `debias apply` writes one into its output; `debias report card` writes one for any report.

use std::fmt::Write;

use super::Report;
use super::fmt::num;
use super::headline::Headline;
use crate::apply::manifest::Manifest;

/// The card of an `apply` output: `before` and `after` are its reports.
pub fn apply_card(manifest: &Manifest, before: &Report, after: &Report) -> String {
    let mut o = String::new();
    front_matter(&mut o, Some(manifest), after);
    let _ = writeln!(o, "# Dataset card\n");
    let _ = writeln!(
        o,
        "A copy of {} input file(s) rewritten by [debias](https://crates.io/crates/debias) {} with the rules `{}` \
         (sha256 `{}`, seed {}): {} rows read, {} written. Every row carries provenance columns \
         (`debias_id`, `debias_source_id`, `debias_augmented`, `debias_rule`, `debias_groups`, `debias_weight`, `debias_edits`).\n",
        manifest.inputs.len(),
        manifest.tool.version,
        manifest.rules.path,
        short(&manifest.rules.sha256),
        manifest.seed,
        num(manifest.rows.account.read),
        num(manifest.rows.account.written),
    );
    let _ = writeln!(o, "## Dataset Structure\n");
    let _ = writeln!(
        o,
        "One `train` split: the Parquet files under `data/` ({} file(s), {} compression). `report/` holds the \
         skew reports before and after the actions, and `manifest.json` accounts for every input row; neither is \
         data, and the `configs` above keep `datasets.load_dataset` to the data files.\n",
        manifest.output.files.len(),
        manifest.output.compression
    );
    let _ = writeln!(o, "## Dataset Creation\n");
    let _ = writeln!(o, "### Source Data\n");
    for i in &manifest.inputs {
        let _ = writeln!(
            o,
            "- `{}` ({} bytes, sha256 `{}`)",
            i.path,
            num(i.bytes),
            short(&i.sha256)
        );
    }
    let _ = writeln!(o, "\n### Processing\n");
    if manifest.actions.is_empty() {
        let _ = writeln!(
            o,
            "No action: the rows are copied with provenance columns.\n"
        );
    }
    for a in &manifest.actions {
        let _ = writeln!(o, "- `{}` ({})", a.name, a.kind);
    }
    let acc = &manifest.rows.account;
    let _ = writeln!(
        o,
        "\nRows: {} read = {} kept + {} dropped; {} written (with {} counterfactual copies and {} duplicates).\n",
        num(acc.read),
        num(acc.kept),
        num(acc.dropped.values().sum()),
        num(acc.written),
        num(acc.augmented.values().sum()),
        num(acc.duplicated.values().sum()),
    );
    bias_section(&mut o, after, Some(before));
    let _ = writeln!(o, "### Filter audit\n");
    if manifest.filter_audit.is_empty() {
        let _ = writeln!(o, "No drop action.\n");
    }
    for f in &manifest.filter_audit {
        let _ = writeln!(
            o,
            "- `{}` removed {} of {} rows it reached.",
            f.action,
            num(f.removed),
            num(f.reached)
        );
        for w in &f.warnings {
            let _ = writeln!(o, "  - **Warning:** {w}");
        }
    }
    let _ = writeln!(o);
    for w in &manifest.warnings {
        let _ = writeln!(o, "- **Warning:** {w}");
    }
    o
}

/// The card of a scanned corpus (`debias report card REPORT.json`).
pub fn report_card(report: &Report) -> String {
    let mut o = String::new();
    front_matter(&mut o, None, report);
    let _ = writeln!(o, "# Dataset card\n");
    let _ = writeln!(
        o,
        "Measured by [debias](https://crates.io/crates/debias) {} with the rules `{}` (sha256 `{}`): {} documents \
         scanned from {} file(s).\n",
        report.tool.version,
        report.rules.path,
        short(&report.rules.sha256),
        num(report.rows.scanned),
        report.inputs.len()
    );
    let _ = writeln!(o, "## Dataset Creation\n\n### Source Data\n");
    for i in &report.inputs {
        let _ = writeln!(o, "- `{}` ({} bytes)", i.path.display(), num(i.size));
    }
    let _ = writeln!(o);
    bias_section(&mut o, report, None);
    o
}

/// The YAML metadata: the data files of an `apply` output as the `train` split.
fn front_matter(o: &mut String, manifest: Option<&Manifest>, report: &Report) {
    o.push_str("---\n");
    if manifest.is_some() {
        o.push_str(
            "configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/**/*.parquet\n",
        );
    }
    let _ = writeln!(
        o,
        "tags:\n- debias\nsize_categories:\n- {}\n---\n",
        size_category(report.rows.scanned)
    );
}

/// The "Bias, Risks, and Limitations" section: the headline of `report`, what changed from
/// `before`, and what the measurement cannot see.
fn bias_section(o: &mut String, report: &Report, before: Option<&Report>) {
    let _ = writeln!(o, "## Bias, Risks, and Limitations\n");
    let h = Headline::of(report);
    for r in &h.ratios {
        let _ = writeln!(o, "- {r}");
    }
    let _ = writeln!(o, "- {}", h.rule);
    for (_, f) in &h.findings {
        let _ = writeln!(o, "  - {f}");
    }
    if !h.more.is_empty() {
        let _ = writeln!(o, "  - {}", h.more);
    }
    if !h.too_few.is_empty() {
        let _ = writeln!(o, "- {}", h.too_few);
    }
    if let Some(b) = before {
        let _ = writeln!(o, "\nBefore the actions:\n");
        let hb = Headline::of(b);
        for r in &hb.ratios {
            let _ = writeln!(o, "- {r}");
        }
        let _ = writeln!(
            o,
            "- {} flagged group(s) before, {} after.",
            b.findings.len(),
            report.findings.len()
        );
    }
    let _ = writeln!(
        o,
        "\nThese figures count documents that mention a group by lexicon terms and context rules (see the rules \
         file); they do not see groups that are only implied, and detection has its own error, which `debias eval` \
         measures on a labelled sample. Coverage per axis: {}.\n",
        report
            .axes
            .iter()
            .map(|a| format!("{} {:.1}%", a.name, a.coverage * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// The Hugging Face size category of `n` rows.
fn size_category(n: u64) -> &'static str {
    match n {
        0..1_000 => "n<1K",
        1_000..10_000 => "1K<n<10K",
        10_000..100_000 => "10K<n<100K",
        100_000..1_000_000 => "100K<n<1M",
        1_000_000..10_000_000 => "1M<n<10M",
        10_000_000..100_000_000 => "10M<n<100M",
        100_000_000..1_000_000_000 => "100M<n<1B",
        _ => "n>1B",
    }
}

fn short(sha: &str) -> &str {
    &sha[..12.min(sha.len())]
}
