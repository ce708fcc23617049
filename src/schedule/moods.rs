//! Moods: k-means clusters of the catalog's standardised features, each with
//! an interpretable profile and a three-word label.
//!
//! 1. **Features.** Per track: energy (mean RMS level, dBFS — or the
//!    integrated loudness when the analyzer has not measured energy for every
//!    track), tempo (log BPM), brightness (log spectral centroid), roll-off
//!    (log), flatness, onset rate, loudness range and energy spread. A column
//!    is used when at least half the tracks have it and it varies; it is
//!    standardised (z-score) and a track that lacks it gets the mean (z = 0).
//! 2. **k.** For every k in `schedule.moods.k_min..=k_max` (capped by the
//!    number of distinct feature rows), k-means (linfa-clustering, Lloyd's
//!    iterations from our own seeded k-means++ starts, the best of
//!    [`STARTS`] by inertia) is scored by its mean silhouette on an evenly
//!    spaced sample of at most [`SILHOUETTE_SAMPLE`] tracks; the highest
//!    score wins (ties: the smaller k). Deterministic for the same catalog
//!    and seed. A catalog with too few distinct tracks, or no usable feature
//!    columns, has one mood.
//! 3. **Profiles and labels.** Moods are numbered from calmest to liveliest.
//!    Each has the mean energy (dBFS), tempo (BPM) and centroid (Hz) of its
//!    tracks, and a label of one [`Descriptor`] per axis from where its
//!    centre lies relative to the catalog: energy calm/mellow/lively,
//!    brightness dark/warm/bright, tempo slow/steady/upbeat (beyond ±0.5
//!    standard deviations). Duplicate labels get a number (`"calm · warm ·
//!    slow 2"`).

use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::Array2;

use super::Track;
use crate::error::{Error, Result};
use crate::station::schedule::Descriptor;

/// k-means++ starts per k; the start with the lowest inertia is kept.
pub const STARTS: usize = 3;

/// Largest sample the silhouette is computed on (it is quadratic).
pub const SILHOUETTE_SAMPLE: usize = 800;

/// Largest sample k is chosen on; the chosen k is then fitted on all tracks.
pub const CHOOSE_K_SAMPLE: usize = 1500;

/// Where a mood's centre must lie (in standard deviations from the catalog
/// mean) to be called calm/lively, dark/bright, slow/upbeat.
const DESCRIBE_AT: f64 = 0.5;

/// One learned mood.
#[derive(Debug, Clone, PartialEq)]
pub struct Mood {
    /// Human label, e.g. `"calm · dark · slow"`.
    pub label: String,
    /// Its words: energy, brightness, tempo.
    pub words: [Descriptor; 3],
    /// How many tracks belong to it.
    pub tracks: usize,
    /// Mean energy of its tracks (dBFS, or LUFS when energy is not measured).
    pub energy_db: Option<f64>,
    /// Mean tempo of its tracks (BPM), over those with a known tempo.
    pub tempo_bpm: Option<f64>,
    /// Mean spectral centroid of its tracks (Hz), over those that have one.
    pub centroid_hz: Option<f64>,
}

/// The catalog's moods and every track's mood.
#[derive(Debug, Clone, PartialEq)]
pub struct Moods {
    /// The moods, calmest first.
    pub moods: Vec<Mood>,
    /// Mood index of each input track, in input order.
    pub of_track: Vec<usize>,
    /// The silhouette score of each k tried, `(k, score)`.
    pub scores: Vec<(usize, f64)>,
    /// The feature columns used, e.g. `["energy", "tempo", "brightness"]`.
    pub columns: Vec<&'static str>,
    /// Whether energy is the analyzer's RMS level (`true`) or the
    /// integrated loudness standing in for it (`false`).
    pub energy_measured: bool,
}

/// The energy value the scheduler uses for each track, and whether it is
/// the measured RMS level (all tracks have one) or the loudness fallback.
pub fn energy_values(tracks: &[&Track]) -> (Vec<f64>, bool) {
    let measured = !tracks.is_empty() && tracks.iter().all(|t| t.energy_db.is_some());
    let values = tracks
        .iter()
        .map(|t| match (measured, t.energy_db) {
            (true, Some(e)) => e,
            _ => t.loudness_lufs,
        })
        .collect();
    (values, measured)
}

