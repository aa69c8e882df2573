//! debias: measure and rebalance how demographic groups are represented in a text corpus.
//!
//! The pipeline: [`rules`] reads and validates a YAML rule file into a [`rules::RuleSet`] holding
//! the [`detect::Detector`] (one compiled matcher for every [`lexicon`]); [`pipeline`] scans the
//! corpus with Apache DataFusion, calling the detector through scalar UDFs ([`pipeline::udf`]);
//! [`report`] folds the per-document hits into exact, mergeable statistics and writes the skew
//! report as JSON and Markdown. The command line is in the binary (`src/main.rs`, `src/cli/`);
//! modules import only from the floors below them (README, "Layout"; `tests/it/layers.rs`).

pub mod alloc;
pub mod apply;
pub mod artifact;
pub mod augment;
pub mod corpus;
pub mod detect;
pub mod embed;
pub mod error;
pub mod eval;
pub mod hash;
pub mod interval;
pub mod lexicon;
pub mod pipeline;
pub mod report;
pub mod rules;
pub mod units;
pub mod yaml;

pub use error::{Error, Result};
