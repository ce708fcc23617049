//! Listening sessions from segment requests, and how many listen at once.
//!
//! A session is one listener's run of segment requests with no gap longer
//! than [`GAP_SEGMENTS`] segments. Why that many: a player at the live edge
//! fetches one segment per segment duration and cannot hold more than its
//! latency behind the edge (3 segments with the default 6 s), so a player
//! that has fetched nothing for 3 segments has run dry or gone. Two more
//! segments of slack cover a slow or retried fetch and the log's one-second
//! timestamps. A listener who pauses for longer, or closes the page and comes
//! back, starts a new session; that is what a session means to an operator.

use rayon::prelude::*;
use serde::Serialize;

use super::read::Hit;

/// A silence longer than this many segments ends a session.
pub const GAP_SEGMENTS: u64 = 5;

/// One listening session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The listener's hash.
    pub who: u64,
    /// First request (Unix ms).
    pub start_ms: i64,
    /// Last request (Unix ms).
    pub end_ms: i64,
    /// Lowest segment number fetched.
    pub first_segment: u64,
    /// Highest segment number fetched.
    pub last_segment: u64,
    /// Segment requests.
    pub requests: u64,
}

impl Session {
    /// How long the listener listened: from the first request to one
    /// segment after the last (the last segment fetched is still heard).
    pub fn length_ms(&self, segment_ms: i64) -> i64 {
        self.end_ms - self.start_ms + segment_ms
    }
}

/// Cuts the hits (sorted here by listener, then time) into sessions,
/// sorted by start.
pub fn sessions(hits: &mut [Hit], gap_ms: i64) -> Vec<Session> {
    hits.par_sort_unstable_by_key(|h| (h.who, h.t_ms, h.segment));
    let mut out: Vec<Session> = Vec::new();
    let mut cur: Option<Session> = None;
    for h in hits.iter() {
        match cur.as_mut() {
            Some(s) if s.who == h.who && h.t_ms - s.end_ms <= gap_ms => {
                s.end_ms = h.t_ms;
                s.first_segment = s.first_segment.min(h.segment);
                s.last_segment = s.last_segment.max(h.segment);
                s.requests += 1;
            }
            _ => {
                out.extend(cur.take());
                cur = Some(Session {
                    who: h.who,
                    start_ms: h.t_ms,
                    end_ms: h.t_ms,
                    first_segment: h.segment,
                    last_segment: h.segment,
                    requests: 1,
                });
            }
        }
    }
    out.extend(cur);
    out.par_sort_unstable_by_key(|s| (s.start_ms, s.who));
    out
}

/// Listeners at once, minute by minute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concurrency {
    /// The most listeners at any one moment.
    pub peak: u64,
    /// When that was first reached (RFC 3339).
    pub peak_at: Option<String>,
    /// Mean listeners over the window.
    pub mean: f64,
    /// The busiest minute's mean.
    pub peak_minute: f64,
    /// Start of the first minute (Unix ms, a whole minute).
    pub first_minute_ms: i64,
    /// Mean listeners in each minute from `first_minute_ms` on.
    pub per_minute: Vec<f64>,
    /// The curve drawn: mean listeners in each `curve_step_ms` from
    /// `first_minute_ms` on (10 s for a window of up to 2 hours, a minute up
    /// to 2 days, 5 minutes beyond), so a short window is not one dot.
    pub curve: Vec<f64>,
    /// The curve's step in ms.
    pub curve_step_ms: i64,
}

/// Concurrency over `[from_ms, to_ms)`: a session is there from its first
/// request to one segment after its last.
pub fn concurrency(sessions: &[Session], from_ms: i64, to_ms: i64, segment_ms: i64) -> Concurrency {
    let first_minute_ms = from_ms.div_euclid(60_000) * 60_000;
    let curve_step_ms = match to_ms - from_ms {
        w if w <= 2 * 3_600_000 => 10_000,
        w if w <= 48 * 3_600_000 => 60_000,
        _ => 300_000,
    };
    let mut per_minute = vec![0.0; buckets(first_minute_ms, to_ms, 60_000)];
    let mut curve = vec![0.0; buckets(first_minute_ms, to_ms, curve_step_ms)];
    let mut events: Vec<(i64, i64)> = Vec::with_capacity(sessions.len() * 2);
    let mut total = 0.0;
    for s in sessions {
        let (a, b) = (s.start_ms.max(from_ms), (s.end_ms + segment_ms).min(to_ms));
        if b <= a {
            continue;
        }
        events.push((a, 1));
        events.push((b, -1));
        total += (b - a) as f64;
        spread(&mut per_minute, first_minute_ms, 60_000, a, b);
        spread(&mut curve, first_minute_ms, curve_step_ms, a, b);
    }
    // Ends before starts at the same instant: a hand-over is not two at once.
    events.sort_unstable();
    let (mut now, mut peak, mut peak_at) = (0i64, 0i64, None);
    for (t, d) in events {
        now += d;
        if now > peak {
            peak = now;
            peak_at = Some(t);
        }
    }
    let span = (to_ms - from_ms).max(1) as f64;
    Concurrency {
        peak: peak.max(0) as u64,
        peak_at: peak_at.and_then(fmt_ms),
        mean: total / span,
        peak_minute: per_minute.iter().copied().fold(0.0, f64::max),
        first_minute_ms,
        per_minute,
        curve,
        curve_step_ms,
    }
}

/// How many buckets of `step` ms from `first` cover up to `to`.
fn buckets(first: i64, to: i64, step: i64) -> usize {
    usize::try_from((to - first + step - 1).div_euclid(step))
        .unwrap_or(0)
        .max(1)
}

