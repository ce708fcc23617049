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

use std::collections::{BTreeSet, HashMap};

use super::cost::{self, Terms};
use super::daypart::{self, Target};
use super::moods::{self, Moods};
use super::rules::{artist_key, fmt_span, Rules};
use super::{make_item, Item, Schedule, Track};
use crate::error::{Error, Result};
use crate::music::Key;
use crate::station::ScheduleConfig;
use crate::station::Station;
use crate::time::SampleIndex;

/// Extra cost of a pick that needed a rule relaxed.
pub const RELAX_PENALTY: f64 = 100.0;

/// Tracks looked at per wanted candidate once the cheapest are found, and
/// at least.
const SCAN_PER_CHILD: usize = 4;
const SCAN_MIN: usize = 32;

/// Free compatible successors per track above which the beam narrows.
const EASY: f64 = 4.0;

/// The narrowest beam.
const MIN_WIDTH: usize = 8;

/// Tracks sampled to estimate how many compatible successors are free.
const SAMPLE: usize = 200;

/// Share of the catalog free at any moment: 1 − repeat window ÷ play-through.
fn pace_of(rules: &Rules, play_through: u64) -> f64 {
    if play_through == 0 {
        1.0
    } else {
        (1.0 - rules.repeat_window as f64 / play_through as f64).clamp(0.0, 1.0)
    }
}

/// The beam width for a catalog. The search is hard where each track has
/// few compatible successors (same or adjacent key, tempo within 8 %) free
/// at a time — a small catalog under a long repeat window — and needs the
/// configured width there. Where there are many (5 000 tracks: hundreds),
/// a narrow beam finds plans as good, so the width shrinks in proportion
/// (to at least [`MIN_WIDTH`]) and planning stays fast.
fn beam_width(feats: &[Feat], key_costs: &[f64], cfg: &ScheduleConfig, free: f64) -> usize {
    let n = feats.len();
    let step = (n / SAMPLE).max(1);
    let (mut pairs, mut good) = (0usize, 0usize);
    for a in (0..n).step_by(step) {
        for b in (0..n).step_by(step) {
            if a == b {
                continue;
            }
            pairs += 1;
            let key_ok = key_costs[feats[a].key_slot * KEY_SLOTS + feats[b].key_slot]
                < 0.5 * cfg.weights.key.max(1e-9);
            let tempo_ok = match (feats[a].log2_bpm, feats[b].log2_bpm) {
                (Some(x), Some(y)) => cost::fold(y - x).0 <= cost::EIGHT_PERCENT_OCTAVES,
                _ => false,
            };
            if key_ok && tempo_ok {
                good += 1;
            }
        }
    }
    let share = if pairs > 0 {
        good as f64 / pairs as f64
    } else {
        0.0
    };
    let successors = share * (n.saturating_sub(1)) as f64 * free;
    let full = cfg.beam_width.max(1);
    if successors <= EASY {
        full
    } else {
        ((full as f64 * EASY / successors).ceil() as usize).clamp(MIN_WIDTH.min(full), full)
    }
}

/// Most overdue tracks considered for one slot (the most overdue first).
const MAX_OVERDUE: usize = 32;

const KEY_SLOTS: usize = 25;
const UNKNOWN_KEY: usize = 24;
const TEMPO_BINS: usize = 16;
const BIN_SLOTS: usize = TEMPO_BINS + 1;
const UNKNOWN_BIN: usize = TEMPO_BINS;

/// Which rules a pick had to relax.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relaxed {
    /// The artist separation was not applied.
    pub artist: bool,
    /// The repeat window was not applied.
    pub repeat: bool,
}

impl Relaxed {
    fn any(self) -> bool {
        self.artist || self.repeat
    }
}

/// What the planner knows about one playable track.
#[derive(Debug, Clone)]
pub(crate) struct Feat {
    /// Samples from cue-in to cue-out.
    pub length: u64,
    /// Start of this track to start of the next (length − fade-out).
    pub advance: u64,
    /// log2 of the tempo.
    pub log2_bpm: Option<f64>,
    /// Folded tempo bin, or [`UNKNOWN_BIN`].
    bin: usize,
    /// Key slot ([`Key::index`]), or [`UNKNOWN_KEY`].
    key_slot: usize,
    /// Energy level, 0..=1 (catalog percentile).
    pub energy: f64,
    /// Tempo level, 0..=1 (catalog percentile).
    pub tempo_level: Option<f64>,
    /// Brightness level, 0..=1 (catalog percentile).
    pub bright: Option<f64>,
    /// Mood index.
    pub mood: usize,
    /// Artist id for the artist rule.
    artist: Option<u32>,
    /// Fair period between plays (catalog play-through ÷ weight share).
    pub period: u64,
    /// Seeded tie-break.
    tie: u64,
}

