//! The day-part plan: what the station should sound like at each moment of
//! the station's local day.
//!
//! `[[schedule.day_parts]]` gives points on the local clock; between two
//! points every target (energy, tempo, mood-word weights) moves linearly,
//! and the curve wraps round midnight. The programme clock is converted to
//! the local clock through the station time zone (daylight saving
//! included), so "late night" stays late night all year.

use chrono::Timelike;

use super::moods::Mood;
use crate::error::Result;
use crate::station::schedule::{DayPart, Descriptor};
use crate::time::{Epoch, SampleIndex};

const DAY: u32 = 86_400;

/// The day-part targets at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Index of the day part in force (the last point at or before now).
    pub part: usize,
    /// Seconds after local midnight.
    pub local_seconds: u32,
    /// Target energy level, 0..=1.
    pub energy: f64,
    /// Target tempo level, 0..=1.
    pub tempo: f64,
    /// Weight of each mood word, by [`Descriptor::index`].
    pub words: [f64; 9],
}

impl Target {
    /// The weighted mood words, heaviest first, e.g. `calm 1.0, dark 0.5`.
    pub fn words_text(&self) -> String {
        let mut w: Vec<(Descriptor, f64)> = Descriptor::ALL
            .iter()
            .map(|d| (*d, self.words[d.index()]))
            .filter(|(_, v)| *v > 0.005)
            .collect();
        w.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if w.is_empty() {
            return "none".into();
        }
        w.iter()
            .map(|(d, v)| format!("{d} {v:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How well each mood fits: 0 for the best-matching mood, up to 1 for
    /// one that has none of the weighted words (all 0 when no word is
    /// weighted).
    pub fn mood_misfit(&self, moods: &[Mood]) -> Vec<f64> {
        let score: Vec<f64> = moods
            .iter()
            .map(|m| m.words.iter().map(|w| self.words[w.index()]).sum())
            .collect();
        let best = score.iter().copied().fold(0.0, f64::max);
        score
            .iter()
            .map(|s| if best > 0.0 { 1.0 - s / best } else { 0.0 })
            .collect()
    }
}

/// Seconds after local midnight at programme sample `at`.
pub fn local_seconds(tz: chrono_tz::Tz, epoch: Epoch, at: SampleIndex) -> Result<u32> {
    let utc = epoch.instant_of(at)?;
    Ok(utc.with_timezone(&tz).time().num_seconds_from_midnight())
}

/// The targets at `local_seconds` after local midnight. `parts` is sorted
/// by time and non-empty (as validated).
pub fn target_at(parts: &[DayPart], local_seconds: u32) -> Target {
    let s = local_seconds % DAY;
    let n = parts.len();
    // The last point at or before s, wrapping to the last of the day.
    let prev = parts
        .iter()
        .rposition(|p| p.at_seconds <= s)
        .unwrap_or(n.saturating_sub(1));
    let next = (prev + 1) % n.max(1);
    let (Some(a), Some(b)) = (parts.get(prev), parts.get(next)) else {
        return Target {
            part: 0,
            local_seconds: s,
            energy: 0.5,
            tempo: 0.5,
            words: [0.0; 9],
        };
    };
    let span = (b.at_seconds + DAY - a.at_seconds) % DAY;
    let span = if span == 0 { DAY } else { span };
    let into = (s + DAY - a.at_seconds) % DAY;
    let f = f64::from(into) / f64::from(span);
    let lerp = |x: f64, y: f64| x + (y - x) * f;
    let mut words = [0.0; 9];
    for (i, w) in words.iter_mut().enumerate() {
        *w = lerp(a.moods[i], b.moods[i]);
    }
    Target {
        part: prev,
        local_seconds: s,
        energy: lerp(a.energy, b.energy),
        tempo: lerp(a.tempo, b.tempo),
        words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::ScheduleConfig;

    fn part(at_h: u32, energy: f64) -> DayPart {
        DayPart {
            at_seconds: at_h * 3600,
            name: format!("p{at_h}"),
            energy,
            tempo: energy,
            moods: [0.0; 9],
        }
    }

    #[test]
    fn interpolates_linearly_and_wraps_round_midnight() {
        let parts = [part(6, 0.2), part(18, 0.8)];
        let t = target_at(&parts, 12 * 3600);
        assert_eq!(t.part, 0);
        assert!((t.energy - 0.5).abs() < 1e-12);
        // 00:00 is halfway from 18:00 back round to 06:00.
        let t = target_at(&parts, 0);
        assert_eq!(t.part, 1);
        assert!((t.energy - 0.5).abs() < 1e-12);
        let t = target_at(&parts, 18 * 3600);
        assert_eq!(t.part, 1);
        assert!((t.energy - 0.8).abs() < 1e-12);
        // One point: flat all day.
        let t = target_at(&parts[..1], 3 * 3600);
        assert!((t.energy - 0.2).abs() < 1e-12);
    }

    #[test]
    fn local_time_follows_the_zone_with_daylight_saving() {
        let epoch = Epoch::new(
            chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .expect("literal")
                .with_timezone(&chrono::Utc),
        )
        .expect("whole second");
        let at = |iso: &str| {
            let t = chrono::DateTime::parse_from_rfc3339(iso)
                .expect("literal")
                .with_timezone(&chrono::Utc);
            epoch.sample_at(t).expect("after epoch")
        };
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().expect("zone");
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(
            local_seconds(berlin, epoch, at("2026-01-15T12:00:00Z")).expect("ok"),
            13 * 3600
        );
        assert_eq!(
            local_seconds(berlin, epoch, at("2026-07-15T12:00:00Z")).expect("ok"),
            14 * 3600
        );
    }

    #[test]
    fn the_default_plan_is_calm_at_night_and_lively_in_the_afternoon() {
        let c = ScheduleConfig::default();
        let night = target_at(&c.day_parts, 3 * 3600);
        let afternoon = target_at(&c.day_parts, 16 * 3600);
        assert!(night.energy < 0.2 && afternoon.energy > 0.7);
        assert_eq!(c.day_parts[night.part].name, "late night");
        assert!(
            night.words_text().starts_with("calm"),
            "{}",
            night.words_text()
        );
    }
}
