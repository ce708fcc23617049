//! The planner: plans each hour of programme as a whole by beam search
//! over the transition cost, under the rotation rules, and plays the plan.
//!
//! # Why whole hours
//!
//! A small catalog is a hard optimisation problem. With 60 tracks, keys
//! spread over the 24 Camelot keys and tempos over 65–100 BPM, each track
//! mixes well (same or adjacent key *and* tempo within 8 %) with only two
//! or three others, and the repeat window (80 % of the catalog) keeps four
//! fifths of the catalog unplayable at any moment. Picking one track at a
//! time with a short look-ahead strands the schedule on tracks with no
//! compatible successor left. And the day-part goal is about an hour's
//! mean, not about each pick. So the planner, at the first slot of each
//! programme hour, plans the whole hour plus `look_ahead` tracks beyond it,
//! and the items of that hour follow the plan.
//!
//! # One plan
//!
//! 1. From the history: when each track and each artist last started, the
//!    previous track, the next start, and what has played in the hour so
//!    far.
//! 2. **Candidates** for a slot are the playable tracks that pass the hard
//!    rules there (repeat window, artist separation — including the picks
//!    made earlier in the plan). If some are *overdue* (unplayed for ¾ of
//!    the coverage span), only they are candidates: that is how coverage is
//!    guaranteed, with a quarter of the span to place them.
//! 3. **Beam search**: level 1 keeps the `beam_width` cheapest candidates;
//!    each further level extends every kept plan by its `branching`
//!    cheapest next tracks and keeps the `beam_width` cheapest plans. A
//!    plan's cost is the sum of its transition terms (key and tempo are
//!    hinges: nearly free while compatible, steep beyond) plus the
//!    day-part cost of each hour it covers — the squared distance of the
//!    hour's time-weighted mean energy (and tempo) level from the paced
//!    target — where an hour still open is estimated optimistically (its
//!    rest assumed to land on the target as far as a few tracks can). The
//!    cheapest complete plan wins; ties are broken by a hash of the seed
//!    and the tracks, so the result is deterministic.
//! 4. If no track passes the rules at some slot, the artist rule is relaxed
//!    for that slot, then the repeat window (never back to back unless the
//!    catalog has one track); such a step costs [`RELAX_PENALTY`] more, so
//!    it is only taken when every plan needs it, and the run reports how
//!    often each rule was relaxed.
//!
//! # A function of the history alone
//!
//! The plan in force at a slot is the one made at the first slot of its
//! hour from the items before it ([`Model::plan_in_force`]); it depends only
//! on the schedule so far, the catalog and the configuration — never on how
//! far a run extends. So planning 7 days at once or 7 × 1 day (resuming in
//! the middle of an hour) gives the same items, and `explain` can replay
//! any decision exactly. Items planned by something else (an older
//! lofiever, another catalog or configuration) are kept as they are; the
//! plan restarts right after the last one that differs.
//!
//! # Finding the cheapest candidates fast
//!
//! Tracks are bucketed by Camelot key (24 + unknown) and by tempo folded to
//! one octave (16 bins of about 4.4 % + unknown). From a given previous
//! track, each bucket has a lower bound on the key + tempo cost of any of
//! its tracks (every other term is ≥ 0); buckets are visited in order of
//! that bound, precomputed per source bucket, and the scan stops as soon as
//! the bound reaches the worst of the cheapest candidates found. So a step
//! from 5 000 tracks looks at a few hundred, not all of them.

mod history;
mod model;
mod search;

pub use model::{no_playable_tracks, Model, FIT_WINDOW_SECONDS, HOUR};
pub use search::{Alternative, Decision, Relaxed, RELAX_PENALTY};

use history::State;

use super::rules::fmt_span;
use super::{make_item, Item, Schedule, Track};
use crate::error::{Error, Result};
use crate::station::Station;
use crate::time::SampleIndex;

