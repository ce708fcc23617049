//! `lofiever status`: how much programme is ready ahead of now, at a glance.
//!
//! For the local output folder and for the publish target (once when they
//! are the same folder) it reports, from **one listing** of each (a request
//! per thousand objects on S3, never one per object):
//!
//! - per rendition, the segments present, the rendered horizon (end of the
//!   last segment) and the **runway**: programme time from now to the first
//!   segment missing at or after the live segment, so a hole an hour ahead
//!   caps the runway at an hour even if days are rendered after it;
//! - the gaps: missing segment ranges between the live segment and the
//!   horizon;
//! - segments too small to be whole (an object shorter than the smallest
//!   possible segment of its rendition counts as missing);
//! - the init segments and the MPD;
//! - the schedule: the item playing now and the last planned item (only the
//!   day files from yesterday on are read);
//! - the catalog: rows of `features.csv` and `analyze-errors.csv`.
//!
//! The **live segment** is the one listeners hear now: players run
//! `player.target_latency_ms` behind the station clock, so it is the segment
//! holding `now − target latency`. The runway itself is counted from now.
//!
//! Status reads no segment: a segment cut short but still larger than the
//! smallest possible one is found by `lofiever verify`, which reads them all.
//!
//! Skip or stop: a place that cannot be listed is reported with its error
//! (the report goes on); a schedule file that cannot be read is reported in
//! that place's schedule section. Nothing here writes anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::package::fmp4;
use crate::publish::{self, DirTarget, ObjectInfo, Target};
use crate::schedule::{store, Item, Schedule};
use crate::station::layout::{self, segment_number};
use crate::station::{Rendition, Station};
use crate::time::{SampleCount, SampleIndex, SegmentNumber, OPUS_FRAME, SAMPLE_RATE};

/// The whole report (also the `--json` document; every field is documented
/// in the README's "Operations" section).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The station's name.
    pub station: String,
    /// The instant the report is about (RFC 3339).
    pub now: String,
    /// The programme instant listeners hear at `now` (now − target latency).
    pub listeners_at: String,
    /// The live segment: the one listeners hear at `now`.
    pub live_segment: u64,
    /// Segment length in milliseconds.
    pub segment_ms: u64,
    /// The runway that counts, in whole seconds: the target's (the output
    /// folder's when it is the target).
    pub runway_seconds: u64,
    /// The publish target; `None` when it is the output folder itself.
    pub target: Option<Place>,
    /// The local output folder.
    pub output: Place,
    /// The catalog's analysis state.
    pub catalog: Catalog,
}

/// One place a station's files live in: the output folder or the target.
#[derive(Debug, Clone, Serialize)]
pub struct Place {
    /// A path or `s3://bucket/prefix`.
    pub location: String,
    /// Why the place could not be listed; everything else is then empty.
    pub error: Option<String>,
    /// Whether `stream.mpd` is there.
    pub mpd: bool,
    /// Per rendition of the configuration, in ladder order.
    pub renditions: Vec<RenditionStatus>,
    /// The smallest runway of the renditions, in whole seconds.
    pub runway_seconds: u64,
    /// Where that runway ends (RFC 3339), if any segment is there.
    pub runway_until: Option<String>,
    /// The earliest rendered horizon of the renditions (RFC 3339).
    pub horizon: Option<String>,
    /// The schedule stored there.
    pub schedule: ScheduleStatus,
}

/// One rendition at one place.
#[derive(Debug, Clone, Serialize)]
pub struct RenditionStatus {
    /// The rendition id and folder, e.g. `96k`.
    pub id: String,
    /// Whether `<id>/init.mp4` is there.
    pub init: bool,
    /// Media segments present (whole-looking ones).
    pub segments: u64,
    /// The lowest segment number present.
    pub first_segment: Option<u64>,
    /// The highest segment number present.
    pub last_segment: Option<u64>,
    /// The end of the last segment present (RFC 3339): the rendered horizon.
    pub horizon: Option<String>,
    /// The end of the contiguous run of segments from the live segment.
    pub runway_until: Option<String>,
    /// Seconds from now to `runway_until` (0 if the live segment is missing).
    pub runway_seconds: u64,
    /// Missing segment ranges between the live segment and the horizon.
    pub gaps: Vec<Gap>,
    /// Keys of segments too small to be whole (counted as missing).
    pub undersized: Vec<String>,
}

