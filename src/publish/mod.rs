//! `lofiever publish`: copy the rendered output to the target, in an order
//! that never shows a listener something that points at missing audio, and
//! delete segments that have aged out.
//!
//! A [`Target`] is where the station lives and where its state (the schedule
//! files, the segments already rendered) is read back from: a local directory
//! ([`DirTarget`], the default) or an S3-compatible bucket ([`S3Target`]).
//!
//! **Order** (`docs/ARCHITECTURE.md`, "State lives in the target"): init and media
//! segments, earliest first; then the schedule files; then the MPD; then the
//! page. Each group starts only when the one before is complete, so a
//! listener never sees a schedule entry or an MPD pointing at audio that is
//! not there yet. Within a group, up to `publish.concurrency` uploads run at
//! once, dispatched in order.
//!
//! **Incremental**: the target is listed once (a request per thousand
//! objects, never one per object); a local file whose key is listed with the
//! same size and the same MD5 (an S3 ETag) is skipped, so a re-run uploads
//! nothing. Where a target cannot report checksums (a directory), same-size
//! objects are read back and compared. Segments older than the keep window
//! are neither uploaded nor kept (see [`retention`]).
//!
//! **Skip or stop**: nothing is skipped silently. A failed upload (after the
//! target's own retries, see [`retry`]) stops new uploads; those in flight
//! finish; the run then fails with one line naming how many objects are
//! missing, the first of them and the cause, and the later groups are not
//! published. A re-run lists the target again and finishes the job. Errors
//! that no retry can fix (rejected credentials, a missing bucket) stop the
//! run at the first request. Retention failures stop the run too (after the
//! upload, which has then completed).

mod command;
mod dir;
pub mod lock;
pub mod retention;
pub mod retry;
mod s3;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use rayon::prelude::*;

pub use command::ForCommand;
pub use dir::DirTarget;
pub use s3::{public_read_policy, silent_store_budget, BucketSetup, S3Target};

use crate::error::{Error, Result};
use crate::progress::{Progress, Unit};
use crate::station::layout::{segment_number, Kind};
use crate::station::{Station, TargetSpec};

/// The HTTP Content-Type for `key`.
pub fn content_type(key: &str) -> &'static str {
    match key.rsplit('.').next().unwrap_or("") {
        "mpd" => "application/dash+xml",
        "m4s" | "mp4" => "audio/mp4",
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "m3u8" => "application/vnd.apple.mpegurl",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// The Cache-Control for a kind of object: media is immutable (a segment's
/// bytes never change), the clock object never stored (its `Date` header is
/// the host's time only when the host itself answers), the rest short
/// (about a minute).
pub fn cache_control(kind: Kind) -> &'static str {
    match kind {
        Kind::Init | Kind::Segment => "public, max-age=31536000, immutable",
        Kind::Clock => "no-store",
        _ => "public, max-age=60",
    }
}

/// The publish group: a group starts only when the one before is complete.
fn group(kind: Kind) -> u8 {
    match kind {
        Kind::Init | Kind::Segment => 0,
        Kind::Schedule | Kind::Playlist => 1,
        Kind::Mpd => 2,
        Kind::Page | Kind::Clock => 3,
    }
}

/// An object as a target lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// The content's MD5 (lowercase hex) when the target knows it without
    /// reading the object (an S3 ETag of a single-part upload); `None` means
    /// "compare the bytes".
    pub md5: Option<String>,
}

/// One object to write, with the headers it is served with.
#[derive(Debug, Clone)]
pub struct PutObject<'a> {
    /// Key relative to the target root, e.g. `96k/12.m4s`.
    pub key: &'a str,
    /// The content.
    pub bytes: &'a [u8],
    /// HTTP Content-Type.
    pub content_type: &'static str,
    /// HTTP Cache-Control.
    pub cache_control: &'static str,
    /// MD5 of `bytes` (sent as Content-MD5 so the store can refuse a
    /// corrupted body).
    pub md5: [u8; 16],
}

impl<'a> PutObject<'a> {
    /// The object `key` with `bytes` and the headers of its [`Kind`].
    pub fn new(key: &'a str, bytes: &'a [u8]) -> PutObject<'a> {
        PutObject {
            key,
            bytes,
            content_type: content_type(key),
            cache_control: cache_control(Kind::of(key)),
            md5: md5(bytes),
        }
    }
}

