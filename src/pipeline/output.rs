//! The Parquet files of `debias apply`: rolled by size, optionally partitioned Hive-style
//! (`COLUMN=VALUE/`), byte-identical for the same rows whatever batches they arrive in.
//!
//! Parquet's writer cuts pages by the batches it is given, so rows are re-chunked into
//! [`CHUNK_ROWS`]-row batches before they reach it; a new file is started once the current
//! one holds `target_file_size` bytes (checked after each chunk).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, concat_batches, take};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, GzipLevel, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

use crate::apply::manifest::FileEntry;
use crate::error::{Error, Result};
use crate::rules::actions::{Codec, OutputRules};

/// Rows per batch handed to the Parquet writer.
pub const CHUNK_ROWS: usize = 1024;

/// The directory name of a null partition value (as Hive and Spark write it).
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Writes the data files under `root` (the temporary output directory).
pub struct Sink {
    root: PathBuf,
    /// The schema of the data files (without the partition columns).
    schema: SchemaRef,
    partition_by: Vec<String>,
    props: WriterProperties,
    target: u64,
    parts: BTreeMap<String, Part>,
    files: Vec<FileEntry>,
}

struct Part {
    /// Relative to the output directory, e.g. `data/lang=en`.
    dir: String,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    writer: Option<(ArrowWriter<HashingFile>, String, u64)>,
    next_file: usize,
}

