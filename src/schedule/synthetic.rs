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
