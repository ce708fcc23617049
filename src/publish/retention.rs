//! Retention: media segments that have aged out of the keep window are
//! deleted from the target (and from a local output folder that is not the
//! target), in batches, and with them the HLS playlists of every UTC day
//! whose first segment has aged out (such a playlist would list missing
//! segments, and a plain HLS app starts at a day's first one). The
//! playlists go first, so no playlist ever lists a deleted segment; the
//! playlist writer starts at the first kept day, so none comes back.
//!
//! The keep window (`publish.keep_minutes`, default a day plus the MPD's
//! timeShiftBufferDepth, never less than that depth plus a minute) is counted
//! back from the *earlier* of the run's "now" and the system clock, so a run
//! simulating a later time can never delete audio that is still to be
//! played. Only keys of the form `<rendition>/<N>.m4s` and a day's
//! playlists (`hls/<day>.m3u8`, `<rendition>/<day>.m3u8`) are candidates:
//! init segments, schedule files (the station's state), the MPD and the
//! page are never deleted, and neither is anything at or after the live
//! segment.
//!
//! Skip or stop: a failed delete stops the run with the object's name (the
//! upload before it has completed; the next run deletes what is left).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::{ObjectInfo, Target};
use crate::error::Result;
use crate::station::layout::{playlist_day_of, segment_number};
use crate::station::Station;
use crate::time::{SampleCount, SegmentNumber};

/// What a retention pass did (or, in a dry run, would do).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Segments deleted (in a dry run: that would be).
    pub deleted: u64,
    /// HLS playlists deleted (in a dry run: that would be), of days whose
    /// first segment has aged out.
    pub playlists: u64,
    /// The first segment kept, when retention applies.
    pub keep_from: Option<SegmentNumber>,
    /// The first and last key deleted, for the report.
    pub range: Option<(String, String)>,
}

/// The first segment to keep as of `now` (`None`: keep everything). Segments
/// before it ended at least `publish.keep_minutes` before the earlier of
/// `now` and the system clock.
pub fn keep_from(station: &Station, now: DateTime<Utc>) -> Result<Option<SegmentNumber>> {
    let Some(minutes) = station.publish.keep_minutes else {
        return Ok(None);
    };
    let now = now.min(Utc::now()).max(station.epoch.instant());
    let now_s = station.epoch.sample_at(now)?;
    let keep = SampleCount::from_secs(minutes.saturating_mul(60))?;
    let cutoff = now_s.saturating_sub(keep);
    // Segment N ends at (N+1)·D; every segment before the one holding
    // `cutoff` has ended by then.
    let from = station.grid.segment_of(cutoff);
    // Belt and braces: never at or after the live segment.
    let live = station.grid.segment_of(now_s);
    Ok(Some(SegmentNumber(from.0.min(live.0))))
}

/// What the keep window keeps as of a run: the segments from `from` on,
/// and the HLS playlists of the days from `day` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    /// The first segment kept ([`keep_from`]).
    pub from: SegmentNumber,
    /// The first UTC day whose playlists are kept ([`first_kept_day`]).
    pub day: NaiveDate,
}

/// [`keep_from`] and the [`first_kept_day`] that follows from it.
pub fn keep(station: &Station, now: DateTime<Utc>) -> Result<Option<Keep>> {
    keep_from(station, now)?
        .map(|from| {
            Ok(Keep {
                from,
                day: first_kept_day(station, from)?,
            })
        })
        .transpose()
}

/// The first UTC day none of whose segments lies before `from`: a day's
/// playlists list its segments from its first one, so the days before it
/// list segments that retention deletes. The epoch's day when nothing is
/// deleted.
pub fn first_kept_day(station: &Station, from: SegmentNumber) -> Result<NaiveDate> {
    let Some(last_gone) = from.0.checked_sub(1) else {
        return Ok(station.epoch.instant().date_naive());
    };
    // A day whose midnight is at or before the start of the last deleted
    // segment has that segment, or an earlier one, as its own.
    let start = station
        .epoch
        .instant_of(station.grid.segment_start(SegmentNumber(last_gone))?)?;
    let day = start.date_naive();
    Ok(day.succ_opt().unwrap_or(day))
}

/// The keys in `listing` that `keep` does not keep: the playlists of the
/// days before `keep.day`, then the segments before `keep.from`, in order.
pub fn expired(listing: &BTreeMap<String, ObjectInfo>, keep: Keep) -> Vec<String> {
    let playlists = listing
        .keys()
        .filter(|k| playlist_day_of(k).is_some_and(|d| d < keep.day));
    let mut segments: Vec<(SegmentNumber, &String)> = listing
        .keys()
        .filter_map(|k| segment_number(k).map(|n| (n, k)))
        .filter(|(n, _)| *n < keep.from)
        .collect();
    segments.sort();
    playlists
        .chain(segments.into_iter().map(|(_, k)| k))
        .cloned()
        .collect()
}

/// Whether `keep` lets the object `key` stay (or be uploaded).
pub fn kept(key: &str, keep: Keep) -> bool {
    segment_number(key).is_none_or(|n| n >= keep.from)
        && playlist_day_of(key).is_none_or(|d| d >= keep.day)
}

