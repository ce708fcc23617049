//! The cost of playing one track after another at a given moment: a sum of
//! weighted, non-negative terms (weights in `[schedule.weights]`).
//!
//! | term | what it measures | 1.0 (before weighting) means |
//! |---|---|---|
//! | tempo | tempo ratio folded to the nearest octave (half/double time is close), plus 0.25 for an octave change | a jump just over 8 % (a hinge: within 8 % the cost is small, 0.15 × the square of the jump in 8 % units, so 4 % → 0.04; beyond, 1 plus 2 per further 8 %) |
//! | key | Camelot distance, a hinge at compatibility: 0 → 0, 1 (relative, fifth) → 0.05, 2 → 1, 3 → 1.25, 4+ → 1.5 | two steps round the wheel |
//! | energy | squared jump in energy level (catalog percentile) | a jump of a quarter of the catalog |
//! | brightness | squared jump in brightness level (catalog percentile) | a quarter of the catalog |
//! | day part | per hour, not per track: squared distance of the hour's mean energy level from the paced target, plus half that for tempo (see `schedule::plan`) | the hour a quarter of the paced range away from the target |
//! | mood | how badly the track's mood matches the day part's mood words | none of the weighted words |
//! | freshness | `1 − min(wait / (2·period), 1)`: the track's wait since it last played against its fair period (catalog duration ÷ weight) | it has just played |
//!
//! Key and tempo are hinges because what a listener hears — and what the
//! report counts — is whether a transition is compatible (same or adjacent
//! key, tempo within 8 %), not how close inside that it is: a steep step at
//! the boundary keeps the search from trading a compatible key for a
//! slightly smaller tempo step.
//!
//! Unknown features are neutral: an unknown tempo or key on either side
//! costs half a unit (so known-good transitions still win), an unknown
//! brightness nothing. Every term is ≥ 0, which is what lets the search
//! prune candidates by a lower bound (see `schedule::plan`).
//!
//! Estimates are trusted by their confidence. The key and tempo terms of a
//! transition are pulled from their value towards the neutral half unit by
//! how unsure the analyzer was of either side ([`trusted`]): a transition
//! that looks smooth only on guesses costs more than a confident smooth one,
//! and a clash between two guesses less than a sure clash. [`KEY_TRUST`] and
//! [`TEMPO_TRUST`] turn the analyzer's confidence into how far its estimate
//! is believed (see their docs for how that was measured).

use std::fmt;

use crate::music::{camelot_distance, Key};

/// log2(1.08): an 8 % tempo change, in octaves.
pub const EIGHT_PERCENT_OCTAVES: f64 = 0.111_031_312_388_743_95;

/// Cost of a tempo or key transition when either side is unknown.
pub const UNKNOWN: f64 = 0.5;

/// Scale of energy, brightness and day-part distances: a quarter of the
/// catalog's range (in percentile levels).
pub const LEVEL_SCALE: f64 = 0.25;

/// Extra cost of a half/double-time transition.
pub const OCTAVE_CHANGE: f64 = 0.25;

/// Growth of the tempo cost per 8 % beyond an 8 % jump.
pub const TEMPO_SLOPE: f64 = 2.0;

/// Key cost by Camelot distance (0..=7).
pub const KEY_COST: [f64; 8] = [0.0, 0.05, 1.0, 1.25, 1.5, 1.5, 1.5, 1.5];

/// Scale of the tempo cost inside the 8 % band (a jump of exactly 8 % costs
/// this; anything beyond at least 1).
pub const INSIDE: f64 = 0.15;

/// The weighted terms of one transition.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Terms {
    /// Tempo change.
    pub tempo: f64,
    /// Key distance.
    pub key: f64,
    /// Energy jump.
    pub energy: f64,
    /// Brightness jump.
    pub brightness: f64,
    /// Distance from the day part's energy/tempo target.
    pub day_part: f64,
    /// Mood misfit to the day part.
    pub mood: f64,
    /// Recently played.
    pub freshness: f64,
}

impl Terms {
    /// The sum of the terms.
    pub fn total(&self) -> f64 {
        self.tempo
            + self.key
            + self.energy
            + self.brightness
            + self.day_part
            + self.mood
            + self.freshness
    }

    /// Names and values, in display order.
    pub fn named(&self) -> [(&'static str, f64); 7] {
        [
            ("tempo", self.tempo),
            ("key", self.key),
            ("energy", self.energy),
            ("bright", self.brightness),
            ("day-part", self.day_part),
            ("mood", self.mood),
            ("fresh", self.freshness),
        ]
    }
}

impl fmt::Display for Terms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, v)) in self.named().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name} {v:.2}")?;
        }
        Ok(())
    }
}

