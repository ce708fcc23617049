//! The serde mirror of `station.toml` and its validation into a [`Station`].

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Rendition, Station, TargetSpec};
use crate::error::{Error, Result};
use crate::time::{Epoch, Grid, SampleCount, OPUS_FRAME};

/// `station.toml` as written, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStation {
    /// `[station]`
    pub station: RawIdentity,
    /// `[stream]`
    pub stream: RawStream,
    /// `[audio]`
    pub audio: RawAudio,
    /// `[paths]`
    pub paths: RawPaths,
    /// `[publish]`
    pub publish: super::publish::RawPublish,
    /// `[player]`
    pub player: RawPlayer,
    /// `[schedule]`
    pub schedule: super::schedule::RawSchedule,
}

/// `[station]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIdentity {
    /// `station.name`
    pub name: String,
    /// `station.epoch`, RFC 3339
    pub epoch: String,
    /// `station.seed`
    pub seed: u64,
}

impl Default for RawIdentity {
    fn default() -> Self {
        RawIdentity {
            name: "lofiever demo".into(),
            epoch: "2026-01-01T00:00:00Z".into(),
            seed: 1,
        }
    }
}

/// `[stream]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStream {
    /// `stream.segment_ms`
    pub segment_ms: u64,
    /// `stream.chunk_segments`
    pub chunk_segments: u64,
    /// `stream.bitrates_kbps`
    pub bitrates_kbps: Vec<u32>,
    /// `stream.opus_complexity`
    pub opus_complexity: i32,
    /// `stream.hls`
    pub hls: bool,
}

impl Default for RawStream {
    fn default() -> Self {
        RawStream {
            segment_ms: 2000,
            chunk_segments: 30,
            bitrates_kbps: vec![64, 96, 160],
            opus_complexity: 10,
            hls: true,
        }
    }
}

/// `[audio]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAudio {
    /// `audio.loudness_target_lufs`
    pub loudness_target_lufs: f64,
    /// `audio.true_peak_ceiling_dbtp`
    pub true_peak_ceiling_dbtp: f64,
    /// `audio.crossfade_ms`
    pub crossfade_ms: u64,
}

impl Default for RawAudio {
    fn default() -> Self {
        RawAudio {
            loudness_target_lufs: -16.0,
            true_peak_ceiling_dbtp: -1.0,
            crossfade_ms: 6000,
        }
    }
}

/// `[paths]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPaths {
    /// `paths.catalog`
    pub catalog: PathBuf,
    /// `paths.output`
    pub output: PathBuf,
}

impl Default for RawPaths {
    fn default() -> Self {
        RawPaths {
            catalog: "catalog".into(),
            output: "out".into(),
        }
    }
}

/// `[player]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPlayer {
    /// `player.dashjs_url`
    pub dashjs_url: String,
    /// `player.hlsjs_url`
    pub hlsjs_url: String,
    /// `player.shaka_url`
    pub shaka_url: String,
    /// `player.artwork`: a PNG or JPEG for lock screens and media overlays
    /// (default: an image drawn for the station)
    pub artwork: Option<PathBuf>,
    /// `player.target_latency_ms`
    pub target_latency_ms: u64,
    /// `player.latency_min_ms` (default: 3/4 of the target)
    pub latency_min_ms: Option<u64>,
    /// `player.latency_max_ms` (default: 3/2 of the target)
    pub latency_max_ms: Option<u64>,
    /// `player.playback_rate_min`
    pub playback_rate_min: f64,
    /// `player.playback_rate_max`
    pub playback_rate_max: f64,
    /// `player.utc_timing_scheme`
    pub utc_timing_scheme: String,
    /// `player.utc_timing_url`
    pub utc_timing_url: String,
}

impl Default for RawPlayer {
    fn default() -> Self {
        RawPlayer {
            dashjs_url: "https://cdn.dashjs.org/v5.2.1/dash.all.min.js".into(),
            hlsjs_url: "https://cdn.jsdelivr.net/npm/hls.js@1.7.4/dist/hls.min.js".into(),
            shaka_url:
                "https://cdn.jsdelivr.net/npm/shaka-player@5.2.12/dist/shaka-player.compiled.js"
                    .into(),
            artwork: None,
            target_latency_ms: 6000,
            latency_min_ms: None,
            latency_max_ms: None,
            playback_rate_min: 0.96,
            playback_rate_max: 1.04,
            utc_timing_scheme: super::UTC_HTTP_HEAD.into(),
            // The clock object the page and publish write ([`super::layout::CLOCK`]).
            utc_timing_url: super::layout::CLOCK.into(),
        }
    }
}