/// The planner's view of a catalog: playable tracks, moods, features as
/// levels, the rules in force and the candidate index.
pub struct Model<'a> {
    pub(crate) station: &'a Station,
    pub(crate) cfg: &'a ScheduleConfig,
    /// Playable tracks, sorted by id.
    pub tracks: Vec<&'a Track>,
    /// Every track by id, playable or not.
    pub all: HashMap<&'a str, &'a Track>,
    /// Position in `tracks` by id.
    pub index: HashMap<&'a str, usize>,
    /// The learned moods.
    pub moods: Moods,
    /// The rotation rules in force.
    pub rules: Rules,
    /// Notices about the catalog and rules relaxed up front.
    pub notices: Vec<String>,
    /// How far the day-part targets may move from the catalog's middle
    /// (see [`Model::paced`]), 0.05..=1.
    pub pace: f64,
    /// The beam width in force: `beam_width`, narrowed where every track
    /// has many compatible successors free (see [`Model::new`]).
    pub width: usize,
    pub(crate) feats: Vec<Feat>,
    artist_ids: HashMap<String, u32>,
    /// Bucket (key slot × tempo bin) of each track.
    bucket_of: Vec<u32>,
    /// Per source bucket, the non-empty buckets by lower bound.
    order: Vec<Vec<(u32, f64)>>,
    /// Weighted key cost between key slots.
    key_costs: Vec<f64>,
    half_length: u64,
    /// Day-part targets and mood misfits for each local minute of the day.
    minutes: Vec<Minute>,
    /// The epoch as Unix seconds.
    epoch_unix: i64,
}

/// The day-part targets of one local minute.
#[derive(Debug, Clone)]
struct Minute {
    energy: f64,
    tempo: f64,
    misfit: Vec<f64>,
}

/// How long before a slot the state keeps recent plays (for the hour in
/// progress).
pub const FIT_WINDOW_SECONDS: u64 = 3600;

/// One hour of programme, in samples: the unit the day-part term judges.
pub const HOUR: u64 = 3600 * crate::time::SAMPLE_RATE as u64;

/// The range of mean levels the rest of an open hour is assumed able to
/// reach when its cost is estimated.
const REST_LOW: f64 = 0.15;
const REST_HIGH: f64 = 0.85;

/// The energy and tempo levels played so far in one hour of programme
/// (time-weighted), and its paced targets.
#[derive(Debug, Clone, Copy, Default)]
struct Hour {
    start: u64,
    energy_sum: f64,
    energy_time: f64,
    tempo_sum: f64,
    tempo_time: f64,
    energy_target: f64,
    tempo_target: f64,
}

impl Hour {
    /// Counts `d` samples of a track with features `f` as played in this hour.
    fn play(&mut self, f: &Feat, d: f64) {
        self.energy_sum += f.energy * d;
        self.energy_time += d;
        if let Some(l) = f.tempo_level {
            self.tempo_sum += l * d;
            self.tempo_time += d;
        }
    }
}

/// Rank levels in `[0, 1]` of the known values (ties share their mean rank).
fn levels(values: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut known: Vec<(f64, usize)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (v, i)))
        .collect();
    known.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out = vec![None; values.len()];
    let m = known.len();
    let mut i = 0;
    while i < m {
        let mut j = i;
        while j + 1 < m && known[j + 1].0 == known[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0;
        let level = if m > 1 { rank / (m - 1) as f64 } else { 0.5 };
        for k in &known[i..=j] {
            out[k.1] = Some(level);
        }
        i = j + 1;
    }
    out
}

/// A 64-bit hash of the seed and some text.
fn hash64(seed: u64, text: &str) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(first)
}

fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The error for a catalog with nothing to play.
pub fn no_playable_tracks(tracks: &[Track]) -> Error {
    if tracks.is_empty() {
        Error::Schedule(
            "no playable tracks: the catalog is empty or every track failed analysis (see \
             catalog/analyze-errors.csv); add audio to the catalog folder or run `lofiever demo`"
                .into(),
        )
    } else {
        Error::Schedule(format!(
            "no playable tracks: all {} tracks of the catalog are disabled in catalog.csv \
             (enabled = false); enable at least one",
            tracks.len()
        ))
    }
}

