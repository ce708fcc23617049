//! The station's MPD: static, written once, valid forever.
//!
//! DESIGN.md, "The time model": `type="dynamic"`, `availabilityStartTime` =
//! epoch, one Period at 0, a `$Number$` SegmentTemplate with `startNumber=0`,
//! `timescale=48000`, `duration=D`, and **no `minimumUpdatePeriod`** (ISO/IEC
//! 23009-1 §5.3.1.2: absent means the MPD does not change), so players never
//! re-fetch it and compute `N = floor((now − epoch)·48000 / D)` themselves.
//! `publishTime` is the epoch too, so the bytes depend only on the station
//! config. Elements and attributes are written in a fixed order (the schema's
//! sequence order) with quick-xml, which escapes all text.

use std::io::Cursor;

use chrono::SecondsFormat;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::OPUS_CODECS;
use crate::station::Station;
use crate::time::SAMPLE_RATE;

/// How far back players may seek (and what is kept at the target, at least).
pub const TIME_SHIFT_BUFFER_MS: u64 = 10 * 60 * 1000;

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

fn build(station: &Station) -> std::io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;

    let epoch = station
        .epoch
        .instant()
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let seg = station.grid.segment_duration();
    let seg_ms = seg.as_millis_floor();
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
            ("timeShiftBufferDepth", &tsb),
            ("maxSegmentDuration", &max_seg),
            ("minBufferTime", &min_buffer),
            ("suggestedPresentationDelay", &spd),
        ],
    )?;

    start(&mut w, "ProgramInformation", &[])?;
    start(&mut w, "Title", &[])?;
    w.write_event(Event::Text(BytesText::new(&station.name)))?;
    end(&mut w, "Title")?;
    end(&mut w, "ProgramInformation")?;

    // ServiceDescription (23009-1 Annex K): the latency every player holds.
    let (lat, lat_min, lat_max) = (
        latency.to_string(),
        (latency * 3 / 4).to_string(),
        (latency * 3 / 2).to_string(),
    );
    start(&mut w, "ServiceDescription", &[("id", "0")])?;
    empty(
        &mut w,
        "Latency",
        &[
            ("referenceId", "0"),
            ("target", &lat),
            ("max", &lat_max),
            ("min", &lat_min),
        ],
    )?;
    empty(&mut w, "PlaybackRate", &[("max", "1.04"), ("min", "0.96")])?;
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
    let duration = seg.0.to_string();
    empty(
        &mut w,
        "SegmentTemplate",
        &[
            ("timescale", &rate),
            ("duration", &duration),
            ("startNumber", "0"),
            ("initialization", "$RepresentationID$/init.mp4"),
            ("media", "$RepresentationID$/$Number$.m4s"),
        ],
    )?;
    for r in &station.renditions {
        let id = r.id();
        let bw = r.bitrate.to_string();
        empty(&mut w, "Representation", &[("id", &id), ("bandwidth", &bw)])?;
    }
    end(&mut w, "AdaptationSet")?;
    end(&mut w, "Period")?;
    end(&mut w, "MPD")?;
    let mut bytes = w.into_inner().into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(iso_duration_ms(2000), "PT2S");
        assert_eq!(iso_duration_ms(2500), "PT2.5S");
        assert_eq!(iso_duration_ms(20), "PT0.02S");
        assert_eq!(iso_duration_ms(600_000), "PT600S");
    }

    #[test]
    fn station_name_is_escaped() {
        let now = chrono::Utc::now();
        let mut s = Station::embedded(std::path::Path::new("/x"), now).expect("valid default");
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
}