/// Checks every field of `raw` and builds the [`Station`]. `env_target`, when
/// set, replaces `publish.target`.
pub(super) fn validate(
    raw: RawStation,
    file: &str,
    root: &Path,
    env_target: Option<String>,
) -> Result<Station> {
    let bad = |key: &str, message: String| Error::Config {
        file: file.to_string(),
        key: key.to_string(),
        message,
    };

    let name = raw.station.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(bad(
            "station.name",
            "must be 1 to 200 characters of text".into(),
        ));
    }

    let epoch_text = raw.station.epoch.trim();
    let parsed = DateTime::parse_from_rfc3339(epoch_text).map_err(|e| {
        bad(
            "station.epoch",
            format!("{epoch_text:?} is not an RFC 3339 instant ({e}); write e.g. \"2026-01-01T00:00:00Z\""),
        )
    })?;
    if parsed.offset().local_minus_utc() != 0 {
        return Err(bad(
            "station.epoch",
            format!("{epoch_text:?} is not in UTC; write it with a Z suffix, e.g. \"2026-01-01T00:00:00Z\""),
        ));
    }
    let epoch = Epoch::new(parsed.with_timezone(&Utc)).map_err(|_| {
        bad(
            "station.epoch",
            format!("{epoch_text:?} has a fractional second; the epoch must be a whole second"),
        )
    })?;

    let s = &raw.stream;
    let frame_ms = OPUS_FRAME * 1000 / u64::from(crate::time::SAMPLE_RATE);
    if s.segment_ms == 0 || !s.segment_ms.is_multiple_of(frame_ms) || s.segment_ms > 60_000 {
        return Err(bad(
            "stream.segment_ms",
            format!(
                "{} is not allowed: use a multiple of {frame_ms} ms (one Opus frame) from {frame_ms} to 60000, e.g. 2000",
                s.segment_ms
            ),
        ));
    }
    if s.chunk_segments == 0 || s.chunk_segments > 10_000 {
        return Err(bad(
            "stream.chunk_segments",
            format!(
                "{} is not allowed: use 1 to 10000 segments per chunk, e.g. 30",
                s.chunk_segments
            ),
        ));
    }
    let segment = SampleCount::from_millis(s.segment_ms)?;
    let grid = Grid::new(segment, s.chunk_segments)
        .map_err(|e| bad("stream.segment_ms", e.to_string()))?;

    if s.bitrates_kbps.is_empty() {
        return Err(bad(
            "stream.bitrates_kbps",
            "needs at least one bitrate, e.g. [96]".into(),
        ));
    }
    let mut bitrates = s.bitrates_kbps.clone();
    bitrates.sort_unstable();
    if bitrates.windows(2).any(|w| w[0] == w[1]) {
        return Err(bad(
            "stream.bitrates_kbps",
            format!(
                "{:?} lists a bitrate twice; each rendition needs its own",
                s.bitrates_kbps
            ),
        ));
    }
    if let Some(b) = bitrates.iter().find(|b| !(6..=510).contains(*b)) {
        return Err(bad(
            "stream.bitrates_kbps",
            format!("{b} kb/s is outside what libopus can encode: use 6 to 510 kb/s (64 to 192 suit music)"),
        ));
    }
    let renditions = bitrates
        .iter()
        .map(|b| Rendition { bitrate: b * 1000 })
        .collect();
    if !(0..=10).contains(&s.opus_complexity) {
        return Err(bad(
            "stream.opus_complexity",
            format!(
                "{} is not allowed: use 0 (fastest) to 10 (best)",
                s.opus_complexity
            ),
        ));
    }

    let a = &raw.audio;
    if !(-40.0..=-5.0).contains(&a.loudness_target_lufs) {
        return Err(bad(
            "audio.loudness_target_lufs",
            format!(
                "{} is not allowed: use -40 to -5 LUFS, e.g. -16",
                a.loudness_target_lufs
            ),
        ));
    }
    if !(-12.0..=0.0).contains(&a.true_peak_ceiling_dbtp) {
        return Err(bad(
            "audio.true_peak_ceiling_dbtp",
            format!(
                "{} is not allowed: use -12 to 0 dBTP, e.g. -1",
                a.true_peak_ceiling_dbtp
            ),
        ));
    }
    if a.crossfade_ms > 30_000 {
        return Err(bad(
            "audio.crossfade_ms",
            format!(
                "{} is not allowed: use 0 to 30000 ms, e.g. 6000",
                a.crossfade_ms
            ),
        ));
    }
    let crossfade = SampleCount::from_millis(a.crossfade_ms)?;

    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            root.join(p)
        }
    };
    let catalog_dir = resolve(&raw.paths.catalog);
    let output_dir = resolve(&raw.paths.output);
    let artwork = match &raw.player.artwork {
        Some(p) => Some(read_artwork(&resolve(p), p, &bad)?),
        None => None,
    };

    let (target_text, target_key) = match env_target {
        Some(t) => (t, super::TARGET_ENV.to_string()),
        None => (raw.publish.target.clone(), "publish.target".to_string()),
    };
    let target = parse_target(&target_text, root).map_err(|m| bad(&target_key, m))?;
    let publish = super::publish::validate(&raw.publish, file)?;

    let p = &raw.player;
    if p.dashjs_url.trim().is_empty() {
        return Err(bad(
            "player.dashjs_url",
            "must be a URL or a path on the same host".into(),
        ));
    }
    if p.shaka_url.trim().is_empty() {
        return Err(bad(
            "player.shaka_url",
            "must be a URL or a path on the same host".into(),
        ));
    }
    if !(500..=60_000).contains(&p.target_latency_ms) {
        return Err(bad(
            "player.target_latency_ms",
            format!(
                "{} is not allowed: use 500 to 60000 ms (at least about two segments is wise), e.g. 6000",
                p.target_latency_ms
            ),
        ));
    }
    let live = validate_live_sync(p, &bad)?;

    let schedule = super::schedule::validate(&raw.schedule, file)?;

    Ok(Station {
        name,
        epoch,
        seed: raw.station.seed,
        grid,
        renditions,
        opus_complexity: s.opus_complexity,
        hls: s.hls,
        loudness_target_lufs: a.loudness_target_lufs,
        true_peak_ceiling_dbtp: a.true_peak_ceiling_dbtp,
        crossfade,
        root: root.to_path_buf(),
        catalog_dir,
        output_dir,
        target,
        publish,
        dashjs_url: p.dashjs_url.trim().to_string(),
        hlsjs_url: p.hlsjs_url.trim().to_string(),
        shaka_url: p.shaka_url.trim().to_string(),
        artwork,
        target_latency_ms: p.target_latency_ms,
        live,
        schedule,
        source: file.to_string(),
        channel_index: None,
        page_root: String::new(),
    })
}

