//! `lofiever verify`: checks the published stream the way a player uses it.
//!
//! Over a window of programme time (default: what listeners hear now, up to
//! the rendered horizon) it checks, at the target:
//!
//! 1. `stream.mpd` parses (quick-xml) and matches the configuration:
//!    `type="dynamic"`, `availabilityStartTime` = the epoch, no
//!    `minimumUpdatePeriod`, the `$Number$` SegmentTemplate with
//!    `timescale=48000`, `duration=D`, `startNumber=0`, the codecs string and
//!    one Representation per rendition with its bandwidth. An MPD that is
//!    right in all this but not byte-identical to what this configuration
//!    writes is a warning (e.g. the station name changed and was not
//!    published yet), not a problem.
//! 2. Every `<rendition>/init.mp4` exists and declares stereo Opus at
//!    48 kHz, timescale 48 000, `PreSkip` 0 and 960-sample packets.
//! 3. Every segment of the window exists for every rendition, its size is in
//!    the plausible range ([`super::status::plausible_size`]), its length is
//!    what its own headers declare (a truncated object is caught here), its
//!    `tfdt` is `N·D`, it has exactly `D/960` packets of 960 samples each
//!    (durations in the `trun` and the Opus TOC of every packet), and the
//!    `trun` data offset points at the `mdat` payload.
//! 4. A sample of segments per rendition (the first, the last and evenly
//!    spaced ones between, at most [`Options::decode_per_rendition`]) is
//!    decoded with libopus in-process — no ffmpeg needed — and must give
//!    exactly `D` samples per channel.
//! 5. The schedule files covering the window parse, each item sits in the
//!    file of its UTC day with `start`/`end` matching its samples, items join
//!    up (each starts where the previous one's fade-out begins: no gap, no
//!    overlap), and they cover the window.
//!
//! Every object is read once (at most `publish.concurrency` at a time), so a
//! full two-day window of an S3 target costs one GET per segment; narrow it
//! with `--until` for a quick check.
//!
//! Skip or stop: a target that cannot be listed stops the run; everything
//! else (a missing or unreadable object included) is a problem naming the
//! object key, and checking goes on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::status::plausible_size;
use crate::error::Result;
use crate::package::{fmp4, mpd, OPUS_CODECS};
use crate::publish::{ObjectInfo, Target};
use crate::schedule::{store, Item};
use crate::station::layout::{self, segment_number};
use crate::station::{Rendition, Station};
use crate::time::{SampleIndex, SegmentNumber, OPUS_FRAME, SAMPLE_RATE};

/// What to check.
#[derive(Debug, Clone)]
pub struct Options {
    /// Programme instant the window starts at (the segment holding it is the
    /// first checked).
    pub from: DateTime<Utc>,
    /// Programme instant the window ends at (exclusive); `None`: the rendered
    /// horizon (the end of the last segment of any rendition).
    pub until: Option<DateTime<Utc>>,
    /// Segments decoded per rendition (at least 2 when the window has 2).
    pub decode_per_rendition: usize,
    /// Objects read at once.
    pub concurrency: usize,
}

/// One thing wrong, naming the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The object key (or a range of keys, `a … b`).
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// What a verify run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The target checked.
    pub target: String,
    /// Start of the window (start of its first segment, RFC 3339).
    pub from: String,
    /// End of the window (end of its last segment, RFC 3339).
    pub until: String,
    /// First segment number of the window.
    pub first_segment: u64,
    /// Segments in the window (per rendition).
    pub segments: u64,
    /// Segment objects read and checked (all renditions).
    pub checked: u64,
    /// Segments decoded with libopus.
    pub decoded: u64,
    /// Schedule items checked.
    pub schedule_items: u64,
    /// Everything wrong; empty means the stream is sound.
    pub problems: Vec<Problem>,
    /// Worth knowing, not wrong (the run still succeeds).
    pub warnings: Vec<Problem>,
}

impl Report {
    /// Programme hours the window covers.
    pub fn hours(&self, station: &Station) -> f64 {
        (self.segments * station.grid.segment_duration().0) as f64 / f64::from(SAMPLE_RATE) / 3600.0
    }
}

