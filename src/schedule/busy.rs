//! Recordings other channels play, and when: what a channel's planner must
//! not pick at the same moment (issue: two channels never play the same
//! recording at once unless a channel allows it).
//!
//! Intervals are kept on one absolute clock (samples since the Unix epoch),
//! because channels may have different epochs; each planner reads them in
//! its own programme samples ([`Busy::intervals`]).

use std::collections::HashMap;

use super::Schedule;
use crate::time::{Epoch, SAMPLE_RATE};

/// Per recording (content hash), the absolute sample intervals
/// `[start, end)` in which some other channel plays it.
#[derive(Debug, Clone, Default)]
pub struct Busy {
    by_hash: HashMap<String, Vec<(i64, i64)>>,
}

impl Busy {
    /// Adds every item of `schedule`, a channel with epoch `epoch`.
    pub fn add(&mut self, epoch: Epoch, schedule: &Schedule) {
        let base = epoch.instant().timestamp() * i64::from(SAMPLE_RATE);
        for it in &schedule.items {
            let start = base.saturating_add(i64::try_from(it.start_sample).unwrap_or(i64::MAX));
            let end = start.saturating_add(i64::try_from(it.length).unwrap_or(i64::MAX));
            self.by_hash
                .entry(it.hash.clone())
                .or_default()
                .push((start, end));
        }
    }

    /// True when no recording is busy.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The intervals of `hash` in programme samples of a channel with epoch
    /// `epoch` (clipped at its sample 0), in no particular order.
    pub fn intervals(&self, hash: &str, epoch: Epoch) -> Vec<(u64, u64)> {
        let base = epoch.instant().timestamp() * i64::from(SAMPLE_RATE);
        let to_local = |s: i64| u64::try_from(s.saturating_sub(base).max(0)).unwrap_or(0);
        self.by_hash.get(hash).map_or_else(Vec::new, |v| {
            v.iter()
                .map(|&(s, e)| (to_local(s), to_local(e)))
                .filter(|(s, e)| e > s)
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Item;

    fn item(hash: &str, start: u64, length: u64) -> Item {
        Item {
            start_sample: start,
            length,
            track: format!("{hash}.wav"),
            hash: hash.into(),
            cue_in: 0,
            gain_db: 0.0,
            fade_in: 0,
            fade_out: 0,
            title: String::new(),
            artist: String::new(),
        }
    }

    #[test]
    fn intervals_are_moved_to_the_reading_channels_epoch() {
        let e0 = Epoch::new(chrono::DateTime::from_timestamp(1_000, 0).expect("t")).expect("e");
        let e1 = Epoch::new(chrono::DateTime::from_timestamp(1_010, 0).expect("t")).expect("e");
        let mut busy = Busy::default();
        let s = Schedule {
            items: vec![item("a", 0, 48_000 * 5), item("a", 48_000 * 20, 48_000)],
        };
        busy.add(e0, &s);
        // Seen from 10 s later, the first play is over; the second starts at 10 s.
        assert_eq!(busy.intervals("a", e1), vec![(480_000, 528_000)]);
        assert_eq!(busy.intervals("a", e0).len(), 2);
        assert!(busy.intervals("b", e0).is_empty());
    }
}
