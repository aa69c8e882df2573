//! Property tests (proptest, bounded case counts so that CI stays short): the rule reader never
//! panics and what it accepts runs; the matcher equals a naive reference; the rewriter keeps the
//! text outside its edits byte for byte; the readers never panic on random bytes.

use std::path::Path;

use debias::error::Error;
use debias::lexicon::matcher::{Hit, MatcherBuilder, is_word_char};
use debias::pipeline::ScanOptions;
use proptest::prelude::*;

use super::common::*;

/// Words of a tiny alphabet (ASCII and two-byte letters whose case forms keep their length),
/// so that random texts often contain the random forms.
fn word() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec!["a", "b", "e", "é", "ü", "A", "É", "Ü"]),
        1..4,
    )
    .prop_map(|cs| cs.concat())
}

/// A form: one or two words, lower case.
fn form() -> impl Strategy<Value = String> {
    proptest::collection::vec(word(), 1..3).prop_map(|w| w.join(" ").to_lowercase())
}

/// A text of words and separators (space, punctuation, a digit, an apostrophe).
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (
            word(),
            prop::sample::select(vec![" ", " ", ", ", "-", "'", "1", ". ", "_"]),
        ),
        0..12,
    )
    .prop_map(|parts| parts.into_iter().map(|(w, s)| w + s).collect())
}

/// The case forms a form is matched in (as the matcher builds them): itself, and for a form
/// that is not ASCII its lower, upper and title case; each compared ASCII-case-insensitively.
fn variants(form: &str) -> Vec<String> {
    let mut v = vec![form.to_owned()];
    if !form.is_ascii() {
        let lower = form.to_lowercase();
        let mut title = String::new();
        let mut at_start = true;
        for c in lower.chars() {
            if at_start {
                title.extend(c.to_uppercase());
            } else {
                title.push(c);
            }
            at_start = !is_word_char(c);
        }
        v.extend([lower, form.to_uppercase(), title]);
    }
    v
}

