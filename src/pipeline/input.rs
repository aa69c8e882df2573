//! Finding the input files (files, directories, globs), their formats, and the exact place of a
//! problem in a JSONL or CSV file.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use datafusion::datasource::file_format::file_compression_type::FileCompressionType;

use crate::corpus::Format;
use crate::error::{Error, InputError, Result};

pub use crate::corpus::{Compression, InputFile, detect_format};

/// DataFusion's name for a file's compression.
pub(crate) fn compression_type(c: Compression) -> FileCompressionType {
    match c {
        Compression::None => FileCompressionType::UNCOMPRESSED,
        Compression::Gzip => FileCompressionType::GZIP,
        Compression::Zstd => FileCompressionType::ZSTD,
    }
}

const SUPPORTED: &str = ".parquet, .jsonl, .json, .ndjson, .csv (JSONL and CSV also .gz or .zst)";

/// Resolves command-line inputs into files, sorted by path within each input, each file once.
/// `format` (from `input.format`) overrides the extension.
pub fn resolve(inputs: &[String], format: Option<Format>) -> Result<Vec<InputFile>> {
    if inputs.is_empty() {
        return Err(Error::Usage(
            "no input given: name at least one file, directory or glob".into(),
        ));
    }
    let mut out: Vec<InputFile> = Vec::new();
    for arg in inputs {
        let path = Path::new(arg);
        let mut found: Vec<(PathBuf, String)> = Vec::new();
        let mut sizes: Vec<u64> = Vec::new();
        let explicit = path.is_file();
        if super::store::is_url(arg) {
            let keep = |k: &str| format.is_some() || detect_format(k).0.is_some();
            for o in super::store::resolve(arg, &keep)? {
                found.push((PathBuf::from(o.url), o.rel));
                sizes.push(o.size);
            }
        } else if explicit {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| arg.clone());
            found.push((path.to_path_buf(), name));
        } else if path.is_dir() {
            found = list_directory(path, format)?;
        } else if arg.contains(['*', '?', '[']) {
            let base = glob_base(arg);
            let paths =
                glob::glob(arg).map_err(|e| Error::Usage(format!("invalid glob `{arg}`: {e}")))?;
            for p in paths {
                let p =
                    p.map_err(|e| Error::input(e.path(), format!("cannot read: {}", e.error())))?;
                if p.is_file()
                    && (format.is_some() || detect_format(&p.to_string_lossy()).0.is_some())
                {
                    let rel = p
                        .strip_prefix(&base)
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .replace('\\', "/");
                    found.push((p, rel));
                }
            }
            if found.is_empty() {
                return Err(Error::Input(
                    InputError {
                        path: None,
                        line: None,
                        message: format!("no input files match `{arg}`"),
                        help: None,
                    }
                    .with_help(format!("check the pattern (quote it so the shell does not expand it); debias reads {SUPPORTED}")),
                ));
            }
        } else {
            return Err(Error::Input(
                InputError {
                    path: Some(path.to_path_buf()),
                    line: None,
                    message: "no such file or directory".into(),
                    help: None,
                }
                .with_help("give a file, a directory or a glob such as 'data/*.jsonl.gz'"),
            ));
        }
        if sizes.is_empty() {
            found.sort();
        }
        for (k, (p, rel)) in found.into_iter().enumerate() {
            if out.iter().any(|f| f.path == p) {
                continue;
            }
            let (detected, compression) = detect_format(&p.to_string_lossy());
            let Some(fmt) = format.or(detected) else {
                return Err(Error::Input(
                    InputError {
                        path: Some(p),
                        line: None,
                        message: "cannot tell the file's format from its name".into(),
                        help: None,
                    }
                    .with_help(format!(
                        "debias reads {SUPPORTED}; or set `input.format` in the rules"
                    )),
                ));
            };
            if fmt == Format::Parquet && compression != Compression::None {
                return Err(Error::input(
                    &p,
                    "a compressed Parquet file cannot be read; Parquet compresses its own pages",
                ));
            }
            let size = match sizes.get(k) {
                Some(&size) => size,
                None => std::fs::metadata(&p)
                    .map_err(|e| Error::input(&p, format!("cannot read: {e}")))?
                    .len(),
            };
            out.push(InputFile {
                path: p,
                id_prefix: rel,
                format: fmt,
                compression,
                size,
            });
        }
    }
    Ok(out)
}

