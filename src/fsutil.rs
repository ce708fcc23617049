//! Atomic local writes: a killed run leaves nothing half written.
//!
//! Every file lofiever writes goes to a temporary file in the same folder and
//! is renamed over the destination, so readers (a web server, the next run)
//! see either the old bytes or the new ones, never a torn file, even if the
//! process is killed at any moment. A killed run can leave a temporary file
//! (`.<name>.tmp-<pid>-<thread>`); every listing, publish and catalog scan
//! skips dot-names, and the next locked run removes those whose process is
//! gone ([`remove_stale_temps`]).
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

/// Creates `path`'s folder and returns a fresh temporary name beside it
/// (same folder, so the final rename or link stays on one file system).
fn prepare_temp(path: &Path) -> Result<std::path::PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(temp_path(dir, &name))
}

/// Writes `path` atomically through `fill`, which writes the whole content to
/// the temporary file it is given.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = prepare_temp(path)?;
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

/// The temporary file a write of `name` in `dir` goes through:
/// `.<name>.tmp-<pid>-<thread>`, unique per process and thread so parallel
/// writers never share one, and named so that [`remove_stale_temps`] can
/// tell whose it is. Dot-names are never listed, published or scanned.
fn temp_path(dir: &Path, name: &str) -> std::path::PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    dir.join(format!(".{name}{TEMP_MARK}{}-{thread}", std::process::id()))
}

/// What marks a temporary file of [`write_atomic`] (after the target's name).
const TEMP_MARK: &str = ".tmp-";

/// The process id a temporary file of [`write_atomic`] belongs to, if
/// `file_name` is one.
fn temp_owner(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(TEMP_MARK)?;
    let (pid, thread) = tail.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(thread))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Removes, under `dir` (recursively), the temporary files of atomic writes
/// whose process is gone: what a run killed mid-write leaves behind. Files
/// of live processes (a concurrent writer) are left alone. They are
/// harmless meanwhile: every listing, publish and catalog scan skips
/// dot-names. Returns how many were removed; a missing `dir` is not an error.
pub fn remove_stale_temps(dir: &Path) -> Result<u64> {
    let mut removed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&d, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            if kind.is_dir() {
                stack.push(entry.path());
                continue;
            }
            let name = entry.file_name();
            let Some(pid) = temp_owner(&name.to_string_lossy()) else {
                continue;
            };
            if pid != std::process::id() && !process_alive(pid) {
                match fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(entry.path(), e)),
                }
            }
        }
    }
    Ok(removed)
}

/// Whether process `pid` is running on this machine. Where that cannot be
/// told (no `/proc`), every process counts as alive, so nothing is taken
/// from a process that may still be running.
pub fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

/// Creates `path` with `bytes` only if it does not exist yet, atomically:
/// the content goes to a temporary file that is then hard-linked to `path`
/// (`link(2)` fails if the name exists, like `O_EXCL`), so no reader ever
/// sees it half written. Where hard links are unsupported, falls back to
/// `create_new` (`O_CREAT|O_EXCL`) and a write. `Ok(false)` if `path`
/// existed.
pub fn create_exclusive(path: &Path, bytes: &[u8]) -> Result<bool> {
    let tmp = prepare_temp(path)?;
    let written = fs::File::create(&tmp).and_then(|mut f| f.write_all(bytes));
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(_) => {
            // No hard links here (some network and FUSE file systems).
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
                    Ok(true)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(Error::io(path, e)),
            }
        }
    }
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

    #[test]
    fn temp_files_of_dead_processes_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sub = dir.path().join("96k");
        fs::create_dir_all(&sub).expect("mkdir");
        // A pid that cannot be running: above the kernel's pid_max (4194304).
        let dead = sub.join(".12.m4s.tmp-4999999-7");
        let mine = sub.join(format!(".13.m4s.tmp-{}-2", std::process::id()));
        let other = sub.join(".notes.tmp-x");
        for p in [&dead, &mine, &other] {
            fs::write(p, b"x").expect("write");
        }
        write_atomic(&sub.join("12.m4s"), b"segment").expect("write");
        assert_eq!(temp_owner(".12.m4s.tmp-4999999-7"), Some(4_999_999));
        assert_eq!(temp_owner("12.m4s"), None);
        assert_eq!(remove_stale_temps(dir.path()).expect("clean"), 1);
        assert!(!dead.exists() && mine.exists() && other.exists());
        assert!(remove_stale_temps(&dir.path().join("missing")).is_ok());
    }

    #[test]
    fn exclusive_creation_happens_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("lock");
        assert!(create_exclusive(&p, b"first").expect("create"));
        assert!(!create_exclusive(&p, b"second").expect("exists"));
        assert_eq!(fs::read(&p).expect("read"), b"first");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
    }
}
