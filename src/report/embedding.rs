//! The `embedding` section of the report (when the rules have an `embedding:` section).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmbeddingReport {
    pub model: String,
    pub dtype: String,
    pub device: String,
    /// Scanned documents, and those embedded (all of them, or a seeded sample of
    /// `embedding.max_documents`).
    pub documents: u64,
    pub embedded: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implicit: Option<ImplicitReport>,
    pub topics: Vec<TopicReport>,
    /// The largest differences between a group's share within a topic and its share overall.
    pub conditional_skews: Vec<ConditionalSkew>,
    pub association: Vec<WeatReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImplicitReport {
    pub threshold: f32,
    pub groups: Vec<ImplicitGroup>,
}

/// Per group: documents tagged by the lexicon, by the embedding, by both; how far they agree.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImplicitGroup {
    pub group: String,
    pub lexicon: u64,
    pub embedding: u64,
    pub both: u64,
    /// Tagged by the embedding and by no lexicon term of the group: implicit mentions.
    pub embedding_only: u64,
    /// both / (lexicon ∪ embedding), the Jaccard agreement of the two signals; null when
    /// neither tags a document.
    pub agreement: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicReport {
    pub topic: usize,
    pub documents: u64,
    /// The words most distinctive of the topic's documents (log-odds against the other topics).
    pub terms: Vec<String>,
    pub axes: Vec<TopicAxis>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicAxis {
    pub axis: String,
    /// The topic's documents that mention the axis.
    pub documents: u64,
    pub groups: Vec<TopicGroup>,
    /// Total variation distance between the group shares in the topic and overall.
    pub tvd_from_overall: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicGroup {
    pub group: String,
    pub documents: u64,
    pub share: f64,
    pub overall_share: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConditionalSkew {
    pub topic: usize,
    pub terms: Vec<String>,
    pub group: String,
    pub share: f64,
    /// Wilson interval of `share` over the topic's group documents of the axis.
    #[serde(default)]
    pub share_ci: Option<[f64; 2]>,
    pub overall_share: f64,
    pub difference: f64,
    pub documents: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WeatReport {
    pub name: String,
    pub groups: [String; 2],
    pub attributes: [String; 2],
    /// Documents of each group (mentioning it and not the other).
    pub documents: [u64; 2],
    pub effect_size: Option<f64>,
    pub p_value: Option<f64>,
    pub permutations: usize,
}

pub fn render(w: &mut String, e: &EmbeddingReport) {
    use std::fmt::Write;
    let _ = writeln!(w, "## Embeddings\n");
    let _ = writeln!(
        w,
        "Model `{}` ({}, {}); {} of {} documents embedded.\n",
        e.model, e.dtype, e.device, e.embedded, e.documents
    );
    if let Some(i) = &e.implicit {
        let _ = writeln!(w, "### Implicit mentions (cosine ≥ {})\n", i.threshold);
        let _ = writeln!(
            w,
            "| group | lexicon | embedding | both | embedding only | agreement |"
        );
        let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|");
        for g in &i.groups {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} |",
                g.group,
                g.lexicon,
                g.embedding,
                g.both,
                g.embedding_only,
                g.agreement.map_or("–".into(), |a| format!("{a:.2}"))
            );
        }
        let _ = writeln!(w);
    }
    if !e.conditional_skews.is_empty() {
        let _ = writeln!(w, "### Topic-conditioned skew (largest first)\n");
        let _ = writeln!(
            w,
            "| topic | terms | group | share in topic | CI | share overall | difference | documents |"
        );
        let _ = writeln!(w, "|---:|---|---|---:|---|---:|---:|---:|");
        for s in &e.conditional_skews {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {:.1}% | {} | {:.1}% | {:+.1} pts | {} |",
                s.topic,
                s.terms.join(", "),
                s.group,
                100.0 * s.share,
                super::fmt::ci(s.share_ci),
                100.0 * s.overall_share,
                100.0 * s.difference,
                s.documents
            );
        }
        let _ = writeln!(w);
    }
    if !e.topics.is_empty() {
        let _ = writeln!(w, "### Topics\n");
        let _ = writeln!(w, "| topic | documents | terms |");
        let _ = writeln!(w, "|---:|---:|---|");
        for t in &e.topics {
            let _ = writeln!(
                w,
                "| {} | {} | {} |",
                t.topic,
                t.documents,
                t.terms.join(", ")
            );
        }
        let _ = writeln!(w);
    }
    if !e.association.is_empty() {
        let _ = writeln!(w, "### Embedding association (WEAT)\n");
        let _ = writeln!(
            w,
            "| name | groups | attributes | documents | effect size | p |"
        );
        let _ = writeln!(w, "|---|---|---|---|---:|---:|");
        for a in &e.association {
            let f = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.3}"));
            let _ = writeln!(
                w,
                "| {} | {} vs {} | {} vs {} | {} / {} | {} | {} |",
                a.name,
                a.groups[0],
                a.groups[1],
                a.attributes[0],
                a.attributes[1],
                a.documents[0],
                a.documents[1],
                f(a.effect_size),
                f(a.p_value)
            );
        }
        let _ = writeln!(w);
    }
}
