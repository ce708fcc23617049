//! A look-ahead true-peak limiter for the mixed programme.
//!
//! Gain never lets the signal exceed the ceiling, between samples included:
//! the peak of each frame is its 4×-oversampled (true) peak, estimated with a
//! windowed-sinc polyphase interpolator as ITU-R BS.1770-4 Annex 2 does, but
//! only where the sample peak is within 3 dB of the ceiling (an inter-sample
//! peak of music exceeds the neighbouring sample peaks by well under 3 dB in
//! practice; the 4× estimate itself is ±0.5 dB), which keeps the limiter nearly free on quiet passages. The
//! needed gain is `min(1, ceiling / peak)`; a running minimum over the
//! look-ahead window followed by a moving average of the same length gives a
//! smooth attack that reaches the needed gain exactly at the peak; release
//! recovers exponentially.
//!
//! The limiter aims [`MARGIN_DB`] under the configured ceiling, because the
//! Opus encoder adds a little overshoot of its own; the ceiling is measured
//! on the decoded output.
//!
//! It is a pure function of its input window, so chunks render
//! deterministically; each chunk is primed with audio before it, so the gain
//! state at a chunk seam matches a straight-through render.

use std::collections::VecDeque;

/// Look-ahead in samples (5 ms).
pub const LOOKAHEAD: usize = 240;

/// Release time constant in samples (150 ms).
const RELEASE: f32 = 7200.0;

/// How far under the configured ceiling the limiter aims (dB).
pub const MARGIN_DB: f64 = 1.0;

/// Taps per phase of the 4× interpolator.
const TAPS: usize = 12;

/// Polyphase coefficients for the three fractional positions 1/4, 2/4, 3/4
/// between sample `t` and `t+1`, over samples `t-5 ..= t+6`: a Kaiser-ish
/// (Hann) windowed sinc.
fn phases() -> [[f32; TAPS]; 3] {
    let mut out = [[0.0f32; TAPS]; 3];
    for (p, row) in out.iter_mut().enumerate() {
        let frac = (p + 1) as f64 / 4.0;
        let mut sum = 0.0;
        for (i, c) in row.iter_mut().enumerate() {
            // Tap i multiplies sample t - 5 + i; its distance from the point.
            let x = (i as f64 - 5.0) - frac;
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let w = 0.5 + 0.5 * (std::f64::consts::PI * x / 6.5).cos();
            *c = (sinc * w) as f32;
            sum += sinc * w;
        }
        // Unity gain at DC.
        for c in row.iter_mut() {
            *c /= sum as f32;
        }
    }
    out
}

/// The true (4× oversampled) peak of each frame of interleaved stereo `pcm`,
/// computed only where the sample peak nearby exceeds `threshold`; elsewhere
/// the sample peak.
fn frame_peaks(pcm: &[f32], threshold: f32) -> Vec<f32> {
    let frames = pcm.len() / 2;
    let sample_peak: Vec<f32> = pcm
        .chunks_exact(2)
        .map(|f| f[0].abs().max(f[1].abs()))
        .collect();
    let taps = phases();
    let mut peaks = sample_peak.clone();
    for t in 0..frames {
        if sample_peak[t] < threshold && sample_peak.get(t + 1).is_none_or(|&p| p < threshold) {
            continue;
        }
        if t < 5 || t + 6 >= frames {
            continue;
        }
        let mut peak = sample_peak[t];
        for ch in 0..2 {
            for row in &taps {
                let mut acc = 0.0f32;
                for (i, c) in row.iter().enumerate() {
                    acc += c * pcm[(t - 5 + i) * 2 + ch];
                }
                peak = peak.max(acc.abs());
            }
        }
        peaks[t] = peak;
    }
    peaks
}

