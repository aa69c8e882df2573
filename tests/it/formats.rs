//! The same corpus as JSONL, gzip and zstd JSONL, Parquet (Utf8View and LargeUtf8), CSV, a
//! directory and a glob gives the same figures.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{LargeStringArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use debias::pipeline::ScanOptions;

use super::common::*;

fn baseline() -> serde_json::Value {
    figures(
        &scan(
            &pets_rules(),
            &[&fixture("tiny.jsonl")],
            &ScanOptions::default(),
        )
        .0,
    )
}

fn write_parquet_large_utf8(path: &Path) {
    // The fixture's rows, with the text as LargeUtf8 (the JSON null as a null).
    let text = std::fs::read_to_string(fixture("tiny.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("text", DataType::LargeUtf8, true),
        Field::new("source", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r["id"].as_str().unwrap()),
            )),
            Arc::new(LargeStringArray::from_iter(
                rows.iter().map(|r| r["text"].as_str()),
            )),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r["source"].as_str()),
            )),
        ],
    )
    .unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn write_csv(path: &Path) {
    let text = std::fs::read_to_string(fixture("tiny.jsonl")).unwrap();
    let mut out = String::from("id,text,source\n");
    for l in text.lines() {
        let r: serde_json::Value = serde_json::from_str(l).unwrap();
        let q = |v: &serde_json::Value| {
            v.as_str()
                .map(|s| format!("\"{}\"", s.replace('"', "\"\"")))
                .unwrap_or_default()
        };
        out.push_str(&format!(
            "{},{},{}\n",
            r["id"].as_str().unwrap(),
            q(&r["text"]),
            q(&r["source"])
        ));
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn every_format_gives_the_same_figures() {
    let want = baseline();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let raw = std::fs::read(fixture("tiny.jsonl")).unwrap();
    let gz = d.join("tiny.jsonl.gz");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    e.write_all(&raw).unwrap();
    e.finish().unwrap();
    let zst = d.join("tiny.json.zst");
    std::fs::write(&zst, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    let large = d.join("large.parquet");
    write_parquet_large_utf8(&large);
    let csv = d.join("tiny.csv");
    write_csv(&csv);
    // Parquet written by DataFusion itself: strings come back as Utf8View.
    let view = d.join("view.parquet");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        let df = ctx
            .read_parquet(large.to_str().unwrap(), Default::default())
            .await
            .unwrap();
        df.write_parquet(view.to_str().unwrap(), Default::default(), None)
            .await
            .unwrap();
    });
    let rules = pets_rules();
    for f in [&gz, &zst, &large, &view, &csv] {
        let (r, o) = scan(&rules, &[f], &ScanOptions::default());
        assert_eq!(figures(&r), want, "{}", f.display());
        assert_eq!(o.files.len(), 1);
    }
    // A directory and a glob: every file once, sorted; ids are per document so counts add up.
    let sub = d.join("corpus");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(&gz, sub.join("a.jsonl.gz")).unwrap();
    std::fs::write(sub.join("_SUCCESS"), "").unwrap();
    std::fs::write(sub.join(".hidden.jsonl"), "not read").unwrap();
    let (r, o) = scan(&rules, &[&sub], &ScanOptions::default());
    assert_eq!(o.files.len(), 1);
    assert_eq!(figures(&r), want);
    let pattern = d.join("*.parquet");
    let (r, o) = scan(&rules, &[&pattern], &ScanOptions::default());
    assert_eq!(o.files.len(), 2);
    assert_eq!(r.rows.read, 16);
    assert_eq!(group(&r, "pets/cat").documents, 8);
}

/// A quoted CSV field may hold line breaks (RFC 4180; Python's csv, DuckDB and pyarrow read
/// them): such files were refused with "unterminated string". Plain and gzip-compressed.
#[test]
fn csv_quoted_fields_with_line_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "id,text\n1,\"She said:\nhello\"\n2,he left\n3,\"a \"\"quoted\"\" word, and\nmore from her\"\n";
    let plain = dir.path().join("nl.csv");
    std::fs::write(&plain, csv).unwrap();
    let gz = dir.path().join("nl.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(&mut enc, csv.as_bytes()).unwrap();
    enc.finish().unwrap();
    let rules = debias::rules::default_rules().unwrap();
    for f in [&plain, &gz] {
        let (r, _) = scan(&rules, &[f], &ScanOptions::default());
        assert_eq!((r.rows.read, r.rows.scanned), (3, 3), "{}", f.display());
        let female = group(&r, "gender/female");
        assert_eq!(
            (female.documents, female.mentions),
            (2, 2),
            "{}",
            f.display()
        );
    }
}

/// File names with glob characters are files, not patterns: `br[a]ck.jsonl` named explicitly
/// or found in a directory was "no files found"; scan and apply read it.
#[test]
fn file_names_with_glob_characters() {
    let dir = tempfile::tempdir().unwrap();
    let rules = debias::rules::default_rules().unwrap();
    let src = repo().join("examples/news_sample.jsonl");
    let (want, _) = scan(&rules, &[&src], &ScanOptions::default());
    for name in ["br[a]ck.jsonl", "st*r?.jsonl", "a]b.jsonl"] {
        let sub = dir.path().join(name.replace(['[', ']', '*', '?'], "_"));
        std::fs::create_dir(&sub).unwrap();
        let f = sub.join(name);
        std::fs::copy(&src, &f).unwrap();
        for input in [&f, &sub] {
            let (r, _) = scan(&rules, &[input], &ScanOptions::default());
            assert_eq!(r.rows.read, want.rows.read, "{}", input.display());
            assert_eq!(figures(&r), figures(&want), "{}", input.display());
        }
    }
}

/// The Python interpreter of the loaders' environment (tests/loaders-venv.sh), made on first
/// use; None when it cannot be made (no python3 or no PyPI), which the test reports.
fn loaders_python() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("DEBIAS_TEST_PYTHON") {
        return Some(p.into());
    }
    let dir = std::path::PathBuf::from(std::env::var("HOME").ok()?).join(".cache/debias-pyenv");
    let made = std::process::Command::new(repo().join("tests/loaders-venv.sh"))
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    made.then(|| dir.join("bin/python"))
}

