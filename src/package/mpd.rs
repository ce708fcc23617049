//! The station's MPD: static, written once, valid forever.
//!
//! The time model (`docs/ARCHITECTURE.md`): `type="dynamic"`, `availabilityStartTime` =
//! epoch, one Period at 0, a `$Number$` SegmentTemplate with `startNumber=0`,
//! `timescale=48000`, `duration=D`, and **no `minimumUpdatePeriod`** (ISO/IEC
//! 23009-1 §5.3.1.2: absent means the MPD does not change), so players never
//! re-fetch it and compute `N = floor((now − epoch)·48000 / D)` themselves.
//! `publishTime` is the epoch too, so the bytes depend only on the station
//! config. Elements and attributes are written in a fixed order (the schema's
//! sequence order) with quick-xml, which escapes all text. The output
//! validates against the official schema (`tests/data/dash/DASH-MPD.xsd`,
//! checked with xmllint by the tests) and is compared byte for byte with
//! `tests/data/golden/stream.mpd`.
//!
//! What tells players how tightly to hold the live position (all from
//! `[player]` of station.toml, and the same numbers go into `station.json`):
//!
//! - `suggestedPresentationDelay` = the target latency: §5.3.1.2 presents a
//!   sample of media time `t` at wall clock `AST + t + delay`, which is
//!   exactly "every listener plays `now − target`".
//! - `ServiceDescription` (§K / Annex K): `Latency@target/min/max` in ms and
//!   `PlaybackRate@min/max`, read by dash.js (liveDelay, catch-up rates and
//!   max drift) and Shaka Player (liveSync). No `referenceId`: we write no
//!   ProducerReferenceTime; the media timeline is itself wall-clock exact.
//! - `UTCTiming` (§5.8.4.11): one element, scheme and URL from the config.
//!   The default, `http-head` on the MPD itself, needs nothing but a static
//!   host (a HEAD request's `Date` header, one-second resolution); the page
//!   uses it only when the device clock disagrees with the host's
//!   (`src/page/player.js`, "clock").
//! - `timeShiftBufferDepth` = [`TIME_SHIFT_BUFFER_MS`]: how far back players
//!   may seek, and the least the publish target keeps.
//! - `InbandEventStream`: the now-playing `emsg` events in the segments
//!   (ID3 titles, [`super::fmp4::NOW_PLAYING_SCHEME`]).
//! - `maxSegmentDuration` = `minBufferTime` = one segment: every segment is
//!   exactly `D`, and one segment buffered is enough to start.
//!
//! The codecs string is `Opus`, the sample entry's four-character code
//! (RFC 6381 §3.3), which every current major browser accepts for MP4; see
//! [`super::OPUS_CODECS`] for why not `opus`.

use std::io::Cursor;

use chrono::SecondsFormat;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::OPUS_CODECS;
use crate::station::{layout, Station};
use crate::time::SAMPLE_RATE;

use crate::station::TIME_SHIFT_BUFFER_MS;

/// ISO 8601 duration (`PT6S`, `PT2.5S`) from milliseconds.
pub fn iso_duration_ms(ms: u64) -> String {
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        format!("PT{s}S")
    } else {
        let f = format!("{frac:03}");
        format!("PT{s}.{}S", f.trim_end_matches('0'))
    }
}

type W = Writer<Cursor<Vec<u8>>>;

fn start(w: &mut W, name: &str, attrs: &[(&str, &str)]) -> std::io::Result<()> {
    let mut e = BytesStart::new(name);
    for a in attrs {
        e.push_attribute(*a);
    }
    w.write_event(Event::Start(e))
}

fn empty(w: &mut W, name: &str, attrs: &[(&str, &str)]) -> std::io::Result<()> {
    let mut e = BytesStart::new(name);
    for a in attrs {
        e.push_attribute(*a);
    }
    w.write_event(Event::Empty(e))
}

fn end(w: &mut W, name: &str) -> std::io::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// The MPD for `station`, as UTF-8 bytes.
pub fn write(station: &Station) -> Vec<u8> {
    build(station).expect("writing XML into a Vec cannot fail")
}

