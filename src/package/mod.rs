//! Packaging: Opus packets → CMAF (fragmented MP4) and the static MPD.
//!
//! Pure functions only: [`fmp4::init_segment`] and [`fmp4::media_segment`]
//! build bytes from typed mp4-atom boxes; [`mpd::write`] builds the MPD with
//! quick-xml in a fixed attribute order. The bytes depend only on their
//! inputs, which is what makes re-rendered segments byte-identical.

pub mod fmp4;
pub mod hls;
pub mod mpd;

/// The `codecs` value for Opus in MP4: `Opus`, the sample entry's four-character
/// code, as RFC 6381 §3.3 defines the parameter for ISO BMFF (and as the MP4RA
/// registers it). Current Chromium and Firefox accept `Opus` and `opus`; Safari's
/// Media Source accepts only `Opus` (older Chrome/Firefox only `opus`). See
/// README "Listening and sync"; the browser tests check Chromium accepts it.
pub const OPUS_CODECS: &str = "Opus";
