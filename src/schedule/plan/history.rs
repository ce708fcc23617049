//! The rotation state after a history of items: what the rules need to
//! know at the next slot, rebuilt from the items alone.

use std::collections::BTreeSet;

use super::model::{Model, BIN_SLOTS, KEY_SLOTS};
use crate::schedule::rules::artist_key;
use crate::schedule::Item;

/// The rotation state after the history: what the rules need to know.
///
/// Everything here is a function of the history alone (so `explain` can
/// rebuild it); [`State::commit`] keeps it equal to what
/// [`State::from_history`] would build after one more item.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(super) last: Vec<Option<u64>>,
    pub(super) artist_last: Vec<Option<u64>>,
    pub(super) due: BTreeSet<(u64, u32)>,
    pub(super) origin: u64,
    /// Per bucket, its tracks ordered by when they leave the repeat window
    /// (then by index), so a scan stops at the first one still inside it.
    pub(super) buckets: Vec<Vec<u32>>,
    /// When each track leaves the repeat window (0 if never played).
    pub(super) release: Vec<u64>,
    /// Playable index of the last scheduled track (if it still is one).
    pub prev: Option<usize>,
    /// Where the next item starts.
    pub horizon: u64,
    /// Recent plays `(start, next start, track)` reaching into the fit
    /// window before the horizon.
    pub(super) recent: Vec<(u64, u64, usize)>,
}

impl State {
    /// The state after `history`; an empty history starts at `start`.
    pub(crate) fn from_history(model: &Model<'_>, history: &[Item], start: u64) -> State {
        let n = model.tracks.len();
        let mut last = vec![None; n];
        let mut artist_last = vec![None; model.artist_ids.len()];
        for it in history {
            if let Some(i) = model.playable_of(it) {
                last[i] = Some(it.start_sample);
            }
            if let Some(&a) = artist_key(&it.artist).and_then(|a| model.artist_ids.get(&a)) {
                artist_last[a as usize] = Some(it.start_sample);
            }
        }
        let origin = history.first().map_or(start, |it| it.start_sample);
        let horizon = history.last().map_or(start, |it| it.next_start().0);
        let from = horizon.saturating_sub(model.fit_window());
        let first = history.partition_point(|it| it.next_start().0 <= from);
        let recent = history[first..]
            .iter()
            .filter_map(|it| {
                model
                    .playable_of(it)
                    .map(|i| (it.start_sample, it.next_start().0, i))
            })
            .collect();
        let due = last
            .iter()
            .enumerate()
            .map(|(i, l)| (l.unwrap_or(origin), i as u32))
            .collect();
        let release: Vec<u64> = last
            .iter()
            .map(|l| l.map_or(0, |l| l.saturating_add(model.rules.repeat_window)))
            .collect();
        let mut buckets = vec![Vec::new(); KEY_SLOTS * BIN_SLOTS];
        for (i, &b) in model.bucket_of.iter().enumerate() {
            buckets[b as usize].push(i as u32);
        }
        for b in &mut buckets {
            b.sort_by_key(|&c| (release[c as usize], c));
        }
        State {
            last,
            artist_last,
            due,
            origin,
            buckets,
            release,
            prev: history.last().and_then(|it| model.playable_of(it)),
            horizon,
            recent,
        }
    }

    /// Records any item, playable or not (an old plan's item whose track
    /// has left the catalog since): [`State::commit`] for a playable one,
    /// else only its artist and the horizon, as [`State::from_history`]
    /// counts it.
    pub(super) fn record(&mut self, model: &Model<'_>, item: &Item) {
        if let Some(c) = model.playable_of(item) {
            self.commit(model, c, item);
            return;
        }
        if let Some(&a) = artist_key(&item.artist).and_then(|a| model.artist_ids.get(&a)) {
            self.artist_last[a as usize] = Some(item.start_sample);
        }
        self.prev = None;
        self.horizon = item.next_start().0;
        let from = self.horizon.saturating_sub(model.fit_window());
        self.recent.retain(|r| r.1 > from);
    }

    /// Records that playable track `c` starts at `item.start_sample`.
    pub(super) fn commit(&mut self, model: &Model<'_>, c: usize, item: &Item) {
        let s = item.start_sample;
        let old = self.last[c].unwrap_or(self.origin);
        self.due.remove(&(old, c as u32));
        self.due.insert((s, c as u32));
        self.last[c] = Some(s);
        // Its release is now the latest of all: it moves to its bucket's end.
        self.release[c] = s.saturating_add(model.rules.repeat_window);
        let bucket = &mut self.buckets[model.bucket_of[c] as usize];
        if let Some(pos) = bucket.iter().position(|&x| x as usize == c) {
            bucket.remove(pos);
        }
        bucket.push(c as u32);
        if let Some(a) = model.feats[c].artist {
            self.artist_last[a as usize] = Some(s);
        }
        self.prev = Some(c);
        self.horizon = item.next_start().0;
        self.recent.push((s, self.horizon, c));
        let from = self.horizon.saturating_sub(model.fit_window());
        self.recent.retain(|r| r.1 > from);
    }
}
