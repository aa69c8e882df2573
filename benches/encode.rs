//! The sentence encoder on the CPU: all-MiniLM-L6-v2, f32, BOLD sentences (real lengths) and
//! fixed 128-token inputs. Run: `DEBIAS_MODEL=DIR cargo bench --bench encode` (DIR: a
//! sentence-transformers directory; default: the tests' copy in ~/.cache/debias/models).

// The allocator of the `debias` binary, so that the bench measures what users run (the
// system allocator maps and faults in every large activation afresh).
#[global_allocator]
static GLOBAL: debias::alloc::MiMalloc = debias::alloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use debias::embed::{Encoder, EncoderOptions, ModelFiles};

fn encode(c: &mut Criterion) {
    debias::alloc::tune();
    let model = std::env::var("DEBIAS_MODEL").unwrap_or_else(|_| {
        format!(
            "{}/.cache/debias/models/all-MiniLM-L6-v2",
            std::env::var("HOME").unwrap()
        )
    });
    let enc = Encoder::load(
        ModelFiles::locate(&model).unwrap(),
        EncoderOptions::default(),
    )
    .unwrap();
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bold/bold_wikipedia.jsonl"
    ))
    .unwrap();
    let texts: Vec<String> = src
        .lines()
        .take(512)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut g = c.benchmark_group("encode");
    g.sample_size(10);
    g.throughput(Throughput::Elements(refs.len() as u64));
    g.bench_function("bold_512_sentences/f32", |b| {
        b.iter(|| enc.encode(&refs).unwrap().len())
    });
    let mut ids = enc.tokenize(&refs).unwrap();
    for v in &mut ids {
        let sep = *v.last().unwrap();
        v.resize(127, 1996); // "the"
        v.push(sep);
    }
    g.bench_function("512_sentences_x_128_tokens/f32", |b| {
        b.iter(|| enc.encode_ids(&ids).unwrap().len())
    });
    g.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