/// Where a station is published, and where its state is read back from.
///
/// Contract:
/// - `put` is atomic per object: a reader sees the old object or the new
///   one, never a part. Objects are served with the given Content-Type and
///   Cache-Control where the target can store them.
/// - `list` returns every object under the prefix, with sizes (and MD5s where
///   cheap); keys are relative to the target root and use `/`.
/// - `get` returns `None` for a missing object, not an error.
/// - `delete` removes the given keys (in batches where the target has them);
///   keys already gone are not an error.
/// - A returned error is final for this run: the target has already retried
///   what is worth retrying (throttling, 5xx, timeouts, dropped
///   connections). The error names the target and the object. Methods may be
///   called from several threads at once.
pub trait Target: Send + Sync {
    /// A human description (path or URL), never containing credentials.
    fn describe(&self) -> String;
    /// Every object under `prefix` (a folder like `schedule/`, or "" for all).
    fn list(&self, prefix: &str) -> Result<BTreeMap<String, ObjectInfo>>;
    /// Reads an object, `None` if absent.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Writes an object.
    fn put(&self, object: &PutObject<'_>) -> Result<()>;
    /// Deletes objects; returns how many were deleted (where the target
    /// cannot tell which existed, as S3 cannot, how many were asked).
    fn delete(&self, keys: &[String]) -> Result<u64>;
    /// How many requests were retried so far (0 for targets that never
    /// retry).
    fn retries(&self) -> u64 {
        0
    }

    // Conditional writes, for the station lock ([`lock`]). A
    // "version" is whatever the target compares: an S3 ETag, the content's
    // MD5 for a folder. Targets without them keep the defaults, which refuse.

    /// Writes `object` only if no object with its key exists (S3:
    /// `If-None-Match: *`; a folder: an exclusive create). Returns the new
    /// object's version, or `None` if the key exists already.
    fn put_if_absent(&self, object: &PutObject<'_>) -> Result<Option<String>> {
        Err(no_conditional_writes(self.describe(), object.key))
    }
    /// Reads an object with its version; `None` if absent.
    fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, String)>> {
        Ok(self.get(key)?.map(|b| {
            let v = md5_hex(&b);
            (b, v)
        }))
    }
    /// Replaces `object` only if the stored version is `version` (S3:
    /// `If-Match`). Returns the new version, or `None` if the object changed
    /// or is gone.
    fn put_if_version(&self, object: &PutObject<'_>, version: &str) -> Result<Option<String>> {
        let _ = version;
        Err(no_conditional_writes(self.describe(), object.key))
    }
    /// Deletes `key` only if the stored version is `version`; `false` if it
    /// changed or is gone.
    fn delete_if_version(&self, key: &str, version: &str) -> Result<bool> {
        let _ = version;
        Err(no_conditional_writes(self.describe(), key))
    }
}

fn no_conditional_writes(target: String, key: &str) -> Error {
    Error::Publish {
        target,
        message: format!("{key}: this target cannot write conditionally"),
    }
}

/// The MD5 of `bytes`.
pub fn md5(bytes: &[u8]) -> [u8; 16] {
    let digest = Md5::digest(bytes);
    let mut out = [0u8; 16];
    out.copy_from_slice(digest.as_slice());
    out
}

