//! Tempo and onset rate from an onset-strength curve (pure functions).
//!
//! **Tempo.** The onset curve is made zero-mean after removing its local
//! (one-second) mean and keeping only rises, then autocorrelated (via FFT).
//! A beat period τ scores the mean autocorrelation at τ, 2τ, 3τ, 4τ (a
//! comb), which favours the period that repeats at every beat over one that
//! happens to line up once. Candidates span [`MIN_BPM`]–[`MAX_BPM`].
//!
//! *Octaves.* Lo-fi puts the kick on beats 1 and 3, so the energy repeats
//! strongly every two beats as well as every beat: the half tempo (and, with
//! hi-hats on eighths, the double tempo) scores nearly as well as the true
//! one. The comb score is therefore weighted by a log-normal prior centred
//! on [`PRIOR_CENTRE_BPM`] (σ = [`PRIOR_OCTAVES`] octaves), which resolves
//! 70 vs 140 and 45 vs 90 toward the middle of the range music is felt in
//! while still letting a clearly faster or slower track through when its
//! own evidence is much stronger. The centre and width were tuned on the
//! labelled corpus's tuning seeds (`tests/corpus/`, lo-fi, jazz, ambient and
//! orchestral): Acc1 0.704 at 82 BPM/0.5 octave (a prior for lo-fi alone,
//! which halved jazz at 120–150 and much orchestral music), 0.765 at
//! 90/0.5, 0.800 at 95/0.6, 0.843 at 100/0.7 to 110/0.9; 100/0.7 sits in
//! the middle of that plateau. On the report seeds it took Acc1 from 0.797
//! to 0.885 (Acc2 0.969 → 0.960) and left the synthetic ground truth
//! exact. The winner is refined on a fine grid with an 8-beat comb, whose
//! long lags give sub-frame precision (≈0.1 % at 90 BPM).
//!
//! *Confidence* (0..1) is the normalised autocorrelation of the winning
//! comb (how strongly the curve repeats at that period, square-rooted)
//! times a margin term: 1 when no other tempo comes close after the prior,
//! 0.5 when another (say the half tempo) scores the same.
//!
//! **Onset rate.** Peaks of the onset curve above an adaptive threshold
//! (the local median plus half the curve's standard deviation), at least
//! 50 ms apart, per second.

use realfft::RealFftPlanner;

/// Slowest tempo considered, BPM.
pub const MIN_BPM: f64 = 30.0;
/// Fastest tempo considered, BPM.
pub const MAX_BPM: f64 = 240.0;
/// Centre of the tempo prior, BPM (see the module docs for how it was chosen).
pub const PRIOR_CENTRE_BPM: f64 = 100.0;
/// Width of the tempo prior, in octaves (one standard deviation).
pub const PRIOR_OCTAVES: f64 = 0.7;
/// Beats in the coarse comb.
const COARSE_BEATS: usize = 4;
/// Beats in the refining comb.
const FINE_BEATS: usize = 8;

/// A tempo estimate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Tempo {
    /// Beats per minute (0 when no periodicity was found).
    pub bpm: f64,
    /// 0..1, see the [module docs](self).
    pub confidence: f64,
}

/// Autocorrelation of `x` for lags `0..=max_lag` (biased: divided by `n`).
fn autocorrelation(x: &[f64], max_lag: usize) -> Vec<f64> {
    let n = x.len();
    let size = (2 * n).next_power_of_two().max(2);
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    let mut input = fwd.make_input_vec();
    input[..n].copy_from_slice(x);
    let mut spec = fwd.make_output_vec();
    if fwd.process(&mut input, &mut spec).is_err() {
        return vec![0.0; max_lag + 1];
    }
    for c in &mut spec {
        *c = realfft::num_complex::Complex::new(c.norm_sqr(), 0.0);
    }
    let mut out = inv.make_output_vec();
    if inv.process(&mut spec, &mut out).is_err() {
        return vec![0.0; max_lag + 1];
    }
    let scale = 1.0 / (size as f64 * n as f64);
    out.iter()
        .take(max_lag.min(n.saturating_sub(1)) + 1)
        .map(|v| v * scale)
        .chain(std::iter::repeat(0.0))
        .take(max_lag + 1)
        .collect()
}

