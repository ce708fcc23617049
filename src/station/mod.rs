//! `station.toml` → a validated [`Station`].
//!
//! Two layers: [`raw::RawStation`] mirrors the file with serde
//! (`deny_unknown_fields`, every key optional with a default), and one
//! validation turns it into [`Station`], whose fields are valid by
//! construction. Every error names the file, the dotted key, the bad value and
//! what is allowed. A bad config always stops the run.
//!
//! The default configuration is `pipeline/station.toml` of this repository,
//! embedded in the binary, so `lofiever demo` works from any folder.
//!
//! This is the ground floor of the crate (see `docs/ARCHITECTURE.md`): every
//! configuration type and constant that more than one stage reads lives
//! here — the `[schedule]` ([`schedule`]) and `[publish]` ([`publish`])
//! sections, the time-shift buffer depth — and so does the output layout
//! ([`layout`]). It imports only `time` and `error`, so every stage can
//! stand on it without an import circle.

pub mod channel;
pub mod layout;
pub mod publish;
mod raw;
pub mod schedule;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::time::{Epoch, Grid, SampleCount};

pub use publish::PublishConfig;
pub use raw::RawStation;
pub use schedule::ScheduleConfig;

/// The configuration shipped with lofiever (also `pipeline/station.toml`).
pub const EMBEDDED_DEFAULT: &str = include_str!("../../pipeline/station.toml");

/// Name used in errors for the embedded default configuration.
pub const EMBEDDED_NAME: &str = "<embedded default station.toml>";

/// Environment variable that overrides `publish.target`.
pub const TARGET_ENV: &str = "LOFIEVER_TARGET";

/// One rendition of the ABR ladder: an Opus bitrate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// Bitrate in bits per second.
    pub bitrate: u32,
}

impl Rendition {
    /// The rendition's folder name and Representation id, e.g. `96k`.
    pub fn id(&self) -> String {
        format!("{}k", self.bitrate / 1000)
    }
}

/// How far back players may seek: the MPD's `timeShiftBufferDepth`. The
/// player settings are checked against it, each run renders that much before
/// "now", and retention keeps at least that much at the target.
pub const TIME_SHIFT_BUFFER_MS: u64 = 10 * 60 * 1000;

/// `urn:mpeg:dash:utc:http-head:2014`: the time is the `Date` header of a
/// HEAD response (works on any static host; one-second resolution).
pub const UTC_HTTP_HEAD: &str = "urn:mpeg:dash:utc:http-head:2014";

/// The UTCTiming schemes both dash.js and Shaka Player read (ISO/IEC 23009-1
/// Table 22): HTTP HEAD `Date`, or a body holding an ISO 8601 / xs:dateTime.
pub const UTC_SCHEMES: [&str; 3] = [
    UTC_HTTP_HEAD,
    "urn:mpeg:dash:utc:http-iso:2014",
    "urn:mpeg:dash:utc:http-xsdate:2014",
];

/// How players hold their place behind the station clock, beyond the target
/// latency itself ([`Station::target_latency_ms`]). Written into the MPD
/// (ServiceDescription, UTCTiming) and `station.json` from these values only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSync {
    /// Lowest acceptable latency in ms (ServiceDescription `Latency@min`).
    pub min_latency_ms: u64,
    /// Highest acceptable latency in ms (`Latency@max`); further behind,
    /// players jump back to the live point instead of speeding up.
    pub max_latency_ms: u64,
    /// Slowest catch-up playback rate in thousandths (960 = 0.96).
    pub min_rate_permille: u32,
    /// Fastest catch-up playback rate in thousandths (1040 = 1.04).
    pub max_rate_permille: u32,
    /// `UTCTiming@schemeIdUri`, one of [`UTC_SCHEMES`].
    pub utc_timing_scheme: String,
    /// `UTCTiming@value`: a URL, relative to the MPD or absolute.
    pub utc_timing_url: String,
}

/// Where the station is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// A local directory (absolute, resolved against the station root).
    Dir(PathBuf),
    /// An S3-compatible bucket and key prefix (`s3://bucket/prefix`).
    S3 {
        /// The bucket name.
        bucket: String,
        /// The key prefix, without leading or trailing slash (may be empty).
        prefix: String,
    },
}

