//! `debias embed`: the document id and its sentence embedding, as Parquet.
//!
//! Files are read in order with the scan's columns (id, text, `input.where`); the texts of each
//! batch are encoded on the calling thread (off DataFusion's runtime, which only reads), and
//! the vectors written as `embedding: FixedSizeList<Float32>[dim]` beside `debias_id`. Rows
//! outside `input.where` or without text are not written; the summary counts them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::prelude::SessionContext;

use super::attributes::TempDir;
use super::input::InputFile;
use super::output::Sink;
use super::read::{self, PlanColumns, resolve_inputs};
use super::{Progress, ScanOptions, runtime, session};
use std::collections::HashMap;

use crate::corpus::RowCounts;
use crate::detect::{DocHits, GroupId};
use crate::embed::{Encoder, EncoderOptions, analysis};
use crate::error::{Error, Result};
use crate::report::embedding::{
    ConditionalSkew, EmbeddingReport, ImplicitGroup, ImplicitReport, TopicAxis, TopicGroup,
    TopicReport, WeatReport,
};
use crate::rules::RuleSet;
use crate::rules::actions::OutputRules;
use crate::rules::embedding::EmbeddingRules;

#[derive(Debug, Clone)]
pub struct EmbedOptions {
    pub output: PathBuf,
    pub overwrite: bool,
    pub threads: usize,
    pub progress: Option<Arc<dyn Progress>>,
}

#[derive(Debug, Clone, Default)]
pub struct EmbedOutcome {
    /// Every row read: outside `input.where`, without text, or embedded.
    pub rows: RowCounts,
    pub embedded: u64,
    pub tokens: u64,
    pub elapsed: std::time::Duration,
}

/// The schema of the embedding files.
pub fn schema(dim: usize) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("debias_id", DataType::Utf8, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, false)),
                dim as i32,
            ),
            false,
        ),
    ]))
}

/// The selected documents of one batch, in input order.
struct DocBatch<'a> {
    ids: Vec<String>,
    texts: Vec<&'a str>,
    /// Demographic groups of each document (when asked for).
    groups: Vec<Vec<GroupId>>,
}

