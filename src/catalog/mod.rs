//! The music catalog: which audio files exist, what they are called, and
//! whether they may be played.
//!
//! A catalog is a folder (any depth) of audio files plus optional
//! `catalog.csv` files. A `catalog.csv` describes the files in its own folder
//! and below, with the columns (all but `path` optional):
//!
//! | column  | meaning |
//! |---------|---------|
//! | path    | the file, relative to the folder of this catalog.csv |
//! | artist  | overrides the file's tag |
//! | title   | overrides the file's tag |
//! | tags    | free words separated by `;` (moods, genres) |
//! | weight  | how often the track should play relative to others (0.1–10, default 1) |
//! | enabled | `true`/`false` (or 1/0, yes/no); a disabled track is never scheduled |
//!
//! Errors: a bad row (unknown file, a path escaping the catalog, an absurd
//! weight) is reported with its file and line and the row is ignored; the run
//! goes on. Hidden files and folders (starting with `.`) are skipped, and so
//! are symbolic links that lead out of the catalog and links to folders
//! (see [`scan`]: no folder is scanned twice, depth is capped).

mod csvfile;
mod scan;

use std::path::PathBuf;

pub use csvfile::{read_catalog_csvs, CatalogRow};
pub use scan::{scan, ScannedFile};

use crate::error::Error;

/// Longest text kept from outside (catalog.csv artist/title/tags, a file's
/// title and artist tags), in characters: whatever comes from there is cut
/// to this everywhere it goes (features.csv, schedule files, the page).
pub const MAX_TEXT: usize = 300;

/// `text` trimmed and cut to [`MAX_TEXT`] characters.
pub fn cut_text(text: &str) -> String {
    text.trim().chars().take(MAX_TEXT).collect()
}

/// One audio file of the catalog, with what catalog.csv says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    /// The file as found on disk.
    pub file: ScannedFile,
    /// The matching catalog.csv row, if any.
    pub row: Option<CatalogRow>,
}

/// The catalog: its entries (sorted by path) and the problems found reading it.
#[derive(Debug, Default)]
pub struct Catalog {
    /// The catalog folder.
    pub root: PathBuf,
    /// Every audio file, sorted by relative path.
    pub entries: Vec<CatalogEntry>,
    /// Problems that made a row or file be ignored.
    pub problems: Vec<Error>,
}

/// Scans `root` and joins the catalog.csv rows to the files they name.
pub fn load(root: &std::path::Path) -> crate::Result<Catalog> {
    let (files, mut problems) = scan(root)?;
    let (rows, row_problems) = read_catalog_csvs(root, &files);
    problems.extend(row_problems);
    let entries = files
        .into_iter()
        .map(|file| {
            let row = rows.get(&file.rel_path).cloned();
            CatalogEntry { file, row }
        })
        .collect();
    Ok(Catalog {
        root: root.to_path_buf(),
        entries,
        problems,
    })
}
