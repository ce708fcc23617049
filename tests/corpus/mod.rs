//! The labelled corpus: realistic pieces composed by code at a known key,
//! mode and tempo, played by real sampled instruments (the General MIDI
//! SoundFont of Debian's `fluid-soundfont-gm`, through the rustysynth
//! SoundFont synthesiser), then put through what lo-fi production does to
//! a recording: side-chain pumping, tape wow, a low-pass, vinyl crackle and
//! hiss.
//!
//! Every piece is a pure function of its seed ([`Piece::compose`]): style
//! (lo-fi hip-hop, jazz, ambient, orchestral), key and mode, tempo, chord
//! progression (sevenths and ninths), voicings, bass line, melody, drums
//! with swing and human timing (jitter and velocity), a drumless intro, a
//! tempo drift, sometimes a key change for the last bars, and the effects.
//! The label of a piece is its key (the key of most of its bars) and its
//! mean tempo; a beatless piece (pads only) has no tempo label.
//!
//! Audio is cached by seed and generator version under
//! `target/lofiever-corpus/`, so a test that needs a small seeded subset
//! builds it once, and the bench builds all of it in parallel. The labels
//! are written beside the audio as `labels.csv`.
//!
//! Shared by `benches/curation.rs` and `tests/it/curation.rs` (included by
//! path), so both measure the same pieces.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

/// Bumped whenever a seed would compose or render differently.
pub const GENERATOR_VERSION: u32 = 1;
/// The sample rate the pieces are written at (a CD-rate file, resampled by
/// the analyzer like most real catalogs).
pub const RATE: u32 = 44_100;
/// Seeds the analyzer was tuned on (never reported).
pub const TUNING_SEEDS: std::ops::Range<u64> = 10_000..10_120;
/// Seeds the figures are reported on (the bench: all of them).
pub const REPORT_SEEDS: std::ops::Range<u64> = 0..240;
/// Where the GM SoundFont lives on Debian (`fluid-soundfont-gm`).
pub const DEFAULT_SOUNDFONT: &str = "/usr/share/sounds/sf2/FluidR3_GM.sf2";

/// Musical style of a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    LoFi,
    Jazz,
    Ambient,
    Orchestral,
}

impl Style {
    pub fn name(self) -> &'static str {
        match self {
            Style::LoFi => "lofi",
            Style::Jazz => "jazz",
            Style::Ambient => "ambient",
            Style::Orchestral => "orchestral",
        }
    }
}

