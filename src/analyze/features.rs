//! What lofiever knows about a track, and the pure measurement of it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::loudness::LoudnessMeter;
use super::spectral::{Frontend, ONSET_FPS};
use super::{key, tempo, MAX_TRACK_SECONDS, MIN_TRACK_SECONDS};
use crate::audio::Decoder48;
use crate::error::{Error, Result};
use crate::time::SAMPLE_RATE;

/// A sample below this level (−60 dBFS) counts as silence for cue points.
const SILENCE: f32 = 0.001;

/// One row of `features.csv`. Sample positions are 48 kHz frames from the
/// start of the decoded track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Features {
    /// Track id: path relative to the catalog folder, `/`-separated.
    pub path: String,
    /// Content hash (BLAKE3, 128 bits hex): the cache key.
    pub hash: String,
    /// File size in bytes.
    pub size: u64,
    /// File modification time, ns since 1970 (quick change check).
    pub mtime_ns: u64,
    /// Decoded length in 48 kHz frames.
    pub duration_samples: u64,
    /// The file's own sample rate.
    pub source_rate: u32,
    /// The file's own channel count.
    pub source_channels: u32,
    /// Integrated loudness, EBU R128 (LUFS).
    pub loudness_lufs: f64,
    /// True peak (dBTP), 4x oversampled per EBU R128.
    pub true_peak_dbtp: f64,
    /// First frame of music after leading silence.
    pub cue_in: u64,
    /// One past the last frame of music before trailing silence.
    pub cue_out: u64,
    /// Artist from the file's tags (empty if none).
    pub tag_artist: String,
    /// Title from the file's tags (empty if none).
    pub tag_title: String,
    /// Loudness range, EBU Tech 3342 (LU).
    #[serde(default)]
    pub loudness_range_lu: f64,
    /// Mean short-term RMS level over the music (dBFS): the track's energy.
    #[serde(default)]
    pub energy_db: f64,
    /// Standard deviation of the short-term RMS level (dB): how much the
    /// energy moves within the track.
    #[serde(default)]
    pub energy_spread_db: f64,
    /// Mean spectral centroid (Hz): brightness.
    #[serde(default)]
    pub centroid_hz: f64,
    /// Mean spectral roll-off, 85 % of energy below (Hz).
    #[serde(default)]
    pub rolloff_hz: f64,
    /// Mean spectral flatness (0 = tonal, 1 = noise-like).
    #[serde(default)]
    pub flatness: f64,
    /// Onsets per second.
    #[serde(default)]
    pub onset_rate: f64,
    /// Tempo in BPM, octave resolved toward the lo-fi range (0 = unknown).
    #[serde(default)]
    pub tempo_bpm: f64,
    /// Confidence of the tempo estimate, 0..1.
    #[serde(default)]
    pub tempo_confidence: f64,
    /// Key name as [`crate::music::Key`] prints it, e.g. "A minor" (empty = unknown).
    #[serde(default)]
    pub key: String,
    /// Confidence of the key estimate, 0..1.
    #[serde(default)]
    pub key_confidence: f64,
    /// Camelot code of the key, e.g. "8A" (empty = unknown).
    #[serde(default)]
    pub camelot: String,
    /// Where the track's own fade-out begins (48 kHz frame), ≤ cue_out.
    #[serde(default)]
    pub fade_out_start: u64,
    /// Album from the file's tags (empty if none).
    #[serde(default)]
    pub tag_album: String,
    /// The codec the file was decoded with, e.g. "flac", "mp3", "opus".
    #[serde(default)]
    pub codec: String,
    /// The decoder revision the row was measured with
    /// ([`crate::audio::DECODER_REVISION`]; 0 for rows from before it was
    /// recorded). Rows whose decoding has changed since are measured again.
    #[serde(default)]
    pub decoder_revision: u32,
    /// The analyzer revision the row was measured with
    /// ([`super::ANALYZER_REVISION`]; 0 for rows from before it was
    /// recorded). Rows from an older analyzer are measured again.
    #[serde(default)]
    pub analyzer_revision: u32,
}