/// A playback rate in thousandths as the MPD writes it: `960` → `0.96`,
/// `1000` → `1`.
pub fn rate_text(permille: u32) -> String {
    let (whole, frac) = (permille / 1000, permille % 1000);
    if frac == 0 {
        whole.to_string()
    } else {
        let f = format!("{frac:03}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    }
}

fn build(station: &Station) -> std::io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;

    let epoch = station
        .epoch
        .instant()
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let seg = station.grid.segment_duration();
    let seg_ms = seg.as_millis_floor();
    let live = &station.live;
    let latency = station.target_latency_ms;
    let max_seg = iso_duration_ms(seg_ms);
    let tsb = iso_duration_ms(TIME_SHIFT_BUFFER_MS);
    let min_buffer = iso_duration_ms(seg_ms);
    let spd = iso_duration_ms(latency);
    start(
        &mut w,
        "MPD",
        &[
            ("xmlns", "urn:mpeg:dash:schema:mpd:2011"),
            ("profiles", "urn:mpeg:dash:profile:isoff-live:2011"),
            ("type", "dynamic"),
            ("availabilityStartTime", &epoch),
            ("publishTime", &epoch),
            ("minBufferTime", &min_buffer),
            ("timeShiftBufferDepth", &tsb),
            ("suggestedPresentationDelay", &spd),
            ("maxSegmentDuration", &max_seg),
        ],
    )?;

    start(&mut w, "ProgramInformation", &[])?;
    start(&mut w, "Title", &[])?;
    w.write_event(Event::Text(BytesText::new(&station.name)))?;
    end(&mut w, "Title")?;
    end(&mut w, "ProgramInformation")?;

    // ServiceDescription (Annex K): the latency every player holds, and the
    // playback rates it may use to get back to it.
    let (lat, lat_min, lat_max) = (
        latency.to_string(),
        live.min_latency_ms.to_string(),
        live.max_latency_ms.to_string(),
    );
    let (rate_min, rate_max) = (
        rate_text(live.min_rate_permille),
        rate_text(live.max_rate_permille),
    );
    start(&mut w, "ServiceDescription", &[("id", "0")])?;
    empty(
        &mut w,
        "Latency",
        &[("target", &lat), ("max", &lat_max), ("min", &lat_min)],
    )?;
    empty(
        &mut w,
        "PlaybackRate",
        &[("max", &rate_max), ("min", &rate_min)],
    )?;
    end(&mut w, "ServiceDescription")?;

    start(&mut w, "Period", &[("id", "0"), ("start", "PT0S")])?;
    let rate = SAMPLE_RATE.to_string();
    start(
        &mut w,
        "AdaptationSet",
        &[
            ("id", "0"),
            ("contentType", "audio"),
            ("lang", "und"),
            ("segmentAlignment", "true"),
            ("mimeType", "audio/mp4"),
            ("codecs", OPUS_CODECS),
            ("audioSamplingRate", &rate),
            ("startWithSAP", "1"),
        ],
    )?;
    empty(
        &mut w,
        "AudioChannelConfiguration",
        &[
            (
                "schemeIdUri",
                "urn:mpeg:dash:23003:3:audio_channel_configuration:2011",
            ),
            ("value", "2"),
        ],
    )?;
    // Now-playing events ride in every segment (`emsg`, see fmp4's docs);
    // players act on inband events only for schemes the MPD declares.
    empty(
        &mut w,
        "InbandEventStream",
        &[
            ("schemeIdUri", super::fmp4::NOW_PLAYING_SCHEME),
            ("value", super::fmp4::NOW_PLAYING_VALUE),
        ],
    )?;
    let duration = seg.0.to_string();
    empty(
        &mut w,
        "SegmentTemplate",
        &[
            ("timescale", &rate),
            ("duration", &duration),
            ("startNumber", "0"),
            ("initialization", layout::MPD_INIT_TEMPLATE),
            ("media", layout::MPD_MEDIA_TEMPLATE),
        ],
    )?;
    for r in &station.renditions {
        let id = r.id();
        let bw = r.bitrate.to_string();
        empty(&mut w, "Representation", &[("id", &id), ("bandwidth", &bw)])?;
    }
    end(&mut w, "AdaptationSet")?;
    end(&mut w, "Period")?;
    // UTCTiming comes last in MPDtype's sequence.
    empty(
        &mut w,
        "UTCTiming",
        &[
            ("schemeIdUri", &live.utc_timing_scheme),
            ("value", &live.utc_timing_url),
        ],
    )?;
    end(&mut w, "MPD")?;
    let mut bytes = w.into_inner().into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn station(toml: &str) -> Station {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .expect("valid literal")
            .with_timezone(&chrono::Utc);
        Station::from_toml(toml, "test.toml", Path::new("/x"), now).expect("valid config")
    }

    fn data(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(rel)
    }

    /// The first differing lines of two texts, `-` expected, `+` actual.
    fn line_diff(expected: &str, actual: &str) -> String {
        let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
        let mut out = String::new();
        for i in 0..e.len().max(a.len()) {
            let (x, y) = (e.get(i), a.get(i));
            if x != y {
                out += &format!(
                    "line {}:\n- {}\n+ {}\n",
                    i + 1,
                    x.unwrap_or(&"<none>"),
                    y.unwrap_or(&"<none>")
                );
            }
        }
        out
    }

    /// Runs xmllint with the official DASH schema (offline, through the
    /// catalog in tests/data/dash) on `mpd`; `Err` carries its report.
    pub(crate) fn xmllint(mpd: &[u8]) -> Result<(), String> {
        let dir = data("dash");
        let file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        std::fs::write(file.path(), mpd).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("xmllint")
            .env("XML_CATALOG_FILES", dir.join("catalog.xml"))
            .args(["--nonet", "--noout", "--schema"])
            .arg(dir.join("DASH-MPD.xsd"))
            .arg(file.path())
            .output()
            .map_err(|e| format!("cannot run xmllint ({e}); run `bash ci/setup.sh`"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    #[test]
    fn durations() {
        assert_eq!(iso_duration_ms(2000), "PT2S");
        assert_eq!(iso_duration_ms(2500), "PT2.5S");
        assert_eq!(iso_duration_ms(20), "PT0.02S");
        assert_eq!(iso_duration_ms(600_000), "PT600S");
    }

    #[test]
    fn rates() {
        assert_eq!(rate_text(960), "0.96");
        assert_eq!(rate_text(1040), "1.04");
        assert_eq!(rate_text(1000), "1");
        assert_eq!(rate_text(500), "0.5");
        assert_eq!(rate_text(1005), "1.005");
    }

    /// `tests/data/golden/stream.mpd` is the MPD of the shipped config,
    /// byte for byte. After an intended change, regenerate it with
    /// `LOFIEVER_BLESS=1 cargo test --lib mpd` and review the diff.
    #[test]
    fn the_shipped_config_gives_the_golden_mpd() {
        let s = Station::embedded(Path::new("/x"), chrono::Utc::now()).expect("valid default");
        let actual = String::from_utf8(write(&s)).expect("utf-8");
        let golden = data("golden/stream.mpd");
        if std::env::var_os("LOFIEVER_BLESS").is_some() {
            std::fs::write(&golden, &actual).expect("write the golden file");
        }
        let expected = std::fs::read_to_string(&golden).expect("tests/data/golden/stream.mpd");
        assert!(
            expected == actual,
            "stream.mpd differs from {}:\n{}",
            golden.display(),
            line_diff(&expected, &actual)
        );
    }

    #[test]
    fn validates_against_the_official_schema() {
        let shipped =
            Station::embedded(Path::new("/x"), chrono::Utc::now()).expect("valid default");
        xmllint(&write(&shipped)).unwrap_or_else(|e| panic!("shipped config: {e}"));
        let odd = station(
            "[station]\nname = \"Rain & <Chill> FM\"\nepoch = \"2025-01-01T00:00:00Z\"\n\
             [stream]\nsegment_ms = 1920\nbitrates_kbps = [6, 510]\n\
             [player]\ntarget_latency_ms = 4000\nlatency_max_ms = 4000\nplayback_rate_min = 1.0\n\
             playback_rate_max = 1.5\nutc_timing_scheme = \"urn:mpeg:dash:utc:http-iso:2014\"\n\
             utc_timing_url = \"https://time.example/?iso&ms\"\n",
        );
        let text = write(&odd);
        xmllint(&text).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&text)));
        // The schema check has teeth: a wrong element order fails.
        let broken = String::from_utf8_lossy(&text)
            .replace("<ProgramInformation>", "<Period/><ProgramInformation>");
        assert!(xmllint(broken.as_bytes()).is_err());
    }

    #[test]
    fn station_name_is_escaped() {
        let mut s = Station::embedded(Path::new("/x"), chrono::Utc::now()).expect("valid default");
        s.name = "Rain & <Chill> \"FM\"".into();
        let text = String::from_utf8(write(&s)).expect("utf-8");
        assert!(
            text.contains("<Title>Rain &amp; &lt;Chill&gt; &quot;FM&quot;</Title>"),
            "{text}"
        );
        assert!(!text.contains("minimumUpdatePeriod"));
        assert!(text.contains(r#"type="dynamic""#));
        assert!(text.contains(r#"availabilityStartTime="2026-01-01T00:00:00Z""#));
        assert!(
            text.contains(r#"<SegmentTemplate timescale="48000" duration="96000" startNumber="0""#)
        );
    }

    #[test]
    fn sync_values_come_from_the_config() {
        let s = station(
            "[stream]\nsegment_ms = 1000\n[player]\ntarget_latency_ms = 3000\nlatency_min_ms = 2500\n\
             latency_max_ms = 5000\nplayback_rate_min = 0.98\nplayback_rate_max = 1.02\n\
             utc_timing_scheme = \"urn:mpeg:dash:utc:http-xsdate:2014\"\nutc_timing_url = \"/time\"\n",
        );
        let text = String::from_utf8(write(&s)).expect("utf-8");
        for want in [
            r#"suggestedPresentationDelay="PT3S""#,
            r#"maxSegmentDuration="PT1S""#,
            r#"minBufferTime="PT1S""#,
            r#"timeShiftBufferDepth="PT600S""#,
            r#"<Latency target="3000" max="5000" min="2500"/>"#,
            r#"<PlaybackRate max="1.02" min="0.98"/>"#,
            r#"<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-xsdate:2014" value="/time"/>"#,
        ] {
            assert!(text.contains(want), "{want} missing in\n{text}");
        }
        // Defaults: 3/4 and 3/2 of the target, 0.96 to 1.04, HEAD of the MPD.
        let d = String::from_utf8(write(&station("[player]\ntarget_latency_ms = 8000\n")))
            .expect("utf-8");
        assert!(
            d.contains(r#"<Latency target="8000" max="12000" min="6000"/>"#),
            "{d}"
        );
        assert!(
            d.contains(r#"<PlaybackRate max="1.04" min="0.96"/>"#),
            "{d}"
        );
        assert!(
            d.contains(
                r#"<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-head:2014" value="clock.txt"/>"#
            ),
            "{d}"
        );
    }

    #[test]
    fn bad_sync_keys_are_named() {
        let now = chrono::Utc::now();
        for (toml, key) in [
            ("[player]\nlatency_min_ms = 7000\n", "player.latency_min_ms"),
            ("[player]\nlatency_max_ms = 5000\n", "player.latency_max_ms"),
            (
                "[player]\nlatency_max_ms = 900000\n",
                "player.latency_max_ms",
            ),
            (
                "[player]\nplayback_rate_min = 1.1\n",
                "player.playback_rate_min",
            ),
            (
                "[player]\nplayback_rate_max = 0.9\n",
                "player.playback_rate_max",
            ),
            (
                "[player]\nplayback_rate_max = 1.0401\n",
                "player.playback_rate_max",
            ),
            (
                "[player]\nutc_timing_scheme = \"urn:mpeg:dash:utc:ntp:2014\"\n",
                "player.utc_timing_scheme",
            ),
            (
                "[player]\nutc_timing_url = \"a b\"\n",
                "player.utc_timing_url",
            ),
            ("[player]\nshaka_url = \"\"\n", "player.shaka_url"),
        ] {
            match Station::from_toml(toml, "t.toml", Path::new("/x"), now) {
                Err(crate::error::Error::Config { key: k, .. }) => assert_eq!(k, key, "{toml}"),
                other => panic!("{toml}: expected a config error, got {other:?}"),
            }
        }
    }
}
