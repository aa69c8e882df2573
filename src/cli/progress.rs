//! Progress of long runs on standard error: a bar with percent, rate and ETA on a terminal;
//! plain periodic lines (or JSON objects, `--log-format json`) for batch schedulers and logs.
//!
//! What is measured: the bytes the process has read from disk since the phase started
//! (`rchar` of `/proc/self/io` on Linux), against the input files' total size. That is the true
//! measure for compressed files and Parquet alike; text bytes (what a JSONL line holds after
//! decoding) are only used where `/proc` is missing, capped below the end.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use debias::pipeline::Progress;

/// How progress and summaries are written when standard error is not a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines of text.
    Text,
    /// One JSON object per line (`{"event": "progress", ...}`).
    Json,
}

/// The reporter for a run: none when quiet, a bar on a terminal, lines otherwise.
pub fn reporter(quiet: bool, format: LogFormat) -> Option<std::sync::Arc<dyn Progress>> {
    if quiet {
        return None;
    }
    Some(
        if std::io::stderr().is_terminal() && format == LogFormat::Text {
            std::sync::Arc::new(Bar::new())
        } else {
            std::sync::Arc::new(Lines::new(format, LINE_EVERY))
        },
    )
}

/// How often a progress line is written without a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// Bytes this process has read so far (`rchar`), where Linux tells.
fn bytes_read() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("rchar:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Where a phase is: files, bytes, documents; shared by the bar and the lines.
#[derive(Debug, Default)]
struct Meter {
    total: AtomicU64,
    /// `rchar` when the phase started (0 without /proc).
    base: AtomicU64,
    has_io: std::sync::atomic::AtomicBool,
    text: AtomicU64,
    docs: AtomicU64,
    phase: Mutex<String>,
}

impl Meter {
    fn start(&self, bytes: u64) {
        self.total.store(bytes, Ordering::Relaxed);
        let io = bytes_read();
        self.has_io.store(io.is_some(), Ordering::Relaxed);
        self.base.store(io.unwrap_or(0), Ordering::Relaxed);
        self.text.store(0, Ordering::Relaxed);
        self.docs.store(0, Ordering::Relaxed);
    }

    fn batch(&self, rows: u64, text_bytes: u64) {
        self.docs.fetch_add(rows, Ordering::Relaxed);
        self.text.fetch_add(text_bytes, Ordering::Relaxed);
    }

    /// Bytes of the input read, at most the total less one until the phase ends.
    fn position(&self) -> u64 {
        let total = self.total.load(Ordering::Relaxed);
        let read = if self.has_io.load(Ordering::Relaxed) {
            bytes_read()
                .unwrap_or(0)
                .saturating_sub(self.base.load(Ordering::Relaxed))
        } else {
            self.text.load(Ordering::Relaxed)
        };
        read.min(total.saturating_sub(1))
    }

    fn phase(&self) -> String {
        self.phase.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// The terminal bar.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    meter: Meter,
}

impl Bar {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix}[{elapsed_precise}] {wide_bar} {percent:>3}% {binary_bytes}/{binary_total_bytes} \
                 {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .expect("valid template"),
        );
        Bar {
            bar,
            meter: Meter::default(),
        }
    }
}

impl Progress for Bar {
    fn phase(&self, name: &str) {
        if let Ok(mut p) = self.meter.phase.lock() {
            *p = name.to_owned();
        }
        self.bar.set_prefix(format!("{name} "));
    }

    fn start(&self, files: usize, bytes: u64) {
        self.bar.reset();
        self.meter.start(bytes);
        self.bar.set_length(bytes);
        self.bar.set_message(format!("0 docs, {files} file(s)"));
        self.bar
            .enable_steady_tick(std::time::Duration::from_millis(200));
    }