/// The labels and the production choices of one piece.
#[derive(Debug, Clone)]
pub struct Piece {
    pub seed: u64,
    pub style: Style,
    /// Tonic pitch class (0 = C) and mode of most of the piece.
    pub tonic: u8,
    pub minor: bool,
    /// Mean tempo over the piece, BPM; `None` for a beatless piece.
    pub tempo: Option<f64>,
    /// Nominal tempo the piece starts from.
    pub start_bpm: f64,
    /// Relative tempo change from first to last bar (e.g. 0.03).
    pub drift: f64,
    /// Swing: where the off-beat eighth falls (0.5 straight, 0.66 triplet).
    pub swing: f64,
    /// Humanised timing, standard deviation in seconds.
    pub jitter: f64,
    pub bars: u32,
    /// Bars at the start without drums.
    pub intro_bars: u32,
    /// Semitones the last `modulated_bars` bars move by (0 = none).
    pub key_change: i32,
    pub modulated_bars: u32,
    pub pumping: f64,
    /// Wow depth as relative pitch deviation (e.g. 0.003).
    pub wow: f64,
    /// Low-pass corner, Hz (0 = none).
    pub lowpass_hz: f64,
    /// Crackle clicks per second (0 = none).
    pub crackle: f64,
    pub beatless: bool,
}

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xC0FF_EE00_D15C_0000)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.f()
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.f() * n as f64) as usize % n.max(1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    /// Roughly normal (sum of four uniforms), mean 0, sd 1.
    pub fn normal(&mut self) -> f64 {
        (self.f() + self.f() + self.f() + self.f() - 2.0) * 1.732
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const MAJOR: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];

/// Semitone of scale degree `d` (any integer; octaves wrap) above the tonic.
fn degree(minor: bool, d: i32) -> i32 {
    let scale = if minor { &MINOR } else { &MAJOR };
    let oct = d.div_euclid(7);
    scale[d.rem_euclid(7) as usize] + 12 * oct
}

/// A chord on scale degree `root`: `size` notes stacked in thirds, as
/// semitones above the tonic. In minor, the V chord takes the raised
/// seventh (harmonic minor) when `leading` is set.
fn chord(minor: bool, root: i32, size: usize, leading: bool) -> Vec<i32> {
    (0..size)
        .map(|i| {
            let d = root + 2 * i as i32;
            let mut s = degree(minor, d);
            if minor && leading && root.rem_euclid(7) == 4 && d.rem_euclid(7) == 6 {
                s += 1;
            }
            s
        })
        .collect()
}

impl Piece {
    /// The piece of `seed`.
    pub fn compose(seed: u64) -> Piece {
        let mut r = Rng::new(seed);
        let style = *r.pick(&[
            Style::LoFi,
            Style::LoFi,
            Style::Jazz,
            Style::Ambient,
            Style::Orchestral,
        ]);
        let tonic = r.below(12) as u8;
        let minor = r.chance(match style {
            Style::LoFi => 0.55,
            Style::Jazz => 0.35,
            Style::Ambient => 0.5,
            Style::Orchestral => 0.5,
        });
        let start_bpm = match style {
            Style::LoFi => r.range(62.0, 96.0),
            Style::Jazz => r.range(84.0, 160.0),
            Style::Ambient => r.range(60.0, 100.0),
            Style::Orchestral => r.range(66.0, 132.0),
        };
        let drift = if r.chance(0.3) {
            r.range(-0.04, 0.04)
        } else {
            0.0
        };
        let swing = match style {
            Style::LoFi => r.range(0.5, 0.64),
            Style::Jazz => r.range(0.6, 0.67),
            _ => 0.5,
        };
        let jitter = match style {
            Style::Orchestral | Style::Ambient => r.range(0.006, 0.018),
            _ => r.range(0.003, 0.014),
        };
        let beat_s = 60.0 / start_bpm;
        let bars = ((r.range(30.0, 40.0) / (4.0 * beat_s)).round() as u32).max(6);
        let beatless = style == Style::Ambient && r.chance(0.35);
        let intro_bars = if matches!(style, Style::LoFi | Style::Jazz) && r.chance(0.4) {
            *r.pick(&[1u32, 2, 2, 4])
        } else {
            0
        };
        let (key_change, modulated_bars) = if r.chance(0.15) {
            (*r.pick(&[2, -2, 5, 3, 1]), (bars / 4).max(1))
        } else {
            (0, 0)
        };
        let lofi_fx = style == Style::LoFi || r.chance(0.3);
        let pumping = if style == Style::LoFi && !beatless && r.chance(0.6) {
            r.range(0.2, 0.5)
        } else {
            0.0
        };
        let wow = if lofi_fx && r.chance(0.7) {
            r.range(0.001, 0.005)
        } else {
            0.0
        };
        let lowpass_hz = if lofi_fx && r.chance(0.8) {
            r.range(2_500.0, 8_000.0)
        } else {
            0.0
        };
        let crackle = if lofi_fx && r.chance(0.7) {
            r.range(2.0, 25.0)
        } else {
            0.0
        };
        // Mean tempo over the bars (beat-weighted, linear drift): the mean
        // of the per-beat tempo.
        let tempo = (!beatless).then_some(start_bpm * (1.0 + drift / 2.0));
        Piece {
            seed,
            style,
            tonic,
            minor,
            tempo,
            start_bpm,
            drift,
            swing,
            jitter,
            bars,
            intro_bars,
            key_change,
            modulated_bars,
            pumping,
            wow,
            lowpass_hz,
            crackle,
            beatless,
        }
    }

    /// The label key as lofiever names keys, e.g. "A minor".
    pub fn key_name(&self) -> String {
        const NAMES: [&str; 12] = [
            "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
        ];
        format!(
            "{} {}",
            NAMES[usize::from(self.tonic)],
            if self.minor { "minor" } else { "major" }
        )
    }

    pub fn file_name(&self) -> String {
        format!(
            "g{GENERATOR_VERSION}-{:05}-{}.wav",
            self.seed,
            self.style.name()
        )
    }
}

/// One timed MIDI event.
#[derive(Debug, Clone, Copy)]
struct Event {
    t: f64,
    /// 0 = music synth, 1 = drum synth.
    synth: u8,
    channel: i32,
    command: i32,
    d1: i32,
    d2: i32,
}

struct Score {
    events: Vec<Event>,
    /// Kick times, for the side-chain.
    kicks: Vec<f64>,
    length: f64,
}

impl Score {
    fn note(&mut self, synth: u8, ch: i32, t: f64, dur: f64, key: i32, vel: i32) {
        let t = t.max(0.0);
        let key = key.clamp(0, 127);
        let vel = vel.clamp(1, 127);
        self.events.push(Event {
            t,
            synth,
            channel: ch,
            command: 0x90,
            d1: key,
            d2: vel,
        });
        self.events.push(Event {
            t: t + dur.max(0.02),
            synth,
            channel: ch,
            command: 0x80,
            d1: key,
            d2: 0,
        });
    }
    fn program(&mut self, ch: i32, program: i32) {
        self.events.push(Event {
            t: 0.0,
            synth: 0,
            channel: ch,
            command: 0xC0,
            d1: program,
            d2: 0,
        });
    }
    fn cc(&mut self, synth: u8, ch: i32, control: i32, value: i32) {
        self.events.push(Event {
            t: 0.0,
            synth,
            channel: ch,
            command: 0xB0,
            d1: control,
            d2: value,
        });
    }
}

/// Instruments (GM programs, 0-based) for a style: chords, bass, melody, extra.
fn instruments(style: Style, r: &mut Rng) -> [i32; 4] {
    match style {
        Style::LoFi => [
            *r.pick(&[4, 5, 0, 2, 11]),
            *r.pick(&[33, 32, 34, 38]),
            *r.pick(&[11, 73, 26, 24, 65, 12]),
            89,
        ],
        Style::Jazz => [*r.pick(&[0, 4, 1]), 32, *r.pick(&[66, 56, 65, 11, 71]), 26],
        Style::Ambient => [
            *r.pick(&[89, 88, 91, 94, 95]),
            *r.pick(&[39, 42, 89]),
            *r.pick(&[8, 46, 98, 10]),
            *r.pick(&[48, 49, 52]),
        ],
        Style::Orchestral => [
            *r.pick(&[48, 49]),
            *r.pick(&[43, 42]),
            *r.pick(&[73, 68, 71, 60, 40]),
            45,
        ],
    }
}

/// Chord progressions as scale degrees (0-based), by style and mode.
fn progression(style: Style, minor: bool, r: &mut Rng) -> Vec<i32> {
    let options: &[&[i32]] = match (style, minor) {
        (Style::LoFi, false) => &[&[1, 4, 0, 0], &[0, 5, 1, 4], &[3, 2, 1, 0], &[0, 3, 2, 5]],
        (Style::LoFi, true) => &[&[0, 3, 6, 2], &[0, 5, 3, 4], &[1, 4, 0, 0], &[0, 6, 5, 4]],
        (Style::Jazz, false) => &[&[1, 4, 0, 5], &[0, 5, 1, 4], &[2, 5, 1, 4], &[3, 4, 2, 5]],
        (Style::Jazz, true) => &[&[1, 4, 0, 0], &[0, 3, 1, 4], &[0, 5, 1, 4]],
        (Style::Ambient, false) => &[&[0, 3], &[0, 5, 3, 0], &[0, 4, 5, 3]],
        (Style::Ambient, true) => &[&[0, 5], &[0, 3, 5, 6], &[0, 6, 5, 3]],
        (Style::Orchestral, false) => &[&[0, 3, 4, 0], &[0, 5, 3, 4], &[0, 4, 5, 3]],
        (Style::Orchestral, true) => &[&[0, 3, 4, 0], &[0, 5, 2, 6], &[0, 6, 5, 4]],
    };
    r.pick(options).to_vec()
}

/// The notes of a piece, timed.
fn score(p: &Piece) -> Score {
    let mut r = Rng::new(p.seed ^ 0x5C0_4E00);
    let inst = instruments(p.style, &mut r);
    let prog = progression(p.style, p.minor, &mut r);
    let mut s = Score {
        events: Vec::new(),
        kicks: Vec::new(),
        length: 0.0,
    };
    for (ch, &program) in inst.iter().enumerate() {
        s.program(ch as i32, program);
    }
    // Channel volumes and pans.
    let vols = match p.style {
        Style::LoFi => [92, 100, 80, 40],
        Style::Jazz => [90, 100, 95, 60],
        Style::Ambient => [105, 70, 80, 70],
        Style::Orchestral => [100, 95, 90, 85],
    };
    for (ch, v) in vols.iter().enumerate() {
        s.cc(0, ch as i32, 7, *v);
        s.cc(0, ch as i32, 10, [52, 64, 80, 40][ch]);
        s.cc(
            0,
            ch as i32,
            91,
            if p.style == Style::Ambient { 90 } else { 45 },
        );
    }
    s.cc(1, 9, 7, 110);
    s.cc(1, 9, 91, 20);

    let beats = p.bars * 4;
    // Beat onsets, with the tempo drifting linearly over the piece.
    let mut beat_t = Vec::with_capacity(beats as usize + 1);
    let mut t = r.range(0.05, 0.4);
    for b in 0..=beats {
        beat_t.push(t);
        let bpm = p.start_bpm * (1.0 + p.drift * f64::from(b) / f64::from(beats.max(1)));
        t += 60.0 / bpm;
    }
    let at = |beat: f64| -> f64 {
        let i = (beat.floor() as usize).min(beats as usize - 1);
        let f = beat - i as f64;
        beat_t[i] + f * (beat_t[i + 1] - beat_t[i])
    };
    // Position `sub` eighth within a beat, with swing.
    let swung = |beat: u32, eighth: u32| -> f64 {
        let frac = if eighth == 0 { 0.0 } else { p.swing };
        at(f64::from(beat) + frac)
    };
    let jitter = p.jitter;
    let human = |r: &mut Rng| r.normal() * jitter;
    let chord_size = match p.style {
        Style::LoFi | Style::Jazz => *r.pick(&[4usize, 4, 5]),
        Style::Ambient => *r.pick(&[3usize, 4, 5]),
        Style::Orchestral => 3,
    };
    let bars_per_chord = match p.style {
        Style::Ambient => 2,
        _ => 1,
    };
    let base = 60 + i32::from(p.tonic);
    let base = if base > 66 { base - 12 } else { base };

    for bar in 0..p.bars {
        let shift = if bar >= p.bars - p.modulated_bars {
            p.key_change
        } else {
            0
        };
        let tonic = base + shift;
        let root = prog[((bar / bars_per_chord) as usize) % prog.len()];
        let notes = chord(p.minor, root, chord_size, true);
        let b0 = bar * 4;
        // Voicing: drop notes into a compact range around the tonic.
        let voiced: Vec<i32> = notes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut k = tonic + n;
                while k > tonic + 10 {
                    k -= 12;
                }
                if i == 0 {
                    k -= 12 * i32::from(p.style == Style::Jazz);
                }
                k
            })
            .collect();
        // Chords.
        match p.style {
            Style::LoFi | Style::Ambient | Style::Orchestral => {
                let (starts, dur): (Vec<f64>, f64) = match p.style {
                    Style::LoFi => {
                        if r.chance(0.5) {
                            (vec![0.0], 3.8)
                        } else {
                            (vec![0.0, 2.5], 1.4)
                        }
                    }
                    Style::Ambient => {
                        if bar % bars_per_chord == 0 {
                            (vec![0.0], 7.8)
                        } else {
                            (vec![], 0.0)
                        }
                    }
                    _ => (vec![0.0, 2.0], 1.9),
                };
                for st in starts {
                    let t0 = at(f64::from(b0) + st);
                    let t1 = at((f64::from(b0) + st + dur).min(f64::from(beats)));
                    for &k in &voiced {
                        let roll = if p.style == Style::LoFi {
                            r.range(0.0, 0.03)
                        } else {
                            0.0
                        };
                        let v = 62 + r.below(20) as i32;
                        s.note(0, 0, t0 + roll + human(&mut r), t1 - t0, k, v);
                    }
                }
            }
            Style::Jazz => {
                // Comping: short stabs on swung off-beats.
                for beat in 0..4 {
                    if r.chance(0.45) {
                        let eighth = u32::from(r.chance(0.6));
                        let t0 = swung(b0 + beat, eighth) + human(&mut r);
                        let d = 60.0 / p.start_bpm * r.range(0.3, 0.9);
                        for &k in &voiced {
                            s.note(0, 0, t0, d, k, 55 + r.below(25) as i32);
                        }
                    }
                }
            }
        }
        // Bass.
        let bass_root = tonic + degree(p.minor, root) - 24;
        let bass_root = if bass_root < 33 {
            bass_root + 12
        } else {
            bass_root
        };
        let beat_s = at(f64::from(b0) + 1.0) - at(f64::from(b0));
        match p.style {
            Style::LoFi => {
                let pattern: &[(f64, i32)] = r.pick::<&[(f64, i32)]>(&[
                    &[(0.0, 0), (2.5, 0)][..],
                    &[(0.0, 0), (1.5, 7), (2.0, 0), (3.5, 12)][..],
                    &[(0.0, 0), (2.0, 0), (3.0, 7)][..],
                ]);
                for &(pos, iv) in pattern {
                    let beat = b0 + pos.floor() as u32;
                    let t0 = swung(beat, u32::from(pos.fract() > 0.0)) + human(&mut r);
                    s.note(
                        0,
                        1,
                        t0,
                        beat_s * 0.9,
                        bass_root + iv,
                        85 + r.below(20) as i32,
                    );
                }
            }
            Style::Jazz => {
                // Walking: root, then scale/chord tones toward the next root.
                for beat in 0..4u32 {
                    let d = match beat {
                        0 => 0,
                        _ => *r.pick(&[2, 4, 1, 3, -1, 5]),
                    };
                    let k = tonic + degree(p.minor, root + d) - 24;
                    let k = if k < 31 { k + 12 } else { k };
                    let t0 = at(f64::from(b0 + beat)) + human(&mut r);
                    s.note(0, 1, t0, beat_s * 0.85, k, 80 + r.below(25) as i32);
                }
            }
            Style::Ambient => {
                if bar % bars_per_chord == 0 {
                    let t0 = at(f64::from(b0));
                    s.note(0, 1, t0, beat_s * 7.5, bass_root, 70);
                }
            }
            Style::Orchestral => {
                // Pizzicato ostinato on eighths (channel 3), bowed bass on 1.
                s.note(
                    0,
                    1,
                    at(f64::from(b0)) + human(&mut r),
                    beat_s * 3.8,
                    bass_root,
                    80,
                );
                for e in 0..8u32 {
                    let pos = f64::from(b0) + f64::from(e) * 0.5;
                    let k = tonic + [0, 7, 12, 7][(e % 4) as usize] + degree(p.minor, root) - 12;
                    s.note(
                        0,
                        3,
                        at(pos) + human(&mut r),
                        beat_s * 0.4,
                        k,
                        60 + r.below(25) as i32 + if e % 2 == 0 { 10 } else { 0 },
                    );
                }
            }
        }
        // Ambient: arpeggio pulse unless beatless (channel 3).
        if p.style == Style::Ambient && !p.beatless {
            for e in 0..8u32 {
                if r.chance(0.85) {
                    let pos = f64::from(b0) + f64::from(e) * 0.5;
                    let k = voiced[(e as usize) % voiced.len()] + 12;
                    s.note(
                        0,
                        2,
                        at(pos) + human(&mut r),
                        beat_s * 0.6,
                        k,
                        55 + r.below(20) as i32,
                    );
                }
            }
        }
        // Melody (not in the intro's first bar; ambient's arpeggio stands in).
        if p.style != Style::Ambient && bar >= p.intro_bars.min(1) && r.chance(0.8) {
            let mut pos: f64 = 0.0;
            while pos < 4.0 {
                let step: f64 = *r.pick(&[0.5, 0.5, 1.0, 1.0, 1.5, 2.0]);
                if r.chance(0.75) {
                    let on_beat = pos.fract() == 0.0;
                    let d = if on_beat {
                        root + 2 * r.below(3) as i32
                    } else {
                        r.below(7) as i32
                    };
                    let k = tonic + 12 + degree(p.minor, d).rem_euclid(12);
                    let beat = b0 + pos.floor() as u32;
                    let t0 = swung(beat, u32::from(pos.fract() > 0.0)) + human(&mut r);
                    s.note(0, 2, t0, beat_s * step * 0.9, k, 70 + r.below(30) as i32);
                }
                pos += step;
            }
        }
        // Drums.
        let drums = bar >= p.intro_bars && matches!(p.style, Style::LoFi | Style::Jazz);
        if drums {
            match p.style {
                Style::LoFi => {
                    let kicks: &[f64] = r.pick::<&[f64]>(&[
                        &[0.0, 2.5][..],
                        &[0.0, 1.5, 2.5][..],
                        &[0.0, 2.0, 2.5][..],
                    ]);
                    for &k in kicks {
                        let t0 = swung(b0 + k as u32, u32::from(k.fract() > 0.0)) + human(&mut r);
                        s.note(1, 9, t0, 0.2, 36, 100 + r.below(27) as i32);
                        s.kicks.push(t0);
                    }
                    for beat in [1u32, 3] {
                        let t0 = at(f64::from(b0 + beat)) + human(&mut r) + 0.01;
                        s.note(
                            1,
                            9,
                            t0,
                            0.2,
                            *r.pick(&[38, 38, 40, 37]),
                            90 + r.below(30) as i32,
                        );
                    }
                    for beat in 0..4u32 {
                        for e in 0..2u32 {
                            if r.chance(0.9) {
                                let t0 = swung(b0 + beat, e) + human(&mut r);
                                let v = if e == 0 { 70 } else { 50 } + r.below(25) as i32;
                                s.note(1, 9, t0, 0.1, if r.chance(0.08) { 46 } else { 42 }, v);
                            }
                        }
                    }
                }
                Style::Jazz => {
                    for beat in 0..4u32 {
                        let t0 = at(f64::from(b0 + beat)) + human(&mut r);
                        s.note(1, 9, t0, 0.3, 51, 70 + r.below(30) as i32);
                        if beat % 2 == 1 {
                            s.note(
                                1,
                                9,
                                swung(b0 + beat, 1) + human(&mut r),
                                0.2,
                                51,
                                55 + r.below(20) as i32,
                            );
                            s.note(1, 9, t0, 0.1, 44, 60 + r.below(20) as i32);
                        }
                        if r.chance(0.25) {
                            s.note(1, 9, t0, 0.2, 36, 45 + r.below(20) as i32);
                        }
                        if r.chance(0.2) {
                            s.note(
                                1,
                                9,
                                swung(b0 + beat, 1) + human(&mut r),
                                0.1,
                                38,
                                35 + r.below(25) as i32,
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        if p.style == Style::Orchestral && bar % 2 == 0 {
            // Timpani on the downbeat (a melodic channel: program 47 on 3 is
            // taken by pizzicato, so use the drum synth's channel 0).
            let t0 = at(f64::from(b0)) + human(&mut r);
            s.note(1, 0, t0, 0.8, tonic - 24, 70 + r.below(30) as i32);
        }
    }
    s.events.push(Event {
        t: 0.0,
        synth: 1,
        channel: 0,
        command: 0xC0,
        d1: 47,
        d2: 0,
    });
    s.length = beat_t[beats as usize] + 2.5;
    s.events.sort_by(|a, b| a.t.total_cmp(&b.t));
    s
}

/// Renders the events of one synth.
fn render_events(
    font: &Arc<SoundFont>,
    events: &[Event],
    synth_id: u8,
    frames: usize,
) -> (Vec<f32>, Vec<f32>) {
    let settings = SynthesizerSettings::new(RATE as i32);
    let mut synth =
        Synthesizer::new(font, &settings).expect("the SoundFont loads into a synthesiser");
    let mut left = vec![0f32; frames];
    let mut right = vec![0f32; frames];
    let mut pos = 0usize;
    for e in events.iter().filter(|e| e.synth == synth_id) {
        let at = ((e.t * f64::from(RATE)) as usize).min(frames);
        if at > pos {
            synth.render(&mut left[pos..at], &mut right[pos..at]);
            pos = at;
        }
        synth.process_midi_message(e.channel, e.command, e.d1, e.d2);
    }
    if pos < frames {
        synth.render(&mut left[pos..], &mut right[pos..]);
    }
    (left, right)
}

/// RBJ low-pass biquad, in place.
fn lowpass(x: &mut [f32], hz: f64) {
    let w = std::f64::consts::TAU * hz / f64::from(RATE);
    let q = 0.707;
    let alpha = w.sin() / (2.0 * q);
    let cw = w.cos();
    let a0 = 1.0 + alpha;
    let b0 = (1.0 - cw) / 2.0 / a0;
    let b1 = (1.0 - cw) / a0;
    let b2 = b0;
    let a1 = -2.0 * cw / a0;
    let a2 = (1.0 - alpha) / a0;
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    for v in x.iter_mut() {
        let x0 = f64::from(*v);
        let y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        x2 = x1;
        x1 = x0;
        y2 = y1;
        y1 = y0;
        *v = y0 as f32;
    }
}

/// Renders a piece to interleaved stereo at [`RATE`].
pub fn render(p: &Piece, font: &Arc<SoundFont>) -> Vec<f32> {
    let s = score(p);
    let frames = (s.length * f64::from(RATE)) as usize;
    let (mut ml, mut mr) = render_events(font, &s.events, 0, frames);
    let (dl, dr) = render_events(font, &s.events, 1, frames);
    let mut r = Rng::new(p.seed ^ 0xEFFEC7);
    // Side-chain pumping: the music ducks under each kick.
    if p.pumping > 0.0 {
        let tau = r.range(0.08, 0.2);
        let mut k = 0usize;
        for i in 0..frames {
            let t = i as f64 / f64::from(RATE);
            while k + 1 < s.kicks.len() && s.kicks[k + 1] <= t {
                k += 1;
            }
            let g = match s.kicks.get(k) {
                Some(&kt) if kt <= t => 1.0 - p.pumping * (-(t - kt) / tau).exp(),
                _ => 1.0,
            } as f32;
            ml[i] *= g;
            mr[i] *= g;
        }
    }
    let mut left: Vec<f32> = ml.iter().zip(&dl).map(|(a, b)| a + b).collect();
    let mut right: Vec<f32> = mr.iter().zip(&dr).map(|(a, b)| a + b).collect();
    // Tape wow: a slowly varying delay (pitch deviation = delay slope).
    if p.wow > 0.0 {
        let f = r.range(0.3, 1.2);
        let depth = p.wow * f64::from(RATE) / (std::f64::consts::TAU * f);
        let phase = r.range(0.0, std::f64::consts::TAU);
        let wow = |ch: &[f32]| -> Vec<f32> {
            (0..frames)
                .map(|i| {
                    let d = depth
                        * (1.0
                            + (std::f64::consts::TAU * f * i as f64 / f64::from(RATE) + phase)
                                .sin());
                    let pos = i as f64 - d;
                    if pos < 0.0 {
                        return 0.0;
                    }
                    let j = pos.floor() as usize;
                    let fr = (pos - j as f64) as f32;
                    let a = ch[j.min(frames - 1)];
                    let b = ch[(j + 1).min(frames - 1)];
                    a + (b - a) * fr
                })
                .collect()
        };
        left = wow(&left);
        right = wow(&right);
    }
    if p.lowpass_hz > 0.0 {
        lowpass(&mut left, p.lowpass_hz);
        lowpass(&mut right, p.lowpass_hz);
    }
    // Normalise to a random peak level, then crackle and hiss on top.
    let peak = left
        .iter()
        .chain(&right)
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(1e-6);
    let gain = (10f64.powf(r.range(-9.0, -1.0) / 20.0) as f32) / peak;
    let hiss = if p.crackle > 0.0 {
        10f64.powf(r.range(-62.0, -48.0) / 20.0) as f32
    } else {
        0.0
    };
    let mut out = Vec::with_capacity(frames * 2);
    let mut click = 0f32;
    let mut hp = (0f32, 0f32);
    for i in 0..frames {
        let mut c = 0f32;
        if p.crackle > 0.0 {
            if r.chance(p.crackle / f64::from(RATE)) {
                click = (r.range(0.02, 0.25) * if r.chance(0.5) { 1.0 } else { -1.0 }) as f32;
            }
            c = click;
            click *= 0.6;
            let n = (r.f() as f32 - 0.5) * hiss;
            // Hiss, a little brighter than white.
            hp.0 = 0.7 * hp.0 + n;
            c += n - 0.5 * hp.0;
        }
        hp.1 = c;
        out.push(left[i] * gain + c);
        out.push(right[i] * gain + hp.1 * 0.9);
    }
    out
}

/// Writes interleaved stereo as a 16-bit WAV.
fn write_wav(path: &Path, samples: &[f32]) -> std::io::Result<()> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let tmp = path.with_extension("wav.part");
    {
        let mut w = hound::WavWriter::create(&tmp, spec).map_err(std::io::Error::other)?;
        for &s in samples {
            let v = (s.clamp(-1.0, 1.0) * 32_767.0).round() as i16;
            w.write_sample(v).map_err(std::io::Error::other)?;
        }
        w.finalize().map_err(std::io::Error::other)?;
    }
    std::fs::rename(&tmp, path)
}

/// The cache folder of the corpus.
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lofiever-corpus")
}

/// Loads the GM SoundFont (`LOFIEVER_SOUNDFONT` or Debian's), with a clear
/// message when it is missing.
pub fn soundfont() -> Arc<SoundFont> {
    let path = std::env::var("LOFIEVER_SOUNDFONT").unwrap_or_else(|_| DEFAULT_SOUNDFONT.into());
    let mut file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}; install the GM SoundFont (apt-get install fluid-soundfont-gm, see ci/setup.sh) or set LOFIEVER_SOUNDFONT")
    });
    Arc::new(SoundFont::new(&mut file).unwrap_or_else(|e| panic!("{path}: not a SoundFont: {e:?}")))
}

