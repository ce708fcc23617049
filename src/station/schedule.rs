//! `[schedule]` of `station.toml`: the station time zone, the day-part plan,
//! the transition-cost weights, the rotation rules, the mood model's k range
//! and the look-ahead search — as written ([`RawSchedule`], a serde mirror
//! with `deny_unknown_fields`) and validated ([`ScheduleConfig`]).
//!
//! [`validate`] is called by the station's one validation; every
//! error names the dotted key (`schedule.day_parts[2].energy`), the bad value
//! and what is allowed. The defaults here are the ones written out in
//! `pipeline/station.toml` (a unit test checks they agree).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::time::SampleCount;

/// The largest k the mood model may try.
pub const MAX_MOODS: usize = 16;

/// The most tracks an hour's plan may look past the hour's end.
pub const MAX_LOOK_AHEAD: usize = 40;

/// The widest beam.
pub const MAX_BEAM: usize = 256;

/// `[schedule]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSchedule {
    /// `schedule.time_zone`, an IANA name such as `"Europe/Berlin"`.
    pub time_zone: String,
    /// `[schedule.moods]`
    pub moods: RawMoods,
    /// `[schedule.weights]`
    pub weights: RawWeights,
    /// `[schedule.rotation]`
    pub rotation: RawRotation,
    /// `[schedule.search]`
    pub search: RawSearch,
    /// `[[schedule.day_parts]]`
    pub day_parts: Vec<RawDayPart>,
    /// `schedule.listener_weighting`
    pub listener_weighting: bool,
}

/// `[schedule.moods]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMoods {
    /// `schedule.moods.k_min`
    pub k_min: usize,
    /// `schedule.moods.k_max`
    pub k_max: usize,
}

/// `[schedule.weights]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWeights {
    /// `schedule.weights.tempo`
    pub tempo: f64,
    /// `schedule.weights.key`
    pub key: f64,
    /// `schedule.weights.energy`
    pub energy: f64,
    /// `schedule.weights.brightness`
    pub brightness: f64,
    /// `schedule.weights.day_part`
    pub day_part: f64,
    /// `schedule.weights.mood`
    pub mood: f64,
    /// `schedule.weights.freshness`
    pub freshness: f64,
}

/// `[schedule.rotation]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRotation {
    /// `schedule.rotation.repeat_window_hours`
    pub repeat_window_hours: f64,
    /// `schedule.rotation.repeat_catalog_share`
    pub repeat_catalog_share: f64,
    /// `schedule.rotation.artist_separation_minutes`
    pub artist_separation_minutes: u64,
    /// `schedule.rotation.coverage_days`
    pub coverage_days: u64,
}

/// `[schedule.search]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSearch {
    /// `schedule.search.look_ahead`
    pub look_ahead: usize,
    /// `schedule.search.beam_width`
    pub beam_width: usize,
    /// `schedule.search.branching`
    pub branching: usize,
}

/// One `[[schedule.day_parts]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDayPart {
    /// Local time the part's target is reached, `"HH:MM"`.
    pub at: String,
    /// Name shown by `explain` and the report.
    pub name: String,
    /// Target energy, 0 (calmest of the catalog) to 1 (most energetic).
    pub energy: f64,
    /// Target tempo, 0 (slowest of the catalog) to 1 (fastest).
    pub tempo: f64,
    /// Mood-word weights, e.g. `{ calm = 1.0, dark = 0.5 }`.
    #[serde(default)]
    pub moods: BTreeMap<String, f64>,
}

