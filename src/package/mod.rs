//! Packaging: Opus packets → CMAF (fragmented MP4) and the static MPD.
//!
//! Pure functions only: [`fmp4::init_segment`] and [`fmp4::media_segment`]
//! build bytes from typed mp4-atom boxes; [`mpd::write`] builds the MPD with
//! quick-xml in a fixed attribute order. The bytes depend only on their
//! inputs, which is what makes re-rendered segments byte-identical.

pub mod fmp4;
pub mod mpd;

/// The `codecs` value for Opus in MP4 (RFC 6381 / "Encapsulation of Opus in
/// ISO Base Media File Format" §4.3: the sample entry is `Opus`, the codecs
/// parameter is lower-case `opus`, which Chromium, Firefox and Safari accept).
pub const OPUS_CODECS: &str = "opus";