/// Learns the moods of `tracks` (non-empty, in a fixed order) with k in
/// `k_min..=k_max`, deterministically from `seed`.
pub fn learn(tracks: &[&Track], k_min: usize, k_max: usize, seed: u64) -> Result<Moods> {
    let n = tracks.len();
    let (energy, energy_measured) = energy_values(tracks);
    let ln = |v: Option<f64>| v.map(f64::ln);
    let candidates: [(&'static str, Vec<Option<f64>>); 8] = [
        (
            "energy",
            energy
                .iter()
                .map(|&e| Some(e).filter(|e| e.is_finite()))
                .collect(),
        ),
        ("tempo", tracks.iter().map(|t| ln(t.tempo_bpm)).collect()),
        (
            "brightness",
            tracks.iter().map(|t| ln(t.centroid_hz)).collect(),
        ),
        ("rolloff", tracks.iter().map(|t| ln(t.rolloff_hz)).collect()),
        ("flatness", tracks.iter().map(|t| t.flatness).collect()),
        ("onsets", tracks.iter().map(|t| t.onset_rate).collect()),
        (
            "loudness range",
            tracks.iter().map(|t| t.loudness_range_lu).collect(),
        ),
        (
            "energy spread",
            tracks.iter().map(|t| t.energy_spread_db).collect(),
        ),
    ];
    // z-scores of the usable columns; the first three (energy, tempo,
    // brightness) are also kept by name for the labels.
    let mut columns = Vec::new();
    let mut z_cols: Vec<Vec<f64>> = Vec::new();
    let mut axis: [Option<usize>; 3] = [None; 3];
    for (i, (name, values)) in candidates.iter().enumerate() {
        if let Some(z) = standardise(values) {
            if i < 3 {
                axis[i] = Some(z_cols.len());
            }
            columns.push(*name);
            z_cols.push(z);
        }
    }
    let d = z_cols.len();
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|r| z_cols.iter().map(|c| c[r]).collect())
        .collect();
    let distinct = count_distinct(&rows);

    let k_hi = k_max
        .min(distinct.saturating_sub(1))
        .min(n.saturating_sub(1));
    let mut scores = Vec::new();
    let mut best: Option<(f64, usize, Vec<usize>)> = None;
    if d > 0 && k_hi >= 2 {
        let k_lo = k_min.min(k_hi).max(2);
        // k is chosen on an evenly spaced sample of a large catalog.
        let chosen: Vec<Vec<f64>> = evenly(n, CHOOSE_K_SAMPLE)
            .iter()
            .map(|&i| rows[i].clone())
            .collect();
        let sample = evenly(chosen.len(), SILHOUETTE_SAMPLE);
        for k in k_lo..=k_hi {
            let labels = cluster(&chosen, k, seed)?;
            let score = silhouette(&chosen, &labels, &sample);
            scores.push((k, score));
            if best.as_ref().is_none_or(|(s, _, _)| score > *s + 1e-12) {
                best = Some((score, k, labels));
            }
        }
    }
    let raw_labels = match best {
        Some((_, _, labels)) if n <= CHOOSE_K_SAMPLE => labels,
        Some((_, k, _)) => cluster(&rows, k, seed)?,
        None => vec![0; n],
    };
    Ok(describe(
        tracks,
        &energy,
        energy_measured,
        &rows,
        &raw_labels,
        axis,
        scores,
        columns,
    ))
}

/// Z-scores of a column, unknowns at 0; `None` if fewer than half the
/// values are known or the column does not vary.
fn standardise(values: &[Option<f64>]) -> Option<Vec<f64>> {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.is_empty() || known.len() * 2 < values.len() {
        return None;
    }
    let mean = known.iter().sum::<f64>() / known.len() as f64;
    let var = known.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / known.len() as f64;
    let sd = var.sqrt();
    if !sd.is_finite() || sd < 1e-9 * (1.0 + mean.abs()) {
        return None;
    }
    Some(
        values
            .iter()
            .map(|v| v.map_or(0.0, |v| (v - mean) / sd))
            .collect(),
    )
}

fn count_distinct(rows: &[Vec<f64>]) -> usize {
    let mut keys: Vec<Vec<u64>> = rows
        .iter()
        .map(|r| r.iter().map(|v| v.to_bits()).collect())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len()
}

/// Evenly spaced indices into `0..n`, at most `most` of them.
fn evenly(n: usize, most: usize) -> Vec<usize> {
    let m = n.min(most);
    (0..m).map(|i| i * n / m).collect()
}