/// The onset curve made ready for periodicity analysis: minus its local
/// mean, rises only, then zero-mean.
fn novelty(onset: &[f32], fps: f64) -> Vec<f64> {
    let half = (fps * 0.5).round().max(1.0) as usize;
    let n = onset.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    for &v in onset {
        let last = prefix.last().copied().unwrap_or(0.0);
        prefix.push(last + f64::from(v));
    }
    let mut out: Vec<f64> = (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(half), (i + half + 1).min(n));
            let mean = (prefix[b] - prefix[a]) / (b - a) as f64;
            (f64::from(onset[i]) - mean).max(0.0)
        })
        .collect();
    let mean = out.iter().sum::<f64>() / n.max(1) as f64;
    for v in &mut out {
        *v -= mean;
    }
    out
}

/// Linear interpolation of `r` at fractional lag `lag` (0 beyond the end).
fn at(r: &[f64], lag: f64) -> f64 {
    let i = lag.floor();
    let f = lag - i;
    let i = i as usize;
    match (r.get(i), r.get(i + 1)) {
        (Some(a), Some(b)) => a + (b - a) * f,
        (Some(a), None) => *a,
        _ => 0.0,
    }
}

/// Mean autocorrelation at the first `beats` multiples of `period` frames
/// (only multiples inside `r`).
fn comb(r: &[f64], period: f64, beats: usize) -> f64 {
    let limit = (r.len() - 1) as f64;
    let (mut sum, mut count) = (0.0, 0usize);
    for k in 1..=beats {
        let lag = period * k as f64;
        if lag > limit {
            break;
        }
        sum += at(r, lag);
        count += 1;
    }
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// The tempo prior weight of `bpm`.
fn prior(bpm: f64) -> f64 {
    let octaves = (bpm / PRIOR_CENTRE_BPM).log2() / PRIOR_OCTAVES;
    (-0.5 * octaves * octaves).exp()
}

/// Estimates the tempo from an onset curve sampled at `fps` frames a second.
pub fn estimate(onset: &[f32], fps: f64) -> Tempo {
    let frames_per_min = 60.0 * fps;
    // Need a few beats at the slowest tempo.
    if onset.len() < (4.0 * frames_per_min / MIN_BPM) as usize || !fps.is_finite() || fps <= 0.0 {
        return Tempo::default();
    }
    let x = novelty(onset, fps);
    let max_lag = ((FINE_BEATS as f64 * frames_per_min / MIN_BPM).ceil() as usize)
        .min(x.len().saturating_sub(1));
    let r = autocorrelation(&x, max_lag);
    let r0 = r.first().copied().unwrap_or(0.0);
    if r0 <= 0.0 || !r0.is_finite() {
        return Tempo::default();
    }

    // Coarse grid, 0.2 % steps in log tempo.
    let step = 1.002f64;
    let mut grid = Vec::new();
    let mut bpm = MIN_BPM;
    while bpm <= MAX_BPM {
        let score = comb(&r, frames_per_min / bpm, COARSE_BEATS).max(0.0);
        grid.push((bpm, score, score * prior(bpm)));
        bpm *= step;
    }
    let Some(&(best_bpm, best_score, best_weighted)) =
        grid.iter().max_by(|a, b| a.2.total_cmp(&b.2))
    else {
        return Tempo::default();
    };
    if best_weighted <= 0.0 {
        return Tempo::default();
    }
    // Best rival at least 5 % away.
    let rival = grid
        .iter()
        .filter(|g| (g.0 / best_bpm).ln().abs() > 0.05)
        .map(|g| g.2)
        .fold(0.0f64, f64::max);

    // Refine within ±1.5 % on a 0.01 % grid with the long comb.
    let mut refined = best_bpm;
    let mut refined_score = f64::NEG_INFINITY;
    let mut b = best_bpm * 0.985;
    while b <= best_bpm * 1.015 {
        let s = comb(&r, frames_per_min / b, FINE_BEATS);
        if s > refined_score {
            refined_score = s;
            refined = b;
        }
        b *= 1.0001;
    }
    let periodicity = (best_score / r0).clamp(0.0, 1.0).sqrt();
    let margin = (1.0 - rival / best_weighted).clamp(0.0, 1.0);
    Tempo {
        bpm: refined,
        confidence: (periodicity * (0.5 + 0.5 * margin)).clamp(0.0, 1.0),
    }
}

/// Onsets per second in an onset curve sampled at `fps`; see the
/// [module docs](self).
pub fn onset_rate(onset: &[f32], fps: f64) -> f64 {
    let n = onset.len();
    if n < 3 || fps <= 0.0 {
        return 0.0;
    }
    let mean = onset.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let sd = (onset
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n as f64)
        .sqrt();
    if sd <= 0.0 {
        return 0.0;
    }
    let half = (fps * 0.5).round() as usize;
    let min_gap = (fps * 0.05).round().max(1.0) as usize;
    // Local median over a 1 s window, from a sorted copy every 8 frames.
    let mut medians = Vec::with_capacity(n / 8 + 1);
    let mut window = Vec::with_capacity(2 * half + 1);
    for i in (0..n).step_by(8) {
        window.clear();
        window.extend_from_slice(&onset[i.saturating_sub(half)..(i + half + 1).min(n)]);
        window.sort_by(f32::total_cmp);
        medians.push(f64::from(window[window.len() / 2]));
    }
    let mut count = 0usize;
    let mut last: Option<usize> = None;
    for i in 1..n - 1 {
        let v = f64::from(onset[i]);
        let threshold = medians[i / 8] + 0.5 * sd;
        if v > threshold
            && onset[i] >= onset[i - 1]
            && onset[i] > onset[i + 1]
            && last.is_none_or(|l| i - l >= min_gap)
        {
            count += 1;
            last = Some(i);
        }
    }
    count as f64 / (n as f64 / fps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An onset curve with pulses every beat at `bpm`, stronger every
    /// `accent` beats.
    fn pulses(bpm: f64, fps: f64, seconds: f64, accent: usize, accent_gain: f32) -> Vec<f32> {
        let n = (seconds * fps) as usize;
        let mut v = vec![0.1f32; n];
        let period = 60.0 * fps / bpm;
        let mut k = 0usize;
        loop {
            let t = (k as f64 * period).round() as usize;
            if t >= n {
                break;
            }
            v[t] += if k.is_multiple_of(accent) {
                accent_gain
            } else {
                1.0
            };
            k += 1;
        }
        v
    }

    #[test]
    fn finds_a_plain_beat() {
        for bpm in [66.0, 72.5, 85.0, 99.0] {
            let t = estimate(&pulses(bpm, 93.75, 40.0, 1, 1.0), 93.75);
            assert!((t.bpm - bpm).abs() / bpm < 0.005, "{bpm}: {t:?}");
            assert!(t.confidence > 0.3, "{t:?}");
        }
    }

    #[test]
    fn strong_half_tempo_accents_do_not_halve_the_tempo() {
        // Kick on 1 and 3: every other beat twice as strong.
        for bpm in [65.0, 80.0, 100.0] {
            let t = estimate(&pulses(bpm, 93.75, 40.0, 2, 2.5), 93.75);
            assert!((t.bpm - bpm).abs() / bpm < 0.01, "{bpm}: {t:?}");
        }
    }

    #[test]
    fn a_flat_or_short_curve_has_no_tempo() {
        assert_eq!(estimate(&[0.5; 4000], 93.75).bpm, 0.0);
        assert_eq!(estimate(&[1.0; 10], 93.75).bpm, 0.0);
        assert_eq!(estimate(&[], 93.75).bpm, 0.0);
        assert_eq!(onset_rate(&[], 93.75), 0.0);
    }

    #[test]
    fn onset_rate_counts_pulses() {
        let v = pulses(120.0, 93.75, 30.0, 1, 1.0);
        let rate = onset_rate(&v, 93.75);
        assert!((rate - 2.0).abs() < 0.1, "{rate}");
    }
}
