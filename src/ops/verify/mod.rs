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
//! Each check has its file: `manifest` (1), `init` (2), `segments` (3, 4)
//! and `schedule` (5).
//!
//! Every object is read once (at most `publish.concurrency` at a time), so a
//! full two-day window of an S3 target costs one GET per segment; narrow it
//! with `--until` for a quick check.
//!
//! Skip or stop: a target that cannot be listed stops the run; everything
//! else (a missing or unreadable object included) is a problem naming the
//! object key, and checking goes on.

mod init;
mod manifest;
mod schedule;
mod segments;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::publish::Target;
use crate::schedule::store;
use crate::station::layout::{self, segment_number};
use crate::station::Station;
use crate::time::{SampleIndex, SegmentNumber, SAMPLE_RATE};
use init::check_init;
use manifest::check_mpd;
use schedule::check_schedule;
use segments::{check_segments, decode_picks, missing, missing_tail, Job};

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
    store::fmt_sample(station.epoch, s)
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
