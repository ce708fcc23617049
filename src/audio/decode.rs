//! symphonia → fold to stereo → rubato → 48 kHz stereo blocks.

use std::fs::File;
use std::path::{Path, PathBuf};

use rubato::{FftFixedIn, Resampler};
use symphonia::core::audio::{Channels, SampleBuffer};
use symphonia::core::codecs::{
    CodecParameters, DecoderOptions, CODEC_TYPE_AAC, CODEC_TYPE_ALAC, CODEC_TYPE_MP3,
    CODEC_TYPE_NULL, CODEC_TYPE_OPUS, CODEC_TYPE_PCM_F32LE, CODEC_TYPE_PCM_S16BE,
    CODEC_TYPE_PCM_S16LE, CODEC_TYPE_PCM_S24BE, CODEC_TYPE_PCM_S24LE,
};
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

/// Most frames one Opus packet can hold (120 ms at 48 kHz, RFC 6716 §3.2.5).
const OPUS_MAX_PACKET_FRAMES: usize = 5760;

/// Most channels lofiever folds down (Opus and Vorbis stop at 8, WAV at 18;
/// more is a corrupt or exotic header).
const MAX_CHANNELS: usize = 32;

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
    /// The codec, as symphonia names it (e.g. `"flac"`, `"opus"`).
    pub codec: String,
    /// The length the headers declare, in source frames, when the format
    /// states it exactly (PCM, FLAC, ALAC, AAC/MP4, Ogg); `None` when it is
    /// absent or only estimated (MP3 without a Xing/Info header is
    /// estimated from the file size, so MP3 is never trusted). Used to refuse
    /// a file that is far too long before decoding it, and to spot a file
    /// cut short.
    pub declared_frames: Option<u64>,
}

/// A streaming decoder yielding 48 kHz stereo interleaved `f32` blocks.
pub struct Decoder48 {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Codec,
    track_id: u32,
    info: AudioInfo,
    /// Weights (left, right) for each source channel in the decoder's order.
    fold: Vec<(f32, f32)>,
    resampler: Option<Resampling>,
    skipped: u64,
    finished: bool,
    sample_buf: Option<SampleBuffer<f32>>,
    /// Set for plain PCM (WAV, AIFF): packets are converted straight from
    /// their bytes instead of through symphonia's PCM decoder.
    raw_pcm: Option<RawPcm>,
    /// Interleaved source samples of one raw PCM packet, reused.
    raw_buf: Vec<f32>,
    /// Stereo at the source rate, reused between packets.
    stereo: Vec<f32>,
    /// Source frames decoded so far (before resampling and before the
    /// MP4 edit list's trims).
    source_frames: u64,
    /// The MP4 edit list's trims still to apply (encoder priming, length).
    edit: Option<super::mp4edit::Edit>,
}

/// The codec behind a [`Decoder48`]: symphonia's, or libopus for Opus
/// (symphonia 0.5 demuxes Ogg Opus but has no Opus decoder).
enum Codec {
    Symphonia(Box<dyn symphonia::core::codecs::Decoder>),
    Opus(Box<OpusCodec>),
}

/// libopus behind symphonia's Ogg demuxer: the OpusHead says how streams map
/// to channels; packets are trimmed as the demuxer says (pre-skip at the
/// start, the final granule position at the end).
struct OpusCodec {
    decoder: opus::MSDecoder,
    channels: usize,
    /// Output gain from the OpusHead (linear), which players must apply.
    gain: f32,
    /// Interleaved decoder output, `OPUS_MAX_PACKET_FRAMES × channels`.
    pcm: Vec<f32>,
    /// Pre-skip frames (OpusHead) not yet dropped; the demuxer's own
    /// start trim counts towards it.
    preskip_left: usize,
}

