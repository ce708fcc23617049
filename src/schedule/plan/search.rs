//! The beam search over the transition cost that plans each hour, and the
//! decision it gives each slot (see the module docs of `super`).

use super::history::State;
use super::model::{mix, Hour, Model, BIN_SLOTS, HOUR, UNKNOWN_BIN, UNKNOWN_KEY};
use crate::error::{Error, Result};
use crate::schedule::cost::Terms;
use crate::schedule::daypart::Target;
use crate::schedule::Item;

/// Extra cost of a pick that needed a rule relaxed.
pub const RELAX_PENALTY: f64 = 100.0;

/// Tracks looked at per wanted candidate once the cheapest are found, and
/// at least.
pub(super) const SCAN_PER_CHILD: usize = 4;
pub(super) const SCAN_MIN: usize = 32;

/// Most overdue tracks considered for one slot (the most overdue first).
pub(super) const MAX_OVERDUE: usize = 32;

/// Which rules a pick had to relax.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relaxed {
    /// The artist separation was not applied.
    pub artist: bool,
    /// The repeat window was not applied.
    pub repeat: bool,
    /// Another channel plays the recording then (every other pick was
    /// taken): the channel stays on air rather than stop its render.
    pub shared: bool,
}

impl Relaxed {
    pub(super) fn any(self) -> bool {
        self.artist || self.repeat || self.shared
    }
}

/// One pick on a look-ahead path.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pick {
    pub(super) track: usize,
    pub(super) start: u64,
    pub(super) relaxed: Relaxed,
}

/// A partial plan: its picks, where it has got to and what it costs so far.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) picks: Vec<Pick>,
    pub(super) time: u64,
    /// Transition terms of every pick plus the day-part cost of every hour
    /// already closed.
    pub(super) banked: f64,
    /// The optimistic day-part cost of the hour still open.
    pub(super) estimate: f64,
    pub(super) hour: Hour,
    pub(super) tie: u64,
}

impl Node {
    pub(super) fn cost(&self) -> f64 {
        self.banked + self.estimate
    }
}

/// One candidate for a slot.
#[derive(Debug, Clone)]
pub(super) struct Child {
    pub(super) track: usize,
    pub(super) terms: Terms,
    pub(super) relaxed: Relaxed,
    pub(super) overdue: bool,
    /// Its step cost: every term, the relax penalty, the cost of the hours
    /// it closes and the estimate of the hour left open.
    pub(super) cost: f64,
    pub(super) hour: Hour,
    pub(super) estimate: f64,
    pub(super) tie: u64,
}

/// The cheapest `m` children seen, cheapest first.
pub(super) struct TopM {
    pub(super) m: usize,
    pub(super) kids: Vec<Child>,
}

impl TopM {
    pub(super) fn new(m: usize) -> TopM {
        TopM {
            m: m.max(1),
            kids: Vec::with_capacity(m + 1),
        }
    }

    pub(super) fn bound(&self) -> f64 {
        if self.kids.len() < self.m {
            f64::INFINITY
        } else {
            self.kids.last().map_or(f64::INFINITY, |k| k.cost)
        }
    }

    pub(super) fn push(&mut self, c: Child) {
        if self.kids.len() == self.m && c.cost >= self.bound() {
            return;
        }
        let at = self
            .kids
            .partition_point(|k| (k.cost, k.tie) <= (c.cost, c.tie));
        self.kids.insert(at, c);
        self.kids.truncate(self.m);
    }
}

/// One considered alternative for a slot, for `explain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    /// Playable track index.
    pub track: usize,
    /// Its cost terms for this slot (`day_part`: the hour's day-part cost
    /// with this track in it, estimated while the hour is open).
    pub terms: Terms,
    /// Rules it needed relaxed.
    pub relaxed: Relaxed,
    /// Whether it was overdue (coverage).
    pub overdue: bool,
    /// Cost of the cheapest plan found that starts with it, or `None` if
    /// its plans were pruned from the beam.
    pub path_cost: Option<f64>,
    /// That plan's tracks (starting with this one).
    pub path: Vec<usize>,
}

