//! `manifest.json` of an `apply` output: what was read, with which rules and seed, what every
//! action did, and a row account that balances. Schema `debias-manifest`, version 1; it holds
//! no timestamps or timings, so the same run gives the same manifest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Account, RebalancePlan};

/// Identifies the JSON format of the manifest.
pub const SCHEMA: &str = "debias-manifest";
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub version: u32,
    pub tool: crate::artifact::Tool,
    pub inputs: Vec<InputEntry>,
    pub rules: RulesEntry,
    pub seed: u64,
    pub actions: Vec<ActionEntry>,
    pub rows: Rows,
    /// Input columns replaced by the provenance columns of the same name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced_columns: Vec<String>,
    pub output: OutputEntry,
    pub filter_audit: Vec<FilterAuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalance: Option<RebalancePlan>,
    /// Sum of `debias_weight` per demographic group over the rows written (a row counts for
    /// every group it mentions).
    pub weighted_groups: BTreeMap<String, f64>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RulesEntry {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionEntry {
    pub name: String,
    pub kind: String,
}

/// `read = kept + Σ dropped`; `written = kept + Σ augmented + Σ duplicated`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rows {
    #[serde(flatten)]
    pub account: Account,
    pub balanced: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputEntry {
    pub compression: String,
    pub row_group_size: usize,
    pub target_file_size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_by: Vec<String>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the output directory.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// What one drop action removed from each demographic group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FilterAuditEntry {
    pub action: String,
    pub reached: u64,
    pub removed: u64,
    pub groups: Vec<GroupImpact>,
    /// Per axis: the lowest retention rate divided by the highest, among groups with at least
    /// [`AUDIT_MIN_ROWS`] rows reaching the filter.
    pub retention_ratio: BTreeMap<String, f64>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupImpact {
    pub group: String,
    pub reached: u64,
    pub removed: u64,
    pub removed_share: f64,
}

/// Groups with fewer rows reaching a filter are listed but not compared.
pub const AUDIT_MIN_ROWS: u64 = 20;

/// The retention ratio below which a filter is flagged (the "four-fifths" rule).
pub const AUDIT_RATIO: f64 = 0.8;

impl Manifest {
    /// Reads the `manifest.json` of an `apply` output.
    pub fn load(path: &std::path::Path) -> crate::error::Result<Manifest> {
        crate::artifact::load_versioned(
            path,
            SCHEMA,
            SCHEMA_VERSION..=SCHEMA_VERSION,
            "the manifest.json of a `debias apply` output",
        )
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("the manifest serialises");
        s.push('\n');
        s
    }
}
