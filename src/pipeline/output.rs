//! The Parquet files of `debias apply`: rolled by size, optionally partitioned Hive-style
//! (`COLUMN=VALUE/`), byte-identical for the same rows whatever batches they arrive in.
//!
//! Parquet's writer cuts pages by the batches it is given, so rows are re-chunked into
//! [`CHUNK_ROWS`]-row batches before they reach it. Row groups are encoded and compressed on
//! rayon's pool, several at a time and each column of a group on its own task, then appended
//! to their file in order: the column writers get the same calls as in parquet's
//! `ArrowWriter`, so the bytes are those it would write, whatever thread encodes them. The
//! rows waiting for encoding are bounded in bytes: a row group being filled past the bound
//! is encoded as its rows come, on the writer's thread. A new file is started once the
//! current one holds `target_file_size` bytes (checked after each row group).

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use datafusion::arrow::array::{Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, concat_batches, take};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use datafusion::parquet::basic::{Compression, GzipLevel, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::file::writer::SerializedFileWriter;
use datafusion::parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::apply::manifest::FileEntry;
use crate::error::{Error, Result};
use crate::rules::actions::{Codec, OutputRules};

/// Rows per batch handed to the Parquet writer.
pub(crate) const CHUNK_ROWS: usize = 1024;

/// The directory name of a null partition value (as Hive and Spark write it).
pub(crate) const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Bytes of rows that may wait for encoding (see [`Sink::buffer`]).
pub(crate) const ENCODE_BUFFER_BYTES: usize = 256 << 20;

/// Writes the data files under `root` (the temporary output directory).
pub(crate) struct Sink {
    root: PathBuf,
    /// The schema of the data files (without the partition columns).
    schema: SchemaRef,
    partition_by: Vec<String>,
    /// The partition columns taken out of the files (none when they are kept).
    dropped: Vec<String>,
    props: WriterProperties,
    target: u64,
    /// Rows per row group.
    group_size: usize,
    /// Makes each row group's column writers (from the schema and properties alone).
    factory: ArrowRowGroupWriterFactory,
    parts: BTreeMap<String, Part>,
    /// Row groups handed to the pool, oldest first: appended to their files in this order.
    encoding: VecDeque<Encoding>,
    /// Bytes of the rows of the groups in `encoding` and of the groups being filled.
    buffered: usize,
    buffer: usize,
    files: Vec<FileEntry>,
    /// Per part directory, the rows and files an interrupted run finished (see [`Sink::resume`]).
    resumed: BTreeMap<String, (u64, usize)>,
    /// Told the files closed so far each time one closes (after it is synced to disk).
    on_close: Option<OnClose>,
}

/// See [`Sink::on_close`].
pub(crate) type OnClose = Box<dyn FnMut(&[FileEntry]) -> Result<()> + Send>;

struct Part {
    /// Relative to the output directory, e.g. `data/lang=en`.
    dir: String,
    /// The chunk being filled.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    /// The row group being filled: its chunks, or (once the buffer was full) its column
    /// writers, which encode each chunk as it comes.
    group: Vec<RecordBatch>,
    group_bytes: usize,
    inline: Option<GroupWriter>,
    group_rows: usize,
    file: Option<OpenFile>,
    next_file: usize,
    /// Leading rows that are in files an interrupted run finished: not written again.
    skip: u64,
}

impl Part {
    fn new(dir: String) -> Self {
        Self::resumed(dir, (0, 0))
    }

    /// A part whose first `rows` rows are in its first `files` files already.
    fn resumed(dir: String, (rows, files): (u64, usize)) -> Self {
        Part {
            dir,
            pending: Vec::new(),
            pending_rows: 0,
            group: Vec::new(),
            group_bytes: 0,
            inline: None,
            group_rows: 0,
            file: None,
            next_file: files,
            skip: rows,
        }
    }

    /// Drops the leading rows of `batch` that are in finished files. When the last of them
    /// goes, the part's chunks continue where they were (chunks are cut every [`CHUNK_ROWS`]
    /// rows of the part, and Parquet cuts pages by chunk), so the files that follow are the
    /// bytes an uninterrupted run writes.
    fn skip_done(&mut self, batch: RecordBatch, done: u64) -> RecordBatch {
        if self.skip == 0 {
            return batch;
        }
        let n = batch.num_rows().min(self.skip as usize);
        self.skip -= n as u64;
        if self.skip == 0 {
            self.pending_rows = (done % CHUNK_ROWS as u64) as usize;
        }
        batch.slice(n, batch.num_rows() - n)
    }
}

/// A data file being written: rows so far, path relative to the output directory.
struct OpenFile {
    writer: SerializedFileWriter<HashingFile>,
    rel: String,
    rows: u64,
}

/// A row group on its way: its part, rows, buffered bytes and encoded columns.
struct Encoding {
    part: String,
    rows: usize,
    bytes: usize,
    done: mpsc::Receiver<std::result::Result<Vec<ArrowColumnChunk>, String>>,
}

/// One row group's column writers, grouped by top-level field (a nested field has several
/// leaf columns), fed chunk by chunk with the calls parquet's `ArrowWriter` makes.
struct GroupWriter {
    schema: SchemaRef,
    fields: Vec<Vec<ArrowColumnWriter>>,
}

impl GroupWriter {
    fn new(
        schema: &SchemaRef,
        writers: Vec<ArrowColumnWriter>,
        first: &RecordBatch,
    ) -> PResult<Self> {
        let mut writers = writers.into_iter();
        let mut fields = Vec::with_capacity(schema.fields().len());
        for (i, field) in schema.fields().iter().enumerate() {
            let leaves = compute_leaves(field, first.column(i))?.len();
            fields.push(writers.by_ref().take(leaves).collect());
        }
        Ok(GroupWriter {
            schema: schema.clone(),
            fields,
        })
    }

    fn write_field(
        schema: &SchemaRef,
        i: usize,
        writers: &mut [ArrowColumnWriter],
        chunk: &RecordBatch,
    ) -> PResult<()> {
        for (w, leaf) in writers
            .iter_mut()
            .zip(compute_leaves(schema.field(i), chunk.column(i))?)
        {
            w.write(&leaf)?;
        }
        Ok(())
    }

    /// Encodes one chunk, field after field.
    fn write(&mut self, chunk: &RecordBatch) -> PResult<()> {
        for (i, writers) in self.fields.iter_mut().enumerate() {
            Self::write_field(&self.schema, i, writers, chunk)?;
        }
        Ok(())
    }

    /// Encodes `chunks`, each field on its own task, and closes the columns.
    fn encode(mut self, chunks: &[RecordBatch]) -> PResult<Vec<ArrowColumnChunk>> {
        let schema = &self.schema;
        std::mem::take(&mut self.fields)
            .into_par_iter()
            .enumerate()
            .map(|(i, mut writers)| {
                for c in chunks {
                    Self::write_field(schema, i, &mut writers, c)?;
                }
                writers.into_iter().map(ArrowColumnWriter::close).collect()
            })
            .collect::<PResult<Vec<Vec<_>>>>()
            .map(|f| f.into_iter().flatten().collect())
    }

    /// Closes the columns of a group fed by [`Self::write`].
    fn close(self) -> PResult<Vec<ArrowColumnChunk>> {
        self.fields
            .into_iter()
            .flatten()
            .map(ArrowColumnWriter::close)
            .collect()
    }
}

type PResult<T> = std::result::Result<T, ParquetError>;

/// The bytes of a chunk's rows (chunks are slices of larger batches, whose whole buffers
/// `get_array_memory_size` would count for each).
fn slice_bytes(chunk: &RecordBatch) -> usize {
    chunk
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum()
}

/// New column writers for a row group whose first chunk is `first`.
fn group_writer(
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    first: &RecordBatch,
) -> Result<GroupWriter> {
    factory
        .create_column_writers(0)
        .and_then(|w| GroupWriter::new(schema, w, first))
        .map_err(|e| Error::bug_in("Parquet column writers", e))
}

/// The schema's metadata as Parquet key-value metadata (sorted, so files are byte-stable), for
/// readers that do not decode the Arrow schema (DuckDB's `parquet_kv_metadata`).
fn key_values(schema: &SchemaRef) -> Option<Vec<datafusion::parquet::file::metadata::KeyValue>> {
    let mut kv: Vec<_> = schema
        .metadata()
        .iter()
        .map(|(k, v)| datafusion::parquet::file::metadata::KeyValue::new(k.clone(), v.clone()))
        .collect();
    kv.sort_by(|a, b| a.key.cmp(&b.key));
    (!kv.is_empty()).then_some(kv)
}

impl Sink {
    /// `schema` is the full output schema; the `partition_by` columns are taken out of it
    /// unless `rules.keep_partition_columns`.
    /// `text_column` is written without a dictionary (as are columns ending in `id`).
    pub fn new(
        root: &Path,
        schema: SchemaRef,
        rules: &OutputRules,
        text_column: &str,
    ) -> Result<Self> {
        let compression = match rules.compression {
            Codec::Zstd => {
                Compression::ZSTD(ZstdLevel::try_new(rules.level.unwrap_or(3)).map_err(Error::bug)?)
            }
            Codec::Gzip => Compression::GZIP(
                GzipLevel::try_new(rules.level.unwrap_or(6) as u32).map_err(Error::bug)?,
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
            .set_key_value_metadata(key_values(&schema))
            .build();
        let dropped: Vec<String> = if rules.keep_partition_columns {
            Vec::new()
        } else {
            rules.partition_by.clone()
        };
        let keep: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| !dropped.contains(schema.field(i).name()))
            .collect();
        let data_schema = SchemaRef::new(schema.project(&keep).map_err(Error::bug)?);
        // The factory needs a file writer only for the schema and properties it derives.
        let (_, factory) =
            ArrowWriter::try_new(std::io::sink(), data_schema.clone(), Some(props.clone()))
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(|e| Error::bug_in("the Parquet schema", e))?;
        Ok(Sink {
            root: root.to_path_buf(),
            schema: data_schema,
            partition_by: rules.partition_by.clone(),
            dropped,
            props,
            target: rules.target_file_size,
            group_size: rules.row_group_size.max(1),
            factory,
            parts: BTreeMap::new(),
            encoding: VecDeque::new(),
            buffered: 0,
            buffer: ENCODE_BUFFER_BYTES,
            files: Vec::new(),
            resumed: BTreeMap::new(),
            on_close: None,
        })
    }

    /// Continues the output of an interrupted run whose finished files are `done` (paths
    /// `DIR/part-NNNNN.parquet`, numbered from 0 in each directory): the same rows are written
    /// to this sink, and those in `done` are skipped. A part's files depend on its rows alone,
    /// so the files that follow are those an uninterrupted run writes.
    pub fn resume(mut self, done: Vec<FileEntry>) -> Result<Self> {
        for f in &done {
            let bad = || Error::Internal(format!("a kept output file has an odd name: {}", f.path));
            let (dir, name) = f.path.rsplit_once('/').ok_or_else(bad)?;
            let index: usize = (name.strip_prefix("part-"))
                .and_then(|n| n.strip_suffix(".parquet"))
                .and_then(|n| n.parse().ok())
                .ok_or_else(bad)?;
            let entry = self.resumed.entry(dir.to_owned()).or_insert((0, 0));
            if entry.1 != index {
                return Err(bad());
            }
            *entry = (entry.0 + f.rows, entry.1 + 1);
        }
        self.files = done;
        Ok(self)
    }

    /// Calls `f` with the files closed so far each time a file is closed, once its bytes are
    /// synced to disk (what a resumed run may keep).
    pub fn on_close(mut self, f: OnClose) -> Self {
        self.on_close = Some(f);
        self
    }

    /// Bounds the bytes of rows waiting for encoding (default [`ENCODE_BUFFER_BYTES`]): past
    /// it, the writer waits for the oldest row group, and a row group being filled is encoded
    /// as its rows come. The output does not depend on it.
    pub fn buffer(mut self, bytes: usize) -> Self {
        self.buffer = bytes;
        self
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
            let s = cast(col, &DataType::Utf8).map_err(Error::bug)?;
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
                .map_err(Error::bug)?;
            let b = RecordBatch::try_new(batch.schema(), cols).map_err(Error::bug)?;
            self.push(dir, b)?;
        }
        Ok(())
    }

    fn push(&mut self, dir: String, batch: RecordBatch) -> Result<()> {
        let keep: Vec<usize> = (0..batch.num_columns())
            .filter(|&i| !self.dropped.contains(batch.schema().field(i).name()))
            .collect();
        let batch = batch.project(&keep).map_err(Error::bug)?;
        let resumed = self.resumed.get(&dir).copied().unwrap_or((0, 0));
        let part = self
            .parts
            .entry(dir.clone())
            .or_insert_with(|| Part::resumed(dir.clone(), resumed));
        let batch = part.skip_done(batch, resumed.0);
        // Fill the pending chunk up to CHUNK_ROWS from the new batch, and cut whole chunks
        // straight from the batch (slices share its buffers: nothing is copied twice).
        let mut chunks = Vec::new();
        let mut batch = batch;
        while part.pending_rows + batch.num_rows() >= CHUNK_ROWS {
            let take = CHUNK_ROWS - part.pending_rows;
            let head = batch.slice(0, take);
            batch = batch.slice(take, batch.num_rows() - take);
            chunks.push(if part.pending.is_empty() {
                // (A resumed part's count may stand for rows in finished files.)
                part.pending_rows = 0;
                head
            } else {
                part.pending.push(head);
                take_pending(&self.schema, part)?
            });
        }
        if batch.num_rows() > 0 {
            part.pending_rows += batch.num_rows();
            part.pending.push(batch);
        }
        for c in chunks {
            self.add_chunk(&dir, c)?;
        }
        // Groups already encoded go to their files now, and free their memory.
        while self.append_next(false)? {}
        Ok(())
    }

    /// Adds a chunk to its part's row group, cut where the group is full (as `ArrowWriter`
    /// cuts it), and hands full groups to the pool.
    fn add_chunk(&mut self, dir: &str, chunk: RecordBatch) -> Result<()> {
        let mut chunk = chunk;
        loop {
            let part = self.parts.get_mut(dir).expect("the part of a chunk");
            let room = self.group_size - part.group_rows;
            let (head, rest) = if chunk.num_rows() > room {
                let rest = chunk.slice(room, chunk.num_rows() - room);
                (chunk.slice(0, room), Some(rest))
            } else {
                (chunk, None)
            };
            part.group_rows += head.num_rows();
            if let Some(w) = &mut part.inline {
                w.write(&head)
                    .map_err(|e| Error::output(self.root.join(&part.dir), e))?;
            } else {
                let bytes = slice_bytes(&head);
                part.group_bytes += bytes;
                self.buffered += bytes;
                part.group.push(head);
                if self.buffered > self.buffer {
                    // Past the buffer: encode what is there and the rest as it comes.
                    let mut w = group_writer(&self.factory, &self.schema, &part.group[0])?;
                    for c in part.group.drain(..) {
                        w.write(&c)
                            .map_err(|e| Error::output(self.root.join(&part.dir), e))?;
                    }
                    self.buffered -= part.group_bytes;
                    part.group_bytes = 0;
                    part.inline = Some(w);
                }
            }
            if part.group_rows == self.group_size {
                self.submit(dir)?;
            }
            match rest {
                Some(r) => chunk = r,
                None => return Ok(()),
            }
        }
    }

    /// Hands the part's row group to the pool (or, when it was encoded as it came, closes
    /// it), then waits for the oldest groups while the rows waiting exceed the buffer.
    fn submit(&mut self, dir: &str) -> Result<()> {
        let part = self.parts.get_mut(dir).expect("the part of a group");
        let rows = std::mem::take(&mut part.group_rows);
        let bytes = std::mem::take(&mut part.group_bytes);
        let (tx, done) = mpsc::sync_channel(1);
        if let Some(w) = part.inline.take() {
            let _ = tx.send(w.close().map_err(|e| e.to_string()));
        } else {
            let chunks = std::mem::take(&mut part.group);
            let w = group_writer(&self.factory, &self.schema, &chunks[0])?;
            let job = move || {
                let r =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.encode(&chunks)));
                let _ = tx.send(match r {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => Err("a Parquet encoding task panicked".into()),
                });
            };
            if rayon::current_thread_index().is_some() {
                job(); // on the pool already: waiting for it there could starve it
            } else {
                rayon::spawn(job);
            }
        }
        self.encoding.push_back(Encoding {
            part: dir.to_owned(),
            rows,
            bytes,
            done,
        });
        while self.buffered > self.buffer || self.encoding.len() > rayon::current_num_threads() + 1
        {
            if !self.append_next(true)? {
                break;
            }
        }
        Ok(())
    }

    /// Appends the oldest encoded row group to its part's file (opening one if needed, and
    /// closing it once it reaches the target size). `wait`: whether to wait for its encoding;
    /// false when there was none or (not waiting) it is not done.
    fn append_next(&mut self, wait: bool) -> Result<bool> {
        let Some(next) = self.encoding.front() else {
            return Ok(false);
        };
        let encoded = if wait {
            next.done
                .recv()
                .map_err(|_| "a Parquet encoding task stopped".to_owned())
        } else {
            match next.done.try_recv() {
                Ok(r) => Ok(r),
                Err(mpsc::TryRecvError::Empty) => return Ok(false),
                Err(mpsc::TryRecvError::Disconnected) => {
                    Err("a Parquet encoding task stopped".to_owned())
                }
            }
        };
        let Encoding {
            part, rows, bytes, ..
        } = self.encoding.pop_front().expect("front");
        self.buffered -= bytes;
        let part = self.parts.get_mut(&part).expect("the part of a group");
        let columns = encoded
            .and_then(|r| r)
            .map_err(|e| Error::output(self.root.join(&part.dir), e))?;
        if part.file.is_none() {
            open(&self.root, &self.schema, &self.props, part)?;
        }
        let f = part.file.as_mut().expect("opened above");
        let path = self.root.join(&f.rel);
        let mut group = f
            .writer
            .next_row_group()
            .map_err(|e| Error::output(&path, e))?;
        for c in columns {
            c.append_to_row_group(&mut group)
                .map_err(|e| Error::output(&path, e))?;
        }
        group.close().map_err(|e| Error::output(&path, e))?;
        f.rows += rows as u64;
        if f.writer.bytes_written() as u64 >= self.target {
            close(&self.root, part, &mut self.files, self.on_close.is_some())?;
            self.closed()?;
        }
        Ok(true)
    }

    /// Writes what is pending and closes every file; returns the files, sorted by path.
    pub fn finish(mut self) -> Result<Vec<FileEntry>> {
        let dirs: Vec<String> = self.parts.keys().cloned().collect();
        for dir in &dirs {
            let part = self.parts.get_mut(dir).expect("a part");
            if !part.pending.is_empty() {
                let all = take_pending(&self.schema, part)?;
                self.add_chunk(dir, all)?;
            }
            if self.parts[dir].group_rows > 0 {
                self.submit(dir)?;
            }
        }
        while self.append_next(true)? {}
        let sync = self.on_close.is_some();
        for part in self.parts.values_mut() {
            close(&self.root, part, &mut self.files, sync)?;
        }
        if self.files.is_empty() && self.partition_by.is_empty() {
            // No rows: one empty file, so that the schema can still be read.
            let mut part = Part::new("data".into());
            open(&self.root, &self.schema, &self.props, &mut part)?;
            close(&self.root, &mut part, &mut self.files, sync)?;
        }
        self.check_resumed()?;
        self.closed()?;
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(self.files)
    }
}