fn key_of(slot: usize) -> Option<Key> {
    Key::ALL.get(slot).copied()
}

impl<'a> Model<'a> {
    /// Builds the model for `tracks` (all of them; disabled ones are only
    /// used to recognise scheduled items).
    pub fn new(tracks: &'a [Track], station: &'a Station) -> Result<Model<'a>> {
        let cfg = &station.schedule;
        let mut all: HashMap<&str, &Track> = HashMap::new();
        for t in tracks {
            all.entry(t.id.as_str()).or_insert(t);
        }
        let mut playable: Vec<&Track> = all.values().copied().filter(|t| t.enabled).collect();
        playable.sort_by(|a, b| a.id.cmp(&b.id));
        if playable.is_empty() {
            return Err(no_playable_tracks(tracks));
        }
        let mut notices: Vec<String> = playable
            .iter()
            .filter_map(|t| t.feature_problem.as_ref().map(|p| format!("{}: {p}", t.id)))
            .collect();
        let moods = moods::learn(&playable, cfg.k_min, cfg.k_max, station.seed)?;
        let (energy, _) = moods::energy_values(&playable);
        let energy_levels = levels(&energy.iter().map(|e| Some(*e)).collect::<Vec<_>>());
        let tempo_levels = levels(&playable.iter().map(|t| t.tempo_bpm).collect::<Vec<_>>());
        let bright_levels = levels(&playable.iter().map(|t| t.centroid_hz).collect::<Vec<_>>());

        let mut artist_ids: HashMap<String, u32> = HashMap::new();
        let mut artist_names: Vec<&str> = Vec::new();
        let crossfade = station.crossfade.0;
        let mut feats = Vec::with_capacity(playable.len());
        for (i, t) in playable.iter().enumerate() {
            let length = t.length();
            let fade_out = crossfade.min(length / 3);
            let artist = artist_key(&t.artist).map(|a| {
                let next = artist_ids.len() as u32;
                *artist_ids.entry(a).or_insert_with(|| {
                    artist_names.push(&t.artist);
                    next
                })
            });
            let log2_bpm = t.tempo_bpm.map(f64::log2);
            let bin = log2_bpm.map_or(UNKNOWN_BIN, |l| {
                ((l - l.floor()) * TEMPO_BINS as f64)
                    .floor()
                    .clamp(0.0, (TEMPO_BINS - 1) as f64) as usize
            });
            feats.push(Feat {
                length,
                advance: (length - fade_out).max(1),
                log2_bpm,
                bin,
                key_slot: t.key.map_or(UNKNOWN_KEY, |k| k.index()),
                energy: energy_levels[i].unwrap_or(0.5),
                tempo_level: tempo_levels[i],
                bright: bright_levels[i],
                mood: moods.of_track.get(i).copied().unwrap_or(0),
                artist,
                period: 0,
                tie: hash64(station.seed, &t.id),
            });
        }
        let play_through: u64 = feats.iter().map(|f| f.advance).sum();
        let weighted: f64 = playable
            .iter()
            .zip(&feats)
            .map(|(t, f)| t.weight.max(0.01) * f.advance as f64)
            .sum();
        for (t, f) in playable.iter().zip(feats.iter_mut()) {
            f.period = (weighted / t.weight.max(0.01)) as u64;
        }
        let single_artist = match artist_names.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        let (rules, rule_notices) =
            Rules::new(&cfg.rotation, play_through, &playable, single_artist);
        notices.extend(rule_notices);

        let mut lengths: Vec<u64> = feats.iter().map(|f| f.length).collect();
        lengths.sort_unstable();
        let half_length = lengths.get(lengths.len() / 2).copied().unwrap_or(0) / 2;

