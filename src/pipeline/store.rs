//! Inputs on object stores: `s3://` (and S3-compatible servers), `gs://`, `az://`/`abfss://`
//! and `http(s)://` URLs, files, prefixes and globs, read through the `object_store` crate that
//! DataFusion reads with (the `cloud` feature, on by default).
//!
//! Credentials and endpoints come from the environment, as each store's own tools take them:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` (an S3-compatible server), `AWS_ALLOW_HTTP=true` (a plain-HTTP endpoint),
//! instance and container credentials; `GOOGLE_SERVICE_ACCOUNT` or `GOOGLE_APPLICATION_CREDENTIALS`;
//! `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY` or a service principal's
//! `AZURE_CLIENT_ID`/`AZURE_CLIENT_SECRET`/`AZURE_TENANT_ID`.
//!
//! A store's client is made per runtime: the one that lists the input while it is resolved,
//! the one registered in each DataFusion session, and the one behind a blocking reader are
//! separate (an HTTP client's connections belong to the runtime that opened them).

use std::io::Read;

use crate::error::{Error, InputError};

/// Whether a command-line input is a URL (`SCHEME://...`) rather than a local path.
pub fn is_url(input: &str) -> bool {
    match input.split_once("://") {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// An object found for an input URL: its URL, its name relative to the input (for `FILE#ROW`
/// ids) and its size.
#[derive(Debug, Clone)]
pub struct Object {
    pub url: String,
    pub rel: String,
    pub size: u64,
}

#[cfg(feature = "cloud")]
pub use imp::{reader, register, resolve};

#[cfg(not(feature = "cloud"))]
pub fn resolve(
    input: &str,
    _keep: &(dyn Fn(&str) -> bool + Sync),
) -> crate::error::Result<Vec<Object>> {
    Err(no_cloud(input))
}

#[cfg(not(feature = "cloud"))]
pub fn register(_ctx: &datafusion::prelude::SessionContext, url: &str) -> crate::error::Result<()> {
    Err(no_cloud(url))
}

#[cfg(not(feature = "cloud"))]
pub fn reader(url: &str) -> std::io::Result<Box<dyn Read + Send>> {
    Err(std::io::Error::other(no_cloud(url).to_string()))
}

#[cfg(not(feature = "cloud"))]
fn no_cloud(input: &str) -> Error {
    Error::Usage(format!(
        "{input}: this debias was built without the `cloud` feature, which reads object stores; build it with the default features"
    ))
}

/// An input error about `url`.
fn input_error(url: &str, message: String, help: &str) -> Error {
    Error::Input(InputError {
        path: Some(url.into()),
        line: None,
        message,
        help: Some(help.into()),
    })
}

#[cfg(feature = "cloud")]
mod imp {
    use std::io::Read;
    use std::sync::Arc;

    use futures::TryStreamExt;
    use object_store::path::Path as StorePath;
    use object_store::{ObjectStore, ObjectStoreExt};
    use url::Url;

    use super::{Object, input_error};
    use crate::error::{Error, Result};

    /// What credentials each scheme reads, for the help of a refused request.
    fn credentials_help(scheme: &str) -> &'static str {
        match scheme {
            "s3" | "s3a" => {
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or use an instance role), AWS_REGION, and for an S3-compatible server AWS_ENDPOINT_URL (with AWS_ALLOW_HTTP=true for http://)"
            }
            "gs" => {
                "set GOOGLE_APPLICATION_CREDENTIALS (or GOOGLE_SERVICE_ACCOUNT) to a service account key"
            }
            "http" | "https" => {
                "check the URL; the server must answer GET and (for listing) WebDAV PROPFIND"
            }
            _ => {
                "set AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, or AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID"
            }
        }
    }

    /// The store of `url`'s scheme and authority, configured from the environment.
    fn build(url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let fail = |e: object_store::Error| {
            input_error(
                url.as_str(),
                format!("cannot use the object store: {e}"),
                credentials_help(url.scheme()),
            )
        };
        let store: Arc<dyn ObjectStore> = match url.scheme() {
            "s3" | "s3a" => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url.as_str())
                    .build()
                    .map_err(fail)?,
            ),
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url.as_str())
                    .build()
                    .map_err(fail)?,
            ),
            "az" | "adl" | "azure" | "abfs" | "abfss" => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url.as_str())
                    .build()
                    .map_err(fail)?,
            ),
            "http" | "https" => Arc::new(
                object_store::http::HttpBuilder::new()
                    .with_url(base(url).as_str())
                    .build()
                    .map_err(fail)?,
            ),
            other => {
                return Err(Error::Usage(format!(
                    "{url}: debias does not read `{other}://` URLs; it reads local paths, s3://, gs://, az://, abfss:// and http(s)://"
                )));
            }
        };
        Ok(store)
    }

    /// `scheme://authority/`: what a store is registered under.
    fn base(url: &Url) -> Url {
        let mut b = url.clone();
        b.set_path("/");
        b.set_query(None);
        b.set_fragment(None);
        b
    }

    /// Runs `fut` on a runtime of its own, on a thread of its own (callers may be inside
    /// another runtime, which cannot block).
    fn block_on<T: Send>(fut: impl std::future::Future<Output = T> + Send) -> Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|rt| rt.block_on(fut))
            })
            .join()
        })
        .map_err(|_| Error::Internal("the object store thread panicked".into()))?
        .map_err(|e| Error::bug_in("starting a runtime for the object store", e))
    }

    /// The objects an input URL names: one object, every object under a prefix (for the output
    /// of `debias apply`, its `data/` objects), or those that match a glob (`*`, `?`, `[...]`;
    /// `*` stays within one `/` level, `**` crosses them). `keep` says which names are inputs.
    pub fn resolve(input: &str, keep: &(dyn Fn(&str) -> bool + Sync)) -> Result<Vec<Object>> {
        let url = Url::parse(input)
            .map_err(|e| Error::Usage(format!("{input}: not a valid URL: {e}")))?;
        let store = build(&url)?;
        let key = url.path().trim_start_matches('/').to_owned();
        let key = percent_decode(&key);
        let found = block_on(list(store, input, key.clone(), keep))??;
        if found.is_empty() {
            return Err(input_error(
                input,
                "no such object, and no input objects under that prefix".into(),
                "check the bucket and the key (a prefix lists every .parquet, .jsonl and .csv object under it; quote a glob so the shell leaves it alone)",
            ));
        }
        let root = base(&url);
        Ok(found
            .into_iter()
            .map(|(k, rel, size)| Object {
                url: format!("{}{}", root, k),
                rel,
                size,
            })
            .collect())
    }

    /// (key, name relative to the input, size) of the objects `key` names.
    async fn list(
        store: Arc<dyn ObjectStore>,
        input: &str,
        key: String,
        keep: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<(String, String, u64)>> {
        let fail = |e: object_store::Error| refused(input, e);
        if let Some(cut) = key.find(['*', '?', '[']) {
            let prefix = key[..cut].rfind('/').map_or("", |i| &key[..=i]).to_owned();
            let pattern = glob::Pattern::new(&key)
                .map_err(|e| Error::Usage(format!("invalid glob `{key}`: {e}")))?;
            let options = glob::MatchOptions {
                require_literal_separator: true,
                ..glob::MatchOptions::new()
            };
            let all = list_prefix(&*store, &prefix).await.map_err(fail)?;
            return Ok(all
                .into_iter()
                .filter(|(k, _)| pattern.matches_with(k, options) && keep(k))
                .map(|(k, size)| (k.clone(), k[prefix.len()..].to_owned(), size))
                .collect());
        }
        // One object, else a prefix. (A failed HEAD is reported unless the key is a prefix:
        // some S3-compatible servers answer a HEAD of a "directory" with an error, not 404.)
        let mut head_error = None;
        if !key.is_empty() && !key.ends_with('/') {
            match store.head(&StorePath::from(key.as_str())).await {
                Ok(meta) => {
                    let name = key.rsplit('/').next().unwrap_or(&key).to_owned();
                    return Ok(vec![(key.clone(), name, meta.size)]);
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => head_error = Some(e),
            }
        }
        let prefix = if key.is_empty() || key.ends_with('/') {
            key.clone()
        } else {
            format!("{key}/")
        };
        let all = match (list_prefix(&*store, &prefix).await, head_error) {
            (Ok(all), Some(e)) if all.is_empty() => return Err(fail(e)),
            (Ok(all), _) => all,
            (Err(e), head) => return Err(fail(head.unwrap_or(e))),
        };
        // The output of `debias apply`: its data files, not its manifest and reports.
        let manifest = format!("{prefix}manifest.json");
        let data = format!("{prefix}data/");
        let apply_output = all.iter().any(|(k, _)| *k == manifest);
        // As in a local directory, hidden and `_`-prefixed names (`_SUCCESS`) are skipped.
        let hidden = |k: &str| {
            k[prefix.len()..]
                .split('/')
                .any(|c| c.starts_with('.') || c.starts_with('_'))
        };
        Ok(all
            .into_iter()
            .filter(|(k, _)| !apply_output || k.starts_with(&data))
            .filter(|(k, _)| !hidden(k) && keep(k))
            .map(|(k, size)| (k.clone(), k[prefix.len()..].to_owned(), size))
            .collect())
    }

    /// Every object under `prefix`, sorted by key.
    async fn list_prefix(
        store: &dyn ObjectStore,
        prefix: &str,
    ) -> object_store::Result<Vec<(String, u64)>> {
        let p = (!prefix.is_empty()).then(|| StorePath::from(prefix.trim_end_matches('/')));
        let mut out: Vec<(String, u64)> = store
            .list(p.as_ref())
            .map_ok(|m| (m.location.to_string(), m.size))
            .try_collect()
            .await?;
        out.sort();
        Ok(out)
    }

    /// A request the store refused or could not answer, with the credentials that apply.
    fn refused(key: &str, e: object_store::Error) -> Error {
        let denied = matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || e.to_string().contains("403")
            || e.to_string().contains("401");
        let scheme = match &e {
            object_store::Error::Generic { store, .. } => store.to_ascii_lowercase(),
            _ => String::new(),
        };
        let help = if scheme.contains("google") {
            credentials_help("gs")
        } else if scheme.contains("azure") {
            credentials_help("az")
        } else if scheme.contains("http") {
            credentials_help("http")
        } else {
            credentials_help("s3")
        };
        let what = if denied {
            "the object store refused the request"
        } else {
            "cannot list or read from the object store"
        };
        Error::Input(crate::error::InputError {
            path: Some(key.into()),
            line: None,
            message: format!("{what}: {e}"),
            help: Some(help.into()),
        })
    }

    /// `%XX` escapes of a URL path, decoded (object keys are stored unescaped).
    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit()
                && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Registers the store of `url` in `ctx`, unless it has one already.
    pub fn register(ctx: &datafusion::prelude::SessionContext, url: &str) -> Result<()> {
        let url = Url::parse(url).map_err(|e| Error::bug_in("an input URL", e))?;
        let root = base(&url);
        let env = ctx.runtime_env();
        if env
            .object_store(
                datafusion::execution::object_store::ObjectStoreUrl::parse(root.as_str())
                    .map_err(|e| Error::bug_in("an input URL", e))?,
            )
            .is_err()
        {
            ctx.register_object_store(&root, build(&root)?);
        }
        Ok(())
    }

    /// A blocking reader of the object at `url` (for the checks that read a file through, and
    /// the inputs' SHA-256): its bytes are fetched on a thread of its own.
    pub fn reader(url: &str) -> std::io::Result<Box<dyn Read + Send>> {
        let parsed = Url::parse(url).map_err(std::io::Error::other)?;
        let key = percent_decode(parsed.path().trim_start_matches('/'));
        let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<bytes::Bytes>>(4);
        std::thread::Builder::new()
            .name("debias-fetch".into())
            .spawn(move || {
                let run = async {
                    let store = build(&parsed).map_err(|e| std::io::Error::other(e.to_string()))?;
                    let got = store
                        .get(&StorePath::from(key.as_str()))
                        .await
                        .map_err(std::io::Error::other)?;
                    let mut stream = got.into_stream();
                    while let Some(chunk) =
                        stream.try_next().await.map_err(std::io::Error::other)?
                    {
                        if tx.send(Ok(chunk)).is_err() {
                            break;
                        }
                    }
                    Ok::<(), std::io::Error>(())
                };
                let done = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(std::io::Error::other)
                    .and_then(|rt| rt.block_on(run));
                if let Err(e) = done {
                    let _ = tx.send(Err(e));
                }
            })?;
        Ok(Box::new(Fetched {
            rx,
            chunk: bytes::Bytes::new(),
        }))
    }

    /// The reader of [`reader`]: chunks as they arrive.
    struct Fetched {
        rx: std::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
        chunk: bytes::Bytes,
    }

    impl Read for Fetched {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            while self.chunk.is_empty() {
                match self.rx.recv() {
                    Ok(Ok(c)) => self.chunk = c,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Ok(0),
                }
            }
            let n = buf.len().min(self.chunk.len());
            buf[..n].copy_from_slice(&self.chunk[..n]);
            self.chunk = self.chunk.split_off(n);
            Ok(n)
        }
    }
}

/// Opens `path` for reading: a local file, or (a URL) the object's bytes.
pub fn open(path: &std::path::Path) -> std::io::Result<Box<dyn Read + Send>> {
    match path.to_str() {
        Some(s) if is_url(s) => reader(s),
        _ => Ok(Box::new(std::fs::File::open(path)?)),
    }
}