impl Default for RawSchedule {
    fn default() -> Self {
        let part =
            |at: &str, name: &str, energy: f64, tempo: f64, moods: &[(&str, f64)]| RawDayPart {
                at: at.into(),
                name: name.into(),
                energy,
                tempo,
                moods: moods.iter().map(|(w, v)| ((*w).to_string(), *v)).collect(),
            };
        RawSchedule {
            time_zone: "UTC".into(),
            listener_weighting: false,
            moods: RawMoods { k_min: 3, k_max: 8 },
            weights: RawWeights {
                tempo: 10.0,
                key: 12.0,
                energy: 0.05,
                brightness: 0.05,
                day_part: 15.0,
                mood: 0.1,
                freshness: 0.05,
            },
            rotation: RawRotation {
                repeat_window_hours: 24.0,
                repeat_catalog_share: 0.8,
                artist_separation_minutes: 30,
                coverage_days: 2,
            },
            search: RawSearch {
                look_ahead: 16,
                beam_width: 64,
                branching: 8,
            },
            day_parts: vec![
                part(
                    "00:00",
                    "late night",
                    0.15,
                    0.25,
                    &[("calm", 1.0), ("dark", 0.5)],
                ),
                part(
                    "05:00",
                    "before dawn",
                    0.05,
                    0.1,
                    &[("calm", 1.0), ("slow", 1.0)],
                ),
                part(
                    "08:00",
                    "morning",
                    0.45,
                    0.45,
                    &[("warm", 1.0), ("mellow", 0.5)],
                ),
                part(
                    "10:30",
                    "focus",
                    0.6,
                    0.55,
                    &[("mellow", 1.0), ("steady", 1.0)],
                ),
                part(
                    "15:00",
                    "afternoon",
                    0.85,
                    0.75,
                    &[("lively", 1.0), ("bright", 0.5)],
                ),
                part(
                    "19:00",
                    "evening",
                    0.7,
                    0.6,
                    &[("warm", 1.0), ("lively", 0.5)],
                ),
                part(
                    "22:00",
                    "night",
                    0.35,
                    0.35,
                    &[("calm", 0.5), ("warm", 0.5)],
                ),
            ],
        }
    }
}

impl Default for RawMoods {
    fn default() -> Self {
        RawSchedule::default().moods
    }
}

impl Default for RawWeights {
    fn default() -> Self {
        RawSchedule::default().weights
    }
}

impl Default for RawRotation {
    fn default() -> Self {
        RawSchedule::default().rotation
    }
}

impl Default for RawSearch {
    fn default() -> Self {
        RawSchedule::default().search
    }
}

/// A word a mood label is made of: one per axis (energy, brightness,
/// tempo), relative to the catalog. Day parts weight moods by these words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Descriptor {
    /// Energy well below the catalog's average.
    Calm,
    /// Energy near the catalog's average.
    Mellow,
    /// Energy well above the catalog's average.
    Lively,
    /// Duller (lower spectral centroid) than the catalog's average.
    Dark,
    /// Brightness near the catalog's average.
    Warm,
    /// Brighter than the catalog's average.
    Bright,
    /// Slower than the catalog's average.
    Slow,
    /// Tempo near the catalog's average.
    Steady,
    /// Faster than the catalog's average.
    Upbeat,
}

impl Descriptor {
    /// Every descriptor, by axis: energy, brightness, tempo.
    pub const ALL: [Descriptor; 9] = [
        Descriptor::Calm,
        Descriptor::Mellow,
        Descriptor::Lively,
        Descriptor::Dark,
        Descriptor::Warm,
        Descriptor::Bright,
        Descriptor::Slow,
        Descriptor::Steady,
        Descriptor::Upbeat,
    ];

    /// The word as written in labels and in `station.toml`.
    pub const fn word(self) -> &'static str {
        match self {
            Descriptor::Calm => "calm",
            Descriptor::Mellow => "mellow",
            Descriptor::Lively => "lively",
            Descriptor::Dark => "dark",
            Descriptor::Warm => "warm",
            Descriptor::Bright => "bright",
            Descriptor::Slow => "slow",
            Descriptor::Steady => "steady",
            Descriptor::Upbeat => "upbeat",
        }
    }

    /// Position in [`Descriptor::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Descriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl FromStr for Descriptor {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let word = s.trim().to_ascii_lowercase();
        Descriptor::ALL
            .into_iter()
            .find(|d| d.word() == word)
            .ok_or_else(|| {
                let all: Vec<&str> = Descriptor::ALL.iter().map(|d| d.word()).collect();
                format!("{s:?} is not a mood word; use {}", all.join(", "))
            })
    }
}

/// One point of the day-part curve: the target reached at a local time.
/// Between points the targets are interpolated linearly (round the clock).
#[derive(Debug, Clone, PartialEq)]
pub struct DayPart {
    /// Seconds after local midnight.
    pub at_seconds: u32,
    /// Name shown by `explain` and the report.
    pub name: String,
    /// Target energy level, 0..=1 (a catalog percentile).
    pub energy: f64,
    /// Target tempo level, 0..=1 (a catalog percentile).
    pub tempo: f64,
    /// Weight of each [`Descriptor`], indexed by [`Descriptor::index`].
    pub moods: [f64; 9],
}

