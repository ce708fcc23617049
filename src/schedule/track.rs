//! A schedulable track: analysed features joined with its catalog.csv row.
//!
//! The analyzer fills its feature columns gradually, and a cache written by
//! an older lofiever has them at 0 or empty. Every musical feature here is
//! therefore an `Option`: `None` means "unknown", and the scheduler treats an
//! unknown feature as neutral (no cost either way) instead of as a value.
//! A feature the analyzer wrote but that cannot be read (a key string that is
//! not a key) is unknown too, and is reported once per run naming the track.

use crate::analyze::Features;
use crate::catalog::CatalogRow;
use crate::music::Key;

/// Tempos outside this range (BPM) are treated as unknown.
const TEMPO_RANGE: std::ops::RangeInclusive<f64> = 30.0..=300.0;

/// A schedulable track: features plus catalog.csv overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Track id (path relative to the catalog).
    pub id: String,
    /// Content hash.
    pub hash: String,
    /// Display artist.
    pub artist: String,
    /// Display title.
    pub title: String,
    /// First frame of music.
    pub cue_in: u64,
    /// One past the last frame of music.
    pub cue_out: u64,
    /// Integrated loudness (LUFS).
    pub loudness_lufs: f64,
    /// Relative play weight.
    pub weight: f64,
    /// Whether it may be scheduled.
    pub enabled: bool,
    /// Tempo in BPM, if known.
    pub tempo_bpm: Option<f64>,
    /// Musical key, if known.
    pub key: Option<Key>,
    /// The analyzer's confidence in the tempo, 0..=1 (0 when it gave none).
    pub tempo_confidence: f64,
    /// The analyzer's confidence in the key, 0..=1 (0 when it gave none).
    pub key_confidence: f64,
    /// Mean short-term RMS level (dBFS), if known.
    pub energy_db: Option<f64>,
    /// Mean spectral centroid (Hz): brightness, if known.
    pub centroid_hz: Option<f64>,
    /// Mean spectral roll-off (Hz), if known.
    pub rolloff_hz: Option<f64>,
    /// Mean spectral flatness (0..1), if known.
    pub flatness: Option<f64>,
    /// Onsets per second, if known.
    pub onset_rate: Option<f64>,
    /// Loudness range (LU), if known.
    pub loudness_range_lu: Option<f64>,
    /// Spread of the short-term level (dB), if known.
    pub energy_spread_db: Option<f64>,
    /// A feature the analyzer wrote but that could not be read, e.g.
    /// `key "H minor" is not a key`; the feature is treated as unknown.
    pub feature_problem: Option<String>,
}

impl Track {
    /// Combines analysed features with the catalog.csv row, if any. Display
    /// names fall back from catalog.csv to tags to the file name
    /// ("Artist - Title.ext").
    pub fn new(f: &Features, row: Option<&CatalogRow>) -> Track {
        let stem = f
            .path
            .rsplit('/')
            .next()
            .unwrap_or(&f.path)
            .rsplit_once('.')
            .map_or(f.path.as_str(), |(s, _)| s);
        let (file_artist, file_title) = match stem.split_once(" - ") {
            Some((a, t)) => (a.trim().to_string(), t.trim().to_string()),
            None => (String::new(), stem.to_string()),
        };
        // Tags are cut when analysed, but a features.csv written by an
        // older lofiever may hold them whole.
        let pick = |csv: Option<&String>, tag: &str, file: String, fallback: &str| {
            let text = csv
                .cloned()
                .or_else(|| (!tag.is_empty()).then(|| tag.to_string()))
                .or_else(|| (!file.is_empty()).then_some(file))
                .unwrap_or_else(|| fallback.to_string());
            text.chars()
                .take(crate::catalog::MAX_TEXT)
                .collect::<String>()
        };
        let (key, feature_problem) = parse_key(&f.key, &f.camelot);
        let positive = |v: f64| (v.is_finite() && v > 0.0).then_some(v);
        Track {
            id: f.path.clone(),
            hash: f.hash.clone(),
            artist: pick(
                row.and_then(|r| r.artist.as_ref()),
                &f.tag_artist,
                file_artist,
                UNKNOWN_ARTIST,
            ),
            title: pick(
                row.and_then(|r| r.title.as_ref()),
                &f.tag_title,
                file_title,
                "Untitled",
            ),
            cue_in: f.cue_in,
            cue_out: f.cue_out,
            loudness_lufs: f.loudness_lufs,
            weight: row.map_or(1.0, |r| r.weight),
            enabled: row.is_none_or(|r| r.enabled),
            tempo_bpm: (f.tempo_bpm.is_finite() && TEMPO_RANGE.contains(&f.tempo_bpm))
                .then_some(f.tempo_bpm),
            key,
            tempo_confidence: super::cost::unit(f.tempo_confidence),
            key_confidence: super::cost::unit(f.key_confidence),
            // A mean RMS level is below 0 dBFS; exactly 0 is "not measured".
            energy_db: (f.energy_db.is_finite() && f.energy_db < 0.0).then_some(f.energy_db),
            centroid_hz: positive(f.centroid_hz),
            rolloff_hz: positive(f.rolloff_hz),
            flatness: positive(f.flatness),
            onset_rate: positive(f.onset_rate),
            loudness_range_lu: positive(f.loudness_range_lu),
            energy_spread_db: positive(f.energy_spread_db),
            feature_problem,
        }
    }

