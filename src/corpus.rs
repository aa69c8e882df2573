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
    /// The path as found (relative paths stay relative to the working directory). Written to
    /// reports and manifests as text, a name that is not UTF-8 with U+FFFD in its place.
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    /// The file relative to the input it was found under (a directory or glob), used in
    /// `FILE#ROW` ids so that they do not depend on where the corpus is mounted.
    pub id_prefix: String,
    pub format: Format,
    pub compression: Compression,
    /// Size on disk in bytes.
    pub size: u64,
}

fn lossy_path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
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

/// What one input row is to every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row<'a> {
    /// `input.where` is false or null for it: not scanned.
    Excluded,
    /// Selected, but its text is null: not scanned.
    NullText,
    /// Selected, but its text is longer than `input.max_document_bytes`: not scanned.
    TooLarge,
    /// A document, with its text.
    Doc(&'a str),
}

/// Every row read, accounted for: `read = excluded_by_where + null_text + too_large + documents`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowCounts {
    pub read: u64,
    pub excluded_by_where: u64,
    pub null_text: u64,
    pub too_large: u64,
}

impl RowCounts {
    /// Counts `row`; returns its text when it is a document.
    pub fn count<'a>(&mut self, row: Row<'a>) -> Option<&'a str> {
        self.read += 1;
        match row {
            Row::Excluded => self.excluded_by_where += 1,
            Row::NullText => self.null_text += 1,
            Row::TooLarge => self.too_large += 1,
            Row::Doc(text) => return Some(text),
        }
        None
    }

    pub fn merge(&mut self, other: &RowCounts) {
        self.read += other.read;
        self.excluded_by_where += other.excluded_by_where;
        self.null_text += other.null_text;
        self.too_large += other.too_large;
    }
}
