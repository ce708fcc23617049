//! Check 1: the manifest, `stream.mpd`, parses and matches the configuration.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{problem, Report};
use crate::package::{mpd, OPUS_CODECS};
use crate::publish::Target;
use crate::schedule::store;
use crate::station::{layout, Station};
use crate::time::SAMPLE_RATE;

/// The elements of an XML document with their attributes, in order.
pub(super) type Elements = Vec<(String, BTreeMap<String, String>)>;

pub(super) fn xml_elements(bytes: &[u8]) -> std::result::Result<Elements, String> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    loop {
        let pos = reader.buffer_position();
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = e.local_name().as_ref().to_string();
                let mut attrs = BTreeMap::new();
                for a in e.attributes() {
                    let a = a.map_err(|err| format!("bad attribute in <{name}>: {err}"))?;
                    let v = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|err| format!("bad attribute value in <{name}>: {err}"))?;
                    attrs.insert(a.key.local_name().as_ref().to_string(), v.into_owned());
                }
                out.push((name, attrs));
            }
            Ok(Event::Eof) => return Ok(out),
            Ok(_) => {}
            Err(e) => return Err(format!("not well-formed XML near byte {pos}: {e}")),
        }
    }
}

pub(super) fn check_mpd(station: &Station, target: &dyn Target, report: &mut Report) {
    const KEY: &str = layout::MPD;
    let bytes = match target.get(KEY) {
        Ok(Some(b)) => b,
        Ok(None) => {
            report
                .problems
                .push(problem(KEY, "missing: players cannot find the stream"));
            return;
        }
        Err(e) => {
            report
                .problems
                .push(problem(KEY, format!("cannot be read: {e}")));
            return;
        }
    };
    let elements = match xml_elements(&bytes) {
        Ok(e) => e,
        Err(e) => {
            report.problems.push(problem(KEY, e));
            return;
        }
    };
    let mut wrong = Vec::new();
    let attr = |el: &str, a: &str| -> Option<&str> {
        elements
            .iter()
            .find(|(n, _)| n == el)
            .and_then(|(_, m)| m.get(a))
            .map(String::as_str)
    };
    let mut expect = |el: &str, a: &str, want: &str| {
        let got = attr(el, a);
        if got != Some(want) {
            wrong.push(format!(
                "{el}@{a} is {}, expected {want:?}",
                got.map_or("absent".into(), |g| format!("{g:?}"))
            ));
        }
    };
    let d = station.grid.segment_duration().0.to_string();
    let rate = SAMPLE_RATE.to_string();
    expect("MPD", "type", "dynamic");
    expect("SegmentTemplate", "timescale", &rate);
    expect("SegmentTemplate", "duration", &d);
    expect("SegmentTemplate", "startNumber", "0");
    expect("SegmentTemplate", "media", layout::MPD_MEDIA_TEMPLATE);
    expect(
        "SegmentTemplate",
        "initialization",
        layout::MPD_INIT_TEMPLATE,
    );
    expect("AdaptationSet", "codecs", OPUS_CODECS);
    expect("AdaptationSet", "mimeType", "audio/mp4");
    match attr("MPD", "availabilityStartTime").map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) if t.with_timezone(&Utc) == station.epoch.instant() => {}
        Some(Ok(t)) => wrong.push(format!(
            "availabilityStartTime is {}, but the station epoch is {}: every player would be at \
             the wrong place",
            t.to_rfc3339(),
            store::fmt_instant(station.epoch.instant())
        )),
        Some(Err(e)) => wrong.push(format!("availabilityStartTime does not parse: {e}")),
        None => wrong.push("no availabilityStartTime".into()),
    }
    if attr("MPD", "minimumUpdatePeriod").is_some() {
        wrong.push("has a minimumUpdatePeriod: players would keep re-fetching it".into());
    }
    let reps: Vec<(String, String)> = elements
        .iter()
        .filter(|(n, _)| n == "Representation")
        .map(|(_, m)| {
            (
                m.get("id").cloned().unwrap_or_default(),
                m.get("bandwidth").cloned().unwrap_or_default(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = station
        .renditions
        .iter()
        .map(|r| (r.id(), r.bitrate.to_string()))
        .collect();
    if reps != want {
        let show = |v: &[(String, String)]| {
            v.iter()
                .map(|(id, bw)| format!("{id}@{bw}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        wrong.push(format!(
            "Representations are [{}], the configuration has [{}]",
            show(&reps),
            show(&want)
        ));
    }
    if !wrong.is_empty() {
        report.problems.push(problem(
            KEY,
            format!(
                "does not match the station configuration: {}; run `lofiever publish`",
                wrong.join("; ")
            ),
        ));
    } else if bytes != mpd::write(station) {
        report.warnings.push(problem(
            KEY,
            "plays correctly but is not the MPD this configuration writes (name, latency or \
             UTCTiming changed?); run `lofiever publish` to update it",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpd_elements_are_read_with_unescaped_attributes() {
        let els = xml_elements(
            br#"<?xml version="1.0"?><MPD a="x &amp; y"><Period><B c="1"/></Period></MPD>"#,
        )
        .expect("parses");
        assert_eq!(els[0].0, "MPD");
        assert_eq!(els[0].1["a"], "x & y");
        assert_eq!(els[2].1["c"], "1");
        assert!(xml_elements(b"<MPD><Period></MPD>").is_err());
    }
}