impl OpusCodec {
    /// Reads the OpusHead (RFC 7845 §5.1) from the codec's extra data.
    fn new(params: &CodecParameters) -> std::result::Result<OpusCodec, String> {
        let head = params
            .extra_data
            .as_deref()
            .ok_or("the Opus stream has no identification header")?;
        if head.len() < 19 || &head[..8] != b"OpusHead" {
            return Err("the Opus identification header is damaged".into());
        }
        let channels = usize::from(head[9]);
        let preskip = usize::from(u16::from_le_bytes([head[10], head[11]]));
        let gain_q8 = i16::from_le_bytes([head[16], head[17]]);
        let family = head[18];
        let (streams, coupled, mapping): (u8, u8, Vec<u8>) = match family {
            0 if (1..=2).contains(&channels) => (1, head[9] - 1, (0..head[9]).collect()),
            0 => return Err("an Opus stream of mapping family 0 has 1 or 2 channels".into()),
            _ => {
                let table = head
                    .get(21..21 + channels)
                    .ok_or("the Opus channel mapping table is cut short")?;
                (head[19], head[20], table.to_vec())
            }
        };
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(format!("an Opus stream with {channels} channels"));
        }
        let decoder = opus::MSDecoder::new(48_000, streams, coupled, &mapping)
            .map_err(|e| format!("libopus refuses the stream layout ({e})"))?;
        Ok(OpusCodec {
            decoder,
            channels,
            gain: 10f32.powf(f32::from(gain_q8) / (20.0 * 256.0)),
            pcm: vec![0.0; OPUS_MAX_PACKET_FRAMES * channels],
            preskip_left: preskip,
        })
    }

    /// Channel order of the decoded PCM: Vorbis order (RFC 7845 §5.1.1.2).
    fn vorbis_order(channels: usize) -> Vec<Channels> {
        use Channels as C;
        match channels {
            1 => vec![C::FRONT_CENTRE],
            2 => vec![C::FRONT_LEFT, C::FRONT_RIGHT],
            3 => vec![C::FRONT_LEFT, C::FRONT_CENTRE, C::FRONT_RIGHT],
            4 => vec![C::FRONT_LEFT, C::FRONT_RIGHT, C::REAR_LEFT, C::REAR_RIGHT],
            5 => vec![
                C::FRONT_LEFT,
                C::FRONT_CENTRE,
                C::FRONT_RIGHT,
                C::REAR_LEFT,
                C::REAR_RIGHT,
            ],
            6 => vec![
                C::FRONT_LEFT,
                C::FRONT_CENTRE,
                C::FRONT_RIGHT,
                C::REAR_LEFT,
                C::REAR_RIGHT,
                C::LFE1,
            ],
            7 => vec![
                C::FRONT_LEFT,
                C::FRONT_CENTRE,
                C::FRONT_RIGHT,
                C::SIDE_LEFT,
                C::SIDE_RIGHT,
                C::REAR_CENTRE,
                C::LFE1,
            ],
            8 => vec![
                C::FRONT_LEFT,
                C::FRONT_CENTRE,
                C::FRONT_RIGHT,
                C::SIDE_LEFT,
                C::SIDE_RIGHT,
                C::REAR_LEFT,
                C::REAR_RIGHT,
                C::LFE1,
            ],
            // Unknown layouts (family 255): no positions, an even mix.
            _ => Vec::new(),
        }
    }
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
            .ok_or_else(|| {
                if format.tracks().is_empty() {
                    Error::audio(path, "the file has no audio track")
                } else {
                    Error::audio(
                        path,
                        "unsupported codec (the file's audio is in a codec lofiever cannot decode)",
                    )
                }
            })?;
        let track_id = track.id;
        let params = track.codec_params.clone();
        let codec_name = symphonia::default::get_codecs()
            .get_codec(params.codec)
            .map(|d| d.short_name.to_string())
            .unwrap_or_else(|| {
                if params.codec == CODEC_TYPE_OPUS {
                    "opus".to_string()
                } else {
                    format!("codec {}", params.codec)
                }
            });
        let decoder = if params.codec == CODEC_TYPE_OPUS {
            Codec::Opus(Box::new(
                OpusCodec::new(&params).map_err(|e| Error::audio(path, e))?,
            ))
        } else {
            Codec::Symphonia(
                symphonia::default::get_codecs()
                    .make(&params, &DecoderOptions::default())
                    .map_err(|e| Error::audio(path, format!("unsupported codec ({e})")))?,
            )
        };
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
        let source_channels = match &decoder {
            Codec::Opus(o) => o.channels,
            Codec::Symphonia(_) => channels.map(|c| c.count()).unwrap_or(0),
        };
        // 0 = not in the headers (AAC/ALAC in MP4): learnt from the first
        // decoded packet.
        if source_channels > MAX_CHANNELS {
            return Err(Error::audio(
                path,
                format!("{source_channels} channels; lofiever folds at most {MAX_CHANNELS}"),
            ));
        }
        let declared_frames = if params.codec == CODEC_TYPE_MP3 {
            None
        } else {
            params.n_frames
        };

        let mut info = AudioInfo {
            source_rate,
            source_channels,
            codec: codec_name,
            declared_frames,
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

        let order: Vec<Channels> = match &decoder {
            Codec::Opus(_) => OpusCodec::vorbis_order(source_channels),
            Codec::Symphonia(_) => channels.map(|c| c.iter().collect()).unwrap_or_default(),
        };
        let fold = if source_channels == 0 {
            Vec::new()
        } else {
            fold_weights(&order, source_channels)
        };
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
            raw_pcm: RawPcm::of(&params),
            raw_buf: Vec::new(),
            stereo: Vec::new(),
            source_frames: 0,
            // Only MP4 holds AAC or ALAC here; other files are not read again.
            edit: if [CODEC_TYPE_AAC, CODEC_TYPE_ALAC].contains(&params.codec) {
                super::mp4edit::read(path, source_rate)
            } else {
                None
            },
        })
    }

    /// Source frames decoded so far (at the file's own rate, before
    /// resampling); after the end, the decoded length of the file.
    pub fn source_frames_decoded(&self) -> u64 {
        self.source_frames
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
            let mut stereo = std::mem::take(&mut self.stereo);
            stereo.clear();
            let more = self.decode_packet(&mut stereo);
            // The edit list: priming dropped, the presentation's end cut.
            let ended = matches!(more, Ok(true))
                && self.edit.as_mut().is_some_and(|e| e.apply(&mut stereo));
            let pushed = match (&more, &mut self.resampler) {
                (Ok(true), None) => {
                    out.extend_from_slice(&stereo);
                    Ok(())
                }
                (Ok(true), Some(rs)) => rs.push(&stereo, out, &self.path),
                _ => Ok(()),
            };
            self.stereo = stereo;
            pushed?;
            if !more? || ended {
                // What this packet added is returned first; the next call
                // flushes the resampler.
                self.finished = true;
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
            let raw = self
                .raw_pcm
                .filter(|r| !self.fold.is_empty() && r.fits(packet.buf(), self.fold.len()));
            if let Some(raw) = raw {
                raw.convert(packet.buf(), &mut self.raw_buf);
                let frames = self.raw_buf.len() / self.fold.len();
                if frames == 0 {
                    continue;
                }
                fold_into(&self.raw_buf, &self.fold, stereo);
                self.source_frames += frames as u64;
                return Ok(true);
            }
            let frames = match &mut self.decoder {
                Codec::Symphonia(decoder) => match decoder.decode(&packet) {
                    Ok(decoded) => {
                        let spec = *decoded.spec();
                        let frames = decoded.frames();
                        if frames == 0 {
                            continue;
                        }
                        let channels = spec.channels.count();
                        if self.fold.is_empty() && channels > 0 && channels <= MAX_CHANNELS {
                            let order: Vec<Channels> = spec.channels.iter().collect();
                            self.fold = fold_weights(&order, channels);
                            self.info.source_channels = channels;
                        }
                        if channels != self.fold.len() {
                            return Err(Error::audio(
                                &self.path,
                                "the channel layout changes mid-stream",
                            ));
                        }
                        let buf = match &mut self.sample_buf {
                            Some(b) if b.capacity() >= decoded.capacity() * channels => b,
                            slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
                        };
                        buf.copy_interleaved_ref(decoded);
                        fold_into(&buf.samples()[..frames * channels], &self.fold, stereo);
                        frames
                    }
                    Err(SymError::DecodeError(e)) => {
                        self.skip_corrupt(e)?;
                        continue;
                    }
                    Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        return Ok(false)
                    }
                    Err(e) => return Err(Error::audio(&self.path, format!("cannot decode ({e})"))),
                },
                Codec::Opus(op) => {
                    let channels = op.channels;
                    let frames = match op.decoder.decode_float(&packet.data, &mut op.pcm, false) {
                        Ok(n) => n.min(OPUS_MAX_PACKET_FRAMES),
                        Err(e) => {
                            self.skip_corrupt(&e.to_string())?;
                            continue;
                        }
                    };
                    // The demuxer's gapless trims: pre-skip and end padding.
                    let mut start = (packet.trim_start() as usize).min(frames);
                    op.preskip_left = op.preskip_left.saturating_sub(start);
                    let extra = op.preskip_left.min(frames - start);
                    start += extra;
                    op.preskip_left -= extra;
                    let end = frames.saturating_sub(packet.trim_end() as usize).max(start);
                    if end == start {
                        continue;
                    }
                    if op.gain != 1.0 {
                        for s in &mut op.pcm[start * channels..end * channels] {
                            *s *= op.gain;
                        }
                    }
                    fold_into(
                        &op.pcm[start * channels..end * channels],
                        &self.fold,
                        stereo,
                    );
                    end - start
                }
            };
            self.source_frames += frames as u64;
            return Ok(true);
        }
    }

    /// Counts a corrupt packet; too many and the file is refused.
    fn skip_corrupt(&mut self, what: &str) -> Result<()> {
        self.skipped += 1;
        if self.skipped > MAX_SKIPPED_PACKETS {
            return Err(Error::audio(
                &self.path,
                format!("too many corrupt packets (last: {what})"),
            ));
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        match &mut self.resampler {
            None => Ok(false),
            Some(rs) => rs.flush(out, &self.path),
        }
    }
}

