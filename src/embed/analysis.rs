//! What debias computes from document embeddings: seeded k-means topics, a WEAT-style effect
//! size with a permutation p-value, and similarity to group prototypes. Deterministic: the same
//! vectors in the same order and the same seed give the same result on every machine.

use crate::hash::{mix, stable_hash};

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Cosine of two vectors (0 when one is zero).
pub fn cos(a: &[f32], b: &[f32]) -> f32 {
    let n = (dot(a, a) * dot(b, b)).sqrt();
    if n > 0.0 { dot(a, b) / n } else { 0.0 }
}

/// A deterministic stream of uniform numbers in [0, 1).
struct Rng(u64);

impl Rng {
    fn new(seed: u64, salt: &str) -> Self {
        Rng(stable_hash(seed, salt.as_bytes()))
    }
    fn next(&mut self) -> f64 {
        self.0 = mix(self.0);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() * n as f64) as usize).min(n - 1)
    }
}

/// The result of [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct Clusters {
    /// Cluster of each vector.
    pub assignment: Vec<usize>,
    pub centroids: Vec<Vec<f32>>,
    pub iterations: usize,
}

/// Seeded k-means (k-means++ initialisation, Lloyd iterations until no vector moves or
/// `max_iter`). With fewer vectors than `k`, each vector is its own cluster.
pub fn kmeans(vectors: &[Vec<f32>], k: usize, seed: u64, max_iter: usize) -> Clusters {
    let n = vectors.len();
    let k = k.min(n).max(1);
    if n == 0 {
        return Clusters {
            assignment: Vec::new(),
            centroids: Vec::new(),
            iterations: 0,
        };
    }
    let mut rng = Rng::new(seed, "kmeans");
    let mut centroids: Vec<Vec<f32>> = vec![vectors[rng.below(n)].clone()];
    let mut d: Vec<f32> = vectors.iter().map(|v| sq_dist(v, &centroids[0])).collect();
    while centroids.len() < k {
        let total: f64 = d.iter().map(|x| *x as f64).sum();
        let next = if total <= 0.0 {
            rng.below(n)
        } else {
            let mut r = rng.next() * total;
            let mut pick = n - 1;
            for (i, x) in d.iter().enumerate() {
                r -= *x as f64;
                if r < 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        };
        centroids.push(vectors[next].clone());
        let c = centroids.last().expect("just pushed");
        for (i, v) in vectors.iter().enumerate() {
            d[i] = d[i].min(sq_dist(v, c));
        }
    }
    let dim = vectors[0].len();
    let mut assignment = vec![usize::MAX; n];
    let mut iterations = 0;
    for _ in 0..max_iter.max(1) {
        iterations += 1;
        let mut moved = false;
        for (i, v) in vectors.iter().enumerate() {
            let best = nearest(v, &centroids);
            if assignment[i] != best {
                assignment[i] = best;
                moved = true;
            }
        }
        if !moved {
            break;
        }
        let mut sums = vec![vec![0f64; dim]; centroids.len()];
        let mut counts = vec![0usize; centroids.len()];
        for (v, &c) in vectors.iter().zip(&assignment) {
            counts[c] += 1;
            for (s, x) in sums[c].iter_mut().zip(v) {
                *s += *x as f64;
            }
        }
        for (c, (s, &m)) in sums.iter().zip(&counts).enumerate() {
            if m > 0 {
                centroids[c] = s.iter().map(|x| (*x / m as f64) as f32).collect();
            }
        }
    }
    Clusters {
        assignment,
        centroids,
        iterations,
    }
}

/// The index of the centroid nearest to `v` (ties: the first). `centroids` is not empty.
pub fn nearest(v: &[f32], centroids: &[Vec<f32>]) -> usize {
    (0..centroids.len())
        .min_by(|&a, &b| {
            sq_dist(v, &centroids[a])
                .total_cmp(&sq_dist(v, &centroids[b]))
                .then(a.cmp(&b))
        })
        .expect("at least one centroid")
}

/// A WEAT-style effect size and its one-sided permutation p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weat {
    /// (mean s(x) over X − mean s(y) over Y) / std of s over X ∪ Y, where
    /// s(w) = mean cos(w, A) − mean cos(w, B). Positive: X is closer to A than Y is.
    pub effect_size: f64,
    /// Share of random relabellings of X ∪ Y (same sizes) with an effect at least as large.
    pub p_value: f64,
    pub permutations: usize,
}

