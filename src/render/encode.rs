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
