//! The planner's model of a catalog: playable tracks as features and
//! levels, the moods, the rules in force, the day-part targets of each local
//! minute and the candidate buckets, with the cost of a transition and of an
//! hour. Built once per extension; the search (`super::search`) and the
//! history (`super::history`) read it.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::music::Key;
use crate::schedule::cost::{self, Terms};
use crate::schedule::daypart::{self, Target};
use crate::schedule::moods::{self, Moods};
use crate::schedule::rules::{artist_key, Rules};
use crate::schedule::Track;
use crate::station::{ScheduleConfig, Station};
use crate::time::SampleIndex;

/// Free compatible successors per track above which the beam narrows.
pub(super) const EASY: f64 = 4.0;

/// The narrowest beam.
pub(super) const MIN_WIDTH: usize = 8;

/// Tracks sampled to estimate how many compatible successors are free.
pub(super) const SAMPLE: usize = 200;

/// Share of the catalog free at any moment: 1 − repeat window ÷ play-through.
pub(super) fn pace_of(rules: &Rules, play_through: u64) -> f64 {
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
pub(super) fn beam_width(
    feats: &[Feat],
    key_costs: &[f64],
    cfg: &ScheduleConfig,
    free: f64,
) -> usize {
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

pub(super) const KEY_SLOTS: usize = 25;
pub(super) const UNKNOWN_KEY: usize = 24;
pub(super) const TEMPO_BINS: usize = 16;
pub(super) const BIN_SLOTS: usize = TEMPO_BINS + 1;
pub(super) const UNKNOWN_BIN: usize = TEMPO_BINS;

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
    pub(super) bin: usize,
    /// Key slot ([`Key::index`]), or [`UNKNOWN_KEY`].
    pub(super) key_slot: usize,
    /// How far the key estimate is believed ([`cost::KEY_TRUST`]).
    pub(super) key_trust: f64,
    /// How far the tempo estimate is believed ([`cost::TEMPO_TRUST`]).
    pub(super) tempo_trust: f64,
    /// Energy level, 0..=1 (catalog percentile).
    pub energy: f64,
    /// Tempo level, 0..=1 (catalog percentile).
    pub tempo_level: Option<f64>,
    /// Brightness level, 0..=1 (catalog percentile).
    pub bright: Option<f64>,
    /// Mood index.
    pub mood: usize,
    /// Artist id for the artist rule.
    pub(super) artist: Option<u32>,
    /// Fair period between plays (catalog play-through ÷ weight share).
    pub period: u64,
    /// Seeded tie-break.
    pub(super) tie: u64,
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
    /// Position in `tracks` by content hash (the first id of a recording).
    pub by_hash: HashMap<&'a str, usize>,
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
    pub(super) artist_ids: HashMap<String, u32>,
    /// Bucket (key slot × tempo bin) of each track.
    pub(super) bucket_of: Vec<u32>,
    /// Per source bucket, the non-empty buckets by lower bound.
    pub(super) order: Vec<Vec<(u32, f64)>>,
    /// Weighted key cost between key slots.
    pub(super) key_costs: Vec<f64>,
    pub(super) half_length: u64,
    /// Day-part targets and mood misfits for each local minute of the day.
    pub(super) minutes: Vec<Minute>,
    /// The epoch as Unix seconds.
    pub(super) epoch_unix: i64,
    /// Per playable track, when other channels play its recording
    /// (`[start, end)` programme samples; see [`Model::avoid`]).
    pub(super) busy: Vec<Vec<(u64, u64)>>,
}

/// The day-part targets of one local minute.
#[derive(Debug, Clone)]
pub(super) struct Minute {
    pub(super) energy: f64,
    pub(super) tempo: f64,
    pub(super) misfit: Vec<f64>,
}

/// How long before a slot the state keeps recent plays (for the hour in
/// progress).
pub const FIT_WINDOW_SECONDS: u64 = 3600;

/// One hour of programme, in samples: the unit the day-part term judges.
pub const HOUR: u64 = 3600 * crate::time::SAMPLE_RATE as u64;

/// The range of mean levels the rest of an open hour is assumed able to
/// reach when its cost is estimated.
pub(super) const REST_LOW: f64 = 0.15;
pub(super) const REST_HIGH: f64 = 0.85;

/// The energy and tempo levels played so far in one hour of programme
/// (time-weighted), and its paced targets.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Hour {
    pub(super) start: u64,
    pub(super) energy_sum: f64,
    pub(super) energy_time: f64,
    pub(super) tempo_sum: f64,
    pub(super) tempo_time: f64,
    pub(super) energy_target: f64,
    pub(super) tempo_target: f64,
}

impl Hour {
    /// Counts `d` samples of a track with features `f` as played in this hour.
    pub(super) fn play(&mut self, f: &Feat, d: f64) {
        self.energy_sum += f.energy * d;
        self.energy_time += d;
        if let Some(l) = f.tempo_level {
            self.tempo_sum += l * d;
            self.tempo_time += d;
        }
    }
}

/// Rank levels in `[0, 1]` of the known values (ties share their mean rank).
pub(super) fn levels(values: &[Option<f64>]) -> Vec<Option<f64>> {
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
pub(super) fn hash64(seed: u64, text: &str) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(first)
}

