//! The encoder's CPU path in f32: the same BERT as [`super::bert`], without padding.
//!
//! candle's CPU backend runs a BERT as a chain of tensor ops, each allocating its result, the
//! element-wise ones scalar (`erf` of the GELU through libm) or sent to candle's own spinning
//! thread pool, which fights the batches that run side by side on rayon. Here, after the
//! weights are loaded with candle, a batch is one flat `[tokens, hidden]` matrix, as in
//! text-embeddings-inference's padding-free path:
//!
//! - the dense layers are matrix products on the `gemm` crate, the one candle's CPU backend
//!   uses, with its AVX-512 kernels (the `x86-v4` feature; chosen at run time, AVX2 or
//!   scalar elsewhere), the bias written into the output first and accumulated onto;
//! - attention runs sequence by sequence and head by head, so no token attends to padding
//!   and none is computed;
//! - GELU, softmax and the layer norms are fused loops, compiled for AVX-512 or AVX2 when
//!   the CPU has them. GELU's `erf` is the Abramowitz–Stegun 7.1.26 form that PyTorch's
//!   vectorised CPU kernel uses (absolute error 1.5e-7, under 4e-7 in f32 arithmetic), with a
//!   Cephes-style `exp`.
//!
//! Every token's state depends only on its own sequence: a text's vector is the same, bit for
//! bit, whatever texts share its batch (`tests/it/embed.rs` checks it), which the batched
//! candle path cannot promise. Parity with sentence-transformers is the same test as for the
//! candle path (cosine ≥ 0.9999 on the committed reference vectors).

use candle_core::{DType, Result, Tensor};

use super::Pooling;
use super::bert::Bert;

/// A layer norm's parameters.
#[derive(Debug, Clone)]
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

