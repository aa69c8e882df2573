//! How the report's numbers are written, the same in Markdown, HTML and the dataset card.

/// A share as a percentage with one decimal; a positive share that would round to 0.0% prints
/// as `<0.1%`, not as nothing.
pub(super) fn pct(x: f64) -> String {
    if x > 0.0 && x < 0.0005 {
        "<0.1%".into()
    } else {
        format!("{:.1}%", x * 100.0)
    }
}

/// A share of documents, or under 0.1% the count itself ("6 documents"), which a rounded
/// percentage would print as 0.0%.
pub(super) fn share_or_count(share: f64, documents: u64) -> String {
    if documents > 0 && share < 0.001 {
        format!(
            "{} document{}",
            num(documents),
            if documents == 1 { "" } else { "s" }
        )
    } else {
        pct(share)
    }
}

/// A ratio with two decimals, or `–`.
pub(super) fn opt_ratio(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "–".into())
}

/// A group's name, marked when it has too few documents to judge.
pub(super) fn group_name(g: &super::GroupReport) -> String {
    if g.too_few {
        format!("{} (too few)", g.name)
    } else {
        g.name.clone()
    }
}

pub(super) fn opt_pct(x: Option<f64>) -> String {
    x.map(pct).unwrap_or_else(|| "–".into())
}

pub(super) fn ci(x: Option<[f64; 2]>) -> String {
    x.map(|[a, b]| format!("{}–{}", pct(a), pct(b)))
        .unwrap_or_else(|| "–".into())
}

pub(super) fn num(x: u64) -> String {
    let s = x.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
