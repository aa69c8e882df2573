//! A BERT encoder on candle, for sentence-transformers models (all-MiniLM-L6-v2 and its kin).
//!
//! Written here rather than taken from candle-transformers because its `BertModel` returns NaN
//! in f16 and bf16 (the attention mask is built from `f32::MIN`, which is -inf in half
//! precision, then multiplied by 0). Here the mask is added to the attention scores after
//! they are converted to f32, and softmax and layer norms run in f32 whatever the weights'
//! dtype, so half precision stays finite and within 1e-3 of f32. Query, key and value are one
//! fused matrix.

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};

/// The fields of a Hugging Face `config.json` that a BERT encoder needs.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub model_type: Option<String>,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

/// Layer norm in f32, whatever the input's dtype.
#[derive(Debug, Clone)]
struct Norm(LayerNorm);

impl Norm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        let weight = vb.get(size, "weight")?.to_dtype(DType::F32)?;
        let bias = vb.get(size, "bias")?.to_dtype(DType::F32)?;
        Ok(Norm(LayerNorm::new(weight, bias, eps)))
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        self.0.forward(&x.to_dtype(DType::F32)?)?.to_dtype(dtype)
    }
}

fn linear(vb: VarBuilder, inp: usize, out: usize) -> Result<Linear> {
    let w = vb.get((out, inp), "weight")?;
    let b = vb.get(out, "bias")?;
    Ok(Linear::new(w, Some(b)))
}

#[derive(Debug, Clone)]
struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    inter: Linear,
    out: Linear,
    out_norm: Norm,
    heads: usize,
    head_dim: usize,
}

impl Layer {
    fn load(vb: VarBuilder, c: &Config) -> Result<Self> {
        let h = c.hidden_size;
        let a = vb.pp("attention");
        let s = a.pp("self");
        let (q, k, v) = (
            linear(s.pp("query"), h, h)?,
            linear(s.pp("key"), h, h)?,
            linear(s.pp("value"), h, h)?,
        );
        let w = Tensor::cat(&[q.weight(), k.weight(), v.weight()], 0)?;
        let b = Tensor::cat(
            &[
                q.bias().expect("loaded with bias"),
                k.bias().expect("loaded with bias"),
                v.bias().expect("loaded with bias"),
            ],
            0,
        )?;
        Ok(Layer {
            qkv: Linear::new(w, Some(b)),
            attn_out: linear(a.pp("output").pp("dense"), h, h)?,
            attn_norm: Norm::load(a.pp("output").pp("LayerNorm"), h, c.layer_norm_eps)?,
            inter: linear(vb.pp("intermediate").pp("dense"), h, c.intermediate_size)?,
            out: linear(vb.pp("output").pp("dense"), c.intermediate_size, h)?,
            out_norm: Norm::load(vb.pp("output").pp("LayerNorm"), h, c.layer_norm_eps)?,
            heads: c.num_attention_heads,
            head_dim: h / c.num_attention_heads,
        })
    }

    /// `x`: [batch, tokens, hidden]; `mask`: [batch, 1, 1, tokens], f32, 0 or a large negative.
    fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((b, t, 3, self.heads, self.head_dim))?
            .permute((2, 0, 3, 1, 4))?; // [3, b, heads, t, hd]
        let q = qkv.get(0)?.contiguous()?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = scores.to_dtype(DType::F32)?.broadcast_add(mask)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?.to_dtype(x.dtype())?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, t, h))?;
        let x = self
            .attn_norm
            .forward(&(self.attn_out.forward(&ctx)? + x)?)?;
        let inter = self.inter.forward(&x)?.gelu_erf()?;
        self.out_norm.forward(&(self.out.forward(&inter)? + x)?)
    }
}

/// The weights of one layer, for [`super::cpu::CpuBert`].
pub(super) struct LayerParts<'a> {
    pub qkv: &'a Linear,
    pub attn_out: &'a Linear,
    pub attn_norm: &'a LayerNorm,
    pub inter: &'a Linear,
    pub out: &'a Linear,
    pub out_norm: &'a LayerNorm,
}