/// A run of missing segments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// First missing segment number.
    pub first: u64,
    /// Last missing segment number (inclusive).
    pub last: u64,
    /// How many segments are missing.
    pub segments: u64,
    /// Start of the first missing segment (RFC 3339).
    pub from: String,
    /// End of the last missing segment (RFC 3339).
    pub until: String,
}

/// The schedule at one place.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScheduleStatus {
    /// Day files present (`schedule/<day>.json`).
    pub files: u64,
    /// Items in the files read (yesterday's and later).
    pub items_read: u64,
    /// Where the planned programme is final (start of the last item's
    /// fade-out, RFC 3339).
    pub planned_until: Option<String>,
    /// The item listeners hear now.
    pub now_playing: Option<Entry>,
    /// The last item planned.
    pub last: Option<Entry>,
    /// Why the schedule could not be read, if it could not.
    pub error: Option<String>,
}

/// One schedule item, for people.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Display title.
    pub title: String,
    /// Display artist.
    pub artist: String,
    /// When it starts (RFC 3339).
    pub start: String,
    /// When its audio ends, fade-out included (RFC 3339).
    pub end: String,
}

/// The catalog's analysis state.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    /// The catalog folder.
    pub folder: String,
    /// Rows of `features.csv`: usable tracks (0 if not analysed yet).
    pub tracks: u64,
    /// Rows of `analyze-errors.csv`: files that could not be used.
    pub failed: u64,
    /// Why a file could not be read, if one could not.
    pub error: Option<String>,
}

/// The size range a whole media segment of `rendition` can have, in bytes:
/// at least its headers plus one byte per packet (the smallest Opus packet);
/// at most its headers and now-playing events plus four times the nominal packet size of the
/// bitrate per packet (libopus's VBR stays well within twice the nominal
/// rate over a segment), capped at the 1275-byte Opus frame limit.
pub fn plausible_size(station: &Station, rendition: &Rendition) -> (u64, u64) {
    let packets = station.grid.packets_per_segment();
    let one_byte: Vec<Vec<u8>> = (0..packets).map(|_| vec![0u8]).collect();
    // Segment 0 has the smallest tfdt box; later ones are at most 4 bytes
    // larger (a 64-bit decode time), allowed for in the upper bound.
    let min = fmp4::media_segment(SegmentNumber(0), SampleIndex(0), &one_byte, &[])
        .map_or(packets, |b| b.len() as u64);
    let headers = min.saturating_sub(packets) + 8;
    let nominal = u64::from(rendition.bitrate) * OPUS_FRAME / u64::from(SAMPLE_RATE) / 8;
    let per_packet = (4 * nominal + 16).min(1275);
    // Events: the item playing at the segment's start, and each item that
    // starts within it; items start at least two thirds of the shortest
    // track apart (a fade is at most a third of an item).
    let spacing = crate::analyze::MIN_TRACK_SECONDS * u64::from(SAMPLE_RATE) * 2 / 3;
    let events = 2 + station.grid.segment_duration().0 / spacing;
    (
        min,
        headers + events * fmp4::MAX_EVENT_LEN + packets * per_packet,
    )
}

/// Builds the status report as of `now`.
pub fn run(station: &Station, now: DateTime<Utc>) -> Result<Report> {
    let clock = Clock::new(station, now)?;
    let output = place(station, &DirTarget::new(&station.output_dir), &clock);
    let target = if publish::target_is_output(station) {
        None
    } else {
        let t = publish::open(station).map_err(|e| e.in_command("status"))?;
        Some(place(
            station,
            &publish::ForCommand::new(t.as_ref(), "status"),
            &clock,
        ))
    };
    let runway_seconds = target.as_ref().unwrap_or(&output).runway_seconds;
    Ok(Report {
        station: station.name.clone(),
        now: store::fmt_instant(now),
        listeners_at: store::fmt_instant(station.epoch.instant_of(clock.heard)?),
        live_segment: clock.live.0,
        segment_ms: station.grid.segment_duration().as_millis_floor(),
        runway_seconds,
        target,
        output,
        catalog: catalog(&station.catalog_dir),
    })
}

/// "Now" on the programme clock.
struct Clock {
    now: SampleIndex,
    heard: SampleIndex,
    live: SegmentNumber,
    yesterday: chrono::NaiveDate,
}

