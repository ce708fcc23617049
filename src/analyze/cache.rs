//! `features.csv` (the cache) and `analyze-errors.csv` (the failure report).
//!
//! Both are written atomically (temp file + rename). Both are CSV that
//! people open in spreadsheets, and some fields come from outside: file
//! names, tags, error texts. A text field that a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return)
//! is written with a leading `'` (the OWASP "CSV injection" advice), and so
//! is one that starts with `'` itself; reading strips exactly one leading
//! `'`, so every value round-trips. Numbers (`-16.2`, `1e-3`) are left as
//! they are: a spreadsheet reads them as numbers, not formulas.

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
///
/// Temporary files that killed runs left in the catalog (of the cache, of
/// demo tracks) are removed first.
pub fn read_cache(features: &Path, errors: &Path) -> (Vec<Features>, Vec<Failure>) {
    if let Some(dir) = features.parent() {
        if let Err(e) = crate::fsutil::remove_stale_temps(dir) {
            tracing::warn!("cannot clean up temporary files: {e}");
        }
    }
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
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            tracing::warn!("{}: cannot read ({e}); re-analysing", path.display());
            return Vec::new();
        }
    };
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = record.and_then(|r| {
            let plain: csv::StringRecord = r.iter().map(unguard).collect();
            plain.deserialize::<T>(Some(&headers))
        });
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
    let csv_error = |e: &dyn std::fmt::Display| Error::Csv {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    // Serialize as usual, then guard each field of the result.
    let mut plain = csv::Writer::from_writer(Vec::new());
    for r in rows {
        plain.serialize(r).map_err(|e| csv_error(&e))?;
    }
    let plain = plain.into_inner().map_err(|e| csv_error(&e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(plain.as_slice());
    let mut w = csv::Writer::from_writer(Vec::new());
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(&e))?;
        if i == 0 {
            w.write_record(&record) // the header: our own column names
        } else {
            w.write_record(record.iter().map(|f| guard(f).into_owned()))
        }
        .map_err(|e| csv_error(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| csv_error(&e))?;
    write_atomic(path, &bytes)
}

/// A field as written: text that a spreadsheet would take for a formula
/// (or that starts with the guard itself) gets a leading `'`.
fn guard(field: &str) -> std::borrow::Cow<'_, str> {
    let risky = matches!(
        field.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'')
    );
    let number = !field.is_empty()
        && field
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        && field.parse::<f64>().is_ok();
    if risky && !number {
        format!("'{field}").into()
    } else {
        field.into()
    }
}

/// A field as read: [`guard`] undone.
fn unguard(field: &str) -> &str {
    field.strip_prefix('\'').unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_guarded_and_every_value_round_trips() {
        let rows = vec![
            Failure {
                path: "=HYPERLINK(\"http://x\",\"y\").wav".into(),
                hash: "-".into(),
                size: 1,
                reason: "+cmd|' /C calc'!A0".into(),
            },
            Failure {
                path: "@SUM(1+1)*cmd|' /C calc'!A0.mp3".into(),
                hash: "'quoted".into(),
                size: 2,
                reason: "-2+3".into(),
            },
            Failure {
                path: "\tx.wav".into(),
                hash: "-16.5".into(),
                size: 3,
                reason: "plain, \"quoted\" text".into(),
            },
        ];
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("analyze-errors.csv");
        write_errors(&p, &rows).expect("write");
        let text = std::fs::read_to_string(&p).expect("read");
        for line in text.lines().skip(1) {
            for field in line.split(',') {
                let f = field.trim_start_matches('"');
                assert!(
                    !matches!(f.as_bytes().first(), Some(b'=' | b'+' | b'@' | b'\t')),
                    "{line}"
                );
            }
        }
        assert!(text.contains("'=HYPERLINK"), "{text}");
        assert!(text.contains(",-16.5,"), "numbers stay numbers: {text}");
        assert_eq!(read_rows::<Failure>(&p), rows);
    }
}
