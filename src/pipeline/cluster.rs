//! `scan` on an Apache DataFusion Ballista cluster (the `distributed` feature): the scheduler
//! and executors that `debias cluster` starts, the codecs that carry a job's rules inside its
//! plan, and the client side of `scan --cluster df://HOST:PORT`.
//!
//! **The rules travel in the plan.** The debias UDFs (`debias_hits`, `debias_url_domain`) and the
//! scan's aggregate (`debias_scan_stats`) are encoded by [`LogicalCodec`] and [`PhysicalCodec`]
//! as [`MAGIC`] followed by the job's rules as JSON: the rule file's text, the directory its
//! lexicon paths are resolved against, and the input columns the command line set (for the
//! aggregate, also the input file it folds). Executors compile the rules again and keep what
//! they built by the hash of those bytes, so a long-lived executor runs each job with that
//! job's rules, and no restart is needed when they change. Bytes that are empty or not debias's
//! are refused with an error: a job never runs with a default configuration. Lexicon files
//! named by the rules must be readable at the same path on every executor.
//!
//! **The scan.** Each input file is one task (no file is split: `FILE#ROW` ids need one ordered
//! stream per file); its rows are folded into [`ScanStats`] by `debias_scan_stats` on the
//! executors, and only the folded counts come back. They merge exactly, so the report equals
//! the single-machine report.

use std::sync::{Arc, Mutex};

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::array::AsArray;
use datafusion::common::{DataFusionError, Result as DfResult, TableReference};
use datafusion::execution::TaskContext;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use super::input::InputFile;
use super::read;
use super::scan::{ScanAggregate, decode_stats};
use super::udf::{self, DetectUdf, UrlDomainUdf};
use crate::error::{Error, Result};
use crate::report::stats::ScanStats;
use crate::rules::RuleSet;

/// The start of every UDF encoded by debias's codecs (its version in the name).
pub const MAGIC: &[u8] = b"debias-job/1\n";

/// The rules of a job, as they travel in its plan.
#[derive(serde::Serialize, serde::Deserialize)]
struct JobRules {
    path: String,
    text: String,
    base_dir: std::path::PathBuf,
    text_column: String,
    id_column: String,
    id_required: bool,
}

/// What the aggregate of a scan carries: the rules and the file it folds.
#[derive(serde::Serialize, serde::Deserialize)]
struct AggregateArgs {
    rules: JobRules,
    file: InputFile,
}

/// The rules this process knows: the jobs it submitted, and those its codecs compiled, each with
/// its encoded bytes. Kept for the life of the process (an executor serves many tasks of a job).
static JOBS: Mutex<Vec<(Vec<u8>, Arc<RuleSet>)>> = Mutex::new(Vec::new());

fn job_rules(rules: &RuleSet) -> JobRules {
    JobRules {
        path: rules.origin.path.clone(),
        text: rules.origin.text.to_string(),
        base_dir: rules.origin.base_dir.clone(),
        text_column: rules.input.text_column.clone(),
        id_column: rules.input.id_column.clone(),
        id_required: rules.input.id_required,
    }
}

/// Makes `rules` known to this process's codecs (the client of a job); returns the shared copy
/// that plans must use.
fn share(rules: &RuleSet) -> Result<Arc<RuleSet>> {
    let bytes = serde_json::to_vec(&job_rules(rules)).map_err(Error::bug)?;
    let mut jobs = JOBS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, r)) = jobs.iter().find(|(b, _)| *b == bytes) {
        return Ok(r.clone());
    }
    let shared = Arc::new(rules.clone());
    jobs.push((bytes, shared.clone()));
    Ok(shared)
}

/// The encoded rules of the job whose detector is `detector`.
fn bytes_of(detector: &Arc<crate::detect::Detector>) -> DfResult<Vec<u8>> {
    let jobs = JOBS.lock().unwrap_or_else(|e| e.into_inner());
    jobs.iter()
        .find(|(_, r)| Arc::ptr_eq(&r.detector, detector))
        .map(|(b, _)| b.clone())
        .ok_or_else(|| {
            DataFusionError::Internal(
                "a debias UDF whose rules were not shared with the cluster".into(),
            )
        })
}