/// Deletes from `target` what `keep` does not keep of `listing`: the
/// playlists of expired days first, then the segments (nothing in a dry
/// run).
pub fn apply(
    target: &dyn Target,
    listing: &BTreeMap<String, ObjectInfo>,
    keep: Keep,
    dry_run: bool,
) -> Result<Summary> {
    let old = expired(listing, keep);
    let playlists = old.iter().filter(|k| playlist_day_of(k).is_some()).count();
    let segments = &old[playlists..];
    let summary = Summary {
        deleted: segments.len() as u64,
        playlists: playlists as u64,
        keep_from: Some(keep.from),
        range: segments
            .first()
            .zip(segments.last())
            .map(|(a, b)| (a.clone(), b.clone())),
    };
    if !dry_run && !old.is_empty() {
        target.delete(&old)?;
        tracing::info!(
            "retention: deleted {} segments before {} and {} playlists of days before {} from {}",
            segments.len(),
            keep.from.0,
            playlists,
            keep.day,
            target.describe()
        );
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(keys: &[&str]) -> BTreeMap<String, ObjectInfo> {
        keys.iter()
            .map(|k| (k.to_string(), ObjectInfo { size: 1, md5: None }))
            .collect()
    }

    fn keep(from: u64, day: &str) -> Keep {
        Keep {
            from: SegmentNumber(from),
            day: day.parse().expect("a day"),
        }
    }

    #[test]
    fn only_old_media_segments_and_playlists_of_days_before_expire() {
        let l = listing(&[
            "96k/init.mp4",
            "96k/1.m4s",
            "96k/10.m4s",
            "64k/9.m4s",
            "64k/11.m4s",
            "schedule/2026-01-01.json",
            "stream.mpd",
            "junk/1.m4s",
            "hls/2026-01-01.m3u8",
            "96k/2026-01-01.m3u8",
            "hls/2026-01-02.m3u8",
            "96k/2026-01-02.m3u8",
            "junk/2026-01-01.m3u8",
        ]);
        assert_eq!(
            expired(&l, keep(11, "2026-01-02")),
            vec![
                "96k/2026-01-01.m3u8",
                "hls/2026-01-01.m3u8",
                "96k/1.m4s",
                "64k/9.m4s",
                "96k/10.m4s"
            ]
        );
        assert!(expired(&l, keep(0, "2026-01-01")).is_empty());
        assert!(kept("96k/2026-01-02.m3u8", keep(11, "2026-01-02")));
        assert!(!kept("hls/2026-01-01.m3u8", keep(11, "2026-01-02")));
        assert!(!kept("64k/9.m4s", keep(11, "2026-01-02")));
        assert!(kept("schedule/2025-01-01.json", keep(11, "2026-01-02")));
    }

    #[test]
    fn a_day_is_kept_until_its_first_segment_expires() {
        // 2 s segments from an epoch at midnight: segment 43,200 is the
        // first of the second day.
        let s = crate::station::Station::from_toml(
            "[station]\nepoch = \"2026-01-01T00:00:00Z\"\n",
            "t",
            std::path::Path::new("/r"),
            Utc::now(),
        )
        .expect("valid");
        let day = |d: &str| d.parse::<NaiveDate>().expect("a day");
        assert_eq!(
            first_kept_day(&s, SegmentNumber(0)).expect("ok"),
            day("2026-01-01")
        );
        assert_eq!(
            first_kept_day(&s, SegmentNumber(1)).expect("ok"),
            day("2026-01-02")
        );
        assert_eq!(
            first_kept_day(&s, SegmentNumber(43_200)).expect("ok"),
            day("2026-01-02")
        );
        assert_eq!(
            first_kept_day(&s, SegmentNumber(43_201)).expect("ok"),
            day("2026-01-03")
        );
    }

    #[test]
    fn the_keep_window_never_reaches_now_or_the_future() {
        let s = crate::station::Station::from_toml(
            "[publish]\nkeep_minutes = 11\n",
            "t",
            std::path::Path::new("/r"),
            Utc::now(),
        )
        .expect("valid");
        let now = Utc::now();
        let from = keep_from(&s, now).expect("ok").expect("applies");
        let live = s
            .grid
            .segment_of(s.epoch.sample_at(now).expect("after epoch"));
        // 11 minutes of 2 s segments lie between the cut and now.
        assert!(
            from.0 + 330 <= live.0 && from.0 + 331 >= live.0,
            "{from:?} {live:?}"
        );
        // A "now" far in the future is clamped to the system clock.
        let later = keep_from(&s, now + chrono::Duration::days(30))
            .expect("ok")
            .expect("applies");
        assert!(later.0 <= from.0 + 5, "{later:?} vs {from:?}");
        // A "now" before the epoch keeps everything.
        let before = keep_from(&s, s.epoch.instant() - chrono::Duration::days(1))
            .expect("ok")
            .expect("applies");
        assert_eq!(before, SegmentNumber(0));
        let forever = crate::station::Station::from_toml(
            "[publish]\nkeep_minutes = 0\n",
            "t",
            std::path::Path::new("/r"),
            Utc::now(),
        )
        .expect("valid");
        assert_eq!(keep_from(&forever, now).expect("ok"), None);
    }
}