/// Reads `files` in order with the scan's columns and calls `f` with the documents of each
/// batch that `input.where` selects and that have a text; counts every row in `rows`.
async fn read_docs(
    ctx: &SessionContext,
    rules: &RuleSet,
    files: &[InputFile],
    with_groups: bool,
    rows: &mut RowCounts,
    mut f: impl FnMut(DocBatch<'_>) -> Result<()>,
) -> Result<()> {
    let tax = rules.taxonomy();
    let wanted = read::Wanted {
        hits: with_groups,
        ..read::Wanted::default()
    };
    for file in files {
        let mut row = 0u64;
        read::for_each_batch(ctx, rules, file, &wanted, |batch| {
            let cols = PlanColumns::of(batch)?;
            if with_groups && cols.hits.is_none() {
                return Err(Error::Internal(
                    "the embedding plan lost its hits column".into(),
                ));
            }
            let mut docs = DocBatch {
                ids: Vec::new(),
                texts: Vec::new(),
                groups: Vec::new(),
            };
            let mut id_buf = String::new();
            let mut hits = DocHits::default();
            for i in 0..batch.num_rows() {
                let row_no = row + i as u64;
                let Some(text) = rows.count(cols.row(i)) else {
                    continue;
                };
                docs.ids
                    .push(cols.id(i, file, row_no, &mut id_buf).to_owned());
                docs.texts.push(text);
                if with_groups {
                    cols.hits_into(i, &mut hits);
                    docs.groups.push(demographic_groups(tax, &hits));
                }
            }
            row += batch.num_rows() as u64;
            if docs.texts.is_empty() {
                return Ok(());
            }
            f(docs)
        })
        .await?;
    }
    Ok(())
}

/// The demographic groups a document's hits name, each once, in order.
pub(crate) fn demographic_groups(tax: &crate::detect::Taxonomy, hits: &DocHits) -> Vec<GroupId> {
    let mut groups: Vec<GroupId> = hits
        .terms
        .iter()
        .map(|(t, _)| tax.group_of(*t))
        .filter(|g| tax.is_demographic(*g))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// Embeds every selected document of `inputs` into `opts.output` (`data/part-NNNNN.parquet`).
pub fn embed(
    rules: &RuleSet,
    encoder: &Encoder,
    inputs: &[String],
    opts: &EmbedOptions,
) -> Result<EmbedOutcome> {
    let started = Instant::now();
    if opts.output.exists() && !opts.overwrite {
        return Err(Error::Usage(format!(
            "{} already exists; pass --overwrite to replace it, or choose another --output",
            opts.output.display()
        )));
    }
    let (files, _) = resolve_inputs(rules, inputs)?;
    let rt = runtime(opts.threads.max(1))?;
    let ctx = ordered_session(rules, opts.threads)?;
    let tmp = TempDir::create(&opts.output)?;
    // The model, dtype and pooling travel with the vectors, in the files' key-value metadata.
    let schema = Arc::new(
        schema(encoder.dim)
            .as_ref()
            .clone()
            .with_metadata(encoder.metadata()?.into_iter().collect()),
    );
    let mut sink = Sink::new(
        tmp.path(),
        schema.clone(),
        &OutputRules::default(),
        "debias_id",
    )?;
    if let Some(p) = &opts.progress {
        p.phase("embedding");
        p.start(files.len(), files.iter().map(|f| f.size).sum());
    }
    let mut out = EmbedOutcome::default();
    let (mut embedded, mut tokens) = (0u64, 0u64);
    let result = rt.block_on(read_docs(
        &ctx,
        rules,
        &files,
        false,
        &mut out.rows,
        |docs| {
            let ids = encoder.tokenize(&docs.texts)?;
            tokens += ids.iter().map(|t| t.len() as u64).sum::<u64>();
            let vectors = encoder.encode_ids(&ids)?;
            embedded += vectors.len() as u64;
            let values = Float32Array::from_iter_values(vectors.into_iter().flatten());
            let list = FixedSizeListArray::try_new(
                Arc::new(Field::new("item", DataType::Float32, false)),
                encoder.dim as i32,
                Arc::new(values),
                None,
            )
            .map_err(Error::bug)?;
            let n = docs.ids.len() as u64;
            let bytes = docs.texts.iter().map(|t| t.len() as u64).sum();
            let cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from(docs.ids)), Arc::new(list)];
            let b = RecordBatch::try_new(schema.clone(), cols).map_err(Error::bug)?;
            sink.write(&b)?;
            if let Some(p) = &opts.progress {
                p.batch(n, bytes);
            }
            Ok(())
        },
    ));
    if let Some(p) = &opts.progress {
        p.finish();
    }
    result?;
    sink.finish()?;
    tmp.commit(&opts.output)?;
    out.embedded = embedded;
    out.tokens = tokens;
    out.elapsed = started.elapsed();
    Ok(out)
}

/// The text of the first document of `inputs` (as the rules' `input:` selects them) whose id
/// is `id`, with the file it is in (for `debias explain --input FILE --id ID`).
pub fn find_document(
    rules: &RuleSet,
    inputs: &[String],
    id: &str,
) -> Result<Option<(String, String)>> {
    let (files, _) = resolve_inputs(rules, inputs)?;
    let rt = runtime(1)?;
    let ctx = ordered_session(rules, 1)?;
    let mut found = None;
    let mut counts = RowCounts::default();
    for file in &files {
        rt.block_on(read_docs(
            &ctx,
            rules,
            std::slice::from_ref(file),
            false,
            &mut counts,
            |docs| {
                if found.is_none()
                    && let Some(i) = docs.ids.iter().position(|d| d == id)
                {
                    found = Some((docs.texts[i].to_owned(), file.path.display().to_string()));
                }
                Ok(())
            },
        ))?;
        if found.is_some() {
            break;
        }
    }
    Ok(found)
}

fn ordered_session(rules: &RuleSet, threads: usize) -> Result<SessionContext> {
    let scan_opts = ScanOptions {
        threads: threads.max(1),
        ..ScanOptions::default()
    };
    session(rules.detector.clone(), &scan_opts, true)
}