/// The MD5 of `bytes`, lowercase hex (the form of an S3 ETag).
pub fn md5_hex(bytes: &[u8]) -> String {
    md5(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens the station's target. For S3 nothing goes over the network yet.
pub fn open(station: &Station) -> Result<Box<dyn Target>> {
    match &station.target {
        TargetSpec::Dir(p) => Ok(Box::new(DirTarget::new(p))),
        TargetSpec::S3 { bucket, prefix } => {
            Ok(Box::new(S3Target::new(bucket, prefix, &station.publish)?))
        }
    }
}

/// `--setup-bucket`: creates the station's bucket if missing, applies the
/// CORS rule for `publish.cors_origins`, and returns the public-read policy
/// to apply. An error for directory targets.
pub fn setup_bucket(station: &Station) -> Result<BucketSetup> {
    match &station.target {
        TargetSpec::S3 { bucket, prefix } => S3Target::new(bucket, prefix, &station.publish)?
            .setup_bucket(&station.publish.cors_origins),
        TargetSpec::Dir(p) => Err(Error::Publish {
            target: p.display().to_string(),
            message: "--setup-bucket applies to s3:// targets only; publish.target is a directory"
                .into(),
        }),
    }
}

/// True when the target is the output folder itself (nothing to copy).
pub fn target_is_output(station: &Station) -> bool {
    match &station.target {
        TargetSpec::Dir(p) => same_dir(p, &station.output_dir),
        TargetSpec::S3 { .. } => false,
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// How a publish runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Simultaneous uploads (at least 1).
    pub concurrency: usize,
    /// Only work out what would change.
    pub dry_run: bool,
    /// Segments before this one are not uploaded (retention would delete
    /// them); `None` uploads all.
    pub keep: Option<retention::Keep>,
}

impl Options {
    /// The station's settings (`publish.concurrency`, the keep window as of
    /// `now`).
    pub fn for_station(station: &Station, now: DateTime<Utc>, dry_run: bool) -> Result<Options> {
        Ok(Options {
            concurrency: station.publish.concurrency.max(1),
            dry_run,
            keep: retention::keep(station, now)?,
        })
    }
}

/// One object a publish writes (or, in a dry run, would write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// `true` if the target has no such object, `false` if it differs.
    pub new: bool,
}

/// What a publish did (or, in a dry run, would do).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Objects written (in a dry run: that would be written).
    pub uploaded: u64,
    /// Bytes written (in a dry run: that would be).
    pub bytes: u64,
    /// Objects already at the target with the same content.
    pub skipped: u64,
    /// Local segments (and HLS playlists of days) older than the keep
    /// window, not uploaded.
    pub too_old: u64,
    /// Requests the target retried so far (this run's listing included: a
    /// target is opened per run).
    pub retries: u64,
    /// In a dry run, every object that would be written, in publish order.
    pub changes: Vec<Change>,
}

/// Lists `target` and publishes `out_dir` to it (see [`run_with_listing`]).
pub fn run(
    out_dir: &Path,
    target: &dyn Target,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Summary> {
    let remote = target.list("")?;
    run_with_listing(out_dir, target, &remote, options, progress)
}

/// Publishes every file of `out_dir` to `target`, in publish order and
/// groups, skipping objects `remote` (a listing of the target taken in this
/// run) shows are already identical.
pub fn run_with_listing(
    out_dir: &Path,
    target: &dyn Target,
    remote: &BTreeMap<String, ObjectInfo>,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Summary> {
    let mut summary = Summary::default();
    let local = DirTarget::new(out_dir).list("")?;
    let mut candidates: Vec<(&String, &ObjectInfo)> = Vec::with_capacity(local.len());
    for (key, info) in &local {
        match options.keep {
            Some(keep) if !retention::kept(key, keep) => summary.too_old += 1,
            _ => candidates.push((key, info)),
        }
    }
    // Which files differ from the target (hashing only where sizes agree).
    let decided: Vec<Result<Option<Change>>> = candidates
        .par_iter()
        .map(|(key, info)| {
            let new = match remote.get(*key) {
                None => true,
                Some(r) if r.size != info.size => false,
                Some(r) => {
                    let path = out_dir.join(key);
                    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                    let same = match &r.md5 {
                        Some(m) => *m == md5_hex(&bytes),
                        None => target.get(key)?.as_deref() == Some(bytes.as_slice()),
                    };
                    if same {
                        return Ok(None);
                    }
                    false
                }
            };
            Ok(Some(Change {
                key: (*key).clone(),
                size: info.size,
                new,
            }))
        })
        .collect();
    let mut changes = Vec::new();
    for d in decided {
        match d? {
            Some(c) => changes.push(c),
            None => summary.skipped += 1,
        }
    }
    changes.sort_by_key(|c| publish_order(&c.key));
    summary.uploaded = changes.len() as u64;
    summary.bytes = changes.iter().map(|c| c.size).sum();
    if options.dry_run {
        summary.changes = changes;
        return Ok(summary);
    }
    if changes.is_empty() {
        return Ok(summary);
    }

    upload_in_groups(out_dir, target, &changes, options.concurrency, progress)?;
    summary.retries = target.retries();
    progress.finish(&format!(
        "{} objects published, {} already there",
        summary.uploaded, summary.skipped
    ));
    Ok(summary)
}

/// Uploads `changes` (in publish order) group by group: a group starts only
/// when the one before is complete.
fn upload_in_groups(
    out_dir: &Path,
    target: &dyn Target,
    changes: &[Change],
    concurrency: usize,
    progress: &dyn Progress,
) -> Result<()> {
    progress.start("publishing", changes.len() as u64, Unit::Items);
    let mut start = 0;
    while start < changes.len() {
        let first = group(Kind::of(&changes[start].key));
        let len = changes[start..]
            .iter()
            .take_while(|c| group(Kind::of(&c.key)) == first)
            .count();
        let batch = &changes[start..start + len];
        let outcome = upload_all(out_dir, target, batch, concurrency, progress);
        if !outcome.missing.is_empty() {
            progress.finish("publish stopped");
            return Err(incomplete(target, &outcome, &changes[start + len..]));
        }
        start += len;
    }
    Ok(())
}

/// Uploads exactly the files `keys` of `out_dir` (a shard's segments), in
/// publish order, whatever the target holds; the rest of the folder is left
/// alone. A missing file is an error naming it.
pub fn upload_keys(
    out_dir: &Path,
    target: &dyn Target,
    keys: &[String],
    concurrency: usize,
    progress: &dyn Progress,
) -> Result<Summary> {
    let mut changes = Vec::with_capacity(keys.len());
    for key in keys {
        let path = out_dir.join(key);
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        changes.push(Change {
            key: key.clone(),
            size: meta.len(),
            new: true,
        });
    }
    changes.sort_by_key(|c| publish_order(&c.key));
    let summary = Summary {
        uploaded: changes.len() as u64,
        bytes: changes.iter().map(|c| c.size).sum(),
        ..Default::default()
    };
    if changes.is_empty() {
        return Ok(summary);
    }
    upload_in_groups(out_dir, target, &changes, concurrency, progress)?;
    progress.finish(&format!("{} objects published", summary.uploaded));
    Ok(Summary {
        retries: target.retries(),
        ..summary
    })
}

/// What happened to one group of uploads.
struct Outcome {
    /// Keys not at the target after the group: failed or never attempted,
    /// in publish order.
    missing: Vec<String>,
    /// The first failure.
    first_error: Option<Error>,
}

/// Uploads `batch` with `concurrency` workers, dispatching in order; the
/// first failure stops new dispatches.
fn upload_all(
    out_dir: &Path,
    target: &dyn Target,
    batch: &[Change],
    concurrency: usize,
    progress: &dyn Progress,
) -> Outcome {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let done: Vec<AtomicBool> = batch.iter().map(|_| AtomicBool::new(false)).collect();
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let written = AtomicU64::new(0);
    let workers = concurrency.clamp(1, batch.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(change) = batch.get(i) else {
                    return;
                };
                let path = out_dir.join(&change.key);
                let result = std::fs::read(&path)
                    .map_err(|e| Error::io(&path, e))
                    .and_then(|bytes| target.put(&PutObject::new(&change.key, &bytes)));
                match result {
                    Ok(()) => {
                        done[i].store(true, Ordering::Relaxed);
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                }
                progress.advance(1);
            });
        }
    });
    let missing = batch
        .iter()
        .zip(&done)
        .filter(|(_, d)| !d.load(Ordering::Relaxed))
        .map(|(c, _)| c.key.clone())
        .collect();
    Outcome {
        missing,
        first_error: first_error.into_inner().ok().flatten(),
    }
}