/// Length of one level block, in 48 kHz frames (100 ms).
pub const LEVEL_BLOCK: u64 = 4_800;
/// Level blocks per energy window (1 s).
const ENERGY_WINDOW_BLOCKS: usize = 10;
/// Energy windows quieter than this (dBFS) are left out of the energy figures.
const ENERGY_FLOOR_DB: f64 = -70.0;
/// Peak-hold span for the fade-out search, in level blocks (forward, 2 s):
/// longer than the gap between two beats at the slowest lo-fi tempo, so the
/// envelope follows the music, not the drum hits.
const FADE_HOLD_BLOCKS: usize = 20;
/// The fade-out starts where the held level last sits within this many dB of
/// the track's typical (median) held level.
const FADE_DROP_DB: f64 = 4.5;

/// Incremental measurement over 48 kHz stereo blocks: loudness (EBU R128
/// integrated, range, true peak), cue points, the level curve and the
/// spectral front end. Memory grows only by the compact per-frame series
/// (≈100 values a second).
pub struct Measure {
    meter: LoudnessMeter,
    frames: u64,
    first_loud: Option<u64>,
    last_loud: Option<u64>,
    /// Mean square (both channels) per [`LEVEL_BLOCK`].
    levels: Vec<f32>,
    level_acc: f64,
    level_fill: u64,
    frontend: Frontend,
}

impl Default for Measure {
    fn default() -> Self {
        Self::new()
    }
}

impl Measure {
    /// A fresh measurement.
    pub fn new() -> Measure {
        Measure {
            meter: LoudnessMeter::new(),
            frames: 0,
            first_loud: None,
            last_loud: None,
            levels: Vec::new(),
            level_acc: 0.0,
            level_fill: 0,
            frontend: Frontend::new(),
        }
    }