/// A dense layer: `w` is the transposed weight, `[inputs, outputs]` row-major.
#[derive(Debug, Clone)]
struct Dense {
    w: Vec<f32>,
    b: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

#[derive(Debug, Clone)]
struct Layer {
    qkv: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    inter: Dense,
    out: Dense,
    out_norm: Norm,
}

/// The f32 CPU encoder, built from a loaded candle [`Bert`].
#[derive(Debug, Clone)]
pub struct CpuBert {
    word: Vec<f32>,
    position: Vec<f32>,
    /// Token type 0's embedding (debias encodes single texts).
    token_type: Vec<f32>,
    norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    max_positions: usize,
}

fn flat(t: &Tensor) -> Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

fn norm(n: &candle_nn::LayerNorm) -> Result<Norm> {
    Ok(Norm {
        gamma: flat(n.weight())?,
        beta: match n.bias() {
            Some(b) => flat(b)?,
            None => vec![0.0; n.weight().elem_count()],
        },
        eps: n.eps() as f32,
    })
}

fn dense(l: &candle_nn::Linear) -> Result<Dense> {
    let (outputs, inputs) = l.weight().dims2()?;
    Ok(Dense {
        w: flat(&l.weight().t()?.contiguous()?)?,
        b: match l.bias() {
            Some(b) => flat(b)?,
            None => vec![0.0; outputs],
        },
        inputs,
        outputs,
    })
}

impl CpuBert {
    /// The weights of `model` (any dtype, on the CPU) as f32.
    pub fn new(model: &Bert) -> Result<CpuBert> {
        let p = model.parts();
        let layers = p
            .layers
            .iter()
            .map(|l| {
                Ok(Layer {
                    qkv: dense(l.qkv)?,
                    attn_out: dense(l.attn_out)?,
                    attn_norm: norm(l.attn_norm)?,
                    inter: dense(l.inter)?,
                    out: dense(l.out)?,
                    out_norm: norm(l.out_norm)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let hidden = p.word.embeddings().dims2()?.1;
        if hidden % p.heads != 0 {
            candle_core::bail!(
                "hidden size {hidden} is not a multiple of {} heads",
                p.heads
            );
        }
        Ok(CpuBert {
            word: flat(p.word.embeddings())?,
            position: flat(p.position.embeddings())?,
            token_type: flat(&p.token_type.embeddings().get(0)?)?,
            norm: norm(p.norm)?,
            layers,
            hidden,
            heads: p.heads,
            max_positions: p.max_positions,
        })
    }

    /// One vector per token sequence: the token states pooled (`pooling`) and, with
    /// `normalize`, divided by their L2 norm. Sequences longer than the model's positions are
    /// an error (the tokenizer truncates before this).
    pub fn encode(
        &self,
        seqs: &[&[u32]],
        pooling: Pooling,
        normalize: bool,
    ) -> Result<Vec<Vec<f32>>> {
        let vocab = self.word.len() / self.hidden;
        for s in seqs {
            if s.len() > self.max_positions {
                candle_core::bail!(
                    "a sequence of {} tokens is longer than the model's {} positions",
                    s.len(),
                    self.max_positions
                );
            }
            if let Some(&id) = s.iter().find(|&&id| id as usize >= vocab) {
                candle_core::bail!("token id {id} is outside the vocabulary ({vocab})");
            }
        }
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has the features the function is compiled for.
                return Ok(unsafe { self.encode_avx512(seqs, pooling, normalize) });
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                // SAFETY: as above.
                return Ok(unsafe { self.encode_avx2(seqs, pooling, normalize) });
            }
        }
        Ok(self.encode_any(seqs, pooling, normalize))
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
    unsafe fn encode_avx512(
        &self,
        seqs: &[&[u32]],
        pooling: Pooling,
        normalize: bool,
    ) -> Vec<Vec<f32>> {
        self.encode_any(seqs, pooling, normalize)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn encode_avx2(
        &self,
        seqs: &[&[u32]],
        pooling: Pooling,
        normalize: bool,
    ) -> Vec<Vec<f32>> {
        self.encode_any(seqs, pooling, normalize)
    }

    /// The forward pass, inlined into each of the target-feature functions above, so that its
    /// loops are compiled for the CPU at hand. Plain multiplies and adds (no fused
    /// multiply-add outside `gemm`), so these loops give the same bits at every vector width.
    #[inline(always)]
    fn encode_any(&self, seqs: &[&[u32]], pooling: Pooling, normalize: bool) -> Vec<Vec<f32>> {
        let h = self.hidden;
        let mut starts = Vec::with_capacity(seqs.len() + 1);
        starts.push(0);
        for s in seqs {
            starts.push(starts.last().unwrap() + s.len());
        }
        let tokens = *starts.last().unwrap();
        if tokens == 0 {
            return vec![vec![0.0; h]; seqs.len()];
        }
        // Embeddings: word + position + token type 0, then the layer norm.
        let mut x = vec![0f32; tokens * h];
        for (s, seq) in seqs.iter().enumerate() {
            for (p, &id) in seq.iter().enumerate() {
                let row = &mut x[(starts[s] + p) * h..][..h];
                let word = &self.word[id as usize * h..][..h];
                let pos = &self.position[p * h..][..h];
                for (((o, w), q), t) in row.iter_mut().zip(word).zip(pos).zip(&self.token_type) {
                    *o = w + q + t;
                }
            }
        }
        layer_norm_rows(&mut x, &self.norm);
        let inter_size = self.layers.first().map_or(0, |l| l.inter.outputs);
        let mut qkv = vec![0f32; tokens * 3 * h];
        let mut ctx = vec![0f32; tokens * h];
        let mut tmp = vec![0f32; tokens * h];
        let mut inter = vec![0f32; tokens * inter_size];
        let mut scratch = Attention::default();
        for layer in &self.layers {
            dense_rows(&layer.qkv, &x, tokens, &mut qkv);
            for w in starts.windows(2) {
                scratch.run(&qkv, w[0], w[1] - w[0], h, self.heads, &mut ctx);
            }
            dense_rows(&layer.attn_out, &ctx, tokens, &mut tmp);
            add_assign(&mut tmp, &x);
            layer_norm_rows(&mut tmp, &layer.attn_norm);
            std::mem::swap(&mut x, &mut tmp);
            inter.resize(tokens * layer.inter.outputs, 0.0);
            dense_rows(&layer.inter, &x, tokens, &mut inter);
            gelu(&mut inter);
            dense_rows(&layer.out, &inter, tokens, &mut tmp);
            add_assign(&mut tmp, &x);
            layer_norm_rows(&mut tmp, &layer.out_norm);
            std::mem::swap(&mut x, &mut tmp);
        }
        starts
            .windows(2)
            .map(|w| {
                let mut v = vec![0f32; h];
                match pooling {
                    // sentence-transformers: the sum of the attended token states over their
                    // count (every token here is attended).
                    Pooling::Mean => {
                        for row in x[w[0] * h..w[1] * h].chunks_exact(h) {
                            add_assign(&mut v, row);
                        }
                        let n = (w[1] - w[0]).max(1) as f32;
                        v.iter_mut().for_each(|a| *a /= n);
                    }
                    Pooling::Cls => {
                        if w[1] > w[0] {
                            v.copy_from_slice(&x[w[0] * h..][..h]);
                        }
                    }
                }
                if normalize {
                    let norm = sum_of(&v, |a| a * a).sqrt().max(1e-12);
                    v.iter_mut().for_each(|a| *a /= norm);
                }
                v
            })
            .collect()
    }
}

/// `out[m × outputs] = bias + a[m × inputs] · w`.
#[inline(always)]
fn dense_rows(d: &Dense, a: &[f32], m: usize, out: &mut [f32]) {
    assert!(a.len() >= m * d.inputs && out.len() >= m * d.outputs);
    for row in out[..m * d.outputs].chunks_exact_mut(d.outputs) {
        row.copy_from_slice(&d.b);
    }
    // SAFETY: the three matrices are row-major and in bounds (checked above and by
    // construction of `w`: inputs × outputs); dst := 1·dst + 1·a·w.
    unsafe {
        gemm::gemm(
            m,
            d.outputs,
            d.inputs,
            out.as_mut_ptr(),
            1,
            d.outputs as isize,
            true,
            a.as_ptr(),
            1,
            d.inputs as isize,
            d.w.as_ptr(),
            1,
            d.outputs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

#[inline(always)]
fn add_assign(a: &mut [f32], b: &[f32]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Σ f(x) in sixteen lanes (so that the loop vectorises in a fixed order).
#[inline(always)]
fn sum_of(v: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 16];
    let chunks = v.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..16 {
            acc[l] += f(c[l]);
        }
    }
    for (l, &x) in rest.iter().enumerate() {
        acc[l] += f(x);
    }
    let mut s = 0.0;
    for a in acc {
        s += a;
    }
    s
}

/// Each row of `x` normalised to mean 0, variance 1, then scaled and shifted.
#[inline(always)]
fn layer_norm_rows(x: &mut [f32], n: &Norm) {
    let h = n.gamma.len();
    for row in x.chunks_exact_mut(h) {
        let mean = sum_of(row, |a| a) / h as f32;
        let var = sum_of(row, |a| (a - mean) * (a - mean)) / h as f32;
        let inv = 1.0 / (var + n.eps).sqrt();
        for ((a, g), b) in row.iter_mut().zip(&n.gamma).zip(&n.beta) {
            *a = (*a - mean) * inv * g + b;
        }
    }
}

/// GELU in its exact (erf) form, as BERT's `gelu`: `x/2 · (1 + erf(x/√2))`.
#[inline(always)]
fn gelu(x: &mut [f32]) {
    for a in x.iter_mut() {
        let v = *a;
        *a = 0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// `erf` by Abramowitz & Stegun 7.1.26 (absolute error 1.5e-7, under 4e-7 in f32), the form
/// of PyTorch's vectorised CPU `erf`; branch-free, so that loops over it vectorise.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_72) * t
        + 0.254_829_6)
        * t;
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// `e^x` for x ≤ 88 (Cephes' `expf`: x = n·ln 2 + r, a degree-6 polynomial in r, relative
/// error about 1e-7); branch-free. Below -87.3 it gives about 1e-38 rather than 0.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer.
    let x = x.clamp(-87.3, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let z = r * r;
    let y = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 0.166_666_66)
        * r
        + 0.5)
        * z
        + r
        + 1.0;
    // 2^n from n's bits in `t` (its low mantissa bits hold n + 2^22).
    let n_int = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    y * f32::from_bits(((n_int + 127) as u32) << 23)
}

/// Scratch space of one sequence's attention.
#[derive(Default)]
struct Attention {
    /// One head's keys, transposed: `[head_dim, len]`.
    keys: Vec<f32>,
    /// One query's scores over the sequence.
    scores: Vec<f32>,
}

impl Attention {
    /// Self-attention of the `len` tokens from row `start` of `qkv` (`[tokens, 3 · hidden]`:
    /// queries, keys, values), written to the same rows of `ctx` (`[tokens, hidden]`).
    #[inline(always)]
    fn run(
        &mut self,
        qkv: &[f32],
        start: usize,
        len: usize,
        h: usize,
        heads: usize,
        ctx: &mut [f32],
    ) {
        let hd = h / heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let row = |t: usize| &qkv[(start + t) * 3 * h..][..3 * h];
        self.keys.resize(hd * len, 0.0);
        self.scores.resize(len, 0.0);
        for head in 0..heads {
            for j in 0..len {
                let k = &row(j)[h + head * hd..][..hd];
                for (d, &kd) in k.iter().enumerate() {
                    self.keys[d * len + j] = kd;
                }
            }
            for i in 0..len {
                let q = &row(i)[head * hd..][..hd];
                let scores = &mut self.scores[..len];
                scores.fill(0.0);
                for (d, &qd) in q.iter().enumerate() {
                    for (s, &k) in scores.iter_mut().zip(&self.keys[d * len..][..len]) {
                        *s += qd * k;
                    }
                }
                let mut max = f32::NEG_INFINITY;
                for s in scores.iter_mut() {
                    *s *= scale;
                    max = max.max(*s);
                }
                for s in scores.iter_mut() {
                    *s = exp(*s - max);
                }
                let inv = 1.0 / sum_of(scores, |a| a);
                let out = &mut ctx[(start + i) * h + head * hd..][..hd];
                out.fill(0.0);
                for (j, &p) in scores.iter().enumerate() {
                    let v = &row(j)[2 * h + head * hd..][..hd];
                    let p = p * inv;
                    for (o, &vd) in out.iter_mut().zip(v) {
                        *o += p * vd;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_and_exp_are_within_their_error_bounds() {
        let mut worst_erf = 0f64;
        let mut worst_exp = 0f64;
        for i in -4000..=4000 {
            let x = i as f32 / 500.0; // -8 .. 8
            let e = erf(x) as f64 - libm_erf(x as f64);
            worst_erf = worst_erf.max(e.abs());
            let y = -(i as f32).abs() / 45.0; // -88.9 .. 0, the range softmax and erf use
            let want = (y as f64).exp();
            if want > 1e-37 {
                worst_exp = worst_exp.max(((exp(y) as f64 - want) / want).abs());
            }
        }
        assert!(worst_erf < 4e-7, "erf: {worst_erf}");
        assert!(worst_exp < 3e-7, "exp: {worst_exp}");
        assert_eq!(erf(-1.5), -erf(1.5));
        assert!(exp(-1000.0) < 1e-37 && exp(-1000.0) >= 0.0);
        assert!(exp(f32::NAN).is_nan());
    }

    /// erf in f64 by its Maclaurin series (|x| < 3) or its asymptotic complement, enough for
    /// checking a 1e-7 bound.
    fn libm_erf(x: f64) -> f64 {
        if x.abs() < 3.0 {
            let mut term = x;
            let mut sum = x;
            for n in 1..200 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc(x) ≈ e^{-x²}/(x√π) · (1 - 1/(2x²) + 3/(4x⁴) - 15/(8x⁶)), tiny for |x| ≥ 3.
            let a = x.abs();
            let z = 1.0 / (2.0 * a * a);
            let c = (-a * a).exp() / (a * std::f64::consts::PI.sqrt())
                * (1.0 - z + 3.0 * z * z - 15.0 * z * z * z);
            (1.0 - c).copysign(x)
        }
    }
}