/// The rules encoded as `bytes` (JSON of [`JobRules`]), compiled once per process.
fn rules_of(bytes: &[u8]) -> DfResult<Arc<RuleSet>> {
    if let Some((_, r)) = JOBS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(b, _)| b == bytes)
    {
        return Ok(r.clone());
    }
    let job: JobRules = serde_json::from_slice(bytes)
        .map_err(|e| DataFusionError::Plan(format!("debias: unreadable job rules: {e}")))?;
    let mut rules = crate::rules::parse(&job.path, &job.text, &job.base_dir)
        .map_err(|e| DataFusionError::Plan(format!("debias: the job's rules: {e}")))?;
    rules.input.text_column = job.text_column;
    rules.input.id_column = job.id_column;
    rules.input.id_required = job.id_required;
    let rules = Arc::new(rules);
    JOBS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((bytes.to_vec(), rules.clone()));
    Ok(rules)
}

/// `buf` without [`MAGIC`]; an error for bytes that debias did not write.
fn payload<'a>(name: &str, buf: &'a [u8]) -> DfResult<&'a [u8]> {
    buf.strip_prefix(MAGIC).ok_or_else(|| {
        DataFusionError::Plan(format!(
            "debias: no job data for function `{name}` ({} bytes that debias did not write); the client, scheduler and executors must all be debias with the `distributed` feature, of one version",
            buf.len()
        ))
    })
}

fn encode_udf(node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
    let inner = node.inner();
    if let Some(d) = inner.downcast_ref::<DetectUdf>() {
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&bytes_of(d.detector())?);
    } else if inner.downcast_ref::<UrlDomainUdf>().is_some() {
        buf.extend_from_slice(MAGIC);
    }
    Ok(())
}

fn decode_udf(name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
    if !udf::NAMES.contains(&name) {
        return Err(DataFusionError::NotImplemented(format!(
            "debias: no codec for scalar function `{name}`"
        )));
    }
    let body = payload(name, buf)?;
    if name == "debias_url_domain" {
        return Ok(Arc::new(ScalarUDF::new_from_impl(UrlDomainUdf::new())));
    }
    let rules = rules_of(body)?;
    udf::udfs(rules.detector.clone())
        .into_iter()
        .find(|u| u.name() == name)
        .map(Arc::new)
        .ok_or_else(|| DataFusionError::Internal(format!("debias: no UDF `{name}`")))
}

fn encode_udaf(node: &AggregateUDF, buf: &mut Vec<u8>) -> DfResult<()> {
    if let Some(a) = node.inner().downcast_ref::<ScanAggregate>() {
        let (rules, file) = a.parts();
        let args = AggregateArgs {
            rules: job_rules(rules),
            file: file.clone(),
        };
        // The rules must be the job's (shared), so that executors see what the client ran.
        bytes_of(&rules.detector)?;
        buf.extend_from_slice(MAGIC);
        serde_json::to_writer(&mut *buf, &args)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
    }
    Ok(())
}

fn decode_udaf(name: &str, buf: &[u8]) -> DfResult<Arc<AggregateUDF>> {
    if name != ScanAggregate::NAME {
        return Err(DataFusionError::NotImplemented(format!(
            "debias: no codec for aggregate function `{name}`"
        )));
    }
    let args: AggregateArgs = serde_json::from_slice(payload(name, buf)?)
        .map_err(|e| DataFusionError::Plan(format!("debias: unreadable aggregate: {e}")))?;
    let bytes = serde_json::to_vec(&args.rules).map_err(|e| DataFusionError::External(e.into()))?;
    let rules = rules_of(&bytes)?;
    Ok(Arc::new(AggregateUDF::new_from_impl(ScanAggregate::new(
        rules, args.file,
    ))))
}

/// Ballista's logical codec with debias's UDFs and aggregate.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> DfResult<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }
    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> DfResult<()> {
        self.inner.try_encode(node, buf)
    }
    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: datafusion::arrow::datatypes::SchemaRef,
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn datafusion::catalog::TableProvider>> {
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }
    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn datafusion::catalog::TableProvider>,
        buf: &mut Vec<u8>,
    ) -> DfResult<()> {
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }
    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }
    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> DfResult<()> {
        self.inner.try_encode_file_format(buf, node)
    }
    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        decode_udf(name, buf)
    }
    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        encode_udf(node, buf)
    }
    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<AggregateUDF>> {
        decode_udaf(name, buf)
    }
    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        encode_udaf(node, buf)
    }
}

/// Ballista's physical codec with debias's UDFs and aggregate.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        conv: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.inner.try_decode(buf, inputs, ctx, conv)
    }
    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        conv: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<()> {
        self.inner.try_encode(node, buf, conv)
    }
    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        decode_udf(name, buf)
    }
    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        encode_udf(node, buf)
    }
    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<AggregateUDF>> {
        decode_udaf(name, buf)
    }
    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        encode_udaf(node, buf)
    }
}