/// Issue 17's outputs: an `apply` output loads with `datasets.load_dataset(DIR)` (its card's
/// configs select the data files), the attributes' mentions load in `datasets`, polars and
/// DuckDB, and the embeddings carry their model in the Parquet metadata and cast to DuckDB's
/// FLOAT[384] (tests/loaders.py).
#[test]
fn outputs_load_in_python_data_tools() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let sample = "examples/news_sample.jsonl";
    // Partitioned by language: the column must survive in every loader.
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        std::fs::read_to_string(repo().join("examples/news-sample.yaml")).unwrap()
            + "\noutput:\n  partition_by: [lang]\n",
    )
    .unwrap();
    for args in [
        vec![
            "apply",
            sample,
            "-q",
            "--rules",
            rules.to_str().unwrap(),
            "--output",
            &p("out"),
        ],
        vec![
            "scan",
            sample,
            "-q",
            "--report",
            &p("r.json"),
            "--attributes",
            &p("attrs"),
        ],
    ] {
        let o = debias(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let model = model_dir();
    let o = debias(&[
        "embed",
        sample,
        "-q",
        "--model",
        model.to_str().unwrap(),
        "--output",
        &p("emb"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The card: Hugging Face metadata selecting the data files, and the bias section.
    let card = std::fs::read_to_string(dir.path().join("out/README.md")).unwrap();
    assert!(card.starts_with("---\nconfigs:\n"), "{card}");
    assert!(card.contains("path: data/**/*.parquet"));
    assert!(card.contains("## Bias, Risks, and Limitations"));
    assert!(card.contains("female documents per male document"));
    let Some(python) = loaders_python() else {
        assert!(
            std::env::var_os("DEBIAS_REQUIRE_LOADERS").is_none(),
            "no Python environment for the loaders"
        );
        eprintln!(
            "SKIPPED the Python loaders: tests/loaders-venv.sh could not make an environment"
        );
        return;
    };
    let o = std::process::Command::new(python)
        .arg(repo().join("tests/loaders.py"))
        .args([p("out"), p("attrs"), p("emb")])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

/// Applies `pets.yaml` to `inputs` into `out`; returns the schema of the output and its rows.
fn apply_pets(inputs: &[&Path], out: &Path) -> (datafusion::arrow::datatypes::SchemaRef, usize) {
    let mut args = vec!["apply".to_string()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    for a in [
        "--rules",
        fixture("pets.yaml").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "-q",
    ] {
        args.push(a.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = debias(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let part = std::fs::read_dir(out.join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&part).unwrap(),
        )
        .unwrap();
    let schema = reader.schema().clone();
    let rows = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    (schema, rows)
}

/// Issue 19, case 11: JSONL and Parquet inputs with the same string columns, one of them
/// LargeUtf8 in the Parquet file, are applied together ("Utf8View does not equal Utf8" before),
/// and the output keeps a string column's type (the widest of the files').
#[test]
fn mixed_jsonl_and_parquet_inputs_apply_with_their_string_types_kept() {
    use datafusion::arrow::datatypes::DataType;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let large = d.join("large.parquet");
    write_parquet_large_utf8(&large);
    let jsonl = d.join("tiny.jsonl");
    std::fs::copy(fixture("tiny.jsonl"), &jsonl).unwrap();
    let out = d.join("out");
    let (schema, rows) = apply_pets(&[&jsonl, &large], &out);
    // Both files' 8 rows each, read; each has one null text, not written.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["rows"]["read"], 16, "{}", manifest["rows"]);
    assert_eq!(rows, 14);
    let ty = |n: &str| schema.field_with_name(n).unwrap().data_type().clone();
    assert_eq!(ty("text"), DataType::LargeUtf8, "{schema:?}");
    assert_eq!(ty("id"), DataType::Utf8, "{schema:?}");
    // A Parquet input alone keeps its types: not turned into Utf8View.
    let (schema, _) = apply_pets(&[&large], &d.join("out2"));
    let ty = |n: &str| schema.field_with_name(n).unwrap().data_type().clone();
    assert_eq!(
        (ty("id"), ty("text")),
        (DataType::Utf8, DataType::LargeUtf8)
    );
}

/// Issue 19, case 12: a file whose name holds a tab or a newline, or bytes that are not UTF-8,
/// is read like any other (DataFusion's object store refused such names), and is
/// named in the report with U+FFFD for the bytes that are not UTF-8.
#[test]
fn file_names_with_control_characters_or_bytes_that_are_not_utf8() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let rules = debias::rules::default_rules().unwrap();
    let src = repo().join("examples/news_sample.jsonl");
    let (want, _) = scan(&rules, &[&src], &ScanOptions::default());
    let names: [&[u8]; 3] = [b"ta\tb.jsonl", b"new\nline.jsonl", b"caf\xe9.jsonl"];
    for (k, name) in names.into_iter().enumerate() {
        let sub = dir.path().join(format!("d{k}"));
        std::fs::create_dir(&sub).unwrap();
        let f = sub.join(OsStr::from_bytes(name));
        std::fs::copy(&src, &f).unwrap();
        // The directory always; the file itself when its name can be an argument (UTF-8).
        let mut inputs = vec![sub.clone()];
        if std::str::from_utf8(name).is_ok() {
            inputs.push(f.clone());
        }
        for input in &inputs {
            let (r, _) = scan(&rules, &[input], &ScanOptions::default());
            assert_eq!(figures(&r), figures(&want), "{}", input.display());
            let json = r.to_json();
            assert!(json.contains("\"path\""), "{json}");
        }
    }
    let out = dir.path().join("out");
    let d2 = dir.path().join("d2");
    let o = debias(&[
        "apply",
        d2.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(m.contains("caf\u{fffd}.jsonl"), "{m}");
}