impl Sink {
    /// Tells [`Sink::on_close`] the files closed so far.
    fn closed(&mut self) -> Result<()> {
        match &mut self.on_close {
            Some(f) => f(&self.files),
            None => Ok(()),
        }
    }

    /// A resumed sink must have been given every row the kept files hold.
    fn check_resumed(&self) -> Result<()> {
        for (dir, (rows, _)) in &self.resumed {
            let skipped = self.parts.get(dir).map_or(0, |p| rows - p.skip);
            if skipped != *rows {
                return Err(Error::Internal(format!(
                    "the resumed run gave {skipped} rows for {dir}, whose kept files hold {rows}"
                )));
            }
        }
        Ok(())
    }
}

/// A [`Sink`] on its own thread, so that Parquet encoding and compression overlap with the
/// work that produces the rows. Batches are handed over a small bounded channel.
pub(crate) struct SinkThread {
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
            .map_err(|e| Error::bug_in("starting the writer thread", e))?;
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
    let all = concat_batches(schema, &part.pending).map_err(Error::bug)?;
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
    // `ArrowWriter` writes the header and puts the Arrow schema in the footer's metadata.
    let (writer, _) = ArrowWriter::try_new(file, schema.clone(), Some(props.clone()))
        .and_then(ArrowWriter::into_serialized_writer)
        .map_err(|e| Error::output(&path, e))?;
    part.file = Some(OpenFile {
        writer,
        rel,
        rows: 0,
    });
    Ok(())
}

