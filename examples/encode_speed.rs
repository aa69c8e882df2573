//! Sentences per second of the encoder at a fixed length, on the CPU or a GPU.
//!
//! ```sh
//! cargo run --release --example encode_speed -- --model DIR [--device cpu|cuda] [--dtype f32|f16|bf16] \
//!     [--tokens 128] [--sentences 4096] [--batch-tokens N (default: the device's)] \
//!     [--candle-graph (on the CPU in f32: the candle graph instead of the padding-free path)]
//! # on an NVIDIA GPU (needs nvcc): benches/gpu_encode.sh DIR
//! ```
//!
//! The inputs are BOLD sentences repeated until each has exactly `--tokens` tokens (truncated),
//! so the figure is for that length; tokenization is timed separately from the model.

use std::time::Instant;

// The allocator of the `debias` binary.
#[global_allocator]
static GLOBAL: debias::alloc::MiMalloc = debias::alloc::MiMalloc;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    debias::alloc::tune();
    let args: Vec<String> = std::env::args().collect();
    let model = arg(&args, "--model", debias::embed::DEFAULT_MODEL);
    let device = debias::embed::device(&arg(&args, "--device", "cpu"))?;
    let dtype = debias::embed::parse_dtype(&arg(&args, "--dtype", "f32"))?;
    let tokens: usize = arg(&args, "--tokens", "128").parse()?;
    let n: usize = arg(&args, "--sentences", "4096").parse()?;
    let batch_tokens: usize = arg(&args, "--batch-tokens", "0").parse()?;
    let files = debias::embed::ModelFiles::locate(&model)?;
    let enc = debias::embed::Encoder::load(
        files,
        debias::embed::EncoderOptions {
            dtype,
            device: device.clone(),
            batch_tokens,
            candle_graph: args.iter().any(|a| a == "--candle-graph"),
        },
    )?;
    let bold = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bold/bold_wikipedia.jsonl"
    ))?;
    let sentences: Vec<String> = bold
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let t = Instant::now();
    let texts: Vec<String> = (0..n)
        .map(|i| sentences[i % sentences.len()].repeat(8))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut ids = enc.tokenize(&refs)?;
    let tok_secs = t.elapsed().as_secs_f64();
    for v in &mut ids {
        // [CLS] ... [SEP] at exactly `tokens` tokens.
        let sep = *v.last().unwrap();
        v.truncate(tokens - 1);
        v.push(sep);
    }
    enc.encode_ids(&ids[..n.min(256)])?; // warm-up
    let t = Instant::now();
    let out = enc.encode_ids(&ids)?;
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(out.len(), n);
    println!(
        "{n} sentences x {tokens} tokens, {dtype:?} on {device:?}: {:.0} sentences/s ({:.2} s); tokenization {:.0} sentences/s",
        n as f64 / secs,
        secs,
        n as f64 / tok_secs
    );
    Ok(())
}