/// The largest artwork accepted: a lock screen shows a few hundred pixels,
/// and every listener's page may fetch the image.
const ARTWORK_MAX_BYTES: usize = 2 << 20;

/// Reads `player.artwork` (`path`, written `written` in the file): a PNG or
/// JPEG of at most [`ARTWORK_MAX_BYTES`].
fn read_artwork(
    path: &Path,
    written: &Path,
    bad: &dyn Fn(&str, String) -> Error,
) -> Result<super::Artwork> {
    const KEY: &str = "player.artwork";
    let bytes = std::fs::read(path).map_err(|e| {
        bad(
            KEY,
            format!(
                "cannot read {} ({e}); give the path of a PNG or JPEG image, relative to the station root, or remove the key to use the drawn default",
                written.display()
            ),
        )
    })?;
    if bytes.len() > ARTWORK_MAX_BYTES {
        return Err(bad(
            KEY,
            format!(
                "{} is {} KB; artwork of at most {} KB is enough for a lock screen (512 x 512 pixels is plenty)",
                written.display(),
                bytes.len() / 1024,
                ARTWORK_MAX_BYTES / 1024
            ),
        ));
    }
    let format = imagesize::image_type(&bytes).ok();
    let format = match format {
        Some(imagesize::ImageType::Png) => super::ArtworkFormat::Png,
        Some(imagesize::ImageType::Jpeg) => super::ArtworkFormat::Jpeg,
        _ => {
            return Err(bad(
                KEY,
                format!(
                    "{} is not a PNG or JPEG image; lock screens show those two everywhere, so convert it (e.g. `ffmpeg -i in.webp out.png`)",
                    written.display()
                ),
            ))
        }
    };
    let size = imagesize::blob_size(&bytes).map_err(|e| {
        bad(
            KEY,
            format!(
                "{} is a broken image ({e}); export it again",
                written.display()
            ),
        )
    })?;
    let complete = match format {
        super::ArtworkFormat::Png => png_decodes(&bytes),
        // A JPEG ends with its End Of Image marker.
        super::ArtworkFormat::Jpeg => bytes.ends_with(&[0xFF, 0xD9]),
    };
    if !complete {
        return Err(bad(
            KEY,
            format!(
                "{} is a broken image (cut short or damaged); export it again",
                written.display()
            ),
        ));
    }
    Ok(super::Artwork {
        bytes,
        format,
        width: size.width,
        height: size.height,
    })
}

