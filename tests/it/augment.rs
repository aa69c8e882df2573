//! Counterfactual augmentation measured on the WinoBias pairs of `../shared/data`.

use debias::augment::{FEMALE, MALE, Mapping, Swapper};

use super::common::repo;

struct Pair {
    pro: String,
    anti: String,
}

fn winobias() -> Vec<Pair> {
    let p = repo().join("../shared/data/winobias/winobias_dev_pairs.csv");
    let mut r = csv::Reader::from_path(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let headers = r.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (pro, anti, only) = (
        col("pro_sentence"),
        col("anti_sentence"),
        col("pronoun_swap_only"),
    );
    r.records()
        .map(|rec| rec.unwrap())
        .filter(|rec| &rec[only] == "1")
        .map(|rec| Pair {
            pro: rec[pro].to_owned(),
            anti: rec[anti].to_owned(),
        })
        .collect()
}

/// Rewriting each pro-stereotyped sentence gives exactly its anti-stereotyped pair (and back).
#[test]
fn winobias_pronoun_swaps_are_exact() {
    let pairs = winobias();
    assert_eq!(pairs.len(), 783, "pairs with pronoun_swap_only=1");
    // The ground truth swaps pronouns only ("his mother" stays "her mother"), so only
    // pronouns are swapped here.
    let swapper = Swapper::gender(&["pronouns"], false).unwrap();
    let both = Mapping(vec![Some(MALE), Some(FEMALE)]);
    let rewrite = |s: &str| swapper.rewrite(s, &both).map_or(s.to_owned(), |(t, _)| t);
    let mut misses = Vec::new();
    let (mut forward, mut backward) = (0, 0);
    for p in &pairs {
        let f = rewrite(&p.pro);
        if f == p.anti {
            forward += 1;
        } else {
            misses.push(format!("pro→anti  {}\n     got  {f}", p.pro));
        }
        let b = rewrite(&p.anti);
        if b == p.pro {
            backward += 1;
        } else {
            misses.push(format!("anti→pro  {}\n     got  {b}", p.anti));
        }
    }
    let n = pairs.len() as f64;
    let (rf, rb) = (forward as f64 / n, backward as f64 / n);
    println!(
        "WinoBias dev, pronoun_swap_only=1: pro→anti exact {forward}/{} ({:.2}%), anti→pro exact {backward}/{} ({:.2}%)",
        pairs.len(),
        100.0 * rf,
        pairs.len(),
        100.0 * rb
    );
    for m in &misses {
        println!("  {m}");
    }
    assert!(rf >= 0.99, "pro→anti exact rate {rf:.4} is below 0.99");
    assert!(rb >= 0.99, "anti→pro exact rate {rb:.4} is below 0.99");
}
