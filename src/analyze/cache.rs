//! `features.csv` (the cache) and `analyze-errors.csv` (the failure report).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Features;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// A file that could not be used, as reported in `analyze-errors.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Track path relative to the catalog.
    pub path: String,
    /// Content hash (empty if the file could not be read at all).
    pub hash: String,
    /// File size in bytes.
    pub size: u64,
    /// Why, in plain words.
    pub reason: String,
}

/// Reads the cache and the failure report; unreadable or outdated files are
/// treated as empty (everything is re-analysed), with a warning.
pub fn read_cache(features: &Path, errors: &Path) -> (Vec<Features>, Vec<Failure>) {
    (read_rows(features), read_rows(errors))
}

fn read_rows<T: for<'de> Deserialize<'de>>(path: &Path) -> Vec<T> {
    if !path.exists() {
        return Vec::new();
    }
    let mut reader = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("{}: cannot read ({e}); re-analysing", path.display());
            return Vec::new();
        }
    };
    let mut rows = Vec::new();
    for (i, row) in reader.deserialize::<T>().enumerate() {
        match row {
            Ok(r) => rows.push(r),
            Err(e) => {
                tracing::warn!(
                    "{}: line {}: {e}; that file will be re-analysed",
                    path.display(),
                    i + 2
                );
            }
        }
    }
    rows
}

/// Writes the cache atomically, sorted by path.
pub fn write_cache(path: &Path, rows: &[Features]) -> Result<()> {
    write_rows(path, rows)
}

/// Writes the failure report atomically.
pub fn write_errors(path: &Path, rows: &[Failure]) -> Result<()> {
    write_rows(path, rows)
}

fn write_rows<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| Error::Csv {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    let bytes = w.into_inner().map_err(|e| Error::Csv {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}