    /// Samples of music the track plays, from cue-in to cue-out (at least 1).
    pub fn length(&self) -> u64 {
        self.cue_out.saturating_sub(self.cue_in).max(1)
    }

    /// Whether the artist is known (tracks without one are exempt from the
    /// artist-separation rule: nothing says they share an artist).
    pub fn has_artist(&self) -> bool {
        let a = self.artist.trim();
        !a.is_empty() && a != UNKNOWN_ARTIST
    }
}

/// The artist shown for a track with no artist in catalog.csv, tags or name.
pub const UNKNOWN_ARTIST: &str = "Unknown artist";

/// The key from the `key` column, else from the `camelot` column; empty
/// means unknown. Text that is not a key is unknown, with the problem.
fn parse_key(key: &str, camelot: &str) -> (Option<Key>, Option<String>) {
    for (column, text) in [("key", key), ("camelot", camelot)] {
        if text.trim().is_empty() {
            continue;
        }
        return match text.parse::<Key>() {
            Ok(k) => (Some(k), None),
            Err(e) => (
                None,
                Some(format!(
                    "features.csv column {column}: {e}; the key is treated as unknown"
                )),
            ),
        };
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_features_are_none_and_bad_keys_are_reported() {
        let mut f = Features {
            path: "a/Artist - Song.wav".into(),
            ..Default::default()
        };
        let t = Track::new(&f, None);
        assert_eq!(t.artist, "Artist");
        assert_eq!(t.title, "Song");
        assert!(t.tempo_bpm.is_none() && t.key.is_none() && t.energy_db.is_none());
        assert!(t.feature_problem.is_none());

        f.tempo_bpm = 82.5;
        f.key = "A minor".into();
        f.energy_db = -18.0;
        f.centroid_hz = 1500.0;
        let t = Track::new(&f, None);
        assert_eq!(t.tempo_bpm, Some(82.5));
        assert_eq!(t.key.map(|k| k.to_string()).as_deref(), Some("A minor"));
        assert_eq!(t.energy_db, Some(-18.0));

        f.key = String::new();
        f.camelot = "8B".into();
        assert_eq!(
            Track::new(&f, None).key.map(|k| k.to_string()).as_deref(),
            Some("C major")
        );

        f.key = "H minor".into();
        let t = Track::new(&f, None);
        assert!(t.key.is_none());
        let problem = t.feature_problem.expect("a bad key is reported");
        assert!(problem.contains("H minor"), "{problem}");

        f.tempo_bpm = 1000.0;
        assert!(Track::new(&f, None).tempo_bpm.is_none());
    }

    #[test]
    fn unknown_artists_are_exempt() {
        let f = Features {
            path: "untitled.wav".into(),
            ..Default::default()
        };
        let t = Track::new(&f, None);
        assert_eq!(t.artist, UNKNOWN_ARTIST);
        assert!(!t.has_artist());
    }
}
