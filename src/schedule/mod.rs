//! `lofiever schedule`: what plays when, for days ahead, append-only.
//!
//! The schedule is a list of [`Item`]s with absolute starts on the programme
//! clock. Item `i+1` starts where item `i` begins its fade-out, so
//! consecutive items overlap by a crossfade and there is never dead air.
//! Everything the renderer needs (cue-in, length, gain, fades) is frozen into
//! the item when it is scheduled, so the programme is a pure function of the
//! schedule: re-analysing a track later never changes audio already planned.
//!
//! Append-only: [`Schedule::extend`] adds items after the last one and never
//! touches earlier ones. The samples before [`Schedule::horizon`] are final;
//! samples after it may still change when the next item is appended (the
//! last item's fade-out will overlap it), so nothing after the horizon is
//! rendered.
//!
//! # How tracks are picked
//!
//! | module | owns |
//! |---|---|
//! | [`track`] | a schedulable [`Track`]: features (unknown = `None`) + catalog.csv |
//! | [`moods`] | standardised features → k-means moods with profiles and labels |
//! | [`daypart`] | the day-part curve over the station's local day |
//! | [`cost`] | the transition cost terms |
//! | [`rules`] | the rotation rules in force and the violation checker |
//! | [`plan`] | the beam-search planner and [`Schedule::plan`] |
//! | [`explain`] | why a track plays at a given moment (replays the decision) |
//! | [`report`] | quality metrics for a window, beside a seeded shuffle |
//! | [`store`] | the schedule files |
//! | [`synthetic`] | a synthetic analysed catalog for tests and benchmarks |
//!
//! Each decision depends only on the schedule so far, the catalog and the
//! configuration (not on how far a run extends), so extending day by day
//! gives the same items as extending a week at once.
//!
//! Skip or stop: an empty catalog (or every track disabled), or a schedule
//! file that cannot be read or does not join up, stops the run. A rule the
//! catalog makes impossible is relaxed with a warning naming it; a scheduled
//! recording that vanished from the catalog is warned about here (planning
//! goes on after it); `lofiever render` then cuts the schedule before it
//! ([`Schedule::cut`]) and plans again (`render --strict` stops instead).

pub mod busy;
pub mod cost;
pub mod daypart;
pub mod explain;
pub mod moods;
pub mod plan;
pub mod report;
pub mod rules;
pub mod store;
pub mod synthetic;
pub mod track;

use serde::{Deserialize, Serialize};

pub use busy::Busy;
pub use plan::{Extension, Rejoin};
pub use track::Track;

use crate::error::{Error, Result};
use crate::station::Station;
use crate::time::{SampleCount, SampleIndex};

/// One scheduled play of a track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Programme sample at which the item's cue-in plays.
    pub start_sample: u64,
    /// Samples the item plays, from cue-in to cue-out.
    pub length: u64,
    /// Track id (path relative to the catalog).
    pub track: String,
    /// Content hash of the track when it was scheduled.
    pub hash: String,
    /// Offset of cue-in within the decoded track (48 kHz frames).
    pub cue_in: u64,
    /// Gain applied to reach the loudness target (dB).
    pub gain_db: f64,
    /// Equal-power fade-in length (samples), overlapping the previous item.
    pub fade_in: u64,
    /// Equal-power fade-out length (samples), overlapped by the next item.
    pub fade_out: u64,
    /// Display title.
    pub title: String,
    /// Display artist.
    pub artist: String,
}

impl Item {
    /// First programme sample of the item.
    pub fn start(&self) -> SampleIndex {
        SampleIndex(self.start_sample)
    }

    /// One past the last programme sample of the item.
    pub fn end(&self) -> SampleIndex {
        SampleIndex(self.start_sample.saturating_add(self.length))
    }

    /// Where the next item starts: the beginning of this item's fade-out.
    pub fn next_start(&self) -> SampleIndex {
        SampleIndex(self.end().0 - self.fade_out.min(self.length))
    }

    /// This item moved to follow `prev` (at its own start without one):
    /// it starts where `prev` hands over, with the fade-in the planner
    /// gives that join ([`make_item`]); the rest (cue, length, gain,
    /// fade-out) stays as frozen when it was planned.
    pub fn retimed(&self, prev: Option<&Item>) -> Item {
        Item {
            start_sample: prev.map_or(self.start_sample, |p| p.next_start().0),
            fade_in: fade_in_after(prev, self.length),
            ..self.clone()
        }
    }
}

/// The station's schedule: items in start order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    /// The items, sorted by start, each starting at its predecessor's
    /// [`Item::next_start`].
    pub items: Vec<Item>,
}

impl Schedule {
    /// The first sample that may still change when items are appended (the
    /// start of the last item's fade-out), or `None` for an empty schedule.
    pub fn horizon(&self) -> Option<SampleIndex> {
        self.items.last().map(Item::next_start)
    }

    /// The first scheduled sample.
    pub fn start(&self) -> Option<SampleIndex> {
        self.items.first().map(Item::start)
    }

    /// Items overlapping `[from, to)`.
    pub fn overlapping(&self, from: SampleIndex, to: SampleIndex) -> &[Item] {
        // Items are sorted by start and by end (each ends after the next starts,
        // and after its predecessor ends), so both bounds are binary searches.
        let first = self.items.partition_point(|it| it.end() <= from);
        let last = self.items.partition_point(|it| it.start() < to);
        if first >= last {
            &[]
        } else {
            &self.items[first..last]
        }
    }

