//! Decoding any audio file the station owns into the programme format:
//! 48 kHz, stereo, interleaved `f32`.
//!
//! [`Decoder48`] wraps symphonia (container + codec; libopus through the
//! `opus` crate for Opus, which symphonia 0.5 demuxes from Ogg but cannot
//! decode) and rubato (FFT resampler) into a stream of blocks, so a track is never held whole in
//! memory unless a caller wants it. The output of a file is a pure function of
//! its bytes: the same file always yields the same samples, which the renderer
//! relies on for byte-identical re-renders.
//!
//! Channel layouts are folded to stereo: mono is duplicated; layouts with a
//! centre and surrounds use the ITU-R BS.775 down-mix (centre and surrounds at
//! −3 dB, LFE dropped).
//!
//! Lengths: a resampled file yields exactly `round(frames · 48000 / rate)`
//! frames. Gapless trims are honoured where symphonia reports them (MP3
//! LAME/Xing, Ogg Vorbis and Opus pre-skip and end granule), and for MP4/M4A
//! the audio track's edit list, read by lofiever itself ([`mp4edit`]:
//! symphonia 0.5 parses it but does not apply it), which drops AAC's
//! encoder priming.
//! Symphonia's MP3 decoder clamps its output to ±1.0, so inter-sample
//! overs of a hot MP3 master read lower than in a decoder that does not.
//!
//! Bounds: at most 32 channels; one decoded packet is at most what its codec
//! allows (Opus: 120 ms); the decoder never holds more than a packet and a
//! resampler chunk, whatever the headers claim.
//!
//! Errors: a file that cannot be opened, probed or decoded gives
//! [`Error::Audio`] naming the file and the reason; callers skip the track.
//! Isolated corrupt packets are skipped (as players do) and counted in
//! [`Decoder48::skipped_packets`].

mod decode;
pub mod mp4edit;

pub use decode::{AudioInfo, Decoder48, AUDIO_EXTENSIONS};

/// Bumped whenever the decoded samples of some files change, so the
/// analyzer measures those files again (`features.csv` records it per row;
/// see [`outdated`]).
///
/// 1: MP4/M4A edit lists are applied (AAC loses its encoder priming).
pub const DECODER_REVISION: u32 = 1;

/// Whether a track measured with decoder `revision` from a file in `codec`
/// would decode differently now.
pub fn outdated(revision: u32, codec: &str) -> bool {
    revision < 1 && codec == "aac"
}

/// Channels in the programme format.
pub const CHANNELS: usize = 2;
