//! The directory target: a local folder (a web server's root, a mounted
//! volume, or a folder another tool syncs).
//!
//! Writes are atomic (temp file + rename); dot-files (temporary files, the
//! station lock) are never listed. Conditional writes for the lock: an
//! exclusive create, and compare-then-replace/delete by content MD5. A folder has no per-file
//! Content-Type or Cache-Control: the web server in front of it decides
//! (`lofiever preview` uses [`super::Kind`]). Listing reports sizes only, so
//! the publisher compares same-size files byte for byte. Nothing is retried:
//! a local I/O error is final and names the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{ObjectInfo, PutObject, Target};
use crate::error::{Error, Result};

/// A folder as a publish target.
#[derive(Debug, Clone)]
pub struct DirTarget {
    root: PathBuf,
}

impl DirTarget {
    /// The target at `root` (created on first write).
    pub fn new(root: &Path) -> DirTarget {
        DirTarget {
            root: root.to_path_buf(),
        }
    }

    /// Holds an exclusive advisory lock (`flock`) on the folder holding
    /// `key` until dropped: the compare-and-swap of the conditional writes.
    /// (The folder itself, so that no lock file is left behind.)
    fn cas_guard(&self, key: &str) -> Result<std::fs::File> {
        let p = self.path_of(key)?;
        let dir = p.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let f = std::fs::File::open(&dir).map_err(|e| Error::io(&dir, e))?;
        f.lock().map_err(|e| Error::io(&dir, e))?;
        Ok(f)
    }

    fn path_of(&self, key: &str) -> Result<PathBuf> {
        let mut p = self.root.clone();
        for part in key.split('/') {
            if part.is_empty() || part == "." || part == ".." {
                return Err(Error::Publish {
                    target: self.describe(),
                    message: format!("refusing object key {key:?}"),
                });
            }
            p.push(part);
        }
        Ok(p)
    }
}

impl Target for DirTarget {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self, prefix: &str) -> Result<BTreeMap<String, ObjectInfo>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue; // temp files of atomic writes, dotfiles
                }
                let key = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
                if meta.is_dir() {
                    stack.push((entry.path(), key));
                } else if key.starts_with(prefix) {
                    out.insert(
                        key,
                        ObjectInfo {
                            size: meta.len(),
                            md5: None,
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let p = self.path_of(key)?;
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(p, e)),
        }
    }

    fn put(&self, object: &PutObject<'_>) -> Result<()> {
        crate::fsutil::write_atomic(&self.path_of(object.key)?, object.bytes)
    }

    fn put_if_absent(&self, object: &PutObject<'_>) -> Result<Option<String>> {
        let created = crate::fsutil::create_exclusive(&self.path_of(object.key)?, object.bytes)?;
        Ok(created.then(|| super::md5_hex(object.bytes)))
    }

    /// Compare, then replace, under an advisory lock on the folder, so that lofiever processes sharing the folder see an
    /// atomic compare-and-swap (several shard writers join one lock).
    fn put_if_version(&self, object: &PutObject<'_>, version: &str) -> Result<Option<String>> {
        let _guard = self.cas_guard(object.key)?;
        match self.get_versioned(object.key)? {
            Some((_, v)) if v == version => {
                self.put(object)?;
                Ok(Some(super::md5_hex(object.bytes)))
            }
            _ => Ok(None),
        }
    }

    fn delete_if_version(&self, key: &str, version: &str) -> Result<bool> {
        let _guard = self.cas_guard(key)?;
        match self.get_versioned(key)? {
            Some((_, v)) if v == version => Ok(self.delete(&[key.to_string()])? == 1),
            _ => Ok(false),
        }
    }

    fn delete(&self, keys: &[String]) -> Result<u64> {
        let mut deleted = 0;
        for key in keys {
            let p = self.path_of(key)?;
            match std::fs::remove_file(&p) {
                Ok(()) => deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(p, e)),
            }
        }
        Ok(deleted)
    }
}