/// One embedded document of the analysis.
struct DocVec {
    groups: Vec<GroupId>,
    words: Vec<u32>,
    vector: Vec<f32>,
}

/// The words of the embedded documents, for naming topics.
#[derive(Debug, Default)]
struct Vocab {
    ids: HashMap<String, u32>,
    words: Vec<String>,
}

impl Vocab {
    /// The distinct words of `text` (letters only, 3 characters or more, lowercased, not a
    /// stopword; the first 200), as ids.
    fn words(&mut self, text: &str) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for w in text.split(|c: char| !c.is_alphabetic()) {
            if w.len() < 3 || out.len() >= 200 {
                continue;
            }
            let w = w.to_lowercase();
            if STOPWORDS.contains(&w.as_str()) {
                continue;
            }
            let id = match self.ids.get(&w) {
                Some(id) => *id,
                None => {
                    self.words.push(w.clone());
                    let id = (self.words.len() - 1) as u32;
                    self.ids.insert(w, id);
                    id
                }
            };
            out.push(id);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The `top` most distinctive words of each of `k` topics: the log-odds of a word's
    /// document frequency in the topic against the rest, with a prior of one document; words
    /// in fewer than two of the topic's documents are left out. Ties: alphabetical.
    fn topic_terms(
        &self,
        docs: &[&[u32]],
        assignment: &[usize],
        k: usize,
        top: usize,
    ) -> Vec<Vec<String>> {
        let mut df_topic: Vec<HashMap<u32, u64>> = vec![HashMap::new(); k];
        let mut df_all: HashMap<u32, u64> = HashMap::new();
        let mut size = vec![0u64; k];
        for (words, &c) in docs.iter().zip(assignment) {
            size[c] += 1;
            for w in *words {
                *df_topic[c].entry(*w).or_default() += 1;
                *df_all.entry(*w).or_default() += 1;
            }
        }
        let n = docs.len() as f64;
        (0..k)
            .map(|c| {
                let mut scored: Vec<(f64, u32)> = df_topic[c]
                    .iter()
                    .filter(|(_, m)| **m >= 2)
                    .map(|(w, &m)| {
                        let rest = df_all[w] - m;
                        let p_in = (m as f64 + 1.0) / (size[c] as f64 + 2.0);
                        let p_out = (rest as f64 + 1.0) / (n - size[c] as f64 + 2.0);
                        (
                            (p_in / (1.0 - p_in)).ln() - (p_out / (1.0 - p_out)).ln(),
                            *w,
                        )
                    })
                    .collect();
                scored.sort_by(|a, b| {
                    b.0.total_cmp(&a.0)
                        .then(self.words[a.1 as usize].cmp(&self.words[b.1 as usize]))
                });
                scored
                    .iter()
                    .take(top)
                    .map(|(_, w)| self.words[*w as usize].clone())
                    .collect()
            })
            .collect()
    }
}

/// The topics of `apply`'s `context: topic`: k-means centroids fitted on a seeded sample of
/// the corpus, and the encoder that places every document at its nearest centroid.
///
/// Every vector here comes from [`Encoder::encode_each`] (batched where the encoder is batch
/// invariant, as the f32 CPU path is; else one text at a time), so a document's topic depends
/// on its text alone, not on the batch it was read in: the output is the same
/// however the input is split into files, partitions or threads.
pub(crate) struct TopicModel {
    encoder: Encoder,
    centroids: Vec<Vec<f32>>,
    /// The topics of the sample's texts (by hash and length of the text: a topic depends on the
    /// text alone), so that they are not encoded a second time.
    known: HashMap<(u64, usize), u16>,
    /// Per topic: its bucket name, distinctive words and sample documents.
    pub entries: Vec<crate::apply::TopicEntry>,
}

impl TopicModel {
    /// Reads `files` once and fits the topics on the `embedding.max_documents` selected
    /// documents with the smallest seeded hash of their id (a sample that does not depend on
    /// the input's order or split).
    pub(crate) async fn fit(
        ctx: &SessionContext,
        rules: &RuleSet,
        er: &EmbeddingRules,
        files: &[InputFile],
        progress: Option<&Arc<dyn Progress>>,
    ) -> Result<TopicModel> {
        let Some(t) = &er.topics else {
            return Err(Error::Internal(
                "context: topic without embedding.topics".into(),
            ));
        };
        let encoder = load_encoder(er)?;
        let mut sample: Sample<String> = Sample::new(er);
        let mut counts = RowCounts::default();
        if let Some(p) = progress {
            p.start(files.len(), files.iter().map(|f| f.size).sum());
        }
        read_docs(ctx, rules, files, false, &mut counts, |batch| {
            let (n, mut bytes) = (batch.ids.len() as u64, 0);
            for (id, text) in batch.ids.into_iter().zip(batch.texts) {
                bytes += text.len() as u64;
                sample.offer(&id.clone(), id, text, Vec::new);
            }
            if let Some(p) = progress {
                p.batch(n, bytes);
            }
            Ok(())
        })
        .await?;
        if let Some(p) = progress {
            p.finish();
        }
        let sample = sample.by_rank();
        let texts: Vec<&str> = sample.iter().map(|d| d.text.as_str()).collect();
        let vectors = encoder.encode_each(&texts)?;
        let clusters = analysis::kmeans(&vectors, t.k, er.seed, t.max_iter);
        let k = clusters.centroids.len();
        let mut vocab = Vocab::default();
        let words: Vec<Vec<u32>> = texts.iter().map(|t| vocab.words(t)).collect();
        let refs: Vec<&[u32]> = words.iter().map(Vec::as_slice).collect();
        let terms = vocab.topic_terms(&refs, &clusters.assignment, k, t.top_terms);
        let entries = terms
            .into_iter()
            .enumerate()
            .map(|(c, terms)| crate::apply::TopicEntry {
                bucket: crate::apply::topic_bucket(c as u16),
                terms,
                sample_documents: clusters.assignment.iter().filter(|&&a| a == c).count() as u64,
            })
            .collect();
        // The nearest centroid (k-means may stop at max_iter with the last move unapplied).
        let known = texts
            .iter()
            .zip(&vectors)
            .map(|(t, v)| {
                (
                    text_key(t),
                    analysis::nearest(v, &clusters.centroids) as u16,
                )
            })
            .collect();
        Ok(TopicModel {
            encoder,
            centroids: clusters.centroids,
            known,
            entries,
        })
    }