pub(super) fn mix(a: u64, b: u64) -> u64 {
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

pub(super) fn key_of(slot: usize) -> Option<Key> {
    Key::ALL.get(slot).copied()
}

impl<'a> Model<'a> {
    /// The playable track a scheduled item plays: by its id, else by its
    /// recording (a file moved or renamed since, or a duplicate path).
    pub fn playable_of(&self, item: &crate::schedule::Item) -> Option<usize> {
        self.index
            .get(item.track.as_str())
            .or_else(|| self.by_hash.get(item.hash.as_str()))
            .copied()
    }

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
                key_trust: cost::KEY_TRUST.of(t.key_confidence),
                tempo_trust: cost::TEMPO_TRUST.of(t.tempo_confidence),
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
        let mut by_hash = HashMap::new();
        for (i, t) in playable.iter().enumerate() {
            by_hash.entry(t.hash.as_str()).or_insert(i);
        }
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
            by_hash,
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
            busy: Vec::new(),
        })
    }

    /// From now on, no track is eligible at a slot where its recording
    /// would overlap a play `busy` holds (another channel's), whatever
    /// other rule is relaxed.
    pub fn avoid(&mut self, busy: &crate::schedule::Busy) {
        if busy.is_empty() {
            self.busy.clear();
            return;
        }
        let epoch = self.station.epoch;
        self.busy = self
            .tracks
            .iter()
            .map(|t| busy.intervals(&t.hash, epoch))
            .collect();
    }

    /// Whether track `c` started at `t` would overlap another channel's
    /// play of its recording.
    pub(super) fn busy_at(&self, c: usize, t: u64) -> bool {
        let end = t.saturating_add(self.feats[c].length);
        self.busy
            .get(c)
            .is_some_and(|v| v.iter().any(|&(s, e)| s < end && e > t))
    }

    /// The day-part targets at programme sample `t`.
    pub fn target_at(&self, t: u64) -> Result<Target> {
        let s = daypart::local_seconds(self.cfg.time_zone, self.station.epoch, SampleIndex(t))?;
        Ok(daypart::target_at(&self.cfg.day_parts, s))
    }

    /// The station's UTC offset (seconds, modulo a day) at sample `t`.
    pub(super) fn day_offset(&self, t: u64) -> Result<i64> {
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
    pub(super) fn minute(&self, t: u64, offset: i64) -> &Minute {
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

    pub(super) fn pace_level(&self, v: f64) -> f64 {
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

    /// The weighted key and tempo terms of `c` after `p`, each trusted by
    /// both sides' confidence ([`cost::trusted`]): a lower bound of the
    /// whole cost (every other term is ≥ 0).
    pub(super) fn transition(&self, p: usize, c: usize) -> (f64, f64) {
        let (pf, f) = (&self.feats[p], &self.feats[c]);
        let w = &self.cfg.weights;
        let tempo = match (pf.log2_bpm, f.log2_bpm) {
            (Some(a), Some(b)) => {
                let (d, octave) = cost::fold(b - a);
                cost::trusted(
                    cost::tempo_cost(d, octave),
                    pf.tempo_trust * f.tempo_trust,
                    cost::UNKNOWN,
                )
            }
            _ => cost::UNKNOWN,
        };
        let key = cost::trusted(
            self.key_costs[pf.key_slot * KEY_SLOTS + f.key_slot],
            pf.key_trust * f.key_trust,
            w.key * cost::UNKNOWN,
        );
        (key, w.tempo * tempo)
    }

    pub(super) fn fit_window(&self) -> u64 {
        FIT_WINDOW_SECONDS * u64::from(crate::time::SAMPLE_RATE)
    }

    /// The cost terms of playing `c` after `prev` except the day part:
    /// `misfit` is the mood misfit of the slot, `wait` how long since `c`
    /// last played.
    pub(super) fn terms(&self, prev: Option<usize>, c: usize, misfit: &[f64], wait: u64) -> Terms {
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
    pub(super) fn open_hour(&self, start: u64, offset: i64) -> Hour {
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
    pub(super) fn add_to_hour(
        &self,
        hour: &Hour,
        c: usize,
        s: u64,
        e: u64,
        offset: i64,
    ) -> (Hour, f64, f64) {
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
    pub(super) fn hour_cost(&self, h: &Hour, closed: bool) -> f64 {
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
pub(super) fn bucket_order(
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
                    // Bounds whatever the confidences (`Model::transition`).
                    let key = cost::KEY_TRUST
                        .bound(key_costs[sk * KEY_SLOTS + dk], w.key * cost::UNKNOWN);
                    let tempo = if sb == UNKNOWN_BIN || db == UNKNOWN_BIN {
                        cost::UNKNOWN
                    } else {
                        let diff = sb.abs_diff(db);
                        let bins = diff.min(TEMPO_BINS - diff);
                        let octaves = bins.saturating_sub(1) as f64 / TEMPO_BINS as f64;
                        cost::TEMPO_TRUST.bound(cost::tempo_cost(octaves, false), cost::UNKNOWN)
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
}
