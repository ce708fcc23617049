//! `lofiever listeners LOG...`: who listens, from the host's own access logs.
//!
//! A station with no server has no listener counter, but every listener
//! fetches one segment per segment duration from the CDN or bucket, and every
//! host logs those requests. This module reads the logs ([`formats`],
//! [`read`]), cuts each listener's requests into sessions ([`sessions`]),
//! and measures listeners at once, session lengths, renditions, players,
//! countries (when the log has them) and, against the schedule, which tracks
//! listeners leave during more than usual ([`tracks`]). [`html`] draws it;
//! [`weighting`] feeds it back to the planner when the station asks.
//!
//! A listener is a (client address, user agent) pair. Addresses are hashed
//! with a key made for each run and then dropped: no address, and nothing
//! else that identifies a person, is printed or written ([`read`]).
//!
//! Nothing here stops on a bad line: such lines are counted per file with
//! the first one shown. A file that is not a log at all is named and skipped;
//! the command fails only if no file could be read.

pub mod formats;
pub mod html;
pub mod read;
pub mod sessions;
pub mod tracks;
pub mod weighting;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::schedule::Schedule;
use crate::station::Station;

pub use read::{Input, ReadOptions};

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Window start (RFC 3339).
    pub from: String,
    /// Window end (RFC 3339).
    pub to: String,
    /// Window start, Unix ms.
    pub from_ms: i64,
    /// Window end, Unix ms.
    pub to_ms: i64,
    /// Segment duration in ms.
    pub segment_ms: i64,
    /// A silence longer than this ends a session (seconds).
    pub session_gap_s: f64,
    /// The logs read.
    pub files: Vec<FileRow>,
    /// Logs that could not be read at all.
    pub unreadable: Vec<String>,
    /// Listeners at once.
    pub listeners: sessions::Concurrency,
    /// Session lengths.
    pub sessions: sessions::Lengths,
    /// Segment requests per rendition, e.g. `96k`.
    pub renditions: Vec<Share>,
    /// Sessions per browser or player.
    pub players: Vec<Share>,
    /// Sessions per operating system.
    pub platforms: Vec<Share>,
    /// Sessions per country, when the logs have countries.
    pub countries: Option<Vec<Share>>,
    /// Per track, when the schedule could be read.
    pub tracks: Option<tracks::Tracks>,
    /// Why there are no per-track figures, if there are none.
    pub tracks_note: Option<String>,
    /// The station's time zone (day parts follow it).
    pub time_zone: String,
}

/// One file read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileRow {
    /// File name.
    pub name: String,
    /// Format recognised.
    pub format: String,
    /// Lines.
    pub lines: u64,
    /// Segment requests kept.
    pub segment_requests: u64,
    /// Lines not readable in the format.
    pub bad_lines: u64,
    /// The first of them: `line N (reason): text`.
    pub first_bad: Option<String>,
}

/// A count and its share of the total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    /// What is counted.
    pub name: String,
    /// How many.
    pub count: u64,
    /// Share of the total, 0..=1.
    pub share: f64,
}