/// The naive reference: from left to right, at each position with no word character before
/// it, the longest form that matches there with no word character after it; then on after it.
fn naive(forms: &[String], text: &str) -> Vec<(usize, usize, u32)> {
    let before_ok = |i: usize| {
        text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !is_word_char(c))
    };
    let after_ok = |j: usize| text[j..].chars().next().is_none_or(|c| !is_word_char(c));
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text.is_char_boundary(i) && before_ok(i) {
            let mut best: Option<(usize, u32)> = None;
            for (t, f) in forms.iter().enumerate() {
                for v in variants(f) {
                    let j = i + v.len();
                    if j <= text.len()
                        && text.is_char_boundary(j)
                        && text[i..j].eq_ignore_ascii_case(&v)
                        && after_ok(j)
                        && best.is_none_or(|(e, _)| j > e)
                    {
                        best = Some((j, t as u32));
                    }
                }
            }
            if let Some((j, t)) = best {
                out.push((i, j, t));
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// The matcher finds exactly the naive reference's matches, one text at a time and with the
    /// texts joined.
    #[test]
    fn matcher_equals_a_naive_reference(
        forms in proptest::collection::btree_set(form(), 1..6),
        texts in proptest::collection::vec(text(), 1..4),
    ) {
        let forms: Vec<String> = forms.into_iter().collect();
        let mut b = MatcherBuilder::new();
        for (t, f) in forms.iter().enumerate() {
            b.add(f, t as u32, None, 0);
        }
        let m = b.build().unwrap();
        let hits = |t: &str| {
            let mut v = Vec::new();
            m.for_each_hit(t, |h: Hit| v.push((h.start, h.end, h.term)));
            v
        };
        for t in &texts {
            prop_assert_eq!(hits(t), naive(&forms, t), "text {:?}", t);
        }
        let joined: String = texts.concat();
        let ends: Vec<usize> = texts
            .iter()
            .scan(0, |n, t| {
                *n += t.len();
                Some(*n)
            })
            .collect();
        let mut each: Vec<Vec<(usize, usize, u32)>> = vec![Vec::new(); texts.len()];
        m.for_each_hit_joined(&joined, &ends, |k, h| each[k].push((h.start, h.end, h.term)));
        for (k, t) in texts.iter().enumerate() {
            prop_assert_eq!(&each[k], &hits(t));
        }
    }

    /// A rewrite changes the text only where its edits say: each edit's original is the text
    /// at its offsets (on character boundaries), and applying the edits gives the output.
    #[test]
    fn the_rewriter_keeps_the_text_outside_its_edits(
        a in proptest::collection::vec(word(), 1..4),
        b in proptest::collection::vec(word(), 1..4),
        t in text(),
        seed in 0u64..1000,
    ) {
        let groups = vec![
            ("a".to_string(), a.iter().map(|w| w.to_lowercase()).collect::<Vec<_>>()),
            ("b".to_string(), b.iter().map(|w| w.to_lowercase()).collect::<Vec<_>>()),
        ];
        let Ok(swapper) = debias::augment::Swapper::term_groups(&groups) else {
            // The same word in both groups is refused; nothing to check.
            return Ok(());
        };
        let mapping = swapper.mapping(seed, "doc", &[true, true], &[true, true]);
        if let Some((out, edits)) = swapper.rewrite(&t, &mapping) {
            let mut rebuilt = String::new();
            let mut at = 0;
            for e in &edits {
                prop_assert!(e.start >= at && e.end >= e.start);
                prop_assert!(t.is_char_boundary(e.start) && t.is_char_boundary(e.end));
                prop_assert_eq!(&t[e.start..e.end], e.original.as_str());
                rebuilt.push_str(&t[at..e.start]);
                rebuilt.push_str(&e.replacement);
                at = e.end;
            }
            rebuilt.push_str(&t[at..]);
            prop_assert_eq!(rebuilt, out);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// The rule reader never panics on arbitrary text (YAML or not).
    #[test]
    fn the_rule_reader_never_panics(text in "(?s).{0,300}") {
        let _ = debias::rules::parse("p.yaml", &text, Path::new("."));
    }

    /// Rule files built from the rule language's own keys with random values: the reader never
    /// panics, and every file it accepts runs through `apply` without a panic or an internal
    /// error.
    #[test]
    fn accepted_rules_run_through_apply(
        input in prop::sample::select(vec![
            "", "input: {where: \"length(text) > 5\"}\n", "input: {max_document_bytes: 40}\n",
            "input: {id_column: nope}\n", "input: {where: \"text LIKE '%cat%'\"}\n",
        ]),
        axes in prop::sample::select(vec!["", "axes: {gender: {}}\n", "axes: {pets: {}}\n", "axes: {}\n"]),
        action in prop::sample::select(vec![
            "",
            "  - drop: {name: d, terms: [cat]}\n",
            "  - drop: {name: d, where: \"text LIKE '%dog%'\"}\n",
            "  - augment: {name: g, swap: gender}\n",
            "  - augment: {name: e, groups: {a: [cat], b: [dog]}}\n",
            "  - augment: {name: e, groups: {a: [\"\"], b: [x]}}\n",
            "  - augment: {name: e, groups: {a: [cat, kitten], b: [dog]}, mode: replace}\n",
            "  - rebalance: {axis: gender, strategy: downsample, target: parity}\n",
            "  - rebalance: {axis: gender, strategy: reweight}\n",
            "  - rebalance: {axis: pets, strategy: upsample, target: {cat: 0.5, dog: 0.5}}\n",
        ]),
        seed in prop::sample::select(vec!["", "seed: 7\n", "seed: -1\n", "seed: x\n"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let pets = "  pets:\n    groups:\n      cat: [cat, kitten]\n      dog: [dog, puppy]\n";
        let axes = if axes.contains("pets") {
            format!("axes:\n  gender: {{}}\n{pets}")
        } else {
            axes.to_string()
        };
        let yaml = format!("version: 1\n{input}{axes}{seed}actions:\n{action}");
        let Ok(rules) = debias::rules::parse("p.yaml", &yaml, dir.path()) else {
            return Ok(());
        };
        let out = dir.path().join("out");
        let opts = debias::pipeline::apply::ApplyOptions {
            output: out,
            overwrite: false,
            seed: None,
            threads: 2,
            memory_limit: None,
            progress: None,
            formats: vec![debias::report::ReportFormat::Json],
            resume: None,
        };
        let inputs = vec![fixture("tiny.jsonl").display().to_string()];
        if let Err(e) = debias::pipeline::apply::apply(&rules, &inputs, &opts) {
            prop_assert!(
                !matches!(e, Error::Bug(_) | Error::BugIn { .. } | Error::Internal(_)),
                "{}\n{}", yaml, e.chain()
            );
        }
    }

    /// The JSONL and CSV readers never panic (nor report an internal error) on random bytes,
    /// plain or near-JSON.
    #[test]
    fn the_readers_never_panic_on_random_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        json in "[{}\\[\\]\":,a-z0-9 \n\\\\]{0,120}",
        csv in "[a-z,\"\n ]{0,120}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rules = pets_rules();
        for (name, data) in [
            ("r.jsonl", bytes.clone()),
            ("r.csv", bytes),
            ("j.jsonl", json.into_bytes()),
            ("c.csv", format!("text,id\n{csv}").into_bytes()),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, &data).unwrap();
            let inputs = vec![p.display().to_string()];
            let opts = ScanOptions { threads: 1, ..ScanOptions::default() };
            if let Err(e) = debias::pipeline::scan(&rules, &inputs, &opts) {
                prop_assert!(
                    !matches!(e, Error::Bug(_) | Error::BugIn { .. } | Error::Internal(_)),
                    "{name} {:?}\n{}", String::from_utf8_lossy(&data), e.chain()
                );
            }
        }
    }
}