impl Clock {
    fn new(station: &Station, now: DateTime<Utc>) -> Result<Clock> {
        let now_s = station.epoch.sample_at(now)?;
        let heard = now_s.saturating_sub(SampleCount::from_millis(station.target_latency_ms)?);
        let yesterday = (now - Duration::days(1)).date_naive();
        Ok(Clock {
            now: now_s,
            heard,
            live: station.grid.segment_of(heard),
            yesterday,
        })
    }
}

fn place(station: &Station, target: &dyn Target, clock: &Clock) -> Place {
    let mut p = Place {
        location: target.describe(),
        error: None,
        mpd: false,
        renditions: Vec::new(),
        runway_seconds: 0,
        runway_until: None,
        horizon: None,
        schedule: ScheduleStatus::default(),
    };
    let listing = match target.list("") {
        Ok(l) => l,
        Err(e) => {
            p.error = Some(e.to_string());
            return p;
        }
    };
    p.mpd = listing.contains_key(layout::MPD);
    for r in &station.renditions {
        p.renditions
            .push(rendition_status(station, r, &listing, clock));
    }
    let runway = p
        .renditions
        .iter()
        .min_by_key(|r| r.runway_seconds)
        .map(|r| (r.runway_seconds, r.runway_until.clone()));
    if let Some((secs, until)) = runway {
        p.runway_seconds = secs;
        p.runway_until = until;
    }
    // The earliest horizon: what every rendition has reached. RFC 3339 UTC
    // strings of one format sort in time order.
    p.horizon = p
        .renditions
        .iter()
        .map(|r| r.horizon.clone())
        .min()
        .flatten();
    p.schedule = schedule_status(station, target, &listing, clock);
    p
}

fn instant(station: &Station, s: SampleIndex) -> String {
    store::fmt_sample(station.epoch, s)
}

fn segment_instant(station: &Station, n: u64) -> String {
    match station.grid.segment_start(SegmentNumber(n)) {
        Ok(s) => instant(station, s),
        Err(e) => e.to_string(),
    }
}

/// The whole segments of `rendition` in `listing`, and the keys of those
/// too small to be whole.
pub(crate) fn segments_of(
    station: &Station,
    rendition: &Rendition,
    listing: &BTreeMap<String, ObjectInfo>,
) -> (BTreeSet<u64>, Vec<String>) {
    let folder = format!("{}/", station.rendition_dir(rendition));
    let (min, _) = plausible_size(station, rendition);
    let mut present = BTreeSet::new();
    let mut undersized = Vec::new();
    for (key, info) in listing.range(folder.clone()..) {
        if !key.starts_with(&folder) {
            break;
        }
        let Some(n) = segment_number(key) else {
            continue;
        };
        if info.size < min {
            undersized.push(key.clone());
        } else {
            present.insert(n.0);
        }
    }
    (present, undersized)
}

/// The missing runs in `present` from `from` up to its last element.
pub(crate) fn gaps(present: &BTreeSet<u64>, from: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut expect = from;
    for &n in present.range(from..) {
        if n > expect {
            out.push((expect, n - 1));
        }
        expect = n + 1;
    }
    out
}

fn rendition_status(
    station: &Station,
    r: &Rendition,
    listing: &BTreeMap<String, ObjectInfo>,
    clock: &Clock,
) -> RenditionStatus {
    let (present, undersized) = segments_of(station, r, listing);
    let d = station.grid.segment_duration().0;
    let live = clock.live.0;
    // The contiguous run from the live segment.
    let mut end = live;
    for &n in present.range(live..) {
        if n != end {
            break;
        }
        end = n + 1;
    }
    let runway_end = SampleIndex(end.saturating_mul(d));
    let runway_seconds = runway_end
        .since(clock.now)
        .map_or(0, |c| c.0 / u64::from(SAMPLE_RATE));
    let last = present.last().copied();
    RenditionStatus {
        id: r.id(),
        init: listing.contains_key(&layout::init(&r.id())),
        segments: present.len() as u64,
        first_segment: present.first().copied(),
        last_segment: last,
        horizon: last.map(|n| segment_instant(station, n + 1)),
        runway_until: (end > live).then(|| instant(station, runway_end)),
        runway_seconds,
        gaps: gaps(&present, live)
            .into_iter()
            .map(|(a, b)| Gap {
                first: a,
                last: b,
                segments: b - a + 1,
                from: segment_instant(station, a),
                until: segment_instant(station, b + 1),
            })
            .collect(),
        undersized,
    }
}

