//! Atomic local writes: a killed run leaves nothing half written.
//!
//! Every file lofiever writes goes to a temporary file in the same folder and
//! is renamed over the destination, so readers (a web server, the next run)
//! see either the old bytes or the new ones, never a torn file, even if the
//! process is killed at any moment.
//!
//! Files are not fsync'ed: that would cost milliseconds per segment (tens of
//! thousands a night) and only protects against a power loss, after which a
//! renamed file may be short. Every run checks each segment's length against
//! its own headers and re-renders a short one, and schedule files are
//! re-read and validated, so a power loss costs a re-render, not a broken
//! stream.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically, creating parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Writes `path` atomically through `fill`, which writes the whole content to
/// the temporary file it is given.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per process and thread so parallel writers never share a temp file.
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        fill(&mut f)?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        // Best effort: do not leave the temporary file behind.
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("a/b/file.txt");
        write_atomic(&p, b"one").expect("first write");
        write_atomic(&p, b"two").expect("second write");
        assert_eq!(fs::read(&p).expect("read back"), b"two");
        let names: Vec<_> = fs::read_dir(p.parent().expect("has parent"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("file.txt")]);
    }

    #[test]
    fn a_failed_fill_keeps_the_old_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("f");
        write_atomic(&p, b"old").expect("write");
        let err = write_atomic_with(&p, |_| Err(std::io::Error::other("boom")));
        assert!(err.is_err());
        assert_eq!(fs::read(&p).expect("read back"), b"old");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
    }
}