    /// The topic of each text: its nearest centroid.
    pub fn assign(&self, texts: &[&str]) -> Result<Vec<u16>> {
        let mut out: Vec<Option<u16>> = texts
            .iter()
            .map(|t| self.known.get(&text_key(t)).copied())
            .collect();
        let todo: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        let chosen: Vec<&str> = todo.iter().map(|&i| texts[i]).collect();
        for (i, v) in todo.into_iter().zip(self.encoder.encode_each(&chosen)?) {
            out[i] = Some(analysis::nearest(&v, &self.centroids) as u16);
        }
        Ok(out.into_iter().map(|t| t.unwrap_or(0)).collect())
    }
}

/// A text's key in [`TopicModel::known`].
fn text_key(text: &str) -> (u64, usize) {
    (crate::hash::stable_hash(0, text.as_bytes()), text.len())
}

/// Words too common to name a topic.
const STOPWORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "that",
    "with",
    "was",
    "his",
    "her",
    "are",
    "from",
    "this",
    "has",
    "had",
    "have",
    "were",
    "which",
    "their",
    "they",
    "she",
    "him",
    "its",
    "who",
    "also",
    "been",
    "but",
    "not",
    "one",
    "after",
    "first",
    "into",
    "more",
    "other",
    "than",
    "when",
    "where",
    "while",
    "there",
    "these",
    "those",
    "such",
    "only",
    "over",
    "between",
    "during",
    "about",
    "most",
    "many",
    "some",
    "can",
    "will",
    "would",
    "may",
    "all",
    "any",
    "each",
    "both",
    "two",
    "new",
    "used",
    "known",
    "including",
    "became",
    "born",
    "being",
    "them",
    "then",
    "what",
    "our",
    "out",
    "you",
    "your",
    "under",
    "since",
    "until",
    "through",
    "however",
    "well",
];