/// The outcome of one decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The picked playable track.
    pub pick: usize,
    /// Where it starts.
    pub start: u64,
    /// The day-part targets of the slot.
    pub target: Target,
    /// The alternatives considered (the pick among them), cheapest first by
    /// their own step cost.
    pub alternatives: Vec<Alternative>,
    /// The rest of the hour's plan from this slot on (tracks), and its cost.
    pub plan: (Vec<usize>, f64),
    /// Items before this one that the same hour plan placed.
    pub plan_offset: usize,
}

impl Decision {
    /// The picked alternative.
    pub fn picked(&self) -> Option<&Alternative> {
        self.alternatives.iter().find(|a| a.track == self.pick)
    }
}

/// The plan for one hour of programme, made at the hour's first slot.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// How many items the history had when the plan was made.
    pub base: usize,
    /// The hour (its first sample) the plan is for.
    pub hour: u64,
    /// The picks, from the slot at `base` on; those starting in the hour
    /// are played, the rest were look-ahead.
    pub(super) picks: Vec<Pick>,
    /// The cost of the whole planned path.
    pub cost: f64,
    /// The candidates for the first slot, with their best path.
    pub first: Vec<Alternative>,
}

impl Plan {
    /// The planned pick for the slot after `n` items starting at `start`,
    /// if the plan has it.
    pub(super) fn pick_at(&self, n: usize, start: u64) -> Option<Pick> {
        let p = *self.picks.get(n.checked_sub(self.base)?)?;
        (p.start == start && start < self.hour + HOUR).then_some(p)
    }
}

/// The first sample of the hour holding `t`.
pub(super) fn hour_of(t: u64) -> u64 {
    t - t % HOUR
}