/// The input files in directory `path` (for an `apply` output, its data files), with their
/// names relative to it.
fn list_directory(path: &Path, format: Option<Format>) -> Result<Vec<(PathBuf, String)>> {
    let mut found = Vec::new();
    // An `apply` output: its data files, not its manifest and reports.
    let dir = if is_apply_output(path) {
        path.join("data")
    } else {
        path.to_path_buf()
    };
    walk(path, &dir, &mut found)
        .map_err(|e| Error::input(path, format!("cannot list the directory: {e}")))?;
    found.retain(|(p, _)| format.is_some() || detect_format(&p.to_string_lossy()).0.is_some());
    if found.is_empty() {
        return Err(Error::Input(
            InputError {
                path: Some(path.to_path_buf()),
                line: None,
                message: "the directory holds no input files".into(),
                help: None,
            }
            .with_help(format!(
                "debias reads {SUPPORTED}; set `input.format` to read other names"
            )),
        ));
    }
    Ok(found)
}

/// Whether `dir` is the output of `debias apply`: a `manifest.json` of the debias-manifest
/// schema beside a `data/` directory.
fn is_apply_output(dir: &Path) -> bool {
    let manifest = dir.join("manifest.json");
    dir.join("data").is_dir()
        && manifest.is_file()
        && std::fs::File::open(&manifest).is_ok_and(|f| {
            let mut head = String::new();
            let _ = f.take(4096).read_to_string(&mut head);
            head.contains("\"debias-manifest\"")
        })
}

/// Every file under `dir`, skipping hidden files and directories and `_`-prefixed markers
/// (`_SUCCESS`, `_metadata`).
fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let p = entry.path();
        if p.is_dir() {
            walk(root, &p, out)?;
        } else if p.is_file() {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((p, rel));
        }
    }
    Ok(())
}

/// The directory part of a glob before its first wildcard.
fn glob_base(pattern: &str) -> PathBuf {
    let cut = pattern.find(['*', '?', '[']).unwrap_or(pattern.len());
    match pattern[..cut].rfind('/') {
        Some(i) => PathBuf::from(&pattern[..=i]),
        None => PathBuf::new(),
    }
}

fn open_decoded(f: &InputFile) -> std::io::Result<Box<dyn Read>> {
    let file = super::store::open(&f.path)?;
    Ok(match f.compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
    })
}

/// Reads a CSV file through and returns an error when it ends inside a quoted field: the quote
/// that opened it is never closed, and a CSV reader would take every later row into that field.
/// Quotes are counted as RFC 4180 has them (a doubled quote inside a field closes and reopens).
pub(crate) fn unterminated_quote(f: &InputFile) -> Option<InputError> {
    let mut reader = open_decoded(f).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut line, mut open_line, mut quoted) = (1u64, 0u64, false);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // Read errors are reported, with their line, by the reader itself.
            Err(_) => return None,
        };
        for &b in &buf[..n] {
            if b == b'"' {
                quoted = !quoted;
                if quoted {
                    open_line = line;
                }
            } else if b == b'\n' {
                line += 1;
            }
        }
    }
    quoted.then(|| InputError {
        path: Some(f.path.clone()),
        line: Some(open_line),
        message: "a quote opened on this line is never closed: every row after it would be read as part of one field".into(),
        help: Some("close the quoted field, or write a quote inside a field as two quotes (\"\")".into()),
    })
}

/// The first line of a JSONL file whose value of `field` is of another JSON kind than the
/// first non-null value of it (the reader infers a column's type from the first lines).
pub(crate) fn find_wrong_type(f: &InputFile, field: &str) -> Option<InputError> {
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Object(_) => "an object",
        serde_json::Value::Null => "null",
    };
    let reader = BufReader::new(open_decoded(f).ok()?);
    let mut first: Option<(&str, u64)> = None;
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.ok()?;
        let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(&line) else {
            continue;
        };
        let Some(v) = o.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let line_no = i as u64 + 1;
        match first {
            None => first = Some((kind(v), line_no)),
            Some((k, at)) if k != kind(v) => {
                return Some(InputError {
                    path: Some(f.path.clone()),
                    line: Some(line_no),
                    message: format!(
                        "`{field}` is {} here, but {k} on line {at}: a column holds one type",
                        kind(v)
                    ),
                    help: Some(format!(
                        "give `{field}` the same JSON type on every line (or null)"
                    )),
                });
            }
            Some(_) => {}
        }
    }
    None
}

