//! Issue 20, item 1: inputs on an object store, read through a real S3-compatible server
//! (s3s-fs, objects stored as files) that the test starts on a free local port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

use super::common::{bold, repo, stderr};

const KEY: &str = "debias-test-key";
const SECRET: &str = "debias-test-secret";

/// An S3-compatible server over the directory `root` (each subdirectory a bucket), serving
/// until the test process ends; returns its endpoint URL.
fn serve(root: &Path) -> String {
    let fs = s3s_fs::FileSystem::new(root).expect("an s3s-fs root");
    let service = {
        let mut b = S3ServiceBuilder::new(fs);
        b.set_auth(SimpleAuth::from_single(KEY, SECRET));
        b.build()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

/// Runs debias with the store's endpoint and credentials in its environment.
fn debias_s3(endpoint: &str, secret: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_debias"))
        .args(args)
        .current_dir(repo())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("the debias binary runs")
}

/// The report's figures, without the input list and the timing.
fn figures(p: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("inputs");
    o.remove("elapsed_seconds");
    v
}

/// Three JSONL parts of the BOLD sentences and their Parquet copy, in `dir/corpus` and in the
/// bucket `corpus` under `news/`.
fn corpus(dir: &Path, store: &Path) -> PathBuf {
    let local = dir.join("corpus");
    std::fs::create_dir_all(&local).unwrap();
    let text = std::fs::read_to_string(bold()).unwrap();
    let lines: Vec<&str> = text.lines().take(3000).collect();
    let bucket = store.join("corpus/news");
    std::fs::create_dir_all(&bucket).unwrap();
    for (k, chunk) in lines.chunks(1000).enumerate() {
        let body = chunk.join("\n") + "\n";
        std::fs::write(local.join(format!("part-{k}.jsonl")), &body).unwrap();
        std::fs::write(bucket.join(format!("part-{k}.jsonl")), &body).unwrap();
    }
    std::fs::write(bucket.join("notes.txt"), "not an input").unwrap();
    local
}

/// `debias scan s3://…` with a glob and with a prefix reports what the scan of the same files
/// on disk reports, count for count; `apply` from the store writes the local run's rows and
/// records the inputs' SHA-256 as on disk.
#[test]
fn a_scan_of_objects_on_s3_reports_what_the_local_scan_reports() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let local = corpus(dir.path(), &store);
    let endpoint = serve(&store);

    let whole = dir.path().join("local.json");
    let o = debias_s3(
        &endpoint,
        SECRET,
        &[
            "scan",
            local.to_str().unwrap(),
            "-q",
            "--report",
            whole.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for input in [
        "s3://corpus/news/*.jsonl",
        "s3://corpus/news/",
        "s3://corpus/news",
    ] {
        let remote = dir.path().join("remote.json");
        let o = debias_s3(
            &endpoint,
            SECRET,
            &[
                "scan",
                input,
                "--overwrite",
                "-q",
                "--report",
                remote.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{input}: {}", stderr(&o));
        assert_eq!(figures(&remote), figures(&whole), "{input}");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&remote).unwrap()).unwrap();
        let inputs = r["inputs"].to_string();
        assert!(inputs.contains("s3://corpus/news/part-2.jsonl"), "{inputs}");
        assert!(!inputs.contains("notes.txt"), "{inputs}");
    }

    // apply reads the objects too; ids are `FILE#ROW` with the object's name, as on disk.
    let out_local = dir.path().join("out-local");
    let out_remote = dir.path().join("out-remote");
    for (input, out) in [
        (local.to_str().unwrap(), &out_local),
        ("s3://corpus/news/", &out_remote),
    ] {
        let o = debias_s3(
            &endpoint,
            SECRET,
            &["apply", input, "-q", "--output", out.to_str().unwrap()],
        );
        assert!(o.status.success(), "{input}: {}", stderr(&o));
    }
    let data = |out: &Path| -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("data"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    };
    assert!(data(&out_local) == data(&out_remote), "the rows differ");
    let sha = |out: &Path| -> Vec<String> {
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap())
                .unwrap();
        m["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["sha256"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(sha(&out_local), sha(&out_remote));

    // An `apply` output in the bucket: its Parquet data objects are read (ranges of them), not
    // its manifest and reports; the same report as the local output's.
    copy_dir(&out_local, &store.join("corpus/applied"));
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    for (input, report) in [
        (out_local.to_str().unwrap(), &a),
        ("s3://corpus/applied", &b),
    ] {
        let o = debias_s3(
            &endpoint,
            SECRET,
            &["scan", input, "-q", "--report", report.to_str().unwrap()],
        );
        assert!(o.status.success(), "{input}: {}", stderr(&o));
    }
    assert_eq!(figures(&a), figures(&b));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// A missing object, a bucket that does not exist and a refused request are input errors (exit
/// 2) that name the URL and what to set; a scheme debias does not read is a usage error.
#[test]
fn missing_objects_and_refused_requests_are_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    corpus(dir.path(), &store);
    let endpoint = serve(&store);
    let report = dir.path().join("r.json");
    let scan = |secret: &str, input: &str| {
        debias_s3(
            &endpoint,
            secret,
            &["scan", input, "-q", "--report", report.to_str().unwrap()],
        )
    };
    let o = scan(SECRET, "s3://corpus/news/nothing-here.jsonl");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("s3://corpus/news/nothing-here.jsonl"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("no such object"), "{}", stderr(&o));

    let o = scan(SECRET, "s3://corpus/news/*.parquet");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    let o = scan("a-wrong-secret", "s3://corpus/news/*.jsonl");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("AWS_SECRET_ACCESS_KEY"),
        "{}",
        stderr(&o)
    );

    let o = scan(SECRET, "ftp://example.org/corpus.jsonl");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("s3://"), "{}", stderr(&o));
    assert!(!report.exists());
}
