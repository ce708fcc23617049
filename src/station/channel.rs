//! Channels: more stations from the same catalog, one file each in
//! `pipeline/channels/<name>.toml` beside `pipeline/station.toml`.
//!
//! A channel file is an overlay on the main station's file: it may set
//! `[station]` (name, epoch, seed) and `[schedule]` (day parts, weights,
//! rules…), and everything else — stream, audio, paths, publish, player —
//! is inherited, so every channel shares the catalog, its analysis cache
//! and the ladder. Two sections are its own: `[channel]` (the publish
//! prefix under the main target, and whether it may play a recording
//! another channel plays at the same moment) and `[filter]` (which tracks
//! of the catalog it plays: tags, mood words, a tempo range, a playlist
//! file).
//!
//! Validation is the station's own ([`Station::from_toml`] on the merged
//! text), so every error names the channel file and the dotted key; the
//! overlay itself is first read on its own so that a wrong type or an
//! unknown key is reported at its line in the channel file.
//!
//! Without a `channels` folder nothing changes: the main station is the
//! whole repository.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::schedule::Descriptor;
use super::{Station, TargetSpec, EMBEDDED_NAME};
use crate::error::{Error, Result};

/// The folder beside `station.toml` that holds the channel files.
pub const CHANNELS_DIR: &str = "channels";

/// The name the main station goes by in the channel index and in
/// `--channel` (it publishes at the target's root).
pub const MAIN: &str = "main";

/// Sections a channel file may set besides its own `[channel]` and
/// `[filter]`; the rest is the main station's.
const OVERRIDABLE: [&str; 2] = ["station", "schedule"];

/// Prefixes a channel may not take: folders the main station publishes at
/// the target's root (a rendition folder `<n>k` is refused too).
const RESERVED: [&str; 5] = [MAIN, "schedule", "hls", "vendor", "channels"];

/// One channel: a station of its own, published under `prefix` of the main
/// station's target.
#[derive(Debug, Clone)]
pub struct Channel {
    /// The channel's name: its file's stem, and by default its prefix.
    pub name: String,
    /// Where it is published, under the main target (one path segment).
    pub prefix: String,
    /// The station it is: the main one overlaid with the channel file, its
    /// target and output folder moved under `prefix`.
    pub station: Station,
    /// Which tracks of the catalog it plays.
    pub filter: Filter,
    /// Whether it may play a recording while another channel plays it.
    pub share_tracks: bool,
    /// The channel file, for errors.
    pub file: String,
}

/// Which tracks of the shared catalog a channel plays: a track must pass
/// every filter given. No filter: the whole catalog.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// At least one of these `catalog.csv` tags (case-insensitive); empty:
    /// any track.
    pub tags: Vec<String>,
    /// At least one of these words in the label of the track's mood, as
    /// learned over the whole catalog (`schedule --report` lists them);
    /// empty: any mood.
    pub moods: Vec<Descriptor>,
    /// Measured tempo within this range in BPM (inclusive); tracks with no
    /// measured tempo are left out.
    pub tempo_bpm: Option<(f64, f64)>,
    /// Only the tracks a playlist file names.
    pub playlist: Option<Playlist>,
}

/// A playlist file: one catalog-relative path or content hash a line;
/// blank lines and lines starting with `#` are skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Playlist {
    /// The file, for errors.
    pub path: PathBuf,
    /// Each entry with its line number (from 1).
    pub entries: Vec<(usize, String)>,
}

impl Filter {
    /// True when the filter lets every track through.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
            && self.moods.is_empty()
            && self.tempo_bpm.is_none()
            && self.playlist.is_none()
    }
}

/// `[channel]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawChannelSection {
    /// `channel.prefix`: default the file's stem.
    prefix: Option<String>,
    /// `channel.share_tracks`
    share_tracks: bool,
}

/// `[filter]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFilter {
    /// `filter.tags`
    tags: Vec<String>,
    /// `filter.moods`: mood words, e.g. `["calm", "dark"]`.
    moods: Vec<String>,
    /// `filter.tempo_bpm = [min, max]`
    tempo_bpm: Option<Vec<f64>>,
    /// `filter.playlist`: a file relative to the station root.
    playlist: Option<PathBuf>,
}

/// A channel file as written: read once on its own for types and unknown
/// keys (so errors point at its lines); its values are then merged over
/// the main station's file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannelFile {
    #[serde(default)]
    channel: RawChannelSection,
    #[serde(default)]
    filter: RawFilter,
    #[serde(default)]
    station: Option<super::raw::RawIdentity>,
    #[serde(default)]
    schedule: Option<super::schedule::RawSchedule>,
}

