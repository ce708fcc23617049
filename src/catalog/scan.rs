//! Walking the catalog folder.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::audio::AUDIO_EXTENSIONS;
use crate::error::{Error, Result};

/// An audio file found in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedFile {
    /// Path relative to the catalog root, with `/` separators: the track's id.
    pub rel_path: String,
    /// Absolute (or root-joined) path to read it from.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since 1970 (0 if unknown).
    pub mtime_ns: u128,
}

/// Finds every audio file under `root`, sorted by relative path. Unreadable
/// folders and links out of the catalog are reported, not fatal; a missing
/// root is fatal.
pub fn scan(root: &Path) -> Result<(Vec<ScannedFile>, Vec<Error>)> {
    let canonical_root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                problems.push(Error::io(&dir, e));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    problems.push(Error::io(&dir, e));
                    continue;
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let rel_path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let file_type = match entry.file_type() {
                Ok(t) => t,
                Err(e) => {
                    problems.push(Error::io(&path, e));
                    continue;
                }
            };
            if file_type.is_symlink() {
                match fs::canonicalize(&path) {
                    Ok(target) if target.starts_with(&canonical_root) => {}
                    Ok(_) => {
                        problems.push(Error::audio(
                            &path,
                            "symbolic link leads out of the catalog folder; refused",
                        ));
                        continue;
                    }
                    Err(e) => {
                        problems.push(Error::io(&path, e));
                        continue;
                    }
                }
            }
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    problems.push(Error::io(&path, e));
                    continue;
                }
            };
            if meta.is_dir() {
                stack.push((path, rel_path));
                continue;
            }
            let is_audio = Path::new(&name)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            if !is_audio || !meta.is_file() {
                continue;
            }
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            files.push(ScannedFile {
                rel_path,
                path,
                size: meta.len(),
                mtime_ns,
            });
        }
    }
    files.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    Ok((files, problems))
}