/// A session configuration for Ballista with debias's codecs; input files are never split
/// (each is one task, read in order).
pub fn config() -> SessionConfig {
    SessionConfig::new_with_ballista()
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()))
        .with_repartition_file_scans(false)
        // One partition per file plan: a file's rows reach its fold in order.
        .with_target_partitions(1)
        .with_batch_size(8192)
        .set_bool("datafusion.execution.parquet.schema_force_view_types", true)
}

/// A client session on the cluster whose scheduler is at `url` (`df://HOST:PORT`), with the
/// debias UDFs of `rules` (registered after Ballista's set-up, which replaces the state's).
pub async fn connect(url: &str, rules: &Arc<RuleSet>) -> Result<SessionContext> {
    reachable(url)?;
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config())
        .build();
    let mut ctx = SessionContext::remote_with_state(url, state)
        .await
        .map_err(|e| {
            Error::Usage(format!(
                "cannot reach the Ballista scheduler at {url}: {e}; start one with `debias cluster scheduler` and give its address as df://HOST:PORT"
            ))
        })?;
    udf::register(&mut ctx, rules.detector.clone())
        .map_err(|e| Error::bug_in("registering UDFs", e))?;
    Ok(ctx)
}

/// Checks that the scheduler at `url` accepts connections (Ballista's client connects only
/// when a job is submitted, and would report an unreachable scheduler as a failed job).
fn reachable(url: &str) -> Result<()> {
    use std::net::ToSocketAddrs;
    let usage = |why: String| {
        Error::Usage(format!(
            "cannot reach the Ballista scheduler at {url}: {why}; start one with `debias cluster scheduler` and give its address as df://HOST:PORT"
        ))
    };
    let rest = url
        .strip_prefix("df://")
        .ok_or_else(|| usage("the address must start with df://".into()))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let target = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:50050")
    };
    let addrs: Vec<_> = target
        .to_socket_addrs()
        .map_err(|e| usage(e.to_string()))?
        .collect();
    let timeout = std::time::Duration::from_secs(10);
    let mut last = None;
    for a in &addrs {
        match std::net::TcpStream::connect_timeout(a, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(usage(last.map_or("no address".into(), |e| e.to_string())))
}

/// The counts of `files` scanned on the cluster at `url`: one aggregate per file, all in one
/// job, merged here in file order.
pub fn scan(url: &str, rules: &RuleSet, files: &[InputFile], threads: usize) -> Result<ScanStats> {
    let rules = share(rules)?;
    let rt = super::runtime(threads)?;
    rt.block_on(async {
        let ctx = connect(url, &rules).await?;
        let sessions = read::Sessions {
            ordered: &ctx,
            parallel: None,
        };
        let mut union: Option<datafusion::prelude::DataFrame> = None;
        for (i, f) in files.iter().enumerate() {
            let plan = super::scan::file_plan_on(sessions, &rules, f)
                .await?
                .select(vec![
                    datafusion::prelude::lit(i as u64).alias("file"),
                    datafusion::prelude::col("stats"),
                ])
                .map_err(Error::bug)?;
            union = Some(match union {
                None => plan,
                Some(u) => u.union(plan).map_err(Error::bug)?,
            });
        }
        let union = union.ok_or_else(|| Error::Internal("no input files".into()))?;
        let batches = union
            .collect()
            .await
            .map_err(|e| Error::Internal(format!("the cluster job failed: {e}")))?;
        let mut per_file: Vec<Option<ScanStats>> = vec![None; files.len()];
        for b in &batches {
            let file = b
                .column(0)
                .as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
            let stats = b.column(1).as_binary::<i32>();
            for r in 0..b.num_rows() {
                per_file[file.value(r) as usize] = Some(decode_stats(stats.value(r))?);
            }
        }
        let mut total = ScanStats::new(&rules.detector);
        for (f, s) in files.iter().zip(per_file) {
            let s = s.ok_or_else(|| {
                Error::Internal(format!(
                    "the cluster returned no counts for {}",
                    f.path.display()
                ))
            })?;
            total.merge(s, rules.report.examples);
        }
        Ok(total)
    })
}

/// `debias cluster scheduler`: a Ballista scheduler with debias's codecs, serving until stopped.
pub fn run_scheduler(host: &str, port: u16) -> Result<()> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let config = SchedulerConfig {
        bind_host: host.to_owned(),
        bind_port: port,
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..Default::default()
    };
    let addr: std::net::SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|e| Error::Usage(format!("--bind {host}:{port}: {e}")))?;
    let rt = super::runtime(4)?;
    rt.block_on(async {
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|e| Error::Internal(format!("the scheduler: {e}")))?;
        ballista_scheduler::scheduler_process::start_server(cluster, addr, Arc::new(config))
            .await
            .map_err(|e| Error::Usage(format!("the scheduler stopped: {e}")))
    })
}

