//! Detection as DataFusion scalar UDFs, registered by name in one place ([`register`]).
//!
//! Any process that runs a debias plan (the CLI, a test, a future distributed executor) builds
//! the same functions from the same [`Detector`] with [`udfs`]. They accept `Utf8`, `LargeUtf8`
//! and `Utf8View` text and return null for a null text:
//!
//! | function | returns |
//! |---|---|
//! | `debias_hits(text)` | `List<Struct<term: UInt32, count: UInt32>>`: every term found, by term id |
//! | `debias_groups(text)` | `List<Utf8>`: the demographic groups mentioned (`gender/female`, ...) |
//! | `debias_mentions(text)` | `Map<Utf8, UInt32>`: mentions per demographic group |
//! | `debias_attributes(text)` | `List<Utf8>`: the attribute categories mentioned (`occupations/healthcare`, ...) |
//! | `debias_url_domain(url)` | `Utf8`: the host of a URL without `www.`, for per-source breakdowns |
//!
//! Large batches are split across the rayon pool, so a single partition still uses every core.

use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericStringArray, ListArray, MapArray, OffsetSizeTrait,
    StringArray, StringBuilder, StructArray, UInt32Array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result as DfResult, exec_err};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use rayon::prelude::*;

use crate::detect::{Detector, DocHits, GroupId};

/// Rows per rayon task; smaller batches are processed on the calling thread.
const CHUNK_ROWS: usize = 512;

/// The names of the UDFs, in registration order.
pub const NAMES: &[&str] = &[
    "debias_hits",
    "debias_groups",
    "debias_mentions",
    "debias_attributes",
    "debias_url_domain",
];

/// Builds every debias UDF around one shared detector.
pub fn udfs(detector: Arc<Detector>) -> Vec<ScalarUDF> {
    [
        Output::Hits,
        Output::Groups,
        Output::Mentions,
        Output::Attributes,
    ]
    .into_iter()
    .map(|o| ScalarUDF::new_from_impl(DetectUdf::new(detector.clone(), o)))
    .chain(std::iter::once(ScalarUDF::new_from_impl(
        UrlDomainUdf::new(),
    )))
    .collect()
}

/// Registers every debias UDF in `registry` (a `SessionContext`, a `SessionState`, ...).
pub fn register(registry: &mut dyn FunctionRegistry, detector: Arc<Detector>) -> DfResult<()> {
    for f in udfs(detector) {
        registry.register_udf(Arc::new(f))?;
    }
    Ok(())
}

/// The type of `debias_hits`: a list of (term id, count) structs.
pub fn hits_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(hit_fields()),
        false,
    )))
}

fn hit_fields() -> Fields {
    Fields::from(vec![
        Field::new("term", DataType::UInt32, false),
        Field::new("count", DataType::UInt32, false),
    ])
}

/// The type of `debias_groups` and `debias_attributes`.
pub fn group_list_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, false)))
}

/// The type of `debias_mentions`.
pub fn mentions_type() -> DataType {
    DataType::Map(mentions_entries_field(), false)
}

fn mentions_entries_field() -> FieldRef {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::UInt32, false),
        ])),
        false,
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Output {
    Hits,
    Groups,
    Mentions,
    Attributes,
}

/// One of the detection UDFs. Equality is by output and detector identity, as DataFusion
/// requires of UDFs, without comparing the compiled matcher.
#[derive(Debug)]
pub(crate) struct DetectUdf {
    detector: Arc<Detector>,
    output: Output,
    signature: Signature,
}

impl DetectUdf {
    /// The detector the UDF runs (what a cluster job's codec encodes it by).
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn detector(&self) -> &Arc<Detector> {
        &self.detector
    }
}

