//! `debias apply` end to end: BOLD repeated to about 59 MB of JSONL, gender counterfactual
//! augmentation and a gender downsample (two passes), zstd Parquet out, on every core.
//! Run: `cargo bench --bench apply`.

// The allocator of the `debias` binary and its setting, so that the bench measures what users
// run.
#[global_allocator]
static GLOBAL: debias::alloc::MiMalloc = debias::alloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use debias::pipeline::apply::{ApplyOptions, apply};

const RULES: &str = r#"
version: 1
axes: {gender: {}, religion: {}, race_ethnicity: {}}
attributes: {occupations: {}}
seed: 1
actions:
  - augment: {name: gender_cda, swap: gender, mode: append}
  - rebalance: {name: balance, axis: gender, strategy: downsample}
"#;

fn whole_apply(c: &mut Criterion) {
    debias::alloc::tune();
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bold/bold_wikipedia.jsonl"
    ))
    .unwrap();
    let mut corpus = String::new();
    for copy in 0..10 {
        for (i, line) in src.lines().enumerate() {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["id"] = format!("{copy}-{i}").into();
            corpus.push_str(&v.to_string());
            corpus.push('\n');
        }
    }
    let path = dir.path().join("bold_x10.jsonl");
    std::fs::write(&path, &corpus).unwrap();
    let rules_path = dir.path().join("rules.yaml");
    std::fs::write(&rules_path, RULES).unwrap();
    let rules = debias::rules::load(&rules_path).unwrap();
    let inputs = vec![path.to_string_lossy().to_string()];
    let out = dir.path().join("out");
    let opts = ApplyOptions {
        output: out.clone(),
        overwrite: true,
        seed: None,
        threads: debias::pipeline::default_threads(),
        memory_limit: None,
        progress: None,
        // As measured before the HTML page existed: the figures stay comparable.
        formats: vec![
            debias::report::ReportFormat::Json,
            debias::report::ReportFormat::Md,
        ],
        resume: None,
    };
    let mut g = c.benchmark_group("apply");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(corpus.len() as u64));
    g.bench_function("jsonl_bytes/gender_cda_downsample", |b| {
        b.iter(|| {
            apply(&rules, &inputs, &opts)
                .unwrap()
                .manifest
                .rows
                .account
                .written
        })
    });
    g.finish();
    let m = apply(&rules, &inputs, &opts).unwrap().manifest;
    eprintln!(
        "corpus: {} bytes of JSONL; rows read {}, written {}",
        corpus.len(),
        m.rows.account.read,
        m.rows.account.written
    );
}

criterion_group!(benches, whole_apply);
criterion_main!(benches);