/// Whether `bytes` decode as a whole PNG.
fn png_decodes(bytes: &[u8]) -> bool {
    let Ok(mut reader) = png::Decoder::new(std::io::Cursor::new(bytes)).read_info() else {
        return false;
    };
    let Some(size) = reader.output_buffer_size() else {
        return false;
    };
    let mut buf = vec![0; size];
    reader.next_frame(&mut buf).is_ok()
}

/// Checks the `[player]` keys that tell players how tightly to hold the
/// live position (everything but the target latency, checked above).
fn validate_live_sync(
    p: &RawPlayer,
    bad: &dyn Fn(&str, String) -> Error,
) -> Result<super::LiveSync> {
    let target = p.target_latency_ms;
    let min = p.latency_min_ms.unwrap_or(target * 3 / 4);
    let max = p.latency_max_ms.unwrap_or(target * 3 / 2);
    if min > target {
        return Err(bad(
            "player.latency_min_ms",
            format!("{min} is above player.target_latency_ms ({target}): use at most the target, e.g. {}", target * 3 / 4),
        ));
    }
    // Players can only go back as far as the time-shift buffer the MPD promises.
    let tsb = super::TIME_SHIFT_BUFFER_MS;
    if max < target || max > tsb {
        return Err(bad(
            "player.latency_max_ms",
            format!("{max} is not allowed: use player.target_latency_ms ({target}) to {tsb} (the time-shift buffer), e.g. {}", target * 3 / 2),
        ));
    }
    let rate = |key: &str, x: f64, lo: f64, hi: f64, eg: &str| -> Result<u32> {
        // Thousandths: the MPD and station.json carry exactly what was meant.
        let permille = (x * 1000.0).round();
        if !x.is_finite() || x < lo || x > hi || (x * 1000.0 - permille).abs() > 1e-6 {
            return Err(bad(
                key,
                format!("{x} is not allowed: use {lo} to {hi} with at most 3 decimals, e.g. {eg}"),
            ));
        }
        Ok(permille as u32)
    };
    // dash.js accepts catch-up rates from 0.5 to 2.0; 1.0 turns that direction off.
    let min_rate = rate(
        "player.playback_rate_min",
        p.playback_rate_min,
        0.5,
        1.0,
        "0.96",
    )?;
    let max_rate = rate(
        "player.playback_rate_max",
        p.playback_rate_max,
        1.0,
        2.0,
        "1.04",
    )?;
    let scheme = p.utc_timing_scheme.trim();
    if !super::UTC_SCHEMES.contains(&scheme) {
        return Err(bad(
            "player.utc_timing_scheme",
            format!(
                "{scheme:?} is not one that dash.js and Shaka Player both read: use one of {}",
                super::UTC_SCHEMES.join(", ")
            ),
        ));
    }
    let url = p.utc_timing_url.trim();
    if url.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(bad(
            "player.utc_timing_url",
            format!("{url:?} is not allowed: give one URL without spaces, relative to the MPD (e.g. \"clock.txt\") or absolute"),
        ));
    }
    Ok(super::LiveSync {
        min_latency_ms: min,
        max_latency_ms: max,
        min_rate_permille: min_rate,
        max_rate_permille: max_rate,
        utc_timing_scheme: scheme.to_string(),
        utc_timing_url: url.to_string(),
    })
}

/// Parses a publish target: `s3://bucket[/prefix]` or a directory path.
fn parse_target(text: &str, root: &Path) -> std::result::Result<TargetSpec, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty: give a directory (e.g. \"out\") or s3://bucket/prefix".into());
    }
    if let Some(rest) = text.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid_bucket {
            return Err(format!(
                "{text:?}: {bucket:?} is not a valid bucket name (3-63 lowercase letters, digits, '-' or '.')"
            ));
        }
        return Ok(TargetSpec::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        });
    }
    // Anything that reads as a URL scheme (two or more letters, then ':')
    // is one, and only s3:// is known: `s3:/radio/live` or `S3://x` is a
    // typo, not a local folder named `s3:`. (One letter is a drive.)
    let scheme = text.split_once(':').map(|(s, _)| s).filter(|s| {
        s.len() >= 2
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if let Some(scheme) = scheme {
        return Err(if scheme.eq_ignore_ascii_case("s3") {
            format!("{text:?} is not an S3 target: write s3://bucket/prefix (two slashes, lowercase s3)")
        } else {
            format!(
                "{text:?}: unknown scheme {scheme:?}; a target is s3://bucket/prefix or a directory \
                 (write a folder whose name has a colon as ./{text})"
            )
        });
    }
    let p = Path::new(text);
    Ok(TargetSpec::Dir(if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    }))
}
