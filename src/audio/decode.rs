//! symphonia → fold to stereo → rubato → 48 kHz stereo blocks.

use std::fs::File;
use std::path::{Path, PathBuf};

use rubato::{FftFixedIn, Resampler};
use symphonia::core::audio::{Channels, SampleBuffer};
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, StandardTagKey};
use symphonia::core::probe::Hint;

use crate::error::{Error, Result};
use crate::time::SAMPLE_RATE;

/// File extensions treated as audio when scanning a catalog (lower case).
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "ogg", "oga", "opus", "m4a", "mp4", "aac", "alac", "aif", "aiff",
    "aifc",
];

/// Frames fed to the resampler per call.
const RESAMPLE_CHUNK: usize = 1024;

/// More corrupt packets than this in one file and it is refused.
const MAX_SKIPPED_PACKETS: u64 = 100;

/// What the container says about a file, before any decoding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudioInfo {
    /// The file's sample rate in Hz.
    pub source_rate: u32,
    /// The file's channel count.
    pub source_channels: usize,
    /// Artist tag, if any.
    pub artist: Option<String>,
    /// Title tag, if any.
    pub title: Option<String>,
    /// Album tag, if any.
    pub album: Option<String>,
}

/// A streaming decoder yielding 48 kHz stereo interleaved `f32` blocks.
pub struct Decoder48 {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::Decoder>,
    track_id: u32,
    info: AudioInfo,
    /// Weights (left, right) for each source channel in the file's order.
    fold: Vec<(f32, f32)>,
    resampler: Option<Resampling>,
    skipped: u64,
    finished: bool,
    sample_buf: Option<SampleBuffer<f32>>,
}

struct Resampling {
    inner: FftFixedIn<f32>,
    /// Planar stereo input waiting for a full chunk.
    pending: [Vec<f32>; 2],
    out: Vec<Vec<f32>>,
    /// Output frames still to drop (the resampler's delay).
    to_drop: usize,
    in_frames: u64,
    out_frames: u64,
    flushed: bool,
    rate_in: u64,
}

