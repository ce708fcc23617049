//! The library's error type: every variant carries what a user needs to find
//! the problem (a path, a config key, a track, a segment number).
//!
//! Which errors stop a run and which skip one item is decided per stage and
//! written in each stage's module doc; this module only names them.

use std::path::PathBuf;

use crate::time::TimeError;

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in lofiever's library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The station configuration is invalid; stops the run.
    #[error("{file}: {key}: {message}")]
    Config {
        /// The configuration file (or `<embedded default>`).
        file: String,
        /// The dotted TOML key, e.g. `stream.segment_ms`.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An audio file could not be decoded or is unusable; the track is skipped.
    #[error("{}: {message}", path.display())]
    Audio {
        /// The audio file.
        path: PathBuf,
        /// What is wrong, in plain words.
        message: String,
    },
    /// A CSV file (catalog or cache) has a bad row or field.
    #[error("{}: {message}", path.display())]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// The row/field and what is wrong.
        message: String,
    },
    /// The schedule cannot be built or read.
    #[error("schedule: {0}")]
    Schedule(String),
    /// Encoding or packaging failed.
    #[error("{context}: {message}")]
    Render {
        /// Where: a segment, chunk or rendition.
        context: String,
        /// What went wrong.
        message: String,
    },
    /// Programme time arithmetic failed.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// Another run holds the station's lock (see `publish::lock`); stops the run
    /// before it writes anything.
    #[error("{place}: {message}")]
    Locked {
        /// The lock file or object, e.g. `out/.lofiever.lock`.
        place: String,
        /// Who holds it since when, and how to recover.
        message: String,
    },
    /// A sharded render's plan journal is missing, of another plan, made
    /// with another configuration, or incomplete (see `job::shard`); stops
    /// the run before it writes anything.
    #[error("{place}: {message}")]
    Plan {
        /// The journal object, e.g. `s3://radio/live/.lofiever-journal.json`.
        place: String,
        /// What is wrong and what to run.
        message: String,
    },
    /// Publishing to the target failed.
    #[error("publish to {target}: {message}")]
    Publish {
        /// The target (directory or bucket URL).
        target: String,
        /// What went wrong.
        message: String,
    },
    /// A command other than publishing (`status`, `verify`) failed reading
    /// the target: the publish module's error, named after the command.
    #[error("{command}: {target}: {message}")]
    Target {
        /// The command, e.g. `status`.
        command: &'static str,
        /// The target (directory or bucket URL).
        target: String,
        /// What went wrong.
        message: String,
    },
    /// An access log cannot be read at all (its lines that cannot be read
    /// are counted, not errors).
    #[error("{log}: {message}")]
    Log {
        /// The log file, or `<stdin>`.
        log: String,
        /// What is wrong and what would be read.
        message: String,
    },
}

impl Error {
    /// This error as `command`'s: a [`Error::Publish`] (worded "publish to
    /// …", right for `render` and `publish`) names `command` instead, so a
    /// `status` or `verify` that cannot read the target does not seem to
    /// publish. Any other error is returned as it is.
    pub fn in_command(self, command: &'static str) -> Error {
        match self {
            Error::Publish { target, message } => Error::Target {
                command,
                target,
                message,
            },
            e => e,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An unusable audio file.
    pub fn audio(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::Audio {
            path: path.into(),
            message: message.into(),
        }
    }
}
