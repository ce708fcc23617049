//! The listening page: static assets (`index.html`, `player.js`,
//! `style.css`, embedded in the binary) plus `station.json`, the only
//! station-specific file, which the page fetches. Keeping station data in JSON
//! (serde) rather than templated into HTML means no value ever needs HTML
//! escaping: the page inserts names as text.

pub mod artwork;

use serde::Serialize;

use crate::station::{layout, Station};

/// `index.html`: the page itself.
pub const INDEX_HTML: &str = include_str!("index.html");
/// `player.js`: player set-up (dash.js, or Shaka Player with `?player=shaka`),
/// live sync, missing-segment skips, now playing, sync display.
pub const PLAYER_JS: &str = include_str!("player.js");
/// `clock.js`: the station clock, measured from the host's `Date` header.
pub const CLOCK_JS: &str = include_str!("clock.js");
/// `clock.txt`: the object whose `Date` header the page reads (published with
/// `Cache-Control: no-store`, so that no cache answers for the host). Its
/// bytes say what it is for whoever opens it.
pub const CLOCK_TXT: &str = "lofiever station clock: listening pages read the Date header of this object to agree on the time.\n";
/// `style.css`.
pub const STYLE_CSS: &str = include_str!("style.css");

/// Where the page looks for dash.js when `player.dashjs_url` fails to load.
pub const DASHJS_FALLBACK: &str = "vendor/dashjs/dash.all.min.js";
/// Where the page looks for Shaka Player when `player.shaka_url` fails to load.
pub const SHAKA_FALLBACK: &str = "vendor/shaka/shaka-player.compiled.js";

/// Where the page looks for hls.js when `player.hlsjs_url` fails to load.
pub const HLSJS_FALLBACK: &str = "vendor/hlsjs/hls.min.js";

#[derive(Serialize)]
struct StationJson<'a> {
    name: &'a str,
    mpd: &'a str,
    clock: &'a str,
    epoch: String,
    sample_rate: u32,
    segment_samples: u64,
    dashjs_url: &'a str,
    dashjs_fallback_url: &'a str,
    shaka_url: &'a str,
    shaka_fallback_url: &'a str,
    hlsjs_url: &'a str,
    hlsjs_fallback_url: &'a str,
    hls: bool,
    artwork: [Artwork<'a>; 1],
    latency: Latency,
    playback_rate: Rate,
    utc_timing: UtcTiming<'a>,
    /// The channel index, relative to the page; absent for a single
    /// station (so its `station.json` is unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    channels: Option<&'a str>,
}

/// Media Session's `MediaImage`: `{ src, sizes, type }`.
#[derive(Serialize)]
struct Artwork<'a> {
    src: &'a str,
    sizes: &'a str,
    #[serde(rename = "type")]
    mime: &'a str,
}

#[derive(Serialize)]
struct UtcTiming<'a> {
    scheme: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct Latency {
    target_ms: u64,
    min_ms: u64,
    max_ms: u64,
}

#[derive(Serialize)]
struct Rate {
    min: f64,
    max: f64,
}

/// `station.json` for the page (the same latency, playback-rate and
/// UTCTiming values as the MPD, so no player default wins by accident).
pub fn station_json(station: &Station, image: &artwork::Image) -> Vec<u8> {
    // A relative URL (a same-host copy) is relative to the target's root.
    let from_root = |url: &str| -> String {
        if url.contains("://") || url.starts_with('/') {
            url.to_string()
        } else {
            format!("{}{url}", station.page_root)
        }
    };
    let t = station.target_latency_ms;
    let live = &station.live;
    let doc = StationJson {
        name: &station.name,
        mpd: layout::MPD,
        clock: layout::CLOCK,
        epoch: station
            .epoch
            .instant()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        sample_rate: crate::time::SAMPLE_RATE,
        segment_samples: station.grid.segment_duration().0,
        dashjs_url: &from_root(&station.dashjs_url),
        dashjs_fallback_url: &from_root(DASHJS_FALLBACK),
        shaka_url: &from_root(&station.shaka_url),
        shaka_fallback_url: &from_root(SHAKA_FALLBACK),
        hlsjs_url: &from_root(&station.hlsjs_url),
        hlsjs_fallback_url: &from_root(HLSJS_FALLBACK),
        hls: station.hls,
        artwork: [Artwork {
            src: image.key,
            sizes: &image.sizes,
            mime: image.mime,
        }],
        latency: Latency {
            target_ms: t,
            min_ms: live.min_latency_ms,
            max_ms: live.max_latency_ms,
        },
        playback_rate: Rate {
            min: f64::from(live.min_rate_permille) / 1000.0,
            max: f64::from(live.max_rate_permille) / 1000.0,
        },
        utc_timing: UtcTiming {
            scheme: &live.utc_timing_scheme,
            url: &live.utc_timing_url,
        },
        channels: station.channel_index.as_deref(),
    };
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("a plain struct serialises");
    bytes.push(b'\n');
    bytes
}

/// Every page file: (path relative to the output root, bytes).
pub fn files(station: &Station) -> Vec<(&'static str, Vec<u8>)> {
    let image = artwork::image(station);
    vec![
        (layout::STATION_JSON, station_json(station, &image)),
        (image.key, image.bytes),
        (layout::PLAYER_JS, PLAYER_JS.as_bytes().to_vec()),
        (layout::CLOCK_JS, CLOCK_JS.as_bytes().to_vec()),
        (layout::CLOCK, CLOCK_TXT.as_bytes().to_vec()),
        (layout::STYLE_CSS, STYLE_CSS.as_bytes().to_vec()),
        (layout::INDEX_HTML, INDEX_HTML.as_bytes().to_vec()),
    ]
}