impl Sink {
    /// `schema` is the full output schema; the `partition_by` columns are taken out of it.
    /// `text_column` is written without a dictionary (as are columns ending in `id`).
    pub fn new(
        root: &Path,
        schema: SchemaRef,
        rules: &OutputRules,
        text_column: &str,
    ) -> Result<Self> {
        let compression = match rules.compression {
            Codec::Zstd => Compression::ZSTD(
                ZstdLevel::try_new(rules.level.unwrap_or(3))
                    .map_err(|e| Error::Internal(e.to_string()))?,
            ),
            Codec::Gzip => Compression::GZIP(
                GzipLevel::try_new(rules.level.unwrap_or(6) as u32)
                    .map_err(|e| Error::Internal(e.to_string()))?,
            ),
            Codec::Snappy => Compression::SNAPPY,
            Codec::Lz4 => Compression::LZ4_RAW,
            Codec::None => Compression::UNCOMPRESSED,
        };
        // Dictionaries only pay off for repeated values: not for texts and ids. The minimum
        // and maximum of a text column prune nothing: no statistics for it (they cost a
        // comparison of every text).
        let mut props = WriterProperties::builder();
        for f in schema.fields() {
            if matches!(
                f.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) && !rules.partition_by.contains(f.name())
                && (f.name() == text_column || f.name().ends_with("id"))
            {
                let path = ColumnPath::from(f.name().as_str());
                props = props.set_column_dictionary_enabled(path.clone(), false);
                if f.name() == text_column {
                    props = props.set_column_statistics_enabled(path, EnabledStatistics::None);
                }
            }
        }
        let props = props
            .set_compression(compression)
            .set_max_row_group_row_count(Some(rules.row_group_size))
            .set_write_batch_size(CHUNK_ROWS)
            .set_created_by(format!("debias {}", env!("CARGO_PKG_VERSION")))
            .build();
        let keep: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| !rules.partition_by.contains(schema.field(i).name()))
            .collect();
        let data_schema = SchemaRef::new(
            schema
                .project(&keep)
                .map_err(|e| Error::Internal(e.to_string()))?,
        );
        Ok(Sink {
            root: root.to_path_buf(),
            schema: data_schema,
            partition_by: rules.partition_by.clone(),
            props,
            target: rules.target_file_size,
            parts: BTreeMap::new(),
            files: Vec::new(),
        })
    }

    /// Queues `batch` (in the full output schema) for writing.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.partition_by.is_empty() {
            let b = batch.clone();
            return self.push("data".into(), b);
        }
        // The partition directory of every row, then the rows of each directory in order.
        let mut values: Vec<Vec<String>> = Vec::new();
        for c in &self.partition_by {
            let col = batch.column_by_name(c).ok_or_else(|| {
                Error::Internal(format!("partition column `{c}` missing from the output"))
            })?;
            let s = cast(col, &DataType::Utf8).map_err(|e| Error::Internal(e.to_string()))?;
            let s = s
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>()
                .ok_or_else(|| Error::Internal("partition values".into()))?;
            values.push(
                (0..s.len())
                    .map(|i| {
                        if s.is_null(i) {
                            NULL_PARTITION.to_owned()
                        } else {
                            escape(s.value(i))
                        }
                    })
                    .collect(),
            );
        }
        let mut rows: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for i in 0..batch.num_rows() {
            let mut dir = String::from("data");
            for (c, v) in self.partition_by.iter().zip(&values) {
                dir.push('/');
                dir.push_str(&format!("{}={}", escape(c), v[i]));
            }
            rows.entry(dir).or_default().push(i as u32);
        }
        for (dir, idx) in rows {
            let idx = UInt32Array::from(idx);
            let cols = batch
                .columns()
                .iter()
                .map(|c| take(c, &idx, None))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::Internal(e.to_string()))?;
            let b = RecordBatch::try_new(batch.schema(), cols)
                .map_err(|e| Error::Internal(e.to_string()))?;
            self.push(dir, b)?;
        }
        Ok(())
    }

    fn push(&mut self, dir: String, batch: RecordBatch) -> Result<()> {
        let keep: Vec<usize> = (0..batch.num_columns())
            .filter(|&i| !self.partition_by.contains(batch.schema().field(i).name()))
            .collect();
        let batch = batch
            .project(&keep)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let part = self.parts.entry(dir.clone()).or_insert_with(|| Part {
            dir,
            pending: Vec::new(),
            pending_rows: 0,
            writer: None,
            next_file: 0,
        });
        // Fill the pending chunk up to CHUNK_ROWS from the new batch, write it, and write whole
        // chunks straight from the batch (slices share its buffers: nothing is copied twice).
        let mut batch = batch;
        while part.pending_rows + batch.num_rows() >= CHUNK_ROWS {
            let take = CHUNK_ROWS - part.pending_rows;
            let head = batch.slice(0, take);
            batch = batch.slice(take, batch.num_rows() - take);
            let chunk = if part.pending.is_empty() {
                head
            } else {
                part.pending.push(head);
                take_pending(&self.schema, part)?
            };
            write_chunk(
                &self.root,
                &self.schema,
                &self.props,
                self.target,
                part,
                &chunk,
                &mut self.files,
            )?;
        }
        if batch.num_rows() > 0 {
            part.pending_rows += batch.num_rows();
            part.pending.push(batch);
        }
        Ok(())
    }

    /// Writes what is pending and closes every file; returns the files, sorted by path.
    pub fn finish(mut self) -> Result<Vec<FileEntry>> {
        for part in self.parts.values_mut() {
            if part.pending_rows > 0 {
                let all = take_pending(&self.schema, part)?;
                write_chunk(
                    &self.root,
                    &self.schema,
                    &self.props,
                    self.target,
                    part,
                    &all,
                    &mut self.files,
                )?;
            }
            close(&self.root, part, &mut self.files)?;
        }
        if self.files.is_empty() && self.partition_by.is_empty() {
            // No rows: one empty file, so that the schema can still be read.
            let mut part = Part {
                dir: "data".into(),
                pending: Vec::new(),
                pending_rows: 0,
                writer: None,
                next_file: 0,
            };
            open(&self.root, &self.schema, &self.props, &mut part)?;
            close(&self.root, &mut part, &mut self.files)?;
        }
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(self.files)
    }
}

/// A [`Sink`] on its own thread, so that Parquet encoding and compression overlap with the
/// work that produces the rows. Batches are handed over a small bounded channel.
pub struct SinkThread {
    tx: Option<std::sync::mpsc::SyncSender<RecordBatch>>,
    handle: Option<std::thread::JoinHandle<Result<Vec<FileEntry>>>>,
}