/// Weights of the transition-cost terms (see `schedule::cost`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Tempo change (octave-aware; 1 = an 8 % jump).
    pub tempo: f64,
    /// Camelot key distance.
    pub key: f64,
    /// Energy jump between consecutive tracks.
    pub energy: f64,
    /// Brightness jump between consecutive tracks.
    pub brightness: f64,
    /// Distance from the day part's target energy and tempo.
    pub day_part: f64,
    /// Mood fit to the day part's mood words.
    pub mood: f64,
    /// Preference for tracks not played for a while (fair rotation, weight).
    pub freshness: f64,
}

/// The rotation rules as configured (the effective values also depend on
/// the catalog; see `schedule::rules`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rotation {
    /// Upper bound of the no-repeat window.
    pub repeat_window: SampleCount,
    /// The no-repeat window is at most this share of the playable catalog's
    /// total duration (0 turns the cap off).
    pub repeat_catalog_share: f64,
    /// Minimum time between the starts of two tracks by the same artist.
    pub artist_separation: SampleCount,
    /// Every enabled track plays at least once in this long (or in twice
    /// the catalog's duration, if that is longer).
    pub coverage: SampleCount,
}

/// The validated `[schedule]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleConfig {
    /// The station's time zone: the day-part plan follows its wall clock.
    pub time_zone: chrono_tz::Tz,
    /// Smallest number of moods k-means may choose.
    pub k_min: usize,
    /// Largest number of moods k-means may choose.
    pub k_max: usize,
    /// Transition-cost weights.
    pub weights: Weights,
    /// Rotation rules.
    pub rotation: Rotation,
    /// How many tracks past the end of the hour each hour's plan looks
    /// (those are planned again with the next hour).
    pub look_ahead: usize,
    /// How many partial plans the beam search keeps per level.
    pub beam_width: usize,
    /// How many next tracks each kept plan is extended by.
    pub branching: usize,
    /// The day-part curve, sorted by time, at least one point.
    pub day_parts: Vec<DayPart>,
    /// Lower the weight of tracks listeners leave during more than usual,
    /// from `catalog/listeners.csv` (see `listeners::weighting`).
    pub listener_weighting: bool,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        // The built-in defaults are valid by construction (a unit test checks).
        validate(&RawSchedule::default(), "<defaults>")
            .expect("the built-in [schedule] defaults are valid")
    }
}