/// What one extension did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extension {
    /// Items appended.
    pub added: usize,
    /// Warnings for the operator: rules relaxed (naming the rule and why),
    /// scheduled tracks missing from the catalog, unreadable features.
    pub notices: Vec<String>,
}

/// Appends items to `schedule` until its horizon reaches `until` (an empty
/// schedule starts at `start`), never a recording while `busy` holds it
/// (another channel plays it then).
pub fn extend(
    schedule: &mut Schedule,
    tracks: &[Track],
    station: &Station,
    start: SampleIndex,
    until: SampleIndex,
    busy: &super::Busy,
) -> Result<Extension> {
    if !tracks.iter().any(|t| t.enabled) {
        return Err(no_playable_tracks(tracks));
    }
    let horizon = schedule.horizon().unwrap_or(start);
    if horizon >= until {
        return Ok(Extension::default());
    }
    let mut model = Model::new(tracks, station)?;
    model.avoid(busy);
    let mut notices = model.notices.clone();
    notices.extend(vanished(&schedule.items, &model, start, station)?);
    let origin = schedule.start().map_or(start.0, |s| s.0);
    let mut state = State::from_history(&model, &schedule.items, origin);
    let mut plan = model.plan_in_force(&schedule.items, origin)?;
    let mut added = 0;
    let mut relaxed_artist: Vec<u64> = Vec::new();
    let mut relaxed_repeat: Vec<u64> = Vec::new();
    let mut shared: Vec<u64> = Vec::new();
    while state.horizon < until.0 {
        let n = schedule.items.len();
        let pick = match plan.pick_at(n, state.horizon) {
            Some(p) => p,
            None => {
                plan = model.plan_hour(&state, n)?;
                plan.pick_at(n, state.horizon).ok_or_else(|| {
                    Error::Schedule("the hour plan does not start at the horizon".into())
                })?
            }
        };
        if pick.relaxed.artist && model.rules.artist_separation > 0 {
            relaxed_artist.push(state.horizon);
        }
        if pick.relaxed.repeat && model.tracks.len() > 1 {
            relaxed_repeat.push(state.horizon);
        }
        if pick.relaxed.shared {
            shared.push(state.horizon);
        }
        append(&model, &mut state, schedule, pick.track, station);
        added += 1;
    }
    let at = |s: u64| -> Result<String> {
        Ok(super::store::fmt_instant(
            station.epoch.instant_of(SampleIndex(s))?,
        ))
    };
    if let Some(&first) = relaxed_artist.first() {
        notices.push(format!(
            "schedule.rotation.artist_separation_minutes: relaxed for {} of {added} new items \
             (first at {}): no other artist was playable then; add tracks by more artists",
            relaxed_artist.len(),
            at(first)?
        ));
    }
    if let Some(&first) = relaxed_repeat.first() {
        notices.push(format!(
            "schedule.rotation.repeat_window_hours: relaxed for {} of {added} new items (first at \
             {}): every track had played within {}; add music",
            relaxed_repeat.len(),
            at(first)?,
            fmt_span(model.rules.repeat_window)
        ));
    }
    if let Some(&first) = shared.first() {
        notices.push(format!(
            "channel filter: {} of {added} new items play a recording another channel plays at \
             the same moment (first at {}): every other track of this channel was taken then; \
             widen the channel's filter, or set channel.share_tracks = true to allow it",
            shared.len(),
            at(first)?
        ));
    }
    Ok(Extension { added, notices })
}

/// What [`rejoin`] did with the old plan's items after a cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejoin {
    /// Old items after the cut.
    pub old: usize,
    /// Of those, kept in their old order.
    pub kept: usize,
    /// Dropped: no longer playable (taken down, gone, disabled), or still
    /// breaking a rule after an item planned afresh in front of it.
    pub dropped: usize,
    /// Items planned afresh in front of an old one whose new join broke a
    /// rotation rule.
    pub planned: usize,
}