/// Closes the part's file (`sync`: and waits until its bytes are on disk).
fn close(root: &Path, part: &mut Part, files: &mut Vec<FileEntry>, sync: bool) -> Result<()> {
    let Some(OpenFile { writer, rel, rows }) = part.file.take() else {
        return Ok(());
    };
    let path = root.join(&rel);
    let mut f = writer.into_inner().map_err(|e| Error::output(&path, e))?;
    f.file.flush().map_err(|e| Error::output(&path, e))?;
    if sync {
        f.file.sync_all().map_err(|e| Error::output(&path, e))?;
    }
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
    use datafusion::arrow::array::{ArrayRef, Int64Array, ListBuilder, StringArray, StringBuilder};
    use std::sync::Arc;

    /// `n` rows from `from`: text, id, a list column and a number, nulls here and there.
    fn rows(from: usize, n: usize) -> RecordBatch {
        let text: StringArray = (from..from + n)
            .map(|i| {
                (i % 97 != 0).then(|| format!("row {i}: {}", "she said that he ".repeat(i % 13)))
            })
            .collect();
        let id: StringArray = (from..from + n).map(|i| Some(format!("doc-{i}"))).collect();
        let mut groups = ListBuilder::new(StringBuilder::new());
        for i in from..from + n {
            for g in 0..i % 3 {
                groups
                    .values()
                    .append_value(["gender/female", "gender/male"][g % 2]);
            }
            groups.append(i % 11 != 0);
        }
        let num = Int64Array::from_iter_values((from..from + n).map(|i| (i * 7919 % 1000) as i64));
        let lang: StringArray = (from..from + n)
            .map(|i| Some(["en", "de", "fr"][i * 7 % 3]))
            .collect();
        RecordBatch::try_from_iter([
            ("text", Arc::new(text) as ArrayRef),
            ("id", Arc::new(id) as ArrayRef),
            ("groups", Arc::new(groups.finish()) as ArrayRef),
            ("num", Arc::new(num) as ArrayRef),
            ("lang", Arc::new(lang) as ArrayRef),
        ])
        .unwrap()
    }

    /// Batches of uneven sizes, 10,000 rows in all.
    fn input() -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut at = 0;
        for n in [1, 3000, 17, 1024, 2500, 458, 3000].into_iter().cycle() {
            let n = n.min(10_000 - at);
            if n == 0 {
                break;
            }
            out.push(rows(at, n));
            at += n;
        }
        out
    }

    fn write(rules: &OutputRules, buffer: usize) -> (tempfile::TempDir, Vec<FileEntry>) {
        let dir = tempfile::tempdir().unwrap();
        let batches = input();
        let mut sink = Sink::new(dir.path(), batches[0].schema(), rules, "text")
            .unwrap()
            .buffer(buffer);
        for b in &batches {
            sink.write(b).unwrap();
        }
        let files = sink.finish().unwrap();
        (dir, files)
    }

    /// Row groups encoded on the pool, or as their rows come (a buffer of 0), give the bytes
    /// that parquet's own `ArrowWriter` writes when given the same 1,024-row chunks.
    #[test]
    fn encoding_on_the_pool_writes_what_arrow_writer_writes() {
        let rules = OutputRules {
            row_group_size: 2500,
            ..OutputRules::default()
        };
        let (dir, files) = write(&rules, ENCODE_BUFFER_BYTES);
        let (dir0, files0) = write(&rules, 0);
        assert_eq!(files.len(), 1);
        let bytes = std::fs::read(dir.path().join(&files[0].path)).unwrap();
        assert_eq!(
            bytes,
            std::fs::read(dir0.path().join(&files0[0].path)).unwrap()
        );

        let batches = input();
        let schema = batches[0].schema();
        let all = concat_batches(&schema, &batches).unwrap();
        let sink = Sink::new(dir.path(), schema.clone(), &rules, "text").unwrap();
        let mut reference = Vec::new();
        let mut w = ArrowWriter::try_new(&mut reference, schema, Some(sink.props.clone())).unwrap();
        for at in (0..all.num_rows()).step_by(CHUNK_ROWS) {
            w.write(&all.slice(at, CHUNK_ROWS.min(all.num_rows() - at)))
                .unwrap();
        }
        let meta = w.close().unwrap();
        assert_eq!(meta.num_row_groups(), 4); // 2,500 rows each
        assert_eq!(bytes, reference);
        assert_eq!(files[0].rows, 10_000);
        assert_eq!(files[0].bytes, bytes.len() as u64);
    }

    /// Files roll over after the row group that takes them to the target size, and hold
    /// whole row groups; the same files whatever the buffer.
    #[test]
    fn files_roll_over_after_whole_row_groups() {
        let rules = OutputRules {
            row_group_size: 1000,
            target_file_size: 10_000,
            ..OutputRules::default()
        };
        let (dir, files) = write(&rules, ENCODE_BUFFER_BYTES);
        let (_dir0, files0) = write(&rules, 0);
        assert!(files.len() > 2, "{files:?}");
        assert_eq!(
            files
                .iter()
                .map(|f| (&f.path, f.rows, &f.sha256))
                .collect::<Vec<_>>(),
            files0
                .iter()
                .map(|f| (&f.path, f.rows, &f.sha256))
                .collect::<Vec<_>>()
        );
        assert_eq!(files.iter().map(|f| f.rows).sum::<u64>(), 10_000);
        for (i, f) in files.iter().enumerate() {
            assert_eq!(f.path, format!("data/part-{i:05}.parquet"));
            if i + 1 < files.len() {
                assert_eq!(f.rows % 1000, 0, "{f:?}");
                assert!(f.bytes >= rules.target_file_size, "{f:?}");
            }
            assert_eq!(
                std::fs::metadata(dir.path().join(&f.path)).unwrap().len(),
                f.bytes
            );
        }
    }

    /// A sink resumed with the files an interrupted sink had finished, and given the same rows
    /// (in other batches), skips the rows those files hold and writes the rest: the files are
    /// those of one uninterrupted sink, byte for byte, with row groups that do not divide the
    /// chunk size, with and without partitions, and whatever file the interruption followed.
    #[test]
    fn a_resumed_sink_writes_the_files_of_an_uninterrupted_one() {
        let plain = OutputRules {
            row_group_size: 700,
            target_file_size: 8_000,
            ..OutputRules::default()
        };
        let partitioned = OutputRules {
            partition_by: vec!["lang".into()],
            target_file_size: 3_000,
            row_group_size: 300,
            ..plain.clone()
        };
        check_resume(&plain, &input());
        check_resume(&partitioned, &input());
        // Texts of 1.2 kB: each 1,024-row chunk fills more than a Parquet page (1 MB), so the
        // pages are cut where the chunks end, and a resumed part must keep the chunks' phase.
        let long: Vec<RecordBatch> = input()
            .iter()
            .map(|b| {
                let text = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
                let long: StringArray = text
                    .iter()
                    .map(|t| t.map(|t| format!("{t} {}", "a long document text ".repeat(60))))
                    .collect();
                let mut cols = b.columns().to_vec();
                cols[0] = Arc::new(long);
                RecordBatch::try_new(b.schema(), cols).unwrap()
            })
            .collect();
        let one_group_per_file = OutputRules {
            row_group_size: 1500,
            target_file_size: 1,
            ..OutputRules::default()
        };
        check_resume(&one_group_per_file, &long);
    }

    /// Writes `batches` once, recording the files as they close; then, for several points of
    /// interruption, resumes a sink from the files closed by then and compares every file.
    fn check_resume(rules: &OutputRules, batches: &[RecordBatch]) {
        let schema = batches[0].schema();
        let write_all = |sink: &mut Sink, step: usize| {
            let all = concat_batches(&schema, batches).unwrap();
            for at in (0..all.num_rows()).step_by(step) {
                sink.write(&all.slice(at, step.min(all.num_rows() - at)))
                    .unwrap();
            }
        };
        let full = tempfile::tempdir().unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let mut sink = Sink::new(full.path(), schema.clone(), rules, "text")
            .unwrap()
            .on_close(Box::new(move |f| {
                record.lock().unwrap().push(f.to_vec());
                Ok(())
            }));
        write_all(&mut sink, 3001);
        let files = sink.finish().unwrap();
        let closed: Vec<Vec<FileEntry>> = seen.lock().unwrap().clone();
        assert!(closed.len() > 3, "{}", closed.len());
        for done in [&closed[0], &closed[1], &closed[closed.len() / 2]] {
            let resumed = tempfile::tempdir().unwrap();
            for f in done {
                let to = resumed.path().join(&f.path);
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(full.path().join(&f.path), &to).unwrap();
            }
            let mut sink = Sink::new(resumed.path(), schema.clone(), rules, "text")
                .unwrap()
                .resume(done.clone())
                .unwrap();
            write_all(&mut sink, 999);
            let again = sink.finish().unwrap();
            let key = |f: &FileEntry| (f.path.clone(), f.rows, f.sha256.clone());
            assert_eq!(
                again.iter().map(key).collect::<Vec<_>>(),
                files.iter().map(key).collect::<Vec<_>>(),
                "resumed after {} file(s)",
                done.len()
            );
            for f in &again {
                assert_eq!(
                    std::fs::read(resumed.path().join(&f.path)).unwrap(),
                    std::fs::read(full.path().join(&f.path)).unwrap()
                );
            }
        }
    }

    /// A resumed sink that is given fewer rows than its kept files hold says so.
    #[test]
    fn a_resumed_sink_given_too_few_rows_fails() {
        let rules = OutputRules {
            row_group_size: 1000,
            target_file_size: 10_000,
            ..OutputRules::default()
        };
        let (_full, files) = write(&rules, ENCODE_BUFFER_BYTES);
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::new(dir.path(), input()[0].schema(), &rules, "text")
            .unwrap()
            .resume(files[..2].to_vec())
            .unwrap();
        sink.write(&rows(0, 10)).unwrap();
        let err = sink.finish().unwrap_err().to_string();
        assert!(err.contains("kept files hold"), "{err}");
    }

    #[test]
    fn partition_values_are_safe_directory_names() {
        assert_eq!(escape("en"), "en");
        assert_eq!(escape("a/b c"), "a%2Fb%20c");
        assert_eq!(escape(".."), "%2E.");
        assert_eq!(escape(""), NULL_PARTITION);
    }
}