impl Model<'_> {
    /// Whether `c` passes the rules at `t` after the picks of `node`.
    pub(super) fn eligible(
        &self,
        state: &State,
        node: &Node,
        prev: Option<usize>,
        c: usize,
        t: u64,
        relax: Relaxed,
    ) -> bool {
        if self.busy_at(c, t) {
            return false;
        }
        let mut last = state.last[c];
        for p in &node.picks {
            if p.track == c {
                last = Some(p.start);
            }
        }
        let artist_last = self.feats[c].artist.and_then(|a| {
            let mut la = state.artist_last[a as usize];
            for p in &node.picks {
                if self.feats[p.track].artist == Some(a) {
                    la = Some(p.start);
                }
            }
            la
        });
        self.passes(last, artist_last, prev, c, t, relax)
    }

    /// Whether `c`, last started at `last` (its artist at `artist_last`),
    /// passes the rules `relax` leaves in force at `t` after `prev`.
    fn passes(
        &self,
        last: Option<u64>,
        artist_last: Option<u64>,
        prev: Option<usize>,
        c: usize,
        t: u64,
        relax: Relaxed,
    ) -> bool {
        if relax.repeat {
            if self.tracks.len() > 1 && prev == Some(c) {
                return false;
            }
        } else if let Some(l) = last {
            if t.saturating_sub(l) < self.rules.repeat_window {
                return false;
            }
        }
        if !relax.artist && self.rules.artist_separation > 0 {
            if let Some(l) = artist_last {
                if t.saturating_sub(l) < self.rules.artist_separation {
                    return false;
                }
            }
        }
        true
    }

    /// Which rules `c` would break if it started at the state's horizon
    /// (the repeat window, or the artist separation; playing back to back
    /// counts as breaking both).
    pub(super) fn breaks(&self, state: &State, c: usize) -> Relaxed {
        let artist_last = self.feats[c]
            .artist
            .and_then(|a| state.artist_last[a as usize]);
        let check = |relax| {
            !self.passes(
                state.last[c],
                artist_last,
                state.prev,
                c,
                state.horizon,
                relax,
            )
        };
        Relaxed {
            repeat: check(Relaxed {
                artist: true,
                ..Relaxed::default()
            }),
            artist: check(Relaxed {
                repeat: true,
                ..Relaxed::default()
            }),
            shared: false,
        }
    }

    pub(super) fn wait(&self, state: &State, node: &Node, c: usize, t: u64) -> u64 {
        let mut last = state.last[c].unwrap_or(state.origin);
        for p in &node.picks {
            if p.track == c {
                last = p.start;
            }
        }
        t.saturating_sub(last)
    }

    /// Candidate `c` for the slot after `node` (previous track `prev`, mood
    /// misfits `misfit`): its terms and step cost.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn child(
        &self,
        state: &State,
        node: &Node,
        prev: Option<usize>,
        misfit: &[f64],
        c: usize,
        relaxed: Relaxed,
        overdue: bool,
        offset: i64,
    ) -> Child {
        let t = node.time;
        let wait = self.wait(state, node, c, t);
        let mut terms = self.terms(prev, c, misfit, wait);
        let end = t + self.feats[c].advance;
        let (hour, closed, estimate) = self.add_to_hour(&node.hour, c, t, end, offset);
        terms.day_part = closed + estimate;
        let penalty = if relaxed.any() { RELAX_PENALTY } else { 0.0 };
        Child {
            track: c,
            terms,
            relaxed,
            overdue,
            cost: terms.total() + penalty,
            hour,
            estimate,
            tie: mix(node.tie, self.feats[c].tie),
        }
    }

    /// The root of a plan from the state's horizon: the hour so far (what
    /// the history played in it) and the zone offset.
    pub(super) fn root(&self, state: &State) -> Result<(Node, i64)> {
        let t0 = state.horizon;
        let hour_start = hour_of(t0);
        let offset = self.day_offset(t0)?;
        let mut hour = self.open_hour(hour_start, offset);
        for &(s, e, c) in &state.recent {
            let (from, to) = (s.max(hour_start), e.min(t0));
            if to > from {
                hour.play(&self.feats[c], (to - from) as f64);
            }
        }
        let root = Node {
            picks: Vec::new(),
            time: t0,
            banked: 0.0,
            estimate: self.hour_cost(&hour, false),
            hour,
            tie: self.station.seed,
        };
        Ok((root, offset))
    }

    /// The cheapest `m` candidates for the slot after `node`.
    pub(super) fn expand(
        &self,
        state: &State,
        node: &Node,
        m: usize,
        offset: i64,
    ) -> Result<Vec<Child>> {
        let t = node.time;
        let prev = node.picks.last().map(|p| p.track).or(state.prev);
        // The mood follows the target in the middle of the slot.
        let misfit = &self
            .minute(t.saturating_add(self.half_length), offset)
            .misfit;
        let mut top = TopM::new(m);
        let child = |c: usize, relaxed: Relaxed, overdue: bool| {
            self.child(state, node, prev, misfit, c, relaxed, overdue, offset)
        };
        let strict = Relaxed::default();

        // Overdue tracks first: if any may play, only they are candidates.
        let due_after = self.rules.coverage / 4 * 3;
        if t > due_after {
            let limit = t - due_after;
            let mut seen = 0;
            for &(since, c) in &state.due {
                if since >= limit || seen >= MAX_OVERDUE {
                    break;
                }
                let c = c as usize;
                if node.picks.iter().any(|p| p.track == c) {
                    continue;
                }
                seen += 1;
                if let Some(p) = prev {
                    let (key, tempo) = self.transition(p, c);
                    if key + tempo >= top.bound() {
                        continue;
                    }
                }
                if self.eligible(state, node, prev, c, t, strict) {
                    top.push(child(c, strict, true));
                }
            }
            if !top.kids.is_empty() {
                return Ok(top.kids);
            }
        }

        // Bucketed scan in order of the key + tempo lower bound; within a
        // bucket, stop at the first track still inside the repeat window.
        let source = prev.map_or(UNKNOWN_KEY * BIN_SLOTS + UNKNOWN_BIN, |p| {
            self.feats[p].key_slot * BIN_SLOTS + self.feats[p].bin
        });
        // Once the top is full, at most `cap` more tracks are looked at:
        // in a large catalog hundreds of tracks are compatible and free,
        // and the best-rested of the closest buckets are as good as any.
        let cap = (SCAN_PER_CHILD * m).max(SCAN_MIN);
        let mut scanned = 0usize;
        'buckets: for &(bucket, bound) in &self.order[source] {
            // With no previous track the bound is not a bound (no transition).
            if prev.is_some() && bound >= top.bound() {
                break;
            }
            for &c in &state.buckets[bucket as usize] {
                if top.kids.len() == top.m {
                    scanned += 1;
                    if scanned > cap {
                        break 'buckets;
                    }
                }
                let c = c as usize;
                if state.release[c] > t {
                    break;
                }
                if let Some(p) = prev {
                    let (key, tempo) = self.transition(p, c);
                    if key + tempo >= top.bound() {
                        continue;
                    }
                }
                if self.eligible(state, node, prev, c, t, strict) {
                    top.push(child(c, strict, false));
                }
            }
        }
        if !top.kids.is_empty() {
            return Ok(top.kids);
        }
        for relaxed in [
            Relaxed {
                artist: true,
                ..Relaxed::default()
            },
            Relaxed {
                artist: true,
                repeat: true,
                shared: false,
            },
        ] {
            for c in 0..self.tracks.len() {
                if self.eligible(state, node, prev, c, t, relaxed) {
                    top.push(child(c, relaxed, false));
                }
            }
            if !top.kids.is_empty() {
                return Ok(top.kids);
            }
        }
        // Every other track is played by another channel then (a channel
        // whose filter leaves few tracks): the one just played again, and
        // failing that one another channel plays, rather than stop the
        // render and take the station off air (the planner reports it).
        let again = Relaxed {
            artist: true,
            repeat: true,
            shared: false,
        };
        for c in 0..self.tracks.len() {
            if !self.busy_at(c, t) {
                top.push(child(c, again, false));
            }
        }
        if top.kids.is_empty() {
            let shared = Relaxed {
                shared: true,
                ..again
            };
            for c in 0..self.tracks.len() {
                if self.tracks.len() == 1 || prev != Some(c) {
                    top.push(child(c, shared, false));
                }
            }
        }
        if !top.kids.is_empty() {
            return Ok(top.kids);
        }
        Err(Error::Schedule(format!(
            "no track can follow at programme sample {t}: the catalog has {} playable tracks",
            self.tracks.len()
        )))
    }

    /// Plans the hour holding the state's horizon, from the next slot to
    /// past the hour's end by `look_ahead` tracks, by beam search: each
    /// level extends every kept partial plan by its `branching` cheapest
    /// next tracks and keeps the `beam_width` cheapest plans (transition
    /// terms so far plus the day-part cost of the hours they cover). `base`
    /// is the history length.
    pub(crate) fn plan_hour(&self, state: &State, base: usize) -> Result<Plan> {
        let width = self.width;
        let over = self.cfg.look_ahead.max(1);
        let t0 = state.horizon;
        let hour_start = hour_of(t0);
        let hour_end = hour_start + HOUR;
        let (root, offset) = self.root(state)?;
        let grow = |node: &Node, k: &Child| {
            let mut picks = node.picks.clone();
            picks.push(Pick {
                track: k.track,
                start: node.time,
                relaxed: k.relaxed,
            });
            Node {
                picks,
                time: node.time + self.feats[k.track].advance,
                banked: node.banked + (k.cost - k.estimate),
                estimate: k.estimate,
                hour: k.hour,
                tie: k.tie,
            }
        };
        let complete = |n: &Node| n.picks.iter().filter(|p| p.start >= hour_end).count() >= over;
        let first = self.expand(state, &root, width, offset)?;
        let mut alternatives: Vec<Alternative> = first
            .iter()
            .map(|k| Alternative {
                track: k.track,
                terms: k.terms,
                relaxed: k.relaxed,
                overdue: k.overdue,
                path_cost: None,
                path: Vec::new(),
            })
            .collect();
        let mut done: Vec<Node> = Vec::new();
        let mut beam: Vec<Node> = Vec::new();
        for k in &first {
            let n = grow(&root, k);
            if complete(&n) {
                done.push(n);
            } else {
                beam.push(n);
            }
        }
        let m = self.cfg.branching.min(width);
        while !beam.is_empty() {
            let mut next = Vec::with_capacity(beam.len() * m);
            for node in &beam {
                for k in self.expand(state, node, m, offset)? {
                    let n = grow(node, &k);
                    if complete(&n) {
                        done.push(n);
                    } else {
                        next.push(n);
                    }
                }
            }
            next.sort_by(|a, b| a.cost().total_cmp(&b.cost()).then(a.tie.cmp(&b.tie)));
            next.truncate(width);
            beam = next;
        }
        done.sort_by(|a, b| a.cost().total_cmp(&b.cost()).then(a.tie.cmp(&b.tie)));
        for node in &done {
            if let Some(alt) = alternatives.iter_mut().find(|a| {
                Some(a.track) == node.picks.first().map(|p| p.track) && a.path_cost.is_none()
            }) {
                alt.path_cost = Some(node.cost());
                alt.path = node.picks.iter().map(|p| p.track).collect();
            }
        }
        let best = done
            .into_iter()
            .next()
            .ok_or_else(|| Error::Schedule("the look-ahead found no path".into()))?;
        Ok(Plan {
            base,
            hour: hour_start,
            cost: best.cost(),
            picks: best.picks,
            first: alternatives,
        })
    }

    /// The plan in force for the slot after `items`: the plan made at the
    /// first slot of the hour, replayed from the history before it, as long
    /// as the items since follow it; where they do not (an older lofiever,
    /// another catalog or configuration planned them), a plan made right
    /// after the last item that differs. A function of the history alone,
    /// so resuming a run mid-hour continues exactly as one run would.
    pub(crate) fn plan_in_force(&self, items: &[Item], origin: u64) -> Result<Plan> {
        let n = items.len();
        let horizon = items.last().map_or(origin, |it| it.next_start().0);
        let hour = hour_of(horizon);
        let mut o = items.partition_point(|it| it.start_sample < hour);
        loop {
            let state = State::from_history(self, &items[..o], origin);
            let plan = self.plan_hour(&state, o)?;
            if o == n {
                return Ok(plan);
            }
            let differs = (o..n).find(|&i| {
                let it = &items[i];
                plan.pick_at(i, it.start_sample)
                    .is_none_or(|p| self.tracks[p.track].id != it.track)
            });
            match differs {
                None => return Ok(plan),
                Some(i) => o = i + 1,
            }
        }
    }

    /// Replays the decision for the slot after `items` (for `explain`).
    pub(crate) fn decide(&self, items: &[Item], origin: u64) -> Result<Decision> {
        let plan = self.plan_in_force(items, origin)?;
        let state = State::from_history(self, items, origin);
        let n = items.len();
        let pick = plan
            .pick_at(n, state.horizon)
            .ok_or_else(|| Error::Schedule("the hour plan does not reach this slot".into()))?;
        // The alternatives: the candidates of this slot with the best plan
        // each starts (from the hour's plan if it was made at this slot,
        // else planned afresh from here).
        let mut alternatives = if plan.base == n {
            plan.first.clone()
        } else {
            self.plan_hour(&state, n)?.first
        };
        if !alternatives.iter().any(|a| a.track == pick.track) {
            let (root, offset) = self.root(&state)?;
            let misfit = &self
                .minute(state.horizon.saturating_add(self.half_length), offset)
                .misfit;
            let k = self.child(
                &state,
                &root,
                state.prev,
                misfit,
                pick.track,
                pick.relaxed,
                false,
                offset,
            );
            alternatives.push(Alternative {
                track: pick.track,
                terms: k.terms,
                relaxed: pick.relaxed,
                overdue: false,
                path_cost: None,
                path: Vec::new(),
            });
        }
        let rest: Vec<usize> = plan.picks[n - plan.base..]
            .iter()
            .map(|p| p.track)
            .collect();
        Ok(Decision {
            pick: pick.track,
            start: state.horizon,
            target: self.slot_target(state.horizon)?,
            alternatives,
            plan: (rest, plan.cost),
            plan_offset: n - plan.base,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_m_keeps_the_cheapest_in_order() {
        let mut top = TopM::new(2);
        for (i, c) in [3.0, 1.0, 2.0, 0.5].iter().enumerate() {
            top.push(Child {
                track: i,
                terms: Terms::default(),
                relaxed: Relaxed::default(),
                overdue: false,
                cost: *c,
                hour: Hour::default(),
                estimate: 0.0,
                tie: 0,
            });
        }
        let got: Vec<usize> = top.kids.iter().map(|k| k.track).collect();
        assert_eq!(got, [3, 1]);
        assert_eq!(top.bound(), 1.0);
    }
}