        let bucket_of: Vec<u32> = feats
            .iter()
            .map(|f| (f.key_slot * BIN_SLOTS + f.bin) as u32)
            .collect();
        let mut non_empty = vec![false; KEY_SLOTS * BIN_SLOTS];
        for &b in &bucket_of {
            non_empty[b as usize] = true;
        }
        let mut key_costs = vec![0.0; KEY_SLOTS * KEY_SLOTS];
        for a in 0..KEY_SLOTS {
            for b in 0..KEY_SLOTS {
                key_costs[a * KEY_SLOTS + b] =
                    cfg.weights.key * cost::key_cost(key_of(a), key_of(b));
            }
        }
        let order = bucket_order(&non_empty, &key_costs, cfg);
        let index = playable
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let minutes = (0..1440u32)
            .map(|m| {
                let t = daypart::target_at(&cfg.day_parts, m * 60);
                Minute {
                    energy: t.energy,
                    tempo: t.tempo,
                    misfit: t.mood_misfit(&moods.moods),
                }
            })
            .collect();
        let width = beam_width(&feats, &key_costs, cfg, pace_of(&rules, play_through));
        let pace = if play_through == 0 {
            1.0
        } else {
            (1.0 - rules.repeat_window as f64 / play_through as f64).clamp(0.05, 1.0)
        };
        Ok(Model {
            station,
            cfg,
            tracks: playable,
            all,
            index,
            moods,
            rules,
            notices,
            pace,
            width,
            feats,
            artist_ids,
            bucket_of,
            order,
            key_costs,
            half_length,
            minutes,
            epoch_unix: station.epoch.instant().timestamp(),
        })
    }

    /// The day-part targets at programme sample `t`.
    pub fn target_at(&self, t: u64) -> Result<Target> {
        let s = daypart::local_seconds(self.cfg.time_zone, self.station.epoch, SampleIndex(t))?;
        Ok(daypart::target_at(&self.cfg.day_parts, s))
    }

    /// The station's UTC offset (seconds, modulo a day) at sample `t`.
    fn day_offset(&self, t: u64) -> Result<i64> {
        let local = i64::from(daypart::local_seconds(
            self.cfg.time_zone,
            self.station.epoch,
            SampleIndex(t),
        )?);
        let utc =
            (self.epoch_unix + (t / u64::from(crate::time::SAMPLE_RATE)) as i64).rem_euclid(86_400);
        Ok((local - utc).rem_euclid(86_400))
    }

    /// The precomputed targets of the local minute at sample `t`, with the
    /// zone offset `offset` (taken once per decision).
    fn minute(&self, t: u64, offset: i64) -> &Minute {
        let secs = self.epoch_unix + (t / u64::from(crate::time::SAMPLE_RATE)) as i64 + offset;
        let m = (secs.rem_euclid(86_400) / 60) as usize;
        &self.minutes[m.min(self.minutes.len() - 1)]
    }

    /// The day-part energy and tempo targets *paced* to what the rotation
    /// allows. Any span of one repeat window `W` must play a share `W / T`
    /// of the catalog (`T` its play-through time), so the mean level over
    /// such a span can only move about `(1 − W/T) / 2` from the middle.
    /// Aiming at the raw target would burn the calmest tracks in the first
    /// hour of the night and force livelier ones after; aiming at the target
    /// pulled towards 0.5 by the factor `1 − W/T` spreads them over the
    /// night. A large catalog (`W ≪ T`) follows the raw target.
    pub fn paced(&self, target: &Target) -> (f64, f64) {
        (
            self.pace_level(target.energy),
            self.pace_level(target.tempo),
        )
    }

    fn pace_level(&self, v: f64) -> f64 {
        0.5 + (v - 0.5) * self.pace
    }

    /// Energy level (0..=1) of playable track `i`.
    pub fn energy_level(&self, i: usize) -> f64 {
        self.feats[i].energy
    }

    /// Brightness level (0..=1) of playable track `i`, if known.
    pub fn brightness_level(&self, i: usize) -> Option<f64> {
        self.feats[i].bright
    }

    /// Tempo level (0..=1) of playable track `i`, if known.
    pub fn tempo_level(&self, i: usize) -> Option<f64> {
        self.feats[i].tempo_level
    }

    /// The mood label of playable track `i`.
    pub fn mood_label(&self, i: usize) -> &str {
        self.moods
            .moods
            .get(self.feats[i].mood)
            .map_or("", |m| m.label.as_str())
    }

    /// The target of a slot starting at `t` (at the middle of a typical
    /// track).
    pub(crate) fn slot_target(&self, t: u64) -> Result<Target> {
        self.target_at(t.saturating_add(self.half_length))
    }

    /// The weighted key and tempo terms of `c` after `p`: a lower bound of
    /// the whole cost (every other term is ≥ 0).
    fn transition(&self, p: usize, c: usize) -> (f64, f64) {
        let (pf, f) = (&self.feats[p], &self.feats[c]);
        let tempo = match (pf.log2_bpm, f.log2_bpm) {
            (Some(a), Some(b)) => {
                let (d, octave) = cost::fold(b - a);
                cost::tempo_cost(d, octave)
            }
            _ => cost::UNKNOWN,
        };
        (
            self.key_costs[pf.key_slot * KEY_SLOTS + f.key_slot],
            self.cfg.weights.tempo * tempo,
        )
    }

    fn fit_window(&self) -> u64 {
        FIT_WINDOW_SECONDS * u64::from(crate::time::SAMPLE_RATE)
    }

    /// The cost terms of playing `c` after `prev` except the day part:
    /// `misfit` is the mood misfit of the slot, `wait` how long since `c`
    /// last played.
    fn terms(&self, prev: Option<usize>, c: usize, misfit: &[f64], wait: u64) -> Terms {
        let w = &self.cfg.weights;
        let f = &self.feats[c];
        let mut terms = Terms::default();
        if let Some(p) = prev {
            let pf = &self.feats[p];
            (terms.key, terms.tempo) = self.transition(p, c);
            terms.energy = w.energy * cost::level_jump(pf.energy, f.energy);
            if let (Some(a), Some(b)) = (pf.bright, f.bright) {
                terms.brightness = w.brightness * cost::level_jump(a, b);
            }
        }
        terms.mood = w.mood * misfit.get(f.mood).copied().unwrap_or(0.0);
        terms.freshness = w.freshness * cost::freshness(wait, f.period);
        terms
    }

    /// A fresh hour starting at `start` (a multiple of [`HOUR`]) with its
    /// paced targets taken at its middle.
    fn open_hour(&self, start: u64, offset: i64) -> Hour {
        let m = self.minute(start + HOUR / 2, offset);
        Hour {
            start,
            energy_target: self.pace_level(m.energy),
            tempo_target: self.pace_level(m.tempo),
            ..Hour::default()
        }
    }

    /// The hour after adding track `c` over `[s, e)`: the new open hour, the
    /// cost of the hours it closed and the estimate for the open one.
    fn add_to_hour(&self, hour: &Hour, c: usize, s: u64, e: u64, offset: i64) -> (Hour, f64, f64) {
        let f = &self.feats[c];
        let mut h = *hour;
        let mut closed = 0.0;
        let mut s = s.max(h.start);
        loop {
            let end = h.start + HOUR;
            let upto = e.min(end);
            if upto > s {
                h.play(f, (upto - s) as f64);
            }
            if e < end {
                break;
            }
            closed += self.hour_cost(&h, true);
            h = self.open_hour(end, offset);
            s = end;
            if e == end {
                break;
            }
        }
        let estimate = self.hour_cost(&h, false);
        (h, closed, estimate)
    }

    /// The day-part cost of an hour: the squared distance of its mean
    /// energy level (and, at half weight, tempo level) from the paced
    /// target, in units of a quarter of the paced range. An hour still open
    /// is estimated optimistically: its rest is assumed to play at whatever
    /// level (within what a handful of tracks can average) brings the mean
    /// closest to the target.
    fn hour_cost(&self, h: &Hour, closed: bool) -> f64 {
        let span = HOUR as f64;
        let fit = |sum: f64, time: f64, target: f64| {
            if time <= 0.0 {
                return 0.0;
            }
            let rest = if closed { 0.0 } else { (span - time).max(0.0) };
            let mean = if rest > 0.0 {
                let x = ((target * (time + rest) - sum) / rest).clamp(REST_LOW, REST_HIGH);
                (sum + x * rest) / (time + rest)
            } else {
                sum / time
            };
            let d = (mean - target) / (cost::LEVEL_SCALE * self.pace);
            d * d
        };
        self.cfg.weights.day_part
            * (fit(h.energy_sum, h.energy_time, h.energy_target)
                + 0.5 * fit(h.tempo_sum, h.tempo_time, h.tempo_target))
    }
}
/// For every source (key slot, tempo bin), the non-empty buckets in order
/// of the lower bound of their key + tempo cost.
fn bucket_order(
    non_empty: &[bool],
    key_costs: &[f64],
    cfg: &ScheduleConfig,
) -> Vec<Vec<(u32, f64)>> {
    let w = &cfg.weights;
    let mut order = Vec::with_capacity(KEY_SLOTS * BIN_SLOTS);
    for sk in 0..KEY_SLOTS {
        for sb in 0..BIN_SLOTS {
            let mut list: Vec<(u32, f64)> = non_empty
                .iter()
                .enumerate()
                .filter(|(_, b)| **b)
                .map(|(id, _)| {
                    let (dk, db) = (id / BIN_SLOTS, id % BIN_SLOTS);
                    let key = key_costs[sk * KEY_SLOTS + dk];
                    let tempo = if sb == UNKNOWN_BIN || db == UNKNOWN_BIN {
                        cost::UNKNOWN
                    } else {
                        let diff = sb.abs_diff(db);
                        let bins = diff.min(TEMPO_BINS - diff);
                        let octaves = bins.saturating_sub(1) as f64 / TEMPO_BINS as f64;
                        cost::tempo_cost(octaves, false)
                    };
                    (id as u32, key + w.tempo * tempo)
                })
                .collect();
            list.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            order.push(list);
        }
    }
    order
}

