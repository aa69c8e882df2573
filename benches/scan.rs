//! The whole scan (DataFusion JSONL reader, detection UDF, statistics, report) over BOLD
//! repeated to about 34 MB, on every core. Run: `cargo bench --bench scan`.

// The allocator of the `debias` binary and its setting, so that the bench measures what users
// run.
#[global_allocator]
static GLOBAL: debias::alloc::MiMalloc = debias::alloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use debias::pipeline::{ScanOptions, scan};
use debias::report::Report;

fn whole_scan(c: &mut Criterion) {
    debias::alloc::tune();
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bold/bold_wikipedia.jsonl"
    ))
    .unwrap();
    let mut corpus = String::new();
    let mut text_bytes = 0u64;
    for copy in 0..10 {
        for (i, line) in src.lines().enumerate() {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            text_bytes += v["text"].as_str().unwrap().len() as u64;
            v["id"] = format!("{copy}-{i}").into();
            corpus.push_str(&v.to_string());
            corpus.push('\n');
        }
    }
    let path = dir.path().join("bold_x10.jsonl");
    std::fs::write(&path, &corpus).unwrap();
    let inputs = vec![path.to_string_lossy().to_string()];
    let rules = debias::rules::default_rules().unwrap();
    let mut g = c.benchmark_group("scan");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(corpus.len() as u64));
    g.bench_function("jsonl_file_bytes/default_rules", |b| {
        b.iter(|| {
            let o = scan(&rules, &inputs, &ScanOptions::default()).unwrap();
            Report::build(&rules, &o).axes.len()
        })
    });
    g.finish();
    eprintln!(
        "corpus: {} bytes of JSONL, {} bytes of text",
        corpus.len(),
        text_bytes
    );
}

criterion_group!(benches, whole_scan);
criterion_main!(benches);
