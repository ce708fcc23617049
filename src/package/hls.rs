//! HLS playlists over the same CMAF segments as the MPD (RFC 8216), for
//! players that speak only HLS: Safari's native `<audio src=…m3u8>` on older
//! iPhones, hls.js, VLC, smart speakers.
//!
//! A live HLS playlist must change as time passes, and lofiever publishes
//! nothing that changes; so a station publishes one **VOD playlist per UTC
//! day and rendition**, listing that day's segments by their real URLs, and
//! one **multivariant playlist per day** with the ladder. The wall-clock time
//! of the segments is explicit (`#EXT-X-PROGRAM-DATE-TIME`), so a page can
//! seek to the moment every DASH listener hears; a plain HLS app starts at the
//! beginning of the day. A day's playlists are written once the day is
//! rendered to its end and are never rewritten.
//!
//! Which segments belong to a day: those whose first sample falls in it
//! (`[day 00:00, next day 00:00)` UTC). The playlist starts at the first of
//! them the station has (a station first rendered at noon starts its first
//! day at noon) and runs without a gap to the day's last segment.
//!
//! Pure text functions; the driver decides when a day is complete.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::error::Result;
use crate::station::{layout, Station};
use crate::time::{SampleCount, SampleIndex, SegmentNumber, SAMPLE_RATE};

/// `#EXT-X-VERSION`: 7 for `#EXT-X-MAP` in a playlist without I-frame-only
/// segments (RFC 8216 §7: version 6 allows EXT-X-MAP there; 7 is what
/// current packagers write for fMP4 and what every current player reads).
const VERSION: u32 = 7;

/// A program date-time is repeated this often (in segments of the playlist),
/// besides the first segment: every segment's time already follows from the
/// first and the durations (RFC 8216 §4.3.2.6), and repeating it every
/// segment would triple the size of a 43,200-segment day.
pub const PDT_EVERY: u64 = 1800;

/// One rendition as a multivariant playlist lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The rendition's folder, e.g. `96k`.
    pub id: String,
    /// Peak bit rate in bit/s (`BANDWIDTH`).
    pub bandwidth: u64,
}

/// `"<duration>"` of `#EXTINF`, exact: samples / 48 000 s with as many
/// decimals as it takes (a segment of 96 000 samples is `2.000`).
fn seconds_text(samples: u64) -> String {
    let whole = samples / u64::from(SAMPLE_RATE);
    let frac = samples % u64::from(SAMPLE_RATE);
    // 48 000 = 2^7 · 3 · 5^3: a fraction of a second in samples is exact in
    // decimals only when it has no factor 3 left; segments are whole 20 ms
    // Opus frames (960 samples), which always are: 960 / 48000 = 0.02.
    let micros = frac * 1_000_000 / u64::from(SAMPLE_RATE);
    let mut s = format!("{whole}.{micros:06}");
    // At least milliseconds, more only when needed.
    while s.ends_with('0') && s.len() > s.find('.').unwrap_or(0) + 4 {
        s.pop();
    }
    s
}