/// Reads a JSONL or CSV file line by line and returns the first problem: invalid UTF-8, or
/// (JSONL) a line that is not a JSON object. `None` when no line is at fault.
pub(crate) fn find_bad_line(f: &InputFile) -> Option<InputError> {
    let reader = match open_decoded(f) {
        Ok(r) => BufReader::new(r),
        Err(e) => {
            return Some(InputError {
                path: Some(f.path.clone()),
                line: None,
                message: format!("cannot read: {e}"),
                help: None,
            });
        }
    };
    let mut line_no = 0u64;
    let mut offset = 0u64;
    for line in reader.split(b'\n') {
        line_no += 1;
        let bytes = match line {
            Ok(b) => b,
            Err(e) => {
                return Some(InputError {
                    path: Some(f.path.clone()),
                    line: Some(line_no),
                    message: format!("cannot decompress or read the file here: {e}"),
                    help: Some(
                        "the file may be truncated; check it with `gzip -t` / `zstd -t`".into(),
                    ),
                });
            }
        };
        if line_no == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
            return Some(InputError {
                path: Some(f.path.clone()),
                line: Some(1),
                message: "the file starts with a UTF-8 byte order mark (BOM), which the reader does not accept".into(),
                help: Some("remove the first three bytes, e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE` (or save the file as UTF-8 without BOM)".into()),
            });
        }
        let start = offset;
        offset += bytes.len() as u64 + 1;
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t,
            Err(e) => {
                let col = e.valid_up_to();
                let char_col = String::from_utf8_lossy(&bytes[..col]).chars().count() + 1;
                return Some(InputError {
                    path: Some(f.path.clone()),
                    line: Some(line_no),
                    message: format!(
                        "invalid UTF-8 at column {char_col} (byte {} of the file): 0x{:02x}",
                        start + col as u64,
                        bytes[col]
                    ),
                    help: Some("debias reads UTF-8 text; convert the file (e.g. `iconv -f latin1 -t utf-8`) or fix the line".into()),
                });
            }
        };
        if f.format == Format::Jsonl {
            let t = text.trim();
            if t.is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(t) {
                Ok(serde_json::Value::Object(_)) => {}
                Ok(other) => {
                    let kind = match other {
                        serde_json::Value::Array(_) => "an array",
                        serde_json::Value::String(_) => "a string",
                        serde_json::Value::Number(_) => "a number",
                        serde_json::Value::Bool(_) => "a boolean",
                        _ => "null",
                    };
                    return Some(InputError {
                        path: Some(f.path.clone()),
                        line: Some(line_no),
                        message: format!("the line is {kind}, not a JSON object"),
                        help: Some(
                            "JSONL needs one object per line, e.g. {\"id\": 1, \"text\": \"...\"}"
                                .into(),
                        ),
                    });
                }
                Err(e) if e.to_string().contains("recursion limit exceeded") => {
                    return Some(InputError {
                        path: Some(f.path.clone()),
                        line: Some(line_no),
                        message: "the line nests JSON arrays or objects more than 128 levels deep, more than the reader takes".into(),
                        help: Some(
                            "flatten the deeply nested field, or remove it from the file"
                                .into(),
                        ),
                    });
                }
                Err(e) => {
                    return Some(InputError {
                        path: Some(f.path.clone()),
                        line: Some(line_no),
                        message: format!("malformed JSON: {e}"),
                        help: Some(
                            "fix or remove the line; each line must be one complete JSON object"
                                .into(),
                        ),
                    });
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names() {
        assert_eq!(
            detect_format("a/b.jsonl.gz"),
            (Some(Format::Jsonl), Compression::Gzip)
        );
        assert_eq!(
            detect_format("x.JSON.zst"),
            (Some(Format::Jsonl), Compression::Zstd)
        );
        assert_eq!(
            detect_format("x.parquet"),
            (Some(Format::Parquet), Compression::None)
        );
        assert_eq!(
            detect_format("x.csv"),
            (Some(Format::Csv), Compression::None)
        );
        assert_eq!(detect_format("x.txt"), (None, Compression::None));
    }

    #[test]
    fn glob_bases() {
        assert_eq!(glob_base("data/*.jsonl"), PathBuf::from("data/"));
        assert_eq!(glob_base("*.jsonl"), PathBuf::new());
        assert_eq!(glob_base("a/b/c?/x"), PathBuf::from("a/b/"));
    }
}
