//! Per track: who was there when a play started and ended, who left while
//! it played, against how many leave at that hour anyway.
//!
//! Everything is counted on the programme clock, from the segment numbers
//! listeners fetched (exact, whatever the log's clock), not from request
//! times. Segment `s` belongs to the item playing at its middle, so each
//! segment counts for one play only.
//!
//! - *present* at segment `s`: sessions whose fetched segments span `s`;
//! - a session *leaves* at its last segment, unless it was still listening
//!   when the log ends (then nobody knows when it will leave);
//! - the station's *usual leave rate* at hour `h` of its local day: leaves
//!   per listener-segment over every segment of that hour in the window;
//! - a play's *expected* leaves: the sum, over its segments, of listeners
//!   present times the usual rate at that hour. A track's *leave index* is
//!   its leaves over its expected leaves, summed over its plays: 1 is as
//!   usual, 2 twice as many left as usually do at those hours.

use std::collections::HashMap;

use serde::Serialize;

use super::sessions::Session;
use crate::schedule::Schedule;
use crate::station::Station;
use crate::time::SampleIndex;

/// One play of a track as listeners heard it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Play {
    /// When it started (RFC 3339).
    pub start: String,
    /// Track id.
    pub track: String,
    /// Listeners hearing its first segment.
    pub at_start: u64,
    /// Listeners hearing its last segment.
    pub at_end: u64,
    /// Listeners who started listening during it.
    pub joined: u64,
    /// Listeners who left during it.
    pub left: u64,
    /// Leaves expected at the station's usual rate for those hours.
    pub expected_left: f64,
    /// Whether the whole play lies where leaving can be seen (not cut by the
    /// start or end of the logs).
    pub whole: bool,
}

/// A track over all its plays.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackRow {
    /// Track id (path in the catalog).
    pub track: String,
    /// Display title.
    pub title: String,
    /// Display artist.
    pub artist: String,
    /// Plays heard by at least one listener.
    pub plays: u64,
    /// Listeners who heard some of it, over all plays.
    pub heard: u64,
    /// Mean listeners at the start of a play.
    pub mean_at_start: f64,
    /// Mean listeners at its end.
    pub mean_at_end: f64,
    /// Listeners who left while it played.
    pub left: u64,
    /// Leaves expected at the station's usual rate for that listening.
    pub expected_left: f64,
    /// Share of those who heard it who left (0..=1).
    pub left_share: f64,
    /// The share that leaves at the station's usual rate at those hours.
    pub usual_share: f64,
    /// Leaves over expected leaves (`None` when none were expected).
    pub leave_index: Option<f64>,
}

impl TrackRow {
    /// "Artist – Title", or the track id when the schedule has no title.
    pub fn display_name(&self) -> String {
        if self.title.is_empty() {
            self.track.clone()
        } else {
            format!("{} – {}", self.artist, self.title)
        }
    }
}

/// The per-track part of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tracks {
    /// Usual leaves per listener-hour, by hour of the station's local day
    /// (`None` for hours nobody listened).
    pub hourly_leave_rate: Vec<Option<f64>>,
    /// Every play listened to, in order.
    pub plays: Vec<Play>,
    /// Every track listened to, most left first.
    pub tracks: Vec<TrackRow>,
}