/// Octave-folded tempo distance between two tempos in BPM: `(distance in
/// octaves, 0..=0.5; whether the fold crossed an octave)`.
pub fn tempo_distance(a_bpm: f64, b_bpm: f64) -> (f64, bool) {
    fold(b_bpm.log2() - a_bpm.log2())
}

/// Folds a log2 tempo difference to the nearest octave.
pub fn fold(diff_octaves: f64) -> (f64, bool) {
    let k = diff_octaves.round();
    ((diff_octaves - k).abs(), k != 0.0)
}

/// The octave-aware tempo jump as a ratio above 1, e.g. 0.08 for 8 %.
pub fn tempo_jump(a_bpm: f64, b_bpm: f64) -> f64 {
    tempo_distance(a_bpm, b_bpm).0.exp2() - 1.0
}

/// The unweighted cost of a tempo distance of `octaves` (folded).
pub fn tempo_cost(octaves: f64, octave_change: bool) -> f64 {
    let x = octaves / EIGHT_PERCENT_OCTAVES;
    let base = if x <= 1.0 {
        INSIDE * x * x
    } else {
        1.0 + TEMPO_SLOPE * (x - 1.0)
    };
    base + if octave_change { OCTAVE_CHANGE } else { 0.0 }
}

/// The unweighted key cost between two keys (neutral if either is unknown).
pub fn key_cost(a: Option<Key>, b: Option<Key>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) => KEY_COST[usize::from(camelot_distance(a, b)).min(7)],
        _ => UNKNOWN,
    }
}

/// How far a transition cost built on an estimate is believed, by the
/// analyzer's confidence in it: [`Trust::of`] rises linearly from `floor`
/// at confidence 0 to 1 at `full`, and stays there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trust {
    /// The trust of an estimate of confidence 0.
    pub floor: f64,
    /// The confidence from which an estimate is fully believed (and counts
    /// as sure in `schedule --report`).
    pub full: f64,
}

/// Trust in a key estimate. The shape follows the reliability of the keys
/// on the labelled corpus's tuning seeds (`tests/corpus`, seeds
/// 10000-10119): a key given with confidence under 0.4 is exactly right
/// about a third of the time (its errors are mostly a neighbour on the
/// Camelot wheel, so it still says something), 0.4-0.6 about half, 0.6 and
/// over nine times in ten.
pub const KEY_TRUST: Trust = Trust {
    floor: 0.4,
    full: 0.6,
};

/// Trust in a tempo estimate: on the same seeds a tempo given with
/// confidence under 0.2 is right, octaves allowed, about half the time,
/// one above it nearly always (the tempo's confidences are lower than the
/// key's: few reach 0.6).
///
/// What the two do, judged by the labels over a day planned on the tuning
/// seeds (eight station seeds): tempo jumps 16.3 % → 12.1 % and
/// key-compatible transitions 71.8 % → 74.8 % against the same planner
/// taking every estimate as sure. Other floors and knees tried there moved
/// the key share within a few points either way (noise of that size), the
/// tempo trust cut the jumps in every variant.
pub const TEMPO_TRUST: Trust = Trust {
    floor: 0.5,
    full: 0.2,
};

impl Trust {
    /// The trust of one estimate of this confidence (0..=1; not finite: 0).
    pub fn of(&self, confidence: f64) -> f64 {
        self.floor + (1.0 - self.floor) * (unit(confidence) / self.full).min(1.0)
    }

    /// Whether an estimate of this confidence is fully believed.
    pub fn sure(&self, confidence: f64) -> bool {
        confidence >= self.full
    }

    /// The least [`trusted`] cost a transition of this `raw` cost can
    /// have, whatever the two confidences: what a search may prune by.
    pub fn bound(&self, raw: f64, neutral: f64) -> f64 {
        if raw <= neutral {
            raw
        } else {
            trusted(raw, self.floor * self.floor, neutral)
        }
    }
}