/// The one-line error of an incomplete publish.
fn incomplete(target: &dyn Target, outcome: &Outcome, held_back: &[Change]) -> Error {
    let n = outcome.missing.len();
    let mut names: Vec<&str> = outcome.missing.iter().take(3).map(String::as_str).collect();
    if n > names.len() {
        names.push("…");
    }
    let cause = match &outcome.first_error {
        Some(Error::Publish { message, .. }) => message.clone(),
        Some(e) => e.to_string(),
        None => "unknown error".into(),
    };
    let mut groups: Vec<&str> = held_back
        .iter()
        .map(|c| match Kind::of(&c.key) {
            Kind::Init | Kind::Segment => "segments",
            Kind::Schedule => "schedule",
            Kind::Playlist => "HLS playlists",
            Kind::Mpd => "MPD",
            Kind::Page | Kind::Clock => "page",
        })
        .collect();
    groups.dedup();
    let held = if groups.is_empty() {
        String::new()
    } else {
        format!(
            "; not published yet, so nothing points at the missing objects: {}",
            groups.join(", ")
        )
    };
    Error::Publish {
        target: target.describe(),
        message: format!(
            "{n} object{} missing ({}); first failure: {cause}{held}; run again to finish",
            if n == 1 { " is" } else { "s are" },
            names.join(", ")
        ),
    }
}