fn instant_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The media playlist of one rendition for one day: segments `first..=last`
/// (consecutive, all present), starting at instant `first_start`, each
/// `segment` samples long. URIs are relative to the playlist, which lives in
/// the rendition's folder next to `init.mp4` and the segments.
pub fn media_playlist(
    first: SegmentNumber,
    last: SegmentNumber,
    first_start: DateTime<Utc>,
    segment: SampleCount,
) -> String {
    let dur = seconds_text(segment.0);
    // EXT-X-TARGETDURATION: the segment duration rounded to the nearest
    // integer (RFC 8216 §4.3.3.1).
    let target = (segment.0 + u64::from(SAMPLE_RATE) / 2) / u64::from(SAMPLE_RATE);
    let mut out = String::with_capacity(((last.0 - first.0 + 1) * 32) as usize + 256);
    out.push_str("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{VERSION}");
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{}", target.max(1));
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", first.0);
    out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
    out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    out.push_str("#EXT-X-MAP:URI=\"init.mp4\"\n");
    let ms_per_segment = segment.0 * 1000 / u64::from(SAMPLE_RATE);
    for n in first.0..=last.0 {
        let i = n - first.0;
        if i.is_multiple_of(PDT_EVERY) {
            // Whole milliseconds: segments are whole 20 ms frames, so every
            // segment starts on a millisecond.
            let t = first_start + chrono::Duration::milliseconds((i * ms_per_segment) as i64);
            let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{}", instant_text(t));
        }
        let _ = writeln!(out, "#EXTINF:{dur},\n{n}.m4s");
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// The multivariant playlist of one day: one `#EXT-X-STREAM-INF` per
/// rendition, pointing at `../<rendition>/<day>.m3u8` (it lives in `hls/`).
/// `codecs` is the RFC 6381 codecs parameter, as in the MPD.
pub fn multivariant_playlist(day: NaiveDate, variants: &[Variant], codecs: &str) -> String {
    let mut out = String::from("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{VERSION}");
    out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    for v in variants {
        let _ = writeln!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"{codecs}\"\n../{}/{}.m3u8",
            v.bandwidth,
            v.id,
            day.format("%Y-%m-%d")
        );
    }
    out
}

/// The playlists (key, bytes) of every UTC day from `first_day` on that is
/// rendered to its end before `rendered_until` and has no multivariant
/// playlist yet (`present` answers for the output folder and the target):
/// a day's playlists are written once and never again. Each lists the
/// unbroken run of segments that `present` finds ending at the day's last
/// segment, so a station's first day starts where its first render did.
pub fn new_day_playlists(
    station: &Station,
    first_day: NaiveDate,
    rendered_until: SampleIndex,
    present: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<u8>)>> {
    let grid = station.grid;
    let Some(first_rendition) = station.renditions.first() else {
        return Ok(Vec::new());
    };
    let r0 = first_rendition.id();
    let midnight = |d: NaiveDate| -> Result<Option<SampleIndex>> {
        let t = d.and_time(chrono::NaiveTime::MIN).and_utc();
        if t < station.epoch.instant() {
            return Ok(None);
        }
        Ok(Some(station.epoch.sample_at(t)?))
    };
    // The first segment whose first sample is at or after `s`.
    let first_from = |s: SampleIndex| -> Result<SegmentNumber> {
        let n = grid.segment_of(s);
        Ok(if grid.segment_start(n)? < s {
            SegmentNumber(n.0 + 1)
        } else {
            n
        })
    };
    let variants: Vec<Variant> = station
        .renditions
        .iter()
        .map(|r| Variant {
            id: r.id(),
            bandwidth: peak_bandwidth(r.bitrate),
        })
        .collect();
    let mut out = Vec::new();
    let mut day = first_day;
    while let Some(next) = day.succ_opt() {
        let Some(end) = midnight(next)? else {
            day = next;
            continue;
        };
        if end > rendered_until {
            break;
        }
        let key = layout::hls_multivariant(day);
        let start = midnight(day)?.unwrap_or(SampleIndex(0));
        let (lo, hi) = (first_from(start)?, first_from(end)?);
        if !present(&key) && hi.0 > lo.0 {
            let last = SegmentNumber(hi.0 - 1);
            let seg = |n: u64| layout::segment(&r0, SegmentNumber(n));
            if present(&seg(last.0)) {
                let mut first = last.0;
                while first > lo.0 && present(&seg(first - 1)) {
                    first -= 1;
                }
                let first = SegmentNumber(first);
                let first_start = station.epoch.instant_of(grid.segment_start(first)?)?;
                for v in &variants {
                    let text = media_playlist(first, last, first_start, grid.segment_duration());
                    out.push((layout::hls_media(&v.id, day), text.into_bytes()));
                }
                let text = multivariant_playlist(day, &variants, super::OPUS_CODECS);
                out.push((key, text.into_bytes()));
            } else {
                tracing::warn!(
                    "HLS: no playlist for {day}: its last segment {} is missing",
                    seg(last.0)
                );
            }
        }
        day = next;
    }
    Ok(out)
}

/// `BANDWIDTH` of a rendition: the peak bit rate of its segments. Opus is
/// variable-rate around the configured rate; a fifth more covers the peaks
/// of a two-second segment of music (HLS asks for the peak, and players
/// only use it to choose a rendition).
fn peak_bandwidth(bitrate: u32) -> u64 {
    u64::from(bitrate) * 6 / 5
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn durations_are_exact_decimals() {
        assert_eq!(seconds_text(96_000), "2.000");
        assert_eq!(seconds_text(960), "0.020");
        assert_eq!(seconds_text(48_000 * 6 + 960 * 3), "6.060");
        assert_eq!(seconds_text(48_000 * 60), "60.000");
    }

    #[test]
    fn a_media_playlist_lists_the_segments_with_their_time() {
        let start = Utc
            .with_ymd_and_hms(2026, 12, 3, 0, 0, 0)
            .single()
            .expect("valid");
        let text = media_playlist(
            SegmentNumber(10),
            SegmentNumber(12),
            start,
            SampleCount(96_000),
        );
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n\
             #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-12-03T00:00:00.000Z\n\
             #EXTINF:2.000,\n10.m4s\n#EXTINF:2.000,\n11.m4s\n#EXTINF:2.000,\n12.m4s\n\
             #EXT-X-ENDLIST\n"
        );
    }

    #[test]
    fn the_program_date_time_is_repeated_and_right_each_time() {
        let start = Utc
            .with_ymd_and_hms(2026, 12, 3, 0, 0, 1)
            .single()
            .expect("valid");
        let text = media_playlist(
            SegmentNumber(0),
            SegmentNumber(2 * PDT_EVERY),
            start,
            SampleCount(96_000),
        );
        let pdts: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:"))
            .collect();
        assert_eq!(
            pdts,
            [
                "2026-12-03T00:00:01.000Z",
                "2026-12-03T01:00:01.000Z",
                "2026-12-03T02:00:01.000Z"
            ]
        );
        assert_eq!(text.matches("#EXTINF:").count() as u64, 2 * PDT_EVERY + 1);
    }

    #[test]
    fn odd_segment_lengths_round_the_target_duration() {
        let start = Utc
            .with_ymd_and_hms(2026, 12, 3, 0, 0, 0)
            .single()
            .expect("valid");
        let text = media_playlist(
            SegmentNumber(0),
            SegmentNumber(0),
            start,
            SampleCount(3 * 48_000 / 2),
        );
        assert!(text.contains("#EXT-X-TARGETDURATION:2\n"), "{text}");
        assert!(text.contains("#EXTINF:1.500,\n"), "{text}");
    }

    #[test]
    fn the_multivariant_playlist_points_at_each_rendition() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).expect("valid");
        let text = multivariant_playlist(
            day,
            &[
                Variant {
                    id: "64k".into(),
                    bandwidth: 64_000,
                },
                Variant {
                    id: "96k".into(),
                    bandwidth: 96_000,
                },
            ],
            "Opus",
        );
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"Opus\"\n../64k/2026-12-03.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=96000,CODECS=\"Opus\"\n../96k/2026-12-03.m3u8\n"
        );
    }
}
