//! Decoding any audio file the station owns into the programme format:
//! 48 kHz, stereo, interleaved `f32`.
//!
//! [`Decoder48`] wraps symphonia (container + codec) and rubato (FFT
//! resampler) into a stream of blocks, so a track is never held whole in
//! memory unless a caller wants it. The output of a file is a pure function of
//! its bytes: the same file always yields the same samples, which the renderer
//! relies on for byte-identical re-renders.
//!
//! Channel layouts are folded to stereo: mono is duplicated; layouts with a
//! centre and surrounds use the ITU-R BS.775 down-mix (centre and surrounds at
//! −3 dB, LFE dropped).
//!
//! Errors: a file that cannot be opened, probed or decoded gives
//! [`Error::Audio`] naming the file and the reason; callers skip the track.
//! Isolated corrupt packets are skipped (as players do) and counted in
//! [`Decoder48::skipped_packets`].

mod decode;

pub use decode::{AudioInfo, Decoder48, AUDIO_EXTENSIONS};

/// Channels in the programme format.
pub const CHANNELS: usize = 2;
