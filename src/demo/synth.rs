//! A deterministic lo-fi track synthesiser: the demo catalog and the test
//! suite's ground truth.
//!
//! [`render`] turns a [`TrackSpec`] into interleaved stereo `f32` PCM whose
//! tempo, key and exact length are known, so the analyzer can be tested
//! against them. [`write_wav`] stores it as 16-bit WAV; [`demo_catalog`] and
//! [`ground_truth_catalog`] build sets of specs from a seed.
//!
//! # What a track contains
//!
//! `lead silence | music | tail silence`. The silences are exact digital
//! zeros. The music is `bars` bars of 4/4 at `bpm`:
//!
//! - **Chords**: a four-bar progression in the key, one chord per bar,
//!   always starting on the tonic chord, cycled, with the last bar forced
//!   back to the tonic. Major keys: `Imaj7–vi7–IVmaj7–V7`,
//!   `Imaj7–ii7–V7–Imaj7` or `Imaj7–IVmaj7–Imaj7–V7`. Minor keys:
//!   `i7–VImaj7–iv7–V7`, `i7–iv7–i7–V7` or `i7–VImaj7–i7–VII7`. The seed
//!   picks one.
//! - **Electric piano**: root-position seventh chords from E3..D#4 (the
//!   tonic chord also doubles the tonic an octave up). Each tone is two
//!   oscillators detuned about ±0.75 cent and panned apart (stereo width and
//!   a slow chorus; wider detune would beat at tempo-like rates and blur the
//!   energy envelope), reading a wavetable of a few falling harmonics, with a
//!   fast attack and an exponential decay. Struck on beat 1, or on beats 1
//!   and 3.
//! - **Lead**: a soft bell motif in C5..B5 on beats 1, 3 and 4: the bar's
//!   anchor note (the key's tonic when the chord contains it, else the chord
//!   tone nearest it, e.g. the leading tone in `V7`) and the chord's third.
//! - **Bass**: the chord root in C2..B2, on beats 1 and 3 with a soft swung
//!   pick-up before beat 4.
//! - **Drums**: kick on beats 1 and 3 (its pitch falls to the tonic), snare
//!   on 2 and 4, closed hi-hats on every eighth with the off-beats swung late.
//! - **Vinyl**: faint band-limited noise plus sparse random clicks.
//! - A one-pole low-pass over the whole mix (the "tape" tone), then a
//!   smoothstep fade-in over the first `fade_ms` of the music and a fade-out
//!   over its last `fade_ms` (each at most half the music).
//!
//! # Why an analyzer can measure it
//!
//! - **Key**: the tonic chord is bar 1, recurs in the progression, ends the
//!   track and doubles its tonic; the lead keeps returning to the tonic; the
//!   bass plays chord roots; minor keys mostly resolve through a major `V7`
//!   whose leading tone is outside the relative major; upper harmonics are
//!   kept weak so they do not pull the chroma towards the dominant. So the
//!   tonic pitch class carries the most chroma energy and a Krumhansl–
//!   Schmuckler detector finds the key: the tests check all 24 keys × all
//!   progressions with a chroma over C3..B5.
//! - **Tempo**: the loudest onsets are kick and snare, one per beat, exactly
//!   on the grid (no timing humanisation); chords and bass also start on
//!   beats. Hats are quiet, so the beat, not the eighth, dominates.
//!
//! # Length and rounding
//!
//! [`TrackSpec::total_frames`] is exact and is what [`render`] returns:
//! - lead / tail / fade frames = `floor(ms × sample_rate / 1000)` (integers);
//! - music frames = `round(bars × 4 × 60 × sample_rate / bpm)` in `f64`,
//!   halves away from zero;
//! - an event at beat `b` starts at frame `round(b × 60 × sample_rate / bpm)`
//!   of the music.
//!
//! # Level
//!
//! After mixing, filtering and fading, the music is scaled so that its sample
//! peak is exactly `min(REFERENCE_PEAK_DBFS + level_db, PEAK_CEILING_DBFS)`
//! ([`REFERENCE_PEAK_DBFS`] = −3 dBFS, [`PEAK_CEILING_DBFS`] = −1.5 dBFS).
//! So the peak is always below −1 dBFS, even after 16-bit dither, and
//! `level_db` moves the whole track up or down (tracks differ in loudness).
//!
//! # Determinism
//!
//! Everything comes from `spec.seed` through a splitmix64 generator (one
//! stream per part, so parts do not disturb each other). The oscillators use
//! fixed-point phase and wavetables, and the few transcendental values
//! (`sin`, `exp`) come from this module's own series built on `+ − × ÷`,
//! which IEEE 754 rounds correctly, and Rust never fuses into FMAs behind
//! our back. So the samples, and the WAV bytes, depend only on the spec,
//! not on the platform's maths library.
//!
//! # Bad specs
//!
//! A spec is plain data built by code, not read from users, but rendering
//! never panics: out-of-range values are clamped (see [`TrackSpec::validate`]
//! for the ranges, which reports them as an error instead), the same way in
//! [`TrackSpec::total_frames`] and [`render`], so the length contract holds.

use std::f64::consts::{LN_10, LN_2, PI, TAU};
use std::io::{Seek, Write};

use serde::{Deserialize, Serialize};

use crate::music::{Key, Mode, PitchClass};

/// The music's sample peak, in dBFS, when `level_db` is 0.
pub const REFERENCE_PEAK_DBFS: f64 = -3.0;

/// The highest sample peak, in dBFS, whatever `level_db` asks for.
pub const PEAK_CEILING_DBFS: f64 = -1.5;

/// Slowest tempo [`TrackSpec::validate`] accepts; slower ones are clamped.
pub const MIN_BPM: f64 = 20.0;
/// Fastest tempo [`TrackSpec::validate`] accepts; faster ones are clamped.
pub const MAX_BPM: f64 = 300.0;
/// Lowest sample rate accepted, in Hz.
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// Highest sample rate accepted, in Hz.
pub const MAX_SAMPLE_RATE: u32 = 192_000;
/// Longest music accepted, in seconds (whole bars beyond it are dropped).
pub const MAX_MUSIC_SECONDS: f64 = 3_600.0;
/// Longest lead or tail silence, and fade, accepted, in milliseconds.
pub const MAX_SILENCE_MS: u32 = 60_000;

/// Tempo used when `bpm` is not a finite number.
const FALLBACK_BPM: f64 = 90.0;

/// Everything that determines one synthetic track. Plain data: build it in
/// code or read it from JSON/TOML; the same spec always renders the same
/// samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackSpec {
    /// Track title (metadata only; not used by the synthesis).
    pub title: String,
    /// Artist name (metadata only).
    pub artist: String,
    /// Tempo in beats per minute; bars are 4 beats. See [`MIN_BPM`], [`MAX_BPM`].
    pub bpm: f64,
    /// The key the music is written in.
    pub key: Key,
    /// Number of 4/4 bars of music (one chord each). At least 1.
    pub bars: u32,
    /// Sample rate in Hz, 8 000 to 192 000.
    pub sample_rate: u32,
    /// Level offset in dB: the music peaks at
    /// `min(REFERENCE_PEAK_DBFS + level_db, PEAK_CEILING_DBFS)` dBFS.
    pub level_db: f64,
    /// Digital silence before the music, in milliseconds.
    pub lead_silence_ms: u32,
    /// Digital silence after the music, in milliseconds.
    pub tail_silence_ms: u32,
    /// Length of the fade-in at the music's start and of the fade-out at its
    /// end, in milliseconds (each capped at half the music). 0 = no fade.
    pub fade_ms: u32,
    /// Seed for every random choice: progression, voicing details, velocities,
    /// vinyl noise and WAV dither.
    pub seed: u64,
}

/// A [`TrackSpec`] field out of range. Names the track and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("track {title:?}: {field} = {value}: expected {expected}")]
#[non_exhaustive]
pub struct SpecError {
    /// The track's title.
    pub title: String,
    /// The field name, as in [`TrackSpec`].
    pub field: &'static str,
    /// The bad value, printed.
    pub value: String,
    /// What would have been accepted.
    pub expected: String,
}