/// Limits interleaved stereo `pcm` in place to `ceiling_dbtp` (minus
/// [`MARGIN_DB`]), true peaks included. The last [`LOOKAHEAD`] frames are only look-ahead: they are
/// processed with a shorter window and should be discarded by the caller.
pub fn limit(pcm: &mut [f32], ceiling_dbtp: f64) {
    let frames = pcm.len() / 2;
    if frames == 0 {
        return;
    }
    let ceiling = 10f32.powf((ceiling_dbtp - MARGIN_DB) as f32 / 20.0);
    let needed: Vec<f32> = frame_peaks(pcm, ceiling * std::f32::consts::FRAC_1_SQRT_2)
        .into_iter()
        .map(|peak| if peak > ceiling { ceiling / peak } else { 1.0 })
        .collect();
    // Fast path: nothing to limit.
    if needed.iter().all(|&g| g >= 1.0) {
        return;
    }
    // h[t] = min(needed[t .. t+L]) via a monotonic deque (sliding minimum).
    let mut h = vec![1.0f32; frames];
    let mut dq: VecDeque<usize> = VecDeque::new();
    for t in (0..frames).rev() {
        while dq.back().is_some_and(|&j| needed[j] >= needed[t]) {
            dq.pop_back();
        }
        dq.push_back(t);
        while dq.front().is_some_and(|&j| j > t + LOOKAHEAD) {
            dq.pop_front();
        }
        h[t] = needed[*dq.front().expect("deque holds t")];
    }
    // Smooth attack: the average of h over [t-L, t] is ≤ needed[t] because
    // h over that whole range is ≤ needed[t] (each window covers t).
    let mut smooth = vec![1.0f32; frames];
    let mut sum = 0.0f64;
    for t in 0..frames {
        sum += f64::from(h[t]);
        if t > LOOKAHEAD {
            sum -= f64::from(h[t - LOOKAHEAD - 1]);
        }
        let n = (t.min(LOOKAHEAD) + 1) as f64;
        // Before a full window, fall back to h itself (never above needed).
        smooth[t] = if t >= LOOKAHEAD {
            (sum / n) as f32
        } else {
            h[t]
        };
    }
    let release = 1.0 - (-1.0 / RELEASE).exp();
    let mut g = 1.0f32;
    for (t, f) in pcm.chunks_exact_mut(2).enumerate() {
        let target = smooth[t].min(needed[t]);
        g = if target < g {
            target
        } else {
            g + (target - g) * release
        };
        f[0] *= g;
        f[1] *= g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_audio_is_untouched() {
        let mut pcm: Vec<f32> = (0..10_000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        let orig = pcm.clone();
        limit(&mut pcm, -1.0);
        assert_eq!(pcm, orig);
    }

    #[test]
    fn peaks_never_exceed_the_ceiling_and_gain_is_smooth() {
        let mut pcm: Vec<f32> = (0..48_000)
            .flat_map(|i| {
                let v = (i as f32 * 0.05).sin()
                    * if (20_000..20_100).contains(&i) {
                        2.0
                    } else {
                        0.6
                    };
                [v, v]
            })
            .collect();
        limit(&mut pcm, -1.0);
        let ceiling = 10f32.powf(-2.0 / 20.0);
        let peak = pcm.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak <= ceiling + 1e-6, "peak {peak}");
        // Far from the burst the signal is unchanged.
        assert!((pcm[2 * 1000] - (1000f32 * 0.05).sin() * 0.6).abs() < 1e-6);
    }
}

#[cfg(test)]
mod true_peak_tests {
    use super::*;

    #[test]
    fn the_interpolator_finds_the_inter_sample_peak_of_a_quarter_rate_sine() {
        // fs/4 sine at 45° phase: every sample is at ±0.707 of the true peak.
        let pcm: Vec<f32> = (0..64)
            .flat_map(|i| {
                let v = (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin()
                    as f32;
                [v, v]
            })
            .collect();
        let peaks = frame_peaks(&pcm, 0.0);
        let true_peak = peaks[10..50].iter().fold(0.0f32, |m, &p| m.max(p));
        assert!((0.707..0.72).contains(&pcm[20].abs()), "sample {}", pcm[20]);
        assert!(true_peak > 0.95, "true peak estimate {true_peak}");
    }

    #[test]
    fn inter_sample_overs_are_limited() {
        let mut pcm: Vec<f32> = (0..9600)
            .flat_map(|i| {
                let v = 0.85
                    * (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin()
                        as f32;
                [v, v]
            })
            .collect();
        // Sample peaks are at 0.60, under the ceiling (0.79); the true peaks
        // between them reach 0.85, over it: only a true-peak limiter acts.
        limit(&mut pcm, -1.0);
        let peaks = frame_peaks(&pcm, 0.0);
        let ceiling = 10f32.powf(-2.0 / 20.0);
        let worst = peaks[300..9000].iter().fold(0.0f32, |m, &p| m.max(p));
        assert!(
            worst <= ceiling * 1.01,
            "true peak {worst} over ceiling {ceiling}"
        );
    }
}
