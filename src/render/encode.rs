//! libopus encoding of programme PCM into 20 ms packets.

use opus::{Application, Bitrate, Channels, Encoder, Signal};

use crate::error::{Error, Result};
use crate::time::{OPUS_FRAME, SAMPLE_RATE};

/// Largest Opus packet we accept (RFC 6716 allows up to 1275 bytes per frame).
const MAX_PACKET: usize = 4000;

/// A configured libopus encoder for one rendition.
pub struct OpusEncoder {
    inner: Encoder,
    bitrate: u32,
    /// Room for the largest packet; each packet is then copied out at its
    /// own size (a 4000-byte zeroed vector per packet cost page faults and
    /// memory for ~240 bytes used).
    scratch: Vec<u8>,
}

impl OpusEncoder {
    /// A stereo music encoder at `bitrate` bits/s and `complexity` 0..=10.
    pub fn new(bitrate: u32, complexity: i32) -> Result<OpusEncoder> {
        let err = |e: opus::Error| Error::Render {
            context: format!("opus encoder {} kb/s", bitrate / 1000),
            message: e.to_string(),
        };
        let mut inner =
            Encoder::new(SAMPLE_RATE, Channels::Stereo, Application::Audio).map_err(err)?;
        let bits = i32::try_from(bitrate).map_err(|_| Error::Render {
            context: "opus encoder".into(),
            message: format!("bitrate {bitrate} out of range"),
        })?;
        inner.set_bitrate(Bitrate::Bits(bits)).map_err(err)?;
        inner.set_complexity(complexity).map_err(err)?;
        inner.set_signal(Signal::Music).map_err(err)?;
        Ok(OpusEncoder {
            inner,
            bitrate,
            scratch: vec![0; MAX_PACKET],
        })
    }

    /// The encoder's look-ahead in samples: decoded audio lags input by this.
    pub fn lookahead(&mut self) -> Result<u64> {
        let l = self.inner.get_lookahead().map_err(|e| Error::Render {
            context: "opus encoder".into(),
            message: e.to_string(),
        })?;
        Ok(u64::try_from(l).unwrap_or(0))
    }

    /// Encodes one 960-sample stereo frame (1920 interleaved values).
    pub fn encode_frame(&mut self, frame: &[f32]) -> Result<Vec<u8>> {
        debug_assert_eq!(frame.len() as u64, OPUS_FRAME * 2);
        let len = self
            .inner
            .encode_float(frame, &mut self.scratch)
            .map_err(|e| Error::Render {
                context: format!("opus encoder {} kb/s", self.bitrate / 1000),
                message: e.to_string(),
            })?;
        Ok(self.scratch[..len].to_vec())
    }
}

/// How far under the ceiling a decoded peak sets off a correction (dB), and
/// how far under it the correction aims: true-peak meters differ by a tenth
/// of a dB or so (ffmpeg's ebur128 oversamples with another filter than
/// ours; on the survey hours it read up to 0.05 dB above us).
const CHECK_GUARD_DB: f64 = 0.1;
const CHECK_AIM_DB: f64 = 0.3;

/// Audio whose true peak is this far under the ceiling (dB) is not checked:
/// the codec would have to add more than three times the largest overshoot
/// seen (1.2 dB at 96 kb/s, README "Loudness") to reach the ceiling. The
/// check decodes what it checks, which costs about a third of the encoding.
const UNCHECKED_BELOW_DB: f64 = 3.5;

/// Encoding passes at most: the first, and corrections. A correction lowers
/// the gain around the peaks the decoder showed over the ceiling; the codec
/// is not linear, so a second look can find a smaller overshoot left.
const MAX_PASSES: usize = 4;

/// What [`encode_within_ceiling`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeakCheck {
    /// Encoding passes (1 when the first one was within the ceiling).
    pub passes: usize,
    /// The true peak of the decoded packets returned (linear, 1 = 0 dBTP),
    /// measured only when a correction was made (for the log line that
    /// says so); `None` otherwise, so a chunk that needs no correction
    /// costs one true-peak scan of its decoded audio, not two.
    pub decoded_peak: Option<f32>,
}

/// Encodes `pcm` (interleaved stereo, whole 20 ms frames) with a fresh
/// encoder and checks what a listener's decoder will make of it: lossy
/// coding adds noise, and at the peaks the noise adds to the signal, by up
/// to a dB or more at 96 kb/s. Where the decoded true peak is over
/// `ceiling_dbtp`, the gain of `pcm` is lowered around those peaks (the
/// limiter's own attack and release, [`super::limiter::reduce`]) and the
/// audio encoded again, up to [`MAX_PASSES`] times. Returns one packet per
/// frame. A pure function of its input, like the rest of the render.
///
/// `lookahead` is the encoder's look-ahead: decoded sample `i` is input
/// sample `i − lookahead`.
pub fn encode_within_ceiling(
    pcm: &[f32],
    bitrate: u32,
    complexity: i32,
    ceiling_dbtp: f64,
    lookahead: u64,
) -> Result<(Vec<Vec<u8>>, PeakCheck)> {
    let peak = super::limiter::true_peak(pcm);
    encode_with_peak(pcm, peak, bitrate, complexity, ceiling_dbtp, lookahead)
}

