//! Detection on the real BOLD Wikipedia sentences: the report's figures are pinned, and the
//! share of each labelled group's sentences in which the group is detected is measured (and
//! printed: `cargo test bold -- --nocapture`).

use std::collections::BTreeMap;

use debias::pipeline::ScanOptions;

use super::common::*;

/// BOLD's labels (domain, group) and the debias group that should be detected.
const LABELS: &[(&str, &str, &str)] = &[
    ("gender", "American_actors", "gender/male"),
    ("gender", "American_actresses", "gender/female"),
    ("race", "African_Americans", "race_ethnicity/black"),
    ("race", "Asian_Americans", "race_ethnicity/asian"),
    ("race", "European_Americans", "race_ethnicity/white"),
    (
        "race",
        "Hispanic_and_Latino_Americans",
        "race_ethnicity/hispanic_latino",
    ),
    ("religious_ideology", "christianity", "religion/christian"),
    ("religious_ideology", "islam", "religion/muslim"),
    ("religious_ideology", "judaism", "religion/jewish"),
    ("religious_ideology", "hinduism", "religion/hindu"),
    ("religious_ideology", "buddhism", "religion/buddhist"),
    ("religious_ideology", "sikhism", "religion/sikh"),
    ("religious_ideology", "atheism", "religion/nonreligious"),
];

#[test]
fn detection_rates_per_labelled_group() {
    let rules = debias::rules::default_rules().unwrap();
    let det = &rules.detector;
    let tax = det.taxonomy();
    let text = std::fs::read_to_string(bold()).unwrap();
    // (domain, group) -> (sentences, detected)
    let mut rates: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut domain_any: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (domain, group, t) = (
            v["domain"].as_str().unwrap(),
            v["group"].as_str().unwrap(),
            v["text"].as_str().unwrap(),
        );
        let found: Vec<&str> = det
            .hits(t)
            .groups(tax)
            .iter()
            .map(|(g, _)| tax.groups[*g as usize].key.as_str())
            .collect();
        let axis = match domain {
            "gender" => Some("gender/"),
            "race" => Some("race_ethnicity/"),
            "religious_ideology" => Some("religion/"),
            _ => None,
        };
        let e = domain_any.entry(domain.to_owned()).or_default();
        e.0 += 1;
        if axis.is_none_or(|a| found.iter().any(|k| k.starts_with(a))) && !found.is_empty() {
            e.1 += 1;
        }
        if let Some((_, _, want)) = LABELS.iter().find(|(d, g, _)| *d == domain && *g == group) {
            let e = rates
                .entry((domain.to_owned(), group.to_owned()))
                .or_default();
            e.0 += 1;
            if found.contains(want) {
                e.1 += 1;
            }
        }
    }
    println!("| domain | BOLD group | debias group | sentences | detected |");
    println!("|---|---|---|---:|---:|");
    let mut measured = BTreeMap::new();
    for (d, g, want) in LABELS {
        let (n, k) = rates[&(d.to_string(), g.to_string())];
        let rate = k as f64 / n as f64;
        println!("| {d} | {g} | {want} | {n} | {:.1}% |", rate * 100.0);
        measured.insert(*g, rate);
    }
    for (d, (n, k)) in &domain_any {
        println!(
            "domain {d}: {n} sentences, {:.1}% with a group of the domain's axis (any group for other domains)",
            *k as f64 / *n as f64 * 100.0
        );
    }
    // Floors just under the measured rates: a regression in the lexicons or the matcher fails here.
    // Adjectives count only when said of people ("Christian music", "Islamic art", "Hindu temple"
    // do not; "Christians", "Islam", "a Hindu priest" do), so the religion pages, which are mostly
    // about doctrines, places and art, are below 100%; BOLD's race sentences are about people of
    // a group who are rarely named by race in the sentence (BOLD picks them by Wikipedia category).
    let floors = [
        ("American_actors", 0.74),
        ("American_actresses", 0.71),
        ("African_Americans", 0.035),
        ("Asian_Americans", 0.11),
        ("christianity", 0.55),
        ("islam", 0.74),
        ("hinduism", 0.6),
        ("atheism", 0.95),
        ("judaism", 0.95),
        ("buddhism", 0.9),
        ("sikhism", 0.8),
    ];
    for (g, floor) in floors {
        assert!(
            measured[g] >= floor,
            "{g}: detected in {:.1}% of its sentences, expected at least {:.0}%",
            measured[g] * 100.0,
            floor * 100.0
        );
    }
}

#[test]
fn bold_report_figures_are_pinned() {
    let rules = debias::rules::default_rules().unwrap();
    let (r, o) = scan(&rules, &[&bold()], &ScanOptions::default());
    assert_eq!(o.files.len(), 1);
    assert_eq!((r.rows.read, r.rows.scanned), (23_679, 23_679));
    let pinned: Vec<(&str, u64, u64)> = [
        "gender/female",
        "gender/male",
        "gender/non_binary",
        "race_ethnicity/black",
        "race_ethnicity/white",
        "race_ethnicity/asian",
        "religion/christian",
        "religion/muslim",
        "religion/jewish",
        "nationality/north_american",
        "age/child",
        "disability/general",
        "sexual_orientation/gay_lesbian",
    ]
    .iter()
    .map(|k| (*k, group(&r, k).documents, group(&r, k).mentions))
    .collect();
    let axes: Vec<(&str, u64)> = r
        .axes
        .iter()
        .map(|a| (a.name.as_str(), a.documents))
        .collect();
    assert_eq!(pinned, PINNED_GROUPS);
    assert_eq!(axes, PINNED_AXES);
    // Associations: actress is a gender term, so it is not reported as an association of women;
    // singer is (BOLD's actress pages mention singing careers far more than the actor pages).
    let fem = r
        .associations
        .iter()
        .find(|a| a.group == "gender/female" && a.lexicon == "occupations")
        .unwrap();
    assert!(fem.terms.iter().all(|t| t.term != "actress"));
    let singer = fem
        .terms
        .iter()
        .find(|t| t.term == "singer")
        .expect("singer is associated with women in BOLD");
    assert!(singer.z > 3.0 && singer.documents >= 100, "{singer:?}");
    // The Markdown report has every section.
    let md = r.to_markdown();
    for section in [
        "# Skew report",
        "## Summary",
        "## gender",
        "## Intersections",
        "## Context associations",
        "## Attribute lexicons",
    ] {
        assert!(md.contains(section), "missing {section}");
    }
}

/// Documents and mentions per group on BOLD with the built-in rules. A change here is a change
/// in the lexicons or the matcher: check it is intended, then update these figures.
const PINNED_GROUPS: &[(&str, u64, u64)] = &[
    ("gender/female", 2203, 3183),
    ("gender/male", 4017, 5651),
    ("gender/non_binary", 1, 1),
    ("race_ethnicity/black", 140, 152),
    ("race_ethnicity/white", 272, 285),
    ("race_ethnicity/asian", 141, 145),
    ("religion/christian", 337, 464),
    ("religion/muslim", 108, 180),
    ("religion/jewish", 157, 274),
    ("nationality/north_american", 3485, 3546),
    ("age/child", 279, 338),
    ("disability/general", 26, 30),
    ("sexual_orientation/gay_lesbian", 29, 31),
];
const PINNED_AXES: &[(&str, u64)] = &[
    ("gender", 5807),
    ("gender_identity", 7),
    ("sexual_orientation", 43),
    ("race_ethnicity", 637),
    ("religion", 861),
    ("age", 653),
    ("nationality", 4032),
    ("disability", 110),
];
