//! Opt-in feedback (`schedule.listener_weighting = true`): tracks listeners
//! leave during more than usual are planned less often.
//!
//! `lofiever listeners LOG... --save` writes each track's figures to
//! `catalog/listeners.csv` (track, plays, heard, left, expected_left; no
//! listener data). With the setting on, the planner multiplies each track's
//! rotation weight (catalog.csv `weight`, which sets how often it is due) by
//! [`factor`]:
//!
//! - nothing changes for a track with fewer than [`MIN_PLAYS`] plays heard:
//!   with ordinary audiences a play sees one or two leaves, and it takes
//!   about twenty plays (some forty leaves) before a leave rate 30 % above
//!   usual stands two standard deviations clear of chance;
//! - the leave index is shrunk towards "as usual" by [`PRIOR_LEAVES`]
//!   pseudo-leaves on both sides, so a few unlucky plays move little;
//! - only tracks left *more* than usual are lowered, by the inverse of their
//!   index, and never below [`FLOOR`] of their weight: nothing vanishes on
//!   thin evidence, and the rotation rules still play every enabled track
//!   within `coverage_days`.
//!
//! The weight acts where catalog.csv weights act: through the freshness
//! term of the planner's cost (`schedule.weights.freshness`). At its default
//! (0.05) that is a light touch, too light to be measured over a few days;
//! at 5, a tenth of a 300-track catalog left twice as often as usual plays
//! about a quarter less (the test below).
//!
//! A missing file changes nothing; an unreadable one is reported and
//! ignored (the nightly run goes on with the weights of catalog.csv).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::tracks::Tracks;
use crate::error::{Error, Result};
use crate::schedule::Track;

/// The file `--save` writes, in the catalog folder.
pub const STATS_FILE: &str = "listeners.csv";

/// Plays heard before a track's weight may change.
pub const MIN_PLAYS: u64 = 20;

/// The lowest share of its weight a track keeps.
pub const FLOOR: f64 = 0.5;

/// Pseudo-leaves added to both the leaves and the expected leaves.
pub const PRIOR_LEAVES: f64 = 5.0;

/// One track's listener figures, as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackStats {
    /// Track id (path in the catalog).
    pub track: String,
    /// Plays heard by at least one listener.
    pub plays: u64,
    /// Listeners who heard some of it.
    pub heard: u64,
    /// Listeners who left while it played.
    pub left: u64,
    /// Leaves expected at the station's usual rate.
    pub expected_left: f64,
}

/// The factor (`FLOOR..=1`) a track's weight is multiplied by.
pub fn factor(s: &TrackStats) -> f64 {
    if s.plays < MIN_PLAYS || !s.expected_left.is_finite() || s.expected_left < 0.0 {
        return 1.0;
    }
    let index = (s.left as f64 + PRIOR_LEAVES) / (s.expected_left + PRIOR_LEAVES);
    if index <= 1.0 {
        1.0
    } else {
        (1.0 / index).max(FLOOR)
    }
}

