//! The matcher with every built-in lexicon (the default rules) over the real BOLD sentences,
//! one core. Run: `cargo bench --bench matcher`.

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
    g.bench_function("all_builtin_lexicons/bold", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for t in &texts {
                det.matcher().for_each_hit(t, |_| n += 1);
            }
            n
        })
    });
    g.bench_function("detect_counts/bold", |b| {
        let mut scratch = Vec::new();
        let mut out = DocHits::default();
        b.iter(|| {
            let mut n = 0usize;
            for t in &texts {
                det.detect(t, &mut scratch, &mut out);
                n += out.terms.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, matcher);
criterion_main!(benches);
