//! The `embedding:` section: sentence embeddings in the scan (implicit mentions, topics,
//! embedding association), documented in `rules/README.md`.

use std::path::Path;

use super::yaml::{Node, Reader};
use crate::detect::{GroupId, Taxonomy};

#[derive(Debug, Clone)]
pub struct EmbeddingRules {
    /// A model directory (relative to the rule file), cache entry or model id.
    pub model: String,
    pub dtype: String,
    pub device: String,
    /// 0: the device's default.
    pub batch_tokens: usize,
    /// At most this many documents are embedded; beyond, a seeded sample by document id.
    pub max_documents: u64,
    pub seed: u64,
    pub implicit: Option<Implicit>,
    pub topics: Option<Topics>,
    pub association: Vec<Association>,
}

/// Documents whose embedding is close to a group's prototype descriptions.
#[derive(Debug, Clone)]
pub struct Implicit {
    pub threshold: f32,
    /// (group, descriptions)
    pub prototypes: Vec<(GroupId, Vec<String>)>,
}

#[derive(Debug, Clone)]
pub struct Topics {
    pub k: usize,
    pub max_iter: usize,
    pub top_terms: usize,
}

/// WEAT between two groups' documents and two attribute sets.
#[derive(Debug, Clone)]
pub struct Association {
    pub name: String,
    pub groups: [GroupId; 2],
    /// (name, terms) ×2
    pub attributes: [(String, Vec<String>); 2],
    pub permutations: usize,
}

const KEYS: &[&str] = &[
    "model",
    "dtype",
    "device",
    "batch_tokens",
    "max_documents",
    "implicit",
    "topics",
    "association",
];
const IMPLICIT_KEYS: &[&str] = &["threshold", "prototypes"];
const TOPIC_KEYS: &[&str] = &["k", "max_iter", "top_terms"];
const ASSOC_KEYS: &[&str] = &["groups", "attributes", "permutations"];

pub fn read(
    r: &mut Reader<'_>,
    node: &Node,
    tax: &Taxonomy,
    seed: u64,
    base_dir: &Path,
) -> Option<EmbeddingRules> {
    let f = r.fields(node, "embedding", KEYS)?;
    let mut e = EmbeddingRules {
        model: crate::embed::DEFAULT_MODEL.to_owned(),
        dtype: "f32".into(),
        device: "cpu".into(),
        batch_tokens: 0,
        max_documents: 200_000,
        seed,
        implicit: None,
        topics: None,
        association: Vec::new(),
    };
    let mut ok = true;
    if let Some(n) = f.get("model")
        && let Some(m) = r.string(n, "embedding.model")
    {
        let p = base_dir.join(&m);
        e.model = if p.exists() {
            p.display().to_string()
        } else {
            m
        };
    }
    if let Some(n) = f.get("dtype") {
        match r.choice(n, "embedding.dtype", &["f32", "f16", "bf16"]) {
            Some(d) => e.dtype = d.to_owned(),
            None => ok = false,
        }
    }
    if let Some(n) = f.get("device")
        && let Some(d) = r.string(n, "embedding.device")
    {
        e.device = d;
    }
    for (key, slot) in [("batch_tokens", &mut e.batch_tokens)] {
        if let Some(n) = f.get(key) {
            match r.count(n, &format!("embedding.{key}")) {
                Some(c) if c >= 1 => *slot = c as usize,
                Some(_) => {
                    r.error(n, &format!("embedding.{key}"), "must be at least 1");
                    ok = false;
                }
                None => ok = false,
            }
        }
    }
    if let Some(n) = f.get("max_documents") {
        match r.count(n, "embedding.max_documents") {
            Some(c) if c >= 1 => e.max_documents = c,
            _ => {
                r.error(n, "embedding.max_documents", "must be at least 1");
                ok = false;
            }
        }
    }
    if let Some(n) = f.get("implicit") {
        e.implicit = Some(read_implicit(r, n, tax, &mut ok)?);
    }
    if let Some(n) = f.get("topics") {
        e.topics = Some(read_topics(r, n, &mut ok)?);
    }
    if let Some(n) = f.get("association") {
        e.association = read_associations(r, n, tax, &mut ok);
    }
    ok.then_some(e)
}