impl DetectUdf {
    fn new(detector: Arc<Detector>, output: Output) -> Self {
        DetectUdf {
            detector,
            output,
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

impl PartialEq for DetectUdf {
    fn eq(&self, other: &Self) -> bool {
        self.output == other.output && Arc::ptr_eq(&self.detector, &other.detector)
    }
}
impl Eq for DetectUdf {}
impl Hash for DetectUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.output.hash(state);
        (Arc::as_ptr(&self.detector) as usize).hash(state);
    }
}

impl ScalarUDFImpl for DetectUdf {
    fn name(&self) -> &str {
        match self.output {
            Output::Hits => "debias_hits",
            Output::Groups => "debias_groups",
            Output::Mentions => "debias_mentions",
            Output::Attributes => "debias_attributes",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(match self.output {
            Output::Hits => hits_type(),
            Output::Groups | Output::Attributes => group_list_type(),
            Output::Mentions => mentions_type(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("{} takes one argument, the text", self.name());
        };
        let array = arg.to_array(args.number_rows)?;
        let hits = detect_all(&self.detector, &array)?;
        let out: ArrayRef = match self.output {
            Output::Hits => Arc::new(hits_array(&hits)),
            Output::Groups => Arc::new(groups_array(&self.detector, &hits, true)),
            Output::Attributes => Arc::new(groups_array(&self.detector, &hits, false)),
            Output::Mentions => Arc::new(mentions_array(&self.detector, &hits)),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// The values of a string column of any of the three string types, nulls as `None`.
pub(crate) fn string_values(array: &dyn Array) -> DfResult<Vec<Option<&str>>> {
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        DataType::Utf8View => array.as_string_view().iter().collect(),
        DataType::Null => vec![None; array.len()],
        other => return exec_err!("expected a string column, found {other}"),
    })
}

/// Detects every text of a string column, in parallel for large batches. `None` for a null
/// text.
///
/// Rows are matched [`CHUNK_ROWS`] at a time as one joined text ([`Detector::detect_joined`]):
/// the column's own value buffer for `Utf8` and `LargeUtf8`, a copy for `Utf8View`.
pub(crate) fn detect_all(detector: &Detector, array: &dyn Array) -> DfResult<Vec<Option<DocHits>>> {
    let run = |rows: Range<usize>| -> Vec<Option<DocHits>> {
        let mut copy = String::new();
        let mut ends = Vec::with_capacity(rows.len());
        let joined = joined_rows(array, rows.clone(), &mut copy, &mut ends);
        let mut hits = Vec::with_capacity(rows.len());
        detector.detect_joined(joined, &ends, &mut hits);
        hits.into_iter()
            .zip(rows)
            .map(|(h, i)| array.is_valid(i).then_some(h))
            .collect()
    };
    match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {}
        DataType::Null => return Ok(vec![None; array.len()]),
        other => return exec_err!("expected a string column, found {other}"),
    }
    let n = array.len();
    if n <= CHUNK_ROWS || rayon::current_num_threads() == 1 {
        return Ok((0..n)
            .step_by(CHUNK_ROWS)
            .flat_map(|a| run(a..(a + CHUNK_ROWS).min(n)))
            .collect());
    }
    Ok((0..n.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .flat_map_iter(|c| run(c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n)))
        .collect())
}

/// The texts of `rows` of a `Utf8`, `LargeUtf8` or `Utf8View` column back to back, and in
/// `ends` where each ends (see [`Detector::detect_joined`]); null rows as their slot's bytes
/// (usually none). No copy but for `Utf8View`, whose texts are copied into `copy`.
fn joined_rows<'a>(
    array: &'a dyn Array,
    rows: Range<usize>,
    copy: &'a mut String,
    ends: &mut Vec<usize>,
) -> &'a str {
    fn buffer<'a, O: OffsetSizeTrait>(
        a: &'a GenericStringArray<O>,
        rows: Range<usize>,
        ends: &mut Vec<usize>,
    ) -> &'a str {
        let offsets = a.value_offsets();
        let first = offsets[rows.start].as_usize();
        let last = offsets[rows.end].as_usize();
        ends.extend(
            offsets[rows.start + 1..=rows.end]
                .iter()
                .map(|o| o.as_usize() - first),
        );
        // SAFETY: every slot of a string array, null or not, is valid UTF-8 (the invariant on
        // which the safe `value`, which does not check nulls, relies), and slot `i` is
        // `offsets[i]..offsets[i + 1]` of the value buffer: consecutive slots are adjacent, and
        // their concatenation is valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&a.value_data()[first..last]) }
    }
    match array.data_type() {
        DataType::Utf8 => buffer(array.as_string::<i32>(), rows, ends),
        DataType::LargeUtf8 => buffer(array.as_string::<i64>(), rows, ends),
        DataType::Utf8View => {
            let a = array.as_string_view();
            copy.clear();
            for i in rows {
                copy.push_str(a.value(i));
                ends.push(copy.len());
            }
            copy
        }
        _ => unreachable!("checked by detect_all"),
    }
}

