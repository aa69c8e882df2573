//! `--attributes DIR`: per-document tags as Parquet, so that later stages and other tools can
//! use them without scanning again.
//!
//! One file per input partition, `part-FFFFF-PPP.parquet` (F: the input file's index in sorted
//! input order, P: its partition), with the columns
//!
//! | column | type | |
//! |---|---|---|
//! | `debias_id` | Utf8 | the document id (the id column, or `FILE#ROW`) |
//! | `debias_groups` | List<Utf8> | demographic groups mentioned, `axis/group` |
//! | `debias_mentions` | List<Struct> | mentions per demographic group: `group` (Utf8, `axis/group`), `mentions` (UInt32); a list rather than a Map so that every Parquet reader loads it (Hugging Face `datasets` has no Map type) |
//! | `debias_attributes` | List<Utf8> | attribute categories mentioned, `lexicon/category` |
//! | `debias_spans` | List<Struct> | every match: `start`, `end` (UInt32 byte offsets in the text), `text`, `term`, `group` (`axis/group`), `rule` (why it counted: `term`, `attributive`, `predicative`, `nominal`, `postnominal`, `origin`, `age`, `context`, `pattern`) |
//!
//! Only scanned documents are written (rows selected by `input.where`, with a text). The files
//! are written into a temporary directory beside DIR that is renamed to DIR when the scan has
//! succeeded, so DIR is either complete or absent.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, ListBuilder, RecordBatch, StringArray, StringBuilder, StructBuilder, UInt32Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use super::udf;
use crate::detect::{Detector, DocHits};
use crate::error::{Error, Result};

const ROWS_PER_BATCH: usize = 8192;

/// Where and how to write attributes.
#[derive(Debug, Clone)]
pub struct AttributesOutput {
    pub dir: PathBuf,
    /// Replace an existing DIR.
    pub overwrite: bool,
    pub detector: Arc<Detector>,
}

impl AttributesOutput {
    /// Checks the destination and creates the temporary directory.
    pub(crate) fn begin(&self) -> Result<Writer> {
        if self.dir.exists() && !self.overwrite {
            return Err(Error::Usage(format!(
                "{} already exists; pass --overwrite to replace it, or choose another --attributes directory",
                self.dir.display()
            )));
        }
        Ok(Writer {
            tmp: TempDir::create(&self.dir)?,
            detector: self.detector.clone(),
            schema: schema(),
        })
    }

    /// Moves the finished files into place.
    pub(crate) fn finish(&self, w: Writer) -> Result<()> {
        w.tmp.commit(&self.dir)
    }
}

/// The Arrow schema of the attribute files.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("debias_id", DataType::Utf8, false),
        Field::new("debias_groups", udf::group_list_type(), false),
        Field::new("debias_mentions", udf::mention_list_type(), false),
        Field::new("debias_attributes", udf::group_list_type(), false),
        Field::new("debias_spans", spans_type(), false),
    ]))
}

fn span_fields() -> Fields {
    Fields::from(vec![
        Field::new("start", DataType::UInt32, false),
        Field::new("end", DataType::UInt32, false),
        Field::new("text", DataType::Utf8, false),
        Field::new("term", DataType::Utf8, false),
        Field::new("group", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
    ])
}

/// The type of `debias_spans`: a list of (start, end, text, term, group, rule).
pub fn spans_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(span_fields()),
        false,
    )))
}

/// The `debias_spans` of documents: for each, every match with why it counted.
fn spans_array(detector: &Detector, docs: &[(String, bool)]) -> ArrayRef {
    let tax = detector.taxonomy();
    let fields = span_fields();
    let values = StructBuilder::new(
        fields.clone(),
        vec![
            Box::new(UInt32Builder::new()),
            Box::new(UInt32Builder::new()),
            Box::new(StringBuilder::new()),
            Box::new(StringBuilder::new()),
            Box::new(StringBuilder::new()),
            Box::new(StringBuilder::new()),
        ],
    );
    let mut list = ListBuilder::new(values).with_field(Arc::new(Field::new(
        "item",
        DataType::Struct(fields),
        false,
    )));
    for (text, any) in docs {
        let spans = if *any {
            detector.spans(text)
        } else {
            Vec::new()
        };
        let b = list.values();
        for h in spans {
            let term = &tax.terms[h.term as usize];
            b.field_builder::<UInt32Builder>(0)
                .expect("start")
                .append_value(h.start as u32);
            b.field_builder::<UInt32Builder>(1)
                .expect("end")
                .append_value(h.end as u32);
            b.field_builder::<StringBuilder>(2)
                .expect("text")
                .append_value(&text[h.start..h.end]);
            b.field_builder::<StringBuilder>(3)
                .expect("term")
                .append_value(&term.text);
            b.field_builder::<StringBuilder>(4)
                .expect("group")
                .append_value(&tax.groups[term.group as usize].key);
            b.field_builder::<StringBuilder>(5)
                .expect("rule")
                .append_value(h.why.name());
            b.append(true);
        }
        list.append(true);
    }
    Arc::new(list.finish())
}

