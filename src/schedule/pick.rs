//! Choosing the next track: least recently played first, a different artist
//! than the previous item where possible, ties broken by a seeded hash.

use super::Item;
use crate::analyze::Features;
use crate::catalog::CatalogRow;

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
        let pick = |csv: Option<&String>, tag: &str, file: String, fallback: &str| {
            csv.cloned()
                .or_else(|| (!tag.is_empty()).then(|| tag.to_string()))
                .or_else(|| (!file.is_empty()).then_some(file))
                .unwrap_or_else(|| fallback.to_string())
        };
        Track {
            id: f.path.clone(),
            hash: f.hash.clone(),
            artist: pick(
                row.and_then(|r| r.artist.as_ref()),
                &f.tag_artist,
                file_artist,
                "Unknown artist",
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
        }
    }
}

/// Picks the next track after `history` from `tracks` (non-empty).
pub fn pick<'a>(history: &[Item], tracks: &[&'a Track], seed: u64) -> &'a Track {
    let n = history.len() as u64;
    // How many items ago each track last played (never = u64::MAX).
    let ago = |t: &Track| -> u64 {
        history
            .iter()
            .rev()
            .position(|it| it.track == t.id)
            .map_or(u64::MAX, |p| p as u64)
    };
    let prev_artist = history.last().map(|it| it.artist.as_str());
    let mut ranked: Vec<(u64, bool, u64, &Track)> = tracks
        .iter()
        .map(|t| {
            let same_artist = Some(t.artist.as_str()) == prev_artist;
            (ago(t), same_artist, tie_break(seed, n, &t.hash), *t)
        })
        .collect();
    // Longest ago first, then other artists, then the seeded tie-break.
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    // Prefer a different artist among tracks not played in the last half of
    // the catalog, so artist separation never forces a quick repeat.
    let fresh = ranked.len().div_ceil(2);
    ranked
        .iter()
        .take(fresh)
        .find(|r| !r.1)
        .or(ranked.first())
        .map(|r| r.3)
        .expect("pick is only called with at least one track")
}

/// A deterministic pseudo-random rank from the seed, position and track.
fn tie_break(seed: u64, position: u64, hash: &str) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(&position.to_le_bytes());
    h.update(hash.as_bytes());
    let bytes = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_le_bytes(first)
}