fn nulls_of(hits: &[Option<DocHits>]) -> Option<NullBuffer> {
    hits.iter()
        .any(Option::is_none)
        .then(|| NullBuffer::from_iter(hits.iter().map(Option::is_some)))
}

fn hits_array(hits: &[Option<DocHits>]) -> ListArray {
    let mut offsets = Vec::with_capacity(hits.len() + 1);
    offsets.push(0i32);
    let mut terms = Vec::new();
    let mut counts = Vec::new();
    for h in hits {
        if let Some(h) = h {
            for &(t, n) in &h.terms {
                terms.push(t);
                counts.push(n);
            }
        }
        offsets.push(terms.len() as i32);
    }
    let values = StructArray::new(
        hit_fields(),
        vec![
            Arc::new(UInt32Array::from(terms)),
            Arc::new(UInt32Array::from(counts)),
        ],
        None,
    );
    let DataType::List(field) = hits_type() else {
        unreachable!()
    };
    ListArray::new(
        field,
        OffsetBuffer::new(offsets.into()),
        Arc::new(values),
        nulls_of(hits),
    )
}

/// Groups (or attribute categories) of each document, by group id.
fn doc_groups(detector: &Detector, h: &DocHits, demographic: bool) -> Vec<(GroupId, u32)> {
    let tax = detector.taxonomy();
    h.groups(tax)
        .into_iter()
        .filter(|(g, _)| tax.is_demographic(*g) == demographic)
        .collect()
}

pub(crate) fn groups_array(
    detector: &Detector,
    hits: &[Option<DocHits>],
    demographic: bool,
) -> ListArray {
    let tax = detector.taxonomy();
    let mut offsets = vec![0i32];
    let mut values = StringBuilder::new();
    let mut n = 0i32;
    for h in hits {
        if let Some(h) = h {
            for (g, _) in doc_groups(detector, h, demographic) {
                values.append_value(&tax.groups[g as usize].key);
                n += 1;
            }
        }
        offsets.push(n);
    }
    let DataType::List(field) = group_list_type() else {
        unreachable!()
    };
    ListArray::new(
        field,
        OffsetBuffer::new(offsets.into()),
        Arc::new(values.finish()),
        nulls_of(hits),
    )
}

pub(crate) fn mentions_array(detector: &Detector, hits: &[Option<DocHits>]) -> MapArray {
    let tax = detector.taxonomy();
    let mut offsets = vec![0i32];
    let mut keys = StringBuilder::new();
    let mut values = Vec::new();
    for h in hits {
        if let Some(h) = h {
            for (g, n) in doc_groups(detector, h, true) {
                keys.append_value(&tax.groups[g as usize].key);
                values.push(n);
            }
        }
        offsets.push(values.len() as i32);
    }
    let entries_field = mentions_entries_field();
    let DataType::Struct(fields) = entries_field.data_type().clone() else {
        unreachable!()
    };
    let entries = StructArray::new(
        fields,
        vec![Arc::new(keys.finish()), Arc::new(UInt32Array::from(values))],
        None,
    );
    MapArray::new(
        entries_field,
        OffsetBuffer::new(offsets.into()),
        entries,
        nulls_of(hits),
        false,
    )
}

/// The type of the attribute files' `debias_mentions`: a list of `{group, mentions}` structs,
/// which every Parquet reader loads (Hugging Face `datasets` has no type for a Map).
pub fn mention_list_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(mention_fields()),
        false,
    )))
}

fn mention_fields() -> Fields {
    Fields::from(vec![
        Field::new("group", DataType::Utf8, false),
        Field::new("mentions", DataType::UInt32, false),
    ])
}