/// The channel folder of a station loaded from `source` (the folder of its
/// `station.toml`), `None` for the embedded default.
pub fn channels_dir(main: &Station) -> Option<PathBuf> {
    if main.source == EMBEDDED_NAME {
        return None;
    }
    let parent = Path::new(&main.source).parent()?;
    Some(parent.join(CHANNELS_DIR))
}

/// Loads every `*.toml` of the main station's channel folder, in name
/// order; none when there is no such folder. Two channels with one publish
/// prefix, or a prefix the main station uses, are an error naming both.
/// With channels, every station's page is pointed at the channel index.
pub fn load_all(main: &mut Station, now: DateTime<Utc>) -> Result<Vec<Channel>> {
    let channels = load_channels(main, now)?;
    if !channels.is_empty() {
        main.channel_index = Some(super::layout::CHANNELS_INDEX.to_string());
    }
    Ok(channels)
}

fn load_channels(main: &Station, now: DateTime<Utc>) -> Result<Vec<Channel>> {
    let Some(dir) = channels_dir(main) else {
        return Ok(Vec::new());
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(&dir, e))?.path();
        if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let main_text =
        std::fs::read_to_string(&main.source).map_err(|e| Error::io(Path::new(&main.source), e))?;
    let main_table: toml::Table = toml::from_str(&main_text).map_err(|e| Error::Config {
        file: main.source.clone(),
        key: "file".into(),
        message: e.message().trim().to_string(),
    })?;
    let mut channels: Vec<Channel> = Vec::with_capacity(files.len());
    for path in &files {
        let channel = load(path, main, &main_table, now)?;
        if let Some(other) = channels.iter().find(|c| c.prefix == channel.prefix) {
            return Err(Error::Config {
                file: channel.file.clone(),
                key: "channel.prefix".into(),
                message: format!(
                    "{:?} is the publish prefix of {} too: give each channel its own \
                     (channel.prefix, default the file name)",
                    channel.prefix, other.file
                ),
            });
        }
        channels.push(channel);
    }
    Ok(channels)
}

