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

/// The interpolator's taps laid out for one pass over the 12 frames around
/// `t`: row `i` multiplies frame `t − 5 + i` and holds, per lane, the tap of
/// (phase 1 L, phase 1 R, phase 2 L, phase 2 R, phase 3 L, phase 3 R, −, −),
/// so the six sums are one 8-lane multiply-add per frame, which the compiler
/// turns into SIMD.
type Lanes = [[f32; 8]; TAPS];

fn lanes(taps: &[[f32; TAPS]; 3]) -> Lanes {
    let mut out = [[0.0f32; 8]; TAPS];
    for (i, row) in out.iter_mut().enumerate() {
        for (p, phase) in taps.iter().enumerate() {
            row[2 * p] = phase[i];
            row[2 * p + 1] = phase[i];
        }
    }
    out
}

/// The 4×-oversampled peak of frame `t` (both channels, the three points
/// between `t` and `t + 1` and the sample itself). Needs frames
/// `t − 5 ..= t + 6`.
#[inline]
fn true_peak_at(pcm: &[f32], t: usize, lanes: &Lanes) -> f32 {
    let window = &pcm[(t - 5) * 2..(t + 7) * 2];
    let mut acc = [0.0f32; 8];
    for (pair, coef) in window.chunks_exact(2).zip(lanes) {
        let x = [
            pair[0], pair[1], pair[0], pair[1], pair[0], pair[1], 0.0, 0.0,
        ];
        for k in 0..8 {
            acc[k] += coef[k] * x[k];
        }
    }
    let here = pcm[t * 2].abs().max(pcm[t * 2 + 1].abs());
    acc.iter().fold(here, |m, v| m.max(v.abs()))
}

/// The true (4× oversampled) peak of each frame of interleaved stereo `pcm`,
/// computed only where the sample peak nearby exceeds `threshold`; elsewhere
/// the sample peak.
#[cfg(test)]
fn frame_peaks(pcm: &[f32], threshold: f32) -> Vec<f32> {
    let taps = lanes(&phases());
    let frames = pcm.len() / 2;
    (0..frames)
        .map(|t| frame_peak(pcm, t, frames, threshold, &taps))
        .collect()
}

/// The peak of frame `t`: its true peak where it or the next frame is over
/// `threshold` (and the interpolator has its taps), else its sample peak.
#[inline]
fn frame_peak(pcm: &[f32], t: usize, frames: usize, threshold: f32, taps: &Lanes) -> f32 {
    let here = pcm[t * 2].abs().max(pcm[t * 2 + 1].abs());
    let next = if t + 1 < frames {
        pcm[t * 2 + 2].abs().max(pcm[t * 2 + 3].abs())
    } else {
        0.0
    };
    if (here < threshold && next < threshold) || t < 5 || t + 6 >= frames {
        here
    } else {
        true_peak_at(pcm, t, taps)
    }
}

/// Limits interleaved stereo `pcm` in place to `ceiling_dbtp` (minus
/// [`MARGIN_DB`]), true peaks included. The last [`LOOKAHEAD`] frames are
/// only look-ahead: they are processed with a shorter window and should be
/// discarded by the caller.
///
/// The gain is worked out only around the frames that need it: a frame is
/// an *event* when its peak is over the ceiling. Around each event the
/// needed gain `h` (the minimum over the next [`LOOKAHEAD`] frames) and its
/// moving average differ from 1 only within [`LOOKAHEAD`] frames either
/// side, so they are computed on those spans alone; between spans the gain
/// releases towards 1 and, once there, leaves the audio untouched. Most
/// music needs the limiter on a small fraction of its frames, so this costs
/// one pass over the audio plus a little per event.
pub fn limit(pcm: &mut [f32], ceiling_dbtp: f64) {
    let ceiling = 10f32.powf((ceiling_dbtp - MARGIN_DB) as f32 / 20.0);
    let events = over(pcm, ceiling);
    reduce(pcm, &events);
}

/// The frames of interleaved stereo `pcm` whose true peak is over `ceiling`
/// (linear), each with the gain that brings it down to the ceiling, in
/// order: what [`reduce`] takes. One pass over the audio, in blocks: a block
/// with no sample within 3 dB of the ceiling (its frames and the frame after
/// it) holds no such frame, which a vectorised test tells at once.
pub fn over(pcm: &[f32], ceiling: f32) -> Vec<(usize, f32)> {
    let frames = pcm.len() / 2;
    let threshold = ceiling * std::f32::consts::FRAC_1_SQRT_2;
    let taps = lanes(&phases());
    let mut events: Vec<(usize, f32)> = Vec::new();
    for t0 in (0..frames).step_by(BLOCK) {
        let t1 = (t0 + BLOCK).min(frames);
        if !any_over(&pcm[t0 * 2..(t1 + 1).min(frames) * 2], threshold) {
            continue;
        }
        for t in t0..t1 {
            let peak = frame_peak(pcm, t, frames, threshold, &taps);
            if peak > ceiling {
                events.push((t, ceiling / peak));
            }
        }
    }
    events
}