/// Plain PCM layouts converted straight from a packet's bytes, with the
/// same scaling as symphonia's sample conversion. symphonia's PCM decoder
/// reads sample by sample through generic buffers: for a WAV catalog it cost
/// more than mixing and limiting together (see the README, Performance).
/// Anything else (8-bit, 20-bit in 24, 32-bit integer, unusual packing)
/// goes through symphonia as before.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RawPcm {
    S16Le,
    S16Be,
    S24Le,
    S24Be,
    F32Le,
}

impl RawPcm {
    fn of(params: &CodecParameters) -> Option<RawPcm> {
        let kind = match params.codec {
            CODEC_TYPE_PCM_S16LE => RawPcm::S16Le,
            CODEC_TYPE_PCM_S16BE => RawPcm::S16Be,
            CODEC_TYPE_PCM_S24LE => RawPcm::S24Le,
            CODEC_TYPE_PCM_S24BE => RawPcm::S24Be,
            CODEC_TYPE_PCM_F32LE => RawPcm::F32Le,
            _ => return None,
        };
        let bits = (kind.bytes() * 8) as u32;
        let declared = |b: Option<u32>| b.is_none_or(|b| b == bits);
        (declared(params.bits_per_sample) && declared(params.bits_per_coded_sample)).then_some(kind)
    }