impl Decoder48 {
    /// Opens `path` and reads its headers; fails with a plain reason if the
    /// file is empty, not audio, or in a codec lofiever cannot decode.
    pub fn open(path: &Path) -> Result<Decoder48> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            return Err(Error::audio(path, "the file is empty (0 bytes)"));
        }
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format_opts = FormatOptions {
            enable_gapless: true,
            ..Default::default()
        };
        let mut probed = symphonia::default::get_probe()
            .format(&hint, mss, &format_opts, &MetadataOptions::default())
            .map_err(|e| Error::audio(path, format!("not a readable audio file ({e})")))?;
        let mut format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| Error::audio(path, "the file has no audio track"))?;
        let track_id = track.id;
        let params = track.codec_params.clone();
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| Error::audio(path, format!("unsupported codec ({e})")))?;
        let source_rate = params
            .sample_rate
            .ok_or_else(|| Error::audio(path, "the file does not say its sample rate"))?;
        if !(8_000..=192_000).contains(&source_rate) {
            return Err(Error::audio(
                path,
                format!("sample rate {source_rate} Hz is outside 8-192 kHz"),
            ));
        }
        let channels = params.channels;
        let source_channels = channels.map(|c| c.count()).unwrap_or(0);
        if source_channels == 0 {
            return Err(Error::audio(
                path,
                "the file does not say its channel layout",
            ));
        }

        let mut info = AudioInfo {
            source_rate,
            source_channels,
            ..Default::default()
        };
        // Tags may sit in the probe result (ID3 before the stream) or in the
        // container; the container wins.
        if let Some(rev) = probed
            .metadata
            .get()
            .as_ref()
            .and_then(|m| m.current().cloned())
        {
            read_tags(&rev, &mut info);
        }
        if let Some(rev) = format.metadata().current() {
            read_tags(rev, &mut info);
        }

        let fold = fold_weights(channels.unwrap_or(Channels::FRONT_LEFT), source_channels);
        let resampler = if source_rate == SAMPLE_RATE {
            None
        } else {
            let inner = FftFixedIn::<f32>::new(
                source_rate as usize,
                SAMPLE_RATE as usize,
                RESAMPLE_CHUNK,
                2,
                2,
            )
            .map_err(|e| {
                Error::audio(path, format!("cannot resample from {source_rate} Hz ({e})"))
            })?;
            let to_drop = inner.output_delay();
            let out = inner.output_buffer_allocate(true);
            Some(Resampling {
                inner,
                pending: [Vec::new(), Vec::new()],
                out,
                to_drop,
                in_frames: 0,
                out_frames: 0,
                flushed: false,
                rate_in: u64::from(source_rate),
            })
        };

        Ok(Decoder48 {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            info,
            fold,
            resampler,
            skipped: 0,
            finished: false,
            sample_buf: None,
        })
    }

    /// What the headers said.
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// Corrupt packets skipped so far.
    pub fn skipped_packets(&self) -> u64 {
        self.skipped
    }

    /// Appends the next block of 48 kHz stereo interleaved samples to `out`.
    /// Returns `Ok(false)` once the stream has ended and nothing was added.
    pub fn next_block(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        loop {
            if self.finished {
                return self.flush(out);
            }
            let before = out.len();
            let mut stereo = Vec::new();
            if !self.decode_packet(&mut stereo)? {
                self.finished = true;
                continue;
            }
            match &mut self.resampler {
                None => out.extend_from_slice(&stereo),
                Some(rs) => rs.push(&stereo, out, &self.path)?,
            }
            if out.len() > before {
                return Ok(true);
            }
        }
    }

    /// Decodes the whole file into one buffer, refusing files longer than
    /// `max_frames` at 48 kHz (so a corrupt header cannot exhaust memory).
    pub fn decode_all(&mut self, max_frames: u64) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        while self.next_block(&mut out)? {
            if (out.len() / 2) as u64 > max_frames {
                return Err(Error::audio(
                    &self.path,
                    format!(
                        "longer than the {} minute limit for one track",
                        max_frames / u64::from(SAMPLE_RATE) / 60
                    ),
                ));
            }
        }
        Ok(out)
    }

    /// Decodes one packet of our track into stereo at the source rate.
    /// `Ok(false)` at the end of the stream.
    fn decode_packet(&mut self, stereo: &mut Vec<f32>) -> Result<bool> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false)
                }
                Err(SymError::ResetRequired) => return Ok(false),
                Err(SymError::IoError(e)) => return Err(Error::io(&self.path, e)),
                Err(e) => {
                    // A damaged container: stop here, keep what was decoded.
                    tracing::warn!(path = %self.path.display(), "stopped reading at a damaged spot: {e}");
                    return Ok(false);
                }
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymError::DecodeError(e)) => {
                    self.skipped += 1;
                    if self.skipped > MAX_SKIPPED_PACKETS {
                        return Err(Error::audio(
                            &self.path,
                            format!("too many corrupt packets (last: {e})"),
                        ));
                    }
                    continue;
                }
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false)
                }
                Err(e) => return Err(Error::audio(&self.path, format!("cannot decode ({e})"))),
            };
            let spec = *decoded.spec();
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let channels = spec.channels.count();
            if channels != self.fold.len() {
                return Err(Error::audio(
                    &self.path,
                    "the channel layout changes mid-stream",
                ));
            }
            let buf = match &mut self.sample_buf {
                Some(b) if b.capacity() >= decoded.capacity() => b,
                slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
            };
            buf.copy_interleaved_ref(decoded);
            let samples = buf.samples();
            stereo.reserve(frames * 2);
            for frame in samples.chunks_exact(channels).take(frames) {
                let (mut l, mut r) = (0.0f32, 0.0f32);
                for (s, (wl, wr)) in frame.iter().zip(&self.fold) {
                    l += s * wl;
                    r += s * wr;
                }
                stereo.push(l);
                stereo.push(r);
            }
            return Ok(true);
        }
    }

    fn flush(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        match &mut self.resampler {
            None => Ok(false),
            Some(rs) => rs.flush(out, &self.path),
        }
    }
}

impl Resampling {
    fn push(&mut self, stereo: &[f32], out: &mut Vec<f32>, path: &Path) -> Result<()> {
        for f in stereo.chunks_exact(2) {
            self.pending[0].push(f[0]);
            self.pending[1].push(f[1]);
        }
        self.in_frames += (stereo.len() / 2) as u64;
        while self.pending[0].len() >= self.inner.input_frames_next() {
            let need = self.inner.input_frames_next();
            let (_, produced) = self
                .inner
                .process_into_buffer(
                    &[&self.pending[0][..need], &self.pending[1][..need]],
                    &mut self.out,
                    None,
                )
                .map_err(|e| Error::audio(path, format!("resampling failed ({e})")))?;
            self.pending[0].drain(..need);
            self.pending[1].drain(..need);
            self.emit(produced, out, None);
        }
        Ok(())
    }