/// `embedding.implicit`: the threshold and each group's prototype descriptions.
fn read_implicit(r: &mut Reader<'_>, n: &Node, tax: &Taxonomy, ok: &mut bool) -> Option<Implicit> {
    let fi = r.fields(n, "embedding.implicit", IMPLICIT_KEYS)?;
    let mut imp = Implicit {
        threshold: 0.5,
        prototypes: Vec::new(),
    };
    if let Some(t) = fi.get("threshold") {
        match r.number(t, "embedding.implicit.threshold") {
            Some(x) if (-1.0..=1.0).contains(&x) => imp.threshold = x as f32,
            _ => {
                r.error(
                    t,
                    "embedding.implicit.threshold",
                    "a cosine similarity between -1 and 1",
                );
                *ok = false;
            }
        }
    }
    match fi.get("prototypes") {
        Some(p) => {
            for (g, gn, list) in r.entries(p, "embedding.implicit.prototypes") {
                let key = format!("embedding.implicit.prototypes.{g}");
                let Some(id) = tax.group_by_key(g) else {
                    r.error_help(
                        gn,
                        &key,
                        format!("no group `{g}` in these rules"),
                        Some("write groups as AXIS/GROUP, e.g. `gender/female`"),
                    );
                    *ok = false;
                    continue;
                };
                let texts: Vec<String> =
                    r.strings(list, &key).into_iter().map(|(s, _)| s).collect();
                if texts.is_empty() {
                    r.error(gn, &key, "no descriptions");
                    *ok = false;
                }
                imp.prototypes.push((id, texts));
            }
        }
        None => {
            r.error_help(n, "embedding.implicit", "no `prototypes`", Some("give short descriptions per group: `prototypes: {gender/female: [\"a woman\", \"a mother and her daughter\"]}`"));
            *ok = false;
        }
    }
    Some(imp)
}

/// `embedding.topics`: k, iterations and terms per topic.
fn read_topics(r: &mut Reader<'_>, n: &Node, ok: &mut bool) -> Option<Topics> {
    let ft = r.fields(n, "embedding.topics", TOPIC_KEYS)?;
    let mut t = Topics {
        k: 20,
        max_iter: 50,
        top_terms: 8,
    };
    for (key, slot) in [
        ("k", &mut t.k),
        ("max_iter", &mut t.max_iter),
        ("top_terms", &mut t.top_terms),
    ] {
        if let Some(v) = ft.get(key) {
            match r.count(v, &format!("embedding.topics.{key}")) {
                Some(c) if c >= 1 => *slot = c as usize,
                _ => {
                    r.error(v, &format!("embedding.topics.{key}"), "must be at least 1");
                    *ok = false;
                }
            }
        }
    }
    Some(t)
}

/// `embedding.association`: named WEAT tests, two groups against two attribute lists.
fn read_associations(
    r: &mut Reader<'_>,
    n: &Node,
    tax: &Taxonomy,
    ok: &mut bool,
) -> Vec<Association> {
    let mut out = Vec::new();
    for (name, kn, body) in r.entries(n, "embedding.association") {
        let key = format!("embedding.association.{name}");
        let Some(fa) = r.fields(body, &key, ASSOC_KEYS) else {
            *ok = false;
            continue;
        };
        let groups: Vec<GroupId> = match fa.get("groups") {
            Some(g) => r
                .strings(g, &format!("{key}.groups"))
                .into_iter()
                .filter_map(|(s, sn)| {
                    let id = tax.group_by_key(&s);
                    if id.is_none() {
                        r.error(
                            sn,
                            &format!("{key}.groups"),
                            format!("no group `{s}` in these rules"),
                        );
                    }
                    id
                })
                .collect(),
            None => Vec::new(),
        };
        let attrs: Vec<(String, Vec<String>)> = match fa.get("attributes") {
            Some(a) => r
                .entries(a, &format!("{key}.attributes"))
                .into_iter()
                .map(|(an, _, list)| {
                    (
                        an.to_owned(),
                        r.strings(list, &format!("{key}.attributes.{an}"))
                            .into_iter()
                            .map(|(s, _)| s)
                            .collect(),
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        let permutations = match fa.get("permutations") {
            Some(p) => r.count(p, &format!("{key}.permutations")).unwrap_or(1000) as usize,
            None => 1000,
        };
        if groups.len() != 2 || attrs.len() != 2 || attrs.iter().any(|(_, t)| t.is_empty()) {
            r.error_help(kn, &key, "an association needs two `groups` and two non-empty `attributes` lists", Some("e.g. `{groups: [gender/female, gender/male], attributes: {career: [engineer, manager], family: [home, children]}}`"));
            *ok = false;
            continue;
        }
        let mut attrs = attrs.into_iter();
        out.push(Association {
            name: name.to_owned(),
            groups: [groups[0], groups[1]],
            attributes: [attrs.next().expect("two"), attrs.next().expect("two")],
            permutations,
        });
    }
    out
}