impl TrackSpec {
    /// Checks every field is in range. [`render`] works on any spec (it
    /// clamps, see the [module docs](self)); this says whether it had to.
    pub fn validate(&self) -> Result<(), SpecError> {
        let err = |field: &'static str, value: String, expected: String| SpecError {
            title: self.title.clone(),
            field,
            value,
            expected,
        };
        if !(self.bpm.is_finite() && (MIN_BPM..=MAX_BPM).contains(&self.bpm)) {
            return Err(err(
                "bpm",
                self.bpm.to_string(),
                format!("{MIN_BPM} to {MAX_BPM}"),
            ));
        }
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&self.sample_rate) {
            return Err(err(
                "sample_rate",
                self.sample_rate.to_string(),
                format!("{MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE}"),
            ));
        }
        let music_seconds = f64::from(self.bars) * 240.0 / self.bpm;
        if self.bars == 0 || music_seconds > MAX_MUSIC_SECONDS {
            return Err(err(
                "bars",
                self.bars.to_string(),
                format!("at least 1 and at most {MAX_MUSIC_SECONDS} s of music"),
            ));
        }
        if !self.level_db.is_finite() {
            return Err(err(
                "level_db",
                self.level_db.to_string(),
                "a finite number".into(),
            ));
        }
        for (field, ms) in [
            ("lead_silence_ms", self.lead_silence_ms),
            ("tail_silence_ms", self.tail_silence_ms),
            ("fade_ms", self.fade_ms),
        ] {
            if ms > MAX_SILENCE_MS {
                return Err(err(
                    field,
                    ms.to_string(),
                    format!("at most {MAX_SILENCE_MS}"),
                ));
            }
        }
        Ok(())
    }

    /// Frames of digital silence before the music: `floor(lead_silence_ms × rate / 1000)`.
    pub fn lead_frames(&self) -> u64 {
        Timing::of(self).lead
    }

    /// Frames of music: `round(bars × 4 × 60 × rate / bpm)`.
    pub fn music_frames(&self) -> u64 {
        Timing::of(self).music
    }

    /// Frames of digital silence after the music: `floor(tail_silence_ms × rate / 1000)`.
    pub fn tail_frames(&self) -> u64 {
        Timing::of(self).tail
    }

    /// The exact number of frames (samples per channel) [`render`] returns:
    /// lead + music + tail.
    pub fn total_frames(&self) -> u64 {
        Timing::of(self).total()
    }

    /// The total duration in seconds (`total_frames / sample_rate`).
    pub fn duration_secs(&self) -> f64 {
        let timing = Timing::of(self);
        timing.total() as f64 / f64::from(timing.sample_rate)
    }
}

/// A spec's clamped timing, in frames; the one place lengths are computed.
#[derive(Debug, Clone, Copy)]
struct Timing {
    sample_rate: u32,
    bars: u32,
    frames_per_beat: f64,
    lead: u64,
    music: u64,
    tail: u64,
    fade: u64,
}

impl Timing {
    fn of(spec: &TrackSpec) -> Self {
        let sample_rate = spec.sample_rate.clamp(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE);
        let bpm = if spec.bpm.is_finite() {
            spec.bpm.clamp(MIN_BPM, MAX_BPM)
        } else {
            FALLBACK_BPM
        };
        // Whole bars that fit in MAX_MUSIC_SECONDS (at most 60 000, fits u32).
        let max_bars = (MAX_MUSIC_SECONDS * bpm / 240.0).floor() as u32;
        let bars = spec.bars.min(max_bars);
        let frames_per_beat = 60.0 * f64::from(sample_rate) / bpm;
        let music = (f64::from(bars) * 4.0 * frames_per_beat).round() as u64;
        let ms = |ms: u32| u64::from(ms.min(MAX_SILENCE_MS)) * u64::from(sample_rate) / 1000;
        Self {
            sample_rate,
            bars,
            frames_per_beat,
            lead: ms(spec.lead_silence_ms),
            music,
            tail: ms(spec.tail_silence_ms),
            fade: ms(spec.fade_ms).min(music / 2),
        }
    }

    fn total(&self) -> u64 {
        self.lead + self.music + self.tail
    }

    /// The music frame of beat `beats` (from the music's start), clamped to
    /// the music.
    fn frame(&self, beats: f64) -> usize {
        let frame = (beats * self.frames_per_beat).round().max(0.0) as u64;
        to_usize(frame.min(self.music))
    }

    /// Frames in `seconds`, at least 1.
    fn frames(&self, seconds: f64) -> usize {
        ((seconds * f64::from(self.sample_rate)).round() as usize).max(1)
    }
}

/// Converts a frame count bounded by the clamps in [`Timing::of`].
fn to_usize(frames: u64) -> usize {
    // At most (3 600 s + 2 × 60 s) × 192 kHz × 2 channels ≈ 1.4e9 < 2^32.
    usize::try_from(frames).expect("clamped track lengths fit in usize")
}

// ---------------------------------------------------------------------------
// Deterministic maths and randomness
// ---------------------------------------------------------------------------

