//! Retention: media segments that have aged out of the keep window are
//! deleted from the target (and from a local output folder that is not the
//! target), in batches.
//!
//! The keep window (`publish.keep_minutes`, default a day plus the MPD's
//! timeShiftBufferDepth, never less than that depth plus a minute) is counted
//! back from the *earlier* of the run's "now" and the system clock, so a run
//! simulating a later time can never delete audio that is still to be
//! played. Only keys of the form `<rendition>/<N>.m4s` are candidates: init
//! segments, schedule files (the station's state), the MPD and the page are
//! never deleted, and neither is anything at or after the live segment.
//!
//! Skip or stop: a failed delete stops the run with the object's name (the
//! upload before it has completed; the next run deletes what is left).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{ObjectInfo, Target};
use crate::error::Result;
use crate::station::layout::segment_number;
use crate::station::Station;
use crate::time::{SampleCount, SegmentNumber};

/// What a retention pass did (or, in a dry run, would do).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Segments deleted (in a dry run: that would be).
    pub deleted: u64,
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

/// The segment keys in `listing` that lie before `keep_from`, in order.
pub fn expired(listing: &BTreeMap<String, ObjectInfo>, keep_from: SegmentNumber) -> Vec<String> {
    let mut keys: Vec<(SegmentNumber, &String)> = listing
        .keys()
        .filter_map(|k| segment_number(k).map(|n| (n, k)))
        .filter(|(n, _)| *n < keep_from)
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k.clone()).collect()
}

/// Deletes from `target` the segments of `listing` before `keep_from`
/// (nothing in a dry run).
pub fn apply(
    target: &dyn Target,
    listing: &BTreeMap<String, ObjectInfo>,
    keep_from: SegmentNumber,
    dry_run: bool,
) -> Result<Summary> {
    let old = expired(listing, keep_from);
    let mut summary = Summary {
        deleted: old.len() as u64,
        keep_from: Some(keep_from),
        range: old
            .first()
            .zip(old.last())
            .map(|(a, b)| (a.clone(), b.clone())),
    };
    if !dry_run && !old.is_empty() {
        target.delete(&old)?;
        tracing::info!(
            "retention: deleted {} segments before {} from {}",
            old.len(),
            keep_from.0,
            target.describe()
        );
    }
    summary.keep_from = Some(keep_from);
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

    #[test]
    fn only_old_media_segments_expire() {
        let l = listing(&[
            "96k/init.mp4",
            "96k/1.m4s",
            "96k/10.m4s",
            "64k/9.m4s",
            "64k/11.m4s",
            "schedule/2026-01-01.json",
            "stream.mpd",
            "junk/1.m4s",
        ]);
        assert_eq!(
            expired(&l, SegmentNumber(11)),
            vec!["96k/1.m4s", "64k/9.m4s", "96k/10.m4s"]
        );
        assert!(expired(&l, SegmentNumber(0)).is_empty());
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