/// After a cut ([`Schedule::cut`]), joins the old plan's later items
/// (`old[schedule.items.len()..]`) back on in their old order, re-timed
/// ([`Item::retimed`]), so a takedown changes what plays as little as
/// possible. An item whose track is no longer playable is dropped. Where
/// an item's new join breaks a rotation rule (repeat window, artist
/// separation) that its old place kept, one item is planned afresh in
/// front of it (the planner's pick for that slot); if the join still
/// breaks the rule, the old item is dropped. The caller then extends the
/// schedule as usual, which plans afresh beyond the old plan's end. An
/// empty schedule is left empty (the planner starts it).
pub fn rejoin(
    schedule: &mut Schedule,
    old: &[Item],
    tracks: &[Track],
    station: &Station,
) -> Result<Rejoin> {
    let n0 = schedule.items.len();
    let rest = old.get(n0..).unwrap_or_default();
    let mut out = Rejoin {
        old: rest.len(),
        ..Rejoin::default()
    };
    let Some(origin) = schedule.start() else {
        return Ok(out);
    };
    if rest.is_empty() || !tracks.iter().any(|t| t.enabled) {
        out.dropped = rest.len();
        return Ok(out);
    }
    let model = Model::new(tracks, station)?;
    let mut state = State::from_history(&model, &schedule.items, origin.0);
    // The rotation state the old plan had at each old item, to tell a rule
    // the new join breaks from one the old plan had relaxed there already.
    let mut then = State::from_history(&model, &old[..n0], origin.0);
    for it in rest {
        if let Some(c) = model.playable_of(it) {
            let was = model.breaks(&then, c);
            let fits = |s: &State| {
                // A rule broken here that the old place kept breaks the join.
                let now = model.breaks(s, c);
                (was.repeat || !now.repeat) && (was.artist || !now.artist)
            };
            if !fits(&state) {
                let n = schedule.items.len();
                let pick = model
                    .plan_hour(&state, n)?
                    .pick_at(n, state.horizon)
                    .ok_or_else(|| {
                        Error::Schedule("the hour plan does not start at the horizon".into())
                    })?;
                append(&model, &mut state, schedule, pick.track, station);
                out.planned += 1;
            }
            if fits(&state) {
                let item = it.retimed(schedule.items.last());
                state.commit(&model, c, &item);
                schedule.items.push(item);
                out.kept += 1;
            } else {
                out.dropped += 1;
            }
        } else {
            out.dropped += 1;
        }
        then.record(&model, it);
    }
    Ok(out)
}

/// Appends track `c` at the state's horizon, timed as the planner times
/// items, and counts it in the state.
fn append(model: &Model, state: &mut State, schedule: &mut Schedule, c: usize, station: &Station) {
    let item = make_item(
        schedule.items.last(),
        model.tracks[c],
        SampleIndex(state.horizon),
        station,
    );
    state.commit(model, c, &item);
    schedule.items.push(item);
}