/// [`encode_within_ceiling`] with the true peak of `pcm`, or a bound at or
/// above it, already known (`input_peak`, linear): a chunk is encoded once
/// per rendition, and its peak is the same for all of them. A bound only
/// ever checks more chunks, and a check that finds nothing returns the
/// same packets, so the output is the same.
pub fn encode_with_peak(
    pcm: &[f32],
    input_peak: f32,
    bitrate: u32,
    complexity: i32,
    ceiling_dbtp: f64,
    lookahead: u64,
) -> Result<(Vec<Vec<u8>>, PeakCheck)> {
    let frame_len = (OPUS_FRAME * 2) as usize;
    let trigger = 10f32.powf((ceiling_dbtp - CHECK_GUARD_DB) as f32 / 20.0);
    let under = 10f32.powf((CHECK_GUARD_DB - CHECK_AIM_DB) as f32 / 20.0);
    let shift = usize::try_from(lookahead).unwrap_or(usize::MAX);
    let frames = pcm.len() / 2;
    let quiet = 10f32.powf((ceiling_dbtp - UNCHECKED_BELOW_DB) as f32 / 20.0);
    let unchecked = input_peak < quiet;
    let mut corrected: Option<Vec<f32>> = None;
    let mut decoder = OpusDecoder::new(bitrate)?;
    let mut decoded = Vec::with_capacity(pcm.len());
    let mut passes = 0;
    loop {
        passes += 1;
        let input = corrected.as_deref().unwrap_or(pcm);
        let mut enc = OpusEncoder::new(bitrate, complexity)?;
        let packets = input
            .chunks_exact(frame_len)
            .map(|frame| enc.encode_frame(frame))
            .collect::<Result<Vec<_>>>()?;
        if unchecked {
            return Ok((
                packets,
                PeakCheck {
                    passes,
                    decoded_peak: None,
                },
            ));
        }
        decoder.decode_all(&packets, &mut decoded)?;
        let found = super::limiter::over(&decoded, trigger);
        if found.is_empty() || passes == MAX_PASSES {
            let check = PeakCheck {
                passes,
                decoded_peak: (passes > 1).then(|| super::limiter::true_peak(&decoded)),
            };
            return Ok((packets, check));
        }
        // Decoded frame i is input frame i − lookahead (decoded audio
        // before that is the encoder starting up); each gain brings its
        // decoded peak to the trigger level, times `under`: to
        // `CHECK_AIM_DB` under the ceiling.
        let events: Vec<(usize, f32)> = found
            .iter()
            .filter_map(|&(i, g)| {
                let t = i.checked_sub(shift)?;
                (t < frames).then_some((t, g * under))
            })
            .collect();
        let mut next = input.to_vec();
        super::limiter::reduce(&mut next, &events);
        corrected = Some(next);
    }
}

/// A libopus decoder, as a listener's player has one.
struct OpusDecoder {
    inner: opus::Decoder,
    bitrate: u32,
    scratch: Vec<f32>,
}

impl OpusDecoder {
    fn new(bitrate: u32) -> Result<OpusDecoder> {
        let inner =
            opus::Decoder::new(SAMPLE_RATE, Channels::Stereo).map_err(|e| Error::Render {
                context: format!("opus decoder {} kb/s", bitrate / 1000),
                message: e.to_string(),
            })?;
        Ok(OpusDecoder {
            inner,
            bitrate,
            // The longest Opus packet holds 120 ms.
            scratch: vec![0.0; 5760 * 2],
        })
    }

    /// Decodes `packets` from the decoder's fresh state into `out`
    /// (interleaved stereo, cleared first).
    fn decode_all(&mut self, packets: &[Vec<u8>], out: &mut Vec<f32>) -> Result<()> {
        let err = |e: opus::Error| Error::Render {
            context: format!("opus decoder {} kb/s", self.bitrate / 1000),
            message: e.to_string(),
        };
        self.inner.reset_state().map_err(err)?;
        out.clear();
        for p in packets {
            let n = self
                .inner
                .decode_float(p, &mut self.scratch, false)
                .map_err(err)?;
            out.extend_from_slice(&self.scratch[..n * 2]);
        }
        Ok(())
    }
}