    /// Output frames the whole input should give: round(in · 48000 / rate).
    fn expected_out(&self) -> u64 {
        let rate = self.inner_rate();
        (self.in_frames * u64::from(SAMPLE_RATE) + rate / 2) / rate
    }

    fn inner_rate(&self) -> u64 {
        self.rate_in
    }

    fn emit(&mut self, produced: usize, out: &mut Vec<f32>, limit: Option<u64>) {
        let mut start = 0;
        if self.to_drop > 0 {
            start = self.to_drop.min(produced);
            self.to_drop -= start;
        }
        for i in start..produced {
            if let Some(limit) = limit {
                if self.out_frames >= limit {
                    return;
                }
            }
            out.push(self.out[0][i]);
            out.push(self.out[1][i]);
            self.out_frames += 1;
        }
    }

    fn flush(&mut self, out: &mut Vec<f32>, path: &Path) -> Result<bool> {
        if self.flushed {
            return Ok(false);
        }
        let expected = self.expected_out();
        let before = out.len();
        // Feed the remainder, then silence, until the delayed tail is out.
        let mut rounds = 0;
        while self.out_frames < expected {
            let input: [&[f32]; 2] = if self.pending[0].is_empty() {
                [&[], &[]]
            } else {
                [&self.pending[0], &self.pending[1]]
            };
            let (_, produced) = self
                .inner
                .process_partial_into_buffer(Some(&input), &mut self.out, None)
                .map_err(|e| Error::audio(path, format!("resampling failed ({e})")))?;
            self.pending[0].clear();
            self.pending[1].clear();
            self.emit(produced, out, Some(expected));
            rounds += 1;
            if rounds > 64 {
                break;
            }
        }
        self.flushed = true;
        Ok(out.len() > before)
    }
}

fn read_tags(rev: &symphonia::core::meta::MetadataRevision, info: &mut AudioInfo) {
    for tag in rev.tags() {
        let value = tag.value.to_string();
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match tag.std_key {
            Some(StandardTagKey::Artist) => info.artist = Some(value.to_string()),
            Some(StandardTagKey::TrackTitle) => info.title = Some(value.to_string()),
            Some(StandardTagKey::Album) => info.album = Some(value.to_string()),
            _ => {}
        }
    }
}

/// Stereo fold-down weights for each source channel, in symphonia's channel
/// order (the bit order of [`Channels`]).
fn fold_weights(channels: Channels, count: usize) -> Vec<(f32, f32)> {
    const M3DB: f32 = std::f32::consts::FRAC_1_SQRT_2;
    if count == 1 {
        return vec![(1.0, 1.0)];
    }
    if count == 2 {
        return vec![(1.0, 0.0), (0.0, 1.0)];
    }
    let mut weights: Vec<(f32, f32)> = channels
        .iter()
        .map(|c| {
            if c == Channels::FRONT_LEFT || c == Channels::FRONT_LEFT_WIDE {
                (1.0, 0.0)
            } else if c == Channels::FRONT_RIGHT || c == Channels::FRONT_RIGHT_WIDE {
                (0.0, 1.0)
            } else if c == Channels::FRONT_CENTRE {
                (M3DB, M3DB)
            } else if c == Channels::LFE1 || c == Channels::LFE2 {
                (0.0, 0.0)
            } else if c == Channels::REAR_LEFT
                || c == Channels::SIDE_LEFT
                || c == Channels::FRONT_LEFT_CENTRE
                || c == Channels::REAR_LEFT_CENTRE
            {
                (M3DB, 0.0)
            } else if c == Channels::REAR_RIGHT
                || c == Channels::SIDE_RIGHT
                || c == Channels::FRONT_RIGHT_CENTRE
                || c == Channels::REAR_RIGHT_CENTRE
            {
                (0.0, M3DB)
            } else {
                (M3DB * 0.5, M3DB * 0.5)
            }
        })
        .collect();
    weights.resize(count, (0.5, 0.5));
    // Keep a full-scale centre or pair from clipping after summing.
    let (sl, sr) = weights
        .iter()
        .fold((0.0f32, 0.0f32), |(a, b), (l, r)| (a + l, b + r));
    let norm = sl.max(sr).max(1.0);
    weights
        .into_iter()
        .map(|(l, r)| (l / norm, r / norm))
        .collect()
}