fn problem(key: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        key: key.into(),
        message: message.into(),
    }
}

fn fmt_sample(station: &Station, s: SampleIndex) -> String {
    station
        .epoch
        .instant_of(s)
        .map(store::fmt_instant)
        .unwrap_or_else(|e| e.to_string())
}

/// Checks `target` over the window of `options`.
pub fn run(station: &Station, target: &dyn Target, options: &Options) -> Result<Report> {
    let listing = target.list("")?;
    let grid = station.grid;
    let d = grid.segment_duration().0;
    let first = grid.segment_of(station.epoch.sample_at(options.from)?);

    // Segment keys and sizes per rendition, at or after the window start.
    let mut by_rendition: Vec<BTreeMap<u64, u64>> = Vec::new();
    for r in &station.renditions {
        let folder = format!("{}/", station.rendition_dir(r));
        let mut m = BTreeMap::new();
        for (key, info) in listing.range(folder.clone()..) {
            if !key.starts_with(&folder) {
                break;
            }
            if let Some(n) = segment_number(key).filter(|n| *n >= first) {
                m.insert(n.0, info.size);
            }
        }
        by_rendition.push(m);
    }
    let end = match options.until {
        Some(u) => {
            // The segment holding the last sample before `until`, inclusive;
            // an `until` not after `from` gives an empty window.
            let until = station.epoch.sample_at(u)?;
            (grid.segment_of(SampleIndex(until.0.saturating_sub(1))).0 + 1).max(first.0)
        }
        None => by_rendition
            .iter()
            .filter_map(|m| m.keys().next_back().copied())
            .max()
            .map_or(first.0, |n| n + 1),
    };
    let mut report = Report {
        target: target.describe(),
        from: fmt_sample(station, grid.segment_start(first)?),
        until: fmt_sample(station, SampleIndex(end.saturating_mul(d))),
        first_segment: first.0,
        segments: end - first.0,
        checked: 0,
        decoded: 0,
        schedule_items: 0,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    if end == first.0 {
        report.problems.push(problem(
            "*/*.m4s",
            format!(
                "no segments at or after {} (segment {}): nothing is rendered ahead; run \
                 `lofiever render`",
                report.from, first.0
            ),
        ));
    }

    check_mpd(station, target, &mut report);
    for r in &station.renditions {
        if let Some(p) = check_init(target, r) {
            report.problems.push(p);
        }
    }

    // Missing segments, as ranges; the rest is read and checked.
    let mut jobs = Vec::new();
    for (ri, (r, present)) in station.renditions.iter().zip(&by_rendition).enumerate() {
        let id = station.rendition_dir(r);
        let in_window: BTreeSet<u64> = present.range(first.0..end).map(|(n, _)| *n).collect();
        for (a, b) in super::status::gaps(&in_window, first.0)
            .into_iter()
            .chain(missing_tail(&in_window, first.0, end))
        {
            report.problems.push(missing(station, &id, a, b));
        }
        let ns: Vec<u64> = in_window.iter().copied().collect();
        let decode = decode_picks(ns.len(), options.decode_per_rendition);
        for (i, n) in ns.iter().enumerate() {
            jobs.push(Job {
                rendition: ri,
                n: *n,
                listed: present.get(n).copied().unwrap_or(0),
                decode: decode.contains(&i),
            });
        }
    }
    let outcomes = check_segments(station, target, &jobs, options.concurrency);
    for (job, outcome) in jobs.iter().zip(outcomes) {
        report.checked += 1;
        report.decoded += u64::from(outcome.decoded);
        let key = layout::segment(
            &station.renditions[job.rendition].id(),
            SegmentNumber(job.n),
        );
        report
            .problems
            .extend(outcome.messages.into_iter().map(|m| problem(&key, m)));
    }

    let window = (
        grid.segment_start(first)?,
        SampleIndex(end.saturating_mul(d)),
    );
    report.schedule_items = check_schedule(station, target, &listing, window, &mut report.problems);
    Ok(report)
}

/// The missing run after the last present segment, up to `end`.
fn missing_tail(present: &BTreeSet<u64>, first: u64, end: u64) -> Option<(u64, u64)> {
    let next = present.last().map_or(first, |n| n + 1);
    (next < end).then(|| (next, end - 1))
}

fn missing(station: &Station, id: &str, a: u64, b: u64) -> Problem {
    let d = station.grid.segment_duration().0;
    let span = format!(
        "{} to {}",
        fmt_sample(station, SampleIndex(a.saturating_mul(d))),
        fmt_sample(station, SampleIndex((b + 1).saturating_mul(d)))
    );
    if a == b {
        problem(
            layout::segment(id, SegmentNumber(a)),
            format!("missing ({span})"),
        )
    } else {
        problem(
            format!(
                "{} … {}",
                layout::segment(id, SegmentNumber(a)),
                layout::segment(id, SegmentNumber(b))
            ),
            format!("missing ({} segments, {span})", b - a + 1),
        )
    }
}

/// Indices (into `len` segments) to decode: first, last and evenly spaced
/// ones between, `max` in all.
fn decode_picks(len: usize, max: usize) -> BTreeSet<usize> {
    if len == 0 || max == 0 {
        return BTreeSet::new();
    }
    if len <= max {
        return (0..len).collect();
    }
    if max == 1 {
        return [0].into_iter().collect();
    }
    (0..max).map(|i| i * (len - 1) / (max - 1)).collect()
}

struct Job {
    rendition: usize,
    n: u64,
    listed: u64,
    decode: bool,
}

#[derive(Default)]
struct Outcome {
    messages: Vec<String>,
    decoded: bool,
}

/// Reads and checks every job's segment with `concurrency` workers; the
/// outcomes are in job order.
fn check_segments(
    station: &Station,
    target: &dyn Target,
    jobs: &[Job],
    concurrency: usize,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::with_capacity(jobs.len()));
    let bounds: Vec<(u64, u64)> = station
        .renditions
        .iter()
        .map(|r| plausible_size(station, r))
        .collect();
    let workers = concurrency.clamp(1, jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else {
                    return;
                };
                let r = &station.renditions[job.rendition];
                let outcome = check_one(station, target, r, bounds[job.rendition], job);
                if let Ok(mut v) = results.lock() {
                    v.push((i, outcome));
                }
            });
        }
    });
    let mut v = results.into_inner().unwrap_or_default();
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, o)| o).collect()
}

