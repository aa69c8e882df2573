//! Issue 20: `debias scan --cluster` on a Ballista cluster of separate processes on localhost (one
//! scheduler, two executors, all `debias cluster …`), compared with the single-machine scan. The
//! executors have no debias UDFs of their own: the job's rules reach them inside the plan.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{bold, debias, repo, stderr};

/// The children of a test cluster, killed when it goes.
struct Cluster {
    children: Vec<Child>,
    port: u16,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn node(args: &[&str], log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_debias"))
        .args(args)
        .current_dir(repo())
        .stdout(Stdio::from(
            std::fs::File::create(log.with_extension("out")).unwrap(),
        ))
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .expect("debias cluster starts")
}

/// A scheduler and `executors` executors on free local ports, each with its own work directory.
fn start(dir: &Path, executors: usize) -> Cluster {
    let port = free_port();
    let p = port.to_string();
    let mut children = vec![node(
        &["cluster", "scheduler", "--port", &p],
        &dir.join("scheduler.log"),
    )];
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "no scheduler");
        std::thread::sleep(Duration::from_millis(50));
    }
    for i in 0..executors {
        let work = dir.join(format!("executor-{i}"));
        let (flight, grpc) = (free_port().to_string(), free_port().to_string());
        children.push(node(
            &[
                "cluster",
                "executor",
                "--scheduler",
                &format!("127.0.0.1:{port}"),
                "--port",
                &flight,
                "--grpc-port",
                &grpc,
                "--cores",
                "1",
                "--work-dir",
                work.to_str().unwrap(),
            ],
            &dir.join(format!("executor-{i}.log")),
        ));
    }
    Cluster { children, port }
}

fn figures(p: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("elapsed_seconds");
    v
}

/// Four JSONL files without ids (`FILE#ROW` ids: each file must be read in order by one task).
fn corpus(dir: &Path) -> PathBuf {
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let text = std::fs::read_to_string(bold()).unwrap();
    let lines: Vec<&str> = text.lines().take(4000).collect();
    for (k, chunk) in lines.chunks(1000).enumerate() {
        std::fs::write(
            corpus.join(format!("part-{k}.jsonl")),
            chunk.join("\n") + "\n",
        )
        .unwrap();
    }
    corpus
}

/// The report of a scan on the cluster equals the single-machine report, count for count.
#[test]
fn a_scan_on_a_cluster_of_processes_reports_what_one_machine_reports() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let rules = repo().join("rules/examples/gender-parity.yaml");
    let local = dir.path().join("local.json");
    let o = debias(&[
        "scan",
        corpus.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "-q",
        "--report",
        local.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let cluster = start(dir.path(), 2);
    let url = format!("df://127.0.0.1:{}", cluster.port);
    let remote = dir.path().join("remote.json");
    let o = debias(&[
        "scan",
        corpus.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "-q",
        "--cluster",
        &url,
        "--report",
        remote.to_str().unwrap(),
    ]);
    let logs = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path();
                (p.extension().is_some_and(|x| x == "log"))
                    .then(|| format!("{}:\n{}", p.display(), std::fs::read_to_string(&p).unwrap()))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(o.status.success(), "{}\n{}", stderr(&o), logs());
    assert_eq!(figures(&remote), figures(&local));
    drop(cluster);

    // A scheduler that cannot be reached is a clear error.
    let o = debias(&[
        "scan",
        corpus.to_str().unwrap(),
        "-q",
        "--cluster",
        &format!("df://127.0.0.1:{}", free_port()),
        "--report",
        remote.to_str().unwrap(),
        "--overwrite",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot reach the Ballista scheduler"),
        "{}",
        stderr(&o)
    );
}
