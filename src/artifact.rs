//! Files debias writes for other runs and tools to read back: versioned JSON (reports,
//! manifests) and the atomic write they share. Every such file names the tool that wrote it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The schema name of skew reports (`report.json`).
pub const REPORT_SCHEMA: &str = "debias-report";
/// The report versions this build reads; it writes the last (version 1 had a target for every
/// axis).
pub const REPORT_VERSIONS: std::ops::RangeInclusive<u32> = 1..=2;

/// The program that wrote a file, and its version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    /// This build of debias.
    pub fn current() -> Tool {
        Tool {
            name: "debias".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// Reads a JSON file written by debias (a report or a manifest), checking that its `schema` and
/// `version` are the ones this build reads. `what` tells the user which file to give instead.
pub fn load_versioned<T: serde::de::DeserializeOwned>(
    path: &Path,
    schema: &str,
    versions: std::ops::RangeInclusive<u32>,
    what: &str,
) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Input(crate::error::InputError {
            path: Some(path.to_path_buf()),
            line: None,
            message: e.to_string(),
            help: Some(format!("give {what}")),
        })
    })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::Input(crate::error::InputError {
            path: Some(path.to_path_buf()),
            line: Some(e.line() as u64),
            message: format!("not JSON: {e}"),
            help: Some(format!("give {what}")),
        })
    })?;
    let found = value.get("schema").and_then(|s| s.as_str());
    if found != Some(schema) {
        return Err(Error::Usage(format!(
            "{}: its \"schema\" is {}, expected \"{schema}\"; give {what}",
            path.display(),
            found.map_or("missing".to_owned(), |s| format!("\"{s}\""))
        )));
    }
    let v = value.get("version").and_then(|v| v.as_u64());
    let version = *versions.end();
    if !v.is_some_and(|v| versions.contains(&(v as u32)) && v <= u32::MAX as u64) {
        return Err(Error::Usage(format!(
            "{}: {schema} version {}, but this debias reads version {version}; use the debias that wrote it ({})",
            path.display(),
            v.map_or("missing".to_owned(), |v| v.to_string()),
            value
                .pointer("/tool/version")
                .and_then(|v| v.as_str())
                .unwrap_or("unknown version")
        )));
    }
    serde_json::from_value(value).map_err(|e| {
        Error::Usage(format!(
            "{}: not a valid {schema} file: {e}",
            path.display()
        ))
    })
}

/// Writes `text` to `path` atomically (a temporary file beside it, then a rename).
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    write_all_atomic(&[(path.to_path_buf(), text.to_owned())])
}

/// Writes several files so that all of them appear or none: each to a temporary name beside it
/// (removed if a signal stops the process), and renamed into place once every one is written.
pub fn write_all_atomic(files: &[(PathBuf, String)]) -> Result<()> {
    let mut temps: Vec<(PathBuf, &Path)> = Vec::new();
    let written = files.iter().try_for_each(|(path, text)| {
        let tmp = temp_name(path);
        register(&tmp);
        temps.push((tmp.clone(), path));
        std::fs::write(&tmp, text).map_err(|e| Error::output(path, e))
    });
    // A directory in a file's place would stop its rename after others were done.
    let clear = || match files.iter().find(|(p, _)| p.is_dir()) {
        Some((p, _)) => Err(Error::output(p, "a directory is in the way of the file")),
        None => Ok(()),
    };
    let result = written.and_then(|()| clear()).and_then(|()| {
        temps.iter().try_for_each(|(tmp, path)| {
            std::fs::rename(tmp, path).map_err(|e| Error::output(path, e))
        })
    });
    for (tmp, _) in &temps {
        if result.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        unregister(tmp);
    }
    result
}

/// `.NAME.tmp-PID` beside `path`.
fn temp_name(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    dir.join(format!(".{name}.tmp-{}", std::process::id()))
}

/// The temporary outputs and locks of this process, removed by [`remove_temporaries`] when the
/// process is stopped by a signal.
static TEMPORARIES: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Registers a temporary file or directory of this process, removed if a signal stops it.
pub fn register(p: &Path) {
    TEMPORARIES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(p.to_path_buf());
}

/// Forgets a temporary that was removed.
pub fn unregister(p: &Path) {
    TEMPORARIES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|x| x != p);
}

/// Removes every temporary output and lock this process holds (for a run stopped by a signal).
pub fn remove_temporaries() {
    let list = TEMPORARIES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for p in list.iter().rev() {
        if p.is_dir() {
            let _ = std::fs::remove_dir_all(p);
        } else {
            let _ = std::fs::remove_file(p);
        }
    }
}