fn shares(counts: BTreeMap<String, u64>) -> Vec<Share> {
    let total: u64 = counts.values().sum();
    let mut v: Vec<Share> = counts
        .into_iter()
        .map(|(name, count)| Share {
            name,
            count,
            share: count as f64 / total.max(1) as f64,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    v
}

/// Reads `inputs` and builds the report for `[from_ms, to_ms)` (default:
/// the span of the logs). `schedule` is `Err(reason)` when it could not be
/// read: the report then has no per-track part and says why.
pub fn report(
    station: &Station,
    inputs: &[Input],
    opts: &ReadOptions,
    schedule: std::result::Result<&Schedule, String>,
) -> Report {
    let mut logs = read::read(inputs, opts);
    let segment_ms = (station.grid.segment_duration().0 / 48).max(1) as i64;
    let gap_ms = segment_ms * sessions::GAP_SEGMENTS as i64;
    let (span_from, span_to) = logs.span.unwrap_or((0, 0));
    let from_ms = opts.from_ms.unwrap_or(span_from);
    // The last request's second is in the window too.
    let to_ms = opts.to_ms.unwrap_or(span_to + 1000).max(from_ms + 1);
    let mut rendition_counts: BTreeMap<String, u64> = BTreeMap::new();
    for h in &logs.hits {
        *rendition_counts.entry(format!("{}k", h.kbps)).or_default() += 1;
    }
    let list = sessions::sessions(&mut logs.hits, gap_ms);
    let listeners = sessions::concurrency(&list, from_ms, to_ms, segment_ms);
    let lengths = sessions::lengths(&list, segment_ms, |s| {
        (s.start_ms - from_ms <= gap_ms, to_ms - s.end_ms <= gap_ms)
    });
    let (mut players, mut platforms, mut countries) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for s in &list {
        if let Some(w) = logs.who.get(&s.who) {
            *players.entry(w.player.to_string()).or_default() += 1;
            *platforms.entry(w.platform.to_string()).or_default() += 1;
            if let Some(c) = &w.country {
                *countries.entry(c.clone()).or_default() += 1;
            }
        }
    }
    let (tracks, tracks_note) = match schedule {
        Ok(s) if s.items.is_empty() => (None, Some("the schedule is empty".to_string())),
        Ok(s) => (
            Some(tracks::tracks(station, s, &list, from_ms, to_ms, gap_ms)),
            None,
        ),
        Err(why) => (None, Some(why)),
    };
    let fmt = |ms: i64| sessions::fmt_ms(ms).unwrap_or_default();
    Report {
        from: fmt(from_ms),
        to: fmt(to_ms),
        from_ms,
        to_ms,
        segment_ms,
        session_gap_s: gap_ms as f64 / 1000.0,
        files: logs
            .files
            .iter()
            .map(|f| FileRow {
                name: f.name.clone(),
                format: f.format.to_string(),
                lines: f.lines,
                segment_requests: f.segment_requests,
                bad_lines: f.bad,
                first_bad: f
                    .first_bad
                    .as_ref()
                    .map(|b| format!("line {} ({}): {}", b.line, b.reason, b.text)),
            })
            .collect(),
        unreadable: logs.unreadable,
        listeners,
        sessions: lengths,
        renditions: shares(rendition_counts),
        players: shares(players),
        platforms: shares(platforms),
        countries: (!countries.is_empty()).then(|| shares(countries)),
        tracks,
        tracks_note,
        time_zone: station.schedule.time_zone.name().to_string(),
    }
}

/// Seconds as people read them: 42 s, 3 min 5 s, 1 h 20 min.
pub fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 && s % 60 == 0 => format!("{} min", s / 60),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s if s % 3600 < 60 => format!("{} h", s / 3600),
        s => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Listeners {} to {}", self.from, self.to)?;
        for file in &self.files {
            writeln!(
                f,
                "  {}: {}, {} lines, {} segment requests, {} bad lines",
                file.name, file.format, file.lines, file.segment_requests, file.bad_lines
            )?;
            if let Some(b) = &file.first_bad {
                writeln!(f, "    first bad line: {b}")?;
            }
        }
        for u in &self.unreadable {
            writeln!(f, "  skipped: {u}")?;
        }
        let l = &self.listeners;
        writeln!(
            f,
            "Listeners at once: peak {}{}, busiest minute {:.1}, mean {:.2}",
            l.peak,
            l.peak_at
                .as_ref()
                .map(|t| format!(" at {t}"))
                .unwrap_or_default(),
            l.peak_minute,
            l.mean
        )?;
        let s = &self.sessions;
        writeln!(
            f,
            "Sessions: {} ({:.1} listening hours; a silence over {} s ends one), median {}, mean {}, 90 % under {}",
            s.sessions,
            s.hours,
            self.session_gap_s,
            fmt_secs(s.median_s),
            fmt_secs(s.mean_s),
            fmt_secs(s.p90_s)
        )?;
        if s.listening_at_start + s.still_listening_at_end > 0 {
            writeln!(
                f,
                "  {} already listening when the logs start, {} still listening when they end (their lengths are lower bounds)",
                s.listening_at_start, s.still_listening_at_end
            )?;
        }
        for (label, n) in s.histogram.iter().filter(|(_, n)| *n > 0) {
            writeln!(f, "  {label:>10}  {n}")?;
        }
        let list = |f: &mut fmt::Formatter<'_>, title: &str, v: &[Share]| -> fmt::Result {
            let parts: Vec<String> = v
                .iter()
                .map(|s| format!("{} {} ({:.0} %)", s.name, s.count, s.share * 100.0))
                .collect();
            writeln!(
                f,
                "{title}: {}",
                if parts.is_empty() {
                    "none".into()
                } else {
                    parts.join(", ")
                }
            )
        };
        list(f, "Renditions (segment requests)", &self.renditions)?;
        list(f, "Players (sessions)", &self.players)?;
        list(f, "Platforms (sessions)", &self.platforms)?;
        match &self.countries {
            Some(c) => list(f, "Countries (sessions)", c)?,
            None => writeln!(f, "Countries: not in these logs")?,
        }
        match (&self.tracks, &self.tracks_note) {
            (Some(t), _) => {
                writeln!(
                    f,
                    "Tracks: {} plays heard, {} tracks; leave index = leaves / leaves expected at the station's usual rate for those hours",
                    t.plays.len(),
                    t.tracks.len()
                )?;
                writeln!(
                    f,
                    "  {:<40} {:>5} {:>6} {:>6} {:>6} {:>7} {:>7} {:>6}",
                    "track", "plays", "start", "end", "left", "left %", "usual %", "index"
                )?;
                for r in &t.tracks {
                    let name = r.display_name();
                    let name: String = name.chars().take(40).collect();
                    writeln!(
                        f,
                        "  {name:<40} {:>5} {:>6.1} {:>6.1} {:>6} {:>6.0}% {:>6.0}% {:>6}",
                        r.plays,
                        r.mean_at_start,
                        r.mean_at_end,
                        r.left,
                        r.left_share * 100.0,
                        r.usual_share * 100.0,
                        r.leave_index.map_or("-".into(), |i| format!("{i:.2}"))
                    )?;
                }
            }
            (None, Some(why)) => writeln!(f, "Tracks: no per-track figures: {why}")?,
            (None, None) => {}
        }
        Ok(())
    }
}