/// Adds the presence `[a, b)` to the buckets of `step` ms from `first`, as
/// the share of each bucket it covers.
fn spread(buckets: &mut [f64], first: i64, step: i64, a: i64, b: i64) {
    let mut t = a;
    while t < b {
        let k = (t - first).div_euclid(step);
        let until = b.min(first + (k + 1) * step);
        if let Some(slot) = usize::try_from(k).ok().and_then(|k| buckets.get_mut(k)) {
            *slot += (until - t) as f64 / step as f64;
        }
        t = until;
    }
}

/// An instant as the report shows it (RFC 3339, seconds, UTC).
pub fn fmt_ms(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The session-length histogram's bins: (upper bound in seconds, label).
pub const LENGTH_BINS: [(u64, &str); 8] = [
    (60, "< 1 min"),
    (300, "1–5 min"),
    (900, "5–15 min"),
    (1800, "15–30 min"),
    (3600, "30–60 min"),
    (7200, "1–2 h"),
    (14_400, "2–4 h"),
    (u64::MAX, "≥ 4 h"),
];

/// Session lengths: counts per bin and the usual summaries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lengths {
    /// Sessions.
    pub sessions: u64,
    /// Of those, still listening when the log (or window) ends: their
    /// length is at least what is shown.
    pub still_listening_at_end: u64,
    /// Of those, already listening when it starts.
    pub listening_at_start: u64,
    /// Shortest length in seconds.
    pub min_s: f64,
    /// Longest length in seconds.
    pub max_s: f64,
    /// Mean length in seconds.
    pub mean_s: f64,
    /// Median length in seconds.
    pub median_s: f64,
    /// 90th percentile in seconds.
    pub p90_s: f64,
    /// Listening hours in all.
    pub hours: f64,
    /// `(label, sessions)` per bin of [`LENGTH_BINS`].
    pub histogram: Vec<(String, u64)>,
}

/// Length statistics; `censored(s)` says (listening at start, still
/// listening at end).
pub fn lengths(
    sessions: &[Session],
    segment_ms: i64,
    censored: impl Fn(&Session) -> (bool, bool),
) -> Lengths {
    let mut secs: Vec<f64> = sessions
        .iter()
        .map(|s| s.length_ms(segment_ms) as f64 / 1000.0)
        .collect();
    secs.sort_by(f64::total_cmp);
    let mut histogram: Vec<(String, u64)> = LENGTH_BINS
        .iter()
        .map(|(_, l)| (l.to_string(), 0))
        .collect();
    for s in &secs {
        let i = LENGTH_BINS
            .iter()
            .position(|(upper, _)| *s < *upper as f64)
            .unwrap_or(LENGTH_BINS.len() - 1);
        histogram[i].1 += 1;
    }
    let q = |p: f64| -> f64 {
        if secs.is_empty() {
            return 0.0;
        }
        let pos = (secs.len() - 1) as f64 * p;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        secs[lo] + (secs[hi] - secs[lo]) * (pos - lo as f64)
    };
    let total: f64 = secs.iter().sum();
    let (mut at_start, mut at_end) = (0, 0);
    for s in sessions {
        let (a, b) = censored(s);
        at_start += u64::from(a);
        at_end += u64::from(b);
    }
    Lengths {
        sessions: sessions.len() as u64,
        still_listening_at_end: at_end,
        listening_at_start: at_start,
        min_s: secs.first().copied().unwrap_or(0.0),
        max_s: secs.last().copied().unwrap_or(0.0),
        mean_s: if secs.is_empty() {
            0.0
        } else {
            total / secs.len() as f64
        },
        median_s: q(0.5),
        p90_s: q(0.9),
        hours: total / 3600.0,
        histogram,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(who: u64, t_s: i64, segment: u64) -> Hit {
        Hit {
            who,
            t_ms: t_s * 1000,
            segment,
            kbps: 96,
        }
    }

    #[test]
    fn a_gap_longer_than_the_limit_starts_a_new_session() {
        let mut hits = vec![
            hit(1, 0, 100),
            hit(1, 2, 101),
            hit(1, 4, 102),
            // 10 s later: same session (gap = 10 s).
            hit(1, 14, 107),
            // 11 s later: a new one.
            hit(1, 25, 113),
            hit(2, 3, 101),
        ];
        let s = sessions(&mut hits, 10_000);
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].who, s[0].start_ms, s[0].end_ms), (1, 0, 14_000));
        assert_eq!(
            (s[0].first_segment, s[0].last_segment, s[0].requests),
            (100, 107, 4)
        );
        assert_eq!(s[0].length_ms(2000), 16_000);
        assert_eq!((s[1].who, s[2].who), (2, 1));
    }

    #[test]
    fn concurrency_counts_overlaps_and_minutes() {
        let mk = |start_s: i64, end_s: i64| Session {
            who: 0,
            start_ms: start_s * 1000,
            end_ms: end_s * 1000,
            first_segment: 0,
            last_segment: 0,
            requests: 1,
        };
        // Three listeners: 0-58 s, 30-88 s, 58-118 s (with the 2 s segment
        // each is there until 2 s after its last request).
        let s = [mk(0, 58), mk(30, 88), mk(58, 118)];
        let c = concurrency(&s, 0, 120_000, 2000);
        assert_eq!(c.peak, 3);
        assert_eq!(c.per_minute.len(), 2);
        assert!(
            (c.per_minute[0] - (60.0 + 30.0 + 2.0) / 60.0).abs() < 1e-9,
            "{c:?}"
        );
        assert!((c.mean - 182.0 / 120.0).abs() < 1e-9);
        let l = lengths(&s, 2000, |_| (false, false));
        assert_eq!(l.sessions, 3);
        assert_eq!(l.histogram[0].1, 0);
        assert_eq!(l.histogram[1].1, 3);
        assert!((l.median_s - 60.0).abs() < 1e-9);
    }
}