/// `debias cluster executor`: a Ballista executor with debias's codecs and no debias UDFs of
/// its own (each job brings its rules), serving until stopped.
pub fn run_executor(opts: &ExecutorOptions) -> Result<()> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    std::fs::create_dir_all(&opts.work_dir).map_err(|e| Error::output(&opts.work_dir, e))?;
    let config = ExecutorProcessConfig {
        bind_host: opts.bind_host.clone(),
        port: opts.port,
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler_host.clone(),
        scheduler_port: opts.scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: opts.cores,
        work_dir: Some(opts.work_dir.to_string_lossy().into_owned()),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..Default::default()
    };
    // The UDFs split batches over rayon: one pool of the executor's cores.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.cores.max(1))
        .build_global();
    let rt = super::runtime(opts.cores.max(2))?;
    rt.block_on(async {
        start_executor_process(Arc::new(config))
            .await
            .map_err(|e| Error::Usage(format!("the executor stopped: {e}")))
    })
}

/// Where an executor listens and which scheduler it joins.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub bind_host: String,
    pub port: u16,
    pub grpc_port: u16,
    pub scheduler_host: String,
    pub scheduler_port: u16,
    pub cores: usize,
    pub work_dir: std::path::PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The UDFs and the aggregate go through both codecs and come back with the job's rules
    /// (compiled again from the bytes); empty bytes, bytes debias did not write and unknown
    /// names are refused, never decoded into a default configuration.
    #[test]
    fn the_codecs_carry_the_rules_and_refuse_what_is_not_a_debias_job() {
        let text = "version: 1\naxes:\n  gender: {}\ninput:\n  text_column: body\n";
        let rules = crate::rules::parse("job.yaml", text, std::path::Path::new(".")).unwrap();
        let shared = share(&rules).unwrap();
        let hits = udf::udfs(shared.detector.clone()).remove(0);
        let (logical, physical) = (LogicalCodec::default(), PhysicalCodec::default());
        let mut buf = Vec::new();
        logical.try_encode_udf(&hits, &mut buf).unwrap();
        assert!(buf.starts_with(MAGIC));
        let back = physical.try_decode_udf("debias_hits", &buf).unwrap();
        assert_eq!(back.name(), "debias_hits");
        // A process that never saw the job compiles the rules from the bytes.
        JOBS.lock().unwrap().clear();
        let again = rules_of(&buf[MAGIC.len()..]).unwrap();
        assert_eq!(again.origin.sha256, rules.origin.sha256);
        assert_eq!(again.input.text_column, "body");

        let file = InputFile {
            path: "corpus/a.jsonl".into(),
            id_prefix: "a.jsonl".into(),
            format: crate::corpus::Format::Jsonl,
            compression: crate::corpus::Compression::None,
            size: 10,
        };
        let agg = AggregateUDF::new_from_impl(ScanAggregate::new(again.clone(), file.clone()));
        let mut buf = Vec::new();
        physical.try_encode_udaf(&agg, &mut buf).unwrap();
        let back = logical.try_decode_udaf(ScanAggregate::NAME, &buf).unwrap();
        let (r, f) = back
            .inner()
            .downcast_ref::<ScanAggregate>()
            .unwrap()
            .parts();
        assert_eq!(
            (r.origin.sha256.as_str(), f),
            (rules.origin.sha256.as_str(), &file)
        );

        for (name, bytes) in [
            ("debias_hits", &b""[..]),
            ("debias_hits", &b"{\"path\": \"x\"}"[..]),
            ("debias_url_domain", &b""[..]),
        ] {
            let e = physical
                .try_decode_udf(name, bytes)
                .unwrap_err()
                .to_string();
            assert!(e.contains("debias did not write"), "{e}");
        }
        assert!(physical.try_decode_udaf(ScanAggregate::NAME, b"").is_err());
        assert!(logical.try_decode_udf("upper_case", b"").is_err());
    }
}
