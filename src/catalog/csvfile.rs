//! Reading `catalog.csv` files.

use std::collections::HashMap;
use std::path::{Component, Path};

use serde::Deserialize;

use super::ScannedFile;
use crate::error::Error;

/// One row of a catalog.csv, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogRow {
    /// Artist override.
    pub artist: Option<String>,
    /// Title override.
    pub title: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Relative play weight (0.1–10).
    pub weight: f64,
    /// Whether the track may be scheduled.
    pub enabled: bool,
}

#[derive(Debug, Deserialize)]
struct RawRow {
    path: String,
    #[serde(default)]
    artist: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    tags: Option<String>,
    #[serde(default)]
    weight: Option<String>,
    #[serde(default)]
    enabled: Option<String>,
}

use super::MAX_TEXT;

/// Reads every `catalog.csv` under `root` (in folders that hold scanned
/// files or at the root) and returns rows keyed by the catalog-relative path
/// of the file they describe, plus the problems found.
pub fn read_catalog_csvs(
    root: &Path,
    files: &[ScannedFile],
) -> (HashMap<String, CatalogRow>, Vec<Error>) {
    let mut dirs: Vec<String> = files
        .iter()
        .map(|f| match f.rel_path.rsplit_once('/') {
            Some((d, _)) => d.to_string(),
            None => String::new(),
        })
        .collect();
    // Every ancestor folder may hold a catalog.csv too.
    let mut all = vec![String::new()];
    for d in dirs.drain(..) {
        let mut acc = String::new();
        for part in d.split('/').filter(|p| !p.is_empty()) {
            acc = if acc.is_empty() {
                part.to_string()
            } else {
                format!("{acc}/{part}")
            };
            all.push(acc.clone());
        }
    }
    all.sort();
    all.dedup();

    let known: std::collections::HashSet<&str> =
        files.iter().map(|f| f.rel_path.as_str()).collect();
    let mut rows = HashMap::new();
    let mut problems = Vec::new();
    for dir in all {
        let csv_path = if dir.is_empty() {
            root.join("catalog.csv")
        } else {
            root.join(&dir).join("catalog.csv")
        };
        if !csv_path.is_file() {
            continue;
        }
        read_one(&csv_path, &dir, &known, &mut rows, &mut problems);
    }
    (rows, problems)
}

fn read_one(
    csv_path: &Path,
    dir: &str,
    known: &std::collections::HashSet<&str>,
    rows: &mut HashMap<String, CatalogRow>,
    problems: &mut Vec<Error>,
) {
    let mut reader = match csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(csv_path)
    {
        Ok(r) => r,
        Err(e) => {
            problems.push(csv_error(csv_path, 0, format!("cannot read ({e})")));
            return;
        }
    };
    for (i, record) in reader.deserialize::<RawRow>().enumerate() {
        let line = i + 2; // header is line 1
        let raw = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(csv_error(csv_path, line, format!("bad row ({e})")));
                continue;
            }
        };
        match validate(raw, dir) {
            Ok((rel, row)) => {
                if !known.contains(rel.as_str()) {
                    problems.push(csv_error(
                        csv_path,
                        line,
                        format!("path {rel:?}: no such audio file in the catalog"),
                    ));
                    continue;
                }
                rows.insert(rel, row);
            }
            Err(msg) => problems.push(csv_error(csv_path, line, msg)),
        }
    }
}

fn csv_error(path: &Path, line: usize, message: String) -> Error {
    Error::Csv {
        path: path.to_path_buf(),
        message: if line > 0 {
            format!("line {line}: {message}; the row is ignored")
        } else {
            message
        },
    }
}

/// Checks one row; returns the catalog-relative path and the row.
fn validate(raw: RawRow, dir: &str) -> Result<(String, CatalogRow), String> {
    let p = Path::new(raw.path.trim());
    if raw.path.trim().is_empty() {
        return Err("field path is empty".into());
    }
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "field path {:?} leaves the catalog folder (absolute or `..`); refused",
                    raw.path
                ))
            }
        }
    }
    let rel = if dir.is_empty() {
        parts.join("/")
    } else {
        format!("{dir}/{}", parts.join("/"))
    };
    let weight = match raw
        .weight
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        None => 1.0,
        Some(w) => match w.parse::<f64>() {
            Ok(v) if (0.1..=10.0).contains(&v) => v,
            _ => {
                return Err(format!(
                    "field weight {w:?} must be a number from 0.1 to 10"
                ))
            }
        },
    };
    let enabled = match raw
        .enabled
        .as_deref()
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .as_deref()
    {
        None | Some("true" | "1" | "yes" | "y") => true,
        Some("false" | "0" | "no" | "n") => false,
        Some(other) => return Err(format!("field enabled {other:?} must be true or false")),
    };
    let text = |t: Option<String>| {
        t.map(|s| s.trim().chars().take(MAX_TEXT).collect::<String>())
            .filter(|s| !s.is_empty())
    };
    let tags = text(raw.tags)
        .map(|t| {
            t.split(';')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok((
        rel,
        CatalogRow {
            artist: text(raw.artist),
            title: text(raw.title),
            tags,
            weight,
            enabled,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(path: &str) -> RawRow {
        RawRow {
            path: path.into(),
            artist: None,
            title: None,
            tags: None,
            weight: None,
            enabled: None,
        }
    }

    #[test]
    fn paths_that_escape_are_refused() {
        for bad in ["../x.wav", "/etc/passwd", "a/../../x.wav"] {
            let err = validate(raw(bad), "").expect_err(bad);
            assert!(err.contains("leaves the catalog"), "{err}");
        }
        assert_eq!(
            validate(raw("./a/b.wav"), "sub").expect("ok").0,
            "sub/a/b.wav"
        );
    }

    #[test]
    fn weight_and_enabled_are_checked() {
        let mut r = raw("a.wav");
        r.weight = Some("1e9".into());
        assert!(validate(r, "")
            .expect_err("absurd weight")
            .contains("0.1 to 10"));
        let mut r = raw("a.wav");
        r.enabled = Some("maybe".into());
        assert!(validate(r, "")
            .expect_err("bad bool")
            .contains("true or false"));
        let mut r = raw("a.wav");
        r.enabled = Some("No".into());
        r.tags = Some("chill; rain ;".into());
        let (_, row) = validate(r, "").expect("valid");
        assert!(!row.enabled);
        assert_eq!(row.tags, vec!["chill", "rain"]);
    }
}
