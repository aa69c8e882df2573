//! The work directories of `--resume`: what a long run saves as it goes, so that the same
//! command run again after an interruption does not redo it.
//!
//! A work directory holds a marker file, [`MARKER`], and only what debias put there; a
//! directory that exists, is not empty and has no marker is refused (it is removed when the
//! run ends, so it must not be anyone else's).
//!
//! `apply`'s directory ([`ApplyWork`]) holds:
//! - `key.json`: the hash of what the saved state depends on (the debias version, the rule
//!   file's SHA-256 and its input section, the seed, and every input's path, size and
//!   modification time). A different key makes the saved state void: it is cleared and the run
//!   starts over.
//! - `plan.json`: the rebalance plan and the counts before it, saved when the counting pass
//!   ends: a resumed run does not count again.
//! - `output/`: the output directory being filled, renamed into place at the end (so the work
//!   directory must be on the output's file system).
//! - `written.json`: the data files finished so far, with their rows, sizes and SHA-256,
//!   rewritten (atomically) each time a file is closed and synced to disk. A resumed run checks
//!   them, removes anything else under `output/`, reads the input again (every row is counted
//!   for the reports and the row account) and skips the rows those files hold, so that the
//!   files it adds are those an uninterrupted run writes.

use std::path::{Path, PathBuf};

use crate::apply::RebalancePlan;
use crate::apply::manifest::FileEntry;
use crate::error::{Error, Result};
use crate::report::stats::ScanStats;

/// The marker file of a work directory.
pub(crate) const MARKER: &str = ".debias-work";

/// Creates the work directory `dir`, or opens one that debias made; refuses any other
/// directory that is not empty.
pub(crate) fn open_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "--resume {}: not a directory; give a new or empty directory",
                dir.display()
            )));
        }
        let mut entries = std::fs::read_dir(dir).map_err(|e| Error::output(dir, e))?;
        if entries.next().is_some() && !dir.join(MARKER).exists() {
            return Err(Error::Usage(format!(
                "--resume {}: the directory is not empty and was not made by debias; give a new or empty directory (it is removed when the run ends)",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    let marker = dir.join(MARKER);
    if !marker.exists() {
        std::fs::write(
            &marker,
            "the work directory of a debias run started with --resume; removed when it ends\n",
        )
        .map_err(|e| Error::output(&marker, e))?;
    }
    Ok(())
}

/// Removes a finished run's work directory.
pub fn remove_dir(dir: &Path) {
    if dir.join(MARKER).exists() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The work directory of `apply --resume` (see the module docs).
pub(crate) struct ApplyWork {
    dir: PathBuf,
}

/// What the counting pass of `apply` found, saved for a resumed run.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct SavedPlan {
    pub plan: RebalancePlan,
    pub before: ScanStats,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Written {
    files: Vec<FileEntry>,
}

/// What a resumed `apply` kept of an interrupted run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resumed {
    /// Whether the rebalance plan was read back (the counting pass not run again).
    pub plan: bool,
    /// Data files kept, and their rows.
    pub files: usize,
    pub rows: u64,
}

impl ApplyWork {
    /// Opens (or creates) the work directory; `key` identifies the run. The state of a run
    /// with another key is cleared.
    pub fn open(dir: &Path, key: &str, output: &Path) -> Result<ApplyWork> {
        open_dir(dir)?;
        same_file_system(dir, output)?;
        let work = ApplyWork {
            dir: dir.to_path_buf(),
        };
        let key = serde_json::json!({ "key": key }).to_string();
        let key_file = dir.join("key.json");
        if std::fs::read_to_string(&key_file).ok().as_deref() != Some(key.as_str()) {
            work.clear()?;
            crate::artifact::write_atomic(&key_file, &key)?;
        }
        Ok(work)
    }

    fn clear(&self) -> Result<()> {
        for name in ["plan.json", "written.json"] {
            let p = self.dir.join(name);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| Error::output(&p, e))?;
            }
        }
        let out = self.output();
        if out.exists() {
            std::fs::remove_dir_all(&out).map_err(|e| Error::output(&out, e))?;
        }
        Ok(())
    }

    /// The output directory being filled.
    pub fn output(&self) -> PathBuf {
        self.dir.join("output")
    }

    /// The saved plan, when the counting pass of an earlier run ended.
    pub fn plan(&self) -> Option<SavedPlan> {
        let bytes = std::fs::read(self.dir.join("plan.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn save_plan(&self, plan: &SavedPlan) -> Result<()> {
        let text = serde_json::to_string(plan).map_err(Error::bug)?;
        crate::artifact::write_atomic(&self.dir.join("plan.json"), &text)
    }

    /// The data files an earlier run finished whose bytes are intact (the first file of a
    /// directory that is not ends that directory's list); everything else under `output/`
    /// is removed.
    pub fn written(&self) -> Result<Vec<FileEntry>> {
        let saved: Vec<FileEntry> = std::fs::read(self.dir.join("written.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Written>(&b).ok())
            .map(|w| w.files)
            .unwrap_or_default();
        let out = self.output();
        let mut broken: Vec<String> = Vec::new();
        let mut kept = Vec::new();
        for f in saved {
            let dir = f.path.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
            if broken.contains(&dir) {
                continue;
            }
            if intact(&out.join(&f.path), &f) {
                kept.push(f);
            } else {
                broken.push(dir);
            }
        }
        remove_others(&out, &out, &kept)?;
        Ok(kept)
    }

    /// Saves the list of finished files (for [`crate::pipeline::output::Sink::on_close`]).
    pub fn recorder(&self) -> impl FnMut(&[FileEntry]) -> Result<()> + Send + 'static {
        let path = self.dir.join("written.json");
        move |files: &[FileEntry]| {
            let text = serde_json::to_string(&Written {
                files: files.to_vec(),
            })
            .map_err(Error::bug)?;
            crate::artifact::write_atomic(&path, &text)
        }
    }

    /// The run is done: its work directory goes.
    pub fn remove(self) {
        remove_dir(&self.dir);
    }
}

/// Whether the file at `path` has the size and SHA-256 of `entry`.
fn intact(path: &Path, entry: &FileEntry) -> bool {
    use sha2::{Digest, Sha256};
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if meta.len() != entry.bytes {
        return false;
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut hash = Sha256::new();
    if std::io::copy(&mut file, &mut hash).is_err() {
        return false;
    }
    crate::rules::hex(&hash.finalize()) == entry.sha256
}

/// Removes every file under `dir` that is not one of `kept` (paths relative to `root`).
fn remove_others(root: &Path, dir: &Path, kept: &[FileEntry]) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries {
        let path = e.map_err(|e| Error::output(dir, e))?.path();
        if path.is_dir() {
            remove_others(root, &path, kept)?;
            continue;
        }
        let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy();
        if !kept.iter().any(|f| f.path == rel) {
            std::fs::remove_file(&path).map_err(|e| Error::output(&path, e))?;
        }
    }
    Ok(())
}

/// The output is renamed from the work directory into place: both must be on one file system.
fn same_file_system(dir: &Path, output: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let parent = output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let (Ok(a), Ok(b)) = (std::fs::metadata(dir), std::fs::metadata(parent))
            && a.dev() != b.dev()
        {
            return Err(Error::Usage(format!(
                "--resume {} is on another file system than --output {}; the output is moved from the work directory into place at the end, so put the work directory beside the output",
                dir.display(),
                output.display()
            )));
        }
    }
    Ok(())
}