/// Builds (or takes from the cache) the pieces of `seeds`, in parallel;
/// returns each piece with its file, and writes their labels beside them
/// as `labels-<set>.csv`.
pub fn build(set: &str, seeds: impl IntoIterator<Item = u64>) -> Vec<(Piece, PathBuf)> {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).expect("create the corpus cache folder");
    let pieces: Vec<Piece> = seeds.into_iter().map(Piece::compose).collect();
    let missing: Vec<&Piece> = pieces
        .iter()
        .filter(|p| !dir.join(p.file_name()).exists())
        .collect();
    if !missing.is_empty() {
        let font = soundfont();
        missing.par_iter().for_each(|p| {
            let samples = render(p, &font);
            write_wav(&dir.join(p.file_name()), &samples).expect("write a corpus piece");
        });
    }
    let mut csv = String::from(
        "file,seed,style,key,tempo_bpm,beatless,start_bpm,drift,swing,jitter_ms,bars,intro_bars,key_change,modulated_bars,pumping,wow,lowpass_hz,crackle_per_s\n",
    );
    for p in &pieces {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{:.3},{:.4},{:.3},{:.1},{},{},{},{},{:.2},{:.4},{:.0},{:.1}\n",
            p.file_name(),
            p.seed,
            p.style.name(),
            p.key_name(),
            p.tempo.map_or(String::new(), |t| format!("{t:.3}")),
            p.beatless,
            p.start_bpm,
            p.drift,
            p.swing,
            p.jitter * 1000.0,
            p.bars,
            p.intro_bars,
            p.key_change,
            p.modulated_bars,
            p.pumping,
            p.wow,
            p.lowpass_hz,
            p.crackle
        ));
    }
    std::fs::write(dir.join(format!("labels-{set}.csv")), csv).expect("write labels.csv");
    pieces
        .into_iter()
        .map(|p| {
            let path = dir.join(p.file_name());
            (p, path)
        })
        .collect()
}