/// A seeded sample of at most `cap` documents: those with the smallest rank (a seeded hash of
/// their id), ties broken by `K`. Which documents it holds does not depend on the order or the
/// split of the input, and samples of parts merge into the sample of the whole. It holds the
/// texts of its documents until they are embedded: up to `embedding.max_documents` of them.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Sample<K: Ord> {
    cap: usize,
    seed: u64,
    heap: std::collections::BinaryHeap<Sampled<K>>,
}

/// One document of a [`Sample`].
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub(crate) struct Sampled<K: Ord> {
    rank: u64,
    pub key: K,
    pub text: String,
    pub groups: Vec<GroupId>,
}

impl<K: Ord> Sample<K> {
    pub fn new(er: &EmbeddingRules) -> Self {
        Sample {
            cap: er.max_documents.max(1) as usize,
            seed: er.seed,
            heap: std::collections::BinaryHeap::new(),
        }
    }

    /// Offers document `id`; `text` and `groups` are made only when it enters the sample.
    pub fn offer(&mut self, id: &str, key: K, text: &str, groups: impl FnOnce() -> Vec<GroupId>) {
        let rank = crate::hash::stable_hash(self.seed, id.as_bytes());
        let enters = self.heap.len() < self.cap
            || self
                .heap
                .peek()
                .is_some_and(|top| (rank, &key, text) < (top.rank, &top.key, top.text.as_str()));
        if enters {
            self.push(Sampled {
                rank,
                key,
                text: text.to_owned(),
                groups: groups(),
            });
        }
    }

    fn push(&mut self, doc: Sampled<K>) {
        self.heap.push(doc);
        if self.heap.len() > self.cap {
            self.heap.pop();
        }
    }

    /// Adds the sample of another part of the input.
    pub fn merge(&mut self, other: Sample<K>) {
        for doc in other.heap {
            self.push(doc);
        }
    }

    /// The documents by rank.
    pub fn by_rank(self) -> Vec<Sampled<K>> {
        self.heap.into_sorted_vec()
    }
}

/// Where a scanned document is in the input: file, partition, row of the partition (a tie-break
/// between documents of equal hash: the same id twice).
pub(crate) type InputOrder = (usize, usize, u64);

/// Documents embedded at a time by [`analyze`] (vectors do not depend on it; progress does).
const ANALYSIS_CHUNK: usize = 1024;

/// The encoder an `embedding:` section names (model, dtype, device, batch size).
fn load_encoder(er: &EmbeddingRules) -> Result<Encoder> {
    Encoder::load(
        crate::embed::ModelFiles::locate(&er.model)?,
        EncoderOptions {
            dtype: crate::embed::parse_dtype(&er.dtype).map_err(Error::Usage)?,
            device: crate::embed::device(&er.device)?,
            batch_tokens: er.batch_tokens,
            candle_graph: false,
        },
    )
}

/// The scan's `embedding` section: implicit mentions, topics with their conditional skew, and
/// WEAT associations, over the `sample` of the scanned documents (at most `max_documents` of
/// the `documents` that `input.where` selects), embedded here in the order of their seeded hash.
pub(crate) fn analyze(
    rules: &RuleSet,
    er: &EmbeddingRules,
    sample: Sample<InputOrder>,
    documents: u64,
    progress: Option<&Arc<dyn Progress>>,
) -> Result<EmbeddingReport> {
    let encoder = load_encoder(er)?;
    let tax = rules.taxonomy();
    // By the seeded hash, not in input order: the order k-means sees then does not depend on
    // how the input was split into files or partitions.
    let sampled = sample.by_rank();
    if let Some(p) = progress {
        p.phase(&format!(
            "embedding {} documents for the report",
            sampled.len()
        ));
        p.start(0, sampled.iter().map(|d| d.text.len() as u64).sum());
    }
    let mut vocab = Vocab::default();
    let mut docs: Vec<DocVec> = Vec::with_capacity(sampled.len());
    for chunk in sampled.chunks(ANALYSIS_CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|d| d.text.as_str()).collect();
        let vectors = encoder.encode(&texts)?;
        for (d, vector) in chunk.iter().zip(vectors) {
            docs.push(DocVec {
                groups: d.groups.clone(),
                words: vocab.words(&d.text),
                vector,
            });
        }
        if let Some(p) = progress {
            p.batch(
                chunk.len() as u64,
                texts.iter().map(|t| t.len() as u64).sum(),
            );
        }
    }
    if let Some(p) = progress {
        p.finish();
    }

    let mut report = EmbeddingReport {
        model: encoder.files.dir.display().to_string(),
        dtype: er.dtype.clone(),
        device: er.device.clone(),
        documents,
        embedded: docs.len() as u64,
        implicit: None,
        topics: Vec::new(),
        conditional_skews: Vec::new(),
        association: Vec::new(),
    };

    if let Some(imp) = &er.implicit {
        implicit_mentions(&mut report, &encoder, imp, &docs, tax)?;
    }
    if let Some(t) = &er.topics {
        topics(&mut report, rules, er, t, &docs, &vocab);
    }
    associations(&mut report, &encoder, er, &docs, tax)?;
    Ok(report)
}

