//! The output layout, both ways: the key of every object a station writes
//! (relative to the output folder and to the publish target, which hold the
//! same tree), and which kind of object a key names.
//!
//! ```text
//! stream.mpd                    the DASH manifest
//! <rendition>/init.mp4          a rendition's CMAF header, e.g. 96k/init.mp4
//! <rendition>/<N>.m4s           segment N of a rendition, e.g. 96k/12.m4s
//! <rendition>/<day>.m3u8        a rendition's HLS playlist of one UTC day
//! hls/<day>.m3u8                the HLS multivariant playlist of one day
//! schedule/<day>.json           the schedule items of one UTC day (state)
//! index.html player.js clock.js style.css station.json   the page
//! artwork.png (or .jpg)         the station image of lock screens
//! clock.txt                     the object whose Date header pages read
//! ```
//!
//! Days are UTC dates written `YYYY-MM-DD`. A rendition folder is the
//! bitrate in kb/s with a `k` (`96k`, see `station::Rendition::id`).
//! Every stage that builds or reads a key does it here: render (segments,
//! init), the job and the schedule store (schedule days, MPD, page), publish
//! and retention (kinds, segment numbers), status, verify and preview.
//!
//! This module imports only [`crate::time`].

use chrono::NaiveDate;

use crate::time::SegmentNumber;

/// The DASH manifest.
pub const MPD: &str = "stream.mpd";

/// The folder of the schedule files, one per UTC day.
pub const SCHEDULE_DIR: &str = "schedule";

/// The folder of the HLS multivariant playlists, one per UTC day.
pub const HLS_DIR: &str = "hls";

/// A rendition's init segment, inside its folder.
pub const INIT_FILE: &str = "init.mp4";

/// The ending of a media segment's file name.
pub const SEGMENT_EXT: &str = ".m4s";

/// `clock.txt`: the object whose `Date` header the page reads.
pub const CLOCK: &str = "clock.txt";

/// `station.json`: the page's station-specific settings.
pub const STATION_JSON: &str = "station.json";

/// `index.html`: the listening page.
pub const INDEX_HTML: &str = "index.html";

/// `player.js`: the page's player set-up.
pub const PLAYER_JS: &str = "player.js";

/// `clock.js`: the page's station clock.
pub const CLOCK_JS: &str = "clock.js";

/// `style.css`: the page's style.
pub const STYLE_CSS: &str = "style.css";

/// `artwork.png`: the station image of lock screens (PNG artwork, or the
/// drawn default).
pub const ARTWORK_PNG: &str = "artwork.png";

/// `artwork.jpg`: the station image when `player.artwork` is a JPEG.
pub const ARTWORK_JPEG: &str = "artwork.jpg";

/// The MPD's `SegmentTemplate@media`: [`segment`] with the template's
/// placeholders.
pub const MPD_MEDIA_TEMPLATE: &str = "$RepresentationID$/$Number$.m4s";

/// The MPD's `SegmentTemplate@initialization`: [`init`] with the template's
/// placeholder.
pub const MPD_INIT_TEMPLATE: &str = "$RepresentationID$/init.mp4";

/// The file name of segment `n` inside its rendition's folder, `12.m4s`.
pub fn segment_file(n: SegmentNumber) -> String {
    format!("{}{SEGMENT_EXT}", n.0)
}

/// The key of segment `n` of a rendition, `96k/12.m4s`.
pub fn segment(rendition: &str, n: SegmentNumber) -> String {
    format!("{rendition}/{}", segment_file(n))
}

/// The key of a rendition's init segment, `96k/init.mp4`.
pub fn init(rendition: &str) -> String {
    format!("{rendition}/{INIT_FILE}")
}

/// A UTC day as keys spell it, `2026-11-24`.
pub fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The key of the schedule file of a UTC day, `schedule/2026-11-24.json`.
pub fn schedule_day(day: NaiveDate) -> String {
    format!("{SCHEDULE_DIR}/{}.json", day_text(day))
}

/// The key of a rendition's HLS playlist of a UTC day,
/// `96k/2026-11-24.m3u8`.
pub fn hls_media(rendition: &str, day: NaiveDate) -> String {
    format!("{rendition}/{}.m3u8", day_text(day))
}

/// The key of the HLS multivariant playlist of a UTC day,
/// `hls/2026-11-24.m3u8`.
pub fn hls_multivariant(day: NaiveDate) -> String {
    format!("{HLS_DIR}/{}.m3u8", day_text(day))
}

/// The channel index at the main target's root (`[{name, title, page,
/// mpd}]`), published when the repository has channels
/// (`pipeline/channels/`); the page reads it to switch between them.
pub const CHANNELS_INDEX: &str = "channels.json";

/// The page's files, in the order they are written (`index.html` last, so a
/// page never loads before what it fetches).
pub const PAGE_FILES: [&str; 6] = [
    STATION_JSON,
    PLAYER_JS,
    CLOCK_JS,
    CLOCK,
    STYLE_CSS,
    INDEX_HTML,
];

/// What kind of object a key names: decides Content-Type, Cache-Control and
/// the publish order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `<rendition>/init.mp4`
    Init,
    /// `<rendition>/<N>.m4s`
    Segment,
    /// `schedule/*.json`
    Schedule,
    /// `stream.mpd`
    Mpd,
    /// `index.html`, `player.js`, `clock.js`, `style.css`, `station.json`
    Page,
    /// `clock.txt`: read for its `Date` header, so never cached
    Clock,
    /// `hls/<day>.m3u8`, `<rendition>/<day>.m3u8`: a day's HLS playlists,
    /// written once the day is rendered to its end
    Playlist,
}