/// The weights of a [`Bert`], for [`super::cpu::CpuBert`].
pub(super) struct Parts<'a> {
    pub word: &'a Embedding,
    pub position: &'a Embedding,
    pub token_type: &'a Embedding,
    pub norm: &'a LayerNorm,
    pub layers: Vec<LayerParts<'a>>,
    pub heads: usize,
    pub max_positions: usize,
}

/// The BERT encoder (no pooler: sentence-transformers pools the token states itself).
#[derive(Debug, Clone)]
pub struct Bert {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    norm: Norm,
    layers: Vec<Layer>,
    pub dtype: DType,
    pub device: Device,
    pub max_positions: usize,
}

impl Bert {
    /// Loads the weights under `vb` (with or without a `bert.` prefix).
    pub fn load(vb: VarBuilder, c: &Config) -> Result<Self> {
        if let Some(t) = &c.position_embedding_type
            && t != "absolute"
        {
            candle_core::bail!("position_embedding_type `{t}` is not supported (only `absolute`)");
        }
        if c.hidden_act != "gelu" && c.hidden_act != "gelu_python" {
            candle_core::bail!(
                "hidden_act `{}` is not supported (only `gelu`)",
                c.hidden_act
            );
        }
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let e = vb.pp("embeddings");
        let h = c.hidden_size;
        let word = Embedding::new(e.pp("word_embeddings").get((c.vocab_size, h), "weight")?, h);
        let position = Embedding::new(
            e.pp("position_embeddings")
                .get((c.max_position_embeddings, h), "weight")?,
            h,
        );
        let token_type = Embedding::new(
            e.pp("token_type_embeddings")
                .get((c.type_vocab_size, h), "weight")?,
            h,
        );
        let norm = Norm::load(e.pp("LayerNorm"), h, c.layer_norm_eps)?;
        let layers = (0..c.num_hidden_layers)
            .map(|i| Layer::load(vb.pp(format!("encoder.layer.{i}")), c))
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            word,
            position,
            token_type,
            norm,
            layers,
            dtype: vb.dtype(),
            device: vb.device().clone(),
            max_positions: c.max_position_embeddings,
        })
    }

    pub(super) fn parts(&self) -> Parts<'_> {
        Parts {
            word: &self.word,
            position: &self.position,
            token_type: &self.token_type,
            norm: &self.norm.0,
            layers: self
                .layers
                .iter()
                .map(|l| LayerParts {
                    qkv: &l.qkv,
                    attn_out: &l.attn_out,
                    attn_norm: &l.attn_norm.0,
                    inter: &l.inter,
                    out: &l.out,
                    out_norm: &l.out_norm.0,
                })
                .collect(),
            heads: self.layers.first().map_or(1, |l| l.heads),
            max_positions: self.max_positions,
        }
    }

    /// Token states [batch, tokens, hidden] (in f32) for `ids` [batch, tokens] (u32) with
    /// `attention` [batch, tokens] (1 for tokens, 0 for padding).
    pub fn forward(&self, ids: &Tensor, type_ids: &Tensor, attention: &Tensor) -> Result<Tensor> {
        let (_, t) = ids.dims2()?;
        let positions = Tensor::arange(0u32, t as u32, &self.device)?;
        let x = self
            .word
            .forward(ids)?
            .broadcast_add(&self.position.forward(&positions)?)?
            .add(&self.token_type.forward(type_ids)?)?;
        let mut x = self.norm.forward(&x)?;
        // 0 where attended, -1e9 (finite in f32) where padded.
        let mask = ((attention.to_dtype(DType::F32)?.affine(1.0, -1.0))? * 1e9)?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        for layer in &self.layers {
            x = layer.forward(&x, &mask)?;
        }
        x.to_dtype(DType::F32)
    }
}

/// Mean of the token states over the attended tokens: [batch, hidden].
pub fn mean_pool(states: &Tensor, attention: &Tensor) -> Result<Tensor> {
    let m = attention.to_dtype(DType::F32)?.unsqueeze(2)?;
    let sum = states.broadcast_mul(&m)?.sum(1)?;
    let count = m.sum(1)?.clamp(1e-9, f64::INFINITY)?;
    sum.broadcast_div(&count)
}

/// Each row divided by its L2 norm.
pub fn normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::INFINITY)?;
    x.broadcast_div(&norm)
}