/// The rotation state after the history: what the rules need to know.
///
/// Everything here is a function of the history alone (so `explain` can
/// rebuild it); [`State::commit`] keeps it equal to what
/// [`State::from_history`] would build after one more item.
#[derive(Debug, Clone)]
pub(crate) struct State {
    last: Vec<Option<u64>>,
    artist_last: Vec<Option<u64>>,
    due: BTreeSet<(u64, u32)>,
    origin: u64,
    /// Per bucket, its tracks ordered by when they leave the repeat window
    /// (then by index), so a scan stops at the first one still inside it.
    buckets: Vec<Vec<u32>>,
    /// When each track leaves the repeat window (0 if never played).
    release: Vec<u64>,
    /// Playable index of the last scheduled track (if it still is one).
    pub prev: Option<usize>,
    /// Where the next item starts.
    pub horizon: u64,
    /// Recent plays `(start, next start, track)` reaching into the fit
    /// window before the horizon.
    recent: Vec<(u64, u64, usize)>,
}

impl State {
    /// The state after `history`; an empty history starts at `start`.
    pub(crate) fn from_history(model: &Model<'_>, history: &[Item], start: u64) -> State {
        let n = model.tracks.len();
        let mut last = vec![None; n];
        let mut artist_last = vec![None; model.artist_ids.len()];
        for it in history {
            if let Some(&i) = model.index.get(it.track.as_str()) {
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
                    .index
                    .get(it.track.as_str())
                    .map(|&i| (it.start_sample, it.next_start().0, i))
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
            prev: history
                .last()
                .and_then(|it| model.index.get(it.track.as_str()).copied()),
            horizon,
            recent,
        }
    }

    /// Records that playable track `c` starts at `item.start_sample`.
    fn commit(&mut self, model: &Model<'_>, c: usize, item: &Item) {
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

/// One pick on a look-ahead path.
#[derive(Debug, Clone, Copy)]
struct Pick {
    track: usize,
    start: u64,
    relaxed: Relaxed,
}

/// A partial plan: its picks, where it has got to and what it costs so far.
#[derive(Debug, Clone)]
struct Node {
    picks: Vec<Pick>,
    time: u64,
    /// Transition terms of every pick plus the day-part cost of every hour
    /// already closed.
    banked: f64,
    /// The optimistic day-part cost of the hour still open.
    estimate: f64,
    hour: Hour,
    tie: u64,
}

impl Node {
    fn cost(&self) -> f64 {
        self.banked + self.estimate
    }
}

/// One candidate for a slot.
#[derive(Debug, Clone)]
struct Child {
    track: usize,
    terms: Terms,
    relaxed: Relaxed,
    overdue: bool,
    /// Its step cost: every term, the relax penalty, the cost of the hours
    /// it closes and the estimate of the hour left open.
    cost: f64,
    hour: Hour,
    estimate: f64,
    tie: u64,
}

/// The cheapest `m` children seen, cheapest first.
struct TopM {
    m: usize,
    kids: Vec<Child>,
}

impl TopM {
    fn new(m: usize) -> TopM {
        TopM {
            m: m.max(1),
            kids: Vec::with_capacity(m + 1),
        }
    }

    fn bound(&self) -> f64 {
        if self.kids.len() < self.m {
            f64::INFINITY
        } else {
            self.kids.last().map_or(f64::INFINITY, |k| k.cost)
        }
    }

    fn push(&mut self, c: Child) {
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
    picks: Vec<Pick>,
    /// The cost of the whole planned path.
    pub cost: f64,
    /// The candidates for the first slot, with their best path.
    pub first: Vec<Alternative>,
}

impl Plan {
    /// The planned pick for the slot after `n` items starting at `start`,
    /// if the plan has it.
    fn pick_at(&self, n: usize, start: u64) -> Option<Pick> {
        let p = *self.picks.get(n.checked_sub(self.base)?)?;
        (p.start == start && start < self.hour + HOUR).then_some(p)
    }
}

/// The first sample of the hour holding `t`.
fn hour_of(t: u64) -> u64 {
    t - t % HOUR
}

impl Model<'_> {
    /// Whether `c` passes the rules at `t` after the picks of `node`.
    fn eligible(
        &self,
        state: &State,
        node: &Node,
        prev: Option<usize>,
        c: usize,
        t: u64,
        relax: Relaxed,
    ) -> bool {
        let mut last = state.last[c];
        for p in &node.picks {
            if p.track == c {
                last = Some(p.start);
            }
        }
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
            if let Some(a) = self.feats[c].artist {
                let mut la = state.artist_last[a as usize];
                for p in &node.picks {
                    if self.feats[p.track].artist == Some(a) {
                        la = Some(p.start);
                    }
                }
                if let Some(l) = la {
                    if t.saturating_sub(l) < self.rules.artist_separation {
                        return false;
                    }
                }
            }
        }
        true
    }

    fn wait(&self, state: &State, node: &Node, c: usize, t: u64) -> u64 {
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
    fn child(
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
    fn root(&self, state: &State) -> Result<(Node, i64)> {
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
    fn expand(&self, state: &State, node: &Node, m: usize, offset: i64) -> Result<Vec<Child>> {
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
                repeat: false,
            },
            Relaxed {
                artist: true,
                repeat: true,
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
/// schedule starts at `start`).
pub fn extend(
    schedule: &mut Schedule,
    tracks: &[Track],
    station: &Station,
    start: SampleIndex,
    until: SampleIndex,
) -> Result<Extension> {
    if !tracks.iter().any(|t| t.enabled) {
        return Err(no_playable_tracks(tracks));
    }
    let horizon = schedule.horizon().unwrap_or(start);
    if horizon >= until {
        return Ok(Extension::default());
    }
    let model = Model::new(tracks, station)?;
    let mut notices = model.notices.clone();
    notices.extend(vanished(&schedule.items, &model, start, station)?);
    let origin = schedule.start().map_or(start.0, |s| s.0);
    let mut state = State::from_history(&model, &schedule.items, origin);
    let mut plan = model.plan_in_force(&schedule.items, origin)?;
    let mut added = 0;
    let mut relaxed_artist: Vec<u64> = Vec::new();
    let mut relaxed_repeat: Vec<u64> = Vec::new();
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
        let item = make_item(
            schedule.items.last(),
            model.tracks[pick.track],
            SampleIndex(state.horizon),
            station,
        );
        state.commit(&model, pick.track, &item);
        schedule.items.push(item);
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
    Ok(Extension { added, notices })
}

/// Notices for scheduled items still to play whose track is no longer in
/// the catalog (they cannot be re-planned; rendering them fails).
fn vanished(
    items: &[Item],
    model: &Model<'_>,
    start: SampleIndex,
    station: &Station,
) -> Result<Vec<String>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for it in items.iter().filter(|it| it.end() > start) {
        if !model.all.contains_key(it.track.as_str()) && seen.insert(it.track.as_str()) {
            out.push(format!(
                "track {:?} ({:?} by {}) is scheduled at {} but is no longer in the catalog; \
                 scheduled time is never re-planned, so restore the file (or rendering that \
                 time fails)",
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
    use super::*;

    #[test]
    fn levels_are_rank_percentiles_with_shared_ties() {
        let l = levels(&[Some(3.0), None, Some(1.0), Some(3.0), Some(2.0)]);
        assert_eq!(
            l,
            [
                Some(5.0 / 6.0),
                None,
                Some(0.0),
                Some(5.0 / 6.0),
                Some(1.0 / 3.0)
            ]
        );
        assert_eq!(levels(&[Some(1.0)]), [Some(0.5)]);
    }

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