/// Mentions per demographic group as a [`mention_list_type`] column.
pub(crate) fn mention_list_array(detector: &Detector, hits: &[Option<DocHits>]) -> ListArray {
    let map = mentions_array(detector, hits);
    let (_, offsets, entries, nulls, _) = map.into_parts();
    let (_, columns, _) = entries.into_parts();
    let structs = StructArray::new(mention_fields(), columns, None);
    let DataType::List(item) = mention_list_type() else {
        unreachable!()
    };
    ListArray::new(item, offsets, Arc::new(structs), nulls)
}

/// `debias_url_domain(url)`: the host of an `http(s)://` URL, lower-cased, without `www.` and
/// port; null for a null or unparsable URL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct UrlDomainUdf {
    signature: Signature,
}

impl UrlDomainUdf {
    pub(crate) fn new() -> Self {
        UrlDomainUdf {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for UrlDomainUdf {
    fn name(&self) -> &str {
        "debias_url_domain"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("debias_url_domain takes one argument, the URL");
        };
        let array = arg.to_array(args.number_rows)?;
        let out: StringArray = string_values(&array)?
            .into_iter()
            .map(|u| u.and_then(url_domain))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// The host of a URL, lower-cased, without `www.`, user info or port.
pub fn url_domain(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None if url.starts_with("//") => &url[2..],
        None => url,
    };
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit('@').next()?;
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| &h[1..])?
    } else {
        host.split(':').next()?
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    (!host.is_empty() && !host.contains(char::is_whitespace)).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_domains() {
        assert_eq!(
            url_domain("https://www.Example.com/a?b").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            url_domain("http://user@news.bbc.co.uk:8080/x").as_deref(),
            Some("news.bbc.co.uk")
        );
        assert_eq!(
            url_domain("example.org/path").as_deref(),
            Some("example.org")
        );
        assert_eq!(url_domain("").as_deref(), None);
        assert_eq!(url_domain("https:///nohost").as_deref(), None);
    }

    /// Rows of all three string types, with nulls, sliced, in more than one chunk: the hits
    /// of each text detected on its own.
    #[test]
    fn detect_all_matches_each_text_on_its_own() {
        use datafusion::arrow::array::{LargeStringArray, StringViewArray};
        let detector = crate::rules::default_rules().unwrap().detector;
        let samples = [
            Some("She said her brother"),
            None,
            Some(" was a nurse in the Bahamas."),
            Some("the"),
            Some(" Bahamas"),
            Some(""),
            Some("He’s a Muslim woman, "),
            Some("an African"),
            Some(" American"),
        ];
        let texts: Vec<Option<&str>> = samples.iter().copied().cycle().take(1200).collect();
        let want: Vec<Option<DocHits>> = texts[3..]
            .iter()
            .map(|t| t.map(|t| detector.hits(t)))
            .collect();
        let with_hits = want
            .iter()
            .flatten()
            .filter(|h| !h.terms.is_empty())
            .count();
        assert!(with_hits > 500, "{with_hits}");
        let arrays: [ArrayRef; 3] = [
            Arc::new(StringArray::from(texts.clone())),
            Arc::new(LargeStringArray::from(texts.clone())),
            Arc::new(StringViewArray::from(texts.clone())),
        ];
        for array in arrays {
            let sliced = array.slice(3, texts.len() - 3);
            let got = detect_all(&detector, sliced.as_ref()).unwrap();
            assert!(got == want, "{}", array.data_type());
        }

        // With regex patterns beside the lexicons: a pattern's hits added to the text's own.
        let rules = crate::rules::parse(
            "patterns.yaml",
            "version: 1\naxes:\n  gender:\n    patterns:\n      female: ['\\bnurse\\b', 'a']\n",
            std::path::Path::new("."),
        )
        .unwrap();
        let detector = rules.detector;
        let want: Vec<Option<DocHits>> =
            texts.iter().map(|t| t.map(|t| detector.hits(t))).collect();
        let array = StringArray::from(texts.clone());
        assert!(detect_all(&detector, &array).unwrap() == want);
        let nurse = want[2].as_ref().unwrap();
        assert!(nurse.terms.len() >= 2, "{nurse:?}");
    }
}