/// Sort key: init, then segments by number, then schedule, MPD, page.
fn publish_order(key: &str) -> (Kind, u64, String) {
    let kind = Kind::of(key);
    let n = if kind == Kind::Segment {
        segment_number(key).map_or(u64::MAX, |n| n.0)
    } else {
        0
    };
    (kind, n, key.to_string())
}

/// Everything one publish of a station did: the upload (when the target is
/// not the output folder) and the retention pass.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StationPublish {
    /// The upload; `None` when the target is the output folder.
    pub upload: Option<Summary>,
    /// Segments deleted (or, in a dry run, that would be) at the target.
    pub retention: retention::Summary,
    /// Segments deleted from the local output folder (when it is not the
    /// target).
    pub local_retention: retention::Summary,
}

/// Publishes the station's output folder to `target` (skipped when it is the
/// output folder itself), then applies retention to the target and to the
/// local output folder. `remote` is a listing of the target taken earlier in
/// this run, if any (it is listed otherwise).
pub fn run_station(
    station: &Station,
    target: &dyn Target,
    remote: Option<BTreeMap<String, ObjectInfo>>,
    now: DateTime<Utc>,
    dry_run: bool,
    progress: &dyn Progress,
) -> Result<StationPublish> {
    let options = Options::for_station(station, now, dry_run)?;
    let separate = !target_is_output(station);
    let mut out = StationPublish::default();
    let remote = match remote {
        Some(r) => r,
        None => target.list("")?,
    };
    if separate {
        out.upload = Some(run_with_listing(
            &station.output_dir,
            target,
            &remote,
            &options,
            progress,
        )?);
    }
    if let Some(from) = options.keep {
        // Objects uploaded just now are all at or after `from`, so the
        // listing from before the upload holds every segment to delete.
        out.retention = retention::apply(target, &remote, from, dry_run)?;
        if separate {
            let local = DirTarget::new(&station.output_dir);
            let listing = local.list("")?;
            out.local_retention = retention::apply(&local, &listing, from, dry_run)?;
        }
    }
    Ok(out)
}