/// k-means with linfa from the best of [`STARTS`] seeded k-means++ starts.
fn cluster(rows: &[Vec<f64>], k: usize, seed: u64) -> Result<Vec<usize>> {
    let n = rows.len();
    let d = rows.first().map_or(0, Vec::len);
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let records = Array2::from_shape_vec((n, d), flat)
        .map_err(|e| Error::Schedule(format!("mood model: feature matrix: {e}")))?;
    let data = DatasetBase::from(records);
    let mut best: Option<(f64, Vec<usize>)> = None;
    for start in 0..STARTS {
        let mut rng = SplitMix64(seed ^ 0x6d6f_6f64 ^ ((k as u64) << 32) ^ start as u64);
        let init = plus_plus(rows, k, &mut rng);
        let centroids = Array2::from_shape_vec((k, d), init.into_iter().flatten().collect())
            .map_err(|e| Error::Schedule(format!("mood model: centroids: {e}")))?;
        let model = KMeans::params(k)
            .n_runs(1)
            .max_n_iterations(100)
            .tolerance(1e-5)
            .init_method(KMeansInit::Precomputed(centroids))
            .fit(&data)
            .map_err(|e| Error::Schedule(format!("mood model: k-means with k = {k}: {e}")))?;
        let labels: Vec<usize> = model.predict(&data).to_vec();
        let inertia = labels
            .iter()
            .zip(rows)
            .map(|(&c, r)| {
                r.iter()
                    .zip(model.centroids().row(c))
                    .map(|(x, y)| (x - y).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>();
        if best.as_ref().is_none_or(|(b, _)| inertia < *b - 1e-12) {
            best = Some((inertia, labels));
        }
    }
    Ok(best.map_or_else(|| vec![0; n], |(_, l)| l))
}

/// k-means++ seeding: the first centre uniformly, then each next one with
/// probability proportional to the squared distance to the nearest centre.
fn plus_plus(rows: &[Vec<f64>], k: usize, rng: &mut SplitMix64) -> Vec<Vec<f64>> {
    let n = rows.len();
    let mut centres = vec![rows[rng.below(n)].clone()];
    let mut nearest: Vec<f64> = rows.iter().map(|r| dist2(r, &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = nearest.iter().sum();
        let next = if total > 0.0 {
            let mut target = rng.unit() * total;
            let mut pick = n - 1;
            for (i, w) in nearest.iter().enumerate() {
                if target < *w {
                    pick = i;
                    break;
                }
                target -= w;
            }
            pick
        } else {
            rng.below(n)
        };
        let c = rows[next].clone();
        for (d, r) in nearest.iter_mut().zip(rows) {
            *d = d.min(dist2(r, &c));
        }
        centres.push(c);
    }
    centres
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

/// Mean silhouette of the `sample` rows against the other sampled rows.
fn silhouette(rows: &[Vec<f64>], labels: &[usize], sample: &[usize]) -> f64 {
    let k = labels.iter().max().map_or(1, |m| m + 1);
    let mut total = 0.0;
    let mut counted = 0usize;
    let mut sums = vec![0.0; k];
    let mut counts = vec![0usize; k];
    for &i in sample {
        sums.iter_mut().for_each(|s| *s = 0.0);
        counts.iter_mut().for_each(|c| *c = 0);
        for &j in sample {
            if i != j {
                sums[labels[j]] += dist2(&rows[i], &rows[j]).sqrt();
                counts[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if counts[own] == 0 {
            // A singleton cluster scores 0 by convention.
            counted += 1;
            continue;
        }
        let a = sums[own] / counts[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && counts[c] > 0)
            .map(|c| sums[c] / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            let s = (b - a) / a.max(b).max(1e-12);
            total += s;
        }
        counted += 1;
    }
    if counted == 0 {
        0.0
    } else {
        total / counted as f64
    }
}

/// Orders the clusters calmest first and builds profiles and labels.
#[allow(clippy::too_many_arguments)]
fn describe(
    tracks: &[&Track],
    energy: &[f64],
    energy_measured: bool,
    rows: &[Vec<f64>],
    raw: &[usize],
    axis: [Option<usize>; 3],
    scores: Vec<(usize, f64)>,
    columns: Vec<&'static str>,
) -> Moods {
    let k = raw.iter().max().map_or(1, |m| m + 1);
    // Mean z of each axis per raw cluster (0 where the axis is unused).
    let mut centre = vec![[0.0f64; 3]; k];
    let mut size = vec![0usize; k];
    for (r, &c) in raw.iter().enumerate() {
        size[c] += 1;
        for (a, col) in axis.iter().enumerate() {
            if let Some(col) = col {
                centre[c][a] += rows[r][*col];
            }
        }
    }
    for (c, s) in centre.iter_mut().zip(&size) {
        for v in c.iter_mut() {
            *v /= (*s).max(1) as f64;
        }
    }
    // Calmest first: by energy, then tempo, then brightness, then index.
    let mut order: Vec<usize> = (0..k).filter(|&c| size[c] > 0).collect();
    order.sort_by(|&a, &b| {
        centre[a][0]
            .total_cmp(&centre[b][0])
            .then(centre[a][1].total_cmp(&centre[b][1]))
            .then(centre[a][2].total_cmp(&centre[b][2]))
            .then(a.cmp(&b))
    });
    let mut renumber = vec![0usize; k];
    for (new, &old) in order.iter().enumerate() {
        renumber[old] = new;
    }
    let of_track: Vec<usize> = raw.iter().map(|&c| renumber[c]).collect();

    let word = |z: f64, low: Descriptor, mid: Descriptor, high: Descriptor| {
        if z <= -DESCRIBE_AT {
            low
        } else if z >= DESCRIBE_AT {
            high
        } else {
            mid
        }
    };
    let mean_of = |members: &[usize], value: &dyn Fn(usize) -> Option<f64>| {
        let vals: Vec<f64> = members.iter().filter_map(|&i| value(i)).collect();
        (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
    };
    let mut moods: Vec<Mood> = Vec::with_capacity(order.len());
    for (new, &old) in order.iter().enumerate() {
        let members: Vec<usize> = (0..tracks.len()).filter(|&i| of_track[i] == new).collect();
        let c = centre[old];
        let words = [
            word(
                c[0],
                Descriptor::Calm,
                Descriptor::Mellow,
                Descriptor::Lively,
            ),
            word(c[2], Descriptor::Dark, Descriptor::Warm, Descriptor::Bright),
            word(
                c[1],
                Descriptor::Slow,
                Descriptor::Steady,
                Descriptor::Upbeat,
            ),
        ];
        let base = format!("{} · {} · {}", words[0], words[1], words[2]);
        let same = moods.iter().filter(|m| m.words == words).count();
        let label = if same == 0 {
            base
        } else {
            format!("{base} {}", same + 1)
        };
        moods.push(Mood {
            label,
            words,
            tracks: members.len(),
            energy_db: mean_of(&members, &|i| Some(energy[i]).filter(|e| e.is_finite())),
            tempo_bpm: mean_of(&members, &|i| tracks[i].tempo_bpm),
            centroid_hz: mean_of(&members, &|i| tracks[i].centroid_hz),
        });
    }
    Moods {
        moods,
        of_track,
        scores,
        columns,
        energy_measured,
    }
}

/// A small deterministic generator (splitmix64) for k-means++ starts.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Features;

    fn track(i: usize, energy: f64, bpm: f64, centroid: f64) -> Track {
        let f = Features {
            path: format!("t{i:03}.wav"),
            loudness_lufs: -16.0,
            energy_db: energy,
            tempo_bpm: bpm,
            centroid_hz: centroid,
            cue_out: 48_000 * 120,
            ..Default::default()
        };
        Track::new(&f, None)
    }

    /// Three clearly separated groups: calm/dark/slow, mid, lively/bright/fast.
    fn three_groups() -> Vec<Track> {
        let mut rng = SplitMix64(5);
        let mut out = Vec::new();
        for i in 0..60 {
            let g = i % 3;
            let jitter = |r: &mut SplitMix64| r.unit() - 0.5;
            let e = [-26.0, -20.0, -14.0][g] + jitter(&mut rng);
            let bpm = [68.0, 80.0, 94.0][g] + jitter(&mut rng);
            let c = [900.0, 1600.0, 2800.0][g] * (1.0 + 0.05 * jitter(&mut rng));
            out.push(track(i, e, bpm, c));
        }
        out
    }

    #[test]
    fn finds_the_three_groups_with_readable_labels() {
        let tracks = three_groups();
        let refs: Vec<&Track> = tracks.iter().collect();
        let m = learn(&refs, 2, 6, 1).expect("moods");
        assert_eq!(m.moods.len(), 3, "scores {:?}", m.scores);
        assert_eq!(m.moods[0].label, "calm · dark · slow");
        assert_eq!(m.moods[2].label, "lively · bright · upbeat");
        assert!(m.moods.iter().all(|md| md.tracks == 20));
        for (i, &mood) in m.of_track.iter().enumerate() {
            assert_eq!(mood, i % 3, "track {i}");
        }
        let slow = m.moods[0].tempo_bpm.expect("tempo known");
        assert!((slow - 68.0).abs() < 1.0, "{slow}");
        assert!(m.energy_measured);
        assert_eq!(&m.columns[..3], ["energy", "tempo", "brightness"]);
    }

    #[test]
    fn deterministic_for_the_same_seed() {
        let tracks = three_groups();
        let refs: Vec<&Track> = tracks.iter().collect();
        let a = learn(&refs, 3, 8, 42).expect("moods");
        let b = learn(&refs, 3, 8, 42).expect("moods");
        assert_eq!(a, b);
    }

    #[test]
    fn unknown_features_give_one_mood_not_an_error() {
        let tracks: Vec<Track> = (0..10).map(|i| track(i, 0.0, 0.0, 0.0)).collect();
        let refs: Vec<&Track> = tracks.iter().collect();
        let m = learn(&refs, 3, 8, 1).expect("moods");
        assert_eq!(m.moods.len(), 1);
        assert_eq!(m.moods[0].tracks, 10);
        assert!(!m.energy_measured, "falls back to loudness");
        let one = learn(&refs[..1], 3, 8, 1).expect("one track");
        assert_eq!(one.moods.len(), 1);
    }
}