    /// The item playing at `at` (the newest one that has started), if any.
    pub fn playing_at(&self, at: SampleIndex) -> Option<&Item> {
        let n = self.items.partition_point(|it| it.start() <= at);
        n.checked_sub(1)
            .map(|i| &self.items[i])
            .filter(|it| it.end() > at)
    }

    /// Checks the items join up: sorted, each starting at its predecessor's
    /// next start, with sane fades.
    pub fn validate(&self) -> Result<()> {
        for (i, w) in self.items.windows(2).enumerate() {
            if w[1].start() != w[0].next_start() {
                return Err(Error::Schedule(format!(
                    "item {} ({}) starts at sample {} but item {} ({}) hands over at sample {}; \
                     the schedule files do not join up",
                    i + 1,
                    w[1].track,
                    w[1].start_sample,
                    i,
                    w[0].track,
                    w[0].next_start().0
                )));
            }
        }
        for it in &self.items {
            if it.length == 0 || it.fade_in > it.length || it.fade_out > it.length {
                return Err(Error::Schedule(format!(
                    "item {} at sample {} has an impossible length or fade",
                    it.track, it.start_sample
                )));
            }
        }
        Ok(())
    }

    /// Takes the items `gone` selects out of the programme from sample `cut`
    /// on, keeping everything heard before `cut` as it is: the item playing
    /// at `cut`, if `gone`, is cut short there (a hard cut, no fade-out: a
    /// fade would need its audio after the cut, or change audio before it);
    /// otherwise the schedule is truncated before the first later `gone`
    /// item (the items between stay). Returns the index of the first item
    /// removed or changed, or `None` if nothing is affected. The caller
    /// joins the old plan's later items back on ([`Schedule::rejoin`]) and
    /// extends the schedule again from its new horizon.
    pub fn cut(&mut self, cut: SampleIndex, gone: &dyn Fn(&Item) -> bool) -> Option<usize> {
        let after = self.items.partition_point(|it| it.start() < cut);
        if let Some(j) = after.checked_sub(1) {
            let it = &self.items[j];
            if it.end() > cut && it.next_start() > cut && gone(it) {
                self.items.truncate(j + 1);
                let it = &mut self.items[j];
                it.length = (cut.0 - it.start_sample).max(1);
                it.fade_out = 0;
                it.fade_in = it.fade_in.min(it.length);
                return Some(j);
            }
        }
        let k = after + self.items[after..].iter().position(gone)?;
        self.items.truncate(k);
        Some(k)
    }

    /// After a cut, joins `old`'s items after this schedule's end back on
    /// in their old order, planning afresh only where a join breaks a
    /// rotation rule (see [`plan::rejoin`]).
    pub fn rejoin(&mut self, old: &[Item], tracks: &[Track], station: &Station) -> Result<Rejoin> {
        plan::rejoin(self, old, tracks, station)
    }

    /// Appends items until the horizon reaches `until`. An empty schedule
    /// starts at `start`. Returns how many items were added; warnings (rules
    /// relaxed, vanished tracks) are logged. See [`Schedule::plan`].
    pub fn extend(
        &mut self,
        tracks: &[Track],
        station: &Station,
        start: SampleIndex,
        until: SampleIndex,
    ) -> Result<usize> {
        self.extend_avoiding(tracks, station, start, until, &Busy::default())
    }

    /// [`Schedule::extend`], never picking a recording at a moment `busy`
    /// (other channels' schedules) holds it.
    pub fn extend_avoiding(
        &mut self,
        tracks: &[Track],
        station: &Station,
        start: SampleIndex,
        until: SampleIndex,
        busy: &Busy,
    ) -> Result<usize> {
        let ext = plan::extend(self, tracks, station, start, until, busy)?;
        for n in &ext.notices {
            tracing::warn!("{n}");
        }
        Ok(ext.added)
    }

    /// Appends items until the horizon reaches `until` with the mood-aware
    /// planner (see [`plan`]); an empty schedule starts at `start`. Returns
    /// the count and the warnings instead of logging them.
    pub fn plan(
        &mut self,
        tracks: &[Track],
        station: &Station,
        start: SampleIndex,
        until: SampleIndex,
    ) -> Result<Extension> {
        plan::extend(self, tracks, station, start, until, &Busy::default())
    }
}

/// Builds the item for `track` starting at `start`, after `prev`.
pub(crate) fn make_item(
    prev: Option<&Item>,
    track: &Track,
    start: SampleIndex,
    station: &Station,
) -> Item {
    let length = track.cue_out.saturating_sub(track.cue_in).max(1);
    let crossfade = station.crossfade.0;
    let fade_out = crossfade.min(length / 3);
    let fade_in = fade_in_after(prev, length);
    // Gain to the loudness target, rounded to 0.01 dB so the JSON round trip
    // is exact and the value reads well.
    let gain = ((station.loudness_target_lufs - track.loudness_lufs) * 100.0).round() / 100.0;
    Item {
        start_sample: start.0,
        length,
        track: track.id.clone(),
        hash: track.hash.clone(),
        cue_in: track.cue_in,
        gain_db: gain.clamp(-40.0, 40.0),
        fade_in,
        fade_out,
        title: track.title.clone(),
        artist: track.artist.clone(),
    }
}

/// The fade-in of an item of `length` samples after `prev`: the previous
/// item's fade-out (the crossfade), at most a third of the item.
fn fade_in_after(prev: Option<&Item>, length: u64) -> u64 {
    prev.map_or(0, |p| p.fade_out.min(length / 3))
}

/// Rounds `s` down to a multiple of `count`.
pub fn align_down(s: SampleIndex, count: SampleCount) -> SampleIndex {
    SampleIndex(s.0 / count.0.max(1) * count.0.max(1))
}