/// Checks every key of `raw` and builds the [`ScheduleConfig`]. `file` names
/// the configuration in errors.
pub fn validate(raw: &RawSchedule, file: &str) -> Result<ScheduleConfig> {
    let bad = |key: &str, message: String| Error::Config {
        file: file.to_string(),
        key: format!("schedule.{key}"),
        message,
    };

    let tz_text = raw.time_zone.trim();
    let time_zone: chrono_tz::Tz = tz_text.parse().map_err(|_| {
        bad(
            "time_zone",
            format!("{tz_text:?} is not an IANA time zone name; write e.g. \"UTC\", \"Europe/Berlin\" or \"America/New_York\""),
        )
    })?;

    let m = &raw.moods;
    if !(2..=MAX_MOODS).contains(&m.k_min) {
        return Err(bad(
            "moods.k_min",
            format!(
                "{} is not allowed: use 2 to {MAX_MOODS} moods, e.g. 3",
                m.k_min
            ),
        ));
    }
    if !(m.k_min..=MAX_MOODS).contains(&m.k_max) {
        return Err(bad(
            "moods.k_max",
            format!(
                "{} is not allowed: use moods.k_min ({}) to {MAX_MOODS}, e.g. 8",
                m.k_max, m.k_min
            ),
        ));
    }

    let w = &raw.weights;
    for (key, value) in [
        ("tempo", w.tempo),
        ("key", w.key),
        ("energy", w.energy),
        ("brightness", w.brightness),
        ("day_part", w.day_part),
        ("mood", w.mood),
        ("freshness", w.freshness),
    ] {
        if !(value.is_finite() && (0.0..=100.0).contains(&value)) {
            return Err(bad(
                &format!("weights.{key}"),
                format!("{value} is not allowed: use 0 (ignore this term) to 100, e.g. 1"),
            ));
        }
    }
    let weights = Weights {
        tempo: w.tempo,
        key: w.key,
        energy: w.energy,
        brightness: w.brightness,
        day_part: w.day_part,
        mood: w.mood,
        freshness: w.freshness,
    };

    let r = &raw.rotation;
    if !(r.repeat_window_hours.is_finite() && (0.0..=24.0 * 28.0).contains(&r.repeat_window_hours))
    {
        return Err(bad(
            "rotation.repeat_window_hours",
            format!(
                "{} is not allowed: use 0 (no repeat rule) to 672 hours, e.g. 24",
                r.repeat_window_hours
            ),
        ));
    }
    if !(r.repeat_catalog_share.is_finite() && (0.0..=0.95).contains(&r.repeat_catalog_share)) {
        return Err(bad(
            "rotation.repeat_catalog_share",
            format!(
                "{} is not allowed: use 0 (no cap) to 0.95, e.g. 0.8",
                r.repeat_catalog_share
            ),
        ));
    }
    if r.artist_separation_minutes > 24 * 60 {
        return Err(bad(
            "rotation.artist_separation_minutes",
            format!(
                "{} is not allowed: use 0 (no rule) to 1440 minutes, e.g. 30",
                r.artist_separation_minutes
            ),
        ));
    }
    if !(1..=60).contains(&r.coverage_days) {
        return Err(bad(
            "rotation.coverage_days",
            format!(
                "{} is not allowed: use 1 to 60 days, e.g. 2",
                r.coverage_days
            ),
        ));
    }
    // Whole milliseconds keep the window on the integer sample clock.
    let window_ms = (r.repeat_window_hours * 3_600_000.0).round() as u64;
    let rotation = Rotation {
        repeat_window: SampleCount::from_millis(window_ms)?,
        repeat_catalog_share: r.repeat_catalog_share,
        artist_separation: SampleCount::from_secs(r.artist_separation_minutes * 60)?,
        coverage: SampleCount::from_secs(r.coverage_days * 86_400)?,
    };

    let s = &raw.search;
    if !(1..=MAX_LOOK_AHEAD).contains(&s.look_ahead) {
        return Err(bad(
            "search.look_ahead",
            format!(
                "{} is not allowed: use 1 to {MAX_LOOK_AHEAD} tracks past the hour, e.g. 16",
                s.look_ahead
            ),
        ));
    }
    if !(1..=MAX_BEAM).contains(&s.beam_width) {
        return Err(bad(
            "search.beam_width",
            format!(
                "{} is not allowed: use 1 to {MAX_BEAM}, e.g. 64",
                s.beam_width
            ),
        ));
    }
    if !(1..=32).contains(&s.branching) {
        return Err(bad(
            "search.branching",
            format!("{} is not allowed: use 1 to 32, e.g. 8", s.branching),
        ));
    }

    if raw.day_parts.is_empty() || raw.day_parts.len() > 48 {
        return Err(bad(
            "day_parts",
            format!(
                "has {} entries: give 1 to 48 [[schedule.day_parts]] points",
                raw.day_parts.len()
            ),
        ));
    }
    let mut day_parts = Vec::with_capacity(raw.day_parts.len());
    for (i, p) in raw.day_parts.iter().enumerate() {
        let key = |field: &str| format!("day_parts[{i}].{field}");
        let at_seconds = parse_clock(&p.at).ok_or_else(|| {
            bad(
                &key("at"),
                format!(
                    "{:?} is not a local time: write \"HH:MM\" from \"00:00\" to \"23:59\"",
                    p.at
                ),
            )
        })?;
        let name = p.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 40 {
            return Err(bad(&key("name"), "must be 1 to 40 characters".into()));
        }
        for (field, value) in [("energy", p.energy), ("tempo", p.tempo)] {
            if !(value.is_finite() && (0.0..=1.0).contains(&value)) {
                return Err(bad(
                    &key(field),
                    format!(
                        "{value} is not allowed: use 0 (lowest of the catalog) to 1 (highest), e.g. 0.5"
                    ),
                ));
            }
        }
        let mut moods = [0.0; 9];
        for (word, weight) in &p.moods {
            let d: Descriptor = word
                .parse()
                .map_err(|m: String| bad(&format!("day_parts[{i}].moods.{word}"), m))?;
            if !(weight.is_finite() && (0.0..=10.0).contains(weight)) {
                return Err(bad(
                    &format!("day_parts[{i}].moods.{word}"),
                    format!("{weight} is not allowed: use 0 to 10, e.g. 1"),
                ));
            }
            moods[d.index()] = *weight;
        }
        day_parts.push(DayPart {
            at_seconds,
            name,
            energy: p.energy,
            tempo: p.tempo,
            moods,
        });
    }
    day_parts.sort_by_key(|p| p.at_seconds);
    if let Some(w) = day_parts
        .windows(2)
        .find(|w| w[0].at_seconds == w[1].at_seconds)
    {
        return Err(bad(
            "day_parts",
            format!(
                "{:?} and {:?} both start at {}; give each point its own time",
                w[0].name,
                w[1].name,
                fmt_clock(w[0].at_seconds)
            ),
        ));
    }

    Ok(ScheduleConfig {
        time_zone,
        k_min: m.k_min,
        k_max: m.k_max,
        weights,
        rotation,
        look_ahead: s.look_ahead,
        beam_width: s.beam_width,
        branching: s.branching,
        day_parts,
        listener_weighting: raw.listener_weighting,
    })
}