    fn bytes(self) -> usize {
        match self {
            RawPcm::S16Le | RawPcm::S16Be => 2,
            RawPcm::S24Le | RawPcm::S24Be => 3,
            RawPcm::F32Le => 4,
        }
    }

    /// Whether `data` is whole frames of `channels` samples in this layout.
    fn fits(self, data: &[u8], channels: usize) -> bool {
        data.len().is_multiple_of(self.bytes() * channels)
    }

    /// Appends `data`'s samples, as f32, to a cleared `out`.
    fn convert(self, data: &[u8], out: &mut Vec<f32>) {
        out.clear();
        match self {
            RawPcm::S16Le => out.extend(
                data.chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0),
            ),
            RawPcm::S16Be => out.extend(
                data.chunks_exact(2)
                    .map(|b| f32::from(i16::from_be_bytes([b[0], b[1]])) / 32_768.0),
            ),
            RawPcm::S24Le => out
                .extend(data.chunks_exact(3).map(|b| {
                    (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0
                })),
            RawPcm::S24Be => out
                .extend(data.chunks_exact(3).map(|b| {
                    (i32::from_be_bytes([b[0], b[1], b[2], 0]) >> 8) as f32 / 8_388_608.0
                })),
            RawPcm::F32Le => out.extend(
                data.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
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
            // rubato 0.16 refuses `Some` with empty channels: `None`
            // means "all zeros".
            let input: [&[f32]; 2] = [&self.pending[0], &self.pending[1]];
            let input = (!self.pending[0].is_empty()).then_some(&input[..]);
            let (_, produced) = self
                .inner
                .process_partial_into_buffer(input, &mut self.out, None)
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

/// Folds interleaved `frame`s of `fold.len()` channels to stereo, appending to `stereo`.
fn fold_into(samples: &[f32], fold: &[(f32, f32)], stereo: &mut Vec<f32>) {
    let channels = fold.len();
    stereo.reserve(samples.len() / channels.max(1) * 2);
    match channels {
        1 => {
            for &s in samples {
                stereo.push(s);
                stereo.push(s);
            }
        }
        2 if fold == [(1.0, 0.0), (0.0, 1.0)] => stereo.extend_from_slice(samples),
        _ => {
            for frame in samples.chunks_exact(channels) {
                let (mut l, mut r) = (0.0f32, 0.0f32);
                for (s, (wl, wr)) in frame.iter().zip(fold) {
                    l += s * wl;
                    r += s * wr;
                }
                stereo.push(l);
                stereo.push(r);
            }
        }
    }
}

/// Stereo fold-down weights for each source channel, given the channel at
/// each position of the decoded frames (`order`; shorter than `count` when
/// the layout is unknown).
fn fold_weights(order: &[Channels], count: usize) -> Vec<(f32, f32)> {
    const M3DB: f32 = std::f32::consts::FRAC_1_SQRT_2;
    if count == 1 {
        return vec![(1.0, 1.0)];
    }
    if count == 2 {
        return vec![(1.0, 0.0), (0.0, 1.0)];
    }
    let mut weights: Vec<(f32, f32)> = order
        .iter()
        .map(|&c| {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `frames` of a known ramp-ish signal with hound and returns the
    /// path and the exact f32 values symphonia's conversion would give.
    fn wav(dir: &Path, name: &str, spec: hound::WavSpec, frames: usize) -> (PathBuf, Vec<f32>) {
        let path = dir.join(name);
        let mut w = hound::WavWriter::create(&path, spec).expect("create wav");
        let mut want = Vec::new();
        for i in 0..frames * usize::from(spec.channels) {
            let x = ((i * 7919) % 65_536) as i32 - 32_768; // covers the full i16 range
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Int, 16) => {
                    w.write_sample(x as i16).expect("write");
                    want.push(x as f32 / 32_768.0);
                }
                (hound::SampleFormat::Int, 24) => {
                    let v = x * 256 + (i as i32 % 256);
                    w.write_sample(v).expect("write");
                    want.push(v as f32 / 8_388_608.0);
                }
                _ => {
                    let v = x as f32 / 40_000.0;
                    w.write_sample(v).expect("write");
                    want.push(v);
                }
            }
        }
        w.finalize().expect("finalize");
        (path, want)
    }

    #[test]
    fn raw_pcm_wav_decodes_to_exact_samples() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cases = [
            (1u16, 16u16, hound::SampleFormat::Int),
            (2, 16, hound::SampleFormat::Int),
            (2, 24, hound::SampleFormat::Int),
            (2, 32, hound::SampleFormat::Float),
        ];
        for (channels, bits, format) in cases {
            let spec = hound::WavSpec {
                channels,
                sample_rate: 48_000,
                bits_per_sample: bits,
                sample_format: format,
            };
            let name = format!("{channels}ch{bits}.wav");
            let (path, want) = wav(dir.path(), &name, spec, 20_000);
            let mut dec = Decoder48::open(&path).expect("open");
            assert!(dec.raw_pcm.is_some(), "{name}: raw path not taken");
            let got = dec.decode_all(1 << 20).expect("decode");
            let want: Vec<f32> = if channels == 1 {
                want.iter().flat_map(|&v| [v, v]).collect()
            } else {
                want
            };
            assert_eq!(got.len(), want.len(), "{name}");
            assert!(got == want, "{name}: samples differ");
        }
    }
}