/// Loads one channel file over the main station's table.
fn load(
    path: &Path,
    main: &Station,
    main_table: &toml::Table,
    now: DateTime<Utc>,
) -> Result<Channel> {
    let file = path.display().to_string();
    let bad = |key: &str, message: String| Error::Config {
        file: file.clone(),
        key: key.to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    // Types and unknown keys first, with the line in this file.
    let raw: RawChannelFile = toml::from_str(&text).map_err(|e| {
        let message = e.message().trim().to_string();
        let message = if message.starts_with("unknown field") {
            format!(
                "{message}; a channel file sets [channel], [filter], [station] and [schedule] \
                 only, and inherits the rest from {}",
                main.source
            )
        } else {
            message
        };
        bad(
            &e.span()
                .map(|s| super::line_and_column(&text, s.start))
                .unwrap_or_else(|| "file".into()),
            message,
        )
    })?;
    drop((raw.station, raw.schedule));
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (prefix, prefix_key) = match &raw.channel.prefix {
        Some(p) => (p.trim().to_string(), "channel.prefix"),
        None => (stem.clone(), "file name"),
    };
    check_prefix(&prefix).map_err(|m| bad(prefix_key, m))?;
    let filter = filter(&raw.filter, &main.root).map_err(|(k, m)| bad(k, m))?;

    // The overlay: [station] and [schedule] merged over the main file.
    let overlay: toml::Table = toml::from_str(&text).map_err(|e| bad("file", e.to_string()))?;
    let mut merged = main_table.clone();
    for section in OVERRIDABLE {
        if let Some(v) = overlay.get(section) {
            merge(&mut merged, section, v.clone());
        }
    }
    let merged_text = toml::to_string(&merged).map_err(|e| bad("file", e.to_string()))?;
    let mut station = Station::from_toml(&merged_text, &file, &main.root, now)?;
    station.target = under(&main.target, &prefix);
    station.output_dir = channel_output(main, &prefix);
    station.page_root = "../".to_string();
    station.channel_index = Some(format!("../{}", super::layout::CHANNELS_INDEX));
    Ok(Channel {
        name: stem,
        prefix,
        station,
        filter,
        share_tracks: raw.channel.share_tracks,
        file,
    })
}

/// Merges `value` into `table[key]`: tables key by key, anything else
/// (numbers, strings, arrays such as `day_parts`) replaced.
fn merge(table: &mut toml::Table, key: &str, value: toml::Value) {
    match (table.get_mut(key), value) {
        (Some(toml::Value::Table(old)), toml::Value::Table(new)) => {
            for (k, v) in new {
                merge(old, &k, v);
            }
        }
        (_, v) => {
            table.insert(key.to_string(), v);
        }
    }
}

/// A prefix is one lowercase path segment that names nothing the main
/// station publishes.
fn check_prefix(p: &str) -> std::result::Result<(), String> {
    let ok_chars = !p.is_empty()
        && p.len() <= 63
        && p.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok_chars {
        return Err(format!(
            "{p:?} is not a channel prefix: use 1 to 63 lowercase letters, digits, '-' or '_', \
             starting with a letter or digit, e.g. \"study\""
        ));
    }
    let rendition = p
        .strip_suffix('k')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if rendition || RESERVED.contains(&p) {
        return Err(format!(
            "{p:?} is a name the main station publishes at the target's root: choose another"
        ));
    }
    Ok(())
}

/// Checks `[filter]`; errors are (key, message).
fn filter(raw: &RawFilter, root: &Path) -> std::result::Result<Filter, (&'static str, String)> {
    let mut tags = Vec::with_capacity(raw.tags.len());
    for t in &raw.tags {
        let t = t.trim().to_lowercase();
        if t.is_empty() {
            return Err(("filter.tags", "holds an empty tag: remove it".into()));
        }
        tags.push(t);
    }
    let moods = raw
        .moods
        .iter()
        .map(|w| w.parse::<Descriptor>().map_err(|e| ("filter.moods", e)))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let tempo_bpm = match raw.tempo_bpm.as_deref() {
        None => None,
        Some(&[lo, hi]) if lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= hi => {
            Some((lo, hi))
        }
        Some(v) => {
            return Err((
                "filter.tempo_bpm",
                format!(
                "{v:?} is not a range: give [min, max] in BPM with 0 < min <= max, e.g. [70, 90]"
            ),
            ))
        }
    };
    let playlist = match &raw.playlist {
        None => None,
        Some(p) => {
            let path = if p.is_absolute() {
                p.clone()
            } else {
                root.join(p)
            };
            let text = std::fs::read_to_string(&path).map_err(|e| {
                (
                    "filter.playlist",
                    format!(
                        "{}: {e}; give a file relative to the station root",
                        path.display()
                    ),
                )
            })?;
            let entries: Vec<(usize, String)> = text
                .lines()
                .enumerate()
                .map(|(i, l)| (i + 1, l.trim().to_string()))
                .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
                .collect();
            if entries.is_empty() {
                return Err((
                    "filter.playlist",
                    format!(
                        "{} names no track: write one catalog path or content hash a line",
                        path.display()
                    ),
                ));
            }
            Some(Playlist { path, entries })
        }
    };
    Ok(Filter {
        tags,
        moods,
        tempo_bpm,
        playlist,
    })
}

/// The main target with `prefix` below it.
fn under(target: &TargetSpec, prefix: &str) -> TargetSpec {
    match target {
        TargetSpec::Dir(p) => TargetSpec::Dir(p.join(prefix)),
        TargetSpec::S3 {
            bucket,
            prefix: root,
        } => TargetSpec::S3 {
            bucket: bucket.clone(),
            prefix: if root.is_empty() {
                prefix.to_string()
            } else {
                format!("{root}/{prefix}")
            },
        },
    }
}

/// A channel's output folder. When the main target is the main output
/// folder, the channel's is its own target (`<output>/<prefix>`), so nothing
/// is copied; otherwise it is `<output>-channels/<prefix>`, outside the
/// main output folder, whose every file the main station publishes.
fn channel_output(main: &Station, prefix: &str) -> PathBuf {
    let target_is_output = match &main.target {
        TargetSpec::Dir(p) => {
            p == &main.output_dir
                || matches!(
                    (std::fs::canonicalize(p), std::fs::canonicalize(&main.output_dir)),
                    (Ok(a), Ok(b)) if a == b
                )
        }
        TargetSpec::S3 { .. } => false,
    };
    if target_is_output {
        return main.output_dir.join(prefix);
    }
    let name = main
        .output_dir
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    main.output_dir
        .with_file_name(format!("{name}-channels"))
        .join(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(channels: &[(&str, &str)]) -> (tempfile::TempDir, Station) {
        let dir = tempfile::tempdir().expect("temp dir");
        let pipeline = dir.path().join("pipeline");
        std::fs::create_dir_all(pipeline.join(CHANNELS_DIR)).expect("mkdir");
        std::fs::write(
            pipeline.join("station.toml"),
            "[station]\nname = \"Main\"\nseed = 3\n[schedule.rotation]\ncoverage_days = 3\n",
        )
        .expect("write");
        for (name, text) in channels {
            std::fs::write(pipeline.join(CHANNELS_DIR).join(name), text).expect("write");
        }
        let main = Station::load(&pipeline.join("station.toml"), Utc::now()).expect("main");
        (dir, main)
    }

    fn error_of(channels: &[(&str, &str)]) -> (String, String, String) {
        let (_dir, mut main) = setup(channels);
        match load_all(&mut main, Utc::now()) {
            Err(Error::Config { file, key, message }) => (file, key, message),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn a_channel_inherits_the_main_station_and_overrides_its_own_keys() {
        let (_dir, main) = setup(&[
            (
                "study.toml",
                "[station]\nname = \"Study\"\n[schedule.rotation]\nrepeat_window_hours = 3.0\n\
                 [[schedule.day_parts]]\nat = \"00:00\"\nname = \"all day\"\nenergy = 0.2\ntempo = 0.2\n\
                 [filter]\ntags = [\"Calm\"]\nmoods = [\"calm\", \"Dark\"]\ntempo_bpm = [60, 90]\n",
            ),
            (
                "sleep.toml",
                "[channel]\nprefix = \"zz\"\nshare_tracks = true\n",
            ),
        ]);
        let mut main = main;
        let chans = load_all(&mut main, Utc::now()).expect("valid");
        assert_eq!(main.channel_index.as_deref(), Some("channels.json"));
        assert_eq!(
            chans[0].station.channel_index.as_deref(),
            Some("../channels.json")
        );
        let names: Vec<&str> = chans.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["sleep", "study"]);
        let (sleep, study) = (&chans[0], &chans[1]);
        assert_eq!(sleep.prefix, "zz");
        assert!(sleep.share_tracks && !study.share_tracks);
        assert_eq!(sleep.station.name, "Main");
        assert_eq!(study.station.name, "Study");
        assert_eq!(study.station.seed, 3, "inherited");
        // The rotation table is merged key by key, not replaced.
        let (r, m) = (&study.station.schedule.rotation, &main.schedule.rotation);
        assert_eq!(r.coverage, m.coverage, "coverage_days = 3 inherited");
        assert_eq!(r.repeat_window.0, 3 * 3600 * 48_000);
        assert_ne!(m.repeat_window, r.repeat_window);
        assert_ne!(study.station.schedule.day_parts, main.schedule.day_parts);
        assert_eq!(study.filter.tags, ["calm"]);
        assert_eq!(study.filter.moods, [Descriptor::Calm, Descriptor::Dark]);
        assert_eq!(study.filter.tempo_bpm, Some((60.0, 90.0)));
        assert_eq!(study.station.target, under(&main.target, "study"));
        assert_eq!(study.station.output_dir, main.output_dir.join("study"));
    }

    #[test]
    fn bad_channel_files_name_the_file_and_the_key() {
        let (file, key, message) = error_of(&[
            ("a.toml", "[channel]\nprefix = \"same\"\n"),
            ("b.toml", "[channel]\nprefix = \"same\"\n"),
        ]);
        assert!(file.ends_with("b.toml"), "{file}");
        assert_eq!(key, "channel.prefix");
        assert!(message.contains("a.toml"), "{message}");

        for (text, want) in [
            ("[publish]\ntarget = \"x\"\n", "line 1, column 2"),
            ("[filter]\ntempo_bpm = [90, 60]\n", "filter.tempo_bpm"),
            ("[filter]\ntags = [\"\"]\n", "filter.tags"),
            ("[filter]\nmoods = [\"sleepy\"]\n", "filter.moods"),
            ("[filter]\nplaylist = \"nowhere.txt\"\n", "filter.playlist"),
            ("[channel]\nprefix = \"96k\"\n", "channel.prefix"),
            ("[channel]\nprefix = \"Bad Name\"\n", "channel.prefix"),
            ("[schedule.moods]\nk_min = \"x\"\n", "line 2, column 9"),
            ("[schedule.moods]\nk_min = 99\n", "schedule.moods.k_min"),
        ] {
            let (file, key, _) = error_of(&[("c.toml", text)]);
            assert!(file.ends_with("c.toml"), "{file}");
            assert_eq!(key, want, "{text}");
        }
        let (_, key, _) = error_of(&[("Main Thing.toml", "")]);
        assert_eq!(key, "file name");
    }
}
