//! The matcher with every built-in lexicon (the default rules) over the real BOLD sentences,
//! one core. Run: `cargo bench --bench matcher`.
//!
//! The detection UDF matches a batch's texts 512 rows at a time, as one joined text (the
//! column's value buffer, `Matcher::for_each_hit_joined`); `all_builtin_lexicons/bold` and
//! `detect_counts/bold` measure that, `one_text_at_a_time/bold` a call per text.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use debias::detect::DocHits;

fn bold_texts() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bold/bold_wikipedia.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("../shared/data/bold/bold_wikipedia.jsonl");
    text.lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn matcher(c: &mut Criterion) {
    let rules = debias::rules::default_rules().unwrap();
    let det = rules.detector.clone();
    let texts = bold_texts();
    let bytes: usize = texts.iter().map(String::len).sum();
    let mut g = c.benchmark_group("matcher");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(20);
    // The texts as the UDF sees them: 512 rows at a time, back to back.
    let chunks: Vec<(String, Vec<usize>)> = texts
        .chunks(512)
        .map(|c| {
            let ends = c
                .iter()
                .scan(0, |end, t| {
                    *end += t.len();
                    Some(*end)
                })
                .collect();
            (c.concat(), ends)
        })
        .collect();
    g.bench_function("all_builtin_lexicons/bold", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (joined, ends) in &chunks {
                det.matcher()
                    .for_each_hit_joined(joined, ends, |_, _| n += 1);
            }
            n
        })
    });
    g.bench_function("one_text_at_a_time/bold", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for t in &texts {
                det.matcher().for_each_hit(t, |_| n += 1);
            }
            n
        })
    });
    g.bench_function("detect_counts/bold", |b| {
        let mut out: Vec<DocHits> = Vec::new();
        b.iter(|| {
            let mut n = 0usize;
            for (joined, ends) in &chunks {
                out.clear();
                det.detect_joined(joined, ends, &mut out);
                n += out.iter().map(|h| h.terms.len()).sum::<usize>();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, matcher);
criterion_main!(benches);