/// Notices for scheduled items still to play whose recording is no longer
/// in the catalog, under its path or any other (a moved file is found by
/// its content hash). The planner never re-plans them; `lofiever render`
/// cuts the schedule before them (see `job`), `render --strict` stops.
fn vanished(
    items: &[Item],
    model: &Model<'_>,
    start: SampleIndex,
    station: &Station,
) -> Result<Vec<String>> {
    let hashes: std::collections::HashSet<&str> =
        model.all.values().map(|t| t.hash.as_str()).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for it in items.iter().filter(|it| it.end() > start) {
        if !model.all.contains_key(it.track.as_str())
            && !hashes.contains(it.hash.as_str())
            && seen.insert(it.track.as_str())
        {
            out.push(format!(
                "track {:?} ({:?} by {}) is scheduled at {} but is no longer in the catalog; \
                 `lofiever render` plans the time not yet published again (restore the file \
                 to keep it)",
                it.track,
                it.title,
                it.artist,
                super::store::fmt_instant(station.epoch.instant_of(it.start())?)
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::schedule::rules::artist_key;
    use crate::schedule::synthetic;

    /// An old plan in which removing the second item brings an artist back
    /// sooner than the separation allows: the join is planned afresh, and
    /// every other item is kept in its order.
    #[test]
    fn rejoin_keeps_the_old_order_and_plans_afresh_only_where_a_join_breaks_a_rule() {
        let station = Station::from_toml("", "test.toml", Path::new("."), chrono::Utc::now())
            .expect("valid config");
        let tracks: Vec<Track> = synthetic::features(60, 5)
            .iter()
            .map(|f| Track::new(f, None))
            .collect();
        let separation = station.schedule.rotation.artist_separation.0;
        let artist = |t: &Track| artist_key(&t.artist).expect("a known artist");
        let advance = |t: &Track| {
            let it = make_item(None, t, SampleIndex(0), &station);
            it.next_start().0
        };
        // first: artist a; the victim: the longest track of another artist;
        // fillers of other artists, each once, until an a track may play
        // again; then that second a track, then two more fillers.
        let first = &tracks[0];
        let a = artist(first);
        let victim = tracks
            .iter()
            .filter(|t| artist(t) != a)
            .max_by_key(|t| advance(t))
            .expect("a victim");
        let again = tracks
            .iter()
            .find(|t| artist(t) == a && t.id != first.id)
            .expect("a second track by the first artist");
        let mut old: Vec<Item> = Vec::new();
        let push = |t: &Track, old: &mut Vec<Item>| {
            let start = old.last().map_or(SampleIndex(0), |p| p.next_start());
            old.push(make_item(old.last(), t, start, &station));
        };
        push(first, &mut old);
        push(victim, &mut old);
        let mut used = vec![a.clone(), artist(victim)];
        let mut fillers = tracks.iter().filter(|t| {
            let k = artist(t);
            !used.contains(&k) && {
                used.push(k);
                true
            }
        });
        while old.last().map_or(0, |p| p.next_start().0) < separation {
            push(fillers.next().expect("enough artists"), &mut old);
        }
        push(again, &mut old);
        for _ in 0..2 {
            push(fillers.next().expect("enough artists"), &mut old);
        }
        let again_at = old.len() - 3;
        assert!(old[again_at].start_sample - old[0].start_sample >= separation);
        assert!(
            old[again_at].start_sample - advance(victim) < separation,
            "without the victim the second a track comes too soon"
        );

        let without: Vec<Track> = tracks
            .iter()
            .filter(|t| t.id != victim.id)
            .cloned()
            .collect();
        let mut schedule = Schedule {
            items: old[..1].to_vec(),
        };
        let r = rejoin(&mut schedule, &old, &without, &station).expect("rejoin");
        schedule.validate().expect("the items join up");
        assert_eq!(schedule.items[0], old[0], "the item before the cut");
        assert_eq!(r.old, old.len() - 1);
        assert_eq!(r.kept + r.dropped, r.old);
        assert_eq!(schedule.items.len(), 1 + r.kept + r.planned);
        assert_eq!(r.planned, 1, "{r:?}");
        // Only the victim and at most the item whose join broke are gone;
        // the kept ones are in their old order.
        assert!(r.dropped <= 2, "{r:?}");
        let now: Vec<&str> = schedule.items.iter().map(|it| it.hash.as_str()).collect();
        let (mut pos, mut in_order) = (0, 0);
        for it in &old[1..] {
            if let Some(p) = now[pos..].iter().position(|h| *h == it.hash) {
                pos += p + 1;
                in_order += 1;
            }
        }
        assert!(in_order >= r.kept, "{in_order} old items in order, {r:?}");
        // Wherever the second a track now plays, it keeps the separation.
        for it in &schedule.items[1..] {
            if artist_key(&it.artist).as_deref() == Some(a.as_str()) {
                assert!(
                    it.start_sample - schedule.items[0].start_sample >= separation,
                    "{} starts {} samples after the first a track",
                    it.track,
                    it.start_sample
                );
            }
        }
    }
}