fn entry(station: &Station, it: &Item) -> Entry {
    Entry {
        title: it.title.clone(),
        artist: it.artist.clone(),
        start: instant(station, it.start()),
        end: instant(station, it.end()),
    }
}

fn schedule_status(
    station: &Station,
    target: &dyn Target,
    listing: &BTreeMap<String, ObjectInfo>,
    clock: &Clock,
) -> ScheduleStatus {
    let mut s = ScheduleStatus::default();
    let prefix = format!("{}/", layout::SCHEDULE_DIR);
    let files: Vec<&String> = listing
        .keys()
        .filter(|k| k.starts_with(&prefix) && k.ends_with(".json"))
        .collect();
    s.files = files.len() as u64;
    // Day files are named by UTC day, so a name comparison picks the days
    // from yesterday on: enough for "now playing" and the last item, and
    // bounded however old the station is.
    let first_day = format!("{prefix}{}", clock.yesterday.format("%Y-%m-%d"));
    let mut items = Vec::new();
    for key in files
        .into_iter()
        .filter(|k| k.as_str() >= first_day.as_str())
    {
        let read = target.get(key).and_then(|b| {
            b.ok_or_else(|| crate::Error::Schedule(format!("{key} was listed but cannot be read")))
        });
        match read.and_then(|bytes| store::parse_day(key, &bytes)) {
            Ok(mut v) => items.append(&mut v),
            Err(e) => {
                s.error = Some(e.to_string());
                return s;
            }
        }
    }
    let schedule = Schedule { items };
    if let Err(e) = schedule.validate() {
        s.error = Some(e.to_string());
    }
    s.items_read = schedule.items.len() as u64;
    s.planned_until = schedule.horizon().map(|h| instant(station, h));
    s.now_playing = schedule
        .playing_at(clock.heard)
        .map(|it| entry(station, it));
    s.last = schedule.items.last().map(|it| entry(station, it));
    s
}

fn count_rows(path: &Path) -> std::result::Result<u64, String> {
    if !path.exists() {
        return Ok(0);
    }
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut n = 0;
    for row in reader.records() {
        row.map_err(|e| format!("{}: {e}", path.display()))?;
        n += 1;
    }
    Ok(n)
}

fn catalog(dir: &Path) -> Catalog {
    let tracks = count_rows(&dir.join(crate::analyze::FEATURES_FILE));
    let failed = count_rows(&dir.join(crate::analyze::ERRORS_FILE));
    let error = tracks.as_ref().err().or(failed.as_ref().err()).cloned();
    Catalog {
        folder: dir.display().to_string(),
        tracks: tracks.unwrap_or(0),
        failed: failed.unwrap_or(0),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station(toml: &str) -> Station {
        let now = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .expect("valid literal")
            .with_timezone(&Utc);
        Station::from_toml(toml, "test.toml", Path::new("/x"), now).expect("valid config")
    }

    #[test]
    fn gaps_are_the_missing_runs_after_from() {
        let set: BTreeSet<u64> = [3, 4, 5, 8, 9, 12].into_iter().collect();
        assert_eq!(gaps(&set, 4), vec![(6, 7), (10, 11)]);
        assert_eq!(gaps(&set, 1), vec![(1, 2), (6, 7), (10, 11)]);
        assert_eq!(gaps(&set, 13), vec![]);
    }

    #[test]
    fn a_real_segment_is_within_the_plausible_size_range() {
        let s = station("[stream]\nbitrates_kbps = [64, 160]\n");
        for r in &s.renditions {
            let (min, max) = plausible_size(&s, r);
            // A segment at the nominal bitrate, far from the epoch.
            let nominal = (r.bitrate / 8 / 50) as usize;
            let packets: Vec<Vec<u8>> = (0..100).map(|_| vec![7u8; nominal]).collect();
            let n = SegmentNumber(9_000_000_000);
            let seg =
                fmp4::media_segment(n, SampleIndex(n.0 * 96_000), &packets, &[]).expect("encodes");
            let len = seg.len() as u64;
            assert!(min < len && len < max, "{}: {min} < {len} < {max}", r.id());
            // The minimum really is the smallest: one byte per packet.
            assert!(min > 100 && min < 1000, "{min}");
        }
    }
}