fn check_one(
    station: &Station,
    target: &dyn Target,
    r: &Rendition,
    (min, max): (u64, u64),
    job: &Job,
) -> Outcome {
    let mut out = Outcome::default();
    let key = layout::segment(&r.id(), SegmentNumber(job.n));
    let bytes = match target.get(&key) {
        Ok(Some(b)) => b,
        Ok(None) => {
            out.messages
                .push("listed, but gone when read (deleted meanwhile?)".into());
            return out;
        }
        Err(e) => {
            out.messages.push(format!("cannot be read: {e}"));
            return out;
        }
    };
    let len = bytes.len() as u64;
    if len != job.listed {
        out.messages.push(format!(
            "listed as {} bytes but {len} bytes were read",
            job.listed
        ));
    }
    match fmp4::declared_len(&bytes) {
        None => {
            out.messages.push(format!(
                "truncated or not a media segment: its {len} bytes do not hold a whole styp + \
                 moof header"
            ));
            return out;
        }
        Some(declared) if declared > len => {
            out.messages.push(format!(
                "truncated: {len} bytes, but its headers declare {declared}"
            ));
            return out;
        }
        Some(declared) if declared < len => out.messages.push(format!(
            "{} byte{} after the end its headers declare ({declared})",
            len - declared,
            if len - declared == 1 { "" } else { "s" }
        )),
        Some(_) => {}
    }
    if len < min || len > max {
        out.messages.push(format!(
            "{len} bytes is outside the plausible range {min}–{max} for {} kb/s",
            r.bitrate / 1000
        ));
    }
    // Trailing bytes are reported above; the segment proper is checked.
    let whole = fmp4::declared_len(&bytes)
        .and_then(|d| usize::try_from(d).ok())
        .map_or(bytes.as_slice(), |d| &bytes[..d.min(bytes.len())]);
    let seg = match fmp4::read_segment(whole) {
        Ok(s) => s,
        Err(e) => {
            out.messages.push(e);
            return out;
        }
    };
    let d = station.grid.segment_duration().0;
    let want_tfdt = job.n.saturating_mul(d);
    if seg.base_media_decode_time != want_tfdt {
        out.messages.push(format!(
            "tfdt is {}, expected N·D = {} · {d} = {want_tfdt}",
            seg.base_media_decode_time, job.n
        ));
    }
    let packets = station.grid.packets_per_segment();
    if seg.packets.len() as u64 != packets {
        out.messages.push(format!(
            "{} packets, expected D/960 = {packets}",
            seg.packets.len()
        ));
    }
    if let Some(i) = seg
        .durations
        .iter()
        .position(|&t| u64::from(t) != OPUS_FRAME)
    {
        out.messages.push(format!(
            "packet {i} lasts {} ticks in the trun, expected {OPUS_FRAME}",
            seg.durations[i]
        ));
    }
    for (i, p) in seg.packets.iter().enumerate() {
        match opus::packet::get_nb_samples(p, SAMPLE_RATE) {
            Ok(n) if n as u64 == OPUS_FRAME => {}
            Ok(n) => {
                out.messages.push(format!(
                    "packet {i} holds {n} samples, expected {OPUS_FRAME}"
                ));
                break;
            }
            Err(e) => {
                out.messages
                    .push(format!("packet {i} is not a valid Opus packet ({e})"));
                break;
            }
        }
    }
    if job.decode && out.messages.is_empty() {
        match decode(&seg.packets) {
            Ok(n) if n == d => out.decoded = true,
            Ok(n) => out
                .messages
                .push(format!("decodes to {n} samples, expected D = {d}")),
            Err(e) => out.messages.push(e),
        }
    }
    out
}