/// Human lines for a dry run's changes: one per object, except segments,
/// which are summarised per rendition.
pub fn describe_changes(changes: &[Change]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut per_rendition: BTreeMap<&str, (u64, u64, &str, &str)> = BTreeMap::new();
    for c in changes {
        match (Kind::of(&c.key), c.key.split_once('/')) {
            (Kind::Segment, Some((folder, _))) => {
                let e =
                    per_rendition
                        .entry(folder)
                        .or_insert((0, 0, c.key.as_str(), c.key.as_str()));
                if c.new {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
                e.3 = c.key.as_str();
            }
            _ => lines.push(format!(
                "  {} ({}, {} bytes)",
                c.key,
                if c.new { "new" } else { "changed" },
                c.size
            )),
        }
    }
    let mut seg_lines: Vec<String> = per_rendition
        .iter()
        .map(|(folder, (new, changed, first, last))| {
            format!("  {folder}: {first} … {last} ({new} new, {changed} changed segments)")
        })
        .collect();
    // Segments go first, as they are published first.
    seg_lines.extend(lines);
    seg_lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;

    #[test]
    fn order_puts_audio_before_what_points_at_it() {
        let mut keys = vec![
            "index.html",
            "stream.mpd",
            "schedule/2026-11-24.json",
            "96k/10.m4s",
            "96k/9.m4s",
            "64k/init.mp4",
            "station.json",
        ];
        keys.sort_by_key(|k| publish_order(k));
        assert_eq!(
            keys,
            vec![
                "64k/init.mp4",
                "96k/9.m4s",
                "96k/10.m4s",
                "schedule/2026-11-24.json",
                "stream.mpd",
                "index.html",
                "station.json"
            ]
        );
        assert_eq!(content_type("stream.mpd"), "application/dash+xml");
        assert_eq!(
            cache_control(Kind::of("96k/init.mp4")),
            "public, max-age=31536000, immutable"
        );
    }

    /// A directory target that fails every put of one key.
    struct Flaky {
        inner: DirTarget,
        bad: String,
    }

    impl Target for Flaky {
        fn describe(&self) -> String {
            "flaky".into()
        }
        fn list(&self, prefix: &str) -> Result<BTreeMap<String, ObjectInfo>> {
            self.inner.list(prefix)
        }
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
            self.inner.get(key)
        }
        fn put(&self, object: &PutObject<'_>) -> Result<()> {
            if object.key == self.bad {
                return Err(Error::Publish {
                    target: "flaky".into(),
                    message: format!("{}: injected failure", object.key),
                });
            }
            self.inner.put(object)
        }
        fn delete(&self, keys: &[String]) -> Result<u64> {
            self.inner.delete(keys)
        }
    }

    fn write_station_like(dir: &Path, segments: u64) {
        let w = |k: &str, b: &[u8]| crate::fsutil::write_atomic(&dir.join(k), b).expect("write");
        w("96k/init.mp4", b"init");
        for n in 0..segments {
            w(&format!("96k/{n}.m4s"), format!("segment {n}").as_bytes());
        }
        w("schedule/2026-11-24.json", b"{}");
        w("stream.mpd", b"<MPD/>");
        w("index.html", b"<html>");
    }

    #[test]
    fn republish_copies_nothing_and_a_changed_file_is_found() {
        let out = tempfile::tempdir().expect("tmp");
        let dst = tempfile::tempdir().expect("tmp");
        write_station_like(out.path(), 20);
        let target = DirTarget::new(dst.path());
        let opts = Options {
            concurrency: 4,
            dry_run: false,
            keep: None,
        };
        let first = run(out.path(), &target, &opts, &Silent).expect("publish");
        assert_eq!((first.uploaded, first.skipped), (24, 0));
        let again = run(out.path(), &target, &opts, &Silent).expect("publish");
        assert_eq!((again.uploaded, again.skipped), (0, 24));
        crate::fsutil::write_atomic(&out.path().join("96k/3.m4s"), b"segment X").expect("write");
        let dry = Options {
            dry_run: true,
            ..opts.clone()
        };
        let plan = run(out.path(), &target, &dry, &Silent).expect("dry run");
        assert_eq!(
            plan.changes,
            vec![Change {
                key: "96k/3.m4s".into(),
                size: 9,
                new: false
            }]
        );
        assert_eq!(
            std::fs::read(dst.path().join("96k/3.m4s")).expect("read"),
            b"segment 3",
            "a dry run writes nothing"
        );
    }

    #[test]
    fn a_failed_segment_holds_back_schedule_mpd_and_page_and_names_what_is_missing() {
        let out = tempfile::tempdir().expect("tmp");
        let dst = tempfile::tempdir().expect("tmp");
        write_station_like(out.path(), 50);
        let target = Flaky {
            inner: DirTarget::new(dst.path()),
            bad: "96k/7.m4s".into(),
        };
        let opts = Options {
            concurrency: 1,
            dry_run: false,
            keep: None,
        };
        let err = run(out.path(), &target, &opts, &Silent)
            .expect_err("must fail")
            .to_string();
        assert!(err.contains("96k/7.m4s"), "{err}");
        assert!(err.contains("injected failure"), "{err}");
        assert!(err.contains("schedule, MPD, page"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
        assert!(!dst.path().join("stream.mpd").exists());
        assert!(!dst.path().join("schedule/2026-11-24.json").exists());
        // With the fault gone, a re-run finishes the job.
        let fixed = DirTarget::new(dst.path());
        let s = run(out.path(), &fixed, &opts, &Silent).expect("re-run");
        assert!(s.uploaded >= 1 && s.skipped >= 7, "{s:?}");
        assert_eq!(
            fixed.list("").expect("list").len(),
            DirTarget::new(out.path()).list("").expect("list").len()
        );
    }

    #[test]
    fn old_local_segments_are_not_uploaded() {
        let out = tempfile::tempdir().expect("tmp");
        let dst = tempfile::tempdir().expect("tmp");
        write_station_like(out.path(), 10);
        let opts = Options {
            concurrency: 2,
            dry_run: false,
            keep: Some(retention::Keep {
                from: crate::time::SegmentNumber(6),
                day: chrono::NaiveDate::MIN,
            }),
        };
        let s = run(out.path(), &DirTarget::new(dst.path()), &opts, &Silent).expect("publish");
        assert_eq!(s.too_old, 6);
        assert!(!dst.path().join("96k/5.m4s").exists());
        assert!(dst.path().join("96k/6.m4s").exists());
    }
}