/// A confidence as written, clamped to 0..=1 (not finite: 0).
pub fn unit(confidence: f64) -> f64 {
    if confidence.is_finite() {
        confidence.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// A cost `raw` built on two estimates believed together as `trust` (the
/// product of each side's [`Trust::of`]), pulled towards `neutral` (the
/// cost of an unknown feature) in proportion to the doubt.
pub fn trusted(raw: f64, trust: f64, neutral: f64) -> f64 {
    neutral + trust.clamp(0.0, 1.0) * (raw - neutral)
}

/// The unweighted cost of a jump between two levels (0..=1).
pub fn level_jump(a: f64, b: f64) -> f64 {
    let x = (a - b) / LEVEL_SCALE;
    x * x
}

/// The unweighted freshness cost: `wait` and `period` in samples.
pub fn freshness(wait: u64, period: u64) -> f64 {
    let ratio = wait as f64 / (2.0 * period.max(1) as f64);
    1.0 - ratio.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tempo_cost_is_a_hinge_at_eight_percent_and_octaves_fold() {
        assert!((1.08f64.log2() - EIGHT_PERCENT_OCTAVES).abs() < 1e-15);
        let (d, oct) = tempo_distance(80.0, 86.4);
        assert!(!oct);
        assert!((tempo_cost(d, oct) - INSIDE).abs() < 1e-9);
        // The hinge: just over 8 % costs at least 1.
        let (d, _) = tempo_distance(80.0, 86.5);
        assert!(tempo_cost(d, false) > 1.0 && tempo_cost(d, false) < 1.05);
        let (d, _) = tempo_distance(80.0, 83.2);
        assert!(tempo_cost(d, false) < 0.05, "a 4 % step is nearly free");
        let (d, oct) = tempo_distance(80.0, 160.0);
        assert!(d < 1e-12 && oct);
        assert!((tempo_cost(d, oct) - OCTAVE_CHANGE).abs() < 1e-9);
        let (d, _) = tempo_distance(80.0, 81.0);
        assert!(tempo_cost(d, false) < 0.1);
        assert!((tempo_jump(80.0, 40.0 * 1.04) - 0.04).abs() < 1e-9);
        assert!((tempo_jump(90.0, 80.0) - 0.125).abs() < 1e-9);
    }

    #[test]
    fn doubt_pulls_a_cost_towards_neutral_and_the_bound_holds() {
        let t = KEY_TRUST;
        assert_eq!(t.of(0.0), t.floor);
        assert_eq!(t.of(1.0), 1.0);
        assert_eq!(t.of(t.full), 1.0);
        assert_eq!(t.of(f64::NAN), t.floor);
        assert!(t.of(0.3) > t.of(0.1));
        assert!(t.sure(t.full) && !t.sure(t.full - 0.01));
        // Sure: the cost as it is; unsure: half-way to neutral.
        assert_eq!(trusted(1.0, 1.0, UNKNOWN), 1.0);
        assert_eq!(trusted(0.0, 0.5, UNKNOWN), 0.25);
        assert_eq!(trusted(1.5, 0.5, UNKNOWN), 1.0);
        // A smooth pair of guesses costs more than a sure smooth pair.
        assert!(trusted(0.0, t.of(0.1) * t.of(0.1), UNKNOWN) > trusted(0.0, 1.0, UNKNOWN));
        for t in [KEY_TRUST, TEMPO_TRUST] {
            for raw in [0.0, 0.05, 0.5, 1.0, 1.5, 3.0] {
                for (a, b) in [(0.0, 0.0), (0.0, 1.0), (0.3, 0.5), (1.0, 1.0)] {
                    let cost = trusted(raw, t.of(a) * t.of(b), UNKNOWN);
                    assert!(t.bound(raw, UNKNOWN) <= cost + 1e-12, "{raw} {a} {b}");
                }
            }
        }
    }

    #[test]
    fn keys_and_levels() {
        let k = |s: &str| s.parse::<Key>().ok();
        assert_eq!(key_cost(k("8A"), k("8A")), 0.0);
        assert_eq!(key_cost(k("8A"), k("9A")), 0.05);
        assert_eq!(key_cost(k("8A"), k("8B")), 0.05);
        assert_eq!(key_cost(k("8A"), k("9B")), 1.0);
        assert_eq!(key_cost(k("8A"), None), UNKNOWN);
        assert!((level_jump(0.5, 0.75) - 1.0).abs() < 1e-12);
        assert_eq!(freshness(0, 100), 1.0);
        assert_eq!(freshness(200, 100), 0.0);
        assert!((freshness(100, 100) - 0.5).abs() < 1e-12);
        let t = Terms {
            tempo: 1.0,
            key: 0.5,
            ..Default::default()
        };
        assert_eq!(t.total(), 1.5);
        assert!(t.to_string().starts_with("tempo 1.00 key 0.50"));
    }
}