/// Decodes `packets` with a fresh stereo libopus decoder; the number of
/// samples per channel it gives.
fn decode(packets: &[&[u8]]) -> std::result::Result<u64, String> {
    let mut dec = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Stereo)
        .map_err(|e| format!("cannot start the Opus decoder: {e}"))?;
    // 120 ms, the longest Opus packet, of stereo.
    let mut pcm = vec![0f32; 5760 * 2];
    let mut total = 0u64;
    for (i, p) in packets.iter().enumerate() {
        let n = dec
            .decode_float(p, &mut pcm, false)
            .map_err(|e| format!("packet {i} does not decode: {e}"))?;
        if pcm[..n * 2].iter().any(|x| !x.is_finite()) {
            return Err(format!("packet {i} decodes to non-finite samples"));
        }
        total += n as u64;
    }
    Ok(total)
}

fn check_init(target: &dyn Target, r: &Rendition) -> Option<Problem> {
    use mp4_atom::{Any, Codec, Decode};
    let key = layout::init(&r.id());
    let bytes = match target.get(&key) {
        Ok(Some(b)) => b,
        Ok(None) => return Some(problem(key, "missing: no player can start this rendition")),
        Err(e) => return Some(problem(key, format!("cannot be read: {e}"))),
    };
    let mut buf = bytes.as_slice();
    let mut moov = None;
    while !buf.is_empty() {
        match Any::decode(&mut buf) {
            Ok(Any::Moov(m)) => moov = Some(m),
            Ok(_) => {}
            Err(e) => return Some(problem(key, format!("cannot parse: {e}"))),
        }
    }
    let Some(moov) = moov else {
        return Some(problem(key, "no moov box"));
    };
    let Some(trak) = moov.trak.first() else {
        return Some(problem(key, "no track"));
    };
    let mut wrong = Vec::new();
    if trak.mdia.mdhd.timescale != SAMPLE_RATE {
        wrong.push(format!("timescale {}", trak.mdia.mdhd.timescale));
    }
    match trak.mdia.minf.stbl.stsd.codecs.first() {
        Some(Codec::Opus(o)) => {
            if o.dops.pre_skip != 0 {
                wrong.push(format!("PreSkip {}", o.dops.pre_skip));
            }
            if o.dops.output_channel_count != 2 {
                wrong.push(format!("{} channels", o.dops.output_channel_count));
            }
        }
        other => wrong.push(format!("sample entry {other:?}")),
    }
    let trex = moov.mvex.as_ref().and_then(|m| m.trex.first());
    if trex.map(|t| u64::from(t.default_sample_duration)) != Some(OPUS_FRAME) {
        wrong.push("default sample duration is not 960".into());
    }
    (!wrong.is_empty()).then(|| {
        problem(
            key,
            format!(
                "expected stereo Opus, timescale 48000, PreSkip 0, 960-sample packets; found {}",
                wrong.join(", ")
            ),
        )
    })
}

