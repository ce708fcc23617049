//! A look-ahead peak limiter for the mixed programme.
//!
//! Gain never lets a sample exceed the ceiling: for every sample the needed
//! gain is `min(1, ceiling / peak)`; a running minimum over the look-ahead
//! window followed by a moving average of the same length gives a smooth
//! attack that reaches the needed gain exactly at the peak; release recovers
//! exponentially. The ceiling is set 0.5 dB under the configured true-peak
//! ceiling to leave room for inter-sample peaks (a 4× oversampled detector is
//! issue 5's refinement).
//!
//! It is a pure function of its input window, so chunks render
//! deterministically; each chunk is primed with audio before it, so the gain
//! state at a chunk seam matches a straight-through render.

use std::collections::VecDeque;

/// Look-ahead in samples (5 ms).
pub const LOOKAHEAD: usize = 240;

/// Release time constant in samples (150 ms).
const RELEASE: f32 = 7200.0;

/// Limits interleaved stereo `pcm` in place to `ceiling_dbtp` (minus 0.5 dB
/// margin). The last [`LOOKAHEAD`] frames are only look-ahead: they are
/// processed with a shorter window and should be discarded by the caller.
pub fn limit(pcm: &mut [f32], ceiling_dbtp: f64) {
    let frames = pcm.len() / 2;
    if frames == 0 {
        return;
    }
    let ceiling = 10f32.powf((ceiling_dbtp as f32 - 0.5) / 20.0);
    let needed: Vec<f32> = pcm
        .chunks_exact(2)
        .map(|f| {
            let peak = f[0].abs().max(f[1].abs());
            if peak > ceiling {
                ceiling / peak
            } else {
                1.0
            }
        })
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
        let ceiling = 10f32.powf(-1.5 / 20.0);
        let peak = pcm.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak <= ceiling + 1e-6, "peak {peak}");
        // Far from the burst the signal is unchanged.
        assert!((pcm[2 * 1000] - (1000f32 * 0.05).sin() * 0.6).abs() < 1e-6);
    }
}