/// MIREX weighted key score of `estimate` against the label: same key 1.0,
/// a fifth above or below in the same mode 0.5, the relative key 0.3, the
/// parallel key 0.2, anything else 0.
pub fn mirex_key_score(label_tonic: u8, label_minor: bool, est_tonic: u8, est_minor: bool) -> f64 {
    let up = (i32::from(est_tonic) - i32::from(label_tonic)).rem_euclid(12);
    if est_minor == label_minor {
        match up {
            0 => 1.0,
            5 | 7 => 0.5,
            _ => 0.0,
        }
    } else if label_minor && up == 3 || !label_minor && up == 9 {
        0.3
    } else if up == 0 {
        0.2
    } else {
        0.0
    }
}

/// Tempo within 4 % of the label.
pub fn acc1(label: f64, est: f64) -> bool {
    est > 0.0 && ((est - label) / label).abs() <= 0.04
}

/// Tempo within 4 % of the label or of its double, triple, half or third.
pub fn acc2(label: f64, est: f64) -> bool {
    [1.0, 2.0, 3.0, 0.5, 1.0 / 3.0]
        .iter()
        .any(|m| acc1(label * m, est))
}

/// One analysed piece beside its label.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub piece: Piece,
    pub key_score: f64,
    pub key_confidence: f64,
    /// (acc1, acc2), for pieces with a tempo label.
    pub tempo: Option<(bool, bool)>,
    pub tempo_bpm: f64,
    pub tempo_confidence: f64,
    pub key: String,
}