/// Implicit mentions: per group, the documents its prototypes are near, against those its
/// terms tag.
fn implicit_mentions(
    report: &mut EmbeddingReport,
    encoder: &Encoder,
    imp: &crate::rules::embedding::Implicit,
    docs: &[DocVec],
    tax: &crate::detect::Taxonomy,
) -> Result<()> {
    let key = |g: GroupId| tax.groups[g as usize].key.clone();
    let mut groups = Vec::new();
    for (g, descriptions) in &imp.prototypes {
        let refs: Vec<&str> = descriptions.iter().map(String::as_str).collect();
        let protos = encoder.encode(&refs)?;
        let (mut lex, mut emb, mut both) = (0u64, 0u64, 0u64);
        for d in docs {
            let l = d.groups.contains(g);
            let e = analysis::max_similarity(&d.vector, &protos) >= imp.threshold;
            lex += l as u64;
            emb += e as u64;
            both += (l && e) as u64;
        }
        let union = lex + emb - both;
        groups.push(ImplicitGroup {
            group: key(*g),
            lexicon: lex,
            embedding: emb,
            both,
            embedding_only: emb - both,
            // Undefined when neither signal tags the group: 0 of 0 is no agreement to report.
            agreement: (union > 0).then(|| both as f64 / union as f64),
        });
    }
    report.implicit = Some(ImplicitReport {
        threshold: imp.threshold,
        groups,
    });
    Ok(())
}

