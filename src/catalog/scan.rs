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

/// Deepest folder nesting scanned below the catalog root.
pub const MAX_DEPTH: usize = 32;

/// A folder's identity on disk (device and inode where the platform has
/// them, else its canonical path), so no folder is scanned twice.
#[cfg(unix)]
fn dir_id(meta: &fs::Metadata, _path: &Path) -> Option<(u64, u64, PathBuf)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino(), PathBuf::new()))
}

#[cfg(not(unix))]
fn dir_id(_meta: &fs::Metadata, path: &Path) -> Option<(u64, u64, PathBuf)> {
    fs::canonicalize(path).ok().map(|p| (0, 0, p))
}

/// Finds every audio file under `root`, sorted by relative path. Unreadable
/// folders and links out of the catalog are reported, not fatal; a missing
/// root is fatal.
///
/// Links to folders are never followed: one inside the catalog leads to a
/// folder that is scanned where it is (following it would list its tracks
/// twice, or forever for a link to an ancestor), one outside is refused.
/// No folder is visited twice (device and inode), and nesting deeper than
/// [`MAX_DEPTH`] is reported and not scanned.
pub fn scan(root: &Path) -> Result<(Vec<ScannedFile>, Vec<Error>)> {
    let canonical_root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut visited = std::collections::HashSet::new();
    if let Some(id) = fs::metadata(root).ok().and_then(|m| dir_id(&m, root)) {
        visited.insert(id);
    }
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
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
                    Ok(target) if target.is_dir() => {
                        let why = if target.starts_with(&canonical_root) {
                            "a link to a folder inside the catalog; not followed (that folder is \
                             scanned where it is)"
                        } else {
                            "symbolic link leads out of the catalog folder; refused"
                        };
                        problems.push(Error::audio(&path, why));
                        continue;
                    }
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
                if depth + 1 > MAX_DEPTH {
                    problems.push(Error::audio(
                        &path,
                        format!(
                            "folders nested deeper than {MAX_DEPTH} levels; not scanned (move \
                             its music higher up)"
                        ),
                    ));
                    continue;
                }
                if let Some(id) = dir_id(&meta, &path) {
                    if !visited.insert(id) {
                        problems.push(Error::audio(
                            &path,
                            "the same folder as one already scanned; not scanned twice",
                        ));
                        continue;
                    }
                }
                stack.push((path, rel_path, depth + 1));
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