impl Outcome {
    /// One line for a person tuning the analyzer: the piece, its labels,
    /// what was estimated and how sure.
    pub fn line(&self) -> String {
        let o = self;
        format!(
            "{:5} {:10} label {:9} {:>7} | est {:9} conf {:.2} score {:.1} | {:7.2} conf {:.2} {:?}",
            o.piece.seed,
            o.piece.style.name(),
            o.piece.key_name(),
            o.piece.tempo.map_or("-".into(), |t| format!("{t:.1}")),
            o.key,
            o.key_confidence,
            o.key_score,
            o.tempo_bpm,
            o.tempo_confidence,
            o.tempo
        )
    }
}

/// Compares analysed features with the labels.
pub fn outcome(piece: &Piece, f: &lofiever::analyze::Features) -> Outcome {
    let key_score = f
        .key
        .parse::<lofiever::music::Key>()
        .map(|k| {
            mirex_key_score(
                piece.tonic,
                piece.minor,
                k.tonic.index(),
                k.mode == lofiever::music::Mode::Minor,
            )
        })
        .unwrap_or(0.0);
    Outcome {
        piece: piece.clone(),
        key_score,
        key_confidence: f.key_confidence,
        tempo: piece
            .tempo
            .map(|t| (acc1(t, f.tempo_bpm), acc2(t, f.tempo_bpm))),
        tempo_bpm: f.tempo_bpm,
        tempo_confidence: f.tempo_confidence,
        key: f.key.clone(),
    }
}