/// The elements of an XML document with their attributes, in order.
type Elements = Vec<(String, BTreeMap<String, String>)>;

fn xml_elements(bytes: &[u8]) -> std::result::Result<Elements, String> {
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

fn check_mpd(station: &Station, target: &dyn Target, report: &mut Report) {
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

/// Checks the schedule files covering `[from, until)`; returns how many
/// items were checked.
fn check_schedule(
    station: &Station,
    target: &dyn Target,
    listing: &BTreeMap<String, ObjectInfo>,
    (from, until): (SampleIndex, SampleIndex),
    problems: &mut Vec<Problem>,
) -> u64 {
    let epoch = station.epoch;
    let day = |s: SampleIndex| store::day_of(epoch, s).ok();
    // An item is shorter than 2 h, so the one playing at `from` started on
    // its day or the day before.
    let first_day = day(from).and_then(|d| d.pred_opt());
    let last_day = day(until);
    let prefix = format!("{}/", layout::SCHEDULE_DIR);
    let mut items: Vec<(String, Item)> = Vec::new();
    for key in listing
        .keys()
        .filter(|k| k.starts_with(&prefix) && k.ends_with(".json"))
    {
        let Some(file_day) = layout::schedule_day_of(key) else {
            problems.push(problem(
                key,
                "not named schedule/<YYYY-MM-DD>.json; the next run cannot read it back",
            ));
            continue;
        };
        if first_day.is_some_and(|f| file_day < f) || last_day.is_some_and(|l| file_day > l) {
            continue;
        }
        let bytes = match target.get(key) {
            Ok(Some(b)) => b,
            Ok(None) => {
                problems.push(problem(key, "listed, but gone when read"));
                continue;
            }
            Err(e) => {
                problems.push(problem(key, format!("cannot be read: {e}")));
                continue;
            }
        };
        let parsed = match store::parse_day(key, &bytes) {
            Ok(p) => p,
            Err(e) => {
                problems.push(problem(key, e.to_string()));
                continue;
            }
        };
        check_day_file(station, key, file_day, &bytes, &parsed, problems);
        items.extend(parsed.into_iter().map(|it| (key.clone(), it)));
    }
    items.sort_by_key(|(_, it)| it.start_sample);
    let show = |s: SampleIndex| fmt_sample(station, s);
    for w in items.windows(2) {
        let ((ka, a), (kb, b)) = (&w[0], &w[1]);
        let hand_over = a.next_start();
        if b.start() > hand_over {
            problems.push(problem(
                kb,
                format!(
                    "gap: \"{}\" starts at {} but \"{}\" ({ka}) hands over at {}",
                    b.title,
                    show(b.start()),
                    a.title,
                    show(hand_over)
                ),
            ));
        } else if b.start() < hand_over {
            problems.push(problem(
                kb,
                format!(
                    "overlap: \"{}\" starts at {}, before \"{}\" ({ka}) hands over at {}",
                    b.title,
                    show(b.start()),
                    a.title,
                    show(hand_over)
                ),
            ));
        }
    }
    match (items.first(), items.last()) {
        (Some((kf, f)), Some((kl, l))) => {
            if f.start() > from {
                problems.push(problem(
                    kf,
                    format!(
                        "the schedule starts at {}, after the window start {}",
                        show(f.start()),
                        show(from)
                    ),
                ));
            }
            if l.next_start() < until {
                problems.push(problem(
                    kl,
                    format!(
                        "the schedule is final only until {} but audio is published until {}: \
                         the schedule at the target is behind its audio",
                        show(l.next_start()),
                        show(until)
                    ),
                ));
            }
        }
        _ if until > from => problems.push(problem(
            format!("{prefix}*.json"),
            format!(
                "no schedule covers {} to {}: the page cannot show what plays and the next run \
                 cannot continue the station",
                show(from),
                show(until)
            ),
        )),
        _ => {}
    }
    items.len() as u64
}

/// Checks one day file beyond what parsing does: every item starts on the
/// file's day, and its `start`/`end`/`end_sample` agree with its samples.
fn check_day_file(
    station: &Station,
    key: &str,
    file_day: NaiveDate,
    bytes: &[u8],
    items: &[Item],
    problems: &mut Vec<Problem>,
) {
    let epoch = station.epoch;
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    if value.get("day").and_then(|d| d.as_str()) != Some(&file_day.format("%Y-%m-%d").to_string()) {
        problems.push(problem(key, "its \"day\" field does not match its name"));
    }
    let raw = value.get("items").and_then(|v| v.as_array());
    for (i, it) in items.iter().enumerate() {
        if store::day_of(epoch, it.start()).ok() != Some(file_day) {
            problems.push(problem(
                key,
                format!(
                    "item {i} (\"{}\") starts at {}, not on {file_day}",
                    it.title,
                    fmt_sample(station, it.start())
                ),
            ));
        }
        let Some(r) = raw.and_then(|a| a.get(i)) else {
            continue;
        };
        let text = |f: &str| r.get(f).and_then(|v| v.as_str()).map(str::to_string);
        let want_start = fmt_sample(station, it.start());
        let want_end = fmt_sample(station, it.end());
        if text("start").as_deref() != Some(want_start.as_str())
            || text("end").as_deref() != Some(want_end.as_str())
            || r.get("end_sample").and_then(|v| v.as_u64()) != Some(it.end().0)
        {
            problems.push(problem(
                key,
                format!(
                    "item {i} (\"{}\"): start/end/end_sample do not match start_sample {} and \
                     length {} (expected {want_start} to {want_end})",
                    it.title, it.start_sample, it.length
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_picks_include_first_and_last() {
        assert_eq!(decode_picks(0, 20), BTreeSet::new());
        assert_eq!(decode_picks(3, 20), [0, 1, 2].into_iter().collect());
        let p = decode_picks(1000, 20);
        assert_eq!(p.len(), 20);
        assert!(p.contains(&0) && p.contains(&999));
        assert_eq!(decode_picks(1000, 1), [0].into_iter().collect());
    }

    #[test]
    fn a_packaged_segment_parses_and_decodes_to_d_samples() {
        let mut enc = opus::Encoder::new(
            SAMPLE_RATE,
            opus::Channels::Stereo,
            opus::Application::Audio,
        )
        .expect("encoder");
        let frame: Vec<f32> = (0..1920)
            .map(|i| ((i / 2) as f32 * 0.05).sin() * 0.3)
            .collect();
        let packets: Vec<Vec<u8>> = (0..100)
            .map(|_| enc.encode_vec_float(&frame, 4000).expect("encode"))
            .collect();
        let n = SegmentNumber(5_000_000_000);
        let bytes =
            fmp4::media_segment(n, SampleIndex(n.0 * 96_000), &packets, &[]).expect("package");
        let seg = fmp4::read_segment(&bytes).expect("parses");
        assert_eq!(seg.base_media_decode_time, n.0 * 96_000);
        assert_eq!(seg.packets.len(), 100);
        assert_eq!(seg.packets[3], packets[3].as_slice());
        assert_eq!(decode(&seg.packets).expect("decodes"), 96_000);
        // A payload cut short is named, not a panic.
        assert!(fmp4::read_segment(&bytes[..bytes.len() - 10]).is_err());
    }

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