    /// Feeds interleaved stereo samples.
    pub fn push(&mut self, block: &[f32]) {
        self.meter.push(block);
        // Cue points: first and last frame above the silence threshold.
        let loud = |f: &[f32]| f[0].abs() > SILENCE || f[1].abs() > SILENCE;
        if let Some(i) = block.chunks_exact(2).position(loud) {
            self.first_loud.get_or_insert(self.frames + i as u64);
        }
        if let Some(i) = block.chunks_exact(2).rposition(loud) {
            self.last_loud = Some(self.frames + i as u64);
        }
        // Level blocks.
        let mut rest = block;
        while !rest.is_empty() {
            let want = ((LEVEL_BLOCK - self.level_fill) * 2) as usize;
            let (now, later) = rest.split_at(want.min(rest.len()));
            self.level_acc += now.iter().map(|&s| f64::from(s * s)).sum::<f64>();
            self.level_fill += (now.len() / 2) as u64;
            if self.level_fill == LEVEL_BLOCK {
                self.levels
                    .push((self.level_acc / (2 * LEVEL_BLOCK) as f64) as f32);
                self.level_acc = 0.0;
                self.level_fill = 0;
            }
            rest = later;
        }
        self.frontend.push(block);
        self.frames += (block.len() / 2) as u64;
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The measured features (path/hash/tag fields left empty), or the plain
    /// reason the audio is unusable (silence).
    pub fn finish(self) -> std::result::Result<Features, String> {
        let (Some(first), Some(last)) = (self.first_loud, self.last_loud) else {
            return Err("the file decodes to silence".into());
        };
        let figures = self.meter.figures();
        let loudness = figures.integrated_lufs;
        if !loudness.is_finite() {
            return Err("the file decodes to silence".into());
        }
        let peak = figures.true_peak;
        let lra = figures.range_lu;
        let cue_in = first;
        let cue_out = last + 1;

        let mut levels = self.levels;
        if self.level_fill > 0 {
            levels.push((self.level_acc / (2 * self.level_fill) as f64) as f32);
        }
        let block_of = |frame: u64| (frame / LEVEL_BLOCK) as usize;
        let music_blocks = block_of(cue_in)..block_of(cue_out.saturating_sub(1)) + 1;
        let music_levels = levels.get(music_blocks.clone()).unwrap_or(&[]);
        let (energy_db, energy_spread_db) = energy(music_levels);
        let fade_out_start = fade_out_start(music_levels)
            .map(|b| (music_blocks.start + b) as u64 * LEVEL_BLOCK)
            .unwrap_or(cue_out)
            .clamp(cue_in, cue_out);

        let series = self.frontend.finish();
        let onset_from = (cue_in as f64 / (4 * 128) as f64) as usize;
        let onset_to =
            ((cue_out as f64 / (4 * 128) as f64).ceil() as usize).min(series.onset.len());
        let onset = series.onset.get(onset_from..onset_to).unwrap_or(&[]);
        let tempo = tempo::estimate(onset, ONSET_FPS);
        let key = key::estimate(&series.chroma);

        Ok(Features {
            duration_samples: self.frames,
            loudness_lufs: loudness,
            true_peak_dbtp: 20.0 * peak.max(1e-10).log10(),
            cue_in,
            cue_out,
            loudness_range_lu: if lra.is_finite() { lra } else { 0.0 },
            energy_db,
            energy_spread_db,
            centroid_hz: series.timbre.centroid_hz,
            rolloff_hz: series.timbre.rolloff_hz,
            flatness: series.timbre.flatness,
            onset_rate: tempo::onset_rate(onset, ONSET_FPS),
            tempo_bpm: tempo.bpm,
            tempo_confidence: tempo.confidence,
            key: key.map(|k| k.key.name()).unwrap_or_default(),
            key_confidence: key.map(|k| k.confidence).unwrap_or(0.0),
            camelot: key.map(|k| k.key.camelot().to_string()).unwrap_or_default(),
            fade_out_start,
            ..Default::default()
        })
    }
}

fn db(mean_square: f64) -> f64 {
    10.0 * mean_square.max(1e-20).log10()
}

/// Mean and standard deviation (dB) of the 1 s RMS levels of the music,
/// leaving out windows below [`ENERGY_FLOOR_DB`].
fn energy(levels: &[f32]) -> (f64, f64) {
    let windows: Vec<f64> = levels
        .chunks(ENERGY_WINDOW_BLOCKS)
        .map(|w| db(w.iter().map(|&v| f64::from(v)).sum::<f64>() / w.len() as f64))
        .filter(|&d| d > ENERGY_FLOOR_DB)
        .collect();
    if windows.is_empty() {
        return (ENERGY_FLOOR_DB, 0.0);
    }
    let n = windows.len() as f64;
    let mean = windows.iter().sum::<f64>() / n;
    let var = windows.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The level block (index into `levels`, the music's level blocks) where the
/// track's own fade-out begins: the envelope is the loudest block in the
/// next [`FADE_HOLD_BLOCKS`]; the fade starts after the last block whose
/// envelope is within [`FADE_DROP_DB`] of the median envelope. `None` when
/// the music is too short to tell.
fn fade_out_start(levels: &[f32]) -> Option<usize> {
    if levels.len() < 2 * FADE_HOLD_BLOCKS {
        return None;
    }
    let held: Vec<f64> = (0..levels.len())
        .map(|i| {
            let end = (i + FADE_HOLD_BLOCKS).min(levels.len());
            db(levels[i..end].iter().fold(0.0f32, |a, &b| a.max(b)).into())
        })
        .collect();
    let mut sorted = held.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let last_full = held.iter().rposition(|&h| h >= median - FADE_DROP_DB)?;
    Some((last_full + 1).min(levels.len()))
}

/// A decoded length shorter than the declared one by more than this share
/// (and at least [`TRUNCATED_MIN_SECONDS`]) means the file was cut short.
const TRUNCATED_SHARE: f64 = 0.02;
/// See [`TRUNCATED_SHARE`].
const TRUNCATED_MIN_SECONDS: f64 = 1.0;

fn too_long(path: &Path, seconds: f64) -> Error {
    Error::audio(
        path,
        format!(
            "too long to schedule ({:.0} min; at most {} min; split long mixes)",
            seconds / 60.0,
            MAX_TRACK_SECONDS / 60
        ),
    )
}

/// Decodes and measures one file.
///
/// Refuses, with a plain reason: files whose headers declare more than
/// [`MAX_TRACK_SECONDS`] (before decoding anything) or that decode to more
/// (as soon as they pass it); files that decode to less than
/// [`MIN_TRACK_SECONDS`] or are silent; files that decode to clearly less
/// than their headers declare (truncated; only where the format states its
/// length exactly, see [`crate::audio::AudioInfo::declared_frames`]).
pub fn analyse_file(path: &Path) -> Result<Features> {
    let mut dec = Decoder48::open(path)?;
    let info = dec.info().clone();
    let rate = f64::from(info.source_rate);
    if let Some(declared) = info.declared_frames {
        let seconds = declared as f64 / rate;
        if seconds > MAX_TRACK_SECONDS as f64 + 1.0 {
            // Uncompressed audio takes at least a byte per sample: a PCM
            // header declaring more than the file holds is broken, not long.
            let size = std::fs::metadata(path).map_or(u64::MAX, |m| m.len());
            let least = declared.saturating_mul(info.source_channels.max(1) as u64);
            if info.codec.starts_with("pcm") && least > size {
                return Err(Error::audio(
                    path,
                    format!(
                        "broken: its header declares {:.0} min of audio but the file holds only \
                         {size} bytes; export it again",
                        seconds / 60.0
                    ),
                ));
            }
            return Err(too_long(path, seconds));
        }
    }
    let mut m = Measure::new();
    let max_frames = MAX_TRACK_SECONDS * u64::from(SAMPLE_RATE);
    let mut block = Vec::with_capacity(1 << 16);
    loop {
        block.clear();
        if !dec.next_block(&mut block)? {
            break;
        }
        m.push(&block);
        if m.frames() > max_frames {
            return Err(too_long(path, m.frames() as f64 / f64::from(SAMPLE_RATE)));
        }
    }
    let frames = m.frames();
    if let Some(declared) = info.declared_frames {
        let decoded = dec.source_frames_decoded();
        let missing = declared.saturating_sub(decoded) as f64;
        if missing > TRUNCATED_SHARE * declared as f64 && missing / rate > TRUNCATED_MIN_SECONDS {
            return Err(Error::audio(
                path,
                format!(
                    "the file is truncated: its header says {:.1} s but only {:.1} s decode",
                    declared as f64 / rate,
                    decoded as f64 / rate
                ),
            ));
        }
    }
    let min_frames = MIN_TRACK_SECONDS * u64::from(SAMPLE_RATE);
    if frames < min_frames {
        return Err(Error::audio(
            path,
            format!(
                "too short to schedule ({:.1} s; at least {MIN_TRACK_SECONDS} s)",
                frames as f64 / f64::from(SAMPLE_RATE)
            ),
        ));
    }
    let mut f = m.finish().map_err(|reason| Error::audio(path, reason))?;
    if f.cue_out - f.cue_in < min_frames {
        return Err(Error::audio(
            path,
            format!("less than {MIN_TRACK_SECONDS} s of sound between the silences"),
        ));
    }
    // The layout may only be known after decoding (AAC/ALAC in MP4).
    let info = dec.info().clone();
    f.source_rate = info.source_rate;
    f.source_channels = u32::try_from(info.source_channels).unwrap_or(u32::MAX);
    f.tag_artist = crate::catalog::cut_text(&info.artist.unwrap_or_default());
    f.tag_title = crate::catalog::cut_text(&info.title.unwrap_or_default());
    f.tag_album = info.album.unwrap_or_default();
    f.codec = info.codec;
    f.decoder_revision = crate::audio::DECODER_REVISION;
    f.analyzer_revision = super::ANALYZER_REVISION;
    Ok(f)
}