/// A validated station configuration.
#[derive(Debug, Clone)]
pub struct Station {
    /// Human name of the station.
    pub name: String,
    /// Programme sample 0.
    pub epoch: Epoch,
    /// Seed for every deterministic random choice.
    pub seed: u64,
    /// Segment and chunk grid.
    pub grid: Grid,
    /// The ABR ladder, ascending bitrate.
    pub renditions: Vec<Rendition>,
    /// libopus complexity 0..=10.
    pub opus_complexity: i32,
    /// Whether per-day HLS playlists are published beside the MPD.
    pub hls: bool,
    /// Loudness target in LUFS.
    pub loudness_target_lufs: f64,
    /// Limiter ceiling in dBTP.
    pub true_peak_ceiling_dbtp: f64,
    /// Crossfade length.
    pub crossfade: SampleCount,
    /// The station root: relative paths in the file are resolved against it.
    pub root: PathBuf,
    /// The catalog folder.
    pub catalog_dir: PathBuf,
    /// The output folder.
    pub output_dir: PathBuf,
    /// The publish target.
    pub target: TargetSpec,
    /// How to publish (`[publish]` besides the target).
    pub publish: PublishConfig,
    /// URL the page loads dash.js from.
    pub dashjs_url: String,
    /// Where the page loads hls.js from (for `?player=hlsjs`).
    pub hlsjs_url: String,
    /// URL the page loads Shaka Player from (`index.html?player=shaka`).
    pub shaka_url: String,
    /// The image lock screens and media overlays show (`player.artwork`);
    /// `None`: the page draws one.
    pub artwork: Option<Artwork>,
    /// Latency every player holds behind the station clock.
    pub target_latency_ms: u64,
    /// How tightly players hold that latency (`[player]`).
    pub live: LiveSync,
    /// The scheduler's settings (`[schedule]`).
    pub schedule: ScheduleConfig,
    /// Where this configuration came from (a path or [`EMBEDDED_NAME`]).
    pub source: String,
    /// Where the page finds the channel index (`channels.json`), relative
    /// to the page: set by [`channel::load_all`] when the repository has
    /// channels; `None` (a single station) leaves `station.json` as it was.
    pub channel_index: Option<String>,
    /// The path from the page to the target's root: empty for the main
    /// station, `../` for a channel (one folder down). A relative player
    /// library URL (`vendor/…`, the same-host copy) is written relative to
    /// the root, so that every channel's page loads the one copy there.
    pub page_root: String,
}

/// A station image read from `player.artwork`.
#[derive(Clone, PartialEq, Eq)]
pub struct Artwork {
    /// The file's bytes, published as they are.
    pub bytes: Vec<u8>,
    /// PNG or JPEG.
    pub format: ArtworkFormat,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

impl std::fmt::Debug for Artwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Artwork({:?}, {}x{}, {} bytes)",
            self.format,
            self.width,
            self.height,
            self.bytes.len()
        )
    }
}

/// The image formats every lock screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtworkFormat {
    /// `image/png`
    Png,
    /// `image/jpeg`
    Jpeg,
}

impl ArtworkFormat {
    /// The object key the image is published under.
    pub fn key(self) -> &'static str {
        match self {
            ArtworkFormat::Png => layout::ARTWORK_PNG,
            ArtworkFormat::Jpeg => layout::ARTWORK_JPEG,
        }
    }

    /// Its MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ArtworkFormat::Png => "image/png",
            ArtworkFormat::Jpeg => "image/jpeg",
        }
    }
}

impl Station {
    /// Loads `path`, resolving relative paths against its station root (the
    /// parent of the folder holding the file when that folder is `pipeline`,
    /// else the file's own folder), then checks the epoch is not after `now`.
    pub fn load(path: &Path, now: DateTime<Utc>) -> Result<Station> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let root = if dir.file_name().is_some_and(|n| n == "pipeline") {
            dir.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            dir.to_path_buf()
        };
        Station::from_toml(&text, &path.display().to_string(), &root, now)
    }

    /// The embedded default configuration with `root` as station root.
    pub fn embedded(root: &Path, now: DateTime<Utc>) -> Result<Station> {
        Station::from_toml(EMBEDDED_DEFAULT, EMBEDDED_NAME, root, now)
    }

    /// Parses and validates TOML `text` (named `source` in errors).
    pub fn from_toml(text: &str, source: &str, root: &Path, now: DateTime<Utc>) -> Result<Station> {
        let raw: RawStation = toml::from_str(text).map_err(|e| Error::Config {
            file: source.to_string(),
            key: e
                .span()
                .map(|s| line_and_column(text, s.start))
                .unwrap_or_else(|| "file".into()),
            message: e.message().trim().to_string(),
        })?;
        let env_target = std::env::var(TARGET_ENV).ok().filter(|t| !t.is_empty());
        let station = raw::validate(raw, source, root, env_target)?;
        if station.epoch.instant() > now {
            return Err(Error::Config {
                file: source.to_string(),
                key: "station.epoch".into(),
                message: format!(
                    "{} is in the future (now is {}); the epoch must be a past instant, \
                     e.g. the day the station started",
                    station.epoch.instant().to_rfc3339(),
                    now.format("%Y-%m-%dT%H:%M:%SZ")
                ),
            });
        }
        Ok(station)
    }

    /// The folder a rendition's files live in, relative to the output root.
    pub fn rendition_dir(&self, r: &Rendition) -> String {
        r.id()
    }
}

/// "line L, column C" (from 1) of byte `offset` in `text`, for TOML errors.
fn line_and_column(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

#[cfg(test)]
mod tests;