/// splitmix64 (Steele, Lea & Flood 2014): tiny, fast, and good enough for
/// audio noise and musical choices. Public so tests can draw seeded,
/// repeatable choices from the same generator.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator for one part of one track, so parts are independent.
    fn stream(seed: u64, part: u64) -> Self {
        let mut base = Self(seed ^ part.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Self(base.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `[-1, 1)`, as `f32`.
    fn bipolar(&mut self) -> f32 {
        // The top 24 bits give every f32 step in [0, 2) exactly.
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 23) as f32) - 1.0
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-high (no modulo bias worth naming).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Fisher–Yates shuffle.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// `e^x` from a range reduction and a Taylor series: only `+ − × ÷`, so the
/// result is the same on every IEEE 754 platform. Relative error ~1e-15.
fn det_exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let x = x.clamp(-700.0, 700.0);
    let k = (x / LN_2).round();
    let r = x - k * LN_2; // |r| ≤ ln2/2
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..=16 {
        term *= r / f64::from(n);
        sum += term;
    }
    // 2^k built from its bits; k is in −1010..=1010, a normal exponent.
    let two_k = f64::from_bits(((k as i64 + 1023) as u64) << 52);
    sum * two_k
}

/// `sin x` from a range reduction to `[−π/2, π/2]` and a Taylor series:
/// only `+ − × ÷`, so the same everywhere. Absolute error ~1e-15 for
/// moderate `x`.
fn det_sin(x: f64) -> f64 {
    let mut r = x - TAU * (x / TAU).round(); // [−π, π]
    if r > PI / 2.0 {
        r = PI - r;
    } else if r < -PI / 2.0 {
        r = -PI - r;
    }
    let r2 = r * r;
    let mut term = r;
    let mut sum = r;
    for n in 1..=11 {
        let n = f64::from(n);
        term *= -r2 / ((2.0 * n) * (2.0 * n + 1.0));
        sum += term;
    }
    sum
}

/// Linear gain of `db` decibels.
fn db_to_gain(db: f64) -> f64 {
    det_exp(db * LN_10 / 20.0)
}

/// Frequency in Hz of MIDI note `note` (A4 = 69 = 440 Hz).
fn midi_to_hz(note: i32) -> f64 {
    440.0 * det_exp(f64::from(note - 69) / 12.0 * LN_2)
}

/// The per-frame multiplier of an exponential decay with time constant `tau_s`.
fn decay_per_frame(tau_s: f64, sample_rate: f64) -> f32 {
    det_exp(-1.0 / (tau_s * sample_rate)) as f32
}

/// One-pole low-pass coefficient `a` for `y += a·(x − y)`.
fn lowpass_coef(cutoff_hz: f64, sample_rate: f64) -> f32 {
    let cutoff = cutoff_hz.min(0.45 * sample_rate);
    (1.0 - det_exp(-TAU * cutoff / sample_rate)) as f32
}

/// One-pole high-pass coefficient `b` for `y = b·(y + x − x_prev)`.
fn highpass_coef(cutoff_hz: f64, sample_rate: f64) -> f32 {
    let cutoff = cutoff_hz.min(0.45 * sample_rate);
    det_exp(-TAU * cutoff / sample_rate) as f32
}

/// The 32-bit fixed-point phase step of a `freq` Hz oscillator.
fn phase_inc(freq: f64, sample_rate: f64) -> u32 {
    let step = (freq / sample_rate * 4_294_967_296.0).round();
    // Clamped below Nyquist, so the cast cannot wrap.
    step.clamp(0.0, 2_147_483_647.0) as u32
}

// ---------------------------------------------------------------------------
// Oscillators and voices
// ---------------------------------------------------------------------------

/// log2 of the wavetable length.
const TABLE_BITS: u32 = 11;
/// Wavetable length (one cycle).
const TABLE_LEN: usize = 1 << TABLE_BITS;
/// Bits of phase below the table index.
const FRAC_BITS: u32 = 32 - TABLE_BITS;

/// One cycle of a waveform plus a guard point, read with 32-bit fixed-point
/// phase and linear interpolation (no `sin` per sample).
struct Wavetable {
    table: Box<[f32; TABLE_LEN + 1]>,
}

impl Wavetable {
    /// A sum of harmonics `(number, amplitude)`, scaled to peak 1.
    fn harmonics(partials: &[(u32, f64)]) -> Self {
        let mut values = [0.0f64; TABLE_LEN];
        for (i, value) in values.iter_mut().enumerate() {
            let x = TAU * i as f64 / TABLE_LEN as f64;
            *value = partials
                .iter()
                .map(|&(n, amp)| amp * det_sin(f64::from(n) * x))
                .sum();
        }
        let peak = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = if peak > 0.0 { 1.0 / peak } else { 0.0 };
        let mut table = Box::new([0.0f32; TABLE_LEN + 1]);
        for (slot, value) in table.iter_mut().zip(values) {
            *slot = (value * scale) as f32;
        }
        table[TABLE_LEN] = table[0];
        Self { table }
    }

    #[inline]
    fn at(&self, phase: u32) -> f32 {
        let index = (phase >> FRAC_BITS) as usize;
        let frac = (phase & ((1 << FRAC_BITS) - 1)) as f32 * (1.0 / (1u32 << FRAC_BITS) as f32);
        let a = self.table[index];
        let b = self.table[index + 1];
        a + (b - a) * frac
    }
}

/// One oscillator of a note: phase, step and left/right gains.
#[derive(Debug, Clone, Copy)]
struct Osc {
    phase: u32,
    inc: u32,
    gain: [f32; 2],
}

/// An attack–decay–release envelope, in frames.
#[derive(Debug, Clone, Copy)]
struct Envelope {
    attack: usize,
    /// Per-frame multiplier while held.
    decay: f32,
    release: usize,
}

/// Adds a note, or a whole chord, of oscillators sharing one envelope to
/// `music` (interleaved stereo): starts at frame `start`, note-off after
/// `hold` frames, then releases. Everything past the music's end is dropped.
fn play(
    music: &mut [f32],
    table: &Wavetable,
    start: usize,
    hold: usize,
    env: Envelope,
    oscs: &mut [Osc],
) {
    let mut amp = 0.0f32;
    let attack = env.attack.max(1);
    let mut pos = start;
    let attack_len = attack.min(hold);
    pos = run(
        music,
        table,
        pos,
        attack_len,
        oscs,
        &mut amp,
        1.0,
        1.0 / attack as f32,
    );
    pos = run(
        music,
        table,
        pos,
        hold - attack_len,
        oscs,
        &mut amp,
        env.decay,
        0.0,
    );
    let release = env.release.max(1);
    let step = -amp / release as f32;
    run(music, table, pos, release, oscs, &mut amp, 1.0, step);
}

/// The inner loop: `len` frames from `pos`, `amp = amp·mul + add` per frame.
/// Returns the frame after the run.
#[allow(clippy::too_many_arguments)] // a hot inner loop, kept flat on purpose
#[inline]
fn run(
    music: &mut [f32],
    table: &Wavetable,
    pos: usize,
    len: usize,
    oscs: &mut [Osc],
    amp: &mut f32,
    mul: f32,
    add: f32,
) -> usize {
    let frames = music.len() / 2;
    let end = pos.saturating_add(len).min(frames);
    if pos < end {
        let mut a = *amp;
        for frame in music[pos * 2..end * 2].chunks_exact_mut(2) {
            let (mut left, mut right) = (0.0f32, 0.0f32);
            for osc in oscs.iter_mut() {
                let s = table.at(osc.phase);
                osc.phase = osc.phase.wrapping_add(osc.inc);
                left += s * osc.gain[0];
                right += s * osc.gain[1];
            }
            frame[0] += left * a;
            frame[1] += right * a;
            a = a * mul + add;
        }
        *amp = a;
    }
    pos.saturating_add(len)
}

/// Adds a pre-rendered mono one-shot at `start` with left/right gains.
fn add_shot(music: &mut [f32], shot: &[f32], start: usize, gain: [f32; 2]) {
    let frames = music.len() / 2;
    let end = start.saturating_add(shot.len()).min(frames);
    if start >= end {
        return;
    }
    for (frame, &s) in music[start * 2..end * 2].chunks_exact_mut(2).zip(shot) {
        frame[0] += s * gain[0];
        frame[1] += s * gain[1];
    }
}

/// The drum one-shots for one track, mono, at its sample rate.
struct Drums {
    kick: Vec<f32>,
    snare: Vec<f32>,
    hat: Vec<f32>,
}

impl Drums {
    fn new(sample_rate: f64, tonic: PitchClass, sine: &Wavetable, rng: &mut SplitMix64) -> Self {
        let frames = |s: f64| ((s * sample_rate).round() as usize).max(1);

        // Kick: a sine whose pitch falls from 3× to the tonic (E1..D#2),
        // with a short noise click on top.
        let tonic_hz = midi_to_hz(28 + (i32::from(tonic.index()) - 4).rem_euclid(12));
        let mut kick = Vec::with_capacity(frames(0.45));
        let (sweep_decay, amp_decay) = (
            decay_per_frame(0.03, sample_rate),
            decay_per_frame(0.11, sample_rate),
        );
        let click_decay = decay_per_frame(0.0015, sample_rate);
        let attack = frames(0.002) as f32;
        let (mut phase, mut sweep, mut amp, mut click) = (0u32, 1.0f32, 1.0f32, 0.35f32);
        for i in 0..frames(0.45) {
            let freq = tonic_hz * (1.0 + 2.0 * f64::from(sweep));
            let ramp = (i as f32 / attack).min(1.0);
            kick.push(sine.at(phase) * amp * ramp + rng.bipolar() * click);
            phase = phase.wrapping_add(phase_inc(freq, sample_rate));
            sweep *= sweep_decay;
            amp *= amp_decay;
            click *= click_decay;
        }

        // Snare: a short 190 Hz body plus high-passed noise with a longer tail.
        let body_inc = phase_inc(190.0, sample_rate);
        let (body_decay, noise_decay) = (
            decay_per_frame(0.045, sample_rate),
            decay_per_frame(0.11, sample_rate),
        );
        let hp = highpass_coef(1_200.0, sample_rate);
        let lp = lowpass_coef(7_000.0, sample_rate);
        let mut snare = Vec::with_capacity(frames(0.35));
        let (mut phase, mut body, mut noise) = (0u32, 0.6f32, 1.2f32);
        let (mut x_prev, mut y_hp, mut y_lp) = (0.0f32, 0.0f32, 0.0f32);
        for _ in 0..frames(0.35) {
            let x = rng.bipolar();
            y_hp = hp * (y_hp + x - x_prev);
            x_prev = x;
            y_lp += lp * (y_hp - y_lp);
            snare.push(sine.at(phase) * body + y_lp * noise);
            phase = phase.wrapping_add(body_inc);
            body *= body_decay;
            noise *= noise_decay;
        }

        // Closed hat: noise through two high-pass stages, very short.
        let hp = highpass_coef(6_000.0, sample_rate);
        let decay = decay_per_frame(0.022, sample_rate);
        let mut hat = Vec::with_capacity(frames(0.1));
        let (mut amp, mut x1, mut y1, mut y2) = (1.0f32, 0.0f32, 0.0f32, 0.0f32);
        for _ in 0..frames(0.1) {
            let x = rng.bipolar();
            let y1_prev = y1;
            y1 = hp * (y1 + x - x1);
            x1 = x;
            y2 = hp * (y2 + y1 - y1_prev);
            hat.push(y2 * amp);
            amp *= decay;
        }
        Self { kick, snare, hat }
    }
}

// ---------------------------------------------------------------------------
// Harmony
// ---------------------------------------------------------------------------

/// A chord: root in semitones above the key's tonic, and its tones above the root.
#[derive(Debug, Clone, Copy)]
struct Chord {
    root: i32,
    tones: &'static [i32],
}

/// Tonic major seventh, with the tonic doubled an octave up for weight.
const TONIC_MAJ7: &[i32] = &[0, 4, 7, 11, 12];
/// Tonic minor seventh, with the tonic doubled an octave up for weight.
const TONIC_MIN7: &[i32] = &[0, 3, 7, 10, 12];
const MAJ7: &[i32] = &[0, 4, 7, 11];
const MIN7: &[i32] = &[0, 3, 7, 10];
const DOM7: &[i32] = &[0, 4, 7, 10];

const fn chord(root: i32, tones: &'static [i32]) -> Chord {
    Chord { root, tones }
}

/// Four-bar progressions for major keys; each starts on the tonic.
const MAJOR_PROGRESSIONS: [[Chord; 4]; 3] = [
    // Imaj7 – vi7 – IVmaj7 – V7
    [
        chord(0, TONIC_MAJ7),
        chord(9, MIN7),
        chord(5, MAJ7),
        chord(7, DOM7),
    ],
    // Imaj7 – ii7 – V7 – Imaj7
    [
        chord(0, TONIC_MAJ7),
        chord(2, MIN7),
        chord(7, DOM7),
        chord(0, TONIC_MAJ7),
    ],
    // Imaj7 – IVmaj7 – Imaj7 – V7
    [
        chord(0, TONIC_MAJ7),
        chord(5, MAJ7),
        chord(0, TONIC_MAJ7),
        chord(7, DOM7),
    ],
];

/// Four-bar progressions for minor keys; each starts on the tonic.
const MINOR_PROGRESSIONS: [[Chord; 4]; 3] = [
    // i7 – VImaj7 – iv7 – V7
    [
        chord(0, TONIC_MIN7),
        chord(8, MAJ7),
        chord(5, MIN7),
        chord(7, DOM7),
    ],
    // i7 – iv7 – i7 – V7
    [
        chord(0, TONIC_MIN7),
        chord(5, MIN7),
        chord(0, TONIC_MIN7),
        chord(7, DOM7),
    ],
    // i7 – VImaj7 – i7 – VII7
    [
        chord(0, TONIC_MIN7),
        chord(8, MAJ7),
        chord(0, TONIC_MIN7),
        chord(10, DOM7),
    ],
];

/// The lead's anchor in `chord`, in semitones above the key's tonic
/// (`0..12`): the tonic itself if the chord contains it, else the chord tone
/// nearest to it (the leading tone in a `V7`), ties to the lower.
fn anchor(chord: &Chord) -> i32 {
    let distance = |pc: i32| pc.min(12 - pc);
    chord
        .tones
        .iter()
        .map(|tone| (chord.root + tone).rem_euclid(12))
        .min_by_key(|&pc| (distance(pc), pc))
        .unwrap_or(0)
}

/// The progression for `mode` with `index` (wrapped).
fn progression(mode: Mode, index: usize) -> &'static [Chord; 4] {
    match mode {
        Mode::Major => &MAJOR_PROGRESSIONS[index % MAJOR_PROGRESSIONS.len()],
        Mode::Minor => &MINOR_PROGRESSIONS[index % MINOR_PROGRESSIONS.len()],
    }
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

/// Parts of the seed, one random stream each.
mod part {
    pub const ARRANGEMENT: u64 = 1;
    pub const DRUM_SOUNDS: u64 = 2;
    pub const VINYL_NOISE: u64 = 3;
    pub const VINYL_CLICKS: u64 = 4;
    pub const DITHER: u64 = 5;
}

/// Renders a track: interleaved stereo `f32` (left, right, left, …), exactly
/// `2 × spec.total_frames()` values in `[-1, 1]`, lead and tail exactly zero,
/// music peaking at `min(REFERENCE_PEAK_DBFS + level_db, PEAK_CEILING_DBFS)`
/// dBFS. See the [module docs](self) for the content and guarantees.
pub fn render(spec: &TrackSpec) -> Vec<f32> {
    render_with(spec, None)
}

/// [`render`], optionally forcing the progression (for tests).
fn render_with(spec: &TrackSpec, progression_index: Option<usize>) -> Vec<f32> {
    let timing = Timing::of(spec);
    let mut out = vec![0.0f32; to_usize(timing.total()) * 2];
    let start = to_usize(timing.lead) * 2;
    let end = start + to_usize(timing.music) * 2;
    let music = &mut out[start..end];
    if music.is_empty() {
        return out;
    }
    let mut rng = SplitMix64::stream(spec.seed, part::ARRANGEMENT);
    let index = progression_index.unwrap_or_else(|| rng.below(3));
    let tape_hz = rng.range(6_500.0, 9_500.0);
    play_music(music, spec.key, &timing, index, &mut rng, spec.seed);
    add_clicks(music, &timing, spec.seed);
    finish(music, &timing, spec.level_db, tape_hz, spec.seed);
    out
}

/// Chords, bass and drums.
fn play_music(
    music: &mut [f32],
    key: Key,
    timing: &Timing,
    progression_index: usize,
    rng: &mut SplitMix64,
    seed: u64,
) {
    let sr = f64::from(timing.sample_rate);
    let sine = Wavetable::harmonics(&[(1, 1.0)]);
    let piano = Wavetable::harmonics(&[
        (1, 1.0),
        (2, 0.3),
        (3, 0.08),
        (4, 0.04),
        (5, 0.015),
        (7, 0.01),
    ]);
    let bell = Wavetable::harmonics(&[(1, 1.0), (2, 0.15), (4, 0.04)]);
    let bass = Wavetable::harmonics(&[(1, 1.0), (2, 0.25), (3, 0.05)]);
    let drums = Drums::new(
        sr,
        key.tonic,
        &sine,
        &mut SplitMix64::stream(seed, part::DRUM_SOUNDS),
    );

    let progression = progression(key.mode, progression_index);
    let detune_cents = rng.range(0.6, 0.9);
    let detune_up = det_exp(detune_cents / 1200.0 * LN_2);
    let detune_down = 1.0 / detune_up;
    let half_bar_comp = rng.unit() < 0.5;
    let swing = rng.range(0.54, 0.62); // off-beat eighth position within a beat
    let piano_env = Envelope {
        attack: timing.frames(0.004),
        decay: decay_per_frame(1.8, sr),
        release: timing.frames(0.12),
    };
    let bass_env = Envelope {
        attack: timing.frames(0.015),
        decay: decay_per_frame(0.9, sr),
        release: timing.frames(0.05),
    };
    let lead_env = Envelope {
        attack: timing.frames(0.003),
        decay: decay_per_frame(0.6, sr),
        release: timing.frames(0.08),
    };
    let tonic = i32::from(key.tonic.index());

    for bar in 0..timing.bars {
        let chord = if bar + 1 == timing.bars {
            progression[0]
        } else {
            progression[bar as usize % 4]
        };
        let beat0 = f64::from(bar) * 4.0;
        let root_pc = (tonic + chord.root).rem_euclid(12);

        // Electric piano: root position from E3..D#4.
        let strikes: &[(f64, f64, f32)] = if half_bar_comp {
            &[(0.0, 2.0, 1.0), (2.0, 2.0, 0.6)]
        } else {
            &[(0.0, 4.0, 1.0)]
        };
        let piano_root = 52 + (root_pc - 4).rem_euclid(12);
        for &(at, length, velocity) in strikes {
            let start = timing.frame(beat0 + at);
            let hold = timing.frame(beat0 + at + length) - start;
            // The whole chord in one pass: the notes share the envelope
            // shape, so each note's velocity goes into its gains.
            let mut oscs = Vec::with_capacity(2 * chord.tones.len());
            for &tone in chord.tones {
                let freq = midi_to_hz(piano_root + tone);
                let amp = 0.15 * velocity * (0.9 + 0.1 * rng.unit() as f32);
                let (near, far) = (0.85 * amp, 0.5 * amp);
                oscs.push(Osc {
                    phase: 0,
                    inc: phase_inc(freq * detune_up, sr),
                    gain: [near, far],
                });
                oscs.push(Osc {
                    phase: 0,
                    inc: phase_inc(freq * detune_down, sr),
                    gain: [far, near],
                });
            }
            play(music, &piano, start, hold, piano_env, &mut oscs);
        }

        // Lead: a bell-like motif in C5..B5 on the chord's anchor note
        // (the key's tonic when the chord has it) and the chord's third.
        let anchor = tonic + anchor(&chord);
        let third = tonic + chord.root + chord.tones[1];
        for (at, length, pc, velocity) in [
            (0.0, 0.9, anchor, 1.0f32),
            (1.0, 1.9, third, 0.5),
            (3.0, 0.9, anchor, 0.8),
        ] {
            let start = timing.frame(beat0 + at);
            let hold = timing.frame(beat0 + at + length) - start;
            let freq = midi_to_hz(72 + pc.rem_euclid(12));
            let amp = 0.09 * velocity;
            let osc = Osc {
                phase: 0,
                inc: phase_inc(freq, sr),
                gain: [0.8 * amp, amp],
            };
            play(music, &bell, start, hold, lead_env, &mut [osc]);
        }

        // Bass: chord root from C2..B2.
        let bass_freq = midi_to_hz(36 + root_pc);
        for (at, length, velocity) in [
            (0.0, 1.75, 1.0f32),
            (2.0, 1.0, 0.8),
            (3.0 + swing, 0.35, 0.35),
        ] {
            let start = timing.frame(beat0 + at);
            let hold = timing.frame(beat0 + at + length) - start;
            let amp = 0.5 * velocity;
            let osc = Osc {
                phase: 0,
                inc: phase_inc(bass_freq, sr),
                gain: [amp, amp],
            };
            play(music, &bass, start, hold, bass_env, &mut [osc]);
        }

        // Drums.
        for beat in [0.0, 2.0] {
            let v = 0.8 * rng.range(0.94, 1.0) as f32;
            add_shot(music, &drums.kick, timing.frame(beat0 + beat), [v, v]);
        }
        for beat in [1.0, 3.0] {
            let v = 0.85 * rng.range(0.9, 1.0) as f32;
            add_shot(
                music,
                &drums.snare,
                timing.frame(beat0 + beat),
                [v, 0.85 * v],
            );
        }
        for beat in 0..4 {
            for (offset, accent) in [(0.0, 1.0f32), (swing, 0.65)] {
                let v = 0.13 * accent * rng.range(0.8, 1.0) as f32;
                let at = timing.frame(beat0 + f64::from(beat) + offset);
                add_shot(music, &drums.hat, at, [0.7 * v, v]);
            }
        }
    }
}

/// Vinyl clicks: in each 10 ms block, one click with probability
/// `CLICKS_PER_S / 100`, a few samples of ringing impulse, randomly panned.
fn add_clicks(music: &mut [f32], timing: &Timing, seed: u64) {
    const CLICKS_PER_S: f64 = 3.0;
    let mut clicks = SplitMix64::stream(seed, part::VINYL_CLICKS);
    let frames = music.len() / 2;
    let block = timing.frames(0.01);
    let width = timing.frames(0.0005);
    let ring = decay_per_frame(0.00015, f64::from(timing.sample_rate));
    for block_start in (0..frames).step_by(block) {
        if clicks.unit() >= CLICKS_PER_S / 100.0 {
            continue;
        }
        let at = block_start + clicks.below(block);
        if at >= frames {
            continue;
        }
        let size = 0.01 + 0.07 * (clicks.unit() * clicks.unit()) as f32;
        let sign = if clicks.unit() < 0.5 { 1.0 } else { -1.0 };
        let pan = clicks.unit() as f32;
        let gain = [
            size * sign * (1.0 - 0.6 * pan),
            size * sign * (0.4 + 0.6 * pan),
        ];
        let mut amp = 1.0f32;
        let end = (at + width).min(frames);
        for (k, frame) in music[at * 2..end * 2].chunks_exact_mut(2).enumerate() {
            let s = if k % 2 == 0 { amp } else { -0.6 * amp };
            frame[0] += s * gain[0];
            frame[1] += s * gain[1];
            amp *= ring;
        }
    }
}

/// The last steps, fused into one pass over the music plus a gain pass (the
/// music is the bulk of the work after the oscillators): add the vinyl
/// noise (faint band-passed stereo noise), apply the tape low-pass and the
/// fades while tracking the peak, then scale to the target peak described in
/// the module docs.
fn finish(music: &mut [f32], timing: &Timing, level_db: f64, tape_hz: f64, seed: u64) {
    const NOISE_LEVEL: f32 = 0.006;
    let sr = f64::from(timing.sample_rate);
    let mut noise = SplitMix64::stream(seed, part::VINYL_NOISE);
    let noise_lp = lowpass_coef(3_000.0, sr);
    let noise_hp = highpass_coef(400.0, sr);
    let tape = lowpass_coef(tape_hz, sr);
    // Per channel: noise low-pass y, noise high-pass x_prev and y, tape y.
    let mut state = [[0.0f32; 4]; 2];

    let frames = music.len() / 2;
    let fade = to_usize(timing.fade); // at most frames / 2
    let smoothstep = |i: usize| {
        let x = i as f32 / fade as f32;
        x * x * (3.0 - 2.0 * x)
    };
    let mut peak = 0.0f32;
    for (i, frame) in music.chunks_exact_mut(2).enumerate() {
        let fade_gain = if i < fade {
            smoothstep(i)
        } else if frames - i <= fade {
            smoothstep(frames - 1 - i)
        } else {
            1.0
        };
        for (sample, st) in frame.iter_mut().zip(state.iter_mut()) {
            st[0] += noise_lp * (noise.bipolar() - st[0]);
            st[2] = noise_hp * (st[2] + st[0] - st[1]);
            st[1] = st[0];
            st[3] += tape * (*sample + st[2] * NOISE_LEVEL - st[3]);
            *sample = st[3] * fade_gain;
            peak = peak.max(sample.abs());
        }
    }

    if peak > 0.0 && peak.is_finite() {
        let level = if level_db.is_finite() { level_db } else { 0.0 };
        let target_db = (REFERENCE_PEAK_DBFS + level).min(PEAK_CEILING_DBFS);
        let gain = (db_to_gain(target_db) / f64::from(peak)) as f32;
        for sample in music.iter_mut() {
            *sample *= gain;
        }
    }
}

// ---------------------------------------------------------------------------
// WAV
// ---------------------------------------------------------------------------

/// Writes `samples` (interleaved stereo, as from [`render`]) as a 16-bit PCM
/// stereo WAV at `spec.sample_rate`.
///
/// Each sample is scaled by 32 768, given TPDF dither of ±1 LSB from a
/// generator seeded by `spec.seed`, rounded and clamped to `i16`. Samples
/// that are exactly zero stay exactly zero (no dither), so digital silence
/// survives. The bytes therefore depend only on the spec and the samples.
/// An odd number of samples is an error from hound.
pub fn write_wav<W: Write + Seek>(
    spec: &TrackSpec,
    samples: &[f32],
    out: W,
) -> Result<(), hound::Error> {
    let wav_spec = hound::WavSpec {
        channels: 2,
        sample_rate: spec.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::new(out, wav_spec)?;
    let mut dither = SplitMix64::stream(spec.seed, part::DITHER);
    for &sample in samples {
        let value = if sample == 0.0 {
            0
        } else {
            let tpdf = dither.unit() - dither.unit();
            // NaN rounds and casts to 0; everything else is clamped first.
            (f64::from(sample) * 32_768.0 + tpdf)
                .round()
                .clamp(-32_768.0, 32_767.0) as i16
        };
        writer.write_sample(value)?;
    }
    writer.finalize()
}

// ---------------------------------------------------------------------------
// Catalogs
// ---------------------------------------------------------------------------

const TITLES: [&str; 36] = [
    "Rainy Window",
    "Late Night Ramen",
    "Coffee Steam",
    "Paper Lanterns",
    "Slow Tram Home",
    "Dusty Polaroids",
    "Moss on the Balcony",
    "Sunday Laundry",
    "Kettle Song",
    "Cassette Memories",
    "Streetlight Haze",
    "Snow on Vinyl",
    "Soft Focus",
    "Library Hours",
    "Warm Radiator",
    "Midnight Bus",
    "Faded Postcards",
    "Cat Nap",
    "Plant Shop",
    "Blue Hour",
    "Window Seat",
    "Old Film Grain",
    "Umbrella Walk",
    "Quiet Rooftop",
    "Homework Break",
    "Lazy Afternoon",
    "Foggy Harbour",
    "Matcha Morning",
    "Tape Hiss Lullaby",
    "Night Train",
    "Pillow Fort",
    "Lamplight",
    "Bookshop Cat",
    "Rain on the Skylight",
    "Empty Arcade",
    "Slow Sunrise",
];

const ARTISTS: [&str; 8] = [
    "Mellow Harbour",
    "Dusty Cassette",
    "Sleepy Fox",
    "Night Owl Tapes",
    "Paper Moon Club",
    "Kettle & Rain",
    "Lo Tide",
    "Velvet Static",
];

/// Number of tracks in [`demo_catalog`].
pub const DEMO_TRACKS: usize = 12;

/// Values spread evenly over `[lo, hi)`: one uniformly placed in each of `n`
/// equal strata, in shuffled order.
fn stratified(rng: &mut SplitMix64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut values: Vec<f64> = (0..n)
        .map(|i| lo + (hi - lo) * (i as f64 + rng.unit()) / n as f64)
        .collect();
    rng.shuffle(&mut values);
    values
}

/// The demo station's catalog: [`DEMO_TRACKS`] (12) tracks, deterministic
/// from `seed`.
///
/// - 12 distinct keys; tempos are whole BPM spread over 70–95 (one per
///   ~2 BPM stratum); music about 95–165 s in whole 4-bar phrases, so with
///   silences each track lasts 1.5–3 minutes.
/// - 7 artists: one with 3 tracks, three with 2, three with 1; distinct titles.
/// - `level_db` spread over −5..0 dB; lead silence 0–0.9 s (about a quarter
///   start with none), tail silence 0.3–2 s, fades 1.5–4 s.
/// - 48 kHz except exactly one track at 44.1 kHz.
pub fn demo_catalog(seed: u64) -> Vec<TrackSpec> {
    let mut rng = SplitMix64::stream(seed, 0xDE30);
    let n = DEMO_TRACKS;
    let mut keys = Key::ALL;
    rng.shuffle(&mut keys);
    let tempos = stratified(&mut rng, n, 70.0, 95.0);
    let lengths = stratified(&mut rng, n, 100.0, 160.0);
    let levels = stratified(&mut rng, n, -5.0, 0.0);
    let mut titles = TITLES;
    rng.shuffle(&mut titles);
    let mut artist_names = ARTISTS;
    rng.shuffle(&mut artist_names);
    let mut artists: Vec<&str> = [3, 2, 2, 2, 1, 1, 1]
        .iter()
        .zip(artist_names)
        .flat_map(|(&count, name)| std::iter::repeat_n(name, count))
        .collect();
    rng.shuffle(&mut artists);
    let cd_rate_track = rng.below(n);

    (0..n)
        .map(|i| {
            let bpm = tempos[i].round().clamp(70.0, 95.0);
            // Whole 4-bar phrases nearest the target length.
            let phrases = (lengths[i] * bpm / 960.0).round().max(1.0);
            let lead_silence_ms = if rng.unit() < 0.25 {
                0
            } else {
                rng.range(100.0, 900.0).round() as u32
            };
            TrackSpec {
                title: titles[i].to_owned(),
                artist: artists[i].to_owned(),
                bpm,
                key: keys[i],
                bars: phrases as u32 * 4,
                sample_rate: if i == cd_rate_track { 44_100 } else { 48_000 },
                level_db: (levels[i] * 10.0).round() / 10.0,
                lead_silence_ms,
                tail_silence_ms: rng.range(300.0, 2_000.0).round() as u32,
                fade_ms: rng.range(1_500.0, 4_000.0).round() as u32,
                seed: rng.next_u64(),
            }
        })
        .collect()
}

/// Tracks with known key and tempo for analyzer tests, deterministic from
/// `seed`.
///
/// Track `i` is in key `Key::ALL[(i + offset) % 24]` (offset from the seed),
/// so any `n ≥ 24` covers all 24 keys (`n ≥ 48` covers each twice). Tempos,
/// to 0.1 BPM, are spread evenly over 65–100 BPM (one per stratum of
/// `35 / n` BPM, shuffled so tempo and key are unrelated). Music lasts
/// 30–55 s (whole bars), lead silence 0–0.5 s, tail 0–1 s, fades
/// 0.5–2 s, `level_db` −6..0. Every 8th track (`i % 8 == 7`) is at 44.1 kHz,
/// the rest at 48 kHz. Titles name the truth, e.g. `"GT 07 A minor 83.4 BPM"`.
pub fn ground_truth_catalog(n: usize, seed: u64) -> Vec<TrackSpec> {
    let mut rng = SplitMix64::stream(seed, 0x6A7);
    let offset = rng.below(24);
    let tempos = stratified(&mut rng, n, 65.0, 100.0);
    (0..n)
        .map(|i| {
            let key = Key::ALL[(i + offset) % 24];
            let bpm = ((tempos[i] * 10.0).round() / 10.0).clamp(65.0, 100.0);
            let seconds = rng.range(32.0, 53.0);
            let bars = (seconds * bpm / 240.0).round().max(1.0) as u32;
            TrackSpec {
                title: format!("GT {i:02} {key} {bpm:.1} BPM"),
                artist: "lofiever ground truth".to_owned(),
                bpm,
                key,
                bars,
                sample_rate: if i % 8 == 7 { 44_100 } else { 48_000 },
                level_db: (rng.range(-6.0, 0.0) * 10.0).round() / 10.0,
                lead_silence_ms: rng.range(0.0, 500.0).round() as u32,
                tail_silence_ms: rng.range(0.0, 1_000.0).round() as u32,
                fade_ms: rng.range(500.0, 2_000.0).round() as u32,
                seed: rng.next_u64(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// A short spec at a low sample rate, for fast analysis tests.
    fn short(key: &str, bpm: f64, seed: u64) -> TrackSpec {
        TrackSpec {
            title: format!("test {key} {bpm}"),
            artist: "test".into(),
            bpm,
            key: key.parse().expect("test keys are valid"),
            bars: 8,
            sample_rate: 22_050,
            level_db: 0.0,
            lead_silence_ms: 250,
            tail_silence_ms: 400,
            fade_ms: 500,
            seed,
        }
    }

    fn music_of(spec: &TrackSpec, samples: &[f32]) -> Vec<f32> {
        let lead = spec.lead_frames() as usize;
        let music = spec.music_frames() as usize;
        samples[lead * 2..(lead + music) * 2].to_vec()
    }

    fn mono(stereo: &[f32]) -> Vec<f32> {
        stereo
            .chunks_exact(2)
            .map(|f| 0.5 * (f[0] + f[1]))
            .collect()
    }

    fn peak_dbfs(samples: &[f32]) -> f64 {
        let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        20.0 * f64::from(peak).log10()
    }

    #[test]
    fn length_is_exactly_total_frames() {
        let mut specs = vec![short("A minor", 83.0, 1), short("C# major", 71.3, 2)];
        specs[1].sample_rate = 44_100;
        specs[1].lead_silence_ms = 0;
        specs[1].tail_silence_ms = 0;
        specs[1].fade_ms = 0;
        let mut odd = short("F major", 97.77, 3);
        odd.bars = 3;
        odd.lead_silence_ms = 1;
        odd.tail_silence_ms = 999;
        specs.push(odd);
        for spec in &specs {
            let samples = render(spec);
            assert_eq!(
                samples.len() as u64,
                spec.total_frames() * 2,
                "{}",
                spec.title
            );
            let sr = f64::from(spec.sample_rate);
            let music = (f64::from(spec.bars) * 240.0 * sr / spec.bpm).round() as u64;
            let lead = u64::from(spec.lead_silence_ms) * u64::from(spec.sample_rate) / 1000;
            let tail = u64::from(spec.tail_silence_ms) * u64::from(spec.sample_rate) / 1000;
            assert_eq!(spec.music_frames(), music);
            assert_eq!(spec.total_frames(), lead + music + tail);
        }
        // 8 bars at 90 BPM at 48 kHz is exactly 21.333… s = 1 024 000 frames.
        let mut exact = short("C major", 90.0, 4);
        exact.sample_rate = 48_000;
        exact.lead_silence_ms = 500;
        exact.tail_silence_ms = 0;
        assert_eq!(exact.total_frames(), 24_000 + 1_024_000);
    }

    #[test]
    fn silences_are_exact_zero_and_music_is_not() {
        let spec = short("D minor", 88.0, 7);
        let samples = render(&spec);
        let lead = spec.lead_frames() as usize * 2;
        let tail_start = (spec.lead_frames() + spec.music_frames()) as usize * 2;
        assert!(lead > 0 && tail_start < samples.len());
        assert!(samples[..lead].iter().all(|&s| s == 0.0));
        assert!(samples[tail_start..].iter().all(|&s| s == 0.0));
        let music = music_of(&spec, &samples);
        let rms = (music.iter().map(|s| f64::from(s * s)).sum::<f64>() / music.len() as f64).sqrt();
        assert!(rms > 0.01, "music rms {rms}");
    }

    #[test]
    fn peak_is_below_minus_one_dbfs_and_follows_level() {
        let mut spec = short("G major", 80.0, 11);
        spec.level_db = 0.0;
        let at_reference = peak_dbfs(&render(&spec));
        assert!(
            (at_reference - REFERENCE_PEAK_DBFS).abs() < 0.01,
            "{at_reference}"
        );
        spec.level_db = -4.0;
        let quieter = peak_dbfs(&render(&spec));
        assert!(
            (quieter - (REFERENCE_PEAK_DBFS - 4.0)).abs() < 0.01,
            "{quieter}"
        );
        spec.level_db = 20.0;
        let hot = render(&spec);
        let ceiling = peak_dbfs(&hot);
        assert!(
            ceiling < -1.0 && (ceiling - PEAK_CEILING_DBFS).abs() < 0.01,
            "{ceiling}"
        );
        assert!(hot.iter().all(|s| s.abs() <= 1.0));
    }

    #[test]
    fn rendering_is_deterministic_and_seeded() {
        let spec = short("E minor", 76.0, 42);
        let a = render(&spec);
        assert_eq!(a, render(&spec));
        let other = TrackSpec {
            seed: 43,
            ..spec.clone()
        };
        let b = render(&other);
        assert_eq!(a.len(), b.len());
        assert_ne!(a, b);
    }

    #[test]
    fn fades_ramp_in_and_out() {
        // The fade multiplies the unfaded music (same seed, so the same
        // notes) by a smoothstep, up to the overall normalisation gain.
        let mut spec = short("A# major", 90.0, 5);
        spec.fade_ms = 2_000;
        let faded = mono(&music_of(&spec, &render(&spec)));
        let plain_spec = TrackSpec {
            fade_ms: 0,
            ..spec.clone()
        };
        let plain = mono(&music_of(&plain_spec, &render(&plain_spec)));
        assert_eq!(faded.len(), plain.len());
        let fade = (2.0 * f64::from(spec.sample_rate)) as usize;
        assert_eq!(faded[0], 0.0, "the fade-in starts from silence");
        assert_eq!(faded[faded.len() - 1], 0.0, "the fade-out ends in silence");
        let smoothstep = |x: f64| x * x * (3.0 - 2.0 * x);
        let gain = f64::from(faded[fade + 100]) / f64::from(plain[fade + 100]);
        let n = faded.len();
        for i in (0..fade).step_by(97).filter(|&i| plain[i].abs() > 1e-3) {
            let ratio = f64::from(faded[i]) / f64::from(plain[i]) / gain;
            let want = smoothstep(i as f64 / fade as f64);
            assert!(
                (ratio - want).abs() < 1e-3,
                "fade-in at {i}: {ratio} vs {want}"
            );
        }
        for i in (0..fade)
            .step_by(89)
            .filter(|&i| plain[n - 1 - i].abs() > 1e-3)
        {
            let ratio = f64::from(faded[n - 1 - i]) / f64::from(plain[n - 1 - i]) / gain;
            let want = smoothstep(i as f64 / fade as f64);
            assert!(
                (ratio - want).abs() < 1e-3,
                "fade-out at {i}: {ratio} vs {want}"
            );
        }
        // The middle is untouched apart from the gain.
        for i in (fade..n - fade)
            .step_by(1009)
            .filter(|&i| plain[i].abs() > 1e-3)
        {
            let ratio = f64::from(faded[i]) / f64::from(plain[i]) / gain;
            assert!((ratio - 1.0).abs() < 1e-3, "middle at {i}: {ratio}");
        }
    }

    /// Tempo from the autocorrelation of an energy-flux envelope (30 ms
    /// windows, 10 ms hop, log energy), searched over 50–130 BPM, so neither
    /// half nor double of 65–100 BPM is a candidate.
    fn estimate_bpm(music: &[f32], sample_rate: u32) -> f64 {
        let hop = sample_rate as usize / 100;
        let squares: Vec<f64> = music.iter().map(|s| f64::from(s * s)).collect();
        let hops = squares.len() / hop;
        let energy: Vec<f64> = (0..hops.saturating_sub(3))
            .map(|i| squares[i * hop..(i + 3) * hop].iter().sum::<f64>().ln_1p())
            .collect();
        let flux: Vec<f64> = energy.windows(2).map(|w| (w[1] - w[0]).max(0.0)).collect();
        let score = |lag: usize| -> f64 { flux.iter().zip(&flux[lag..]).map(|(a, b)| a * b).sum() };
        let lags = (6000.0 / 130.0) as usize..=(6000.0 / 50.0) as usize;
        let best = lags
            .max_by(|&a, &b| score(a).total_cmp(&score(b)))
            .expect("non-empty lag range");
        // Parabolic refinement around the best lag.
        let (l, c, r) = (score(best - 1), score(best), score(best + 1));
        let shift = 0.5 * (l - r) / (l - 2.0 * c + r);
        6000.0 / (best as f64 + if shift.is_finite() { shift } else { 0.0 })
    }

    #[test]
    fn the_beat_shows_in_the_energy_envelope() {
        for (key, bpm, seed) in [
            ("A minor", 72.0, 1),
            ("F major", 94.0, 2),
            ("C# minor", 65.5, 3),
        ] {
            let spec = short(key, bpm, seed);
            let music = mono(&music_of(&spec, &render(&spec)));
            let found = estimate_bpm(&music, spec.sample_rate);
            assert!(
                (found - bpm).abs() / bpm < 0.02,
                "{key} at {bpm} BPM: found {found}"
            );
        }
    }

    /// Chroma energy over C3..B5 from Hann-windowed 0.5 s Goertzel frames.
    fn chroma(music: &[f32], sample_rate: u32) -> [f64; 12] {
        let sr = f64::from(sample_rate);
        let n = sample_rate as usize / 2;
        let window: Vec<f64> = (0..n)
            .map(|i| 0.5 - 0.5 * (TAU * i as f64 / n as f64).cos())
            .collect();
        let mut chroma = [0.0; 12];
        for frame in music.chunks_exact(n) {
            for note in 48..84 {
                let coef = 2.0 * (TAU * midi_to_hz(note) / sr).cos();
                let (mut s1, mut s2) = (0.0f64, 0.0f64);
                for (x, w) in frame.iter().zip(&window) {
                    let s0 = f64::from(*x) * w + coef * s1 - s2;
                    s2 = s1;
                    s1 = s0;
                }
                chroma[note as usize % 12] += s1 * s1 + s2 * s2 - coef * s1 * s2;
            }
        }
        chroma
    }

    /// The best of the 24 Krumhansl–Kessler key correlations (the
    /// analyzer's profiles, applied to this test's own chroma).
    fn detect_key(chroma: &[f64; 12]) -> Key {
        let scores = crate::analyze::key::scores(chroma);
        (0..24)
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .map(|i| Key::ALL[i])
            .expect("there are 24 keys")
    }

    #[test]
    fn tonic_has_the_most_chroma_energy_and_the_key_is_detected() {
        // Every key, every progression.
        let cases: Vec<(Key, usize)> = Key::all()
            .flat_map(|k| (0..3).map(move |p| (k, p)))
            .collect();
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|&(key, progression)| {
                // 11 025 Hz keeps this fast and still holds every partial
                // the chroma looks at (C3..B5).
                let spec = TrackSpec {
                    sample_rate: 11_025,
                    ..short(
                        &key.name(),
                        70.0 + (key.index() as f64),
                        key.index() as u64 * 3 + progression as u64,
                    )
                };
                let samples = render_with(&spec, Some(progression));
                let chroma = chroma(&mono(&music_of(&spec, &samples)), spec.sample_rate);
                let loudest = (0..12)
                    .max_by(|&a, &b| chroma[a].total_cmp(&chroma[b]))
                    .expect("12 classes");
                let detected = detect_key(&chroma);
                (loudest != key.tonic.index() as usize || detected != key).then(|| {
                    format!(
                        "{key} progression {progression}: loudest {}, detected {detected}",
                        PitchClass::ALL[loudest]
                    )
                })
            })
            .collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn demo_catalog_meets_its_ranges() {
        assert_eq!(demo_catalog(2026), demo_catalog(2026), "deterministic");
        assert_ne!(demo_catalog(2026), demo_catalog(2027), "seeded");
        for seed in 0..64 {
            check_demo_catalog(&demo_catalog(seed));
        }
    }

    fn check_demo_catalog(catalog: &[TrackSpec]) {
        assert_eq!(catalog.len(), DEMO_TRACKS);
        let keys: BTreeSet<Key> = catalog.iter().map(|t| t.key).collect();
        assert_eq!(keys.len(), DEMO_TRACKS, "distinct keys");
        let titles: BTreeSet<&str> = catalog.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles.len(), DEMO_TRACKS, "distinct titles");
        let mut per_artist: BTreeMap<&str, usize> = BTreeMap::new();
        for t in catalog {
            *per_artist.entry(t.artist.as_str()).or_default() += 1;
        }
        assert!(per_artist.len() >= 5, "{per_artist:?}");
        assert!(
            per_artist.values().filter(|&&c| c >= 2).count() >= 2,
            "{per_artist:?}"
        );
        let bpms: Vec<f64> = catalog.iter().map(|t| t.bpm).collect();
        assert!(bpms.iter().all(|b| (70.0..=95.0).contains(b)), "{bpms:?}");
        let (lo, hi) = (
            bpms.iter().copied().fold(f64::MAX, f64::min),
            bpms.iter().copied().fold(0.0, f64::max),
        );
        assert!(lo <= 73.0 && hi >= 92.0, "spread {lo}..{hi}");
        for t in catalog {
            t.validate().expect("demo specs are valid");
            let secs = t.duration_secs();
            assert!((90.0..=180.0).contains(&secs), "{}: {secs} s", t.title);
            assert_eq!(t.bars % 4, 0, "{}: whole phrases", t.title);
        }
        let levels: Vec<f64> = catalog.iter().map(|t| t.level_db).collect();
        let spread = levels.iter().copied().fold(f64::MIN, f64::max)
            - levels.iter().copied().fold(f64::MAX, f64::min);
        assert!(
            spread >= 2.0 && levels.iter().all(|l| (-5.0..=0.0).contains(l)),
            "{levels:?}"
        );
        let cd_rate = catalog.iter().filter(|t| t.sample_rate == 44_100).count();
        let studio_rate = catalog.iter().filter(|t| t.sample_rate == 48_000).count();
        assert_eq!((cd_rate, studio_rate), (1, DEMO_TRACKS - 1));
    }

    #[test]
    fn ground_truth_catalog_covers_keys_and_tempos() {
        for (n, seed) in [40, 48, 100]
            .into_iter()
            .flat_map(|n| (0..16).map(move |s| (n, s)))
        {
            let catalog = ground_truth_catalog(n, seed);
            assert_eq!(catalog.len(), n);
            assert_eq!(catalog, ground_truth_catalog(n, seed));
            let keys: BTreeSet<Key> = catalog.iter().map(|t| t.key).collect();
            assert_eq!(keys.len(), 24);
            let bpms: Vec<f64> = catalog.iter().map(|t| t.bpm).collect();
            assert!(bpms.iter().all(|b| (65.0..=100.0).contains(b)), "{bpms:?}");
            let lo = bpms.iter().copied().fold(f64::MAX, f64::min);
            let hi = bpms.iter().copied().fold(0.0, f64::max);
            assert!(lo < 66.0 && hi > 99.0, "spread {lo}..{hi}");
            // Every 5 BPM band is used.
            for band in 0..7 {
                let b0 = 65.0 + 5.0 * f64::from(band);
                assert!(bpms.iter().any(|b| (b0..b0 + 5.0).contains(b)), "band {b0}");
            }
            for t in &catalog {
                t.validate().expect("ground-truth specs are valid");
                let secs = t.duration_secs();
                assert!((28.0..=60.0).contains(&secs), "{}: {secs} s", t.title);
            }
            assert!(catalog.iter().any(|t| t.sample_rate == 44_100));
        }
    }

    #[test]
    fn wav_round_trips_with_dither_and_exact_silence() {
        let spec = short("B minor", 85.0, 77);
        let samples = render(&spec);
        let mut bytes = std::io::Cursor::new(Vec::new());
        write_wav(&spec, &samples, &mut bytes).expect("writing to memory works");
        let mut again = std::io::Cursor::new(Vec::new());
        write_wav(&spec, &samples, &mut again).expect("writing to memory works");
        assert_eq!(
            bytes.get_ref(),
            again.get_ref(),
            "bytes depend only on the spec"
        );

        let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes.into_inner()))
            .expect("our WAV parses");
        let wav = reader.spec();
        assert_eq!(
            (wav.channels, wav.sample_rate, wav.bits_per_sample),
            (2, spec.sample_rate, 16)
        );
        let decoded: Vec<i16> = reader
            .samples::<i16>()
            .collect::<Result<_, _>>()
            .expect("samples decode");
        assert_eq!(decoded.len(), samples.len());
        let lead = spec.lead_frames() as usize * 2;
        assert!(
            decoded[..lead].iter().all(|&s| s == 0),
            "lead silence survives dither"
        );
        for (&d, &s) in decoded.iter().zip(&samples) {
            let error = f64::from(d) - f64::from(s) * 32_768.0;
            assert!(error.abs() <= 1.5, "{d} vs {s}");
        }
        // Different seed, different dither.
        let other = TrackSpec {
            seed: 78,
            ..spec.clone()
        };
        let mut third = std::io::Cursor::new(Vec::new());
        write_wav(&other, &samples, &mut third).expect("writing to memory works");
        assert_ne!(again.get_ref(), third.get_ref());
    }

    #[test]
    fn bad_specs_are_reported_and_still_render_to_length() {
        let good = short("C major", 90.0, 1);
        assert_eq!(good.validate(), Ok(()));
        let cases = [
            TrackSpec {
                bpm: f64::NAN,
                ..good.clone()
            },
            TrackSpec {
                bpm: 0.0,
                ..good.clone()
            },
            TrackSpec {
                sample_rate: 0,
                ..good.clone()
            },
            TrackSpec {
                bars: 0,
                ..good.clone()
            },
            TrackSpec {
                level_db: f64::INFINITY,
                ..good.clone()
            },
            TrackSpec {
                fade_ms: u32::MAX,
                bars: 1,
                ..good.clone()
            },
        ];
        for spec in &cases {
            let err = spec.validate().expect_err("case is invalid");
            assert!(err.to_string().contains(&spec.title), "{err}");
            let samples = render(spec);
            assert_eq!(samples.len() as u64, spec.total_frames() * 2, "{err}");
            assert!(
                samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0),
                "{err}"
            );
        }
        let err = cases[0].validate().expect_err("NaN bpm");
        assert_eq!(err.field, "bpm");
    }

    #[test]
    fn deterministic_maths_matches_std() {
        for i in -200..200 {
            let x = f64::from(i) * 0.173;
            assert!((det_sin(x) - x.sin()).abs() < 1e-13, "sin {x}");
            assert!(
                (det_exp(x / 10.0) / (x / 10.0).exp() - 1.0).abs() < 1e-13,
                "exp {x}"
            );
        }
        assert!((midi_to_hz(69) - 440.0).abs() < 1e-9);
        assert!((midi_to_hz(60) - 261.625_565).abs() < 1e-5);
        assert!((db_to_gain(-6.0) - 0.501_187).abs() < 1e-6);
    }
}
