//! Confidence intervals of proportions (shared by the report and `debias eval`).

/// Rounds to 6 decimals (reports stay short and byte-stable).
fn r6(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        x
    }
}

/// The Wilson score interval of `x` successes in `n` trials at confidence `level`.
pub fn wilson(x: u64, n: u64, level: f64) -> Option<[f64; 2]> {
    if n == 0 {
        return None;
    }
    let z = normal_quantile(0.5 + level / 2.0);
    let (x, n) = (x as f64, n as f64);
    let p = x / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some([r6((center - half).max(0.0)), r6((center + half).min(1.0))])
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let p_low = 0.02425;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < p_low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - p_low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

/// The upper tail of the standard normal, P(Z > z): the one-sided p-value of a z-score. From the
/// complementary error function (Numerical Recipes' `erfcc`, fractional error < 1.2e-7), so
/// that small p-values keep their relative precision.
pub fn normal_sf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let erfc = t
        * (-x * x - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    erfc / 2.0
}

/// Benjamini–Hochberg adjusted p-values (q-values) of `p`, in the same order: a test is
/// significant at false discovery rate α when its q-value is at most α.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut q = vec![0.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tail_and_benjamini_hochberg() {
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_sf(1.959964) - 0.025).abs() < 1e-6);
        assert!((normal_sf(-1.644854) - 0.95).abs() < 1e-6);
        assert!((normal_sf(5.0) / 2.866516e-7 - 1.0).abs() < 1e-4);
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02, 0.04, 0.04, 0.02.
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005]);
        for (a, b) in q.iter().zip([0.02, 0.04, 0.04, 0.02]) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
        assert!(benjamini_hochberg(&[]).is_empty());
    }

    #[test]
    fn wilson_intervals_match_published_values() {
        // Wilson 95% interval for 81/263 (Wikipedia's example in Newcombe 1998): 0.2553..0.3662.
        let [lo, hi] = wilson(81, 263, 0.95).unwrap();
        assert!(
            (lo - 0.2553).abs() < 1e-3 && (hi - 0.3662).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0, 0.95), None);
        let [lo, hi] = wilson(0, 10, 0.95).unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 0.25 && hi < 0.35);
    }
}
