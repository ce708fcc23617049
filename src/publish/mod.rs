//! `lofiever publish`: copy the rendered output to the target, in an order
//! that never shows a listener something that points at missing audio.
//!
//! Order (DESIGN.md, "State lives in the publish target"): media segments
//! earliest first (init segments before them), then schedule files, then the
//! MPD and the page. Objects already at the target with the same size and
//! content are skipped, so a re-run copies nothing.
//!
//! A [`Target`] is where the station lives; the directory target is here; the
//! S3 target is issue 6. Skip or stop: any failed write stops the run with
//! the object's name; the next run finishes the job (every write is atomic).

mod dir;

use std::collections::BTreeMap;
use std::path::Path;

pub use dir::DirTarget;

use crate::error::{Error, Result};
use crate::progress::{Progress, Unit};
use crate::station::{Station, TargetSpec};

/// What kind of file an object is: decides Content-Type, Cache-Control and
/// upload order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `<rendition>/init.mp4`
    Init,
    /// `<rendition>/<N>.m4s`
    Segment,
    /// `schedule/*.json`
    Schedule,
    /// `stream.mpd`
    Mpd,
    /// `index.html`, `player.js`, `style.css`, `station.json`
    Page,
}

impl Kind {
    /// Classifies an object key.
    pub fn of(key: &str) -> Kind {
        if key.ends_with(".m4s") {
            Kind::Segment
        } else if key.ends_with("init.mp4") {
            Kind::Init
        } else if key.starts_with("schedule/") {
            Kind::Schedule
        } else if key.ends_with(".mpd") {
            Kind::Mpd
        } else {
            Kind::Page
        }
    }

    /// The HTTP Content-Type for `key`.
    pub fn content_type(key: &str) -> &'static str {
        match key.rsplit('.').next().unwrap_or("") {
            "mpd" => "application/dash+xml",
            "m4s" | "mp4" => "audio/mp4",
            "json" => "application/json",
            "html" => "text/html; charset=utf-8",
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            _ => "application/octet-stream",
        }
    }

    /// The Cache-Control for this kind: media is immutable, the rest short.
    pub fn cache_control(self) -> &'static str {
        match self {
            Kind::Init | Kind::Segment => "public, max-age=31536000, immutable",
            _ => "public, max-age=60",
        }
    }
}

/// An object at the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
}

/// Where a station is published. Contract: `put` is atomic per object (a
/// reader sees the old object or the new one); `list` returns every object
/// under the prefix; errors are final for this run (a re-run retries).
pub trait Target: Send + Sync {
    /// A human description (path or URL), never containing credentials.
    fn describe(&self) -> String;
    /// Every object under `prefix` (a folder like `schedule/`, or "" for all).
    fn list(&self, prefix: &str) -> Result<BTreeMap<String, ObjectInfo>>;
    /// Reads an object, `None` if absent.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Writes an object.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()>;
}

/// Opens the station's target.
pub fn open(station: &Station) -> Result<Box<dyn Target>> {
    match &station.target {
        TargetSpec::Dir(p) => Ok(Box::new(DirTarget::new(p))),
        TargetSpec::S3 { bucket, prefix } => Err(Error::Publish {
            target: format!("s3://{bucket}/{prefix}"),
            message: "S3 targets are not available in this version yet; publish to a directory \
                      and sync it, or set LOFIEVER_TARGET to a folder"
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

/// What a publish did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Objects written.
    pub uploaded: u64,
    /// Objects already up to date.
    pub skipped: u64,
}

/// Copies every file of `out_dir` to `target`, in publish order, skipping
/// objects that are already identical.
pub fn run(out_dir: &Path, target: &dyn Target, progress: &dyn Progress) -> Result<Summary> {
    let local = DirTarget::new(out_dir).list("")?;
    let remote = target.list("")?;
    let mut keys: Vec<(&String, &ObjectInfo)> = local.iter().collect();
    keys.sort_by_key(|(k, _)| publish_order(k));
    progress.start("publishing", keys.len() as u64, Unit::Items);
    let mut summary = Summary::default();
    for (key, info) in keys {
        let bytes =
            std::fs::read(out_dir.join(key)).map_err(|e| Error::io(out_dir.join(key), e))?;
        let same = match remote.get(key) {
            Some(r) if r.size == info.size => target.get(key)?.as_deref() == Some(bytes.as_slice()),
            _ => false,
        };
        if same {
            summary.skipped += 1;
        } else {
            target.put(key, &bytes)?;
            summary.uploaded += 1;
        }
        progress.advance(1);
    }
    progress.finish(&format!(
        "{} objects published, {} already there",
        summary.uploaded, summary.skipped
    ));
    Ok(summary)
}

/// Sort key: init, then segments by number, then schedule, MPD, page.
fn publish_order(key: &str) -> (Kind, u64, String) {
    let kind = Kind::of(key);
    let n = if kind == Kind::Segment {
        key.rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".m4s"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX)
    } else {
        0
    };
    (kind, n, key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(Kind::content_type("stream.mpd"), "application/dash+xml");
        assert_eq!(
            Kind::of("96k/init.mp4").cache_control(),
            "public, max-age=31536000, immutable"
        );
    }
}