/// A temporary directory beside an output, filled and then renamed into place by
/// [`TempDir::commit`]; removed when dropped before that (a failed run leaves nothing behind).
/// It holds the output's lock, `.DEST.lock` beside it, from creation until dropped: a second
/// run on the same output fails at once instead of silently replacing the first one's result.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
    /// Held for its `Drop`, which releases the lock.
    #[allow(dead_code)]
    lock: OutputLock,
    /// A directory kept when the run fails (the output of `apply --resume`).
    keep: bool,
}

impl TempDir {
    /// Takes the lock of `dest` and creates `.DEST.tmp-PID` beside it (removing a stale one).
    /// Temporary directories of `dest` left by runs that were killed are removed too (holding
    /// the lock, no live run is writing them).
    pub fn create(dest: &Path) -> Result<TempDir> {
        let lock = Self::lock(dest)?;
        remove_leftovers(dest);
        let tmp = temp_sibling(dest);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::output(&tmp, e))?;
        }
        register(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| Error::output(&tmp, e))?;
        Ok(TempDir {
            path: tmp,
            lock,
            keep: false,
        })
    }

    /// Takes the lock of `dest` and fills `dir` (created if needed), which outlives a failed or
    /// stopped run so that a later run can resume it.
    pub fn kept(dest: &Path, dir: &Path) -> Result<TempDir> {
        let lock = Self::lock(dest)?;
        remove_leftovers(dest);
        std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
        Ok(TempDir {
            path: dir.to_path_buf(),
            lock,
            keep: true,
        })
    }

    fn lock(dest: &Path) -> Result<OutputLock> {
        if dest.is_symlink() {
            return Err(Error::Usage(format!(
                "{} is a symbolic link; give the directory itself (the output replaces what is at that path)",
                dest.display()
            )));
        }
        OutputLock::take(dest)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the finished directory to `dest` (see [`replace_dir`]).
    pub(crate) fn commit(&self, dest: &Path) -> Result<()> {
        replace_dir(&self.path, dest)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if self.path.exists() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
        unregister(&self.path);
    }
}

use crate::artifact::{register, unregister};

/// The lock of an output: `.DEST.lock` beside it, created exclusively and holding the process id;
/// removed when dropped. A lock whose process is gone (killed) is taken over.
#[derive(Debug)]
struct OutputLock(PathBuf);

impl OutputLock {
    fn take(dest: &Path) -> Result<OutputLock> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "out".into());
        let path = dest.with_file_name(format!(".{name}.lock"));
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    use std::io::Write;
                    let _ = write!(f, "{}", std::process::id());
                    register(&path);
                    return Ok(OutputLock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid: Option<u32> = holder.trim().parse().ok();
                    if pid.is_some_and(process_alive) {
                        return Err(Error::Usage(format!(
                            "another debias run (process {}) is writing {}; wait for it to finish, or choose another output (if no such run exists, remove {})",
                            holder.trim(),
                            dest.display(),
                            path.display()
                        )));
                    }
                    // Left by a run that was killed: take it over.
                    std::fs::remove_file(&path).map_err(|e| Error::output(&path, e))?;
                }
                Err(e) => return Err(Error::output(&path, e)),
            }
        }
        Err(Error::output(&path, "the lock file keeps reappearing"))
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        unregister(&self.0);
    }
}