/// The true peak of interleaved stereo `pcm` (linear): the 4×-oversampled
/// peak of the frames within 3 dB of the sample peak, where it must lie.
pub fn true_peak(pcm: &[f32]) -> f32 {
    let frames = pcm.len() / 2;
    let sample_peak = pcm.iter().fold(0f32, |m, v| m.max(v.abs()));
    let threshold = sample_peak * std::f32::consts::FRAC_1_SQRT_2;
    let taps = lanes(&phases());
    (0..frames)
        .filter(|&t| {
            let near = &pcm[t * 2..(t + 2).min(frames) * 2];
            near.iter().any(|v| v.abs() >= threshold)
        })
        .map(|t| frame_peak(pcm, t, frames, threshold, &taps))
        .fold(sample_peak, f32::max)
}

/// A bound on the true peak of interleaved stereo `pcm` (linear) that costs
/// one vectorised pass: the sample peak times the largest sum of absolute
/// taps of the interpolator, which no oversampled point can exceed. At or
/// above [`true_peak`], never below; what decides whether a chunk is loud
/// enough to need a check, where the exact peak would cost a filter per
/// frame of loud music only to answer "yes".
pub fn true_peak_bound(pcm: &[f32]) -> f32 {
    let sample_peak = pcm.iter().fold(0f32, |m, v| m.max(v.abs()));
    let gain = phases()
        .iter()
        .map(|p| p.iter().map(|c| c.abs()).sum::<f32>())
        .fold(1f32, f32::max);
    sample_peak * gain
}

/// Lowers the gain of interleaved stereo `pcm` so that each event's frame
/// gets at most its gain (`events` as [`over`] gives them: in order of
/// frame, one per frame), with the look-ahead attack and exponential
/// release of [`limit`]. No events: the audio is left as it is.
pub fn reduce(pcm: &mut [f32], events: &[(usize, f32)]) {
    let frames = pcm.len() / 2;
    if events.is_empty() || frames == 0 {
        return;
    }
    // Spans [a, b) where h or its average can be under 1: LOOKAHEAD frames
    // either side of each event, merged where they touch.
    // (a, b, first event, one past the last event)
    let mut spans: Vec<(usize, usize, usize, usize)> = Vec::new();
    for (i, &(t, _)) in events.iter().enumerate() {
        let a = t.saturating_sub(LOOKAHEAD);
        let b = (t + LOOKAHEAD + 1).min(frames);
        match spans.last_mut() {
            Some(last) if a <= last.1 => {
                last.1 = b;
                last.3 = i + 1;
            }
            _ => spans.push((a, b, i, i + 1)),
        }
    }
    let release = 1.0 - (-1.0 / RELEASE).exp();
    let mut g = 1.0f32;
    let mut done = 0; // frames before this have their gain applied
    let mut needed = Vec::new();
    let mut h = Vec::new();
    let mut dq: VecDeque<usize> = VecDeque::new();
    for &(a, b, e0, e1) in &spans {
        // Release between spans, until the gain is back at 1.
        release_until(pcm, &mut g, release, done, a);
        // needed over [a, b + LOOKAHEAD) (1 except at events; no event of
        // the next span lies within LOOKAHEAD after b, by construction).
        let hi = (b + LOOKAHEAD).min(frames);
        needed.clear();
        needed.resize(hi - a, 1.0f32);
        for &(t, n) in &events[e0..e1] {
            needed[t - a] = needed[t - a].min(n);
        }
        // h[t] = min(needed[t ..= t + LOOKAHEAD]) on [a, b): sliding minimum.
        h.clear();
        h.resize(b - a, 1.0f32);
        dq.clear();
        for j in (0..hi - a).rev() {
            while dq.back().is_some_and(|&k| needed[k] >= needed[j]) {
                dq.pop_back();
            }
            dq.push_back(j);
            while dq.front().is_some_and(|&k| k > j + LOOKAHEAD) {
                dq.pop_front();
            }
            if j < b - a {
                h[j] = dq.front().map_or(1.0, |&k| needed[k]);
            }
        }
        // Smooth attack: the average of h over [t − L, t] (h = 1 outside the
        // span) is ≤ needed[t], because h over that whole range is ≤ needed[t].
        // Before a full window from the start of the audio, h itself.
        let mut sum = LOOKAHEAD as f64 + 1.0;
        for t in a..b {
            let j = t - a;
            sum += f64::from(h[j]) - 1.0;
            if j > LOOKAHEAD {
                sum -= f64::from(h[j - LOOKAHEAD - 1]) - 1.0;
            }
            let smooth = if t >= LOOKAHEAD {
                (sum / (LOOKAHEAD as f64 + 1.0)) as f32
            } else {
                h[j]
            };
            let target = smooth.min(needed[j]);
            g = step(g, target, release);
            let f = &mut pcm[t * 2..t * 2 + 2];
            f[0] *= g;
            f[1] *= g;
        }
        done = b;
    }
    release_until(pcm, &mut g, release, done, frames);
}