/// WEAT (Caliskan et al. 2017) with documents as the targets: `x` and `y` the embeddings of two
/// groups' documents, `a` and `b` those of two attribute sets (e.g. career and family terms).
pub fn weat(
    x: &[&[f32]],
    y: &[&[f32]],
    a: &[Vec<f32>],
    b: &[Vec<f32>],
    permutations: usize,
    seed: u64,
) -> Option<Weat> {
    if x.is_empty() || y.is_empty() || a.is_empty() || b.is_empty() {
        return None;
    }
    let s = |w: &[f32]| -> f64 {
        let ma = a.iter().map(|v| cos(w, v) as f64).sum::<f64>() / a.len() as f64;
        let mb = b.iter().map(|v| cos(w, v) as f64).sum::<f64>() / b.len() as f64;
        ma - mb
    };
    let scores: Vec<f64> = x.iter().chain(y).map(|w| s(w)).collect();
    let nx = x.len();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let all_mean = mean(&scores);
    let sd = (scores.iter().map(|v| (v - all_mean).powi(2)).sum::<f64>()
        / (scores.len() as f64 - 1.0).max(1.0))
    .sqrt();
    if sd == 0.0 {
        return None;
    }
    let diff = |idx: &[usize]| -> f64 {
        let (mut sx, mut sy) = (0.0, 0.0);
        for (k, &i) in idx.iter().enumerate() {
            if k < nx {
                sx += scores[i];
            } else {
                sy += scores[i];
            }
        }
        sx / nx as f64 - sy / (idx.len() - nx) as f64
    };
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    let observed = diff(&idx);
    let mut rng = Rng::new(seed, "weat");
    let mut at_least = 0usize;
    for _ in 0..permutations {
        for i in (1..idx.len()).rev() {
            let j = rng.below(i + 1);
            idx.swap(i, j);
        }
        if diff(&idx) >= observed - 1e-12 {
            at_least += 1;
        }
    }
    Some(Weat {
        effect_size: observed / sd,
        p_value: (at_least + 1) as f64 / (permutations + 1) as f64,
        permutations,
    })
}

/// The highest cosine between `v` and any of `prototypes`.
pub fn max_similarity(v: &[f32], prototypes: &[Vec<f32>]) -> f32 {
    prototypes
        .iter()
        .map(|p| cos(v, p))
        .fold(f32::NEG_INFINITY, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(center: &[f32], n: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut r = Rng::new(seed, "blob");
        (0..n)
            .map(|_| {
                center
                    .iter()
                    .map(|c| c + (r.next() as f32 - 0.5) * 0.2)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn kmeans_finds_separated_clusters_and_is_deterministic() {
        let mut v = blob(&[0.0, 0.0], 50, 1);
        v.extend(blob(&[5.0, 5.0], 50, 2));
        v.extend(blob(&[-5.0, 5.0], 50, 3));
        let c = kmeans(&v, 3, 7, 100);
        for g in 0..3 {
            let first = c.assignment[g * 50];
            assert!(
                c.assignment[g * 50..(g + 1) * 50]
                    .iter()
                    .all(|&a| a == first)
            );
        }
        let mut firsts: Vec<usize> = (0..3).map(|g| c.assignment[g * 50]).collect();
        firsts.sort();
        assert_eq!(firsts, [0, 1, 2]);
        assert_eq!(c, kmeans(&v, 3, 7, 100));
    }

    #[test]
    fn weat_sign_and_significance() {
        let a = vec![vec![1.0, 0.0]];
        let b = vec![vec![0.0, 1.0]];
        let xs = blob(&[1.0, 0.2], 30, 4);
        let ys = blob(&[0.2, 1.0], 30, 5);
        let x: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let y: Vec<&[f32]> = ys.iter().map(Vec::as_slice).collect();
        let w = weat(&x, &y, &a, &b, 999, 1).unwrap();
        assert!(w.effect_size > 1.5, "{w:?}");
        assert!(w.p_value < 0.01, "{w:?}");
        let back = weat(&y, &x, &a, &b, 999, 1).unwrap();
        assert!(back.effect_size < -1.5 && back.p_value > 0.99, "{back:?}");
        // Same groups: no effect.
        let same = weat(&x[..15], &x[15..], &a, &b, 999, 1).unwrap();
        assert!(
            same.effect_size.abs() < 1.0 && same.p_value > 0.01,
            "{same:?}"
        );
    }
}