impl Kind {
    /// Classifies an object key.
    pub fn of(key: &str) -> Kind {
        if key.ends_with(SEGMENT_EXT) {
            Kind::Segment
        } else if key.ends_with(INIT_FILE) {
            Kind::Init
        } else if key.starts_with("schedule/") {
            Kind::Schedule
        } else if key.ends_with(".mpd") {
            Kind::Mpd
        } else if key.ends_with(".m3u8") {
            Kind::Playlist
        } else if key == CLOCK {
            Kind::Clock
        } else {
            Kind::Page
        }
    }
}

/// The segment number of a media segment key `<rendition>/<N>.m4s`, where
/// the rendition folder is a bitrate like `96k`; `None` for any other key.
pub fn segment_number(key: &str) -> Option<SegmentNumber> {
    let (folder, file) = key.split_once('/')?;
    let digits = file.strip_suffix(SEGMENT_EXT)?;
    let kbps = folder.strip_suffix('k')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(kbps) || !all_digits(digits) {
        return None;
    }
    digits.parse().ok().map(SegmentNumber)
}

/// The segment number of a segment file name inside a rendition's folder
/// (`12.m4s`, see [`segment_file`]); `None` for any other name.
pub fn segment_file_number(name: &str) -> Option<SegmentNumber> {
    let digits = name.strip_suffix(SEGMENT_EXT)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(SegmentNumber)
}

/// The UTC day a schedule key names (`schedule/2026-11-24.json`); `None` for
/// any other key.
pub fn schedule_day_of(key: &str) -> Option<NaiveDate> {
    let name = key
        .strip_prefix(SCHEDULE_DIR)?
        .strip_prefix('/')?
        .strip_suffix(".json")?;
    NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()
}

/// The UTC day an HLS playlist key names (`hls/2026-11-24.m3u8`,
/// `96k/2026-11-24.m3u8`); `None` for any other key.
pub fn playlist_day_of(key: &str) -> Option<NaiveDate> {
    let (folder, file) = key.split_once('/')?;
    let name = file.strip_suffix(".m3u8")?;
    let rendition = folder
        .strip_suffix('k')
        .is_some_and(|kbps| !kbps.is_empty() && kbps.bytes().all(|b| b.is_ascii_digit()));
    if folder != HLS_DIR && !rendition {
        return None;
    }
    NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_numbers_parse_only_from_rendition_folders() {
        assert_eq!(segment_number("96k/12.m4s"), Some(SegmentNumber(12)));
        assert_eq!(segment_number("160k/0.m4s"), Some(SegmentNumber(0)));
        for k in [
            "96k/init.mp4",
            "schedule/12.m4s",
            "a/96k/12.m4s",
            "96k/12a.m4s",
            "k/1.m4s",
            "96k/.m4s",
            "12.m4s",
        ] {
            assert_eq!(segment_number(k), None, "{k}");
        }
    }

    #[test]
    fn keys_are_built_and_read_back() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("a day");
        assert_eq!(segment("96k", SegmentNumber(12)), "96k/12.m4s");
        assert_eq!(
            segment_number(&segment("96k", SegmentNumber(12))),
            Some(SegmentNumber(12))
        );
        assert_eq!(init("64k"), "64k/init.mp4");
        assert_eq!(Kind::of(&init("64k")), Kind::Init);
        assert_eq!(schedule_day(day), "schedule/2026-11-24.json");
        assert_eq!(schedule_day_of(&schedule_day(day)), Some(day));
        assert_eq!(schedule_day_of("schedule/today.json"), None);
        assert_eq!(Kind::of(&schedule_day(day)), Kind::Schedule);
        assert_eq!(hls_media("96k", day), "96k/2026-11-24.m3u8");
        assert_eq!(hls_multivariant(day), "hls/2026-11-24.m3u8");
        assert_eq!(Kind::of(&hls_media("96k", day)), Kind::Playlist);
        assert_eq!(Kind::of(&hls_multivariant(day)), Kind::Playlist);
        assert_eq!(playlist_day_of(&hls_media("96k", day)), Some(day));
        assert_eq!(playlist_day_of(&hls_multivariant(day)), Some(day));
        for k in [
            "page/2026-11-24.m3u8",
            "96k/today.m3u8",
            "96k/2026-11-24.m4s",
        ] {
            assert_eq!(playlist_day_of(k), None, "{k}");
        }
        assert_eq!(Kind::of(MPD), Kind::Mpd);
        assert_eq!(Kind::of(CLOCK), Kind::Clock);
        for f in PAGE_FILES.iter().filter(|f| **f != CLOCK) {
            assert_eq!(Kind::of(f), Kind::Page, "{f}");
        }
        assert_eq!(
            MPD_MEDIA_TEMPLATE
                .replace("$RepresentationID$", "96k")
                .replace("$Number$", "12"),
            segment("96k", SegmentNumber(12))
        );
        assert_eq!(
            MPD_INIT_TEMPLATE.replace("$RepresentationID$", "96k"),
            init("96k")
        );
    }
}