/// Topics found by k-means over the vectors, each group's share per topic, and the largest
/// topic-conditioned skews.
fn topics(
    report: &mut EmbeddingReport,
    rules: &RuleSet,
    er: &EmbeddingRules,
    t: &crate::rules::embedding::Topics,
    docs: &[DocVec],
    vocab: &Vocab,
) {
    let tax = rules.taxonomy();
    let key = |g: GroupId| tax.groups[g as usize].key.clone();
    let vectors: Vec<Vec<f32>> = docs.iter().map(|d| d.vector.clone()).collect();
    let clusters = analysis::kmeans(&vectors, t.k, er.seed, t.max_iter);
    let k = clusters.centroids.len();
    let words: Vec<&[u32]> = docs.iter().map(|d| d.words.as_slice()).collect();
    let topic_terms = vocab.topic_terms(&words, &clusters.assignment, k, t.top_terms);
    let mut size = vec![0u64; k];
    for &c in &clusters.assignment {
        size[c] += 1;
    }
    let axes: Vec<(usize, &crate::detect::Axis)> = tax.demographic_axes().collect();
    // Overall group shares per axis (documents mentioning each group / sum over groups).
    let overall = |ai: usize, members: &dyn Fn(usize) -> bool| -> Vec<(GroupId, u64)> {
        tax.axes[ai]
            .groups
            .clone()
            .map(|g| {
                (
                    g,
                    docs.iter()
                        .enumerate()
                        .filter(|(i, d)| members(*i) && d.groups.contains(&g))
                        .count() as u64,
                )
            })
            .collect()
    };
    let all = |_: usize| true;
    let overall_counts: Vec<Vec<(GroupId, u64)>> =
        axes.iter().map(|(ai, _)| overall(*ai, &all)).collect();
    for c in 0..k {
        let terms = &topic_terms[c];
        let in_topic = |i: usize| clusters.assignment[i] == c;
        let mut topic_axes = Vec::new();
        for (ax, (ai, axis)) in axes.iter().enumerate() {
            let counts = overall(*ai, &in_topic);
            let total: u64 = counts.iter().map(|x| x.1).sum();
            let total_all: u64 = overall_counts[ax].iter().map(|x| x.1).sum();
            if total == 0 || total_all == 0 {
                continue;
            }
            let groups: Vec<TopicGroup> = counts
                .iter()
                .zip(&overall_counts[ax])
                .map(|((g, m), (_, o))| TopicGroup {
                    group: key(*g),
                    documents: *m,
                    share: *m as f64 / total as f64,
                    overall_share: *o as f64 / total_all as f64,
                })
                .collect();
            let tvd = 0.5
                * groups
                    .iter()
                    .map(|g| (g.share - g.overall_share).abs())
                    .sum::<f64>();
            let axis_docs = docs
                .iter()
                .enumerate()
                .filter(|(i, d)| {
                    in_topic(*i) && d.groups.iter().any(|g| tax.groups[*g as usize].axis == *ai)
                })
                .count() as u64;
            for g in &groups {
                report.conditional_skews.push(ConditionalSkew {
                    topic: c,
                    terms: terms.iter().take(4).cloned().collect(),
                    group: g.group.clone(),
                    share: g.share,
                    share_ci: crate::interval::wilson(g.documents, total, rules.report.confidence),
                    overall_share: g.overall_share,
                    difference: g.share - g.overall_share,
                    documents: axis_docs,
                });
            }
            topic_axes.push(TopicAxis {
                axis: axis.name.clone(),
                documents: axis_docs,
                groups,
                tvd_from_overall: tvd,
            });
        }
        report.topics.push(TopicReport {
            topic: c,
            documents: size[c],
            terms: terms.clone(),
            axes: topic_axes,
        });
    }
    // Largest skews first, among topic-axis cells with enough documents to judge
    // (`report.min_documents`) whose share's interval excludes the share overall.
    let min = rules.report.min_documents;
    report.conditional_skews.retain(|s| {
        s.documents >= min
            && s.share_ci
                .is_some_and(|[lo, hi]| s.overall_share < lo || s.overall_share > hi)
    });
    report.conditional_skews.sort_by(|a, b| {
        b.difference
            .abs()
            .total_cmp(&a.difference.abs())
            .then(a.topic.cmp(&b.topic))
            .then(a.group.cmp(&b.group))
    });
    report.conditional_skews.truncate(20);
}

/// WEAT associations between two groups' documents and two attribute sets.
fn associations(
    report: &mut EmbeddingReport,
    encoder: &Encoder,
    er: &EmbeddingRules,
    docs: &[DocVec],
    tax: &crate::detect::Taxonomy,
) -> Result<()> {
    let key = |g: GroupId| tax.groups[g as usize].key.clone();
    for a in &er.association {
        let [g1, g2] = a.groups;
        let x: Vec<&[f32]> = docs
            .iter()
            .filter(|d| d.groups.contains(&g1) && !d.groups.contains(&g2))
            .map(|d| d.vector.as_slice())
            .collect();
        let y: Vec<&[f32]> = docs
            .iter()
            .filter(|d| d.groups.contains(&g2) && !d.groups.contains(&g1))
            .map(|d| d.vector.as_slice())
            .collect();
        let emb = |terms: &[String]| -> Result<Vec<Vec<f32>>> {
            let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
            encoder.encode(&refs)
        };
        let (av, bv) = (emb(&a.attributes[0].1)?, emb(&a.attributes[1].1)?);
        let w = analysis::weat(&x, &y, &av, &bv, a.permutations, er.seed);
        report.association.push(WeatReport {
            name: a.name.clone(),
            groups: [key(g1), key(g2)],
            attributes: [a.attributes[0].0.clone(), a.attributes[1].0.clone()],
            documents: [x.len() as u64, y.len() as u64],
            effect_size: w.map(|w| w.effect_size),
            p_value: w.map(|w| w.p_value),
            permutations: a.permutations,
        });
    }
    Ok(())
}