/// Writes the per-track figures of a report to `path`.
pub fn save(path: &Path, tracks: &Tracks) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in &tracks.tracks {
        w.serialize(TrackStats {
            track: r.track.clone(),
            plays: r.plays,
            heard: r.heard,
            left: r.left,
            expected_left: (r.expected_left * 1000.0).round() / 1000.0,
        })
        .map_err(|e| Error::Csv {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    let bytes = w.into_inner().map_err(|e| Error::Csv {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    crate::fsutil::write_atomic(path, &bytes)
}

/// Reads `path` (empty when it does not exist); errors name the line.
pub fn load(path: &Path) -> Result<HashMap<String, TrackStats>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut out = HashMap::new();
    for (i, row) in csv::Reader::from_reader(bytes.as_slice())
        .deserialize::<TrackStats>()
        .enumerate()
    {
        let row = row.map_err(|e| Error::Csv {
            path: path.to_path_buf(),
            message: format!(
                "line {}: {e}; expected track,plays,heard,left,expected_left as `lofiever listeners --save` writes",
                i + 2
            ),
        })?;
        out.insert(row.track.clone(), row);
    }
    Ok(out)
}

/// Lowers the weights of `tracks` by their [`factor`]; returns how many
/// changed.
pub fn apply(tracks: &mut [Track], stats: &HashMap<String, TrackStats>) -> usize {
    let mut changed = 0;
    for t in tracks {
        if let Some(s) = stats.get(&t.id) {
            let f = factor(s);
            if f < 1.0 {
                t.weight *= f;
                changed += 1;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{synthetic, Schedule};
    use crate::time::SampleIndex;
    use crate::Station;

    fn stats(track: &str, plays: u64, left: u64, expected: f64) -> TrackStats {
        TrackStats {
            track: track.into(),
            plays,
            heard: plays * 20,
            left,
            expected_left: expected,
        }
    }

    #[test]
    fn only_well_evidenced_excess_leaving_lowers_a_weight_and_never_below_the_floor() {
        // Too few plays: no change however bad.
        assert_eq!(factor(&stats("a", MIN_PLAYS - 1, 100, 10.0)), 1.0);
        // Left less than usual: never raised.
        assert_eq!(factor(&stats("a", 50, 10, 40.0)), 1.0);
        // Twice the usual, on plenty of evidence: about halved, shrunk a little.
        let f = factor(&stats("a", 50, 80, 40.0));
        assert!((f - 45.0 / 85.0).abs() < 1e-12, "{f}");
        // Ten times: the floor.
        assert_eq!(factor(&stats("a", 50, 400, 40.0)), FLOOR);
        // A few unlucky leaves on little listening barely move it.
        assert!(factor(&stats("a", 20, 3, 1.0)) > 0.5);
        assert!(factor(&stats("a", 20, 3, 1.0)) < 1.0);
        // Nonsense from a hand-edited file changes nothing.
        assert_eq!(factor(&stats("a", 50, 3, f64::NAN)), 1.0);
    }

    #[test]
    fn saved_figures_load_back_and_a_bad_file_names_its_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(STATS_FILE);
        assert!(load(&path).expect("missing is empty").is_empty());
        std::fs::write(
            &path,
            "track,plays,heard,left,expected_left\na.wav,30,600,40,20.5\nb.wav,x,1,1,1\n",
        )
        .expect("write");
        let err = load(&path).expect_err("bad plays").to_string();
        assert!(err.contains("line 3") && err.contains(STATS_FILE), "{err}");
        std::fs::write(
            &path,
            "track,plays,heard,left,expected_left\na.wav,30,600,40,20.5\n",
        )
        .expect("write");
        let s = load(&path).expect("valid");
        assert_eq!(s["a.wav"], stats("a.wav", 30, 40, 20.5));
    }

    #[test]
    fn the_planner_plays_a_track_listeners_leave_less_often() {
        // Weights act through the freshness term (as catalog.csv weights
        // do); a station that wants them felt weighs it up.
        let station = Station::from_toml(
            "[schedule.weights]\nfreshness = 5.0\n",
            "test",
            Path::new("."),
            chrono::Utc::now(),
        )
        .expect("valid config");
        // A catalog of about 15 hours, so that the rotation rules leave the
        // planner a choice; a tenth of it is left twice as often as usual.
        let features = synthetic::features(300, 3);
        let base: Vec<Track> = features.iter().map(|f| Track::new(f, None)).collect();
        let worst: Vec<String> = base.iter().step_by(10).map(|t| t.id.clone()).collect();
        let mut weighted = base.clone();
        let saved: HashMap<String, TrackStats> = worst
            .iter()
            .map(|id| (id.clone(), stats(id, 60, 500, 50.0)))
            .collect();
        assert_eq!(apply(&mut weighted, &saved), worst.len());
        assert!((weighted[0].weight - FLOOR).abs() < 1e-12);
        let start = SampleIndex(
            station
                .epoch
                .sample_at(
                    chrono::DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z")
                        .expect("literal")
                        .with_timezone(&chrono::Utc),
                )
                .expect("after epoch")
                .0,
        );
        let until = SampleIndex(start.0 + 4 * 86_400 * 48_000);
        let plays = |tracks: &[Track]| {
            let mut s = Schedule::default();
            s.plan(tracks, &station, start, until).expect("plan");
            s.items
                .iter()
                .filter(|it| worst.contains(&it.track))
                .count()
        };
        let (before, after) = (plays(&base), plays(&weighted));
        eprintln!("plays of the tracks left most: {before} unweighted, {after} weighted");
        assert!(after > 0, "the floor keeps it in rotation");
        assert!(
            after < before,
            "played {before} times before, {after} after"
        );
    }
}
