//! A corpus on disk: its files, their formats and compression, told from their names. The
//! pipeline reads them; reports and manifests name them.

use std::path::{Path, PathBuf};

/// Input file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Parquet,
    Jsonl,
    Csv,
}

impl Format {
    pub const NAMES: &[&str] = &["parquet", "jsonl", "csv"];

    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "parquet" => Some(Format::Parquet),
            "jsonl" | "json" | "ndjson" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// Compression of an input file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// One input file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputFile {
    /// The path as found (relative paths stay relative to the working directory).
    pub path: PathBuf,
    /// The file relative to the input it was found under (a directory or glob), used in
    /// `FILE#ROW` ids so that they do not depend on where the corpus is mounted.
    pub id_prefix: String,
    pub format: Format,
    pub compression: Compression,
    /// Size on disk in bytes.
    pub size: u64,
}

/// Splits `name` into (format, compression) by its extensions.
pub fn detect_format(name: &str) -> (Option<Format>, Compression) {
    let lower = name.to_ascii_lowercase();
    let (stem, compression) = if let Some(s) = lower
        .strip_suffix(".gz")
        .or_else(|| lower.strip_suffix(".gzip"))
    {
        (s, Compression::Gzip)
    } else if let Some(s) = lower
        .strip_suffix(".zst")
        .or_else(|| lower.strip_suffix(".zstd"))
    {
        (s, Compression::Zstd)
    } else {
        (lower.as_str(), Compression::None)
    };
    let format = match Path::new(stem).extension().and_then(|e| e.to_str()) {
        Some("parquet" | "parq") => Some(Format::Parquet),
        Some("jsonl" | "json" | "ndjson") => Some(Format::Jsonl),
        Some("csv") => Some(Format::Csv),
        _ => None,
    };
    (format, compression)
}