/// Parses `"HH:MM"` into seconds after midnight.
fn parse_clock(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    (h < 24 && m < 60).then_some(h * 3600 + m * 60)
}

/// Formats seconds after midnight as `"HH:MM"`.
pub fn fmt_clock(seconds: u32) -> String {
    format!("{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ScheduleConfig> {
        #[derive(Deserialize)]
        struct Wrap {
            #[serde(default)]
            schedule: RawSchedule,
        }
        let w: Wrap = toml::from_str(text).expect("test TOML parses");
        validate(&w.schedule, "station.toml")
    }

    fn key_of(text: &str) -> (String, String) {
        match parse(text) {
            Err(Error::Config { key, message, .. }) => (key, message),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn the_shipped_station_toml_matches_the_defaults() {
        let shipped = parse(crate::station::EMBEDDED_DEFAULT).expect("shipped file is valid");
        assert_eq!(shipped, ScheduleConfig::default());
        assert_eq!(shipped.day_parts.len(), 7);
        assert_eq!(shipped.time_zone, chrono_tz::UTC);
        assert_eq!(
            shipped.rotation.repeat_window,
            SampleCount(24 * 3600 * 48_000)
        );
    }

    #[test]
    fn errors_name_the_key_and_the_value() {
        let (key, msg) = key_of("[schedule]\ntime_zone = \"Mars/Olympus\"\n");
        assert_eq!(key, "schedule.time_zone");
        assert!(
            msg.contains("Mars/Olympus") && msg.contains("IANA"),
            "{msg}"
        );

        let (key, msg) = key_of("[schedule.moods]\nk_min = 5\nk_max = 4\n");
        assert_eq!(key, "schedule.moods.k_max");
        assert!(msg.contains('4'), "{msg}");

        let (key, _) = key_of("[schedule.weights]\nkey = -1.0\n");
        assert_eq!(key, "schedule.weights.key");

        let (key, _) = key_of("[schedule.rotation]\nrepeat_catalog_share = 1.5\n");
        assert_eq!(key, "schedule.rotation.repeat_catalog_share");

        let part =
            "[[schedule.day_parts]]\nat = \"07:00\"\nname = \"x\"\nenergy = 0.5\ntempo = 0.5\n";
        assert!(parse(part).is_ok());
        let (key, msg) = key_of(&part.replace("07:00", "25:00"));
        assert_eq!(key, "schedule.day_parts[0].at");
        assert!(msg.contains("25:00"), "{msg}");
        let (key, _) = key_of(&part.replace("energy = 0.5", "energy = 1.5"));
        assert_eq!(key, "schedule.day_parts[0].energy");
        let (key, msg) = key_of(&format!("{part}moods = {{ sleepy = 1.0 }}\n"));
        assert_eq!(key, "schedule.day_parts[0].moods.sleepy");
        assert!(msg.contains("calm"), "lists the words: {msg}");
        let (key, msg) = key_of(&format!("{part}{part}"));
        assert_eq!(key, "schedule.day_parts");
        assert!(msg.contains("07:00"), "{msg}");
    }

    #[test]
    fn day_parts_are_sorted_and_words_parse() {
        let text = "[[schedule.day_parts]]\nat = \"18:00\"\nname = \"b\"\nenergy = 0.8\ntempo = 0.5\nmoods = { Lively = 2.0 }\n\
                    [[schedule.day_parts]]\nat = \"6:30\"\nname = \"a\"\nenergy = 0.2\ntempo = 0.5\n";
        let c = parse(text).expect("valid");
        assert_eq!(c.day_parts[0].name, "a");
        assert_eq!(c.day_parts[0].at_seconds, 6 * 3600 + 1800);
        assert_eq!(c.day_parts[1].moods[Descriptor::Lively.index()], 2.0);
        assert_eq!(fmt_clock(c.day_parts[0].at_seconds), "06:30");
    }
}
