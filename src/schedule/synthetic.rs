//! A synthetic analysed catalog for tests and benchmarks: feature rows with
//! known tempo, key, energy and brightness, and no audio behind them.
//!
//! Tempos and keys come from the demo synthesiser's ground truth
//! ([`crate::demo::synth::ground_truth_catalog`]: tempos spread evenly over
//! 65–100 BPM, all 24 keys evenly); each track lasts 2.5–4.5 minutes and is
//! by one of `n / 3` artists; its energy (−28..−12 dBFS) leans on its tempo
//! (half tempo, half chance) and its brightness (900–2 000 Hz) on its
//! energy. Deterministic from the seed.

use crate::analyze::Features;
use crate::demo::synth;

/// `n` analysed tracks, deterministic from `seed`.
pub fn features(n: usize, seed: u64) -> Vec<Features> {
    let specs = synth::ground_truth_catalog(n, seed);
    let mut rng = super::moods::SplitMix64(seed ^ 0xFEA7);
    let artists = (n / 3).max(1);
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let tempo01 = ((s.bpm - 65.0) / 35.0).clamp(0.0, 1.0);
            let energy01 = (0.5 * tempo01 + 0.5 * rng.unit()).clamp(0.0, 1.0);
            let frames = ((150.0 + 120.0 * rng.unit()) * 48_000.0) as u64;
            Features {
                path: format!("synthetic/{i:05}.wav"),
                hash: format!("{:032x}", (seed << 32) ^ i as u64),
                duration_samples: frames + 48_000,
                source_rate: 48_000,
                source_channels: 2,
                loudness_lufs: -16.0 + 4.0 * (rng.unit() - 0.5),
                true_peak_dbtp: -1.5,
                cue_in: 0,
                cue_out: frames,
                tag_artist: format!("Artist {:03}", i % artists),
                tag_title: format!("Track {i:05}"),
                tempo_bpm: s.bpm,
                tempo_confidence: 0.9,
                key: s.key.to_string(),
                key_confidence: 0.8,
                camelot: s.key.camelot().to_string(),
                energy_db: -28.0 + 16.0 * energy01,
                centroid_hz: 900.0 * 2.2f64.powf(0.7 * energy01 + 0.3 * rng.unit()),
                ..Default::default()
            }
        })
        .collect()
}

/// Relative frequency of each major key's tonic (C, C#, … B) in published
/// key histograms of popular music: G, C, D and A major most common, D#/Eb
/// and F# major rarest, about 3 : 1 between the extremes. A minor key takes
/// the weight of its relative major (A minor that of C major).
const TONIC_WEIGHTS: [f64; 12] = [
    1.0, 0.45, 0.9, 0.35, 0.75, 0.8, 0.4, 1.0, 0.5, 0.9, 0.55, 0.6,
];

/// Share of minor keys (lo-fi leans minor).
const MINOR_SHARE: f64 = 0.55;

/// `n` analysed tracks shaped like a lo-fi catalog, deterministic from
/// `seed`: tempos log-normal around 82 BPM (the analyzer's lo-fi prior)
/// with a spread of about ±9 % (one standard deviation), clipped to
/// 62–100 BPM; keys drawn from [`TONIC_WEIGHTS`] with [`MINOR_SHARE`]
/// minor. Lengths, artists, energy and brightness as in [`features`].
pub fn lofi_features(n: usize, seed: u64) -> Vec<Features> {
    let mut rng = super::moods::SplitMix64(seed ^ 0x10F1);
    let mut out = features(n, seed);
    let total: f64 = TONIC_WEIGHTS.iter().sum();
    for f in &mut out {
        // Box–Muller: one normal deviate.
        let (u1, u2) = (rng.unit().max(1e-12), rng.unit());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let bpm = (82.0 * (0.09 * z).exp()).clamp(62.0, 100.0);
        f.tempo_bpm = (bpm * 10.0).round() / 10.0;
        let minor = rng.unit() < MINOR_SHARE;
        let mut x = rng.unit() * total;
        let mut major_tonic = 11;
        for (i, w) in TONIC_WEIGHTS.iter().enumerate() {
            if x < *w {
                major_tonic = i;
                break;
            }
            x -= w;
        }
        let key = if minor {
            crate::music::Key::ALL[12 + (major_tonic + 9) % 12]
        } else {
            crate::music::Key::ALL[major_tonic]
        };
        f.key = key.to_string();
        f.camelot = key.camelot().to_string();
    }
    // Energy leans on tempo as in `features`: recompute from the new tempo.
    let mut rng = super::moods::SplitMix64(seed ^ 0xE4E7);
    for f in &mut out {
        let tempo01 = ((f.tempo_bpm - 62.0) / 38.0).clamp(0.0, 1.0);
        let energy01 = (0.5 * tempo01 + 0.5 * rng.unit()).clamp(0.0, 1.0);
        f.energy_db = -28.0 + 16.0 * energy01;
        f.centroid_hz = 900.0 * 2.2f64.powf(0.7 * energy01 + 0.3 * rng.unit());
    }
    out
}