/// Whether process `pid` is running (on Linux, by /proc; elsewhere assumed so).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Removes `.DEST.tmp-PID` and `.DEST.old-PID` beside `dest` whose process is gone, saying so on
/// standard error.
fn remove_leftovers(dest: &Path) {
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let name = name.to_string_lossy();
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().to_string();
        let pid = [".tmp-", ".old-"].iter().find_map(|k| {
            file.strip_prefix(&format!(".{name}{k}"))
                .and_then(|p| p.parse::<u32>().ok())
        });
        if let Some(pid) = pid
            && !process_alive(pid)
        {
            let path = e.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if removed.is_ok() {
                eprintln!(
                    "note: removed {}, left by a run that was stopped (process {pid})",
                    path.display()
                );
            }
        }
    }
}

/// `DIR` → `.DIR.tmp-PID` beside it.
pub(crate) fn temp_sibling(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    dir.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Renames the finished directory `tmp` to `dest`, replacing an existing `dest` (the old one is
/// moved aside first and removed only once the new one is in place).
pub(crate) fn replace_dir(tmp: &Path, dest: &Path) -> Result<()> {
    let old = dest.with_file_name(format!(
        ".{}.old-{}",
        dest.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        std::process::id()
    ));
    let had_old = dest.exists();
    if had_old {
        std::fs::rename(dest, &old).map_err(|e| Error::output(dest, e))?;
    }
    if let Err(e) = std::fs::rename(tmp, dest) {
        if had_old {
            let _ = std::fs::rename(&old, dest);
        }
        return Err(Error::output(dest, e));
    }
    if had_old {
        if old.is_dir() {
            std::fs::remove_dir_all(&old).map_err(|e| Error::output(&old, e))?;
        } else {
            std::fs::remove_file(&old).map_err(|e| Error::output(&old, e))?;
        }
    }
    Ok(())
}

/// The temporary directory being filled.
#[derive(Debug)]
pub(crate) struct Writer {
    tmp: TempDir,
    detector: Arc<Detector>,
    schema: SchemaRef,
}

impl Writer {
    /// The directory the attribute files are written into (until committed).
    pub(crate) fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// A writer for partition `part` of input file `file`.
    pub fn part(&self, file: usize, part: usize) -> Result<PartWriter> {
        let path = self
            .tmp
            .path()
            .join(format!("part-{file:05}-{part:03}.parquet"));
        let out = File::create(&path).map_err(|e| Error::output(&path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).expect("valid zstd level"),
            ))
            .build();
        let writer = ArrowWriter::try_new(out, self.schema.clone(), Some(props))
            .map_err(|e| Error::output(&path, e))?;
        Ok(PartWriter {
            path,
            writer,
            detector: self.detector.clone(),
            schema: self.schema.clone(),
            ids: Vec::new(),
            hits: Vec::new(),
            texts: Vec::new(),
        })
    }
}

/// Writes one partition's documents.
pub(crate) struct PartWriter {
    path: PathBuf,
    writer: ArrowWriter<File>,
    detector: Arc<Detector>,
    schema: SchemaRef,
    ids: Vec<String>,
    hits: Vec<Option<DocHits>>,
    /// The texts, when they have a match (their spans are found again when written).
    texts: Vec<(String, bool)>,
}

impl PartWriter {
    pub fn push(&mut self, id: &str, text: &str, hits: &DocHits) {
        self.ids.push(id.to_owned());
        self.hits.push(Some(hits.clone()));
        let any = !hits.terms.is_empty();
        self.texts
            .push((if any { text.to_owned() } else { String::new() }, any));
    }

    /// Writes the buffered rows once there are enough for a batch.
    pub(crate) fn flush_if_full(&mut self) -> Result<()> {
        if self.ids.len() >= ROWS_PER_BATCH {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn flush(&mut self) -> Result<()> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let d = &self.detector;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(self.ids.drain(..))),
            Arc::new(udf::groups_array(d, &self.hits, true)),
            Arc::new(udf::mention_list_array(d, &self.hits)),
            Arc::new(udf::groups_array(d, &self.hits, false)),
            spans_array(d, &self.texts),
        ];
        self.hits.clear();
        self.texts.clear();
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(Error::bug)?;
        self.writer
            .write(&batch)
            .map_err(|e| Error::output(&self.path, e))
    }

    pub fn finish(mut self) -> Result<()> {
        self.flush()?;
        self.writer
            .close()
            .map_err(|e| Error::output(&self.path, e))?;
        Ok(())
    }
}