/// The per-track figures for sessions seen while the log covered wall
/// time `[from_ms, to_ms)`; sessions still listening within `gap_ms` of
/// `to_ms` did not leave.
pub fn tracks(
    station: &Station,
    schedule: &Schedule,
    sessions: &[Session],
    from_ms: i64,
    to_ms: i64,
    gap_ms: i64,
) -> Tracks {
    let d = station.grid.segment_duration().0;
    let seg_ms = (d / 48).max(1) as i64;
    let epoch_ms = station.epoch.instant().timestamp_millis();
    // Segments live during the window, with an hour's margin either side
    // for players behind the live edge (the MPD allows 10 minutes).
    let seg_at = |ms: i64| -> i64 { (ms - epoch_ms).div_euclid(seg_ms) };
    let lo = seg_at(from_ms - 3_600_000).max(0);
    let hi = seg_at(to_ms + 3_600_000).max(lo + 1);
    // The last segment whose leavers are known.
    let known = seg_at(to_ms - gap_ms);
    let n = usize::try_from(hi - lo + 1).unwrap_or(0);
    let mut present = vec![0i64; n + 1];
    let mut leaves = vec![0u64; n];
    let mut joins = vec![0u64; n];
    let idx = |s: u64| -> Option<usize> {
        let s = i64::try_from(s).ok()?;
        (lo..=hi).contains(&s).then(|| (s - lo) as usize)
    };
    for s in sessions {
        let (Some(a), Some(b)) = (idx(s.first_segment), idx(s.last_segment)) else {
            continue;
        };
        present[a] += 1;
        present[b + 1] -= 1;
        if to_ms - s.end_ms > gap_ms {
            leaves[b] += 1;
        }
        if s.start_ms - from_ms > gap_ms {
            joins[a] += 1;
        }
    }
    let mut run = 0;
    for p in present.iter_mut() {
        run += *p;
        *p = run;
    }
    // Hour of the local day of each segment, then the usual rate per hour.
    let tz = station.schedule.time_zone;
    let hour_of = |i: usize| -> usize {
        let ms = epoch_ms + (lo + i as i64) * seg_ms;
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| {
                use chrono::Timelike;
                t.with_timezone(&tz).hour() as usize
            })
            .unwrap_or(0)
    };
    let mut hours = vec![0usize; n];
    let mut cached: (i64, usize) = (i64::MIN, 0);
    for (i, h) in hours.iter_mut().enumerate() {
        // The hour changes at most at a whole minute (zones are whole minutes).
        let minute = (epoch_ms + (lo + i as i64) * seg_ms).div_euclid(60_000);
        if minute != cached.0 {
            cached = (minute, hour_of(i));
        }
        *h = cached.1;
    }
    let (mut hour_leaves, mut hour_presence) = ([0u64; 24], [0u64; 24]);
    for i in 0..n {
        if lo + (i as i64) > known {
            break;
        }
        hour_leaves[hours[i]] += leaves[i];
        hour_presence[hours[i]] += present[i].max(0) as u64;
    }
    let rate: Vec<Option<f64>> = (0..24)
        .map(|h| (hour_presence[h] > 0).then(|| hour_leaves[h] as f64 / hour_presence[h] as f64))
        .collect();

    let first = SampleIndex(u64::try_from(lo).unwrap_or(0) * d);
    let last = SampleIndex(u64::try_from(hi).unwrap_or(0) * d);
    let mut plays = Vec::new();
    for item in schedule.overlapping(first, last) {
        // Segments whose middle falls in [start, next start).
        let first_mid = |x: u64| x.saturating_sub(d / 2).div_ceil(d);
        let (a, b) = (first_mid(item.start().0), first_mid(item.next_start().0));
        let (Some(ia), Some(ib)) = (idx(a), b.checked_sub(1).and_then(idx)) else {
            continue;
        };
        if ib < ia {
            continue;
        }
        let mut play = Play {
            start: station
                .epoch
                .instant_of(item.start())
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            track: item.track.clone(),
            at_start: present[ia].max(0) as u64,
            at_end: present[ib].max(0) as u64,
            joined: joins[ia + 1..=ib].iter().sum(),
            left: 0,
            expected_left: 0.0,
            // Every listener of its first segment and every leaver seen: it
            // went live after the log began (and a gap, as a listener then
            // may have fetched earlier segments first) and ended where
            // leaving is known.
            whole: lo + (ib as i64) <= known
                && epoch_ms + (lo + ia as i64) * seg_ms >= from_ms + gap_ms,
        };
        for i in ia..=ib {
            if lo + (i as i64) > known {
                break;
            }
            play.left += leaves[i];
            play.expected_left += present[i].max(0) as f64 * rate[hours[i]].unwrap_or(0.0);
        }
        if play.at_start + play.joined > 0 {
            plays.push(play);
        }
    }

    let mut rows: HashMap<&str, TrackRow> = HashMap::new();
    let mut expected: HashMap<&str, f64> = HashMap::new();
    let titles: HashMap<&str, (&str, &str)> = schedule
        .items
        .iter()
        .map(|it| (it.track.as_str(), (it.title.as_str(), it.artist.as_str())))
        .collect();
    for p in &plays {
        let (title, artist) = titles.get(p.track.as_str()).copied().unwrap_or(("", ""));
        let r = rows.entry(p.track.as_str()).or_insert_with(|| TrackRow {
            track: p.track.clone(),
            title: title.to_string(),
            artist: artist.to_string(),
            plays: 0,
            heard: 0,
            mean_at_start: 0.0,
            mean_at_end: 0.0,
            left: 0,
            expected_left: 0.0,
            left_share: 0.0,
            usual_share: 0.0,
            leave_index: None,
        });
        r.plays += 1;
        r.heard += p.at_start + p.joined;
        r.mean_at_start += p.at_start as f64;
        r.mean_at_end += p.at_end as f64;
        r.left += p.left;
        *expected.entry(p.track.as_str()).or_default() += p.expected_left;
    }
    let mut tracks: Vec<TrackRow> = rows
        .into_values()
        .map(|mut r| {
            let e = expected.get(r.track.as_str()).copied().unwrap_or(0.0);
            r.mean_at_start /= r.plays as f64;
            r.mean_at_end /= r.plays as f64;
            r.left_share = r.left as f64 / r.heard.max(1) as f64;
            r.usual_share = e / r.heard.max(1) as f64;
            r.leave_index = (e > 1e-12).then(|| r.left as f64 / e);
            r.expected_left = e;
            r
        })
        .collect();
    tracks.sort_by(|a, b| {
        b.leave_index
            .unwrap_or(0.0)
            .total_cmp(&a.leave_index.unwrap_or(0.0))
            .then(b.left.cmp(&a.left))
            .then(a.track.cmp(&b.track))
    });
    Tracks {
        hourly_leave_rate: rate
            .iter()
            .map(|r| r.map(|r| r * 3_600_000.0 / seg_ms as f64))
            .collect(),
        plays,
        tracks,
    }
}
