//! What lofiever knows about a track, and the pure measurement of it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{MAX_TRACK_SECONDS, MIN_TRACK_SECONDS};
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
}

/// Incremental measurement over 48 kHz stereo blocks.
pub struct Measure {
    meter: ebur128::EbuR128,
    frames: u64,
    first_loud: Option<u64>,
    last_loud: Option<u64>,
}

impl Measure {
    /// A fresh measurement.
    pub fn new() -> Result<Measure> {
        let meter =
            ebur128::EbuR128::new(2, SAMPLE_RATE, ebur128::Mode::I | ebur128::Mode::TRUE_PEAK)
                .map_err(|e| Error::Render {
                    context: "loudness meter".into(),
                    message: e.to_string(),
                })?;
        Ok(Measure {
            meter,
            frames: 0,
            first_loud: None,
            last_loud: None,
        })
    }

    /// Feeds interleaved stereo samples.
    pub fn push(&mut self, block: &[f32]) -> Result<()> {
        self.meter
            .add_frames_f32(block)
            .map_err(|e| Error::Render {
                context: "loudness meter".into(),
                message: e.to_string(),
            })?;
        for (i, f) in block.chunks_exact(2).enumerate() {
            if f[0].abs() > SILENCE || f[1].abs() > SILENCE {
                let at = self.frames + i as u64;
                self.first_loud.get_or_insert(at);
                self.last_loud = Some(at);
            }
        }
        self.frames += (block.len() / 2) as u64;
        Ok(())
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The measured features (path/hash fields left empty).
    pub fn finish(self) -> std::result::Result<Features, String> {
        let (Some(first), Some(last)) = (self.first_loud, self.last_loud) else {
            return Err("the file decodes to silence".into());
        };
        let loudness = self.meter.loudness_global().unwrap_or(f64::NEG_INFINITY);
        if !loudness.is_finite() {
            return Err("the file decodes to silence".into());
        }
        let peak = (0..2)
            .filter_map(|c| self.meter.true_peak(c).ok())
            .fold(0.0f64, f64::max);
        Ok(Features {
            duration_samples: self.frames,
            loudness_lufs: loudness,
            true_peak_dbtp: 20.0 * peak.max(1e-10).log10(),
            cue_in: first,
            cue_out: last + 1,
            ..Default::default()
        })
    }
}

/// Decodes and measures one file.
pub fn analyse_file(path: &Path) -> Result<Features> {
    let mut dec = Decoder48::open(path)?;
    let info = dec.info().clone();
    let mut m = Measure::new()?;
    let max_frames = MAX_TRACK_SECONDS * u64::from(SAMPLE_RATE);
    let mut block = Vec::with_capacity(1 << 16);
    loop {
        block.clear();
        if !dec.next_block(&mut block)? {
            break;
        }
        m.push(&block)?;
        if m.frames() > max_frames {
            return Err(Error::audio(
                path,
                format!(
                    "longer than {} minutes; lofiever schedules tracks up to that length (split long mixes)",
                    MAX_TRACK_SECONDS / 60
                ),
            ));
        }
    }
    let frames = m.frames();
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
    f.source_rate = info.source_rate;
    f.source_channels = u32::try_from(info.source_channels).unwrap_or(u32::MAX);
    f.tag_artist = info.artist.unwrap_or_default();
    f.tag_title = info.title.unwrap_or_default();
    Ok(f)
}