/// One step of the gain: straight down to a lower target (the look-ahead
/// already smoothed the attack), exponential release towards a higher one,
/// settling exactly on it once within 1e-4 (−80 dB: inaudible), so the gain
/// returns to exactly 1 between events.
#[inline]
fn step(g: f32, target: f32, release: f32) -> f32 {
    if target < g || target - g < 1e-4 {
        target
    } else {
        g + (target - g) * release
    }
}

/// Frames per block of the event search.
const BLOCK: usize = 64;

/// Whether any sample of `pcm` has a magnitude of at least `threshold`.
/// A fold without early exit, so it vectorises.
#[inline]
fn any_over(pcm: &[f32], threshold: f32) -> bool {
    pcm.iter()
        .fold(false, |any, v| any | (v.abs() >= threshold))
}

/// Applies the release from frame `from` towards gain 1, stopping at frame
/// `to` or once the gain is 1 (after which the audio is left as it is).
///
/// The release is [`step`] towards 1 in closed form: the distance to 1
/// shrinks by `q = 1 − release` each frame, so frame `k` of a block of
/// eight gets `1 − d·q^(k+1)`, eight frames at a time with no chain of
/// dependent steps (this loop ran on most frames of loud music and was
/// the limiter's main cost). Like [`step`], it settles exactly on 1 once
/// within 1e-4.
fn release_until(pcm: &mut [f32], g: &mut f32, release: f32, from: usize, to: usize) {
    const LANES: usize = 8;
    let q = 1.0 - release;
    // q^1 ..= q^8; the distance carried from block to block in f64, so
    // rounding does not build up over a long release.
    let mut pow = [0.0f64; LANES];
    let mut p = 1.0f64;
    for v in pow.iter_mut() {
        p *= f64::from(q);
        *v = p;
    }
    let pow32 = pow.map(|v| v as f32);
    let mut d = 1.0 - f64::from(*g);
    let mut t = from;
    while t < to && d >= 1e-4 {
        let n = (to - t).min(LANES);
        let d32 = d as f32;
        let mut gains = [1.0f32; LANES];
        for (gain, qk) in gains.iter_mut().zip(&pow32) {
            let dk = d32 * qk;
            *gain = if dk < 1e-4 { 1.0 } else { 1.0 - dk };
        }
        for (f, gain) in pcm[t * 2..(t + n) * 2].chunks_exact_mut(2).zip(gains) {
            f[0] *= gain;
            f[1] *= gain;
        }
        d *= pow[n - 1];
        t += n;
    }
    *g = if d < 1e-4 { 1.0 } else { (1.0 - d) as f32 };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_never_under_the_true_peak() {
        // A full-scale sine near Nyquist/4 (its peaks fall between samples)
        // and white-ish noise.
        let mut x = 0x1234_5678u32;
        let signals: Vec<Vec<f32>> = vec![
            (0..9600)
                .map(|i| 0.9 * (i as f32 * 0.77 + 0.4).sin())
                .collect(),
            (0..9600)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x as f32 / u32::MAX as f32) * 1.6 - 0.8
                })
                .collect(),
        ];
        for pcm in signals {
            let (exact, bound) = (true_peak(&pcm), true_peak_bound(&pcm));
            assert!(bound >= exact, "{bound} < {exact}");
            assert!(bound < 3.0 * exact, "a useful bound: {bound} vs {exact}");
        }
    }

    #[test]
    fn quiet_audio_is_untouched() {
        let mut pcm: Vec<f32> = (0..10_000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        let orig = pcm.clone();
        limit(&mut pcm, -1.0);
        assert_eq!(pcm, orig);
    }

    #[test]
    fn the_release_follows_the_exponential_and_settles_on_exactly_one() {
        let release = 1.0 - (-1.0 / RELEASE).exp();
        let q = 1.0 - f64::from(release);
        for (g0, len) in [(0.3f32, 100_000), (0.9, 5), (0.99, 30_000), (0.99995, 10)] {
            let mut pcm = vec![1.0f32; 2 * len];
            let mut g = g0;
            release_until(&mut pcm, &mut g, release, 0, len);
            // Frame t's gain: 1 − (1 − g0)·q^(t+1), computed in f64.
            let mut d = 1.0 - f64::from(g0);
            for (t, f) in pcm.chunks_exact(2).enumerate() {
                d *= q;
                assert_eq!(f[0], f[1]);
                if d > 1.01e-4 {
                    let exact = 1.0 - d;
                    assert!(
                        (f64::from(f[0]) - exact).abs() < 1e-6,
                        "from {g0}, frame {t}: {} vs {exact}",
                        f[0]
                    );
                } else if d < 0.99e-4 {
                    assert_eq!(f[0], 1.0, "from {g0}, frame {t}: settled");
                }
            }
            let exact = 1.0 - d;
            assert!(
                (f64::from(g) - exact).abs() < 1.01e-4,
                "final gain {g} vs {exact}"
            );
        }
    }

    #[test]
    fn the_gain_returns_to_exactly_one_after_an_event() {
        let tone = |i: usize| (i as f32 * 0.05).sin() * if i == 1_000 { 2.0 } else { 0.5 };
        let mut pcm: Vec<f32> = (0..120_000).flat_map(|i| [tone(i), tone(i)]).collect();
        limit(&mut pcm, -1.0);
        // Limited around the event, released within ~1.3 s (9 release time
        // constants to 1e-4), then untouched, bit for bit.
        assert!(pcm[2 * 1_000].abs() < 0.8);
        assert!((70_000..120_000).all(|i| pcm[2 * i] == tone(i)));
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
        // Smooth: the gain (output over input, where the input is not near
        // a zero crossing) falls over the look-ahead, at most by the whole
        // reduction spread over LOOKAHEAD + 1 frames per frame, and rises
        // no faster than the release; a hard clip or a gain step fails here.
        let input = |i: usize| {
            (i as f32 * 0.05).sin()
                * if (20_000..20_100).contains(&i) {
                    2.0
                } else {
                    0.6
                }
        };
        let gains: Vec<(usize, f32)> = (0..48_000)
            .filter(|&i| input(i).abs() > 0.1)
            .map(|i| (i, pcm[2 * i] / input(i)))
            .collect();
        let deepest = gains.iter().fold(1.0f32, |m, g| m.min(g.1));
        assert!(deepest < 0.5, "the burst is limited: gain {deepest}");
        let fall = (1.0 - deepest) / (LOOKAHEAD as f32 + 1.0);
        let rise = 1.0 - (-1.0 / RELEASE).exp();
        for w in gains.windows(2) {
            let ((t0, g0), (t1, g1)) = (w[0], w[1]);
            let frames = (t1 - t0) as f32;
            assert!(
                g1 - g0 <= rise * frames + 1e-5 && g0 - g1 <= fall * frames + 1e-5,
                "gain jumps from {g0} at frame {t0} to {g1} at frame {t1}"
            );
        }
        // The reduction starts no earlier than the look-ahead before the burst.
        assert!(gains
            .iter()
            .filter(|(t, _)| *t < 20_000 - LOOKAHEAD - 1)
            .all(|(_, g)| (g - 1.0).abs() < 1e-6));
    }

    #[test]
    fn reduce_lowers_the_gain_around_each_event_to_at_most_its_gain() {
        let mut pcm = vec![0.5f32; 2 * 20_000];
        reduce(&mut pcm, &[(5_000, 0.5), (5_000, 0.8), (12_000, 0.9)]);
        // The lower gain of two events at one frame wins.
        assert!(pcm[2 * 5_000] <= 0.25 + 1e-6, "{}", pcm[2 * 5_000]);
        assert!(pcm[2 * 12_000] <= 0.45 + 1e-6, "{}", pcm[2 * 12_000]);
        // Untouched before the first attack; the release heads back to 1.
        assert_eq!(pcm[2 * (5_000 - LOOKAHEAD - 1)], 0.5);
        assert!(pcm[2 * 19_999] > pcm[2 * 12_000]);
    }

    #[test]
    fn the_true_peak_of_a_sine_between_samples_is_found() {
        // A full-scale sine at fs/4 sampled 45° off its crests: samples at
        // ±0.707, the wave itself at ±1.
        let pcm: Vec<f32> = (0..4_800)
            .flat_map(|i| {
                let v =
                    (std::f32::consts::FRAC_PI_2 * i as f32 + std::f32::consts::FRAC_PI_4).sin();
                [v, v]
            })
            .collect();
        let p = true_peak(&pcm);
        assert!((0.95..=1.05).contains(&p), "true peak {p}");
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