impl SinkThread {
    pub fn spawn(sink: Sink) -> Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(4);
        let handle = std::thread::Builder::new()
            .name("debias-write".into())
            .spawn(move || {
                let mut sink = sink;
                for b in rx {
                    sink.write(&b)?;
                }
                sink.finish()
            })
            .map_err(|e| Error::Internal(format!("starting the writer thread: {e}")))?;
        Ok(SinkThread {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Queues a batch; when the writer has stopped, returns its error.
    pub fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let tx = self.tx.as_ref().expect("not finished");
        if tx.send(batch).is_err() {
            self.tx = None;
            return match self.join() {
                Err(e) => Err(e),
                Ok(_) => Err(Error::Internal("the Parquet writer stopped early".into())),
            };
        }
        Ok(())
    }

    /// Writes what is queued, closes every file; returns the files, sorted by path.
    pub fn finish(mut self) -> Result<Vec<FileEntry>> {
        self.tx = None;
        self.join()
    }

    fn join(&mut self) -> Result<Vec<FileEntry>> {
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| Error::Internal("the Parquet writer thread panicked".into()))?,
            None => Err(Error::Internal(
                "the Parquet writer was already joined".into(),
            )),
        }
    }
}

impl Drop for SinkThread {
    fn drop(&mut self) {
        // On an error elsewhere: let the thread end before the temporary directory goes.
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The part's pending rows as one batch, leaving nothing pending.
fn take_pending(schema: &SchemaRef, part: &mut Part) -> Result<RecordBatch> {
    let all = concat_batches(schema, &part.pending).map_err(|e| Error::Internal(e.to_string()))?;
    part.pending.clear();
    part.pending_rows = 0;
    Ok(all)
}

fn open(root: &Path, schema: &SchemaRef, props: &WriterProperties, part: &mut Part) -> Result<()> {
    let rel = format!("{}/part-{:05}.parquet", part.dir, part.next_file);
    part.next_file += 1;
    let path = root.join(&rel);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::output(d, e))?;
    }
    let file = HashingFile {
        file: File::create(&path).map_err(|e| Error::output(&path, e))?,
        hash: Sha256::new(),
        bytes: 0,
    };
    let w = ArrowWriter::try_new(file, schema.clone(), Some(props.clone()))
        .map_err(|e| Error::output(&path, e))?;
    part.writer = Some((w, rel, 0));
    Ok(())
}

fn write_chunk(
    root: &Path,
    schema: &SchemaRef,
    props: &WriterProperties,
    target: u64,
    part: &mut Part,
    chunk: &RecordBatch,
    files: &mut Vec<FileEntry>,
) -> Result<()> {
    if part.writer.is_none() {
        open(root, schema, props, part)?;
    }
    let (w, rel, rows) = part.writer.as_mut().expect("opened above");
    w.write(chunk)
        .map_err(|e| Error::output(root.join(&*rel), e))?;
    *rows += chunk.num_rows() as u64;
    if (w.bytes_written() + w.in_progress_size()) as u64 >= target {
        close(root, part, files)?;
    }
    Ok(())
}

fn close(root: &Path, part: &mut Part, files: &mut Vec<FileEntry>) -> Result<()> {
    let Some((w, rel, rows)) = part.writer.take() else {
        return Ok(());
    };
    let path = root.join(&rel);
    let mut f = w.into_inner().map_err(|e| Error::output(&path, e))?;
    f.file.flush().map_err(|e| Error::output(&path, e))?;
    files.push(FileEntry {
        path: rel,
        rows,
        bytes: f.bytes,
        sha256: crate::rules::hex(&f.hash.finalize()),
    });
    Ok(())
}

/// A data file that hashes its bytes as they are written (the manifest's sha256), so that the
/// file need not be read back.
struct HashingFile {
    file: File,
    hash: Sha256,
    bytes: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A partition value or column name as a directory name: `%XX` for every byte that is not an
/// ASCII letter, digit, `-`, `_` or `.` (and for a leading `.`).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str(NULL_PARTITION);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_are_safe_directory_names() {
        assert_eq!(escape("en"), "en");
        assert_eq!(escape("a/b c"), "a%2Fb%20c");
        assert_eq!(escape(".."), "%2E.");
        assert_eq!(escape(""), NULL_PARTITION);
    }
}