    fn batch(&self, rows: u64, text_bytes: u64) {
        self.meter.batch(rows, text_bytes);
        self.bar.set_position(self.meter.position());
        self.bar
            .set_message(format!("{} docs", self.meter.docs.load(Ordering::Relaxed)));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Periodic lines on standard error, for logs.
#[derive(Debug)]
pub struct Lines {
    format: LogFormat,
    every: Duration,
    meter: Meter,
    started: Mutex<Instant>,
    last: Mutex<Instant>,
}

impl Lines {
    pub fn new(format: LogFormat, every: Duration) -> Self {
        Lines {
            format,
            every,
            meter: Meter::default(),
            started: Mutex::new(Instant::now()),
            last: Mutex::new(Instant::now()),
        }
    }

    /// One line: phase, percent, bytes, rate, ETA, documents.
    fn line(&self, done: bool) -> String {
        let elapsed = self
            .started
            .lock()
            .map(|s| s.elapsed())
            .unwrap_or_default()
            .as_secs_f64();
        let total = self.meter.total.load(Ordering::Relaxed);
        let pos = if done { total } else { self.meter.position() };
        let docs = self.meter.docs.load(Ordering::Relaxed);
        let rate = pos as f64 / elapsed.max(1e-3);
        let eta = (rate > 0.0).then(|| total.saturating_sub(pos) as f64 / rate);
        let percent = if total > 0 {
            100.0 * pos as f64 / total as f64
        } else {
            100.0
        };
        let phase = self.meter.phase();
        match self.format {
            LogFormat::Json => serde_json::json!({
                "event": if done { "phase_done" } else { "progress" },
                "phase": phase,
                "percent": (percent * 10.0).round() / 10.0,
                "bytes": pos,
                "total_bytes": total,
                "bytes_per_second": rate.round(),
                "eta_seconds": eta.map(|e| e.round()),
                "documents": docs,
                "elapsed_seconds": (elapsed * 10.0).round() / 10.0,
            })
            .to_string(),
            LogFormat::Text => format!(
                "{}{percent:.1}% ({} of {}, {}/s, ETA {}), {docs} docs, {elapsed:.0} s",
                if phase.is_empty() {
                    String::new()
                } else {
                    format!("{phase}: ")
                },
                size(pos as f64),
                size(total as f64),
                size(rate),
                eta.map_or("?".into(), |e| format!("{e:.0} s")),
            ),
        }
    }
}

/// Bytes for people: `512 B`, `15.3 kB`, `5.8 MB`, `1.2 GB`.
fn size(b: f64) -> String {
    match b {
        b if b < 1e3 => format!("{b:.0} B"),
        b if b < 1e6 => format!("{:.1} kB", b / 1e3),
        b if b < 1e9 => format!("{:.1} MB", b / 1e6),
        b => format!("{:.2} GB", b / 1e9),
    }
}

impl Progress for Lines {
    fn phase(&self, name: &str) {
        if let Ok(mut p) = self.meter.phase.lock() {
            *p = name.to_owned();
        }
    }

    fn start(&self, _files: usize, bytes: u64) {
        self.meter.start(bytes);
        let now = Instant::now();
        if let (Ok(mut s), Ok(mut l)) = (self.started.lock(), self.last.lock()) {
            *s = now;
            *l = now;
        }
    }

    fn batch(&self, rows: u64, text_bytes: u64) {
        self.meter.batch(rows, text_bytes);
        let due = self.last.lock().is_ok_and(|mut l| {
            let due = l.elapsed() >= self.every;
            if due {
                *l = Instant::now();
            }
            due
        });
        if due {
            eprintln!("{}", self.line(false));
        }
    }

    fn finish(&self) {
        eprintln!("{}", self.line(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_percent_rate_and_eta_and_json_parses() {
        let l = Lines::new(LogFormat::Json, Duration::ZERO);
        l.phase("pass 1/2: counting");
        l.start(1, 1000);
        l.batch(5, 100);
        let v: serde_json::Value = serde_json::from_str(&l.line(false)).unwrap();
        assert_eq!(v["phase"], "pass 1/2: counting");
        assert_eq!(v["documents"], 5);
        assert_eq!(v["total_bytes"], 1000);
        assert!(v["percent"].as_f64().unwrap() < 100.0);
        let done: serde_json::Value = serde_json::from_str(&l.line(true)).unwrap();
        assert_eq!(
            (done["event"].as_str(), done["percent"].as_f64()),
            (Some("phase_done"), Some(100.0))
        );
        let t = Lines::new(LogFormat::Text, Duration::ZERO);
        t.start(1, 2_000_000);
        assert!(
            t.line(true).starts_with("100.0% (2.0 MB of 2.0 MB"),
            "{}",
            t.line(true)
        );
    }
}
