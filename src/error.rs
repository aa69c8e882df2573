//! The one error type of the library, split by who has to act on it.

use std::fmt;
use std::path::PathBuf;

/// Result type of the debias library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in debias, by who is at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule file, or a lexicon it names, is invalid. Every problem found is listed with its
    /// `file:line:column`; nothing has been read from the corpus yet.
    #[error("{0}")]
    Rules(Diagnostics),
    /// The corpus cannot be read the way the rules describe it (missing column, malformed line,
    /// invalid UTF-8, no input files, ...).
    #[error("{0}")]
    Input(InputError),
    /// An output (report, attributes) cannot be written.
    #[error("cannot write {}: {message}", path.display())]
    Output { path: PathBuf, message: String },
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// The sentence-encoder model cannot be found, fetched or loaded, or its device is not
    /// there (a missing file, an unsupported architecture, a build without CUDA).
    #[error("{0}")]
    Model(String),
    /// A bug in debias: a state the code should never reach.
    #[error("internal error (a bug in debias, please report it with the command you ran): {0}")]
    Internal(String),
    /// A bug in debias revealed by an error of a library it uses (Arrow, Parquet, DataFusion,
    /// serde_json), kept as the source so that the whole chain is printed.
    #[error("internal error (a bug in debias, please report it with the command you ran)")]
    Bug(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The same, with what debias was doing when the library failed.
    #[error(
        "internal error (a bug in debias, please report it with the command you ran): {context}"
    )]
    BugIn {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// An input error about `path`, with a hint on how to fix it.
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input(InputError {
            path: Some(path.into()),
            line: None,
            message: message.into(),
            help: None,
        })
    }

    /// A bug revealed by a library's error `e` (for `map_err(Error::bug)`).
    pub fn bug(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Bug(Box::new(e))
    }

    /// A bug revealed by a library's error `e` while debias was doing `context`
    /// (`map_err(|e| Error::bug_in("starting the writer thread", e))`).
    pub fn bug_in(
        context: impl Into<String>,
        e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::BugIn {
            context: context.into(),
            source: e.into(),
        }
    }

    /// The error and its sources, one per line (`caused by: ...`).
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(e) = source {
            out.push_str(&format!("\n  caused by: {e}"));
            source = e.source();
        }
        out
    }

    /// An output error about `path`.
    pub fn output(path: impl Into<PathBuf>, message: impl fmt::Display) -> Self {
        Error::Output {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// A problem with the input corpus, located as precisely as it can be.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    /// The file at fault, when one is.
    pub path: Option<PathBuf>,
    /// 1-based line in that file (JSONL/CSV), when known.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl InputError {
    /// Adds the line number.
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line) {
            (Some(p), Some(l)) => write!(f, "{}:{l}: ", p.display())?,
            (Some(p), None) => write!(f, "{}: ", p.display())?,
            _ => {}
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::Input(e)
    }
}

/// One problem in a rule or lexicon file, at a place in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The file, as the user named it (built-in lexicons are `<built-in>/NAME.yaml`).
    pub file: String,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// The key path, e.g. `targets.gender`.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        } else {
            write!(f, "{}: ", self.file)?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n    help: {help}")?;
        }
        Ok(())
    }
}

/// All the problems found in the rules, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// True when no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        let n = self.0.len();
        write!(
            f,
            "\n{n} {} in the rules; nothing was read from the corpus",
            if n == 1 { "problem" } else { "problems" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bug_keeps_its_source_chain() {
        let e = Error::bug(std::io::Error::other("the Parquet footer is short"));
        assert!(e.to_string().starts_with("internal error"));
        assert!(
            e.chain()
                .ends_with("\n  caused by: the Parquet footer is short"),
            "{}",
            e.chain()
        );
        assert_eq!(Error::Usage("x".into()).chain(), "x");
    }
}