/// The corpus figures.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub pieces: usize,
    pub key_weighted: f64,
    pub key_exact: f64,
    pub tempo_pieces: usize,
    pub acc1: f64,
    pub acc2: f64,
}

pub fn figures(outcomes: &[Outcome]) -> Figures {
    let n = outcomes.len().max(1) as f64;
    let tempo: Vec<(bool, bool)> = outcomes.iter().filter_map(|o| o.tempo).collect();
    let tn = tempo.len().max(1) as f64;
    Figures {
        pieces: outcomes.len(),
        key_weighted: outcomes.iter().map(|o| o.key_score).sum::<f64>() / n,
        key_exact: outcomes.iter().filter(|o| o.key_score == 1.0).count() as f64 / n,
        tempo_pieces: tempo.len(),
        acc1: tempo.iter().filter(|t| t.0).count() as f64 / tn,
        acc2: tempo.iter().filter(|t| t.1).count() as f64 / tn,
    }
}

/// The reliability table: per confidence bin, how many estimates fell in it
/// and how often they were right (key: exact, and within one Camelot step of
/// the label — what a transition relies on; tempo: Acc1 and Acc2).
pub fn reliability(outcomes: &[Outcome]) -> String {
    let bins = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0001];
    let mut out = String::from(
        "confidence | key: n, mean conf, exact, Camelot <= 1, weighted | tempo: n, mean conf, Acc1, Acc2\n",
    );
    for w in bins.windows(2) {
        let (lo, hi) = (w[0], w[1]);
        let keys: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.key_confidence >= lo && o.key_confidence < hi)
            .collect();
        let tempos: Vec<(&Outcome, (bool, bool))> = outcomes
            .iter()
            .filter(|o| o.tempo_confidence >= lo && o.tempo_confidence < hi)
            .filter_map(|o| o.tempo.map(|t| (o, t)))
            .collect();
        let pct = |a: usize, n: usize| {
            if n == 0 {
                "   -  ".to_string()
            } else {
                format!("{:5.1}%", 100.0 * a as f64 / n as f64)
            }
        };
        let mean = |v: &mut dyn Iterator<Item = f64>, n: usize| {
            if n == 0 {
                " -  ".to_string()
            } else {
                format!("{:.2}", v.sum::<f64>() / n as f64)
            }
        };
        out.push_str(&format!(
            "{:.1}-{:.1}    | {:4} {} {} {} {:>6} | {:4} {} {} {}\n",
            lo,
            hi.min(1.0),
            keys.len(),
            mean(&mut keys.iter().map(|o| o.key_confidence), keys.len()),
            pct(
                keys.iter().filter(|o| o.key_score == 1.0).count(),
                keys.len()
            ),
            // Same, fifth or relative: MIREX 0.3 and up (the parallel key,
            // 0.2, is three steps round the wheel).
            pct(
                keys.iter().filter(|o| o.key_score >= 0.3).count(),
                keys.len()
            ),
            if keys.is_empty() {
                "-".to_string()
            } else {
                format!(
                    "{:.3}",
                    keys.iter().map(|o| o.key_score).sum::<f64>() / keys.len() as f64
                )
            },
            tempos.len(),
            mean(
                &mut tempos.iter().map(|(o, _)| o.tempo_confidence),
                tempos.len()
            ),
            pct(tempos.iter().filter(|t| t.1 .0).count(), tempos.len()),
            pct(tempos.iter().filter(|t| t.1 .1).count(), tempos.len()),
        ));
    }
    out
}
