//! The programme as a pure function of the schedule: the PCM of any window is
//! the sum of the scheduled items that overlap it, each with its gain and
//! equal-power fades.

use std::ops::Range;

use crate::schedule::Item;

/// Where decoded track audio comes from: 48 kHz stereo interleaved frames
/// `[from, from + frames)` of a track.
pub trait TrackAudio {
    /// Decoded frames of `item`'s track starting at frame `from`: `frames`
    /// of them, or fewer where the track ends (silence after it). Borrowed
    /// from the source's own buffer, so no copy is made.
    fn frames(&mut self, item: &Item, from: u64, frames: usize) -> crate::Result<&[f32]>;

    /// A hint that no sample before `sample` will be asked for again, so
    /// resources of items ending before it may be released.
    fn retire_before(&mut self, _sample: u64, _items: &[Item]) {}
}

/// sin(π/2 · x) for x in [0, 1], by its Taylor series to x¹⁵: error under
/// 1e-9, pure arithmetic (the same bits on every machine and thread, unlike
/// a libm call), and a few times cheaper than `f64::sin`.
#[inline]
fn quarter_sine(x: f64) -> f64 {
    let a = x * std::f64::consts::FRAC_PI_2;
    let a2 = a * a;
    // Horner form of a − a³/3! + a⁵/5! − … − a¹⁵/15!.
    let mut p = -1.0 / 1_307_674_368_000.0;
    p = p * a2 + 1.0 / 6_227_020_800.0;
    p = p * a2 - 1.0 / 39_916_800.0;
    p = p * a2 + 1.0 / 362_880.0;
    p = p * a2 - 1.0 / 5_040.0;
    p = p * a2 + 1.0 / 120.0;
    p = p * a2 - 1.0 / 6.0;
    p = p * a2 + 1.0;
    a * p
}

/// Equal-power fade gain at position `pos` of a fade of `len` samples:
/// sin(π/2 · x) for a fade-in, so fade-in² + fade-out² = 1 across a crossfade.
fn fade_in_gain(pos: u64, len: u64) -> f32 {
    if len == 0 || pos >= len {
        return 1.0;
    }
    let x = (pos as f64 + 0.5) / len as f64;
    quarter_sine(x) as f32
}

/// Mixes the programme samples `[window.start, window.end)` (signed: samples
/// before the epoch are silence) from `items`, into interleaved stereo in
/// `out` (cleared first, so a render worker reuses one buffer for all its
/// chunks instead of having fresh pages faulted in and zeroed each time).
pub fn mix(
    items: &[Item],
    window: Range<i64>,
    audio: &mut dyn TrackAudio,
    out: &mut Vec<f32>,
) -> crate::Result<()> {
    let len = usize::try_from((window.end - window.start).max(0)).unwrap_or(0);
    out.clear();
    out.resize(len * 2, 0.0);
    for item in items {
        let item_start = i64::try_from(item.start_sample).unwrap_or(i64::MAX);
        let item_end = i64::try_from(item.end().0).unwrap_or(i64::MAX);
        let from = window.start.max(item_start);
        let to = window.end.min(item_end);
        if from >= to {
            continue;
        }
        // Offsets are non-negative: from >= item_start, from >= window.start.
        let offset_in_item = (from - item_start) as u64;
        let n = (to - from) as usize;
        let pcm = audio.frames(item, item.cue_in + offset_in_item, n)?;
        let gain = 10f32.powf(item.gain_db as f32 / 20.0);
        let out_at = (from - window.start) as usize;
        // Past the end of the track's audio, silence: nothing to add.
        let n = (pcm.len() / 2).min(n);
        let dst = &mut out[out_at * 2..(out_at + n) * 2];
        let src = &pcm[..n * 2];
        // Item positions [offset_in_item, offset_in_item + n) split into the
        // fade-in, the body (plain gain: a tight loop) and the fade-out.
        let fade_out_start = item.length - item.fade_out;
        let body_from = item
            .fade_in
            .clamp(offset_in_item, offset_in_item + n as u64);
        let body_to = fade_out_start.clamp(body_from, offset_in_item + n as u64);
        let i0 = (body_from - offset_in_item) as usize;
        let i1 = (body_to - offset_in_item) as usize;
        for (d, s) in dst[i0 * 2..i1 * 2].iter_mut().zip(&src[i0 * 2..i1 * 2]) {
            *d += s * gain;
        }
        for i in (0..i0).chain(i1..n) {
            let pos = offset_in_item + i as u64;
            let mut g = gain;
            if pos < item.fade_in {
                g *= fade_in_gain(pos, item.fade_in);
            }
            if pos >= fade_out_start {
                // A fade-out is a fade-in read backwards.
                g *= fade_in_gain(item.length - 1 - pos, item.fade_out);
            }
            dst[i * 2] += src[i * 2] * g;
            dst[i * 2 + 1] += src[i * 2 + 1] * g;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Dc(Vec<f32>);

    /// The mix of `items` over `window` from constant 0.5 tracks.
    fn mixed(items: &[Item], window: Range<i64>) -> Vec<f32> {
        let mut out = Vec::new();
        mix(items, window, &mut Dc::default(), &mut out).expect("mix");
        out
    }
    impl TrackAudio for Dc {
        fn frames(&mut self, _: &Item, _: u64, frames: usize) -> crate::Result<&[f32]> {
            self.0.clear();
            self.0.resize(frames * 2, 0.5);
            Ok(&self.0)
        }
    }

    fn item(start: u64, length: u64, fade_in: u64, fade_out: u64) -> Item {
        Item {
            start_sample: start,
            length,
            track: "t".into(),
            hash: "h".into(),
            cue_in: 0,
            gain_db: 0.0,
            fade_in,
            fade_out,
            title: String::new(),
            artist: String::new(),
        }
    }

    #[test]
    fn equal_power_crossfade_keeps_power() {
        // a: [0, 1000) fading out over its last 200; b starts at 800.
        let items = [item(0, 1000, 0, 200), item(800, 1000, 200, 0)];
        let pcm = mixed(&items, 0..1800);
        for i in 0..1800 {
            let v = pcm[i * 2];
            if (800..1000).contains(&i) {
                // Uncorrelated power sums to one; for identical DC the
                // amplitude sum is sin + cos, between 1 and sqrt(2).
                assert!((0.5..=0.5 * 1.4143).contains(&v), "sample {i}: {v}");
            } else {
                assert!((v - 0.5).abs() < 1e-6, "sample {i}: {v}");
            }
        }
    }

    #[test]
    fn the_quarter_sine_matches_libm() {
        for i in 0..=1000 {
            let x = f64::from(i) / 1000.0;
            let want = (x * std::f64::consts::FRAC_PI_2).sin();
            assert!((quarter_sine(x) - want).abs() < 1e-9, "x {x}");
        }
    }

    #[test]
    fn windows_compose() {
        let items = [item(100, 1000, 0, 300), item(800, 1000, 300, 100)];
        let whole = mixed(&items, -50..2000);
        let a = mixed(&items, -50..777);
        let b = mixed(&items, 777..2000);
        assert_eq!([a, b].concat(), whole);
        assert!(
            whole[..300].iter().all(|&v| v == 0.0),
            "silence before the first item"
        );
    }
}
